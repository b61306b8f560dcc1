//! Epoch-wise batching over example indices: seeded shuffling, optional no-duplicate-text
//! batches (as sentence-transformers' `NoDuplicatesBatchSampler`) and optional length
//! grouping, with a resumable position.

use std::collections::HashSet;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::epoch_iter::{EpochIter, EpochSource};
use crate::error::{Error, Result};

/// Length grouping sorts windows of this many batches' worth of examples.
pub const LENGTH_GROUP_WINDOW_BATCHES: usize = 50;

/// Where a run is in its stream of batches: `batches_done` batches of epoch `epoch` have
/// been handed out. Save it with a checkpoint and pass it to [`EpochSampler::iter_from`]
/// to continue exactly where the run stopped. A [`crate::BatchSchedule`] uses the same
/// position, `batches_done` counting its scheduled batches (over all datasets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct SamplerState {
    pub epoch: u64,
    pub batches_done: usize,
}

/// Splits `0..len` into batches, a fresh seeded order per epoch.
///
/// Epoch `e` shuffles with a [`ChaCha8Rng`] seeded by `seed` on stream `e`, so each
/// epoch's order depends only on `(seed, e)`.
#[derive(Debug, Clone)]
pub struct EpochSampler<'a> {
    len: usize,
    batch_size: usize,
    seed: u64,
    drop_last: bool,
    in_order: bool,
    texts: Option<&'a [Vec<&'a str>]>,
    lengths: Option<&'a [usize]>,
}

impl<'a> EpochSampler<'a> {
    /// A sampler over `len` examples; `batch_size` must be positive.
    pub fn new(len: usize, batch_size: usize, seed: u64) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::Sampler {
                reason: "batch size must be positive".into(),
            });
        }
        Ok(Self {
            len,
            batch_size,
            seed,
            drop_last: false,
            in_order: false,
            texts: None,
            lengths: None,
        })
    }

    /// Leave out batches smaller than the batch size (default: keep them).
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// Keep the examples' own order instead of shuffling (for data already in the order it
    /// should be seen: pre-shuffled files, curricula, comparisons with another trainer).
    pub fn in_order(mut self, in_order: bool) -> Self {
        self.in_order = in_order;
        self
    }

    /// No two examples in a batch share a text; `texts[i]` are example `i`'s texts.
    ///
    /// An example that would collide with the batch being filled is deferred and tried
    /// again first for the next batch. When no remaining example fits, the batch is
    /// emitted short; so with many collisions several short batches can close an epoch.
    pub fn no_duplicates(mut self, texts: &'a [Vec<&'a str>]) -> Result<Self> {
        self.check_len("texts", texts.len())?;
        self.texts = Some(texts);
        Ok(self)
    }

    /// Group examples of similar length: the shuffled order is cut into windows of
    /// [`LENGTH_GROUP_WINDOW_BATCHES`] × batch size examples, each sorted by `lengths`
    /// (longest first, ties in shuffled order), cut into batches, and the batch order is
    /// shuffled.
    pub fn group_by_length(mut self, lengths: &'a [usize]) -> Result<Self> {
        self.check_len("lengths", lengths.len())?;
        self.lengths = Some(lengths);
        Ok(self)
    }

    fn check_len(&self, what: &str, found: usize) -> Result<()> {
        if found == self.len {
            Ok(())
        } else {
            Err(Error::Sampler {
                reason: format!(
                    "{what} has {found} entries, expected one per example ({})",
                    self.len
                ),
            })
        }
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The batches of epoch `epoch`, in order.
    pub fn epoch_batches(&self, epoch: u64) -> Vec<Vec<usize>> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(epoch);
        let mut order: Vec<usize> = (0..self.len).collect();
        if !self.in_order {
            order.shuffle(&mut rng);
        }
        if let Some(lengths) = self.lengths {
            let window = self.batch_size.saturating_mul(LENGTH_GROUP_WINDOW_BATCHES);
            for chunk in order.chunks_mut(window) {
                // Stable sort: equal lengths keep their shuffled order.
                chunk.sort_by_key(|&i| std::cmp::Reverse(lengths.get(i).copied().unwrap_or(0)));
            }
        }
        let mut batches = match self.texts {
            Some(texts) => self.batches_without_duplicates(&order, texts),
            None => order
                .chunks(self.batch_size)
                .map(<[usize]>::to_vec)
                .collect(),
        };
        if self.drop_last {
            batches.retain(|b| b.len() == self.batch_size);
        }
        if self.lengths.is_some() && !self.in_order {
            batches.shuffle(&mut rng);
        }
        batches
    }

    fn batches_without_duplicates(&self, order: &[usize], texts: &[Vec<&str>]) -> Vec<Vec<usize>> {
        let texts_of = |i: usize| texts.get(i).map(Vec::as_slice).unwrap_or(&[]);
        let mut batches = Vec::new();
        let mut deferred: Vec<usize> = Vec::new();
        let mut next = order.iter().copied();
        loop {
            let mut batch = Vec::with_capacity(self.batch_size);
            let mut in_batch: HashSet<&str> = HashSet::new();
            let mut still_deferred = Vec::new();
            let mut try_add = |i: usize, batch: &mut Vec<usize>| -> bool {
                let own = texts_of(i);
                if batch.len() < self.batch_size && own.iter().all(|t| !in_batch.contains(t)) {
                    in_batch.extend(own.iter().copied());
                    batch.push(i);
                    true
                } else {
                    false
                }
            };
            for i in deferred.drain(..) {
                if !try_add(i, &mut batch) {
                    still_deferred.push(i);
                }
            }
            while batch.len() < self.batch_size {
                let Some(i) = next.next() else { break };
                if !try_add(i, &mut batch) {
                    still_deferred.push(i);
                }
            }
            deferred = still_deferred;
            if batch.is_empty() {
                break;
            }
            batches.push(batch);
        }
        batches
    }

    /// The endless stream of batches from `state` on: the rest of `state.epoch`, then the
    /// following epochs. Stops only if an epoch has no batches.
    pub fn iter_from(&self, state: SamplerState) -> BatchIter<'_, 'a> {
        EpochIter::new(self, state)
    }
}

