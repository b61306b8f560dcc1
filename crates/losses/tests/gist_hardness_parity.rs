//! MultipleNegativesRankingLoss's hardness weighting (and the cached loss's) and GISTEmbedLoss
//! against sentence-transformers 6.3 on fixed float32 embeddings.
//!
//! `fixtures/st_gist_hardness.json` was written by `fixtures/make_gist_hardness_fixtures.py`
//! (sentence-transformers 6.3.0, transformers 5.25.0, torch 2.11.0; recorded in the file), which
//! runs the real classes: `MultipleNegativesRankingLoss.compute_loss_from_embeddings`,
//! `CachedMultipleNegativesRankingLoss.calculate_loss`, and `GISTEmbedLoss.forward` with a model
//! and a guide that return given embeddings (the guide's 12 wide, the model's 8). Tolerance:
//! 1e-5 absolute, relative for values above 1, on the loss and on d loss / d every embedding.
//! GIST's logits must also be `-inf` in exactly as many places as sentence-transformers'.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{batch, ids, max_diff};
use losses::{
    BuildLoss, Error, GistEmbedLoss, GistSettings, Loss, LossConfig, MarginStrategy, Targets,
};
use model::SentenceTransformer;
use serde_json::{json, Value};
use tch::{nn, Device, Kind, Tensor};

const TOLERANCE: f64 = 1e-5;

const WORDS: [&str; 12] = [
    "the", "a", "cat", "dog", "sits", "runs", "on", "mat", "big", "small", "red", "house",
];

fn fixture() -> &'static Value {
    static FIXTURE: OnceLock<Value> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let path = format!(
            "{}/tests/fixtures/st_gist_hardness.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let fixture: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(fixture["versions"]["sentence_transformers"], "6.3.0");
        fixture
    })
}

fn matrix(v: &Value) -> Tensor {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let (n, d) = (rows.len() as i64, rows[0].len() as i64);
    let flat: Vec<f32> = rows.into_iter().flatten().map(|x| x as f32).collect();
    Tensor::from_slice(&flat).view([n, d])
}

/// The named input set's columns, as leaves that collect gradients.
fn inputs(name: &str) -> Vec<Tensor> {
    fixture()["inputs"][name]
        .as_array()
        .unwrap_or_else(|| panic!("no inputs {name}"))
        .iter()
        .map(|column| matrix(column).set_requires_grad(true))
        .collect()
}

/// The loss and gradient gaps of one case: `(Δloss, max Δgrad)`, relative above 1.
fn gaps(name: &str, value: &Tensor, leaves: &[Tensor], case: &Value) -> (f64, f64) {
    value.backward();
    let expected = case["loss"].as_f64().unwrap();
    let d_loss = (value.double_value(&[]) - expected).abs() / expected.abs().max(1.0);
    let grads = case["grads"].as_array().unwrap();
    assert_eq!(grads.len(), leaves.len(), "{name}");
    let d_grad = leaves
        .iter()
        .zip(grads)
        .map(|(leaf, g)| max_diff(&leaf.grad(), &matrix(g)))
        .fold(0.0, f64::max);
    (d_loss, d_grad)
}

#[test]
fn mnrl_hardness_weighting_matches_sentence_transformers() {
    let cases = fixture()["mnrl"].as_array().unwrap();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let (mut worst_loss, mut worst_grad, mut failures) = (0f64, 0f64, Vec::new());
    println!(
        "{:<50} {:>10} {:>10} {:>10}",
        "case", "loss", "Δloss", "Δgrad"
    );
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let config: LossConfig = serde_json::from_value(case["config"].clone())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let leaves = inputs(case["inputs"].as_str().unwrap());
        let vs = nn::VarStore::new(Device::Cpu);
        let loss = config.build(&vs.root(), leaves[0].size()[1]).unwrap();
        let value = loss.compute(&leaves, Targets::None).unwrap();
        let (d_loss, d_grad) = gaps(name, &value, &leaves, case);
        println!(
            "{name:<50} {:>10.6} {d_loss:>10.2e} {d_grad:>10.2e}",
            value.double_value(&[])
        );
        worst_loss = worst_loss.max(d_loss);
        worst_grad = worst_grad.max(d_grad);
        if d_loss > TOLERANCE || d_grad > TOLERANCE {
            failures.push(name.to_string());
        }
    }
    println!("max Δloss {worst_loss:.2e}, max Δgrad {worst_grad:.2e}");
    assert!(failures.is_empty(), "beyond {TOLERANCE}: {failures:?}");
}

