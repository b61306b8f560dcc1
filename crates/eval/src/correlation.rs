//! Pearson and Spearman correlation coefficients, matching `scipy.stats`.

use crate::error::{Error, Result};
use crate::rank::average_ranks;

/// Pearson's correlation coefficient of `x` and `y`, like `scipy.stats.pearsonr(x, y).statistic`.
///
/// Two-pass in `f64`, as scipy does: centre both inputs, scale each by its norm (computed
/// relative to its largest magnitude, so it does not overflow early), take the dot product and
/// clip to `[-1, 1]`.
///
/// Errors when the lengths differ, when there are fewer than 2 values, on NaN or infinite
/// values (naming the row), and on constant input, where `r` is undefined (scipy returns NaN).
pub fn pearson(x: &[f64], y: &[f64]) -> Result<f64> {
    pearson_named(x, "x", y, "y")
}

/// Spearman's rank correlation coefficient of `x` and `y`, like
/// `scipy.stats.spearmanr(x, y).statistic`: Pearson's r of the average ranks
/// ([`average_ranks`]), so ties are handled as scipy does.
///
/// Errors when the lengths differ, when there are fewer than 2 values, on NaN (naming the
/// row), and on constant input. Infinite values are ranked as the extremes.
pub fn spearman(x: &[f64], y: &[f64]) -> Result<f64> {
    spearman_named(x, "x", y, "y")
}

/// [`pearson`] with the inputs named in errors.
pub(crate) fn pearson_named(
    x: &[f64],
    x_name: &'static str,
    y: &[f64],
    y_name: &'static str,
) -> Result<f64> {
    const STATISTIC: &str = "pearson";
    check_lengths(x, y, STATISTIC)?;
    for (values, input) in [(x, x_name), (y, y_name)] {
        if let Some(row) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                input,
                row,
                value: values[row],
            });
        }
        check_not_constant(values, input, STATISTIC)?;
    }
    let mut r = centred_unit(x)
        .zip(centred_unit(y))
        .map(|(a, b)| a * b)
        .sum::<f64>();
    if x.len() == 2 {
        // scipy returns exactly ±1 for two points.
        r = r.round();
    }
    if !r.is_finite() {
        return Err(Error::Overflow {
            statistic: STATISTIC,
            r,
            x: x_name,
            y: y_name,
        });
    }
    Ok(r.clamp(-1.0, 1.0))
}

/// [`spearman`] with the inputs named in errors.
pub(crate) fn spearman_named(
    x: &[f64],
    x_name: &'static str,
    y: &[f64],
    y_name: &'static str,
) -> Result<f64> {
    const STATISTIC: &str = "spearman";
    check_lengths(x, y, STATISTIC)?;
    let mut ranks = [Vec::new(), Vec::new()];
    for ((values, input), ranks) in [(x, x_name), (y, y_name)].into_iter().zip(&mut ranks) {
        if let Some(row) = values.iter().position(|v| v.is_nan()) {
            return Err(Error::NonFinite {
                input,
                row,
                value: values[row],
            });
        }
        check_not_constant(values, input, STATISTIC)?;
        *ranks = average_ranks(values)?;
    }
    let [rx, ry] = ranks;
    pearson_named(&rx, x_name, &ry, y_name)
}

fn check_lengths(x: &[f64], y: &[f64], statistic: &'static str) -> Result<()> {
    if x.len() != y.len() {
        return Err(Error::LengthMismatch {
            x: x.len(),
            y: y.len(),
        });
    }
    if x.len() < 2 {
        return Err(Error::TooFew {
            statistic,
            n: x.len(),
        });
    }
    Ok(())
}

/// Constant means every value `==` the first, as in scipy.
fn check_not_constant(values: &[f64], input: &'static str, statistic: &'static str) -> Result<()> {
    match values.split_first() {
        Some((&first, rest)) if rest.iter().all(|&v| v == first) => Err(Error::ConstantInput {
            statistic,
            input,
            n: values.len(),
            value: first,
        }),
        _ => Ok(()),
    }
}

