//! The readers against the real GLUE / SNLI files, fetched from the hub (`HF_ENDPOINT`; CI
//! serves the project's offline mirror on loopback). They fail, naming the endpoint, when it
//! cannot be reached.

use std::path::PathBuf;

use data::{
    denoising_pairs, hard_triplets, labelled_pairs, nli_retrieval, read_nli_pairs,
    read_scored_pairs, read_text_column, read_unique_texts, scored_pairs, soft_triplets,
    split_words, Error, NeutralPolicy, NliColumns, NliLabel, ScoredPairColumns, UnlabeledRows,
};

/// `file` of hub dataset `repo`, fetched through the hub client from `HF_ENDPOINT` as users
/// get it. `file` is given as `resolve/main/...` below the dataset's repo, as on the hub.
fn mirror_file(relative: &str) -> PathBuf {
    let rest = relative
        .strip_prefix("datasets/")
        .expect("a datasets/ path");
    let (repo, file) = rest
        .split_once("/resolve/main/")
        .expect("a datasets/{repo}/resolve/main/{file} path");
    test_support::dataset_file(repo, file)
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
    assert_eq!(read.skipped_unlabeled, 0);
    let entailment = read
        .pairs
        .iter()
        .filter(|p| p.label == NliLabel::Entailment)
        .count();
    if read.pairs.len() == MNLI_SLICE_ROWS {
        assert_eq!(entailment, 13_784);
    } else {
        assert_eq!(
            read.pairs.len(),
            MNLI_HUB_ROWS,
            "neither the slice nor the hub's file"
        );
    }
}

/// The project's offline mirror holds a 41,235-row slice of GLUE MNLI train (exact derived
/// counts below are for it); the hub's file has 392,702 rows.
const MNLI_SLICE_ROWS: usize = 41_235;
const MNLI_HUB_ROWS: usize = 392_702;

#[test]
fn snli_validation() {
    let path = mirror_file(
        "datasets/stanfordnlp/snli/resolve/main/plain_text/validation-00000-of-00001.parquet",
    );
    let read = read_nli_pairs(&path, &NliColumns::GLUE, UnlabeledRows::Skip).unwrap();
    // SNLI 1.0 dev has 10,000 rows, 158 of them without a gold label (-1); the project's
    // mirror holds only the 9,842 labelled ones.
    assert!(
        [0, 158].contains(&read.skipped_unlabeled),
        "{} unlabelled rows",
        read.skipped_unlabeled
    );
    assert_eq!(read.pairs.len(), 9_842);
    let counts = NliLabel::ALL.map(|label| read.pairs.iter().filter(|p| p.label == label).count());
    assert_eq!(counts, [3_329, 3_235, 3_278]);
    if read.skipped_unlabeled == 0 {
        let strict = read_nli_pairs(&path, &NliColumns::GLUE, UnlabeledRows::Reject).unwrap();
        assert_eq!(strict, read);
    }
}

#[test]
fn mnli_train_builders() {
    let path = mirror_file("datasets/nyu-mll/glue/resolve/main/mnli/train-00000-of-00001.parquet");
    let pairs = read_nli_pairs(&path, &NliColumns::GLUE, UnlabeledRows::Skip)
        .unwrap()
        .pairs;
    let entailment = pairs
        .iter()
        .filter(|p| p.label == NliLabel::Entailment)
        .count();
    assert_eq!(labelled_pairs(&pairs, None).len(), pairs.len());
    assert_eq!(labelled_pairs(&pairs, Some(10_000)).len(), 10_000);
    let scored = scored_pairs(&pairs, NeutralPolicy::AsZero, None);
    assert_eq!(scored.len(), pairs.len());
    assert_eq!(scored.iter().filter(|p| p.score == 1.0).count(), entailment);
    let dropped = scored_pairs(&pairs, NeutralPolicy::Drop, None);
    let neutral = pairs
        .iter()
        .filter(|p| p.label == NliLabel::Neutral)
        .count();
    assert_eq!(dropped.len(), pairs.len() - neutral);

    let soft = soft_triplets(&pairs, None, 42);
    assert_eq!(soft.len(), entailment);
    assert_eq!(soft, soft_triplets(&pairs, None, 42));
    assert_eq!(soft_triplets(&pairs, Some(1_000), 42).len(), 1_000);
    assert!(soft.iter().all(|t| t.negative != t.positive));

    let hard = hard_triplets(&pairs, None);
    println!("mnli train: {} hard triplets", hard.len());
    if pairs.len() == MNLI_SLICE_ROWS {
        assert_eq!(hard.len(), HARD_TRIPLETS);
    }
    assert!(hard.iter().all(|t| t.negative != t.positive));
}