/// The penalty changes the loss where the mode has negatives to penalise, and only there: a
/// hard-negative mode without hard negatives, or a strength of 0, is plain MNRL.
#[test]
fn hardness_modes_penalise_the_negatives_they_name() {
    let loss_of = |name: &str| {
        fixture()["mnrl"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no case {name}"))["loss"]
            .as_f64()
            .unwrap()
    };
    for negatives in [0, 1] {
        let plain = loss_of(&format!("mnrl_{negatives}neg_plain"));
        let zero = loss_of(&format!("mnrl_{negatives}neg_all_negatives_0"));
        assert_eq!(plain, zero);
        for mode in ["in_batch_negatives", "all_negatives"] {
            assert!(loss_of(&format!("mnrl_{negatives}neg_{mode}_9")) > plain + 1e-3);
        }
        let hard = loss_of(&format!("mnrl_{negatives}neg_hard_negatives_9"));
        if negatives == 0 {
            assert_eq!(hard, plain);
        } else {
            assert!(hard > plain + 1e-3);
        }
    }
}

/// A tiny sentence-transformers folder, the model and the guide of the GIST cases (whose
/// embeddings come from the fixture, so the weights do not matter).
fn tiny_model(dir: &Path) -> (PathBuf, SentenceTransformer) {
    let folder = model::testing::tiny_bert(dir, &WORDS, 5).unwrap();
    let model = SentenceTransformer::load(&folder, Device::Cpu).unwrap();
    (folder, model)
}

fn gist_settings(config: &LossConfig) -> GistSettings {
    match *config {
        LossConfig::GistEmbed {
            temperature,
            margin_strategy,
            margin,
            contrast_anchors,
            contrast_positives,
            ..
        } => GistSettings {
            temperature,
            margin_strategy,
            margin,
            contrast_anchors,
            contrast_positives,
        },
        ref other => panic!("not a GIST config: {other:?}"),
    }
}

#[test]
fn gist_matches_sentence_transformers() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, model) = tiny_model(dir.path());
    let cases = fixture()["gist"].as_array().unwrap();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let (mut worst_loss, mut worst_grad, mut failures) = (0f64, 0f64, Vec::new());
    let mut masking_cases = 0;
    println!(
        "{:<40} {:>10} {:>10} {:>10} {:>7}",
        "case", "loss", "Δloss", "Δgrad", "masked"
    );
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let mut config = case["config"].clone();
        config["guide"] = json!(folder.display().to_string());
        let config: LossConfig =
            serde_json::from_value(config).unwrap_or_else(|e| panic!("{name}: {e}"));
        let vs = nn::VarStore::new(Device::Cpu);
        let loss = config.build_for_model(&vs.root(), &model).unwrap();
        assert_eq!(loss.name(), "GISTEmbedLoss");
        assert!(
            vs.variables().is_empty(),
            "{name}: the guide is not a loss variable"
        );

        let inputs_name = case["inputs"].as_str().unwrap();
        let leaves = inputs(inputs_name);
        let guide = inputs(&format!("{inputs_name}_guide"));
        let guide = if name.ends_with("self_guided") {
            inputs(inputs_name)
        } else {
            guide
        };
        let embeddings: Vec<Tensor> = leaves
            .iter()
            .chain(&guide)
            .map(Tensor::shallow_clone)
            .collect();
        let value = loss.compute(&embeddings, Targets::None).unwrap();
        let (d_loss, d_grad) = gaps(name, &value, &leaves, case);
        // The guide's embeddings take no part in the gradient.
        assert!(guide.iter().all(|g| !g.grad().defined()), "{name}");

        let concrete = GistEmbedLoss::new(
            &model,
            SentenceTransformer::load(&folder, Device::Cpu).unwrap(),
            gist_settings(&config),
        )
        .unwrap();
        let scores = concrete.scores(&embeddings).unwrap();
        let neg_inf = scores.isinf().sum(Kind::Int64).int64_value(&[]);
        assert_eq!(neg_inf, case["neg_inf"].as_i64().unwrap(), "{name}");
        let masked = case["masked"].as_i64().unwrap();
        masking_cases += usize::from(masked > 0);
        println!(
            "{name:<40} {:>10.6} {d_loss:>10.2e} {d_grad:>10.2e} {masked:>7}",
            value.double_value(&[])
        );
        worst_loss = worst_loss.max(d_loss);
        worst_grad = worst_grad.max(d_grad);
        if d_loss > TOLERANCE || d_grad > TOLERANCE {
            failures.push(name.to_string());
        }
    }
    println!("max Δloss {worst_loss:.2e}, max Δgrad {worst_grad:.2e}");
    assert!(
        masking_cases >= 20,
        "the guide masks in {masking_cases} cases"
    );
    assert!(failures.is_empty(), "beyond {TOLERANCE}: {failures:?}");
}

