//! Training without labels through the library: TSDAE (DenoisingAutoEncoderLoss on damaged /
//! original sentences) and SimCSE (MultipleNegativesRankingLoss on a sentence paired with
//! itself), on a tiny random BERT and a text file of sentences made in code.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use model::{PoolingMode, SentenceTransformer};
use trainer::{Callback, Resume, StepReport, TrainConfig, Trainer, TrainerState};

/// libtorch's generator is global to the process: seeded tests run one at a time.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `n` distinct sentences of the tiny model's words, one a line.
fn sentences(dir: &Path, n: usize) -> PathBuf {
    let w = |i: usize| test_support::WORDS[i % test_support::WORDS.len()];
    let text: String = (0..n)
        .map(|i| {
            format!(
                "{} {} {} {} {} {}\n",
                w(i),
                w(i / 2 + 3),
                w(i * 7 + 1),
                w(i / 5 + 11),
                w(i * 3 + 2),
                w(i / 3 + 17)
            )
        })
        .collect();
    let path = dir.join("sentences.txt");
    std::fs::write(&path, text).unwrap();
    path
}

fn config(dir: &Path, loss_and_pairing: &str, extra: &[(&str, &str)]) -> TrainConfig {
    let model = model::testing::tiny_bert(dir, &test_support::WORDS, 3).unwrap();
    let data = sentences(dir, 40);
    let text = format!(
        r#"
[model]
base = "{}"
pooling = "cls"
[data]
dataset = "{}"
format = "sentences"
{loss_and_pairing}
[training]
epochs = 2
batch_size = 8
learning_rate = 2e-3
warmup_steps = 0
seed = 11
device = "cpu"
threads = 1
batch_sampler = "shuffle"
[evaluation]
evaluators = []
[output]
dir = "{}"
logging_steps = 1
save_steps = 0
progress = false
"#,
        model.display(),
        data.display(),
        dir.join("out").display()
    );
    let overrides: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    TrainConfig::from_toml(&text, "test config", &overrides).unwrap()
}

const TSDAE: &str = r#"
[data.pairing]
type = "denoising"
deletion_ratio = 0.6
[loss]
type = "denoising_auto_encoder"
"#;

const SIMCSE: &str = r#"
[data.pairing]
type = "identical"
[loss]
type = "multiple_negatives_ranking"
"#;

/// Local files only: any hub request would go to a closed port and fail.
fn offline_client(dir: &Path) -> hub::HubClient {
    hub::HubClient::new("http://127.0.0.1:9", dir.join("hub-cache"))
}

fn train_losses(out: &Path) -> Vec<f64> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "train")
        .map(|v| v["loss"].as_f64().unwrap())
        .collect()
}

struct StopAfter(u64, Arc<AtomicBool>);

impl Callback for StopAfter {
    fn on_step_end(&mut self, _: &TrainerState, report: &StepReport) {
        if report.step == self.0 {
            self.1.store(true, Ordering::SeqCst);
        }
    }
}

#[test]
fn tsdae_learns_to_reconstruct_and_saves_the_encoder_alone() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), TSDAE, &[("training.epochs", "6")]);
    let outcome = Trainer::new(&cfg, Resume::Fresh, &offline_client(dir.path()))
        .unwrap()
        .run(&AtomicBool::new(false))
        .unwrap();
    assert_eq!(outcome.steps, 30);
    let out = dir.path().join("out");
    let losses = train_losses(&out);
    let first: f64 = losses[..5].iter().sum::<f64>() / 5.0;
    let last: f64 = losses[losses.len() - 5..].iter().sum::<f64>() / 5.0;
    assert!(
        last < 0.95 * first,
        "reconstruction loss should fall: {first} → {last} ({losses:?})"
    );
    // The output is a plain sentence-transformers model with CLS pooling; the decoder, a
    // training device, is not in it.
    assert!(!out.join("loss.safetensors").exists());
    let trained = SentenceTransformer::load(&out, tch::Device::Cpu).unwrap();
    assert_eq!(trained.pooling_modes(), [PoolingMode::Cls]);
}

