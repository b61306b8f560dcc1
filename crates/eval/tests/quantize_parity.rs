//! Parity with sentence-transformers 6.3's embedding quantization on a committed fixture.
//!
//! Fixture: `tests/fixtures/quantize.json`, written by
//! `crates/eval/tests/fixtures/make_quantize_fixture.py` (seed 20261215) with python 3.11.7,
//! sentence-transformers 6.3.0, numpy 2.4.6, torch 2.11.0 and scipy 1.17.1 (the versions are
//! recorded in the fixture and checked below). It holds:
//! - `quantize`: float32 matrices of 13, 20, 16 and 8 columns (a constant column, values on
//!   bucket edges and one float32 step off them, zeros of both signs, values outside the
//!   calibration ranges, one row, no rows) and sentence-transformers' own outputs:
//!   ```python
//!   q = quantize_embeddings(x, precision, ranges=ranges, calibration_embeddings=calibration)
//!   if ranges is None:
//!       ranges = _get_quantization_ranges(x, precision, calibration)    # as ranges_used
//!   dequantized = _dequantize_embeddings(q, precision, ranges)        # int8 and uint8
//!   ```
//!   with ranges from `x` itself (`mode: "self"`), from a calibration matrix
//!   (`"calibration"`; here `QuantizationRanges::from_embeddings(calibration)`) or explicit
//!   (`"ranges"`).
//! - `sts`: 40 pairs of L2-normalised 20-dim embeddings, gold scores and, for each precision,
//!   ```python
//!   EmbeddingSimilarityEvaluator(s1, s2, scores, similarity_fn_names=["cosine", "euclidean",
//!       "manhattan", "dot"], precision=precision)(model)   # model.encode quantizes as ST does
//!   ```
//!
//! Checked: quantized values (int8, uint8, binary and ubinary bytes, float32 bits) and the
//! ranges used identical; dequantized float64 values identical (bit for bit, so 0 relative
//! error); STS metrics within 1e-6 absolute (sentence-transformers scores in float32, this
//! crate in float64; the script checks that both rank and tie alike, so only Pearson carries
//! float32 rounding).

use std::collections::BTreeMap;

use eval::{
    dequantize, evaluate_sts_at_precision, quantize_embeddings, Embeddings, Precision,
    QuantizationRanges, QuantizedValues, StsMetrics,
};
use serde::Deserialize;

const STS_TOLERANCE: f64 = 1e-6;

#[derive(Deserialize)]
struct Fixture {
    script: String,
    versions: BTreeMap<String, String>,
    matrices: BTreeMap<String, Matrix>,
    quantize: Vec<QuantizeCase>,
    sts: Vec<StsCase>,
}

/// A float32 matrix; each JSON number is a float32 value written exactly.
#[derive(Deserialize)]
struct Matrix {
    rows: usize,
    dim: usize,
    values: Vec<f64>,
}

impl Matrix {
    fn values(&self) -> Vec<f32> {
        to_f32(&self.values)
    }
}

#[derive(Deserialize, Clone, Copy, PartialEq, Debug)]
#[serde(rename_all = "lowercase")]
enum Mode {
    #[serde(rename = "self")]
    OwnRanges,
    Calibration,
    Ranges,
}

