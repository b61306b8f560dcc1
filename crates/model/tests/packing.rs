//! `forward_columns_t` (length-packed chunks) must give the embeddings and the gradients of
//! embedding each column as its own padded batch.

use std::collections::HashMap;
use std::path::Path;

use model::{BertConfig, PoolingMode, SentenceTokenizer, SentenceTransformer, TokenBatch};
use proptest::prelude::*;
use tch::Tensor;

const WORDS: [&str; 12] = [
    "the", "a", "cat", "dog", "sits", "runs", "on", "mat", "big", "small", "red", "house",
];

fn tiny_model(dir: &Path, pooling: Vec<PoolingMode>) -> SentenceTransformer {
    let mut vocab = vec!["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
    vocab.extend(WORDS);
    let path = dir.join("vocab.txt");
    std::fs::write(&path, vocab.join("\n")).unwrap();
    let tokenizer = SentenceTokenizer::from_vocab(&path, true, 128).unwrap();
    tch::manual_seed(11);
    let config = BertConfig::tiny(vocab.len() as i64);
    SentenceTransformer::from_config(&config, tokenizer, pooling, false, tch::Device::Cpu).unwrap()
}

fn column(model: &SentenceTransformer, lengths: &[usize], salt: usize) -> TokenBatch {
    let texts: Vec<String> = lengths
        .iter()
        .enumerate()
        .map(|(row, &n)| {
            (0..n)
                .map(|k| WORDS[(row * 7 + k * 3 + salt) % WORDS.len()])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let tokenized = model.tokenizer().tokenize(&texts).unwrap();
    let rows: Vec<_> = tokenized.iter().collect();
    model.to_tensors(&model.tokenizer().collate(&rows))
}

/// Embeddings and parameter gradients of `sum_c <e_c, w_c>` with fixed weights `w_c`.
fn embed_and_grads(
    model: &SentenceTransformer,
    columns: &[TokenBatch],
    packed: bool,
) -> (Vec<Tensor>, HashMap<String, Tensor>) {
    for (_, mut var) in model.var_store().variables() {
        var.zero_grad();
    }
    let embeddings = if packed {
        model.forward_columns_t(columns, false).unwrap()
    } else {
        columns
            .iter()
            .map(|c| model.forward_t(c, false).unwrap())
            .collect()
    };
    // Fixed weights that need no random generator: the tests of this binary run on several
    // threads, and libtorch's generator is global (a seed set here could be reset by another
    // test before the draw).
    let objective = embeddings
        .iter()
        .enumerate()
        .map(|(c, e)| {
            let w = Tensor::arange(e.numel() as i64, (tch::Kind::Float, tch::Device::Cpu))
                .multiply_scalar(0.37 + c as f64)
                .sin()
                .view(e.size().as_slice());
            (e * w).sum(None)
        })
        .reduce(|a, b| a + b)
        .unwrap();
    objective.backward();
    let grads = model
        .var_store()
        .variables()
        .into_iter()
        .filter(|(_, v)| v.grad().defined())
        .map(|(k, v)| (k, model::testing::dense_grad(&v).copy()))
        .collect();
    (embeddings.iter().map(|e| e.detach()).collect(), grads)
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn packing_matches_column_by_column(
        lengths in prop::collection::vec(prop::collection::vec(0usize..60, 1..10), 2..5),
        mode in prop::sample::select(vec![PoolingMode::Mean, PoolingMode::Max, PoolingMode::Cls]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let model = tiny_model(dir.path(), vec![mode]);
        let columns: Vec<TokenBatch> = lengths
            .iter()
            .enumerate()
            .map(|(c, l)| column(&model, l, c))
            .collect();
        let (packed, packed_grads) = embed_and_grads(&model, &columns, true);
        let (plain, plain_grads) = embed_and_grads(&model, &columns, false);
        for (p, q) in packed.iter().zip(&plain) {
            prop_assert_eq!(p.size(), q.size());
            prop_assert!(max_diff(p, q) < 1e-5, "embeddings differ by {}", max_diff(p, q));
        }
        for (name, g) in &plain_grads {
            // Relative: token-type gradients sum over every token of the batch.
            let scale = g.abs().max().double_value(&[]).max(1.0);
            let d = max_diff(g, &packed_grads[name]) / scale;
            prop_assert!(d < 1e-5, "gradient of {} differs by {} (relative)", name, d);
        }
    }
}

#[test]
fn one_long_text_does_not_change_its_batch_mates() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path(), vec![PoolingMode::Mean]);
    let mut lengths = vec![3; 31];
    lengths.push(100);
    let columns = [column(&model, &lengths, 0), column(&model, &[4; 32], 1)];
    let (packed, _) = embed_and_grads(&model, &columns, true);
    let (plain, _) = embed_and_grads(&model, &columns, false);
    for (p, q) in packed.iter().zip(&plain) {
        assert!(max_diff(p, q) < 1e-5);
    }
}

/// A left-padding tokenizer (as `tokenizer_config.json` can ask for) on an encoder whose
/// positions count real tokens (RoBERTa): packing cuts and pads chunks on the left.
#[test]
fn packing_matches_with_left_padding() {
    let dir = tempfile::tempdir().unwrap();
    let mut vocab = vec!["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
    vocab.extend(WORDS);
    std::fs::write(dir.path().join("vocab.txt"), vocab.join("\n")).unwrap();
    std::fs::write(
        dir.path().join("tokenizer_config.json"),
        r#"{"padding_side": "left", "do_lower_case": true}"#,
    )
    .unwrap();
    let tokenizer = SentenceTokenizer::from_dir(dir.path(), 128, false).unwrap();
    assert_eq!(tokenizer.padding_side(), model::PaddingSide::Left);
    tch::manual_seed(5);
    let config = model::RobertaConfig::tiny(vocab.len() as i64);
    let model = SentenceTransformer::from_config(
        &config,
        tokenizer,
        vec![PoolingMode::Mean],
        false,
        tch::Device::Cpu,
    )
    .unwrap();
    let mut lengths = vec![3; 9];
    lengths.push(40);
    let columns = [column(&model, &lengths, 0), column(&model, &[5, 1, 12], 1)];
    assert_eq!(
        columns[1].attention_mask.int64_value(&[1, 0]),
        0,
        "left-padded"
    );
    let (packed, packed_grads) = embed_and_grads(&model, &columns, true);
    let (plain, plain_grads) = embed_and_grads(&model, &columns, false);
    for (p, q) in packed.iter().zip(&plain) {
        assert!(
            max_diff(p, q) < 1e-5,
            "embeddings differ by {}",
            max_diff(p, q)
        );
    }
    for (name, g) in &plain_grads {
        let scale = g.abs().max().double_value(&[]).max(1.0);
        let d = max_diff(g, &packed_grads[name]) / scale;
        assert!(d < 1e-5, "gradient of {name} differs by {d} (relative)");
    }
}

/// Columns with different prompts (the per-column `prompts` of a training config) and a
/// Pooling with `include_prompt = false`: each row leaves its own column's prompt tokens out,
/// in the packed forward as in the column-by-column one (where one length fits a batch).
#[test]
fn packing_keeps_each_columns_prompt_out_of_pooling() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = tiny_model(dir.path(), vec![PoolingMode::Mean]);
    model.set_pooling_include_prompt(false);
    let prompt_lengths = [2usize, 0, 3];
    let columns: Vec<TokenBatch> = [vec![6, 2, 9], vec![4, 4], vec![11, 3, 5, 1]]
        .iter()
        .enumerate()
        .map(|(c, lengths)| {
            column(&model, lengths, c)
                .with_prompt_length(prompt_lengths[c])
                .unwrap()
        })
        .collect();
    let packed = model.forward_columns_t(&columns, false).unwrap();
    for (c, (batch, p)) in columns.iter().zip(&packed).enumerate() {
        let plain = model
            .forward_with_prompt_t(batch, Some(prompt_lengths[c]), false)
            .unwrap();
        assert!(
            max_diff(p, &plain) < 1e-5,
            "column {c}: {}",
            max_diff(p, &plain)
        );
    }
    // The prompt is really left out: the first column with its prompt tokens pooled differs.
    let pooled_whole = model
        .forward_t(&column(&model, &[6, 2, 9], 0), false)
        .unwrap();
    assert!(max_diff(&packed[0], &pooled_whole) > 1e-4);
}
