//! The statistics sentence-transformers prints after mining: a table of the positive,
//! negative and difference scores, the candidates each filter skipped, and the samples that
//! could not be filled.

use std::fmt;

use tch::Tensor;

use super::python_format::{fixed, float_repr, percent, thousands};
use super::select::SkippedCandidates;
use crate::error::{Error, Result};

/// Summary statistics of one set of scores, computed by libtorch in float32 as
/// sentence-transformers computes them: `torch.median` is the lower median, `torch.std` the
/// unbiased one, `torch.quantile` interpolates linearly. An empty set has NaN mean, median and
/// std, `inf` min and quantiles and `-inf` max (Python's fallbacks).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreSummary {
    pub count: usize,
    pub mean: f64,
    pub median: f64,
    pub std: f64,
    pub min: f64,
    pub q25: f64,
    pub q50: f64,
    pub q75: f64,
    pub max: f64,
}

impl ScoreSummary {
    pub fn of(scores: &[f32]) -> Result<Self> {
        let t = Tensor::f_from_slice(scores).map_err(Error::torch("summarising scores"))?;
        let value = |r: std::result::Result<Tensor, tch::TchError>| {
            r.and_then(|v| v.f_double_value(&[]))
                .map_err(Error::torch("summarising scores"))
        };
        let empty = scores.is_empty();
        let or_if_empty = |fallback: f64, f: &dyn Fn() -> Result<f64>| {
            if empty {
                Ok(fallback)
            } else {
                f()
            }
        };
        let quantile = |q: f64| {
            or_if_empty(f64::INFINITY, &|| {
                value(t.f_quantile_scalar(q, None, false, "linear"))
            })
        };
        Ok(ScoreSummary {
            count: scores.len(),
            // mean, median and std of an empty tensor are NaN in torch too; spelled out so no
            // libtorch version can raise instead
            mean: or_if_empty(f64::NAN, &|| value(t.f_mean(None)))?,
            median: or_if_empty(f64::NAN, &|| value(t.f_median()))?,
            // torch gives NaN for one value too, with a warning on stderr this skips
            std: if scores.len() < 2 {
                f64::NAN
            } else {
                value(t.f_std(true))?
            },
            min: or_if_empty(f64::INFINITY, &|| value(t.f_min()))?,
            q25: quantile(0.25)?,
            q50: quantile(0.5)?,
            q75: quantile(0.75)?,
            max: or_if_empty(f64::NEG_INFINITY, &|| value(t.f_max()))?,
        })
    }

    fn metric(&self, name: &str) -> f64 {
        match name {
            "Mean" => self.mean,
            "Median" => self.median,
            "Std" => self.std,
            "Min" => self.min,
            "25%" => self.q25,
            "50%" => self.q50,
            "75%" => self.q75,
            _ => self.max,
        }
    }
}

/// Samples a format could not fill with negatives.
#[derive(Debug, Clone, PartialEq)]
pub struct MissingSamples {
    pub missing: usize,
    /// The rows the output would have had with every negative found.
    pub maximum_possible: usize,
    /// The parameters worth loosening: `range_max`, then those that were set among
    /// `range_min`, `absolute_margin`, `relative_margin`, `max_score`.
    pub parameters: Vec<&'static str>,
}

/// What mining prints after the dataset is built. `Display` writes it line for line as
/// sentence-transformers 6.3 prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct MiningStats {
    pub positive: ScoreSummary,
    pub negative: ScoreSummary,
    pub difference: ScoreSummary,
    /// The filters that skipped candidates, in the order they ran.
    pub skipped: Vec<SkippedCandidates>,
    pub missing: Option<MissingSamples>,
}

const METRICS: [&str; 8] = ["Mean", "Median", "Std", "Min", "25%", "50%", "75%", "Max"];

