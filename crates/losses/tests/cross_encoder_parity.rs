//! The cross-encoder losses (`losses::cross_encoder`) against sentence-transformers 6.3 on
//! fixed float32 logits.
//!
//! `fixtures/st_cross_encoder_losses.json` was written by
//! `fixtures/make_cross_encoder_loss_fixtures.py` (sentence-transformers 6.3.0, torch 2.11.0;
//! recorded in the file), which runs 6.3's own loss classes, `loss(inputs, labels)`, on a mock
//! `CrossEncoder` whose score for each (query, document) pair text is a row of a leaf tensor,
//! and records the logits as the loss laid them out, the loss and d loss / d each logit
//! (`snippet` in the file; each case's `python` is its constructor call). The listwise cases pad
//! their logits with 1000 and their labels with 7 where a row has no document: the Rust losses
//! must ignore both. MNRL's in-batch negatives are drawn by `torch.multinomial` after
//! `torch.manual_seed(seed)`; the script records the indices and the pairs the model scored.
//!
//! Tolerance: 1e-5 on the loss and on every logit's gradient, absolute, relative where the
//! expected magnitude is above 1 (|a − b| / max(1, |b|)).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use losses::cross_encoder::{
    Activation, BinaryCrossEntropyConfig, BinaryCrossEntropyLoss,
    CachedMultipleNegativesRankingConfig, CachedMultipleNegativesRankingLoss, CrossEntropyConfig,
    CrossEntropyLoss, LambdaLoss, LambdaLossConfig, LambdaWeighting, ListMleConfig, ListMleLoss,
    ListNetConfig, ListNetLoss, MarginMseConfig, MarginMseLoss, MseConfig, MseLoss,
    MultipleNegativesRankingConfig, MultipleNegativesRankingLoss, PListMleConfig,
    PListMleLambdaWeight, PListMleLoss, RankDiscountFn, RankNetConfig, RankNetLoss, ReductionLog,
    RerankLayout, RerankLoss, RerankScores,
};
use losses::Error;
use serde_json::Value;
use tch::{Device, Kind, Tensor};

const TOLERANCE: f64 = 1e-5;
const GROUPS: [&str; 4] = ["pointwise", "margin_mse", "lists", "mnrl"];

fn fixture() -> &'static Value {
    static FIXTURE: OnceLock<Value> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let path = format!(
            "{}/tests/fixtures/st_cross_encoder_losses.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let fixture: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(fixture["versions"]["sentence_transformers"], "6.3.0");
        assert!(fixture["versions"]["torch"]
            .as_str()
            .unwrap()
            .starts_with("2.11.0"));
        fixture
    })
}

/// libtorch's generator is global to the process: the tests that seed it hold this lock.
fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A tensor from a JSON number, list or list of lists.
fn tensor(v: &Value, kind: Kind) -> Tensor {
    fn flatten(v: &Value, shape: &mut Vec<i64>, depth: usize, out: &mut Vec<f64>) {
        match v {
            Value::Array(items) => {
                if shape.len() == depth {
                    shape.push(items.len() as i64);
                }
                for item in items {
                    flatten(item, shape, depth + 1, out);
                }
            }
            other => out.push(
                other
                    .as_f64()
                    .unwrap_or_else(|| panic!("not a number: {other}")),
            ),
        }
    }
    let (mut shape, mut values) = (Vec::new(), Vec::new());
    flatten(v, &mut shape, 0, &mut values);
    let t = match kind {
        Kind::Int64 => Tensor::from_slice(&values.iter().map(|&x| x as i64).collect::<Vec<_>>()),
        _ => Tensor::from_slice(&values.iter().map(|&x| x as f32).collect::<Vec<_>>()),
    };
    t.view(shape.as_slice())
}

fn labels(case: &Value) -> Option<Tensor> {
    match case["labels_kind"].as_str().unwrap() {
        "none" => None,
        "int" => Some(tensor(&case["labels"], Kind::Int64)),
        "float" => Some(tensor(&case["labels"], Kind::Float)),
        other => panic!("labels_kind {other}"),
    }
}

fn docs_per_row(case: &Value) -> Option<Vec<usize>> {
    case.get("docs_per_row")
        .map(|v| serde_json::from_value(v.clone()).unwrap())
}

