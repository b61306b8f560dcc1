//! Training on several datasets at once: the order in which their batches are drawn, every
//! batch coming from one dataset (sentence-transformers' `ProportionalBatchSampler` and
//! `RoundRobinBatchSampler`, `sentence_transformers/base/sampler.py`, 6.2), with a resumable
//! position.
//!
//! # Resuming
//! An epoch's schedule is a pure function of `(seed, epoch)` and the datasets' own epoch
//! batches, so the position ([`SamplerState`]: the epoch and the number of scheduled batches
//! of it handed out) is all a checkpoint needs: [`BatchSchedule::iter_from`] with the saved
//! state continues the identical sequence.
//!
//! # Distributed training (seam)
//! Every rank builds the same schedule and walks it with the same state, so the state stays
//! rank-independent (one checkpoint for all ranks), and all ranks are in the same dataset at
//! every step (a per-dataset loss sees the same dataset on every rank). Each rank trains on
//! its share of the step's batch, [`ScheduledBatch::shard`] (accelerate's `split_batches`
//! semantics); in-batch-negative losses then gather embeddings across ranks.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::ops::Range;

use crate::epoch_iter::{EpochIter, EpochSource};
use crate::error::{Error, Result};
use crate::group_by_label::GroupByLabelSampler;
use crate::sampler::{EpochSampler, SamplerState};

/// Anything that yields a dataset's batches (example indices) for an epoch, a pure function
/// of the epoch number.
pub trait BatchSource {
    /// The batches of epoch `epoch`, in order.
    fn epoch_batches(&self, epoch: u64) -> Vec<Vec<usize>>;
}

impl BatchSource for EpochSampler<'_> {
    fn epoch_batches(&self, epoch: u64) -> Vec<Vec<usize>> {
        EpochSampler::epoch_batches(self, epoch)
    }
}

impl BatchSource for GroupByLabelSampler {
    fn epoch_batches(&self, epoch: u64) -> Vec<Vec<usize>> {
        GroupByLabelSampler::epoch_batches(self, epoch)
    }
}

impl<T: BatchSource + ?Sized> BatchSource for &T {
    fn epoch_batches(&self, epoch: u64) -> Vec<Vec<usize>> {
        (**self).epoch_batches(epoch)
    }
}

/// How batches of several datasets are ordered within an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MultiDatasetSampling {
    /// Every batch of every dataset once per epoch, in a seeded random order of datasets
    /// (larger datasets are drawn more often): each dataset index is repeated once per
    /// batch of that dataset and the list is shuffled; step `k` takes the next batch of
    /// dataset `order[k]`, so each dataset's batches keep their own order.
    #[default]
    Proportional,
    /// Datasets in turn, `0, 1, …, n-1, 0, 1, …`, one batch each, for as many full rounds as
    /// the dataset with the fewest batches has: the other datasets' remaining batches are
    /// not used this epoch. No randomness.
    RoundRobin,
}

/// One scheduled batch: example indices into dataset `dataset`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScheduledBatch {
    pub dataset: usize,
    pub indices: Vec<usize>,
}

impl ScheduledBatch {
    /// Rank `rank`'s contiguous share of this batch among `world_size` ranks: sizes differ by
    /// at most one, the first `len % world_size` ranks taking one more (a rank's share is
    /// empty when the batch has fewer examples than ranks).
    pub fn shard(&self, rank: usize, world_size: usize) -> Result<&[usize]> {
        let range = shard_range(self.indices.len(), rank, world_size)?;
        Ok(self.indices.get(range).unwrap_or(&[]))
    }
}

/// Rank `rank`'s contiguous share of `len` items among `world_size` ranks: sizes differ by at
/// most one, the first `len % world_size` ranks taking one more; empty for the ranks beyond
/// `len`. Data-parallel training splits each batch this way, sharded encoding its texts.
pub fn shard_range(len: usize, rank: usize, world_size: usize) -> Result<Range<usize>> {
    if world_size == 0 || rank >= world_size {
        return Err(Error::Sampler {
            reason: format!("rank {rank} is not in a world of {world_size} ranks"),
        });
    }
    let (base, extra) = (len / world_size, len % world_size);
    let start = rank * base + rank.min(extra);
    Ok(start..start + base + usize::from(rank < extra))
}

/// Mixed into the seed of the dataset-order shuffle, so it does not replay the draws of a
/// dataset sampler built with the same seed.
const ORDER_SEED_SALT: u64 = 0x6d75_6c74_6964_7331;

/// The dataset index of each step of epoch `epoch`, given each dataset's number of batches
/// in that epoch (see [`MultiDatasetSampling`]). A pure function of its arguments.
pub fn dataset_order(
    sampling: MultiDatasetSampling,
    seed: u64,
    epoch: u64,
    batch_counts: &[usize],
) -> Vec<usize> {
    match sampling {
        MultiDatasetSampling::Proportional => {
            let mut order: Vec<usize> = batch_counts
                .iter()
                .enumerate()
                .flat_map(|(dataset, &n)| std::iter::repeat_n(dataset, n))
                .collect();
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ORDER_SEED_SALT);
            rng.set_stream(epoch);
            order.shuffle(&mut rng);
            order
        }
        MultiDatasetSampling::RoundRobin => {
            let rounds = batch_counts.iter().copied().min().unwrap_or(0);
            (0..rounds).flat_map(|_| 0..batch_counts.len()).collect()
        }
    }
}