#[test]
fn a_stopped_tsdae_run_resumes_to_the_uninterrupted_weights() {
    let _serial = serial();
    let whole = tempfile::tempdir().unwrap();
    let cfg = config(whole.path(), TSDAE, &[]);
    Trainer::new(&cfg, Resume::Fresh, &offline_client(whole.path()))
        .unwrap()
        .run(&AtomicBool::new(false))
        .unwrap();

    let split = tempfile::tempdir().unwrap();
    let cfg = config(split.path(), TSDAE, &[]);
    let client = offline_client(split.path());
    let stop = Arc::new(AtomicBool::new(false));
    let mut first = Trainer::new(&cfg, Resume::Fresh, &client).unwrap();
    first.add_callback(Box::new(StopAfter(3, Arc::clone(&stop))));
    let checkpoint = first
        .run(&stop)
        .unwrap()
        .interrupted
        .expect("stopped with a checkpoint");
    // The checkpoint keeps the decoder's own weights, under transformers' names.
    let decoder = tch::Tensor::read_safetensors(checkpoint.join("loss.safetensors")).unwrap();
    assert!(decoder
        .iter()
        .any(|(n, _)| n == "bert.encoder.layer.0.crossattention.self.query.weight"));
    assert!(decoder.iter().any(|(n, _)| n == "cls.predictions.bias"));

    Trainer::new(&cfg, Resume::Latest, &client)
        .unwrap()
        .run(&AtomicBool::new(false))
        .unwrap();
    let weights = |d: &Path| std::fs::read(d.join("out/model.safetensors")).unwrap();
    assert_eq!(
        weights(split.path()),
        weights(whole.path()),
        "resumed TSDAE weights differ from the uninterrupted run's"
    );
    assert_eq!(
        train_losses(&split.path().join("out")),
        train_losses(&whole.path().join("out"))
    );
}

#[test]
fn simcse_trains_mnrl_on_sentences_paired_with_themselves() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), SIMCSE, &[]);
    let outcome = Trainer::new(&cfg, Resume::Fresh, &offline_client(dir.path()))
        .unwrap()
        .run(&AtomicBool::new(false))
        .unwrap();
    assert_eq!(outcome.steps, 10);
    assert!(train_losses(&dir.path().join("out"))
        .iter()
        .all(|l| l.is_finite() && *l > 0.0));
}

/// GIST on sentences paired with themselves, the tiny model its own guide: two steps train,
/// and the guide's weights are nowhere in the output, the checkpoint or the optimizer state.
#[test]
fn gist_trains_with_a_frozen_guide_that_is_never_saved() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // `config` writes the tiny model to dir/tiny-model: the guide is that same folder.
    let guide = dir.path().join("tiny-model");
    let gist = format!(
        "[data.pairing]\ntype = \"identical\"\n[loss]\ntype = \"gist_embed\"\nguide = {:?}\n",
        guide.display().to_string()
    );
    let cfg = config(
        dir.path(),
        &gist,
        &[("training.max_steps", "2"), ("output.save_steps", "1")],
    );
    let outcome = Trainer::new(&cfg, Resume::Fresh, &offline_client(dir.path()))
        .unwrap()
        .run(&AtomicBool::new(false))
        .unwrap();
    assert_eq!(outcome.steps, 2);
    let out = dir.path().join("out");
    assert!(train_losses(&out).iter().all(|l| l.is_finite() && *l > 0.0));
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(readme.contains("GISTEmbedLoss"), "{readme}");

    let names = |path: &Path| -> Vec<String> {
        tch::Tensor::read_safetensors(path)
            .unwrap()
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    };
    let mut base = names(&guide.join("model.safetensors"));
    base.sort();
    // The output: the trained model alone, no loss parameters.
    assert!(!out.join("loss.safetensors").exists());
    let mut saved = names(&out.join("model.safetensors"));
    saved.sort();
    assert_eq!(saved, base);
    let trained = SentenceTransformer::load(&out, tch::Device::Cpu).unwrap();
    let original = SentenceTransformer::load(&guide, tch::Device::Cpu).unwrap();
    let moved = trained
        .var_store()
        .variables()
        .iter()
        .any(|(name, v)| !v.equal(&original.var_store().variables()[name]));
    assert!(moved, "two steps changed no weight");
    // The checkpoint: the model, and optimizer moments of the model's variables only.
    let checkpoint = std::fs::read_dir(out.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .expect("a checkpoint");
    assert!(!checkpoint.join("loss.safetensors").exists());
    let model_vars = trained.var_store().variables();
    let moments = names(&checkpoint.join("optimizer.safetensors"));
    assert!(moments.len() <= 2 * model_vars.len() + 1);
    for name in moments.iter().filter(|n| *n != "steps") {
        let var = name
            .strip_prefix("exp_avg_sq.")
            .or_else(|| name.strip_prefix("exp_avg."))
            .unwrap_or_else(|| panic!("{name}"));
        assert!(model_vars.contains_key(var), "{name}");
    }
}