fn arch_folder(arch: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../model/tests/fixtures")
        .join(arch)
        .join("model")
}

/// A guide with another vocabulary reads the model's texts decoded and tokenized again, as
/// sentence-transformers' GISTEmbedLoss does (`must_retokenize`): the same strings, the same
/// guide ids.
#[test]
fn gist_retokenizes_for_a_guide_with_another_vocabulary() {
    for case in fixture()["retokenize"].as_array().unwrap() {
        let (model_arch, guide_arch) = (
            case["model"].as_str().unwrap(),
            case["guide"].as_str().unwrap(),
        );
        let model = SentenceTransformer::load(&arch_folder(model_arch), Device::Cpu).unwrap();
        let column = batch(&json!({
            "input_ids": case["model_input_ids"],
            "attention_mask": case["model_attention_mask"],
        }));
        let rows: Vec<Vec<i64>> = serde_json::from_value(case["model_input_ids"].clone()).unwrap();
        let mask: Vec<Vec<i64>> =
            serde_json::from_value(case["model_attention_mask"].clone()).unwrap();
        let real: Vec<Vec<i64>> = rows
            .iter()
            .zip(&mask)
            .map(|(r, m)| {
                r.iter()
                    .zip(m)
                    .filter(|(_, &m)| m == 1)
                    .map(|(&id, _)| id)
                    .collect()
            })
            .collect();
        let real: Vec<&[i64]> = real.iter().map(Vec::as_slice).collect();
        let decoded: Vec<String> = serde_json::from_value(case["decoded"].clone()).unwrap();
        assert_eq!(
            model.tokenizer().decode_batch(&real, true).unwrap(),
            decoded,
            "{model_arch}"
        );

        let guide = SentenceTransformer::load(&arch_folder(guide_arch), Device::Cpu).unwrap();
        let loss = GistEmbedLoss::new(&model, guide, GistSettings::default()).unwrap();
        assert!(loss.retokenizes(), "{model_arch} → {guide_arch}");
        let columns = loss.guide_columns(&model, &[column]).unwrap();
        assert!(columns[0].input_ids.equal(&ids(&case["guide_input_ids"])));
        assert!(columns[0]
            .attention_mask
            .equal(&ids(&case["guide_attention_mask"])));
        // And the guide embeds them.
        let embeddings = loss.guide_embeddings(
            &model,
            &[batch(&json!({
                "input_ids": case["model_input_ids"],
                "attention_mask": case["model_attention_mask"],
            }))],
        );
        assert_eq!(embeddings.unwrap()[0].size()[0], rows.len() as i64);
    }
}

/// The guide runs frozen: a training step leaves it without gradients and unchanged, while the
/// model gets its gradients; a guide of the model's own tokenizer reads the model's batches.
#[test]
fn a_gist_step_trains_the_model_and_leaves_the_guide_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, model) = tiny_model(dir.path());
    let vs = nn::VarStore::new(Device::Cpu);
    let config = LossConfig::GistEmbed {
        guide: folder.display().to_string(),
        temperature: 0.05,
        margin_strategy: MarginStrategy::Absolute,
        margin: 0.0,
        contrast_anchors: true,
        contrast_positives: true,
    };
    assert_eq!(
        config.build_for_model(&vs.root(), &model).unwrap().name(),
        "GISTEmbedLoss"
    );
    let loss = GistEmbedLoss::load(&model, &folder, gist_settings(&config)).unwrap();
    assert!(!loss.retokenizes());
    let texts = [
        ["the cat sits on the mat", "a dog runs", "the big red house"],
        ["a cat on a mat", "the dog runs", "a big house"],
        ["the small dog", "a red cat sits", "the mat"],
    ];
    let columns: Vec<model::TokenBatch> = texts
        .iter()
        .map(|column| {
            let tokenized = model.tokenizer().tokenize(column).unwrap();
            let refs: Vec<_> = tokenized.iter().collect();
            model.to_tensors(&model.tokenizer().collate(&refs))
        })
        .collect();
    let guide_columns = loss.guide_columns(&model, &columns).unwrap();
    assert!(guide_columns[1].input_ids.equal(&columns[1].input_ids));

    let before: Vec<(String, Tensor)> = SentenceTransformer::load(&folder, Device::Cpu)
        .unwrap()
        .var_store()
        .variables()
        .into_iter()
        .collect();
    let value = loss
        .forward_backward(&model, &columns, Targets::None, 1.0)
        .unwrap();
    assert!(value.is_finite() && value > 0.0, "{value}");
    let with_grad = model
        .var_store()
        .variables()
        .values()
        .filter(|v| v.grad().defined())
        .count();
    assert!(with_grad > 10, "{with_grad} model variables got a gradient");
    let guide = loss.guide().var_store().variables();
    assert_eq!(guide.len(), before.len());
    for (name, original) in before {
        let var = &guide[&name];
        assert!(!var.requires_grad() && !var.grad().defined(), "{name}");
        assert!(var.equal(&original), "{name}");
    }
}