fn activation(config: &Value) -> Activation {
    match config["activation"].as_str().unwrap() {
        // 6.3's `activation_fn=None` (MNRL skips it; the listwise losses use Identity).
        "none" => Activation::Identity,
        name => Activation::from_name(name).unwrap(),
    }
}

fn opt_i64(v: &Value) -> Option<i64> {
    v.as_i64()
}

fn opt_usize(v: &Value) -> Option<usize> {
    v.as_u64().map(|n| n as usize)
}

/// The custom `rank_discount_fn` of the fixture: `mask.float() / torch.arange(1, n + 1)`.
fn inverse_rank() -> RankDiscountFn {
    Arc::new(|mask: &Tensor| {
        let ranks = Tensor::f_arange_start(1, mask.size()[1] + 1, (Kind::Float, mask.device()))?;
        mask.f_to_kind(Kind::Float)?.f_div(&ranks)
    })
}

fn mnrl_config(config: &Value) -> MultipleNegativesRankingConfig {
    MultipleNegativesRankingConfig {
        num_negatives: opt_usize(&config["num_negatives"]),
        scale: config["scale"].as_f64().unwrap(),
        activation: activation(config),
    }
}

fn cached_config(config: &Value) -> CachedMultipleNegativesRankingConfig {
    let plain = mnrl_config(config);
    CachedMultipleNegativesRankingConfig {
        num_negatives: plain.num_negatives,
        scale: plain.scale,
        activation: plain.activation,
        mini_batch_size: config["mini_batch_size"].as_u64().unwrap() as usize,
    }
}

/// The Rust loss of a case, from its 6.3 class name and constructor arguments.
fn build(case: &Value) -> Box<dyn RerankLoss> {
    let config = &case["config"];
    let act = || activation(config);
    let lambda = |scheme: LambdaWeighting| LambdaLossConfig {
        weighting_scheme: scheme,
        k: opt_usize(&config["k"]),
        sigma: config["sigma"].as_f64().unwrap(),
        eps: config["eps"].as_f64().unwrap(),
        reduction_log: ReductionLog::from_name(config["reduction_log"].as_str().unwrap()).unwrap(),
        activation: act(),
        mini_batch_size: opt_i64(&config["mini_batch_size"]),
    };
    match case["loss"].as_str().unwrap() {
        "BinaryCrossEntropyLoss" => Box::new(
            BinaryCrossEntropyLoss::new(BinaryCrossEntropyConfig {
                activation: act(),
                pos_weight: config["pos_weight"].as_f64(),
            })
            .unwrap(),
        ),
        "CrossEntropyLoss" => Box::new(
            CrossEntropyLoss::new(CrossEntropyConfig {
                activation: act(),
                label_smoothing: config["label_smoothing"].as_f64().unwrap(),
            })
            .unwrap(),
        ),
        "MSELoss" => Box::new(MseLoss::new(MseConfig { activation: act() })),
        "MarginMSELoss" => Box::new(MarginMseLoss::new(MarginMseConfig { activation: act() })),
        "ListNetLoss" => Box::new(ListNetLoss::new(ListNetConfig {
            activation: act(),
            mini_batch_size: opt_i64(&config["mini_batch_size"]),
        })),
        "ListMLELoss" => Box::new(ListMleLoss::new(ListMleConfig {
            activation: act(),
            mini_batch_size: opt_i64(&config["mini_batch_size"]),
            respect_input_order: config["respect_input_order"].as_bool().unwrap(),
        })),
        "PListMLELoss" => Box::new(PListMleLoss::new(PListMleConfig {
            lambda_weight: match config["lambda_weight"].as_str() {
                None => None,
                Some("default") => Some(PListMleLambdaWeight::Exponential),
                Some("inverse_rank") => Some(PListMleLambdaWeight::Custom(inverse_rank())),
                Some(other) => panic!("lambda_weight {other}"),
            },
            activation: act(),
            mini_batch_size: opt_i64(&config["mini_batch_size"]),
            respect_input_order: config["respect_input_order"].as_bool().unwrap(),
        })),
        "LambdaLoss" => {
            let mut scheme =
                LambdaWeighting::from_name(config["weighting_scheme"].as_str().unwrap()).unwrap();
            if let LambdaWeighting::NdcgLoss2PlusPlus { mu } = &mut scheme {
                *mu = config["mu"].as_f64().unwrap();
            }
            Box::new(LambdaLoss::new(lambda(scheme)).unwrap())
        }
        "RankNetLoss" => {
            let c = lambda(LambdaWeighting::NoWeighting);
            Box::new(
                RankNetLoss::new(RankNetConfig {
                    k: c.k,
                    sigma: c.sigma,
                    eps: c.eps,
                    reduction_log: c.reduction_log,
                    activation: c.activation,
                    mini_batch_size: c.mini_batch_size,
                })
                .unwrap(),
            )
        }
        "MultipleNegativesRankingLoss" => {
            Box::new(MultipleNegativesRankingLoss::new(mnrl_config(config)).unwrap())
        }
        "CachedMultipleNegativesRankingLoss" => {
            Box::new(CachedMultipleNegativesRankingLoss::new(cached_config(config)).unwrap())
        }
        other => panic!("no Rust loss for {other}"),
    }
}

