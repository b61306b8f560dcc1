//! Label-grouped batches for in-batch triplet mining (sentence-transformers'
//! `GroupByLabelBatchSampler`, `sentence_transformers/base/sampler.py`, 6.2): every batch
//! holds at least two labels, each with at least two examples.

use std::collections::HashMap;
use std::hash::Hash;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::training_set::TargetColumn;

/// Batches of single-text examples grouped by label, a fresh seeded order per epoch.
///
/// Each epoch, as sentence-transformers does:
/// 1. every label's examples are shuffled and cut to an even count (a label with an odd count
///    leaves one random example out this epoch);
/// 2. labels take turns, in a freshly shuffled label order every round, each emitting its
///    next **two** examples into one stream; if the round's first label is the label that
///    closed the previous round while a batch is being filled, the first two labels swap,
///    so consecutive pairs never share a label;
/// 3. a label leaves the rotation when it runs out, and the stream stops as soon as fewer
///    than two labels remain: the tail of the largest label is not used this epoch;
/// 4. the stream is cut into batches of `batch_size` (even, so pairs are never split). The
///    last, partial batch is kept when it has at least 4 examples (two pairs, hence two
///    labels) and `drop_last` is off; otherwise it is dropped.
///
/// Labels with a single example never appear. The shuffles use a [`ChaCha8Rng`] seeded by
/// `seed` on stream `epoch` (sentence-transformers seeds torch with `seed + epoch`), so an
/// epoch's batches depend only on `(seed, epoch)`; they are not the same draws as torch's.
#[derive(Debug, Clone)]
pub struct GroupByLabelSampler {
    /// Example indices of each label with at least two examples, labels in order of first
    /// appearance, examples in data order.
    groups: Vec<Vec<usize>>,
    len: usize,
    batch_size: usize,
    seed: u64,
    drop_last: bool,
}

impl GroupByLabelSampler {
    /// A sampler over examples with labels `labels[i]`; `batch_size` must be even and at
    /// least 4, and at least two labels must have two or more examples.
    ///
    /// Any hashable label works: class ids, strings, or `f32::to_bits` of float labels.
    pub fn new<L: Eq + Hash>(labels: &[L], batch_size: usize, seed: u64) -> Result<Self> {
        if batch_size < 4 || batch_size % 2 == 1 {
            return Err(Error::Sampler {
                reason: format!(
                    "group-by-label batch size must be an even number >= 4, got {batch_size}"
                ),
            });
        }
        let groups = qualifying_groups(labels);
        if groups.len() < 2 {
            return Err(Error::Sampler {
                reason: format!(
                    "group-by-label batches need at least 2 labels with 2 or more examples each, \
                     but {} qualify",
                    groups.len()
                ),
            });
        }
        Ok(Self {
            groups,
            len: labels.len(),
            batch_size,
            seed,
            drop_last: false,
        })
    }

    /// A sampler grouping by a training set's target: class ids, or float scores by their
    /// exact value (as sentence-transformers groups by whatever the label column holds).
    pub fn from_target(target: &TargetColumn, batch_size: usize, seed: u64) -> Result<Self> {
        match target {
            TargetColumn::Classes { values, .. } => Self::new(values, batch_size, seed),
            TargetColumn::Scores(values) => {
                let bits: Vec<u32> = values.iter().map(|v| v.to_bits()).collect();
                Self::new(&bits, batch_size, seed)
            }
            TargetColumn::None => Err(Error::Sampler {
                reason: "group-by-label batches need a label column; the training set has none"
                    .into(),
            }),
            TargetColumn::Vectors { .. } => Err(Error::Sampler {
                reason: "group-by-label batches need a class or score per row; the training set \
                         has teacher embeddings"
                    .into(),
            }),
        }
    }

    /// Leave out the last, partial batch even when it has 4 or more examples (default: keep it).
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// Number of examples (including those of labels that never appear).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no examples (never true for a constructed sampler).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Number of labels with at least two examples (the labels that appear in batches).
    pub fn num_labels(&self) -> usize {
        self.groups.len()
    }

    /// Examples used per epoch: twice the number of pairs emitted before fewer than two
    /// labels remain (each label gives at most as many pairs as the second-largest label).
    pub fn stream_len(&self) -> usize {
        let mut pairs: Vec<usize> = self.groups.iter().map(|g| g.len() / 2).collect();
        pairs.sort_unstable_by(|a, b| b.cmp(a));
        let cap = pairs.get(1).copied().unwrap_or(0);
        2 * pairs.iter().map(|&p| p.min(cap)).sum::<usize>()
    }

    /// Number of batches per epoch (the same every epoch), as sentence-transformers' `__len__`.
    pub fn num_batches(&self) -> usize {
        let stream = self.stream_len();
        let partial = !self.drop_last && stream % self.batch_size >= 4;
        stream / self.batch_size + usize::from(partial)
    }

