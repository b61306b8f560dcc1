//! GradCache: CachedMultipleNegativesRankingLoss gives MNRL's loss and parameter gradients on a
//! tiny random BERT. Dropout is off in the comparisons, since the two losses run the model in
//! different batches and so draw different masks; `cached_replays_dropout_masks` checks the
//! replay with dropout on.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use losses::{BuildLoss, Error, HardnessMode, Loss, LossConfig, Targets};
use model::{BertConfig, PoolingMode, SentenceTokenizer, SentenceTransformer, TokenBatch};
use proptest::prelude::*;
use tch::{nn, Device, Tensor};

const WORDS: [&str; 16] = [
    "the", "a", "cat", "dog", "sits", "runs", "on", "mat", "big", "small", "red", "house", "tree",
    "and", "is", ".",
];

/// The torch RNG is process-global and the tests seed it: run them one at a time.
fn rng_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn tiny_model(dir: &Path, dropout: f64) -> SentenceTransformer {
    let mut vocab = vec!["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
    vocab.extend(WORDS);
    let path = dir.join("vocab.txt");
    std::fs::write(&path, vocab.join("\n")).unwrap();
    let tokenizer = SentenceTokenizer::from_vocab(&path, true, 64).unwrap();
    tch::manual_seed(11);
    let mut config = BertConfig::tiny(vocab.len() as i64);
    config.hidden_dropout_prob = dropout;
    config.attention_probs_dropout_prob = dropout;
    SentenceTransformer::from_config(
        &config,
        tokenizer,
        vec![PoolingMode::Mean],
        false,
        Device::Cpu,
    )
    .unwrap()
}

/// `columns` columns of `batch` sentences of different lengths (so mini-batches get trimmed).
fn batches(
    model: &SentenceTransformer,
    columns: usize,
    batch: usize,
    salt: usize,
) -> Vec<TokenBatch> {
    (0..columns)
        .map(|c| {
            let texts: Vec<String> = (0..batch)
                .map(|i| {
                    let len = 1 + (i * 7 + c * 3 + salt) % 9;
                    (0..len)
                        .map(|j| WORDS[(i * 5 + j * 3 + c * 11 + salt) % WORDS.len()])
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            let tokenized = model.tokenizer().tokenize(&texts).unwrap();
            let refs: Vec<_> = tokenized.iter().collect();
            model.to_tensors(&model.tokenizer().collate(&refs))
        })
        .collect()
}

fn build(config: LossConfig, model: &SentenceTransformer) -> Box<dyn Loss> {
    let vs = nn::VarStore::new(Device::Cpu);
    config
        .build(&vs.root(), model.embedding_dimension())
        .unwrap()
}

/// Runs one step from zeroed gradients; returns the loss and every parameter's gradient.
fn step(
    loss: &dyn Loss,
    model: &SentenceTransformer,
    columns: &[TokenBatch],
    grad_scale: f64,
) -> (f64, HashMap<String, Tensor>) {
    for (_, mut var) in model.var_store().variables() {
        var.zero_grad();
    }
    let value = loss
        .forward_backward(model, columns, Targets::None, grad_scale)
        .unwrap();
    let grads = model
        .var_store()
        .variables()
        .into_iter()
        .filter(|(_, v)| v.grad().defined())
        .map(|(k, v)| (k, model::testing::dense_grad(&v).copy()))
        .collect();
    (value, grads)
}

fn max_grad_diff(a: &HashMap<String, Tensor>, b: &HashMap<String, Tensor>, factor: f64) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .map(|(k, g)| (g - &b[k] * factor).abs().max().double_value(&[]))
        .fold(0.0, f64::max)
}

fn mnrl() -> LossConfig {
    LossConfig::default()
}

fn cached(mini_batch_size: usize) -> LossConfig {
    LossConfig::CachedMultipleNegativesRanking {
        scale: 20.0,
        mini_batch_size,
        hardness_mode: None,
        hardness_strength: 0.0,
        gather_across_devices: false,
    }
}

#[test]
fn cached_matches_mnrl_on_a_tiny_bert() {
    let _rng = rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), 0.0);
    let columns = batches(&model, 3, 10, 0);
    let (expected, expected_grads) = step(build(mnrl(), &model).as_ref(), &model, &columns, 1.0);
    assert!(expected_grads.len() > 10);
    for mini_batch_size in [1, 3, 10, 64] {
        let loss = build(cached(mini_batch_size), &model);
        let (value, grads) = step(loss.as_ref(), &model, &columns, 1.0);
        let d_grad = max_grad_diff(&grads, &expected_grads, 1.0);
        println!(
            "mini-batch {mini_batch_size:>2}: loss {value:.7} vs {expected:.7} (Δ {:.2e}), max Δgrad {d_grad:.2e}",
            (value - expected).abs()
        );
        assert!((value - expected).abs() < 1e-5, "{value} vs {expected}");
        assert!(d_grad < 1e-5, "mini-batch {mini_batch_size}: {d_grad}");
    }
    // The trainer's gradient scale (e.g. 1 / accumulation steps) reaches the parameters.
    let loss = build(cached(4), &model);
    let (value, grads) = step(loss.as_ref(), &model, &columns, 0.25);
    assert!(
        (value - expected).abs() < 1e-5,
        "the returned loss is unscaled"
    );
    assert!(max_grad_diff(&grads, &expected_grads, 0.25) < 1e-5);
}

