//! Invariants of the multi-dataset `BatchSchedule`: proportional uses every batch once,
//! round-robin matches its definition, one dataset is the plain sampler, resumption is exact.

use data::{
    dataset_order, BatchSchedule, BatchSource, EpochSampler, GroupByLabelSampler,
    MultiDatasetSampling, SamplerState, ScheduledBatch,
};
use proptest::prelude::*;

/// (examples, batch size, seed) per dataset.
fn datasets() -> impl Strategy<Value = Vec<(usize, usize, u64)>> {
    prop::collection::vec((0usize..40, 1usize..8, any::<u64>()), 1..5)
}

fn sampling() -> impl Strategy<Value = MultiDatasetSampling> {
    prop_oneof![
        Just(MultiDatasetSampling::Proportional),
        Just(MultiDatasetSampling::RoundRobin)
    ]
}

fn samplers(specs: &[(usize, usize, u64)]) -> Vec<EpochSampler<'static>> {
    specs
        .iter()
        .map(|&(len, bs, seed)| EpochSampler::new(len, bs, seed).unwrap())
        .collect()
}

fn schedule<'s>(
    samplers: &'s [EpochSampler<'static>],
    sampling: MultiDatasetSampling,
    seed: u64,
) -> BatchSchedule<'s> {
    let sources: Vec<Box<dyn BatchSource + 's>> = samplers
        .iter()
        .map(|s| Box::new(s) as Box<dyn BatchSource + 's>)
        .collect();
    BatchSchedule::new(sources, sampling, seed).unwrap()
}

