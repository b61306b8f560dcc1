//! Short names of the public datasets this project knows, mapped to their files on the
//! Hugging Face hub (the parquet layout the hub serves). Naming only: downloading is the
//! `hub` crate's job.

/// A dataset file in a hub dataset repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubDatasetFile {
    /// Dataset repository, e.g. `nyu-mll/glue`.
    pub repo: &'static str,
    /// Path inside the repository, e.g. `stsb/validation-00000-of-00001.parquet`.
    pub path: String,
}

/// A known dataset: its short name, hub repo, folder and splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownDataset {
    pub name: &'static str,
    pub repo: &'static str,
    folder: &'static str,
    pub splits: &'static [&'static str],
    /// What `cargo xtask fetch-data` downloads: what training and evaluation use.
    pub fetch_splits: &'static [&'static str],
    pub kind: DatasetKind,
}

/// What the rows of a known dataset are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetKind {
    /// premise, hypothesis, label (0 entailment, 1 neutral, 2 contradiction)
    Nli,
    /// sentence1, sentence2, label (a similarity score)
    ScoredPairs,
}

pub const KNOWN_DATASETS: [KnownDataset; 3] = [
    KnownDataset {
        name: "glue/stsb",
        repo: "nyu-mll/glue",
        folder: "stsb",
        splits: &["train", "validation", "test"],
        fetch_splits: &["train", "validation", "test"],
        kind: DatasetKind::ScoredPairs,
    },
    KnownDataset {
        name: "glue/mnli",
        repo: "nyu-mll/glue",
        folder: "mnli",
        splits: &[
            "train",
            "validation_matched",
            "validation_mismatched",
            "test_matched",
            "test_mismatched",
        ],
        fetch_splits: &["train", "validation_matched"],
        kind: DatasetKind::Nli,
    },
    KnownDataset {
        name: "snli",
        repo: "stanfordnlp/snli",
        folder: "plain_text",
        splits: &["train", "validation", "test"],
        fetch_splits: &["train", "validation", "test"],
        kind: DatasetKind::Nli,
    },
];

impl KnownDataset {
    pub fn find(name: &str) -> Option<&'static KnownDataset> {
        let name = name
            .strip_prefix("nyu-mll/")
            .or_else(|| name.strip_prefix("stanfordnlp/"))
            .unwrap_or(name);
        KNOWN_DATASETS.iter().find(|d| d.name == name)
    }

    /// The file of `split`, or an error message listing the valid splits.
    pub fn file(&self, split: &str) -> Result<HubDatasetFile, String> {
        if !self.splits.contains(&split) {
            return Err(format!(
                "dataset {} has no split {split:?} (splits: {})",
                self.name,
                self.splits.join(", ")
            ));
        }
        Ok(HubDatasetFile {
            repo: self.repo,
            path: format!("{}/{split}-00000-of-00001.parquet", self.folder),
        })
    }
}

/// Names accepted by [`KnownDataset::find`], for error messages.
pub fn known_dataset_names() -> Vec<&'static str> {
    KNOWN_DATASETS.iter().map(|d| d.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_names_to_hub_files() {
        let stsb = KnownDataset::find("glue/stsb").unwrap();
        assert_eq!(
            stsb.file("validation").unwrap(),
            HubDatasetFile {
                repo: "nyu-mll/glue",
                path: "stsb/validation-00000-of-00001.parquet".into()
            }
        );
        assert_eq!(
            KnownDataset::find("stanfordnlp/snli")
                .unwrap()
                .file("test")
                .unwrap()
                .path,
            "plain_text/test-00000-of-00001.parquet"
        );
        assert!(stsb
            .file("dev")
            .unwrap_err()
            .contains("train, validation, test"));
        assert!(KnownDataset::find("imdb").is_none());
    }
}