/// `(x - mean) / ‖x - mean‖`, the norm taken as `max|xm| * ‖xm / max|xm|‖` (scipy's scaling).
fn centred_unit(x: &[f64]) -> impl Iterator<Item = f64> + '_ {
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let max = x.iter().map(|v| (v - mean).abs()).fold(0.0, f64::max);
    let norm = max
        * x.iter()
            .map(|v| ((v - mean) / max).powi(2))
            .sum::<f64>()
            .sqrt();
    x.iter().map(move |v| (v - mean) / norm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // python 3.11.7, scipy 1.17.1:
        // scipy.stats.pearsonr([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]).statistic -> 0.8
        // scipy.stats.spearmanr([1, 2, 2, 3], [1, 3, 2, 4]).statistic -> 0.9486832980505139
        assert!(
            (pearson(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 1.0, 4.0, 3.0, 5.0]).unwrap() - 0.8).abs()
                < 1e-15
        );
        let s = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert!((s - 0.9486832980505139).abs() < 1e-15, "{s}");
    }

    #[test]
    fn two_values_are_perfectly_correlated() {
        // scipy.stats.pearsonr([1, 2], [5, -3]).statistic -> -1.0 (rounded for n == 2)
        assert_eq!(pearson(&[1.0, 2.0], &[5.0, -3.0]).unwrap(), -1.0);
        // scipy.stats.spearmanr([1, 2], [5, 7]).statistic -> 0.9999999999999999
        assert_eq!(spearman(&[1.0, 2.0], &[5.0, 7.0]).unwrap(), 1.0);
    }

    #[test]
    fn huge_values_do_not_overflow() {
        // scipy.stats.pearsonr([-5e210, 5e210, 3e200, -3e200], [-1, 1, .5, -.5]).statistic
        // -> 0.8944271910267486
        let x = [-5e210, 5e210, 3e200, -3e200];
        let r = pearson(&x, &[-1.0, 1.0, 0.5, -0.5]).unwrap();
        assert!((r - 0.8944271910267486).abs() < 1e-15, "{r}");
    }

    #[test]
    fn constant_input_is_an_error_naming_the_input() {
        let err = pearson(&[1.0, 2.0, 3.0], &[4.0, 4.0, 4.0])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("pearson is undefined for constant input"),
            "{err}"
        );
        assert!(err.contains("y has zero variance"), "{err}");
        let err = spearman(&[2.0, 2.0], &[1.0, 3.0]).unwrap_err().to_string();
        assert!(
            err.starts_with("spearman is undefined for constant input"),
            "{err}"
        );
        assert!(err.contains("x has zero variance"), "{err}");
    }

    #[test]
    fn length_mismatch_names_both_lengths() {
        for err in [
            pearson(&[1.0, 2.0, 3.0], &[1.0, 2.0]).unwrap_err(),
            spearman(&[1.0, 2.0, 3.0], &[1.0, 2.0]).unwrap_err(),
        ] {
            let err = err.to_string();
            assert!(err.contains("x has 3 values, y has 2 values"), "{err}");
        }
    }

    #[test]
    fn fewer_than_two_values_is_an_error() {
        let err = pearson(&[1.0], &[1.0]).unwrap_err().to_string();
        assert_eq!(err, "pearson needs at least 2 values, got 1");
        let err = spearman(&[], &[]).unwrap_err().to_string();
        assert_eq!(err, "spearman needs at least 2 values, got 0");
    }

    #[test]
    fn nan_is_an_error_naming_input_and_row() {
        let err = pearson(&[1.0, 2.0, 3.0], &[1.0, f64::NAN, 2.0])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("y has a non-finite value NaN at row 1"),
            "{err}"
        );
        let err = spearman(&[1.0, 2.0, f64::NAN], &[1.0, 3.0, 2.0])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("x has a non-finite value NaN at row 2"),
            "{err}"
        );
        let err = pearson(&[f64::INFINITY, 2.0], &[1.0, 3.0])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("x has a non-finite value inf at row 0"),
            "{err}"
        );
    }

    #[test]
    fn spearman_accepts_infinities() {
        // scipy.stats.spearmanr([-np.inf, 0, np.inf], [1, 2, 3]).statistic -> 1.0
        let s = spearman(&[f64::NEG_INFINITY, 0.0, f64::INFINITY], &[1.0, 2.0, 3.0]).unwrap();
        assert!((s - 1.0).abs() < 1e-15, "{s}");
    }
}
