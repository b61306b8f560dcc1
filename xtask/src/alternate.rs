//! Comparisons that alternate their sides run by run (A B A B …), so that drift on a shared
//! machine (another job starting, the CPU clocking down) lands on every side instead of one.
//! Each side's figure and each ratio is reported as median, min and max over the rounds; a
//! ratio is taken within a round (side A's run beside side B's run of the same round).

use std::fmt::Write as _;

use serde_json::{json, Value};

/// Median, min and max of some measurements.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// NaN everywhere for no values; the median of an even count is the mean of the middle two.
    pub fn of(values: &[f64]) -> Self {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return Self {
                median: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
            };
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Self {
            median,
            min: v[0],
            max: v[n - 1],
        }
    }

    pub fn to_json(self) -> Value {
        json!({ "median": self.median, "min": self.min, "max": self.max })
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = f.precision().unwrap_or(2);
        write!(
            f,
            "{:.p$} [{:.p$}–{:.p$}]",
            self.median,
            self.min,
            self.max,
            p = p
        )
    }
}

/// One side's measurement per round (NaN where a round did not run it).
#[derive(Debug, Clone)]
pub struct SideRuns {
    pub label: String,
    pub values: Vec<f64>,
}

/// Per-round ratios `a / b` of two sides measured in the same rounds.
pub fn ratios(a: &SideRuns, b: &SideRuns) -> Vec<f64> {
    a.values.iter().zip(&b.values).map(|(x, y)| x / y).collect()
}

/// A table of each side's spread, then the spread of the per-round ratio of every side in
/// `numerators` to every side in `denominators` (indices into `sides`).
pub fn report(
    unit: &str,
    sides: &[SideRuns],
    numerators: &[usize],
    denominators: &[usize],
) -> String {
    let mut text = String::new();
    let width = sides
        .iter()
        .map(|s| s.label.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let rounds = sides.iter().map(|s| s.values.len()).max().unwrap_or(0);
    let _ = writeln!(
        text,
        "{:<width$}  {unit} median [min–max] over {rounds} alternating round(s)",
        "side"
    );
    for side in sides {
        let _ = writeln!(
            text,
            "{:<width$}  {:.1}",
            side.label,
            Spread::of(&side.values)
        );
    }
    for &a in numerators {
        for &b in denominators {
            if a == b {
                continue;
            }
            let (Some(sa), Some(sb)) = (sides.get(a), sides.get(b)) else {
                continue;
            };
            let _ = writeln!(
                text,
                "ratio {} / {}: {:.2}x",
                sa.label,
                sb.label,
                Spread::of(&ratios(sa, sb))
            );
        }
    }
    text
}

/// The sides and ratios of [`report`] as JSON.
pub fn report_json(sides: &[SideRuns], numerators: &[usize], denominators: &[usize]) -> Value {
    let mut ratio_list = Vec::new();
    for &a in numerators {
        for &b in denominators {
            if let (Some(sa), Some(sb)) = (sides.get(a), sides.get(b)) {
                if a != b {
                    let r = ratios(sa, sb);
                    ratio_list.push(json!({
                        "numerator": sa.label, "denominator": sb.label,
                        "per_round": r, "spread": Spread::of(&r).to_json(),
                    }));
                }
            }
        }
    }
    json!({
        "sides": sides.iter().map(|s| json!({
            "label": s.label, "per_round": s.values, "spread": Spread::of(&s.values).to_json(),
        })).collect::<Vec<_>>(),
        "ratios": ratio_list,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_median_min_and_max_ignoring_nan() {
        let s = Spread::of(&[3.0, 1.0, f64::NAN, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(Spread::of(&[4.0, 1.0, 2.0, 3.0]).median, 2.5);
        assert!(Spread::of(&[]).median.is_nan());
    }

    #[test]
    fn ratios_pair_the_runs_of_one_round() {
        let a = SideRuns {
            label: "ours".into(),
            values: vec![30.0, 20.0, 33.0],
        };
        let b = SideRuns {
            label: "theirs".into(),
            values: vec![10.0, 10.0, 11.0],
        };
        // Round by round: 3, 2, 3 (a slow round slows both sides; the pairing keeps it out).
        assert_eq!(ratios(&a, &b), vec![3.0, 2.0, 3.0]);
        let text = report("examples/s", &[a, b], &[0], &[1]);
        assert!(
            text.contains("ratio ours / theirs: 3.00 [2.00–3.00]x"),
            "{text}"
        );
        assert!(text.contains("30.0 [20.0–33.0]"), "{text}");
    }
}