/// The hardness penalty goes through the cached loss's chunked loss stage unchanged: each chunk
/// of anchors penalises its own rows' candidates.
#[test]
fn cached_matches_mnrl_with_hardness_weighting() {
    let _rng = rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), 0.0);
    let columns = batches(&model, 3, 10, 1);
    let (plain, _) = step(build(mnrl(), &model).as_ref(), &model, &columns, 1.0);
    for mode in [
        HardnessMode::InBatchNegatives,
        HardnessMode::HardNegatives,
        HardnessMode::AllNegatives,
    ] {
        let config = LossConfig::MultipleNegativesRanking {
            scale: 20.0,
            symmetric: false,
            hardness_mode: Some(mode),
            hardness_strength: 9.0,
            gather_across_devices: false,
        };
        let (expected, expected_grads) =
            step(build(config, &model).as_ref(), &model, &columns, 1.0);
        assert!(
            (expected - plain).abs() > 1e-3,
            "{mode:?}: {expected} vs {plain}"
        );
        for mini_batch_size in [1, 4, 10] {
            let config = LossConfig::CachedMultipleNegativesRanking {
                scale: 20.0,
                mini_batch_size,
                hardness_mode: Some(mode),
                hardness_strength: 9.0,
                gather_across_devices: false,
            };
            let (value, grads) = step(build(config, &model).as_ref(), &model, &columns, 1.0);
            let d_grad = max_grad_diff(&grads, &expected_grads, 1.0);
            println!(
                "{mode:?}, mini-batch {mini_batch_size:>2}: Δloss {:.2e}, max Δgrad {d_grad:.2e}",
                (value - expected).abs()
            );
            assert!((value - expected).abs() < 1e-5, "{value} vs {expected}");
            assert!(
                d_grad < 1e-5,
                "{mode:?}, mini-batch {mini_batch_size}: {d_grad}"
            );
        }
    }
}