#[test]
fn bad_unsupervised_setups_are_named() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let client = offline_client(dir.path());
    // TSDAE needs both columns: single sentences alone are not enough.
    let cfg = config(
        dir.path(),
        "[loss]\ntype = \"denoising_auto_encoder\"\n",
        &[],
    );
    let err = Trainer::new(&cfg, Resume::Fresh, &client)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("DenoisingAutoEncoderLoss"), "{err}");
    assert!(err.contains("1 text column"), "{err}");

    let cfg = config(dir.path(), TSDAE, &[("model.pooling", "\"first\"")]);
    let err = Trainer::new(&cfg, Resume::Fresh, &client)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("model.pooling"), "{err}");
    assert!(err.contains("cls, max, mean"), "{err}");

    // A decoder exists for BERT- and RoBERTa-family encoders only.
    let mpnet =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../model/tests/fixtures/mpnet/model");
    let cfg = config(
        dir.path(),
        TSDAE,
        &[("model.base", &format!("{:?}", mpnet.display().to_string()))],
    );
    let err = Trainer::new(&cfg, Resume::Fresh, &client)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("BERT and RoBERTa"), "{err}");
    assert!(err.to_lowercase().contains("mpnet"), "{err}");
}

const CONTRASTIVE_TENSION: &str = r#"
[data.pairing]
type = "contrastive_tension"
pos_neg_ratio = 4
[loss]
type = "contrastive_tension"
"#;

const CONTRASTIVE_TENSION_IN_BATCH: &str = r#"
[loss]
type = "contrastive_tension_in_batch_negatives"
"#;

#[test]
fn contrastive_tension_trains_both_copies_and_resumes_exactly() {
    let _serial = serial();
    for (loss, sampler) in [
        (CONTRASTIVE_TENSION, "\"sequential\""),
        (CONTRASTIVE_TENSION_IN_BATCH, "\"shuffle\""),
    ] {
        let whole = tempfile::tempdir().unwrap();
        let cfg = config(whole.path(), loss, &[("training.batch_sampler", sampler)]);
        Trainer::new(&cfg, Resume::Fresh, &offline_client(whole.path()))
            .unwrap()
            .run(&AtomicBool::new(false))
            .unwrap();
        let out = whole.path().join("out");
        assert!(train_losses(&out).iter().all(|l| l.is_finite()));
        // The copy is a training device: the output is the model alone.
        assert!(!out.join("loss.safetensors").exists());

        let split = tempfile::tempdir().unwrap();
        let cfg = config(split.path(), loss, &[("training.batch_sampler", sampler)]);
        let client = offline_client(split.path());
        let stop = Arc::new(AtomicBool::new(false));
        let mut first = Trainer::new(&cfg, Resume::Fresh, &client).unwrap();
        first.add_callback(Box::new(StopAfter(2, Arc::clone(&stop))));
        let checkpoint = first.run(&stop).unwrap().interrupted.unwrap();
        let saved = tch::Tensor::read_safetensors(checkpoint.join("loss.safetensors")).unwrap();
        assert!(saved
            .iter()
            .any(|(n, _)| n == "model1.embeddings.word_embeddings.weight"));
        Trainer::new(&cfg, Resume::Latest, &client)
            .unwrap()
            .run(&AtomicBool::new(false))
            .unwrap();
        let weights = |d: &Path| std::fs::read(d.join("out/model.safetensors")).unwrap();
        assert_eq!(
            weights(split.path()),
            weights(whole.path()),
            "{loss}: resumed weights differ from the uninterrupted run's"
        );
    }
}

