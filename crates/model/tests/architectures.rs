//! Every architecture behind the encoder seam against Python sentence-transformers (fp32, CPU).
//!
//! Reference values: tests/fixtures/<arch>/{embeddings.npy, reference.json}, produced by
//! tests/fixtures/make_arch_fixtures.py from the tiny random models committed beside them
//! (versions in each reference.json: sentence-transformers 6.2.0, transformers 5.24.0,
//! torch 2.11.0, tokenizers 0.23.3). The snippet that produced the numbers is in
//! reference.json's "snippet".

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use model::{EncodeOptions, SentenceTransformer, TokenBatch};
use serde_json::Value;
use tch::{Kind, Tensor};
use test_support::copy_dir;

const ARCHITECTURES: [&str; 7] = [
    "bert",
    "roberta",
    "xlm-roberta",
    "mpnet",
    "distilbert",
    "modernbert",
    "qwen3",
];

/// Max abs difference allowed per embedding component.
const EMBEDDING_TOLERANCE: f32 = 1e-5;

/// A gradient statistic (sum, sum of squares, sampled entry) `got` matches `want` when
/// `|got − want| ≤ GRADIENT_TOLERANCE · max(1, |want|)`: absolute for values up to 1, relative
/// beyond (sums over many entries and squares of large gradients).
const GRADIENT_TOLERANCE: f64 = 1e-4;

fn fixture(arch: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(arch)
}

fn load(arch: &str) -> SentenceTransformer {
    SentenceTransformer::load(&fixture(arch).join("model"), tch::Device::Cpu)
        .unwrap_or_else(|e| panic!("{arch}: {e}"))
}