/// With dropout on, stage 3 must replay stage 1's masks. With one mini-batch per column the
/// cached step equals MNRL on embeddings computed right after seeding with the same seeds the
/// cached loss draws (`randint(2^62)` from the torch RNG, one per column and mini-batch).
#[test]
fn cached_replays_dropout_masks() {
    let _rng = rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), 0.1);
    let columns = batches(&model, 3, 8, 3);

    tch::manual_seed(5);
    let (value, grads) = step(build(cached(8), &model).as_ref(), &model, &columns, 1.0);

    for (_, mut var) in model.var_store().variables() {
        var.zero_grad();
    }
    tch::manual_seed(5);
    let seeds = Vec::<i64>::try_from(&Tensor::randint(
        1 << 62,
        [columns.len() as i64 + 1],
        (tch::Kind::Int64, Device::Cpu),
    ))
    .unwrap();
    let embeddings: Vec<Tensor> = columns
        .iter()
        .zip(&seeds)
        .map(|(column, &seed)| {
            tch::manual_seed(seed);
            model.forward_t(column, true).unwrap()
        })
        .collect();
    let expected = build(mnrl(), &model)
        .compute(&embeddings, Targets::None)
        .unwrap();
    expected.backward();
    let expected_grads: HashMap<String, Tensor> = model
        .var_store()
        .variables()
        .into_iter()
        .filter(|(_, v)| v.grad().defined())
        .map(|(k, v)| (k, model::testing::dense_grad(&v).copy()))
        .collect();
    let expected = expected.double_value(&[]);
    assert!((value - expected).abs() < 1e-5, "{value} vs {expected}");
    let d = max_grad_diff(&grads, &expected_grads, 1.0);
    assert!(d < 1e-5, "{d}");
}

#[test]
fn cached_steps_with_dropout_are_deterministic_under_a_seed() {
    let _rng = rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), 0.1);
    let columns = batches(&model, 2, 8, 3);
    let loss = build(cached(3), &model);
    tch::manual_seed(5);
    let (a, grads_a) = step(loss.as_ref(), &model, &columns, 1.0);
    tch::manual_seed(5);
    let (b, grads_b) = step(loss.as_ref(), &model, &columns, 1.0);
    assert_eq!(a, b);
    assert_eq!(max_grad_diff(&grads_a, &grads_b, 1.0), 0.0);
    // The RNG moves on afterwards rather than replaying the same masks.
    let (c, _) = step(loss.as_ref(), &model, &columns, 1.0);
    assert_ne!(a, c);
}

#[test]
fn cached_rejects_mismatched_columns() {
    let _rng = rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), 0.0);
    let loss = build(cached(4), &model);
    let mut columns = batches(&model, 2, 6, 0);
    let err = loss
        .forward_backward(&model, &columns[..1], Targets::None, 1.0)
        .unwrap_err();
    assert!(matches!(err, Error::Columns { found: 1, .. }), "{err}");
    columns.push(batches(&model, 1, 5, 1).remove(0));
    let err = loss
        .forward_backward(&model, &columns, Targets::None, 1.0)
        .unwrap_err();
    match err {
        Error::Shape { left, right, .. } => {
            assert_eq!((left[0], right[0]), (6, 5));
        }
        other => panic!("{other}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Cached MNRL equals MNRL for any batch, mini-batch size and number of hard negatives.
    #[test]
    fn cached_equals_mnrl(batch in 1usize..9, mini_batch_size in 1usize..6, columns in 2usize..5, salt in 0usize..50) {
        let _rng = rng_lock();
        let dir = tempfile::tempdir().unwrap();
        let model = tiny_model(dir.path(), 0.0);
        let columns = batches(&model, columns, batch, salt);
        let (expected, expected_grads) = step(build(mnrl(), &model).as_ref(), &model, &columns, 1.0);
        let (value, grads) = step(build(cached(mini_batch_size), &model).as_ref(), &model, &columns, 1.0);
        prop_assert!((value - expected).abs() < 1e-5, "{value} vs {expected}");
        // Relative to the largest gradient: MNRL's packed token-major forward and the cached
        // mini-batch forwards sum their products in different orders (float32 rounding).
        let scale = expected_grads.values().map(|g| g.abs().max().double_value(&[])).fold(1.0, f64::max);
        let d = max_grad_diff(&grads, &expected_grads, 1.0) / scale;
        prop_assert!(d < 1e-5, "{d} (relative to the largest gradient, {scale})");
    }
}