/// `|a − b| / max(1, |b|)`
fn gap(actual: f64, expected: f64) -> f64 {
    (actual - expected).abs() / expected.abs().max(1.0)
}

/// The largest [`gap`] over two tensors of the same shape.
fn max_gap(actual: &Tensor, expected: &Tensor) -> f64 {
    assert_eq!(actual.size(), expected.size());
    let actual = actual.to_kind(Kind::Double);
    let expected = expected.to_kind(Kind::Double);
    let scale = expected.abs().clamp_min(1.0);
    ((actual - &expected).abs() / scale).max().double_value(&[])
}

/// d loss / d logits, zeros where no gradient reached them (6.3's `leaf.grad is None`).
fn grad_of(leaf: &Tensor) -> Tensor {
    let grad = leaf.grad();
    if grad.defined() {
        grad
    } else {
        leaf.zeros_like()
    }
}

/// The loss and d loss / d logits of a case's logits (with `padding` written where a listwise
/// row has no document, if given).
fn run(case: &Value, padding: Option<f64>) -> (f64, Tensor) {
    let loss = build(case);
    let mut logits = tensor(&case["logits"], Kind::Float);
    let counts = docs_per_row(case);
    if let (Some(fill), Some(counts)) = (padding, &counts) {
        let width = logits.size()[1];
        let mask = Tensor::arange(width, (Kind::Int64, Device::Cpu))
            .unsqueeze(0)
            .ge_tensor(
                &Tensor::from_slice(&counts.iter().map(|&c| c as i64).collect::<Vec<_>>())
                    .unsqueeze(1),
            );
        logits = logits.masked_fill(&mask, fill);
    }
    let leaf = logits.set_requires_grad(true);
    let scores = match &counts {
        Some(counts) => RerankScores::lists(&leaf, counts),
        None => RerankScores::new(&leaf),
    };
    let labels = labels(case);
    let value = loss
        .compute(&scores, labels.as_ref())
        .unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
    assert_eq!(value.size(), Vec::<i64>::new(), "{}", case["name"]);
    value.backward();
    (value.double_value(&[]), grad_of(&leaf))
}

#[derive(Default)]
struct Worst {
    cases: usize,
    value: f64,
    grad: f64,
}

/// Runs every case of the groups, prints each case's and each loss's worst gaps, and fails on
/// any beyond the tolerance.
fn check_groups(groups: &[&str]) {
    let mut per_loss: BTreeMap<String, Worst> = BTreeMap::new();
    let mut failures = Vec::new();
    println!(
        "{:<58} {:>12} {:>10} {:>10}",
        "case", "loss", "Δloss", "Δgrad"
    );
    for group in groups {
        for case in fixture()[*group].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let (value, grad) = run(case, None);
            let d_value = gap(value, case["value"].as_f64().unwrap());
            let d_grad = max_gap(&grad, &tensor(&case["grad"], Kind::Float));
            println!("{name:<58} {value:>12.6} {d_value:>10.2e} {d_grad:>10.2e}");
            let worst = per_loss
                .entry(case["loss"].as_str().unwrap().to_string())
                .or_default();
            worst.cases += 1;
            worst.value = worst.value.max(d_value);
            worst.grad = worst.grad.max(d_grad);
            if d_value > TOLERANCE || d_grad > TOLERANCE || !value.is_finite() {
                failures.push(name.to_string());
            }
        }
    }
    println!(
        "\n{:<36} {:>6} {:>12} {:>12}",
        "loss", "cases", "max Δloss", "max Δgrad"
    );
    for (loss, worst) in &per_loss {
        println!(
            "{loss:<36} {:>6} {:>12.2e} {:>12.2e}",
            worst.cases, worst.value, worst.grad
        );
    }
    assert!(failures.is_empty(), "beyond {TOLERANCE}: {failures:?}");
}

