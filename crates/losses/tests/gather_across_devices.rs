//! `gather_across_devices`: two ranks (threads of this process, over a loopback TCPStore)
//! that each hold a share of a batch must get, summed with the weights a data-parallel step
//! gives them (rows / global rows), exactly one process's loss over the whole batch, and each
//! rank the whole batch's gradients for its own rows. The batch has hard-negative columns and
//! ranks hold different row counts, so a gathered batch with interleaved columns or a wrong
//! offset fails.

use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use losses::gather::RowGather;
use losses::{BuildLoss, HardnessMode, Loss, LossConfig, Targets};
use model::{BertConfig, PoolingMode, SentenceTokenizer, SentenceTransformer, TokenBatch};
use tch::{nn, Device, Kind, Tensor};
use torch_ext::c10d::{ProcessGroup, ReduceOp, Store};

const TOLERANCE: f64 = 1e-5;

/// libtorch's generator is global and the tests seed it: one test at a time.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
const SPLIT: [i64; 2] = [3, 2];

/// Runs `body(rank, gather)` on two ranks and returns the results in rank order.
fn two_ranks<I: Send + 'static, T: Send + 'static>(
    inputs: [I; 2],
    body: impl Fn(usize, I, RowGather) -> T + Send + Sync + Clone + 'static,
) -> Vec<T> {
    let timeout = Duration::from_secs(30);
    let (server, port) = Store::tcp("127.0.0.1", 0, 2, true, timeout).unwrap();
    let server = Arc::new(Mutex::new(Some(server)));
    let mut handles = Vec::new();
    for (rank, input) in inputs.into_iter().enumerate() {
        let body = body.clone();
        let server = server.clone();
        handles.push(thread::spawn(move || {
            let store = match rank {
                0 => server.lock().unwrap().take().unwrap(),
                _ => Store::tcp("127.0.0.1", port, 2, false, timeout).unwrap().0,
            };
            let group = ProcessGroup::gloo(&store, rank, 2, "127.0.0.1", timeout, 1).unwrap();
            body(rank, input, RowGather::new(Rc::new(group)))
        }));
    }
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

fn mnrl(symmetric: bool, hardness: Option<HardnessMode>) -> LossConfig {
    LossConfig::MultipleNegativesRanking {
        scale: 20.0,
        symmetric,
        hardness_mode: hardness,
        hardness_strength: if hardness.is_some() { 3.0 } else { 0.0 },
        gather_across_devices: true,
    }
}

fn build(config: &LossConfig) -> Box<dyn Loss> {
    let vs = nn::VarStore::new(Device::Cpu);
    config.build(&vs.root(), 8).unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

fn rows(t: &Tensor, rank: usize) -> Tensor {
    let start = SPLIT[..rank].iter().sum();
    t.narrow(0, start, SPLIT[rank])
}

#[test]
fn gathered_mnrl_equals_one_process_over_the_global_batch() {
    let _serial = serial();
    for config in [
        mnrl(false, None),
        mnrl(true, None),
        mnrl(false, Some(HardnessMode::AllNegatives)),
        mnrl(false, Some(HardnessMode::HardNegatives)),
    ] {
        tch::manual_seed(5);
        // anchor, positive and two hard-negative columns of a batch of 5
        let global: Vec<Tensor> = (0..4)
            .map(|_| Tensor::randn([5, 8], (Kind::Float, Device::Cpu)).set_requires_grad(true))
            .collect();
        let loss = build(&config);
        let whole = loss.compute(&global, Targets::None).unwrap();
        whole.backward();
        let want_value = whole.double_value(&[]);
        let want_grads: Vec<Tensor> = global.iter().map(|t| t.grad()).collect();

        let shares = [0, 1].map(|rank| {
            global
                .iter()
                .map(|t| rows(&t.detach(), rank))
                .collect::<Vec<_>>()
        });
        let config_for_ranks = config.clone();
        let results = two_ranks(shares, move |rank, share, gather| {
            let mut loss = build(&config_for_ranks);
            loss.distribute(&gather);
            let leaves: Vec<Tensor> = share
                .into_iter()
                .map(|t| t.set_requires_grad(true))
                .collect();
            let value = loss.compute(&leaves, Targets::None).unwrap();
            let weight = SPLIT[rank] as f64 / 5.0;
            (&value * weight).backward();
            let grads: Vec<Tensor> = leaves.iter().map(|t| t.grad()).collect();
            (value.double_value(&[]) * weight, grads)
        });
        let value: f64 = results.iter().map(|(v, _)| v).sum();
        let worst = results
            .iter()
            .enumerate()
            .flat_map(|(rank, (_, grads))| {
                grads
                    .iter()
                    .enumerate()
                    .map(move |(column, grad)| (rank, column, grad))
            })
            .map(|(rank, column, grad)| max_diff(grad, &rows(&want_grads[column], rank)))
            .fold(0.0, f64::max);
        eprintln!(
            "{config:?}: loss difference {:e}, largest gradient difference {worst:e}",
            (value - want_value).abs()
        );
        assert!(
            (value - want_value).abs() < TOLERANCE,
            "{config:?}: {value} vs {want_value}"
        );
        for (rank, (_, grads)) in results.iter().enumerate() {
            for (column, grad) in grads.iter().enumerate() {
                let diff = max_diff(grad, &rows(&want_grads[column], rank));
                assert!(
                    diff < TOLERANCE,
                    "{config:?} rank {rank} column {column}: {diff}"
                );
            }
        }
    }
}

/// Without `gather_across_devices` each rank sees only its own share: a different loss (the
/// check above is not vacuous).
#[test]
fn without_gathering_each_rank_sees_only_its_share() {
    let _serial = serial();
    tch::manual_seed(5);
    let global: Vec<Tensor> = (0..3)
        .map(|_| Tensor::randn([5, 8], (Kind::Double, Device::Cpu)))
        .collect();
    let config = LossConfig::MultipleNegativesRanking {
        scale: 20.0,
        symmetric: false,
        hardness_mode: None,
        hardness_strength: 0.0,
        gather_across_devices: false,
    };
    let want = build(&config)
        .compute(&global, Targets::None)
        .unwrap()
        .double_value(&[]);
    let shares = [0, 1].map(|rank| global.iter().map(|t| rows(t, rank)).collect::<Vec<_>>());
    let results = two_ranks(shares, move |rank, share, gather| {
        let mut loss = build(&config);
        loss.distribute(&gather);
        let value = loss.compute(&share, Targets::None).unwrap();
        value.double_value(&[]) * SPLIT[rank] as f64 / 5.0
    });
    let value: f64 = results.iter().sum();
    assert!((value - want).abs() > 1e-3, "{value} vs {want}");
}

const WORDS: [&str; 12] = [
    "the", "a", "cat", "dog", "sits", "runs", "on", "mat", "big", "red", "house", ".",
];

fn tiny_model(dir: &std::path::Path) -> SentenceTransformer {
    // The seeded draw must not interleave with another thread's.
    static RNG: Mutex<()> = Mutex::new(());
    let _rng = RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut vocab = vec!["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
    vocab.extend(WORDS);
    let path = dir.join("vocab.txt");
    std::fs::write(&path, vocab.join("\n")).unwrap();
    let tokenizer = SentenceTokenizer::from_vocab(&path, true, 64).unwrap();
    tch::manual_seed(11);
    let mut config = BertConfig::tiny(vocab.len() as i64);
    config.hidden_dropout_prob = 0.0;
    config.attention_probs_dropout_prob = 0.0;
    SentenceTransformer::from_config(
        &config,
        tokenizer,
        vec![PoolingMode::Mean],
        false,
        Device::Cpu,
    )
    .unwrap()
}

fn texts(column: usize, rows: std::ops::Range<usize>) -> Vec<String> {
    rows.map(|i| {
        let len = 1 + (i * 7 + column * 3) % 6;
        (0..len)
            .map(|j| WORDS[(i * 5 + j * 3 + column * 11) % WORDS.len()])
            .collect::<Vec<_>>()
            .join(" ")
    })
    .collect()
}

fn columns(model: &SentenceTransformer, rows: std::ops::Range<usize>) -> Vec<TokenBatch> {
    (0..3)
        .map(|c| {
            let tokenized = model.tokenizer().tokenize(&texts(c, rows.clone())).unwrap();
            let refs: Vec<_> = tokenized.iter().collect();
            model.to_tensors(&model.tokenizer().collate(&refs))
        })
        .collect()
}

fn parameter_grads(model: &SentenceTransformer) -> Vec<(String, Tensor)> {
    let mut grads: Vec<(String, Tensor)> = model
        .var_store()
        .variables()
        .into_iter()
        .filter(|(_, v)| v.grad().defined())
        .map(|(name, v)| {
            let grad = v.grad();
            // The word embeddings' gradient is sparse; the trainer densifies it before reducing.
            let dense = if grad.is_sparse() {
                grad.to_dense(None, false)
            } else {
                grad.copy()
            };
            (name, dense)
        })
        .collect();
    grads.sort_by(|a, b| a.0.cmp(&b.0));
    grads
}

/// Through a model: the parameter gradients of two ranks, all-reduced, equal one process's,
/// for plain MNRL (differentiable all-gather) and the cached one (one reduce-scatter per
/// column after the chunks; the ranks run different numbers of chunks).
#[test]
fn gathered_training_step_equals_one_process() {
    let _serial = serial();
    for config in [
        mnrl(false, None),
        LossConfig::CachedMultipleNegativesRanking {
            scale: 20.0,
            mini_batch_size: 2,
            hardness_mode: None,
            hardness_strength: 0.0,
            gather_across_devices: true,
        },
    ] {
        let dir = tempfile::tempdir().unwrap();
        let model = tiny_model(dir.path());
        let loss = build(&config);
        let batch = columns(&model, 0..5);
        let want_value = loss
            .forward_backward(&model, &batch, Targets::None, 1.0)
            .unwrap();
        let want = parameter_grads(&model);

        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let paths = [dirs[0].path().to_path_buf(), dirs[1].path().to_path_buf()];
        let config_for_ranks = config.clone();
        let results = two_ranks(paths, move |rank, path, gather| {
            let model = tiny_model(&path);
            // CachedMNRL seeds the process-wide generator: no rank may start before the other
            // has drawn its weights.
            gather.group().barrier().unwrap();
            let mut loss = build(&config_for_ranks);
            loss.distribute(&gather);
            let start = SPLIT[..rank].iter().sum::<i64>() as usize;
            let share = columns(&model, start..start + SPLIT[rank] as usize);
            let weight = SPLIT[rank] as f64 / 5.0;
            let value = loss
                .forward_backward(&model, &share, Targets::None, weight)
                .unwrap();
            let grads = parameter_grads(&model);
            for (_, g) in &grads {
                // The trainer's step: gradients summed over ranks.
                gather.group().all_reduce(&[g], ReduceOp::Sum).unwrap();
            }
            (value * weight, grads)
        });
        let value: f64 = results.iter().map(|(v, _)| v).sum();
        let worst = results
            .iter()
            .flat_map(|(_, grads)| grads.iter().zip(&want))
            .map(|((_, got), (_, want))| max_diff(got, want))
            .fold(0.0, f64::max);
        eprintln!(
            "{config:?}: loss difference {:e}, largest gradient difference {worst:e}",
            (value - want_value).abs()
        );
        assert!(
            (value - want_value).abs() < TOLERANCE,
            "{config:?}: {value} vs {want_value}"
        );
        for (rank, (_, grads)) in results.iter().enumerate() {
            assert_eq!(grads.len(), want.len());
            for ((name, got), (_, want)) in grads.iter().zip(&want) {
                let diff = max_diff(got, want);
                assert!(diff < TOLERANCE, "{config:?} rank {rank} {name}: {diff}");
            }
        }
    }
}