fn of_dataset(schedule: &[ScheduledBatch], dataset: usize) -> Vec<Vec<usize>> {
    schedule
        .iter()
        .filter(|b| b.dataset == dataset)
        .map(|b| b.indices.clone())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn proportional_uses_every_batch_once_in_its_order(
        specs in datasets(), seed: u64, epoch in 0u64..5,
    ) {
        let samplers = samplers(&specs);
        let s = schedule(&samplers, MultiDatasetSampling::Proportional, seed);
        let got = s.epoch_schedule(epoch);
        let total: usize = samplers.iter().map(|x| x.epoch_batches(epoch).len()).sum();
        prop_assert_eq!(got.len(), total);
        for (d, sampler) in samplers.iter().enumerate() {
            prop_assert_eq!(of_dataset(&got, d), sampler.epoch_batches(epoch));
        }
    }

    #[test]
    fn round_robin_cycles_until_the_smallest_is_exhausted(
        specs in datasets(), seed: u64, epoch in 0u64..5,
    ) {
        let samplers = samplers(&specs);
        let got = schedule(&samplers, MultiDatasetSampling::RoundRobin, seed).epoch_schedule(epoch);
        let per: Vec<Vec<Vec<usize>>> = samplers.iter().map(|x| x.epoch_batches(epoch)).collect();
        let rounds = per.iter().map(Vec::len).min().unwrap();
        let want: Vec<ScheduledBatch> = (0..rounds)
            .flat_map(|r| per.iter().enumerate().map(move |(d, b)| ScheduledBatch {
                dataset: d,
                indices: b[r].clone(),
            }))
            .collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn one_dataset_is_the_plain_sampler(
        len in 0usize..60, bs in 1usize..9, seed: u64, order_seed: u64, sampling in sampling(),
        stop in 0usize..30,
    ) {
        let texts: Vec<Vec<&str>> = (0..len).map(|i| vec![["a", "b", "c", "d", "e"][i % 5]]).collect();
        let sampler = EpochSampler::new(len, bs, seed).unwrap().no_duplicates(&texts).unwrap();
        let sources: Vec<Box<dyn BatchSource + '_>> = vec![Box::new(&sampler)];
        let s = BatchSchedule::new(sources, sampling, order_seed).unwrap();
        for epoch in 0..3 {
            let got = s.epoch_schedule(epoch);
            prop_assert!(got.iter().all(|b| b.dataset == 0));
            let flat: Vec<Vec<usize>> = got.into_iter().map(|b| b.indices).collect();
            prop_assert_eq!(flat, sampler.epoch_batches(epoch));
        }
        let start = SamplerState { epoch: 1, batches_done: 0 };
        let mut mine = s.iter_from(start);
        let mut plain = sampler.iter_from(start);
        for _ in 0..stop {
            prop_assert_eq!(mine.next().map(|b| b.indices), plain.next());
            prop_assert_eq!(mine.state(), plain.state());
        }
    }

    #[test]
    fn restoring_state_continues_the_sequence(
        specs in datasets(), sampling in sampling(), seed: u64, stop in 0usize..60,
    ) {
        let samplers = samplers(&specs);
        let s = schedule(&samplers, sampling, seed);
        let start = SamplerState { epoch: 2, batches_done: 0 };
        let full: Vec<ScheduledBatch> = s.iter_from(start).take(stop + 25).collect();
        let mut first = s.iter_from(start);
        let head: Vec<ScheduledBatch> = first.by_ref().take(stop).collect();
        // Through a checkpoint file and a fresh schedule, as after a restart.
        let saved: SamplerState =
            serde_json::from_str(&serde_json::to_string(&first.state()).unwrap()).unwrap();
        let samplers2 = self::samplers(&specs);
        let s2 = schedule(&samplers2, sampling, seed);
        let tail: Vec<ScheduledBatch> = s2.iter_from(saved).take(25).collect();
        prop_assert_eq!([head, tail].concat(), full);
    }

    #[test]
    fn seed_and_epoch_determine_the_order(
        counts in prop::collection::vec(0usize..20, 1..5), sampling in sampling(),
        seed: u64, epoch in 0u64..100,
    ) {
        let a = dataset_order(sampling, seed, epoch, &counts);
        prop_assert_eq!(&a, &dataset_order(sampling, seed, epoch, &counts));
        if sampling == MultiDatasetSampling::Proportional {
            let mut sorted = a.clone();
            sorted.sort_unstable();
            let want: Vec<usize> = counts.iter().enumerate()
                .flat_map(|(d, &n)| std::iter::repeat_n(d, n)).collect();
            prop_assert_eq!(sorted, want);
        }
    }

    #[test]
    fn shards_partition_each_batch(len in 0usize..50, world in 1usize..9) {
        let batch = ScheduledBatch { dataset: 1, indices: (100..100 + len).collect() };
        let shards: Vec<&[usize]> = (0..world).map(|r| batch.shard(r, world).unwrap()).collect();
        prop_assert_eq!(shards.concat(), batch.indices.clone());
        let sizes: Vec<usize> = shards.iter().map(|s| s.len()).collect();
        prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
    }
}

#[test]
fn proportional_order_changes_with_seed_and_epoch() {
    let counts = [5, 7, 3];
    let p = MultiDatasetSampling::Proportional;
    let base = dataset_order(p, 1, 0, &counts);
    assert_ne!(base, dataset_order(p, 1, 1, &counts));
    assert_ne!(base, dataset_order(p, 2, 0, &counts));
}

#[test]
fn mixes_label_grouped_and_plain_sources() {
    let labels: Vec<u8> = (0..24).map(|i| i % 3).collect();
    let grouped = GroupByLabelSampler::new(&labels, 4, 5).unwrap();
    let plain = EpochSampler::new(10, 3, 5).unwrap();
    let sources: Vec<Box<dyn BatchSource + '_>> = vec![Box::new(grouped.clone()), Box::new(&plain)];
    let s = BatchSchedule::new(sources, MultiDatasetSampling::Proportional, 9).unwrap();
    let got = s.epoch_schedule(4);
    assert_eq!(of_dataset(&got, 0), grouped.epoch_batches(4));
    assert_eq!(of_dataset(&got, 1), plain.epoch_batches(4));
}