impl EpochSource for EpochSampler<'_> {
    type Batch = Vec<usize>;
    fn epoch_batches_of(&self, epoch: u64) -> Vec<Vec<usize>> {
        self.epoch_batches(epoch)
    }
}

/// Iterator over batches across epochs; see [`EpochSampler::iter_from`].
pub type BatchIter<'s, 'a> = EpochIter<'s, EpochSampler<'a>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_batches_cover_all_examples() {
        let s = EpochSampler::new(10, 4, 7).unwrap();
        let b = s.epoch_batches(0);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 2]);
        let mut all: Vec<usize> = b.concat();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        let d = s.clone().drop_last(true).epoch_batches(0);
        assert_eq!(d, b[..2].to_vec());
    }

    #[test]
    fn rejects_bad_configuration() {
        assert!(matches!(
            EpochSampler::new(3, 0, 0),
            Err(Error::Sampler { .. })
        ));
        let texts = vec![vec!["a"]];
        let err = EpochSampler::new(3, 2, 0)
            .unwrap()
            .no_duplicates(&texts)
            .unwrap_err();
        assert!(err.to_string().contains("texts has 1 entries"), "{err}");
        let lengths = [1, 2];
        assert!(EpochSampler::new(3, 2, 0)
            .unwrap()
            .group_by_length(&lengths)
            .is_err());
    }

    #[test]
    fn colliding_examples_are_deferred() {
        // Every example shares text "x" with the others: one per batch.
        let texts: Vec<Vec<&str>> = vec![vec!["x", "a"], vec!["x", "b"], vec!["x", "c"]];
        let s = EpochSampler::new(3, 2, 0)
            .unwrap()
            .no_duplicates(&texts)
            .unwrap();
        let b = s.epoch_batches(0);
        assert_eq!(b.len(), 3);
        assert!(b.iter().all(|b| b.len() == 1));
        assert!(s.drop_last(true).epoch_batches(0).is_empty());
    }

    #[test]
    fn length_grouping_makes_uniform_batches() {
        // Two length classes, within one window: batches hold one class each.
        let lengths: Vec<usize> = (0..40).map(|i| if i % 2 == 0 { 5 } else { 50 }).collect();
        let s = EpochSampler::new(40, 4, 3)
            .unwrap()
            .group_by_length(&lengths)
            .unwrap();
        for b in s.epoch_batches(0) {
            let first = lengths[b[0]];
            assert!(b.iter().all(|&i| lengths[i] == first), "{b:?}");
        }
    }

    #[test]
    fn iterator_crosses_epochs_and_stops_when_empty() {
        let s = EpochSampler::new(5, 2, 1).unwrap();
        let mut it = s.iter_from(SamplerState::default());
        let got: Vec<Vec<usize>> = it.by_ref().take(4).collect();
        assert_eq!(got[..3], s.epoch_batches(0)[..]);
        assert_eq!(got[3], s.epoch_batches(1)[0]);
        assert_eq!(
            it.state(),
            SamplerState {
                epoch: 1,
                batches_done: 1
            }
        );
        let empty = EpochSampler::new(0, 2, 1).unwrap();
        assert_eq!(empty.iter_from(SamplerState::default()).next(), None);
    }
}
