//! Training rows made from single sentences, for the unsupervised recipes: the sentences as
//! they are, (noisy, original) pairs for TSDAE, identical pairs for SimCSE, and
//! sentence-transformers' Contrastive Tension rows.
//!
//! Every builder is deterministic: randomness comes from the seed alone (per row for the
//! noise, see [`row_rng`]), so reloading the data for a resumed run gives the same rows.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::noise::{delete_words, row_rng};
use crate::training_set::{TargetColumn, TrainingSet};

/// The sentence-transformers (and TSDAE paper) default deletion ratio.
pub const DEFAULT_DELETION_RATIO: f64 = 0.6;
/// sentence-transformers' `ContrastiveTensionDataLoader` default `pos_neg_ratio`.
pub const DEFAULT_POS_NEG_RATIO: usize = 8;

/// One column `text`, no target.
pub fn sentence_rows(sentences: Vec<String>) -> Result<TrainingSet> {
    TrainingSet::new(vec!["text".into()], vec![sentences], TargetColumn::None)
}

/// TSDAE rows: columns `noisy` (the sentence with words deleted by [`delete_words`] at
/// `deletion_ratio`, drawn with [`row_rng`]`(seed, row)`) and `original`, no target.
///
/// The noise is drawn once, here, as the book builds its damaged dataset once (TSDAE's
/// `DenoisingAutoEncoderDataset` redraws it each time a row is read); every epoch sees the
/// same noisy texts. `deletion_ratio` must lie in `[0, 1)`.
pub fn denoising_pairs(
    sentences: Vec<String>,
    deletion_ratio: f64,
    seed: u64,
) -> Result<TrainingSet> {
    if !(0.0..1.0).contains(&deletion_ratio) {
        return Err(Error::TrainingSet {
            reason: format!("deletion ratio {deletion_ratio} is outside [0, 1)"),
        });
    }
    let noisy: Vec<String> = sentences
        .par_iter()
        .enumerate()
        .map(|(row, text)| delete_words(text, deletion_ratio, &mut row_rng(seed, row as u64)))
        .collect();
    TrainingSet::new(
        vec!["noisy".into(), "original".into()],
        vec![noisy, sentences],
        TargetColumn::None,
    )
}

/// SimCSE rows: columns `anchor` and `positive` holding the same sentence, no target (for
/// MultipleNegativesRankingLoss, or ContrastiveTensionLossInBatchNegatives); dropout makes
/// the two embeddings differ.
pub fn identical_pairs(sentences: Vec<String>) -> Result<TrainingSet> {
    TrainingSet::new(
        vec!["anchor".into(), "positive".into()],
        vec![sentences.clone(), sentences],
        TargetColumn::None,
    )
}