/// Interleaves the datasets' batches of one epoch (`per_dataset[d]` = dataset `d`'s
/// batches, in its order) as `sampling` says.
pub fn interleave(
    sampling: MultiDatasetSampling,
    seed: u64,
    epoch: u64,
    per_dataset: Vec<Vec<Vec<usize>>>,
) -> Vec<ScheduledBatch> {
    let counts: Vec<usize> = per_dataset.iter().map(Vec::len).collect();
    let order = dataset_order(sampling, seed, epoch, &counts);
    let mut batches: Vec<_> = per_dataset.into_iter().map(Vec::into_iter).collect();
    order
        .into_iter()
        .filter_map(|dataset| {
            let indices = batches.get_mut(dataset)?.next()?;
            Some(ScheduledBatch { dataset, indices })
        })
        .collect()
}

/// The batch schedule of several datasets: their samplers and how to interleave them.
///
/// With a single dataset both samplings give exactly that dataset's batches, in order
/// (dataset index 0), so a one-dataset run reproduces a plain [`EpochSampler`] run.
pub struct BatchSchedule<'s> {
    sources: Vec<Box<dyn BatchSource + 's>>,
    sampling: MultiDatasetSampling,
    seed: u64,
}

impl std::fmt::Debug for BatchSchedule<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchSchedule")
            .field("datasets", &self.sources.len())
            .field("sampling", &self.sampling)
            .field("seed", &self.seed)
            .finish()
    }
}

impl<'s> BatchSchedule<'s> {
    /// A schedule over `sources` (dataset `d` is `sources[d]`), at least one. `seed` drives
    /// the dataset order only; each source shuffles its own batches.
    pub fn new(
        sources: Vec<Box<dyn BatchSource + 's>>,
        sampling: MultiDatasetSampling,
        seed: u64,
    ) -> Result<Self> {
        if sources.is_empty() {
            return Err(Error::Sampler {
                reason: "a batch schedule needs at least one dataset".into(),
            });
        }
        Ok(Self {
            sources,
            sampling,
            seed,
        })
    }

    /// Number of datasets.
    pub fn num_datasets(&self) -> usize {
        self.sources.len()
    }

    /// How the datasets are interleaved.
    pub fn sampling(&self) -> MultiDatasetSampling {
        self.sampling
    }

    /// The scheduled batches of epoch `epoch`, in order.
    pub fn epoch_schedule(&self, epoch: u64) -> Vec<ScheduledBatch> {
        let per_dataset = self
            .sources
            .iter()
            .map(|s| s.epoch_batches(epoch))
            .collect();
        interleave(self.sampling, self.seed, epoch, per_dataset)
    }

    /// The endless stream of scheduled batches from `state` on: the rest of `state.epoch`
    /// (whose `batches_done` counts scheduled batches), then the following epochs. Stops
    /// only if an epoch has no batches.
    pub fn iter_from(&self, state: SamplerState) -> ScheduleIter<'_, 's> {
        EpochIter::new(self, state)
    }
}

impl EpochSource for BatchSchedule<'_> {
    type Batch = ScheduledBatch;
    fn epoch_batches_of(&self, epoch: u64) -> Vec<ScheduledBatch> {
        self.epoch_schedule(epoch)
    }
}

/// Iterator over scheduled batches across epochs; see [`BatchSchedule::iter_from`].
pub type ScheduleIter<'b, 's> = EpochIter<'b, BatchSchedule<'s>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(batches: usize, tag: usize) -> Vec<Vec<usize>> {
        (0..batches).map(|b| vec![tag * 100 + b]).collect()
    }

    #[test]
    fn round_robin_stops_with_the_smallest_dataset() {
        let got = interleave(
            MultiDatasetSampling::RoundRobin,
            0,
            0,
            vec![fixed(3, 0), fixed(2, 1), fixed(5, 2)],
        );
        let got: Vec<(usize, usize)> = got.iter().map(|b| (b.dataset, b.indices[0])).collect();
        assert_eq!(
            got,
            [(0, 0), (1, 100), (2, 200), (0, 1), (1, 101), (2, 201)]
        );
    }

    #[test]
    fn proportional_uses_every_batch_in_dataset_order() {
        let got = interleave(
            MultiDatasetSampling::Proportional,
            3,
            1,
            vec![fixed(3, 0), fixed(0, 1), fixed(4, 2)],
        );
        assert_eq!(got.len(), 7);
        for dataset in [0, 2] {
            let own: Vec<usize> = got
                .iter()
                .filter(|b| b.dataset == dataset)
                .map(|b| b.indices[0])
                .collect();
            let want: Vec<usize> = fixed(if dataset == 0 { 3 } else { 4 }, dataset).concat();
            assert_eq!(own, want);
        }
    }

    #[test]
    fn shards_split_a_batch_evenly() {
        let b = ScheduledBatch {
            dataset: 0,
            indices: (0..7).collect(),
        };
        let shards: Vec<&[usize]> = (0..3).map(|r| b.shard(r, 3).unwrap()).collect();
        assert_eq!(shards, [&[0, 1, 2][..], &[3, 4], &[5, 6]]);
        assert_eq!(b.shard(0, 1).unwrap(), &b.indices[..]);
        assert!(b.shard(8, 8).is_err() && b.shard(0, 0).is_err());
        let small = ScheduledBatch {
            dataset: 0,
            indices: vec![4],
        };
        assert!(small.shard(1, 2).unwrap().is_empty());
    }

    #[test]
    fn schedule_needs_a_dataset_and_names_sampling_in_snake_case() {
        assert!(BatchSchedule::new(Vec::new(), MultiDatasetSampling::RoundRobin, 0).is_err());
        let json = serde_json::to_string(&MultiDatasetSampling::RoundRobin).unwrap();
        assert_eq!(json, "\"round_robin\"");
        let state = SamplerState {
            epoch: 3,
            batches_done: 17,
        };
        let back: SamplerState =
            serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
        assert_eq!(back, state);
    }
}
