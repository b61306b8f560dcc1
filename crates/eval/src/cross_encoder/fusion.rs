//! A reranker's scores fused with its first stage's, per candidate list: both z-normalised
//! over the list (mean 0, standard deviation 1), then `reranker + weight · first stage`
//! (CombSUM over z-scores). A reranker trained for minutes can order the very top better
//! than its retriever and the tail worse; the sum keeps what each does well without a
//! learned combiner. Z-normalising makes the weight independent of each model's score scale
//! (logits, probabilities, cosines): weight 1 weighs the two equally.

use crate::error::{Error, Result};

/// The fused scores of one candidate list: `z(reranker) + weight · z(first_stage)`.
///
/// A list whose scores are all equal (or a single candidate) contributes zeros for that
/// model. Errors on lists of different lengths, a NaN or infinite score (naming its row and
/// model), or a weight that is negative or not finite.
pub fn fuse_first_stage(reranker: &[f32], first_stage: &[f32], weight: f64) -> Result<Vec<f32>> {
    check_first_stage_weight(weight)?;
    if reranker.len() != first_stage.len() {
        return Err(Error::FusionLengths {
            reranker: reranker.len(),
            first_stage: first_stage.len(),
        });
    }
    let rerank = z_scores(reranker, "reranker scores")?;
    let first = z_scores(first_stage, "first-stage scores")?;
    Ok(rerank
        .iter()
        .zip(&first)
        .map(|(r, f)| (r + weight * f) as f32)
        .collect())
}

/// Errors on a first-stage weight that is negative or not finite: a check to make before the
/// scoring that [`fuse_first_stage`] follows.
pub fn check_first_stage_weight(weight: f64) -> Result<()> {
    if weight.is_finite() && weight >= 0.0 {
        Ok(())
    } else {
        Err(Error::FusionWeight { weight })
    }
}

/// `(x − mean) / std` (population std, in f64); zeros when the std is 0.
fn z_scores(values: &[f32], input: &'static str) -> Result<Vec<f64>> {
    if let Some((row, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite {
            input,
            row,
            value: f64::from(value),
        });
    }
    let n = values.len().max(1) as f64;
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    let std = var.sqrt();
    Ok(values
        .iter()
        .map(|&v| {
            if std > 0.0 {
                (f64::from(v) - mean) / std
            } else {
                0.0
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn order(scores: &[f32]) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..scores.len()).collect();
        idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        idx
    }

    #[test]
    fn hand_computed() {
        // z([3, 1, 2]) = [1.2247, -1.2247, 0]; z([0.1, 0.3, 0.2]) = [-1.2247, 1.2247, 0].
        let fused = fuse_first_stage(&[3.0, 1.0, 2.0], &[0.1, 0.3, 0.2], 0.5).unwrap();
        let s = 1.5f64.sqrt();
        let expected = [s - 0.5 * s, -s + 0.5 * s, 0.0];
        for (got, want) in fused.iter().zip(expected) {
            assert!((f64::from(*got) - want).abs() < 1e-6, "{fused:?}");
        }
        // Equal weights cancel exactly opposite orders.
        let tie = fuse_first_stage(&[3.0, 1.0, 2.0], &[0.1, 0.3, 0.2], 1.0).unwrap();
        assert!(tie.iter().all(|v| v.abs() < 1e-6), "{tie:?}");
    }

    #[test]
    fn weight_zero_is_the_reranker_and_constant_lists_add_nothing() {
        let reranker = [0.2, -1.5, 4.0, 0.0];
        let fused = fuse_first_stage(&reranker, &[0.9, 0.8, 0.7, 0.6], 0.0).unwrap();
        assert_eq!(order(&fused), order(&reranker));
        let fused = fuse_first_stage(&reranker, &[0.5; 4], 3.0).unwrap();
        assert_eq!(order(&fused), order(&reranker));
        assert_eq!(fuse_first_stage(&[7.0], &[0.3], 1.0).unwrap(), vec![0.0]);
        assert!(fuse_first_stage(&[], &[], 1.0).unwrap().is_empty());
    }

    #[test]
    fn bad_inputs_are_named() {
        let err = fuse_first_stage(&[1.0, 2.0], &[1.0], 1.0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("2 reranker scores") && err.contains("1 first-stage"),
            "{err}"
        );
        let err = fuse_first_stage(&[1.0, 2.0], &[1.0, f32::NAN], 1.0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("first-stage scores") && err.contains("row 1"),
            "{err}"
        );
        let err = fuse_first_stage(&[f32::INFINITY], &[1.0], 1.0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("reranker scores") && err.contains("row 0"),
            "{err}"
        );
        for weight in [-0.5, f64::NAN, f64::INFINITY] {
            let err = fuse_first_stage(&[1.0], &[1.0], weight)
                .unwrap_err()
                .to_string();
            assert!(err.contains("weight"), "{err}");
        }
    }

    proptest! {
        /// Fusion reads each model's scores only up to a positive affine map: logits or
        /// probabilities, cosines or dot products of another scale order the same.
        #[test]
        fn fusion_ignores_each_models_scale_and_offset(
            // Tenths: distinct scores stay distinct after the maps, equal ones stay equal.
            pairs in prop::collection::vec((-50i32..50, -10i32..10), 2..40),
            scale_r in 0.1f32..10.0, shift_r in -3.0f32..3.0,
            scale_f in 0.1f32..10.0, shift_f in -3.0f32..3.0,
            weight in 0.0f64..4.0,
        ) {
            let (r, f): (Vec<f32>, Vec<f32>) = pairs
                .into_iter()
                .map(|(r, f)| (r as f32 / 10.0, f as f32 / 10.0))
                .unzip();
            let base = fuse_first_stage(&r, &f, weight).unwrap();
            let r2: Vec<f32> = r.iter().map(|v| v * scale_r + shift_r).collect();
            let f2: Vec<f32> = f.iter().map(|v| v * scale_f + shift_f).collect();
            let moved = fuse_first_stage(&r2, &f2, weight).unwrap();
            for (a, b) in base.iter().zip(&moved) {
                prop_assert!((a - b).abs() < 1e-3, "{base:?} vs {moved:?}");
            }
        }
    }
}