#[test]
fn random_weights_start_from_a_seeded_fresh_draw() {
    let _serial = serial();
    let weights = |dir: &Path, seed: &str| {
        let cfg = config(
            dir,
            TSDAE,
            &[
                ("model.weights", "\"random\""),
                ("training.seed", seed),
                ("training.max_steps", "1"),
                ("training.learning_rate", "1e-12"),
            ],
        );
        Trainer::new(&cfg, Resume::Fresh, &offline_client(dir))
            .unwrap()
            .run(&AtomicBool::new(false))
            .unwrap();
        let trained = SentenceTransformer::load(&dir.join("out"), tch::Device::Cpu).unwrap();
        let base = SentenceTransformer::load(&dir.join("tiny-model"), tch::Device::Cpu).unwrap();
        let name = "encoder.layer.0.attention.self.query.weight";
        let of = |m: &SentenceTransformer| m.var_store().variables()[name].copy();
        (of(&trained), of(&base))
    };
    let (a, base) = weights(tempfile::tempdir().unwrap().path(), "11");
    let (b, _) = weights(tempfile::tempdir().unwrap().path(), "11");
    let (c, _) = weights(tempfile::tempdir().unwrap().path(), "12");
    assert!(
        !a.allclose(&base, 1e-3, 1e-3, false),
        "still the base's weights"
    );
    assert!(a.equal(&b), "the same seed must draw the same weights");
    assert!(!a.equal(&c), "another seed must draw other weights");
}

#[test]
fn an_architecture_change_trains_another_size_from_scratch() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let cfg = config(
        dir,
        TSDAE,
        &[
            ("model.weights", "\"random\""),
            (
                "model.architecture",
                "{ num_hidden_layers = 1, hidden_size = 16, num_attention_heads = 2, \
                 intermediate_size = 24 }",
            ),
            ("training.max_steps", "3"),
        ],
    );
    Trainer::new(&cfg, Resume::Fresh, &offline_client(dir))
        .unwrap()
        .run(&AtomicBool::new(false))
        .unwrap();
    let trained = SentenceTransformer::load(&dir.join("out"), tch::Device::Cpu).unwrap();
    assert_eq!(trained.encoder_config().hidden_size(), 16);
    assert_eq!(trained.encoder_config().num_layers(), 1);
    assert_eq!(trained.embedding_dimension(), 16);
    let losses = train_losses(&dir.join("out"));
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");

    let out_bad = format!("{:?}", dir.join("out-bad").display().to_string());
    let bad = config(
        dir,
        TSDAE,
        &[
            ("model.weights", "\"random\""),
            ("model.architecture", "{ num_layers = 1 }"),
            ("output.dir", &out_bad),
        ],
    );
    let err = Trainer::new(&bad, Resume::Fresh, &offline_client(dir))
        .err()
        .expect("an unknown config.json key was accepted")
        .to_string();
    assert!(
        err.contains("model.architecture") && err.contains("num_layers"),
        "{err}"
    );
}

