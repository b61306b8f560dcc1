//! scikit-learn's binary `average_precision_score` and `matthews_corrcoef`, in `f64`.

use std::cmp::Ordering;

/// `sklearn.metrics.average_precision_score(labels, scores)`: the step-function area under
/// the precision–recall curve, `sum_i (R_i - R_{i-1}) P_i` over the distinct scores taken as
/// thresholds from the highest down (pairs with equal scores enter together).
///
/// With no positive label scikit-learn warns and sets recall to 1 everywhere, which makes
/// the result the precision at the highest threshold: 0. Scores must not be NaN.
///
/// # Shapes
/// labels, scores: `[n]` (the shorter length is used)
pub(crate) fn average_precision(labels: &[bool], scores: &[f64]) -> f64 {
    let positives = labels.iter().filter(|&&l| l).count();
    if positives == 0 {
        return 0.0;
    }
    let mut order: Vec<usize> = (0..labels.len().min(scores.len())).collect();
    order.sort_unstable_by(|&a, &b| descending(scores[a], scores[b]));
    let (mut tps, mut seen) = (0usize, 0usize);
    let (mut previous_recall, mut area) = (0.0, 0.0);
    for (pos, &i) in order.iter().enumerate() {
        seen += 1;
        tps += usize::from(labels[i]);
        let group_ends = order
            .get(pos + 1)
            .is_none_or(|&next| scores[next] != scores[i]);
        if group_ends {
            let precision = tps as f64 / seen as f64;
            let recall = tps as f64 / positives as f64;
            area += (recall - previous_recall) * precision;
            previous_recall = recall;
        }
    }
    area.max(0.0)
}

/// `sklearn.metrics.matthews_corrcoef(labels, predicted)`, with scikit-learn's convention of
/// 0 when either side has a single class (the denominator is 0).
///
/// # Shapes
/// labels, predicted: `[n]` (the shorter length is used)
pub(crate) fn matthews_corrcoef(labels: &[bool], predicted: &[bool]) -> f64 {
    let mut counts = [[0usize; 2]; 2];
    for (&t, &p) in labels.iter().zip(predicted) {
        counts[usize::from(t)][usize::from(p)] += 1;
    }
    let c = |t: usize, p: usize| counts[t][p] as f64;
    let t_sum = [c(0, 0) + c(0, 1), c(1, 0) + c(1, 1)];
    let p_sum = [c(0, 0) + c(1, 0), c(0, 1) + c(1, 1)];
    let n_correct = c(0, 0) + c(1, 1);
    let n = p_sum[0] + p_sum[1];
    let cov_ytyp = n_correct * n - (t_sum[0] * p_sum[0] + t_sum[1] * p_sum[1]);
    let cov_ypyp = n * n - (p_sum[0] * p_sum[0] + p_sum[1] * p_sum[1]);
    let cov_ytyt = n * n - (t_sum[0] * t_sum[0] + t_sum[1] * t_sum[1]);
    let denominator = cov_ypyp * cov_ytyt;
    if denominator == 0.0 {
        0.0
    } else {
        cov_ytyp / denominator.sqrt()
    }
}

/// Larger first; a total order on the finite scores used here.
fn descending(a: f64, b: f64) -> Ordering {
    b.total_cmp(&a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_precision_known_values() {
        // sklearn.metrics.average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        // -> 0.8333333333333333 (scikit-learn's docstring example)
        let ap = average_precision(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]);
        assert!((ap - 0.8333333333333333).abs() < 1e-15, "{ap}");
        // a tie between a positive and a negative at the top: precision 1/2 at recall 1
        assert_eq!(average_precision(&[true, false], &[0.5, 0.5]), 0.5);
        assert_eq!(average_precision(&[false, false], &[0.5, 0.1]), 0.0);
        assert_eq!(average_precision(&[true, true], &[0.5, 0.1]), 1.0);
    }

    #[test]
    fn mcc_known_values() {
        // sklearn.metrics.matthews_corrcoef([1, 1, 1, 0], [1, 0, 1, 1]) -> -0.3333333333333333
        let mcc = matthews_corrcoef(&[true, true, true, false], &[true, false, true, true]);
        assert!((mcc + 1.0 / 3.0).abs() < 1e-15, "{mcc}");
        assert_eq!(matthews_corrcoef(&[true, false], &[true, false]), 1.0);
        assert_eq!(matthews_corrcoef(&[false, false], &[false, true]), 0.0);
    }
}
