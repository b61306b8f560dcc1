//! The readers against the real GLUE / SNLI files of the local hub mirror.
//!
//! The mirror lives in `shared/hf-mirror` beside the workspace checkout; these tests
//! fail (they do not skip) when it is missing.

use std::path::PathBuf;

use data::{
    hard_triplets, labelled_pairs, read_nli_pairs, read_scored_pairs, read_text_column,
    scored_pairs, soft_triplets, Error, NeutralPolicy, NliColumns, NliLabel, ScoredPairColumns,
    UnlabeledRows,
};

const MIRROR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/hf-mirror");

fn mirror_file(relative: &str) -> PathBuf {
    let root = PathBuf::from(MIRROR);
    assert!(
        root.is_dir(),
        "hub mirror not found at {}: clone the workspace with `shared/` beside it",
        root.display()
    );
    let path = root.join(relative);
    assert!(
        path.is_file(),
        "hub mirror file not found: {}",
        path.display()
    );
    path
}

fn stsb(split: &str) -> PathBuf {
    mirror_file(&format!(
        "datasets/nyu-mll/glue/resolve/main/stsb/{split}-00000-of-00001.parquet"
    ))
}

#[test]
fn stsb_train_and_validation() {
    for (split, rows) in [("train", 5_749), ("validation", 1_500)] {
        let pairs = read_scored_pairs(stsb(split), &ScoredPairColumns::GLUE).unwrap();
        assert_eq!(pairs.len(), rows, "{split}");
        assert!(
            pairs.iter().all(|p| (0.0..=5.0).contains(&p.score)),
            "{split}"
        );
        assert!(pairs
            .iter()
            .all(|p| !p.sentence1.is_empty() && !p.sentence2.is_empty()));
    }
}

#[test]
fn stsb_test_has_no_gold_labels() {
    let path = stsb("test");
    let err = read_scored_pairs(&path, &ScoredPairColumns::GLUE).unwrap_err();
    assert!(matches!(err, Error::NoGoldScore { row: 0, .. }), "{err:?}");
    assert!(err.to_string().contains("no gold labels"), "{err}");
    // The sentences themselves are readable.
    assert_eq!(read_text_column(&path, "sentence1").unwrap().len(), 1_379);
}

#[test]
fn mnli_train_label_counts() {
    let path = mirror_file("datasets/nyu-mll/glue/resolve/main/mnli/train-00000-of-00001.parquet");
    let read = read_nli_pairs(&path, &NliColumns::GLUE, UnlabeledRows::Reject).unwrap();
    assert_eq!(read.pairs.len(), 41_235);
    assert_eq!(read.skipped_unlabeled, 0);
    let entailment = read
        .pairs
        .iter()
        .filter(|p| p.label == NliLabel::Entailment)
        .count();
    assert_eq!(entailment, 13_784);
}

#[test]
fn snli_validation() {
    let path = mirror_file(
        "datasets/stanfordnlp/snli/resolve/main/plain_text/validation-00000-of-00001.parquet",
    );
    let read = read_nli_pairs(&path, &NliColumns::GLUE, UnlabeledRows::Skip).unwrap();
    // Measured on the mirror's copy: 9,842 rows and no -1 labels. (Upstream SNLI 1.0 dev has
    // 10,000 rows, 158 of them without gold label; this copy holds only the labelled ones.
    // Skipping -1 rows is covered by the fixtures in `readers.rs`.)
    assert_eq!(read.skipped_unlabeled, 0);
    assert_eq!(read.pairs.len(), 9_842);
    let counts = NliLabel::ALL.map(|label| read.pairs.iter().filter(|p| p.label == label).count());
    assert_eq!(counts, [3_329, 3_235, 3_278]);
    let strict = read_nli_pairs(&path, &NliColumns::GLUE, UnlabeledRows::Reject).unwrap();
    assert_eq!(strict, read);
}

#[test]
fn mnli_train_builders() {
    let path = mirror_file("datasets/nyu-mll/glue/resolve/main/mnli/train-00000-of-00001.parquet");
    let pairs = read_nli_pairs(&path, &NliColumns::GLUE, UnlabeledRows::Skip)
        .unwrap()
        .pairs;
    assert_eq!(labelled_pairs(&pairs, None).len(), 41_235);
    assert_eq!(labelled_pairs(&pairs, Some(10_000)).len(), 10_000);
    let scored = scored_pairs(&pairs, NeutralPolicy::AsZero, None);
    assert_eq!(scored.len(), 41_235);
    assert_eq!(scored.iter().filter(|p| p.score == 1.0).count(), 13_784);
    let dropped = scored_pairs(&pairs, NeutralPolicy::Drop, None);
    let neutral = pairs
        .iter()
        .filter(|p| p.label == NliLabel::Neutral)
        .count();
    assert_eq!(dropped.len(), 41_235 - neutral);

    let soft = soft_triplets(&pairs, None, 42);
    assert_eq!(soft.len(), 13_784);
    assert_eq!(soft, soft_triplets(&pairs, None, 42));
    assert_eq!(soft_triplets(&pairs, Some(1_000), 42).len(), 1_000);
    assert!(soft.iter().all(|t| t.negative != t.positive));

    let hard = hard_triplets(&pairs, None);
    println!("mnli mirror train: {} hard triplets", hard.len());
    assert_eq!(hard.len(), HARD_TRIPLETS);
    assert!(hard.iter().all(|t| t.negative != t.positive));
}

/// Measured on the mirror's MNLI train copy (41,235 rows).
const HARD_TRIPLETS: usize = 1_448;