/// The rows of sentence-transformers' `ContrastiveTensionDataLoader`: columns `sentence1`,
/// `sentence2` and [`TargetColumn::Scores`].
///
/// The sentences are shuffled with a [`ChaCha8Rng`] seeded by `seed`, then walked: row `k` is
/// the identical pair `(s_i, s_i)` scored 1.0 when `k % pos_neg_ratio == 0`, else the pair
/// `(s_i, s_{i+1})` scored 0.0, which consumes two sentences; the walk stops when fewer than
/// two sentences remain (as the loader's `while sentence_idx + 1 < len`).
///
/// The loader builds batches of `batch_size` rows (a multiple of `pos_neg_ratio`), so every
/// group of `pos_neg_ratio` rows starts with its one identical pair. These rows keep that
/// structure only when batched in order (`training.batch_sampler = "sequential"`, no length
/// grouping) with such a batch size. Unlike the loader, which reshuffles every epoch, the
/// rows are drawn once: every epoch sees the same pairs. `pos_neg_ratio` must be at least 1.
pub fn contrastive_tension_pairs(
    mut sentences: Vec<String>,
    pos_neg_ratio: usize,
    seed: u64,
) -> Result<TrainingSet> {
    if pos_neg_ratio == 0 {
        return Err(Error::TrainingSet {
            reason: "contrastive tension pos_neg_ratio must be at least 1".into(),
        });
    }
    sentences.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let (mut first, mut second, mut scores) = (Vec::new(), Vec::new(), Vec::new());
    let mut i = 0;
    while i + 1 < sentences.len() {
        let positive = first.len() % pos_neg_ratio == 0;
        let j = if positive { i } else { i + 1 };
        first.push(sentences[i].clone());
        second.push(sentences[j].clone());
        scores.push(if positive { 1.0 } else { 0.0 });
        i = j + 1;
    }
    TrainingSet::new(
        vec!["sentence1".into(), "sentence2".into()],
        vec![first, second],
        TargetColumn::Scores(scores),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::noise::split_words;

    fn sentences(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("sentence number {i} .")).collect()
    }

    #[test]
    fn denoising_rows_are_per_row_deterministic() {
        let set = denoising_pairs(sentences(30), 0.6, 5).unwrap();
        assert_eq!(set.column_names(), ["noisy", "original"]);
        assert_eq!(set.target(), &TargetColumn::None);
        assert_eq!(set.columns()[1], sentences(30));
        // Row 7's noise depends on its index and text only, not on the other rows.
        let mut others = vec!["a b c d e f".to_string(); 7];
        others.push(sentences(30)[7].clone());
        let other = denoising_pairs(others, 0.6, 5).unwrap();
        assert_eq!(set.columns()[0][7], other.columns()[0][7]);
        assert_eq!(
            set.columns()[0][7],
            delete_words(&sentences(30)[7], 0.6, &mut row_rng(5, 7))
        );
        for (noisy, original) in set.columns()[0].iter().zip(&set.columns()[1]) {
            assert!(!split_words(noisy).is_empty());
            assert!(split_words(noisy).len() <= split_words(original).len());
        }
        for bad in [1.0, -0.1, f64::NAN] {
            let err = denoising_pairs(sentences(3), bad, 5)
                .unwrap_err()
                .to_string();
            assert!(err.contains("deletion ratio"), "{err}");
        }
    }

    #[test]
    fn identical_rows_repeat_the_sentence() {
        let set = identical_pairs(sentences(3)).unwrap();
        assert_eq!(set.column_names(), ["anchor", "positive"]);
        assert_eq!(set.row_texts(2), [sentences(3)[2].as_str(); 2]);
        let set = sentence_rows(sentences(3)).unwrap();
        assert_eq!(set.column_names(), ["text"]);
    }

    #[test]
    fn contrastive_tension_rows_follow_the_loader() {
        let n = 23;
        let set = contrastive_tension_pairs(sentences(n), 4, 1).unwrap();
        assert_eq!(set.column_names(), ["sentence1", "sentence2"]);
        let TargetColumn::Scores(scores) = set.target() else {
            panic!("scores expected");
        };
        // Groups of 4 rows use 1 + 3 × 2 = 7 sentences: 3 groups use 21, then one identical
        // pair (sentence 22) and no pair for the last sentence.
        assert_eq!(set.len(), 13);
        for (k, &score) in scores.iter().enumerate() {
            let [a, b] = set.row_texts(k)[..] else {
                panic!("two columns")
            };
            if k % 4 == 0 {
                assert_eq!((a, score), (b, 1.0));
            } else {
                assert!(a != b && score == 0.0, "row {k}");
            }
        }
        // Every sentence is used at most once, and the order is the seeded shuffle.
        let mut used: Vec<&str> = (0..set.len())
            .flat_map(|k| {
                let row = set.row_texts(k);
                if scores[k] == 1.0 {
                    vec![row[0]]
                } else {
                    row
                }
            })
            .collect();
        assert_eq!(used.len(), 22);
        used.sort_unstable();
        used.dedup();
        assert_eq!(used.len(), 22);
        assert_eq!(set, contrastive_tension_pairs(sentences(n), 4, 1).unwrap());
        assert_ne!(set, contrastive_tension_pairs(sentences(n), 4, 2).unwrap());

        let all_positive = contrastive_tension_pairs(sentences(5), 1, 0).unwrap();
        assert_eq!(all_positive.len(), 4);
        assert!(contrastive_tension_pairs(sentences(1), 8, 0)
            .unwrap()
            .is_empty());
        assert!(contrastive_tension_pairs(sentences(4), 0, 0).is_err());
    }
}