fn reference(arch: &str) -> Value {
    let text = std::fs::read_to_string(fixture(arch).join("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn batch(model: &SentenceTransformer, texts: &[String]) -> TokenBatch {
    let tokenized = model.tokenizer().tokenize(texts).unwrap();
    let rows: Vec<_> = tokenized.iter().collect();
    model.to_tensors(&model.tokenizer().collate(&rows))
}

#[test]
fn tokenization_matches_sentence_transformers() {
    for arch in ARCHITECTURES {
        let model = load(arch);
        let meta = reference(arch);
        let texts = strings(&meta["sentences"]);
        let got = model.tokenizer().tokenize(&texts).unwrap();
        for (i, (text, want)) in got
            .iter()
            .zip(meta["token_ids"].as_array().unwrap())
            .enumerate()
        {
            let want: Vec<i64> = want
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect();
            assert_eq!(text.ids, want, "{arch}: sentence {i} {:?}", texts[i]);
        }
        assert_eq!(
            model.max_seq_length(),
            meta["max_seq_length"].as_u64().unwrap() as usize
        );
    }
}

#[test]
fn embeddings_match_sentence_transformers_at_batch_sizes_1_7_32() {
    for arch in ARCHITECTURES {
        let model = load(arch);
        let texts = strings(&reference(arch)["sentences"]);
        assert!(texts.len() >= 64);
        let (expected, rows, dim) =
            data::read_npy_f32(fixture(arch).join("embeddings.npy")).unwrap();
        assert_eq!(rows, texts.len());
        for batch_size in [1, 7, 32] {
            let options = EncodeOptions {
                batch_size,
                ..Default::default()
            };
            let got = model.encode(&texts, &options).unwrap();
            assert_eq!((got.rows, got.dim), (rows, dim));
            let diff = max_abs_diff(&got.data, &expected);
            eprintln!("{arch}: batch size {batch_size}: max abs diff {diff:e}");
            assert!(
                diff <= EMBEDDING_TOLERANCE,
                "{arch}: batch size {batch_size}: max abs diff {diff:e} > {EMBEDDING_TOLERANCE:e}"
            );
        }
    }
}

/// `(name, [sum, sum of squares, sampled entries…] as (got, want))` for every weight in the
/// reference, after backpropagating the reference's objective.
fn gradient_statistics(arch: &str) -> Vec<(String, Vec<(f64, f64)>)> {
    let model = load(arch);
    let meta = reference(arch);
    let texts = strings(&meta["grad_sentences"]);
    let vector: Vec<f32> = meta["grad_vector"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let embeddings = model.forward_t(&batch(&model, &texts), false).unwrap();
    let objective = embeddings
        .matmul(&Tensor::from_slice(&vector))
        .sum(Kind::Float);
    objective.backward();
    let variables: HashMap<String, Tensor> = model.var_store().variables().into_iter().collect();
    let grads = meta["grads"].as_object().unwrap();
    for (name, var) in &variables {
        if !grads.contains_key(name) {
            // Weights PyTorch gives no gradient (the pooler) get none, or zeros, here too.
            let g = model::testing::dense_grad(var);
            assert!(
                !g.defined() || g.abs().max().double_value(&[]) == 0.0,
                "{arch}: {name} has a gradient but none in the reference"
            );
        }
    }
    let mut out = Vec::new();
    for (name, want) in grads {
        let var = variables
            .get(name)
            .unwrap_or_else(|| panic!("{arch}: no variable {name}"));
        let shape: Vec<i64> = want["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(var.size(), shape, "{arch}: {name}");
        let g = model::testing::dense_grad(var)
            .to_kind(Kind::Double)
            .flatten(0, -1);
        let mut stats = vec![
            (
                g.sum(Kind::Double).double_value(&[]),
                want["sum"].as_f64().unwrap(),
            ),
            (
                (&g * &g).sum(Kind::Double).double_value(&[]),
                want["sum_sq"].as_f64().unwrap(),
            ),
        ];
        for sample in want["samples"].as_array().unwrap() {
            let index = sample[0].as_i64().unwrap();
            stats.push((g.double_value(&[index]), sample[1].as_f64().unwrap()));
        }
        out.push((name.clone(), stats));
    }
    out
}

#[test]
fn gradients_match_sentence_transformers() {
    for arch in ARCHITECTURES {
        let stats = gradient_statistics(arch);
        // Every weight with a gradient is in the reference (checked above); ModernBERT, without
        // biases, has the fewest: 20.
        assert!(stats.len() >= 20, "{arch}: only {} weights", stats.len());
        let mut worst = (0.0f64, String::new());
        // The sums of squares and sampled entries alone (the sums cancel to near zero for
        // weights feeding a LayerNorm, so theirs is float noise around 0).
        let mut worst_entries = 0.0f64;
        for (name, pairs) in &stats {
            for (k, (got, want)) in pairs.iter().enumerate() {
                let diff = (got - want).abs();
                let scaled = diff / want.abs().max(1.0);
                if k > 0 {
                    worst_entries = worst_entries.max(scaled);
                }
                if scaled > worst.0 {
                    worst = (scaled, format!("{name}: got {got:e}, want {want:e}"));
                }
                assert!(
                    scaled <= GRADIENT_TOLERANCE,
                    "{arch}: gradient of {name}: got {got:e}, want {want:e}"
                );
            }
        }
        eprintln!(
            "{arch}: {} weights, max gradient diff {:e} (scaled, at {}); \
             sums of squares and sampled entries: {worst_entries:e}",
            stats.len(),
            worst.0,
            worst.1
        );
    }
}

fn tensors(path: &Path) -> Vec<(String, Tensor)> {
    let mut t = Tensor::read_safetensors(path).unwrap();
    t.sort_by(|a, b| a.0.cmp(&b.0));
    t
}

#[test]
fn save_then_load_is_bit_identical_and_keeps_the_architecture_s_names() {
    for arch in ARCHITECTURES {
        let model = load(arch);
        let texts = strings(&reference(arch)["sentences"]);
        let before = model.encode(&texts, &EncodeOptions::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join(arch);
        model.save(&out).unwrap();
        let reloaded = SentenceTransformer::load(&out, tch::Device::Cpu).unwrap();
        let after = reloaded.encode(&texts, &EncodeOptions::default()).unwrap();
        assert_eq!(
            before, after,
            "{arch}: save/load must not change a single bit"
        );

        let original = tensors(&fixture(arch).join("model/model.safetensors"));
        let saved = tensors(&out.join("model.safetensors"));
        let names = |t: &[(String, Tensor)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&saved), names(&original), "{arch}: key names");
        for ((name, a), (_, b)) in original.iter().zip(&saved) {
            assert!(a.equal(b), "{arch}: {name} changed");
        }
        let config: Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap())
                .unwrap();
        assert_eq!(config["model_type"], arch, "{arch}: config.json model_type");
        assert_eq!(reloaded.max_seq_length(), model.max_seq_length());
    }
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
    // Fixed weights that need no random generator: tests in this binary run on several
    // threads, and libtorch's generator is global.
    let objective = embeddings
        .iter()
        .enumerate()
        .map(|(c, e)| {
            let w = Tensor::arange(e.numel() as i64, (Kind::Float, tch::Device::Cpu))
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

#[test]
fn packed_training_forward_matches_the_per_column_forward() {
    for arch in ARCHITECTURES {
        let model = load(arch);
        let texts = strings(&reference(arch)["sentences"]);
        // Three columns of different sizes and lengths: short, long and mixed texts.
        let columns = [
            batch(&model, &texts[0..9]),
            batch(&model, &texts[60..64]),
            batch(&model, &texts[20..33]),
        ];
        let (packed, packed_grads) = embed_and_grads(&model, &columns, true);
        let (plain, plain_grads) = embed_and_grads(&model, &columns, false);
        for (p, q) in packed.iter().zip(&plain) {
            assert_eq!(p.size(), q.size());
            let d = (p - q).abs().max().double_value(&[]);
            assert!(d < 1e-5, "{arch}: embeddings differ by {d}");
        }
        assert_eq!(packed_grads.len(), plain_grads.len(), "{arch}");
        for (name, g) in &plain_grads {
            let scale = g.abs().max().double_value(&[]).max(1.0);
            let d = (g - &packed_grads[name]).abs().max().double_value(&[]) / scale;
            assert!(
                d < 1e-5,
                "{arch}: gradient of {name} differs by {d} (relative)"
            );
        }
    }
}

#[test]
fn dropout_acts_only_in_train_mode() {
    for arch in ARCHITECTURES {
        let model = load(arch);
        let texts = strings(&reference(arch)["sentences"]);
        let batch = batch(&model, &texts[..4]);
        let eval1 = model.forward_t(&batch, false).unwrap();
        let eval2 = model.forward_t(&batch, false).unwrap();
        assert!(
            eval1.equal(&eval2),
            "{arch}: eval mode must be deterministic"
        );
        let train = model.forward_t(&batch, true).unwrap();
        // Against the eval output, not a second train-mode draw: other tests of this binary
        // reseed libtorch's global generator from their threads, which can replay a mask.
        assert!(
            !train.allclose(&eval1, 1e-6, 1e-6, false),
            "{arch}: dropout must change train-mode outputs"
        );
    }
}

#[test]
fn a_pad_token_inside_a_text_is_a_real_token() {
    let model = load("roberta");
    let pad = model.tokenizer().pad_id();
    assert_eq!(pad, 1);
    let texts = ["a <pad> b".to_string(), "a".to_string()];
    let tokenized = model.tokenizer().tokenize(&texts).unwrap();
    let inner = tokenized[0].ids.iter().position(|&id| id == pad);
    assert!(inner.is_some(), "{:?}", tokenized[0].ids);
    let batch = model.tokenizer().collate(&[&tokenized[0], &tokenized[1]]);
    let seq = batch.seq_len;
    assert!(batch.attention_mask[..seq].iter().all(|&m| m == 1));
    assert_eq!(
        batch.attention_mask[seq..]
            .iter()
            .filter(|&&m| m == 1)
            .count(),
        3
    );
}

#[test]
fn qwen3_pads_left_and_pools_its_trailing_endoftext_though_it_is_the_pad_id() {
    let model = load("qwen3");
    let pad = model.tokenizer().pad_id();
    assert_eq!(model.tokenizer().padding_side(), model::PaddingSide::Left);
    let texts = ["a".to_string(), "the cat sits on the mat".to_string()];
    let tokenized = model.tokenizer().tokenize(&texts).unwrap();
    // The template appends <|endoftext|>, which is also the pad token.
    assert!(tokenized.iter().all(|t| t.ids.last() == Some(&pad)));
    let collated = model.tokenizer().collate(&[&tokenized[0], &tokenized[1]]);
    let (seq, short) = (collated.seq_len, tokenized[0].ids.len());
    assert!(short < seq);
    let row = &collated.attention_mask[..seq];
    assert!(row[..seq - short].iter().all(|&m| m == 0), "{row:?}");
    assert!(row[seq - short..].iter().all(|&m| m == 1), "{row:?}");
    assert_eq!(collated.input_ids[seq - 1], pad);
    // Left padding does not change a text's embedding (beyond float rounding).
    let options = EncodeOptions {
        batch_size: 2,
        ..Default::default()
    };
    let together = model.encode(&texts, &options).unwrap();
    let alone = model.encode(&texts[..1], &options).unwrap();
    let diff = max_abs_diff(together.row(0).unwrap(), alone.row(0).unwrap());
    assert!(diff <= EMBEDDING_TOLERANCE, "{diff:e}");
}

/// A copy of the `arch` fixture with `config.json` keys replaced.
fn with_config(arch: &str, dir: &Path, edits: &[(&str, Value)]) -> PathBuf {
    let out = dir.join(arch);
    copy_dir(&fixture(arch).join("model"), &out);
    let path = out.join("config.json");
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for (key, value) in edits {
        config[*key] = value.clone();
    }
    std::fs::write(&path, config.to_string()).unwrap();
    out
}

/// Max abs difference between the fixture's reference embeddings and those of the model in
/// `dir` (loaded from a copy with an edited config).
fn diff_from_reference(arch: &str, dir: &Path) -> f32 {
    let model = SentenceTransformer::load(dir, tch::Device::Cpu).unwrap();
    let texts = strings(&reference(arch)["sentences"]);
    let (expected, _, _) = data::read_npy_f32(fixture(arch).join("embeddings.npy")).unwrap();
    let got = model.encode(&texts, &EncodeOptions::default()).unwrap();
    max_abs_diff(&got.data, &expected)
}

#[test]
fn modernbert_s_window_and_thetas_matter_at_the_fixture_s_lengths() {
    // Each edit alone moves the embeddings far beyond the tolerance, so parity above shows
    // that the window |i − j| ≤ local_attention / 2 and both thetas are applied as transformers
    // applies them.
    let edits: [(&str, Value); 3] = [
        ("local_attention", 64.into()),
        (
            "layer_types",
            serde_json::json!(["full_attention", "full_attention", "full_attention"]),
        ),
        (
            "rope_parameters",
            serde_json::json!({"full_attention": {"rope_type": "default", "rope_theta": 10000.0},
                               "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}),
        ),
    ];
    for (key, value) in edits {
        let dir = tempfile::tempdir().unwrap();
        let copy = with_config("modernbert", dir.path(), &[(key, value)]);
        let diff = diff_from_reference("modernbert", &copy);
        assert!(diff > 1e-3, "modernbert with {key} edited: diff {diff:e}");
    }
    // The transformers 4.x spelling of the same pattern and thetas gives the same model.
    let dir = tempfile::tempdir().unwrap();
    let copy = with_config(
        "modernbert",
        dir.path(),
        &[
            ("layer_types", Value::Null),
            ("rope_parameters", Value::Null),
            ("global_rope_theta", 80000.0.into()),
            ("local_rope_theta", 10000.0.into()),
            ("global_attn_every_n_layers", 2.into()),
        ],
    );
    let diff = diff_from_reference("modernbert", &copy);
    assert!(diff <= EMBEDDING_TOLERANCE, "4.x spelling: diff {diff:e}");
}

#[test]
fn errors_name_the_architecture_the_key_and_both_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let load_err = |path: PathBuf| {
        SentenceTransformer::load(&path, tch::Device::Cpu)
            .unwrap_err()
            .to_string()
    };
    let err = load_err(with_config(
        "mpnet",
        dir.path(),
        &[("model_type", "t5".into())],
    ));
    assert!(
        err.contains("\"t5\"") && err.contains("supported: bert, roberta"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let err = load_err(with_config(
        "roberta",
        dir.path(),
        &[("intermediate_size", 48.into())],
    ));
    // Found in the checkpoint's header, before any variable is allocated.
    assert!(
        err.contains("RoBERTa")
            && err.contains("intermediate_size = 48")
            && err.contains("encoder.layer.0.intermediate.dense.weight")
            && err.contains("[64, 32]")
            && err.contains("[48, 32]"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let err = load_err(with_config(
        "distilbert",
        dir.path(),
        &[("n_layers", 3.into())],
    ));
    assert!(
        err.contains("DistilBERT")
            && err.contains("key n_layers is 3")
            && err.contains("holds only 2 DistilBERT layers (transformer.layer.N."),
        "{err}"
    );
}

#[test]
fn every_architecture_made_in_code_saves_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let words = [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "cat", "dog", "sits", "on",
    ];
    let vocab = dir.path().join("vocab.txt");
    std::fs::write(&vocab, words.join("\n")).unwrap();
    let n = words.len() as i64;
    let configs: [model::EncoderConfig; 6] = [
        model::BertConfig::tiny(n).into(),
        model::RobertaConfig::tiny(n).into(),
        model::MpnetConfig::tiny(n).into(),
        model::DistilBertConfig::tiny(n).into(),
        model::ModernBertConfig::tiny(n).into(),
        model::Qwen3Config::tiny(n).into(),
    ];
    let texts = ["the cat sits on a dog", "a cat", ""];
    for config in configs {
        let tokenizer = model::SentenceTokenizer::from_vocab(&vocab, true, 32).unwrap();
        tch::manual_seed(0);
        let model = SentenceTransformer::from_config(
            config.clone(),
            tokenizer,
            vec![model::PoolingMode::Mean],
            true,
            tch::Device::Cpu,
        )
        .unwrap();
        let out = dir.path().join(config.model_type());
        model.save(&out).unwrap();
        let loaded = SentenceTransformer::load(&out, tch::Device::Cpu).unwrap();
        assert_eq!(loaded.encoder_config(), &config, "{}", config.model_type());
        let options = EncodeOptions::default();
        assert_eq!(
            model.encode(&texts, &options).unwrap(),
            loaded.encode(&texts, &options).unwrap(),
            "{}",
            config.model_type()
        );
    }
}