#[derive(Deserialize)]
struct QuantizeCase {
    name: String,
    mode: Mode,
    embeddings: String,
    calibration: Option<String>,
    ranges: Option<[Vec<f64>; 2]>,
    outputs: Outputs,
    ranges_used: Option<[Vec<f64>; 2]>,
    /// `repr` strings: Rust's `str::parse::<f64>` rounds them correctly.
    dequantized: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Outputs {
    float32: Vec<f64>,
    int8: Vec<i8>,
    uint8: Vec<u8>,
    binary: Vec<i8>,
    ubinary: Vec<u8>,
}

#[derive(Deserialize)]
struct StsCase {
    name: String,
    pairs: usize,
    dim: usize,
    embeddings1: Vec<f64>,
    embeddings2: Vec<f64>,
    scores: Vec<f64>,
    metrics: BTreeMap<Precision, StsMetrics>,
}

/// The float32 values written as decimals. serde_json's default parser may miss a 17-digit
/// decimal by one float64 ulp, far less than half a float32 ulp, so rounding to `f32` still
/// recovers the written value exactly.
fn to_f32(values: &[f64]) -> Vec<f32> {
    values
        .iter()
        .map(|&v| {
            let f = v as f32;
            assert!(
                (f64::from(f) - v).abs() <= v.abs() * 1e-15,
                "{v} is not a float32 value"
            );
            f
        })
        .collect()
}

fn fixture() -> Fixture {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/quantize.json");
    let text = std::fs::read_to_string(path).unwrap();
    let fixture: Fixture = serde_json::from_str(&text).unwrap();
    assert_eq!(
        fixture.script,
        "crates/eval/tests/fixtures/make_quantize_fixture.py"
    );
    assert_eq!(fixture.versions["sentence_transformers"], "6.3.0");
    fixture
}

fn ranges_of(pair: &[Vec<f64>; 2]) -> QuantizationRanges {
    QuantizationRanges::new(to_f32(&pair[0]), to_f32(&pair[1])).unwrap()
}

/// The ranges the Rust API is given for a case (`None`: computed from the embeddings).
fn case_ranges(
    case: &QuantizeCase,
    matrices: &BTreeMap<String, Matrix>,
) -> Option<QuantizationRanges> {
    match case.mode {
        Mode::OwnRanges => None,
        Mode::Calibration => {
            let m = &matrices[case.calibration.as_deref().unwrap()];
            let values = m.values();
            let calibration = Embeddings::new(&values, m.rows, m.dim).unwrap();
            Some(QuantizationRanges::from_embeddings(calibration).unwrap())
        }
        Mode::Ranges => Some(ranges_of(case.ranges.as_ref().unwrap())),
    }
}

#[test]
fn quantized_values_are_identical() {
    let f = fixture();
    assert_eq!(f.quantize.len(), 8);
    for mode in [Mode::OwnRanges, Mode::Calibration, Mode::Ranges] {
        assert!(f.quantize.iter().any(|c| c.mode == mode), "{mode:?}");
    }
    let mut compared = 0;
    for case in &f.quantize {
        let m = &f.matrices[&case.embeddings];
        let values = m.values();
        let x = Embeddings::new(&values, m.rows, m.dim).unwrap();
        let ranges = case_ranges(case, &f.matrices);
        for precision in Precision::ALL {
            let q = quantize_embeddings(x, precision, ranges.as_ref())
                .unwrap_or_else(|e| panic!("{} {precision}: {e}", case.name));
            let what = format!("{} {precision}", case.name);
            assert_eq!(q.rows(), m.rows, "{what}");
            assert_eq!(q.dim(), m.dim, "{what}");
            let o = &case.outputs;
            match q.values() {
                QuantizedValues::Float32(v) => {
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(v), bits(&to_f32(&o.float32)), "{what}");
                }
                QuantizedValues::Int8(v) => assert_eq!(v, &o.int8, "{what}"),
                QuantizedValues::Uint8(v) => assert_eq!(v, &o.uint8, "{what}"),
                QuantizedValues::Binary(v) => assert_eq!(v, &o.binary, "{what}"),
                QuantizedValues::Ubinary(v) => assert_eq!(v, &o.ubinary, "{what}"),
            }
            assert_eq!(q.values().len(), m.rows * precision.quantized_dim(m.dim));
            compared += q.values().len();
        }
    }
    assert!(compared > 5000, "{compared}");
}

#[test]
fn ranges_and_dequantized_values_are_identical() {
    let f = fixture();
    let mut checked = 0;
    for case in &f.quantize {
        let m = &f.matrices[&case.embeddings];
        let Some(expected_ranges) = &case.ranges_used else {
            assert_eq!(m.rows, 0, "{}: no ranges recorded", case.name);
            continue;
        };
        let values = m.values();
        let x = Embeddings::new(&values, m.rows, m.dim).unwrap();
        let ranges = case_ranges(case, &f.matrices)
            .unwrap_or_else(|| QuantizationRanges::from_embeddings(x).unwrap());
        let expected_ranges = ranges_of(expected_ranges);
        assert_eq!(ranges, expected_ranges, "{}", case.name);

        let expected: Vec<f64> = case
            .dequantized
            .as_ref()
            .unwrap()
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        for precision in [Precision::Int8, Precision::Uint8] {
            let q = quantize_embeddings(x, precision, Some(&ranges)).unwrap();
            let got = dequantize(&q, &ranges).unwrap();
            assert_eq!(got.len(), expected.len());
            for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
                // Exactly Python's float64; 0.0 and -0.0 compare equal.
                assert!(
                    g == e,
                    "{} {precision} value {i}: {g:?} != {e:?}",
                    case.name
                );
            }
            checked += got.len();
        }
    }
    assert!(checked > 2000, "{checked}");
}

#[test]
fn sts_metrics_at_each_precision_match() {
    let f = fixture();
    assert!(!f.sts.is_empty());
    for case in &f.sts {
        let (a, b) = (to_f32(&case.embeddings1), to_f32(&case.embeddings2));
        let e1 = Embeddings::new(&a, case.pairs, case.dim).unwrap();
        let e2 = Embeddings::new(&b, case.pairs, case.dim).unwrap();
        assert_eq!(case.metrics.len(), Precision::ALL.len(), "{}", case.name);
        for precision in Precision::ALL {
            let expected = case.metrics[&precision];
            let got = evaluate_sts_at_precision(e1, e2, &case.scores, precision)
                .unwrap_or_else(|e| panic!("{} {precision}: {e}", case.name));
            let got = serde_json::to_value(got).unwrap();
            let expected = serde_json::to_value(expected).unwrap();
            let mut max_diff = 0.0f64;
            for (key, e) in expected.as_object().unwrap() {
                let (g, e) = (got[key].as_f64().unwrap(), e.as_f64().unwrap());
                let diff = (g - e).abs();
                max_diff = max_diff.max(diff);
                assert!(
                    diff <= STS_TOLERANCE,
                    "{} {precision} {key}: {g} vs {e} (diff {diff:e})",
                    case.name
                );
            }
            println!("{} {precision}: max |diff| {max_diff:e}", case.name);
        }
    }
}
