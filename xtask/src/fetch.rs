//! `cargo xtask fetch-model`: download a model into the Hugging Face cache.

use anyhow::{Context, Result};

pub fn fetch_model(model: &str) -> Result<()> {
    let client = hub::HubClient::from_env()?;
    let dir = hub::resolve_model(&client, model).with_context(|| format!("fetching {model}"))?;
    println!("{model}: {}", dir.display());
    Ok(())
}

/// `cargo xtask fetch-data`: download the parquet files of known datasets into the Hugging
/// Face cache, check each (readable, expected columns and types) and print its row count.
/// A file the endpoint does not have is reported and skipped.
pub fn fetch_data(names: &[String]) -> Result<()> {
    let client = hub::HubClient::from_env()?;
    let mut missing = 0;
    for name in names {
        let known = data::KnownDataset::find(name).with_context(|| {
            format!(
                "unknown dataset {name:?} (known: {})",
                data::known_dataset_names().join(", ")
            )
        })?;
        for split in known.fetch_splits {
            // The repo and file the trainer resolves this split to; fetched with
            // `get_optional` so a file the endpoint lacks is skipped, not an error.
            let (repo, file) = config::known_dataset_file(known, split)?;
            let Some(path) = client
                .get_optional(&repo, &file)
                .with_context(|| format!("fetching {name} {split}"))?
            else {
                println!(
                    "{:<10} {:<19} not on the endpoint, skipped ({}/{})",
                    known.name, split, known.repo, file
                );
                missing += 1;
                continue;
            };
            let rows = count_valid_rows(known.kind, &path)
                .with_context(|| format!("checking {name} {split}"))?;
            println!(
                "{:<10} {:<19} {:>9} rows  {}",
                known.name,
                split,
                group_thousands(rows),
                path.display()
            );
        }
    }
    if missing > 0 {
        println!("{missing} file(s) skipped: the endpoint does not have them");
    }
    Ok(())
}

fn count_valid_rows(kind: data::DatasetKind, path: &std::path::Path) -> Result<usize> {
    Ok(match kind {
        data::DatasetKind::Nli => {
            // GLUE and SNLI mark rows without a gold label with -1 (all of a test split).
            let read =
                data::read_nli_pairs(path, &data::NliColumns::GLUE, data::UnlabeledRows::Skip)?;
            read.pairs.len() + read.skipped_unlabeled
        }
        data::DatasetKind::ScoredPairs => {
            match data::read_scored_pairs(path, &data::ScoredPairColumns::GLUE) {
                Ok(pairs) => pairs.len(),
                // Test splits have no gold scores (-1): check the text columns instead.
                Err(data::Error::NoGoldScore { .. }) => {
                    let first = data::read_text_column(path, "sentence1")?;
                    let second = data::read_text_column(path, "sentence2")?;
                    anyhow::ensure!(
                        first.len() == second.len(),
                        "sentence1 and sentence2 differ in length"
                    );
                    first.len()
                }
                Err(other) => return Err(other.into()),
            }
        }
    })
}

fn group_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
