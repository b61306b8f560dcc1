//! Ranking with average ranks for ties (`scipy.stats.rankdata(method="average")`).

use crate::error::{Error, Result};

/// 1-based ranks of `x`, ties sharing the average of the ranks they span, like
/// `scipy.stats.rankdata(x, method="average")`. `O(n log n)`.
///
/// Equal values (by `==`, so `-0.0` ties with `0.0`) get equal ranks; the ranks sum to
/// `n (n + 1) / 2`. Errors on NaN, naming its row; infinities rank as the extremes.
pub fn average_ranks(x: &[f64]) -> Result<Vec<f64>> {
    if let Some(row) = x.iter().position(|v| v.is_nan()) {
        return Err(Error::NonFinite {
            input: "x",
            row,
            value: f64::NAN,
        });
    }
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_unstable_by(|&a, &b| x[a].total_cmp(&x[b]));

    let mut ranks = vec![0.0; x.len()];
    let mut start = 0;
    while start < order.len() {
        let value = x[order[start]];
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&i| x[i] == value)
                .count();
        // positions start..end (0-based) hold ranks start+1..=end; their mean:
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    Ok(ranks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_the_average_rank() {
        // scipy.stats.rankdata([0, 2, 3, 2]) -> [1. , 2.5, 4. , 2.5]
        assert_eq!(
            average_ranks(&[0.0, 2.0, 3.0, 2.0]).unwrap(),
            [1.0, 2.5, 4.0, 2.5]
        );
        // scipy.stats.rankdata([-0.0, 0.0, -1]) -> [2.5, 2.5, 1. ]
        assert_eq!(average_ranks(&[-0.0, 0.0, -1.0]).unwrap(), [2.5, 2.5, 1.0]);
        assert_eq!(average_ranks(&[7.0; 4]).unwrap(), [2.5; 4]);
        assert!(average_ranks(&[]).unwrap().is_empty());
    }

    #[test]
    fn infinities_rank_at_the_ends() {
        assert_eq!(
            average_ranks(&[f64::INFINITY, 0.0, f64::NEG_INFINITY]).unwrap(),
            [3.0, 2.0, 1.0]
        );
    }

    #[test]
    fn nan_is_an_error_naming_the_row() {
        let err = average_ranks(&[1.0, f64::NAN]).unwrap_err().to_string();
        assert!(err.contains("row 1"), "{err}");
    }
}
