//! `data.pairing`: how single sentences (`format = "sentences"`) become training rows for the
//! unsupervised recipes. A tagged table (`type = "..."`) with the sentence-transformers
//! defaults; the rows themselves are built by the `data` crate.

use serde::{Deserialize, Serialize};

use crate::train::BatchSampler;

/// The rows made from each sentence; without a pairing the rows are the sentences alone (one
/// column `text`, no target).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SentencePairing {
    /// TSDAE: columns `noisy` (the sentence with each word deleted with probability
    /// `deletion_ratio`, at least one word kept) and `original`, no target. The noise is drawn
    /// once when the data is loaded, per row from (training seed, row index), so a resumed run
    /// sees the same noisy texts; every epoch sees them too. `deletion_ratio` in `[0, 1)`,
    /// default 0.6 (the TSDAE paper's and sentence-transformers').
    Denoising {
        #[serde(default = "defaults::deletion_ratio")]
        deletion_ratio: f64,
    },
    /// SimCSE: columns `anchor` and `positive` holding the same sentence, no target (for
    /// MultipleNegativesRankingLoss, or ContrastiveTensionLossInBatchNegatives).
    #[serde(deserialize_with = "crate::loss::no_fields")]
    Identical,
    /// sentence-transformers' `ContrastiveTensionDataLoader` rows: the sentences shuffled with
    /// the training seed, then row `k` is an identical pair `(s_i, s_i)` scored 1.0 when
    /// `k % pos_neg_ratio == 0`, else `(s_i, s_{i+1})` scored 0.0 (two sentences used);
    /// columns `sentence1`, `sentence2` and a score target. `pos_neg_ratio` ≥ 1, default 8.
    ///
    /// The loader puts one identical pair first in every group of `pos_neg_ratio` rows of a
    /// batch; the rows keep that structure only when batched in order, so validation requires
    /// `training.batch_sampler = "sequential"`, `training.group_by_length = false` and a
    /// `training.batch_size` that is a multiple of `pos_neg_ratio` (the loader's own check).
    /// Unlike the loader, which reshuffles every epoch, the rows are built once.
    ContrastiveTension {
        #[serde(default = "defaults::pos_neg_ratio")]
        pos_neg_ratio: usize,
    },
}

impl SentencePairing {
    /// Checks the pairing's own values and, for contrastive tension, the batching it needs.
    /// The message starts with the key below `data.pairing`.
    pub(crate) fn validate(
        &self,
        batch_sampler: BatchSampler,
        batch_size: usize,
        group_by_length: bool,
    ) -> Result<(), String> {
        match *self {
            Self::Denoising { deletion_ratio } => {
                if !(0.0..1.0).contains(&deletion_ratio) {
                    return Err(format!(
                        "deletion_ratio must be in [0, 1), got {deletion_ratio}"
                    ));
                }
            }
            Self::Identical => {}
            Self::ContrastiveTension { pos_neg_ratio } => {
                let why = "sentence-transformers' ContrastiveTensionDataLoader puts one \
                           identical pair first in every group of pos_neg_ratio rows, and only \
                           in-order batches keep that structure";
                if pos_neg_ratio == 0 {
                    return Err("pos_neg_ratio must be at least 1".into());
                }
                if batch_sampler != BatchSampler::Sequential {
                    return Err(format!(
                        "type = \"contrastive_tension\" needs training.batch_sampler = \
                         \"sequential\", got {}: {why}",
                        sampler_name(batch_sampler)
                    ));
                }
                if group_by_length {
                    return Err(format!(
                        "type = \"contrastive_tension\" needs training.group_by_length = false: \
                         {why}"
                    ));
                }
                if batch_size % pos_neg_ratio != 0 {
                    return Err(format!(
                        "pos_neg_ratio {pos_neg_ratio} must divide training.batch_size \
                         {batch_size}: {why}"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The config spelling of a batch sampler (`"no_duplicates"`), from its serde name.
fn sampler_name(sampler: BatchSampler) -> String {
    toml::Value::try_from(sampler).map_or_else(|_| format!("{sampler:?}"), |v| v.to_string())
}

mod defaults {
    pub fn deletion_ratio() -> f64 {
        data::DEFAULT_DELETION_RATIO
    }
    pub fn pos_neg_ratio() -> usize {
        data::DEFAULT_POS_NEG_RATIO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SentencePairing, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn every_variant_parses_with_defaults_and_round_trips() {
        let cases = [
            (
                r#"type = "denoising""#,
                SentencePairing::Denoising {
                    deletion_ratio: 0.6,
                },
            ),
            (r#"type = "identical""#, SentencePairing::Identical),
            (
                r#"type = "contrastive_tension""#,
                SentencePairing::ContrastiveTension { pos_neg_ratio: 8 },
            ),
            (
                "type = \"denoising\"\ndeletion_ratio = 0.3",
                SentencePairing::Denoising {
                    deletion_ratio: 0.3,
                },
            ),
            (
                "type = \"contrastive_tension\"\npos_neg_ratio = 4",
                SentencePairing::ContrastiveTension { pos_neg_ratio: 4 },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).unwrap(), expected, "{text}");
            let saved = toml::to_string(&expected).unwrap();
            assert_eq!(parse(&saved).unwrap(), expected, "{saved}");
        }
    }

    #[test]
    fn unknown_keys_and_types_are_rejected() {
        for text in [
            "type = \"identical\"\ndeletion_ratio = 0.5",
            "type = \"denoising\"\nratio = 0.5",
            "type = \"contrastive_tension\"\npos_neg_ratio = -1",
            "type = \"dropout\"",
        ] {
            assert!(parse(text).is_err(), "accepted: {text}");
        }
    }

    #[test]
    fn validation_names_the_key_and_the_reason() {
        let denoising = |r| SentencePairing::Denoising { deletion_ratio: r };
        for bad in [1.0, -0.1, f64::NAN] {
            let err = denoising(bad)
                .validate(BatchSampler::NoDuplicates, 32, false)
                .unwrap_err();
            assert!(err.starts_with("deletion_ratio must be in [0, 1)"), "{err}");
        }
        assert!(denoising(0.0)
            .validate(BatchSampler::Shuffle, 32, true)
            .is_ok());
        let ct = |r| SentencePairing::ContrastiveTension { pos_neg_ratio: r };
        assert!(ct(8).validate(BatchSampler::Sequential, 32, false).is_ok());
        let err = ct(8)
            .validate(BatchSampler::NoDuplicates, 32, false)
            .unwrap_err();
        assert!(
            err.contains("\"sequential\", got \"no_duplicates\"")
                && err.contains("one identical pair first"),
            "{err}"
        );
        let err = ct(8)
            .validate(BatchSampler::Sequential, 32, true)
            .unwrap_err();
        assert!(err.contains("group_by_length"), "{err}");
        let err = ct(8)
            .validate(BatchSampler::Sequential, 12, false)
            .unwrap_err();
        assert!(err.contains("must divide training.batch_size 12"), "{err}");
        let err = ct(0)
            .validate(BatchSampler::Sequential, 12, false)
            .unwrap_err();
        assert!(err.starts_with("pos_neg_ratio must be at least 1"), "{err}");
    }
}