#[test]
fn snli_validation_retrieval_task() {
    let path = mirror_file(
        "datasets/stanfordnlp/snli/resolve/main/plain_text/validation-00000-of-00001.parquet",
    );
    let pairs = read_nli_pairs(&path, &NliColumns::GLUE, UnlabeledRows::Skip)
        .unwrap()
        .pairs;
    let task = nli_retrieval(&pairs, None).unwrap();
    let relevant: usize = task.relevant().iter().map(Vec::len).sum();
    println!(
        "snli validation retrieval: {} queries, {} documents, {} relevant pairs, {} premises dropped",
        task.len(),
        task.corpus().len(),
        relevant,
        task.dropped_queries()
    );
    assert_eq!(
        (
            task.len(),
            task.corpus().len(),
            relevant,
            task.dropped_queries()
        ),
        SNLI_VALIDATION_RETRIEVAL
    );
    let capped = nli_retrieval(&pairs, Some(1_000)).unwrap();
    assert_eq!(capped.len(), 1_000);
    assert_eq!(capped.queries(), &task.queries()[..1_000]);
    assert_eq!(capped.corpus().len(), task.corpus().len());
}

#[test]
fn unique_sentences_of_nli_and_sts_files() {
    let files = [
        (
            "datasets/stanfordnlp/snli/resolve/main/plain_text/validation-00000-of-00001.parquet",
            ["premise", "hypothesis"],
        ),
        // Test split: scores are -1 (no gold), which this reader never reads.
        (
            "datasets/nyu-mll/glue/resolve/main/stsb/test-00000-of-00001.parquet",
            ["sentence1", "sentence2"],
        ),
    ];
    for (file, columns) in files {
        let path = mirror_file(file);
        let texts = read_unique_texts(&path, &columns).unwrap();
        // The same texts, read column by column and de-duplicated here.
        let [first, second] = columns.map(|c| read_text_column(&path, c).unwrap());
        let mut seen = std::collections::HashSet::new();
        let expected: Vec<&String> = first
            .iter()
            .zip(&second)
            .flat_map(|(a, b)| [a, b])
            .filter(|t| !t.trim().is_empty() && seen.insert(t.as_str()))
            .collect();
        println!(
            "{file}: {} rows, {} distinct sentences",
            first.len(),
            texts.len()
        );
        assert_eq!(texts.iter().collect::<Vec<_>>(), expected, "{file}");
        assert!(texts.len() > first.len() && texts.len() <= 2 * first.len());

        let noisy = denoising_pairs(texts[..2_000].to_vec(), 0.6, 42).unwrap();
        let (kept, all) = noisy.columns()[0]
            .iter()
            .zip(&noisy.columns()[1])
            .fold((0, 0), |(k, a), (n, o)| {
                (k + split_words(n).len(), a + split_words(o).len())
            });
        let rate = kept as f64 / all as f64;
        // 0.4 per word, a little more for one-word sentences that keep their word.
        assert!((0.38..0.45).contains(&rate), "{file}: keep rate {rate}");
    }
}

/// Measured on the mirror's SNLI validation copy (9,842 labelled rows, 3,319 distinct
/// premises): (queries, corpus documents, relevant pairs, premises without an entailment
/// hypothesis). Cross-checked with pyarrow + plain Python (dict/set dedup of the same rows).
const SNLI_VALIDATION_RETRIEVAL: (usize, usize, usize, usize) = (3_074, 9_666, 3_327, 245);

/// Measured on the mirror's MNLI train copy (41,235 rows).
const HARD_TRIPLETS: usize = 1_448;
