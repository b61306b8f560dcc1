//! What the batch triplet losses share: the matrix of distances between every two examples of
//! a batch and the label masks that say which pairs are positives and which negatives
//! (sentence-transformers 6.2, `BatchHardTripletLossDistanceFunction` and
//! `BatchHardTripletLoss.get_anchor_{positive,negative}_triplet_mask`), op for op.
//!
//! # Shapes
//! embeddings `[batch, dim]`, labels `[batch]` → `[batch, batch]`

use config::BatchTripletDistance;
use tch::{Kind, TchError, Tensor};

use crate::check;
use crate::error::{Error, Result};
use crate::loss::Targets;
use crate::similarity::{cos_sim_normalized, normalize};

/// The `[batch, batch]` distances between the rows of `embeddings`. float16 and bfloat16
/// rows are computed in float32, as sentence-transformers does.
pub(crate) fn distance_matrix(
    distance: BatchTripletDistance,
    embeddings: &Tensor,
) -> Result<Tensor, TchError> {
    let embeddings = match embeddings.kind() {
        Kind::Half | Kind::BFloat16 => embeddings.f_to_kind(Kind::Float)?,
        _ => embeddings.shallow_clone(),
    };
    match distance {
        BatchTripletDistance::Euclidean => euclidean_matrix(&embeddings),
        BatchTripletDistance::CosineDistance => {
            let unit = normalize(&embeddings)?;
            cos_sim_normalized(&unit, &unit)?.f_neg()?.f_add_scalar(1.0)
        }
    }
}

/// `‖a‖² − 2 a·b + ‖b‖²` from one matrix product, negatives clamped to 0, then a square root
/// whose exact zeros (the diagonal, duplicate rows) stay 0 with a zero gradient: the 1e-16 added
/// before the root only keeps its derivative finite.
fn euclidean_matrix(embeddings: &Tensor) -> Result<Tensor, TchError> {
    let dot = embeddings.f_matmul(&embeddings.f_tr()?)?;
    let square_norm = dot.f_diag(0)?;
    let squared = square_norm
        .f_unsqueeze(0)?
        .f_sub(&dot.f_mul_scalar(2.0)?)?
        .f_add(&square_norm.f_unsqueeze(1)?)?;
    let squared = squared.f_masked_fill(&squared.f_lt(0.0)?, 0.0)?;
    let zero = squared.f_eq(0.0)?.f_to_kind(Kind::Float)?;
    let root = squared.f_add(&zero.f_mul_scalar(1e-16)?)?.f_sqrt()?;
    zero.f_neg()?.f_add_scalar(1.0)?.f_mul(&root)
}

/// `[batch, batch]` bool: `labels[i] == labels[j]`, the diagonal included.
pub(crate) fn same_label(labels: &Tensor) -> Result<Tensor, TchError> {
    labels.f_unsqueeze(0)?.f_eq_tensor(&labels.f_unsqueeze(1)?)
}

/// `[batch, batch]` bool: `i ≠ j` with the same label (`get_anchor_positive_triplet_mask`).
pub(crate) fn anchor_positive_mask(labels: &Tensor) -> Result<Tensor, TchError> {
    let batch = labels.size()[0];
    let distinct = Tensor::f_eye(batch, (Kind::Bool, labels.device()))?.f_logical_not()?;
    same_label(labels)?.f_logical_and(&distinct)
}

/// `[batch, batch]` bool: different labels (`get_anchor_negative_triplet_mask`).
pub(crate) fn anchor_negative_mask(labels: &Tensor) -> Result<Tensor, TchError> {
    same_label(labels)?.f_logical_not()
}

/// The batch triplet losses take one text column (one example per row, grouped by label).
pub(crate) const COLUMNS: (usize, Option<usize>) = (1, Some(1));

/// The single embedding column and its labels, checked; an empty batch is refused (the hardest
/// pair of nothing is undefined, and sentence-transformers fails on it too).
pub(crate) fn inputs<'a>(
    loss: &'static str,
    embeddings: &'a [Tensor],
    targets: Targets<'_>,
) -> Result<(&'a Tensor, Tensor)> {
    let at = check::embeddings(loss, embeddings, COLUMNS)?;
    if at.batch == 0 {
        return Err(Error::Shape {
            loss,
            context: "an empty batch vs at least one example".into(),
            left: embeddings[0].size(),
            right: vec![1, at.dim],
        });
    }
    let labels = check::labels(loss, targets, at)?;
    Ok((&embeddings[0], labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn rows(values: &[f32], dim: i64) -> Tensor {
        Tensor::from_slice(values).view([-1, dim])
    }

    #[test]
    fn euclidean_matrix_is_the_distance_with_an_exact_zero_diagonal() {
        let x = rows(&[0., 0., 3., 4., 3., 4.], 2).set_requires_grad(true);
        let d = distance_matrix(BatchTripletDistance::Euclidean, &x).unwrap();
        let expected = rows(&[0., 5., 5., 5., 0., 0., 5., 0., 0.], 3);
        assert!(d.allclose(&expected, 1e-6, 1e-6, false), "{d}");
        assert_eq!(d.diag(0).abs().max().double_value(&[]), 0.0);
        // Zero distances (duplicates, the diagonal) give a zero gradient, not NaN.
        d.sum(Kind::Float).backward();
        assert!(x.grad().isfinite().all().int64_value(&[]) == 1);
    }

    #[test]
    fn half_embeddings_are_measured_in_float32() {
        let _rng = crate::rng_lock();
        let x = Tensor::randn([4, 3], (Kind::Float, Device::Cpu)).to_kind(Kind::Half);
        for metric in [
            BatchTripletDistance::Euclidean,
            BatchTripletDistance::CosineDistance,
        ] {
            assert_eq!(distance_matrix(metric, &x).unwrap().kind(), Kind::Float);
        }
    }

    #[test]
    fn masks_follow_the_labels() {
        let labels = Tensor::from_slice(&[4i64, 9, 4]);
        let positive = anchor_positive_mask(&labels).unwrap();
        let negative = anchor_negative_mask(&labels).unwrap();
        let expected_positive =
            Tensor::from_slice(&[false, false, true, false, false, false, true, false, false])
                .view([3, 3]);
        let expected_negative =
            Tensor::from_slice(&[false, true, false, true, false, true, false, true, false])
                .view([3, 3]);
        assert!(positive.equal(&expected_positive));
        assert!(negative.equal(&expected_negative));
    }
}