    /// The batches of epoch `epoch`, in order.
    pub fn epoch_batches(&self, epoch: u64) -> Vec<Vec<usize>> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(epoch);
        let queues = self.shuffled_queues(&mut rng);
        let stream = interleave_pairs(queues, &mut rng, self.batch_size);
        let mut batches: Vec<Vec<usize>> = stream
            .chunks(self.batch_size)
            .map(<[usize]>::to_vec)
            .collect();
        if batches
            .last()
            .is_some_and(|b| b.len() < self.batch_size && (self.drop_last || b.len() < 4))
        {
            batches.pop();
        }
        batches
    }

    /// Each label's examples in a fresh order, cut to an even count.
    fn shuffled_queues(&self, rng: &mut ChaCha8Rng) -> Vec<std::vec::IntoIter<usize>> {
        self.groups
            .iter()
            .map(|group| {
                let mut order = group.clone();
                order.shuffle(rng);
                order.truncate(order.len() / 2 * 2);
                order.into_iter()
            })
            .collect()
    }
}

/// Example indices of each label with at least two examples, labels in order of first
/// appearance.
fn qualifying_groups<L: Eq + Hash>(labels: &[L]) -> Vec<Vec<usize>> {
    let mut ids: HashMap<&L, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let id = *ids.entry(label).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        if let Some(group) = groups.get_mut(id) {
            group.push(i);
        }
    }
    groups.retain(|g| g.len() >= 2);
    groups
}

/// The round-robin stream of pairs: labels in a shuffled order each round, two examples
/// each, until fewer than two labels have examples left.
fn interleave_pairs(
    mut queues: Vec<std::vec::IntoIter<usize>>,
    rng: &mut ChaCha8Rng,
    batch_size: usize,
) -> Vec<usize> {
    let mut stream = Vec::new();
    let mut remaining: Vec<usize> = (0..queues.len()).collect();
    let mut last_label = None;
    while remaining.len() >= 2 {
        remaining.shuffle(rng);
        // A batch is being filled: keep its consecutive pairs from sharing a label.
        if stream.len() % batch_size != 0 && remaining.first().copied() == last_label {
            remaining.swap(0, 1);
        }
        for &label in &remaining {
            if let Some(queue) = queues.get_mut(label) {
                stream.extend(queue.by_ref().take(2));
            }
        }
        last_label = remaining.last().copied();
        remaining.retain(|&label| queues.get(label).is_some_and(|q| q.len() > 0));
    }
    stream
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_batch_sizes_and_too_few_labels() {
        let labels = [0, 0, 1, 1];
        for bs in [0, 2, 3, 5] {
            let err = GroupByLabelSampler::new(&labels, bs, 0).unwrap_err();
            assert!(err.to_string().contains("even number >= 4"), "{err}");
        }
        let err = GroupByLabelSampler::new(&[0, 0, 0, 1], 4, 0).unwrap_err();
        assert!(err.to_string().contains("but 1 qualify"), "{err}");
    }

    #[test]
    fn batches_pair_labels_and_leave_the_dominant_tail() {
        // Label 0: 10 examples, label 1: 4, label 2: 1 (never used).
        let labels: Vec<u8> = [vec![0; 10], vec![1; 4], vec![2]].concat();
        let s = GroupByLabelSampler::new(&labels, 4, 7).unwrap();
        assert_eq!(s.num_labels(), 2);
        // Pairs: 5 and 2, capped at 2 each: 8 examples, 2 batches of 4.
        assert_eq!(s.stream_len(), 8);
        let batches = s.epoch_batches(0);
        assert_eq!(batches.len(), s.num_batches());
        for b in &batches {
            assert_eq!(b.len(), 4);
            let ones = b.iter().filter(|&&i| labels[i] == 1).count();
            assert_eq!(ones, 2, "{b:?}");
        }
    }

    #[test]
    fn partial_batch_needs_four_examples() {
        // Three labels of 2: a stream of 6 examples; batch 4 leaves a pair (dropped).
        let labels = ["a", "a", "b", "b", "c", "c"];
        let s = GroupByLabelSampler::new(&labels, 4, 1).unwrap();
        assert_eq!(s.epoch_batches(3).len(), 1);
        assert_eq!(s.num_batches(), 1);
        // Batch 8 leaves 6 (kept unless drop_last).
        let s = GroupByLabelSampler::new(&labels, 8, 1).unwrap();
        assert_eq!(s.epoch_batches(0).len(), 1);
        assert_eq!(s.epoch_batches(0)[0].len(), 6);
        assert!(s.drop_last(true).epoch_batches(0).is_empty());
    }

    #[test]
    fn groups_by_a_training_target() {
        let classes = TargetColumn::Classes {
            values: vec![0, 1, 0, 1, 2],
            num_labels: 3,
        };
        assert_eq!(
            GroupByLabelSampler::from_target(&classes, 4, 0)
                .unwrap()
                .num_labels(),
            2
        );
        let scores = TargetColumn::Scores(vec![0.5, 1.0, 0.5, 1.0]);
        let s = GroupByLabelSampler::from_target(&scores, 4, 0).unwrap();
        assert_eq!(s.epoch_batches(0).len(), 1);
        let err = GroupByLabelSampler::from_target(&TargetColumn::None, 4, 0).unwrap_err();
        assert!(err.to_string().contains("need a label column"), "{err}");
    }

    #[test]
    fn epochs_differ_and_repeat() {
        let labels: Vec<i64> = (0..60).map(|i| i % 3).collect();
        let s = GroupByLabelSampler::new(&labels, 6, 11).unwrap();
        assert_eq!(s.epoch_batches(2), s.epoch_batches(2));
        assert_ne!(s.epoch_batches(2), s.epoch_batches(3));
    }
}
