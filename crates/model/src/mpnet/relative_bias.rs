//! MPNet's relative position bias: T5-style bidirectional buckets of `key − query`, one learned
//! value per bucket and head, computed once per forward and added to every layer's scores.

use tch::{nn, Device, Kind, Tensor};

use crate::error::Result;
use crate::layers::embeddings::Embedding;

/// Buckets MPNet sorts relative positions into (transformers' `compute_position_bias`
/// passes 32 whatever `relative_attention_num_buckets` says).
pub(crate) const NUM_BUCKETS: i64 = 32;
/// Distances from here on share the last bucket of their direction.
const MAX_DISTANCE: i64 = 128;

#[derive(Debug)]
pub(crate) struct RelativePositionBias {
    table: Embedding,
}

impl RelativePositionBias {
    /// `p` is `encoder.relative_attention_bias`: `weight` `[rows, heads]`.
    pub(crate) fn new(p: nn::Path, rows: i64, heads: i64, init_std: f64) -> Self {
        RelativePositionBias {
            table: Embedding::new(p, rows, heads, init_std, -1),
        }
    }

    /// # Shapes
    /// → `[1, heads, seq, seq]`: entry `[0, h, i, j]` is head `h`'s bias of query `i` on key `j`
    pub(crate) fn forward(&self, seq: i64, device: Device) -> Result<Tensor> {
        let positions = Tensor::f_arange(seq, (Kind::Int64, device))?;
        let relative = positions
            .f_unsqueeze(0)?
            .f_sub(&positions.f_unsqueeze(1)?)?;
        let buckets = bucket(&relative)?;
        Ok(self
            .table
            .forward(&buckets)?
            .f_permute([2, 0, 1])?
            .f_unsqueeze(0)?)
    }
}

/// transformers' `MPNetEncoder.relative_position_bucket(relative, 32, 128)`, op for op in
/// float32 so that positions on a bucket boundary land where PyTorch puts them: half the
/// buckets per direction, exact up to 8, logarithmic up to 128.
///
/// # Shapes
/// relative (`key − query`): any → the same shape, int64 in `[0, 32)`
fn bucket(relative: &Tensor) -> Result<Tensor> {
    let half = NUM_BUCKETS / 2;
    let max_exact = half / 2;
    let n = relative.f_neg()?;
    let direction = n.f_lt(0)?.f_to_kind(Kind::Int64)?.f_mul_scalar(half)?;
    let n = n.f_abs()?;
    let is_small = n.f_lt(max_exact)?;
    let log_ratio = n
        .f_to_kind(Kind::Float)?
        .f_div_scalar(max_exact)?
        .f_log()?
        .f_div_scalar((MAX_DISTANCE as f64 / max_exact as f64).ln())?
        .f_mul_scalar(half - max_exact)?
        .f_to_kind(Kind::Int64)?;
    let large = log_ratio.f_add_scalar(max_exact)?.f_clamp_max(half - 1)?;
    Ok(direction.f_add(&n.f_where_self(&is_small, &large)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_match_transformers() {
        // transformers 5.24 MPNetEncoder.relative_position_bucket(torch.tensor(r)) for these r
        let relative = Tensor::from_slice(&[
            0i64, 1, 7, 8, 15, 16, 31, 32, 127, 128, 500, -1, -7, -8, -16, -128, -500,
        ]);
        let want = [
            0i64, 17, 23, 24, 25, 26, 27, 28, 31, 31, 31, 1, 7, 8, 10, 15, 15,
        ];
        let got = Vec::<i64>::try_from(bucket(&relative).unwrap()).unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn every_boundary_of_a_300_token_table_matches_transformers() {
        // q = torch.arange(300); b = relative_position_bucket(q[None, :] - q[:, None]);
        // w = torch.arange(300 * 300).reshape(300, 300) % 1000: b.sum(), (b * w).sum()
        let q = Tensor::arange(300, (Kind::Int64, Device::Cpu));
        let b = bucket(&(q.unsqueeze(0) - q.unsqueeze(1))).unwrap();
        let w = Tensor::arange(300 * 300, (Kind::Int64, Device::Cpu))
            .view([300, 300])
            .remainder(1000);
        assert_eq!(b.sum(Kind::Int64).int64_value(&[]), 1_896_430);
        assert_eq!((&b * w).sum(Kind::Int64).int64_value(&[]), 949_946_385);
    }
}