/// A BERT folder of the tiny model's vocabulary with hidden size `hidden`.
fn bert_of_width(dir: &Path, hidden: i64) -> PathBuf {
    let mut vocab = vec!["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
    vocab.extend(test_support::WORDS);
    let vocab_path = dir.join("wide-vocab.txt");
    std::fs::write(&vocab_path, vocab.join("\n")).unwrap();
    let tokenizer = model::SentenceTokenizer::from_vocab(&vocab_path, true, 32).unwrap();
    let mut config = model::BertConfig::tiny(vocab.len() as i64);
    config.hidden_size = hidden;
    config.intermediate_size = 2 * hidden;
    let model = SentenceTransformer::from_config(
        &config,
        tokenizer,
        vec![PoolingMode::Mean],
        false,
        tch::Device::Cpu,
    )
    .unwrap();
    let out = dir.join(format!("bert-{hidden}"));
    model.save(&out).unwrap();
    out
}

#[test]
fn an_untied_decoder_trains_its_own_weights_and_mismatches_are_named() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // The decoder: a checkpoint of the same vocabulary and width (here the base model's own
    // folder, loaded as a separate copy).
    let tiny = model::testing::tiny_bert(dir.path(), &test_support::WORDS, 3).unwrap();
    let untied = format!(
        "[data.pairing]\ntype = \"denoising\"\n[loss]\ntype = \"denoising_auto_encoder\"\n\
         tie_encoder_decoder = false\ndecoder = {:?}\n",
        tiny.display().to_string()
    );
    let cfg = config(dir.path(), &untied, &[]);
    let client = offline_client(dir.path());
    let stop = Arc::new(AtomicBool::new(false));
    let mut trainer = Trainer::new(&cfg, Resume::Fresh, &client).unwrap();
    trainer.add_callback(Box::new(StopAfter(3, Arc::clone(&stop))));
    let checkpoint = trainer.run(&stop).unwrap().interrupted.unwrap();
    let saved = tch::Tensor::read_safetensors(checkpoint.join("loss.safetensors")).unwrap();
    let names: Vec<&str> = saved.iter().map(|(n, _)| n.as_str()).collect();
    for name in [
        "bert.embeddings.word_embeddings.weight",
        "bert.encoder.layer.1.attention.self.query.weight",
        "bert.encoder.layer.1.crossattention.self.query.weight",
        "cls.predictions.transform.dense.weight",
    ] {
        assert!(names.contains(&name), "{name} not among {names:?}");
    }
    // The decoder's own embeddings trained apart from the model's.
    let decoder_words = &saved
        .iter()
        .find(|(n, _)| n == "bert.embeddings.word_embeddings.weight")
        .unwrap()
        .1;
    let model = SentenceTransformer::load(&checkpoint.join("model"), tch::Device::Cpu).unwrap();
    let model_words = &model.var_store().variables()["embeddings.word_embeddings.weight"];
    assert!(!decoder_words.allclose(model_words, 1e-7, 1e-7, false));

    let client = offline_client(dir.path());
    let narrow = bert_of_width(dir.path(), 16);
    let narrow = format!(
        "[data.pairing]\ntype = \"denoising\"\n[loss]\ntype = \"denoising_auto_encoder\"\n\
         tie_encoder_decoder = false\ndecoder = {:?}\n",
        narrow.display().to_string()
    );
    let other = tempfile::tempdir().unwrap();
    let cfg = config(other.path(), &narrow, &[]);
    let err = Trainer::new(&cfg, Resume::Fresh, &client)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("hidden size 16"), "{err}");
    assert!(err.contains("config.json"), "{err}");

    for (loss, needle) in [
        (
            "type = \"denoising_auto_encoder\"\ntie_encoder_decoder = false\n",
            "needs decoder",
        ),
        (
            "type = \"denoising_auto_encoder\"\ndecoder = \"some/model\"\n",
            "only with tie_encoder_decoder = false",
        ),
    ] {
        let cfg = config(
            other.path(),
            &format!("[data.pairing]\ntype = \"denoising\"\n[loss]\n{loss}"),
            &[],
        );
        let err = Trainer::new(&cfg, Resume::Fresh, &client)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains(needle), "{err}");
    }
}
