//! The parameters of a mining run, with sentence-transformers 6.3's defaults and checks.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How the negatives are picked from the candidate window `[range_min, range_max)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sampling {
    /// The `num_negatives` most similar candidates (`sampling_strategy="top"`).
    #[default]
    Top,
    /// `num_negatives` distinct candidates drawn uniformly, then sorted by score
    /// (`sampling_strategy="random"`).
    Random,
}

/// The shape of the mined dataset (`output_format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    /// (anchor, positive, negative) rows, one per negative found.
    #[default]
    Triplet,
    /// (anchor, positive, negative_1, …, negative_n) rows, only where all n were found.
    NTuple,
    /// (anchor, text, label) rows: label 1 for each positive, 0 for each negative.
    LabeledPair,
    /// (anchor, [positive, negatives…], [1, 0, …]) rows.
    LabeledList,
}

impl OutputFormat {
    /// The name sentence-transformers gives the format.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Triplet => "triplet",
            OutputFormat::NTuple => "n-tuple",
            OutputFormat::LabeledPair => "labeled-pair",
            OutputFormat::LabeledList => "labeled-list",
        }
    }
}

/// The default bound on one similarity chunk: 2^25 floats (128 MiB of float32).
pub const DEFAULT_MAX_CHUNK_ELEMENTS: usize = 1 << 25;

/// The parameters of `mine_hard_negatives`, with its defaults (`MineParams::default()`).
///
/// Scores and margins are compared in float32, as torch compares a float32 tensor with a
/// Python float.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MineParams {
    /// Candidates ranked before this are skipped (they may be unlabelled positives).
    pub range_min: usize,
    /// Candidates ranked from this on are not considered; `None` derives it as
    /// [`default_range_max`](Self::default_range_max).
    pub range_max: Option<usize>,
    /// Candidates scoring above this are skipped.
    pub max_score: Option<f64>,
    /// Candidates scoring below this are skipped.
    pub min_score: Option<f64>,
    /// Candidates with `score + absolute_margin > min positive score` are skipped.
    pub absolute_margin: Option<f64>,
    /// Candidates with `score > p - |p| * relative_margin` (p: the query's lowest positive
    /// score) are skipped.
    pub relative_margin: Option<f64>,
    /// Negatives per query.
    pub num_negatives: usize,
    pub sampling: Sampling,
    /// Keep the positives among the candidates (for reranking evaluation sets); forces
    /// [`OutputFormat::NTuple`].
    pub include_positives: bool,
    pub output_format: OutputFormat,
    /// Add similarity scores to the output (a `scores`/`score` column instead of labels).
    pub output_scores: bool,
    /// Texts per encoding batch.
    pub batch_size: usize,
    /// Seeds the ChaCha8 generator of [`Sampling::Random`].
    pub seed: u64,
    /// The most similarity values one chunk of the query-corpus search may hold
    /// (query rows × corpus size); a chunk always has at least one query row.
    pub max_chunk_elements: usize,
    /// Show progress bars while encoding and searching.
    pub show_progress: bool,
}

impl Default for MineParams {
    fn default() -> Self {
        MineParams {
            range_min: 0,
            range_max: None,
            max_score: None,
            min_score: None,
            absolute_margin: None,
            relative_margin: None,
            num_negatives: 3,
            sampling: Sampling::Top,
            include_positives: false,
            output_format: OutputFormat::Triplet,
            output_scores: false,
            batch_size: 32,
            seed: 42,
            max_chunk_elements: DEFAULT_MAX_CHUNK_ELEMENTS,
            show_progress: true,
        }
    }
}

/// Parameters after the defaults that depend on the data are filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedParams {
    pub range_min: usize,
    pub range_max: usize,
    /// Whether `range_max` was derived rather than given.
    pub range_max_derived: bool,
    pub num_negatives: usize,
    /// The output format, [`OutputFormat::NTuple`] when positives are included.
    pub output_format: OutputFormat,
    /// Candidates retrieved per query: `range_max + max_positives + 1`, room for the positives
    /// and the query itself, which are masked out afterwards.
    pub candidate_count: usize,
}

impl MineParams {
    /// `range_max` when none is given, as sentence-transformers derives it: `range_min +
    /// num_negatives + max_positives`, or `range_min + 10 * num_negatives + max_positives` when
    /// a margin or `max_score` will skip candidates. `max_positives` is the largest number of
    /// rows sharing one anchor. `None` on overflow.
    pub fn default_range_max(&self, max_positives: usize) -> Option<usize> {
        let filtered = self.absolute_margin.is_some()
            || self.relative_margin.is_some()
            || self.max_score.is_some();
        let per_query = if filtered {
            self.num_negatives.checked_mul(10)?
        } else {
            self.num_negatives
        };
        self.range_min
            .checked_add(per_query)?
            .checked_add(max_positives)
    }

