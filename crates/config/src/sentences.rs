//! `format = "sentences"`: single sentences from a hub dataset, a `.txt` file or one column of
//! a user file, made into training rows by `data.pairing`.

use std::path::Path;

use data::{ColumnMapping, DatasetKind, KnownDataset, NliColumns, ScoredPairColumns, TrainingSet};

use crate::error::{Error, Result};
use crate::pairing::SentencePairing;
use crate::train::DataConfig;

/// The rows of `config` (whose format is `sentences`) read from `path`, the resolved dataset
/// file; `seed` (the training seed) draws the denoising noise and the contrastive tension
/// shuffle.
pub(crate) fn sentence_set(config: &DataConfig, path: &Path, seed: u64) -> Result<TrainingSet> {
    let mut sentences = read_sentences(config, path)?;
    if let Some(n) = config.max_rows {
        sentences.truncate(n);
    }
    let set = match config.pairing {
        None => data::sentence_rows(sentences)?,
        Some(SentencePairing::Denoising { deletion_ratio }) => {
            data::denoising_pairs(sentences, deletion_ratio, seed)?
        }
        Some(SentencePairing::Identical) => data::identical_pairs(sentences)?,
        Some(SentencePairing::ContrastiveTension { pos_neg_ratio }) => {
            data::contrastive_tension_pairs(sentences, pos_neg_ratio, seed)?
        }
    };
    Ok(set)
}

/// The sentences, as [`crate::DataFormat::Sentences`] documents for each kind of source.
fn read_sentences(config: &DataConfig, path: &Path) -> Result<Vec<String>> {
    if let Some(known) = KnownDataset::find(&config.dataset) {
        let columns = match known.kind {
            DatasetKind::Nli => [NliColumns::GLUE.premise, NliColumns::GLUE.hypothesis],
            DatasetKind::ScoredPairs => [
                ScoredPairColumns::GLUE.sentence1,
                ScoredPairColumns::GLUE.sentence2,
            ],
        };
        return Ok(data::read_unique_texts(path, &columns)?);
    }
    if is_text_file(Path::new(&config.dataset)) {
        return Ok(data::read_sentence_lines(path)?);
    }
    let mapping = match &config.columns {
        Some(columns) => columns
            .parse()
            .map_err(|e| Error::Dataset(format!("data.columns: {e}")))?,
        None => ColumnMapping::identity(),
    };
    Ok(data::read_user_sentences(path, &mapping)?)
}

/// Whether `path` names a sentence-per-line file (`.txt`, any case).
pub(crate) fn is_text_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("txt"))
}
