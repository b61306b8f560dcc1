//! Invariants of `GroupByLabelSampler`: every label in a batch at least twice, at least two
//! labels per batch, no example twice in an epoch, determinism, and the advertised length.

use std::collections::{HashMap, HashSet};

use data::GroupByLabelSampler;
use proptest::prelude::*;

fn labels() -> impl Strategy<Value = Vec<u8>> {
    (1u8..7).prop_flat_map(|k| prop::collection::vec(0..k, 0..90))
}

fn qualifying(labels: &[u8]) -> usize {
    let mut counts: HashMap<u8, usize> = HashMap::new();
    for &l in labels {
        *counts.entry(l).or_default() += 1;
    }
    counts.values().filter(|&&c| c >= 2).count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn batches_hold_each_of_their_labels_at_least_twice(
        labels in labels(), half in 2usize..7, seed: u64, epoch in 0u64..5, drop_last: bool,
    ) {
        let batch_size = 2 * half;
        let sampler = match GroupByLabelSampler::new(&labels, batch_size, seed) {
            Ok(s) => s.drop_last(drop_last),
            Err(err) => {
                prop_assert!(qualifying(&labels) < 2, "{}", err);
                return Ok(());
            }
        };
        let batches = sampler.epoch_batches(epoch);
        prop_assert_eq!(batches.len(), sampler.num_batches());
        let mut seen = HashSet::new();
        for (i, batch) in batches.iter().enumerate() {
            let mut counts: HashMap<u8, usize> = HashMap::new();
            for &example in batch {
                prop_assert!(seen.insert(example), "example {} twice in epoch", example);
                *counts.entry(labels[example]).or_default() += 1;
            }
            prop_assert!(counts.len() >= 2, "batch {:?} has one label", batch);
            prop_assert!(counts.values().all(|&c| c >= 2), "batch {:?}: {:?}", batch, counts);
            let last = i + 1 == batches.len();
            if drop_last || !last {
                prop_assert_eq!(batch.len(), batch_size);
            } else {
                prop_assert!((4..=batch_size).contains(&batch.len()));
            }
        }
        // What is used: the stream, less a dropped remainder.
        let stream = sampler.stream_len();
        let kept_partial = !drop_last && stream % batch_size >= 4;
        let used = stream / batch_size * batch_size + if kept_partial { stream % batch_size } else { 0 };
        prop_assert_eq!(seen.len(), used);
    }

    #[test]
    fn seed_and_epoch_determine_the_batches(
        labels in labels(), half in 2usize..5, seed: u64, epoch in 0u64..50,
    ) {
        let Ok(a) = GroupByLabelSampler::new(&labels, 2 * half, seed) else {
            return Ok(());
        };
        let b = GroupByLabelSampler::new(&labels, 2 * half, seed).unwrap();
        prop_assert_eq!(a.epoch_batches(epoch), b.epoch_batches(epoch));
    }
}

#[test]
fn all_labels_contribute_evenly_when_balanced() {
    // Four labels of 10: 5 pairs each, all used; batch 8 gives 5 batches.
    let labels: Vec<u32> = (0..40).map(|i| i % 4).collect();
    let s = GroupByLabelSampler::new(&labels, 8, 3).unwrap();
    assert_eq!(s.stream_len(), 40);
    let batches = s.epoch_batches(0);
    assert_eq!(batches.len(), 5);
    let differ = (1..10).any(|e| s.epoch_batches(e) != batches);
    assert!(differ);
}