    /// Checks the parameters as sentence-transformers does (`num_negatives >= 1`, `range_min <
    /// range_max`, `num_negatives <= range_max - range_min`), plus finite thresholds and
    /// positive sizes, and fills in `range_max`. Each error names the parameter.
    pub fn validate(&self, max_positives: usize) -> Result<ResolvedParams> {
        for (name, value) in [
            ("max_score", self.max_score),
            ("min_score", self.min_score),
            ("absolute_margin", self.absolute_margin),
            ("relative_margin", self.relative_margin),
        ] {
            if let Some(value) = value.filter(|v| !v.is_finite()) {
                return Err(Error::param(
                    name,
                    format!("must be a finite number, got {name}={value}"),
                ));
            }
        }
        if self.batch_size == 0 {
            return Err(Error::param("batch_size", "must be at least 1, got 0"));
        }
        if self.max_chunk_elements == 0 {
            return Err(Error::param(
                "max_chunk_elements",
                "must be at least 1, got 0",
            ));
        }
        // range_max is derived from num_negatives, so this comes first (as in Python): a zero
        // would otherwise surface as a confusing range error.
        if self.num_negatives < 1 {
            return Err(Error::param(
                "num_negatives",
                format!(
                    "must be at least 1, got num_negatives={}",
                    self.num_negatives
                ),
            ));
        }
        let (range_max, range_max_derived) = match self.range_max {
            Some(range_max) => (range_max, false),
            None => (
                self.default_range_max(max_positives)
                    .ok_or_else(|| Error::param("range_max", "the derived range_max overflows"))?,
                true,
            ),
        };
        let range_min = self.range_min;
        if range_min >= range_max {
            return Err(Error::param(
                "range_min",
                format!(
                    "must be smaller than range_max, got range_min={range_min} and \
                     range_max={range_max}"
                ),
            ));
        }
        if self.num_negatives > range_max - range_min {
            return Err(Error::param(
                "num_negatives",
                format!(
                    "cannot mine {} negatives per query: only {} candidates remain after \
                     skipping the first range_min={range_min} of range_max={range_max}; \
                     decrease num_negatives or range_min, or increase range_max",
                    self.num_negatives,
                    range_max - range_min
                ),
            ));
        }
        let candidate_count = max_positives
            .checked_add(1)
            .and_then(|extra| range_max.checked_add(extra))
            .ok_or_else(|| Error::param("range_max", "range_max + max_positives overflows"))?;
        let output_format = if self.include_positives {
            OutputFormat::NTuple
        } else {
            self.output_format
        };
        Ok(ResolvedParams {
            range_min,
            range_max,
            range_max_derived,
            num_negatives: self.num_negatives,
            output_format,
            candidate_count,
        })
    }