#[test]
fn bad_options_are_errors_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, model) = tiny_model(dir.path());
    let vs = nn::VarStore::new(Device::Cpu);
    let message = |config: LossConfig| {
        config
            .build_for_model(&vs.root(), &model)
            .err()
            .unwrap_or_else(|| panic!("accepted {config:?}"))
            .to_string()
    };
    for strength in [-1.0, f64::NAN, f64::INFINITY] {
        let err = message(LossConfig::MultipleNegativesRanking {
            scale: 20.0,
            symmetric: false,
            hardness_mode: Some(losses::HardnessMode::HardNegatives),
            hardness_strength: strength,
            gather_across_devices: false,
        });
        assert!(
            err.contains("multiple_negatives_ranking: hardness_strength"),
            "{err}"
        );
        // sentence-transformers rejects a negative strength even without a mode.
        let err = message(LossConfig::CachedMultipleNegativesRanking {
            scale: 20.0,
            mini_batch_size: 4,
            hardness_mode: None,
            hardness_strength: strength,
            gather_across_devices: false,
        });
        assert!(
            err.contains("cached_multiple_negatives_ranking: hardness_strength"),
            "{err}"
        );
    }
    let gist_at = |guide: &Path, temperature: f64, margin: f64| LossConfig::GistEmbed {
        guide: guide.display().to_string(),
        temperature,
        margin_strategy: MarginStrategy::Relative,
        margin,
        contrast_anchors: true,
        contrast_positives: false,
    };
    let gist = |temperature: f64, margin: f64| gist_at(&folder, temperature, margin);
    for temperature in [-0.01, 0.0, f64::NAN] {
        let err = message(gist(temperature, 0.0));
        assert!(err.contains("gist_embed: temperature"), "{err}");
    }
    let err = message(gist(0.01, f64::INFINITY));
    assert!(err.contains("gist_embed: margin"), "{err}");
    let err = message(gist_at(&dir.path().join("no-such-guide"), 0.01, 0.0));
    assert!(err.contains("no-such-guide"), "{err}");
    // A GIST config needs the model: plain `build` and Matryoshka refuse it.
    let err = gist(0.01, 0.0).build(&vs.root(), 32).err().unwrap();
    assert!(err.to_string().contains("build_for_model"), "{err}");
    let err = message(LossConfig::Matryoshka {
        loss: Box::new(gist(0.01, 0.0)),
        dims: vec![32, 16],
        weights: None,
    });
    assert!(err.contains("matryoshka cannot wrap gist_embed"), "{err}");

    // Margin strategies are absolute or relative, named as such.
    let err = toml::from_str::<LossConfig>(
        "type = \"gist_embed\"\nguide = \"g\"\nmargin_strategy = \"percent\"",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("percent") && err.contains("absolute") && err.contains("relative"),
        "{err}"
    );
    let err = toml::from_str::<LossConfig>(
        "type = \"multiple_negatives_ranking\"\nhardness_mode = \"hardest\"",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("hardest") && err.contains("in_batch_negatives"),
        "{err}"
    );
}

#[test]
fn gist_embeddings_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, model) = tiny_model(dir.path());
    let loss = GistEmbedLoss::load(&model, &folder, GistSettings::default()).unwrap();
    let e = |batch: i64, dim: i64| Tensor::randn([batch, dim], (Kind::Float, Device::Cpu));
    // An odd count: not the model's columns followed by the guide's.
    let err = loss
        .compute(&[e(4, 8), e(4, 8), e(4, 12)], Targets::None)
        .unwrap_err();
    assert!(matches!(err, Error::Columns { found: 3, .. }), "{err}");
    // One column each: GIST needs anchors and positives.
    assert!(matches!(
        loss.compute(&[e(4, 8), e(4, 12)], Targets::None),
        Err(Error::Columns { .. })
    ));
    // The guide's batch must be the model's; its width may differ.
    match loss.compute(&[e(4, 8), e(4, 8), e(3, 12), e(3, 12)], Targets::None) {
        Err(Error::Shape { left, right, .. }) => {
            assert_eq!((left, right), (vec![4, 8], vec![3, 12]))
        }
        other => panic!("{other:?}"),
    }
    let value = loss
        .compute(&[e(4, 8), e(4, 8), e(4, 12), e(4, 12)], Targets::None)
        .unwrap();
    assert!(value.double_value(&[]).is_finite());
}