#[test]
fn pointwise_losses_match_sentence_transformers() {
    check_groups(&["pointwise", "margin_mse"]);
}

#[test]
fn listwise_losses_match_sentence_transformers() {
    check_groups(&["lists"]);
}

#[test]
fn mnrl_losses_match_sentence_transformers() {
    check_groups(&["mnrl"]);
}

#[test]
fn the_fixture_covers_every_loss_and_scheme() {
    let cases: Vec<&Value> = GROUPS
        .iter()
        .flat_map(|g| fixture()[*g].as_array().unwrap())
        .collect();
    let count = |pred: &dyn Fn(&Value) -> bool| cases.iter().filter(|c| pred(c)).count();
    for loss in [
        "BinaryCrossEntropyLoss",
        "CrossEntropyLoss",
        "MSELoss",
        "MarginMSELoss",
        "ListNetLoss",
        "ListMLELoss",
        "PListMLELoss",
        "LambdaLoss",
        "RankNetLoss",
        "MultipleNegativesRankingLoss",
        "CachedMultipleNegativesRankingLoss",
    ] {
        assert!(count(&|c| c["loss"] == loss) >= 6, "{loss}");
    }
    for scheme in [
        "NoWeightingScheme",
        "NDCGLoss1Scheme",
        "NDCGLoss2Scheme",
        "LambdaRankScheme",
        "NDCGLoss2PPScheme",
    ] {
        for log in ["natural", "binary"] {
            for k in [Value::Null, Value::from(2)] {
                let n = count(&|c| {
                    c["loss"] == "LambdaLoss"
                        && c["config"]["weighting_scheme"] == scheme
                        && c["config"]["reduction_log"] == log
                        && c["config"]["k"] == k
                });
                assert!(n >= 2, "{scheme} {log} k={k}: {n} cases");
            }
        }
    }
    // Padding, 1 to 5 documents per row (and 18 and 20), and rows whose labels are all 0.
    let lists = fixture()["lists"].as_array().unwrap();
    let widths: std::collections::BTreeSet<u64> = lists
        .iter()
        .flat_map(|c| {
            c["docs_per_row"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_u64().unwrap())
        })
        .collect();
    assert!((1..=5).all(|n| widths.contains(&n)), "{widths:?}");
    // Rows past 16 documents, where libtorch's CPU sort stops keeping ties in order.
    assert!(widths.iter().any(|&n| n > 16), "{widths:?}");
    assert!(lists.iter().any(|c| {
        let counts = docs_per_row(c).unwrap();
        counts
            .iter()
            .zip(c["labels"].as_array().unwrap())
            .any(|(&n, row)| {
                row.as_array().unwrap()[..n]
                    .iter()
                    .all(|l| l.as_f64() == Some(0.0))
            })
    }));
    // Sampled and unsampled in-batch negatives, and the cached loss with several mini-batches.
    let mnrl = fixture()["mnrl"].as_array().unwrap();
    assert!(mnrl.iter().filter(|c| !c["sampled"].is_null()).count() >= 10);
    assert!(mnrl.iter().filter(|c| c["sampled"].is_null()).count() >= 10);
}

/// Whatever a listwise row holds past its documents (here NaN or a huge logit) changes nothing.
#[test]
fn listwise_losses_ignore_the_padding() {
    for case in fixture()["lists"].as_array().unwrap() {
        let counts = docs_per_row(case).unwrap();
        if counts.iter().all(|&n| n == counts[0]) {
            continue;
        }
        let (value, grad) = run(case, None);
        for fill in [f64::NAN, -1e30, 3e4] {
            let (v, g) = run(case, Some(fill));
            assert_eq!(v, value, "{} with {fill} padding", case["name"]);
            assert!(g.equal(&grad), "{} with {fill} padding", case["name"]);
        }
        // And the padding gets no gradient.
        let width = grad.size()[1];
        let counts: Vec<i64> = counts.iter().map(|&n| n as i64).collect();
        let padding = Tensor::arange(width, (Kind::Int64, Device::Cpu))
            .unsqueeze(0)
            .ge_tensor(&Tensor::from_slice(&counts).unsqueeze(1));
        let at_padding = grad.masked_select(&padding);
        assert_eq!(at_padding.abs().sum(Kind::Double).double_value(&[]), 0.0);
    }
}