    /// Warns, as sentence-transformers does, where `include_positives` changes or may undo
    /// other settings.
    pub(crate) fn warn_about_include_positives(&self) {
        if !self.include_positives {
            return;
        }
        if self.range_min != 0
            || self.range_max.is_some()
            || self.max_score.is_some()
            || self.min_score.is_some()
            || self.absolute_margin.is_some()
            || self.relative_margin.is_some()
            || self.sampling != Sampling::Top
        {
            tracing::warn!(
                "with include_positives, changing range_min, range_max, max_score, min_score, \
                 absolute_margin, relative_margin or sampling from the defaults may still \
                 discard the positives"
            );
        }
        if self.output_format != OutputFormat::NTuple {
            tracing::warn!(
                requested = self.output_format.name(),
                "with include_positives the output format is n-tuple, to keep the ranking order"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(params: &MineParams, max_positives: usize) -> String {
        params.validate(max_positives).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_python_s() {
        let p = MineParams::default();
        assert_eq!(p.range_min, 0);
        assert_eq!(p.range_max, None);
        assert_eq!(p.num_negatives, 3);
        assert_eq!(p.sampling, Sampling::Top);
        assert_eq!(p.output_format, OutputFormat::Triplet);
        assert_eq!(p.batch_size, 32);
        assert!(!p.include_positives && !p.output_scores);
        assert!(p.max_score.is_none() && p.min_score.is_none());
        assert!(p.absolute_margin.is_none() && p.relative_margin.is_none());
    }

    #[test]
    fn range_max_default_rule() {
        let mut p = MineParams {
            range_min: 2,
            num_negatives: 4,
            ..MineParams::default()
        };
        // no filter: range_min + num_negatives + max_positives
        assert_eq!(p.default_range_max(3), Some(2 + 4 + 3));
        let r = p.validate(3).unwrap();
        assert_eq!((r.range_max, r.range_max_derived), (9, true));
        assert_eq!(r.candidate_count, 9 + 3 + 1);
        // min_score alone does not widen the window (it only does with a cross-encoder)
        p.min_score = Some(0.1);
        assert_eq!(p.default_range_max(3), Some(9));
        for widen in [
            MineParams {
                max_score: Some(0.9),
                ..p.clone()
            },
            MineParams {
                absolute_margin: Some(0.0),
                ..p.clone()
            },
            MineParams {
                relative_margin: Some(0.05),
                ..p.clone()
            },
        ] {
            assert_eq!(widen.default_range_max(3), Some(2 + 40 + 3));
        }
        let given = MineParams {
            range_max: Some(7),
            ..p
        };
        let r = given.validate(3).unwrap();
        assert_eq!((r.range_max, r.range_max_derived), (7, false));
        let huge = MineParams {
            num_negatives: usize::MAX,
            max_score: Some(0.5),
            ..MineParams::default()
        };
        assert_eq!(huge.default_range_max(1), None);
        assert!(err(&huge, 1).contains("range_max"));
    }

    #[test]
    fn each_error_names_its_parameter() {
        let zero = MineParams {
            num_negatives: 0,
            ..MineParams::default()
        };
        let e = err(&zero, 1);
        assert!(
            e.contains("num_negatives") && e.contains("at least 1"),
            "{e}"
        );

        let inverted = MineParams {
            range_min: 5,
            range_max: Some(5),
            ..MineParams::default()
        };
        let e = err(&inverted, 1);
        assert!(
            e.starts_with("invalid range_min") && e.contains("range_max=5"),
            "{e}"
        );

        let narrow = MineParams {
            range_min: 2,
            range_max: Some(4),
            num_negatives: 3,
            ..MineParams::default()
        };
        let e = err(&narrow, 1);
        assert!(
            e.starts_with("invalid num_negatives") && e.contains("only 2 candidates"),
            "{e}"
        );

        for (name, p) in [
            (
                "max_score",
                MineParams {
                    max_score: Some(f64::NAN),
                    ..MineParams::default()
                },
            ),
            (
                "min_score",
                MineParams {
                    min_score: Some(f64::NEG_INFINITY),
                    ..MineParams::default()
                },
            ),
            (
                "absolute_margin",
                MineParams {
                    absolute_margin: Some(f64::INFINITY),
                    ..MineParams::default()
                },
            ),
            (
                "relative_margin",
                MineParams {
                    relative_margin: Some(f64::NAN),
                    ..MineParams::default()
                },
            ),
            (
                "batch_size",
                MineParams {
                    batch_size: 0,
                    ..MineParams::default()
                },
            ),
            (
                "max_chunk_elements",
                MineParams {
                    max_chunk_elements: 0,
                    ..MineParams::default()
                },
            ),
        ] {
            let e = err(&p, 1);
            assert!(e.starts_with(&format!("invalid {name}:")), "{e}");
        }
    }

    #[test]
    fn include_positives_forces_n_tuple() {
        let p = MineParams {
            include_positives: true,
            output_format: OutputFormat::LabeledPair,
            ..MineParams::default()
        };
        assert_eq!(p.validate(1).unwrap().output_format, OutputFormat::NTuple);
        let q = MineParams {
            output_format: OutputFormat::LabeledPair,
            ..MineParams::default()
        };
        assert_eq!(
            q.validate(1).unwrap().output_format,
            OutputFormat::LabeledPair
        );
    }

    #[test]
    fn serde_names_match_python_s() {
        let p: MineParams = serde_json::from_str(
            r#"{"sampling": "random", "output_format": "n-tuple", "range_max": 20}"#,
        )
        .unwrap();
        assert_eq!(p.sampling, Sampling::Random);
        assert_eq!(p.output_format, OutputFormat::NTuple);
        assert_eq!(p.range_max, Some(20));
        for f in [
            OutputFormat::Triplet,
            OutputFormat::NTuple,
            OutputFormat::LabeledPair,
            OutputFormat::LabeledList,
        ] {
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.name()));
        }
        assert!(serde_json::from_str::<MineParams>(r#"{"margin": 0.1}"#).is_err());
    }
}
