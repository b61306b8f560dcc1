//! Helpers of the parity tests that read sentence-transformers' token ids and gradients.

use serde_json::Value;
use tch::{Kind, Tensor};

use model::TokenBatch;

/// A `[rows, seq]` int64 tensor from a JSON list of lists.
pub fn ids(v: &Value) -> Tensor {
    let rows: Vec<Vec<i64>> = serde_json::from_value(v.clone()).unwrap();
    let (n, s) = (rows.len() as i64, rows[0].len() as i64);
    Tensor::from_slice(&rows.concat()).view([n, s])
}

/// The batch sentence-transformers fed its loss (`input_ids`, `attention_mask`; token type 0).
pub fn batch(features: &Value) -> TokenBatch {
    let input_ids = ids(&features["input_ids"]);
    TokenBatch {
        attention_mask: ids(&features["attention_mask"]),
        token_type_ids: input_ids.zeros_like(),
        input_ids,
        prompt_lengths: None,
    }
}

/// Largest |a − b| / max(1, |b|).
pub fn max_diff(actual: &Tensor, expected: &Tensor) -> f64 {
    assert_eq!(actual.size(), expected.size());
    let actual = actual.to_kind(Kind::Double);
    let expected = expected.to_kind(Kind::Double);
    let scale = expected.abs().clamp_min(1.0);
    ((actual - &expected).abs() / scale).max().double_value(&[])
}