/// `[batch]` and `[batch, 1]` logits are the same to the one-label pointwise losses.
#[test]
fn pointwise_losses_take_flat_logits() {
    for case in fixture()["pointwise"].as_array().unwrap() {
        if case["loss"] == "CrossEntropyLoss" {
            continue;
        }
        let loss = build(case);
        let logits = tensor(&case["logits"], Kind::Float)
            .view([-1])
            .set_requires_grad(true);
        let value = loss
            .compute(&RerankScores::new(&logits), labels(case).as_ref())
            .unwrap();
        assert!(gap(value.double_value(&[]), case["value"].as_f64().unwrap()) <= TOLERANCE);
        value.backward();
        let expected = tensor(&case["grad"], Kind::Float).view([-1]);
        assert!(
            max_gap(&logits.grad(), &expected) <= TOLERANCE,
            "{}",
            case["name"]
        );
    }
}

/// With libtorch seeded as 6.3 was, the loss picks the same in-batch negatives: the
/// `torch.multinomial` draw on the same mask, with the same (CPU) generator.
#[test]
fn mnrl_draws_the_negatives_sentence_transformers_drew() {
    let _rng = rng_lock();
    let (mut sampled, mut unsampled) = (0, 0);
    for case in fixture()["mnrl"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let loss = build(case);
        assert_eq!(loss.layout(), RerankLayout::InBatchNegatives);
        let batch = case["batch"].as_u64().unwrap() as usize;
        let columns = case["candidate_columns"].as_u64().unwrap() as usize;
        tch::manual_seed(case["seed"].as_i64().unwrap());
        let candidates = loss.candidates(batch, columns).unwrap().unwrap();
        let expected = tensor(&case["candidates"], Kind::Int64);
        assert!(
            candidates.equal(&expected),
            "{name}: {candidates:?} vs {expected:?}"
        );
        // Never one of the row's own candidates among the in-batch negatives, never twice.
        let own = (columns - 1) as i64;
        let width = candidates.size()[1];
        let drawn = candidates.narrow(1, 1, width - 1 - own);
        for row in 0..batch as i64 {
            let ids = Vec::<i64>::try_from(&drawn.get(row)).unwrap();
            assert!(ids.iter().all(|&j| j % batch as i64 != row), "{name}");
            let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
            assert_eq!(distinct.len(), ids.len(), "{name}");
        }
        if case["sampled"].is_null() {
            unsampled += 1;
        } else {
            sampled += 1;
            let draws = tensor(&case["sampled"], Kind::Int64);
            assert!(drawn.equal(&draws), "{name}");
        }
    }
    assert!(
        sampled >= 10 && unsampled >= 10,
        "{sampled} sampled, {unsampled} not"
    );
}

/// The cached loss's stage 2 (loss and d loss / d logits from detached logits) gives 6.3's
/// value and the gradient its backward hook sends into the model.
#[test]
fn cached_mnrl_caches_sentence_transformers_gradients() {
    let mut checked = 0;
    for case in fixture()["mnrl"].as_array().unwrap() {
        if case["loss"] != "CachedMultipleNegativesRankingLoss" {
            continue;
        }
        let loss = CachedMultipleNegativesRankingLoss::new(cached_config(&case["config"])).unwrap();
        let logits = tensor(&case["logits"], Kind::Float);
        let (value, grad) = loss.loss_and_logit_grads(&logits).unwrap();
        assert!(
            gap(value, case["value"].as_f64().unwrap()) <= TOLERANCE,
            "{}",
            case["name"]
        );
        let expected = tensor(&case["grad"], Kind::Float);
        assert!(max_gap(&grad, &expected) <= TOLERANCE, "{}", case["name"]);
        assert!(!logits.requires_grad());
        // Its forward passes cover every pair once, `mini_batch_size` at a time.
        let pairs = logits.numel();
        let chunks = loss.forward_chunks(case["batch"].as_u64().unwrap() as usize, pairs);
        assert_eq!(chunks.first().map(|r| r.start), Some(0));
        assert_eq!(chunks.last().map(|r| r.end), Some(pairs));
        assert!(chunks.windows(2).all(|w| w[0].end == w[1].start));
        assert!(chunks
            .iter()
            .all(|r| r.len() <= loss.config().mini_batch_size));
        checked += 1;
    }
    assert!(checked >= 9);
}