impl fmt::Display for MiningStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Python: "{:<6} {:>14} {:>14} {:>14}"
        let row = |f: &mut fmt::Formatter<'_>, cells: [&str; 4]| {
            writeln!(
                f,
                "{:<6} {:>14} {:>14} {:>14}",
                cells[0], cells[1], cells[2], cells[3]
            )
        };
        row(f, ["Metric", "Positive", "Negative", "Difference"])?;
        row(
            f,
            [
                "Count",
                &thousands(self.positive.count),
                &thousands(self.negative.count),
                "",
            ],
        )?;
        for metric in METRICS {
            row(
                f,
                [
                    metric,
                    &fixed(self.positive.metric(metric), 4),
                    &fixed(self.negative.metric(metric), 4),
                    &fixed(self.difference.metric(metric), 4),
                ],
            )?;
        }
        for skipped in &self.skipped {
            writeln!(
                f,
                "Skipped {} potential negatives ({}) due to the {} of {}.",
                thousands(skipped.skipped),
                percent(skipped.ratio),
                skipped.filter.name(),
                float_repr(skipped.value)
            )?;
        }
        if let Some(missing) = &self.missing {
            let considerations = match missing.parameters.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
                _ => missing.parameters.join(""),
            };
            writeln!(
                f,
                "Could not find enough negatives for {} samples ({}). Consider adjusting the {} \
                 parameter{} if you'd like to find more valid negatives.",
                missing.missing,
                percent(missing.missing as f64 / missing.maximum_possible as f64),
                considerations,
                if missing.parameters.len() > 1 {
                    "s"
                } else {
                    ""
                }
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mine::select::Filter;

    #[test]
    fn summary_uses_lower_median_unbiased_std_linear_quantiles() {
        let s = ScoreSummary::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(s.count, 4);
        assert_eq!(s.mean, 2.5);
        assert_eq!(s.median, 2.0);
        assert!((s.std - (5.0f64 / 3.0).sqrt()).abs() < 1e-6);
        assert_eq!((s.min, s.max), (1.0, 4.0));
        assert_eq!((s.q25, s.q50, s.q75), (1.75, 2.5, 3.25));
    }

    #[test]
    fn empty_summary_uses_python_s_fallbacks() {
        let s = ScoreSummary::of(&[]).unwrap();
        assert!(s.mean.is_nan() && s.median.is_nan() && s.std.is_nan());
        assert_eq!(
            (s.min, s.q50, s.max),
            (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY)
        );
        let one = ScoreSummary::of(&[0.5]).unwrap();
        assert!(one.std.is_nan());
    }

    #[test]
    fn display_matches_python_s_layout() {
        let stats = MiningStats {
            positive: ScoreSummary::of(&[0.75, 0.5]).unwrap(),
            negative: ScoreSummary::of(&[]).unwrap(),
            difference: ScoreSummary::of(&[]).unwrap(),
            skipped: vec![SkippedCandidates {
                filter: Filter::RelativeMargin,
                value: 0.05,
                skipped: 1234,
                ratio: 0.5,
            }],
            missing: Some(MissingSamples {
                missing: 6,
                maximum_possible: 6,
                parameters: vec!["range_max", "relative_margin"],
            }),
        };
        let text = stats.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Metric       Positive       Negative     Difference"
        );
        assert_eq!(
            lines[1],
            "Count               2              0               "
        );
        assert_eq!(
            lines[2],
            "Mean           0.6250            nan            nan"
        );
        assert_eq!(
            lines[5],
            "Min            0.5000            inf            inf"
        );
        assert_eq!(
            lines[9],
            "Max            0.7500           -inf           -inf"
        );
        assert_eq!(
            lines[10],
            "Skipped 1,234 potential negatives (50.00%) due to the relative_margin of 0.05."
        );
        assert_eq!(
            lines[11],
            "Could not find enough negatives for 6 samples (100.00%). Consider adjusting the \
             range_max and relative_margin parameters if you'd like to find more valid negatives."
        );
    }
}