fn message(result: losses::Result<Tensor>) -> String {
    match result {
        Ok(t) => panic!("accepted, gave {t:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn invalid_inputs_are_errors_naming_the_problem() {
    let f = |v: &[f32], shape: &[i64]| Tensor::from_slice(v).view(shape);
    let logits = f(&[0.5, -1.0, 2.0, 0.0, 1.0, 3.0], &[2, 3]);
    let labels = f(&[1.0, 0.0, 2.0, 0.0, 1.0, 0.0], &[2, 3]);
    let lambda = LambdaLoss::new(LambdaLossConfig::default()).unwrap();
    let listwise: [Box<dyn RerankLoss>; 5] = [
        Box::new(lambda.clone()),
        Box::new(RankNetLoss::new(RankNetConfig::default()).unwrap()),
        Box::new(ListNetLoss::new(ListNetConfig::default())),
        Box::new(ListMleLoss::new(ListMleConfig::default())),
        Box::new(PListMleLoss::new(PListMleConfig::default())),
    ];
    for loss in &listwise {
        let name = loss.name();
        // Labels and logits of different shapes.
        let err = message(loss.compute(&RerankScores::new(&logits), Some(&labels.narrow(1, 0, 2))));
        assert!(
            err.starts_with(name) && err.contains("[2, 2] vs [2, 3]"),
            "{err}"
        );
        // No labels.
        let err = message(loss.compute(&RerankScores::new(&logits), None));
        assert!(err.contains("expects labels"), "{err}");
        // A row with no documents.
        let err = message(loss.compute(&RerankScores::lists(&logits, &[3, 0]), Some(&labels)));
        assert_eq!(
            err,
            format!("{name}: row 1 has no documents (docs_per_row[1] = 0)")
        );
        // More documents than columns, or a count per row missing.
        let err = message(loss.compute(&RerankScores::lists(&logits, &[4, 1]), Some(&labels)));
        assert!(err.contains("docs_per_row[0]"), "{err}");
        let err = message(loss.compute(&RerankScores::lists(&logits, &[3]), Some(&labels)));
        assert!(err.contains("docs_per_row"), "{err}");
        // NaN among the documents.
        let nan_logits = f(&[0.5, -1.0, 2.0, 0.0, f32::NAN, 3.0], &[2, 3]);
        let err = message(loss.compute(&RerankScores::new(&nan_logits), Some(&labels)));
        assert_eq!(err, format!("{name}: a logit is NaN at [1, 1]"));
        let nan_labels = f(&[1.0, f32::NAN, 2.0, 0.0, 1.0, 0.0], &[2, 3]);
        let err = message(loss.compute(&RerankScores::new(&logits), Some(&nan_labels)));
        assert_eq!(err, format!("{name}: a label is NaN at [0, 1]"));
        // Not a [batch, max_docs] matrix; an empty batch.
        let err = message(loss.compute(&RerankScores::new(&logits.view([-1])), Some(&labels)));
        assert!(err.contains("[batch, max_docs]"), "{err}");
        let empty = Tensor::zeros([0, 3], (Kind::Float, Device::Cpu));
        let err = message(loss.compute(&RerankScores::new(&empty), Some(&empty)));
        assert!(err.contains("empty batch"), "{err}");
    }

    // Pointwise.
    let bce = BinaryCrossEntropyLoss::new(BinaryCrossEntropyConfig::default()).unwrap();
    let pair_logits = f(&[0.5, -1.0, 2.0], &[3, 1]);
    let err = message(bce.compute(
        &RerankScores::new(&pair_logits),
        Some(&f(&[1.0, 0.0], &[2])),
    ));
    assert!(err.contains("[2] vs [3]"), "{err}");
    let err = message(bce.compute(&RerankScores::new(&logits), Some(&f(&[1.0, 0.0], &[2]))));
    assert!(err.contains("[batch, 1]"), "{err}");
    let err = message(bce.compute(
        &RerankScores::new(&pair_logits),
        Some(&f(&[1.0, f32::NAN, 0.0], &[3])),
    ));
    assert_eq!(err, "BinaryCrossEntropyLoss: a label is NaN at [1]");
    let err = message(bce.compute(
        &RerankScores::lists(&pair_logits, &[1, 1, 1]),
        Some(&f(&[1.0, 0.0, 0.0], &[3])),
    ));
    assert!(err.contains("docs_per_row"), "{err}");
    for w in [0.0, -2.0, f64::NAN, f64::INFINITY] {
        let err = BinaryCrossEntropyLoss::new(BinaryCrossEntropyConfig {
            pos_weight: Some(w),
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
        assert!(err.to_string().contains("pos_weight"), "{err}");
    }
    let ce = CrossEntropyLoss::new(CrossEntropyConfig::default()).unwrap();
    let err = message(ce.compute(
        &RerankScores::new(&logits),
        Some(&Tensor::from_slice(&[0i64, 3])),
    ));
    assert!(err.contains("0..3, found 3"), "{err}");
    let err = message(ce.compute(&RerankScores::new(&logits), Some(&f(&[0.5, 0.5], &[2]))));
    assert!(err.contains("class probabilities"), "{err}");
    assert!(CrossEntropyLoss::new(CrossEntropyConfig {
        label_smoothing: 1.5,
        ..Default::default()
    })
    .is_err());
    let margin = MarginMseLoss::new(MarginMseConfig::default());
    let err = message(margin.compute(
        &RerankScores::new(&logits),
        Some(&f(&[1.0, 2.0, 3.0], &[1, 3])),
    ));
    assert!(err.contains("[1, 3] vs [2, 2]"), "{err}");
    let err = message(margin.compute(
        &RerankScores::new(&pair_logits),
        Some(&f(&[1.0, 2.0, 3.0], &[3])),
    ));
    assert!(err.contains("at least one negative"), "{err}");

    // Configuration.
    let err = LambdaWeighting::from_name("NDCGLoss3Scheme")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("NDCGLoss3Scheme") && err.contains("NDCGLoss2PPScheme"),
        "{err}"
    );
    assert!(ReductionLog::from_name("decimal")
        .unwrap_err()
        .to_string()
        .contains("decimal"));
    assert!(Activation::from_name("gelu").is_err());
    let err = LambdaLoss::new(LambdaLossConfig {
        sigma: f64::NAN,
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("sigma"), "{err}");
    let err = MultipleNegativesRankingLoss::new(MultipleNegativesRankingConfig {
        num_negatives: Some(0),
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("num_negatives"), "{err}");
    let err = CachedMultipleNegativesRankingLoss::new(CachedMultipleNegativesRankingConfig {
        mini_batch_size: 0,
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("mini_batch_size"), "{err}");
    let mnrl = MultipleNegativesRankingLoss::new(Default::default()).unwrap();
    let err = message(mnrl.compute(&RerankScores::new(&f(&[1.0, f32::NAN], &[1, 2])), None));
    assert!(err.contains("NaN at [0, 1]"), "{err}");
}

/// The defaults are 6.3's constructor defaults.
#[test]
fn defaults_are_six_three_defaults() {
    assert_eq!(
        LambdaLossConfig::default(),
        LambdaLossConfig {
            weighting_scheme: LambdaWeighting::NdcgLoss2PlusPlus { mu: 10.0 },
            k: None,
            sigma: 1.0,
            eps: 1e-10,
            reduction_log: ReductionLog::Binary,
            activation: Activation::Identity,
            mini_batch_size: None,
        }
    );
    let mnrl = MultipleNegativesRankingConfig::default();
    assert_eq!(
        (mnrl.num_negatives, mnrl.scale, mnrl.activation),
        (Some(4), 10.0, Activation::Sigmoid)
    );
    assert_eq!(
        CachedMultipleNegativesRankingConfig::default().mini_batch_size,
        32
    );
    let plist = PListMleConfig::default();
    assert_eq!(plist.lambda_weight, Some(PListMleLambdaWeight::Exponential));
    assert!(plist.respect_input_order && ListMleConfig::default().respect_input_order);
    assert_eq!(BinaryCrossEntropyConfig::default().pos_weight, None);
}
