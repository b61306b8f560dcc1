//! Invariants of `EpochSampler`: coverage, no duplicate texts, determinism, resumption.

use std::collections::HashSet;

use data::{EpochSampler, SamplerState};
use proptest::prelude::*;

/// Example texts drawn from a small vocabulary, so collisions are frequent.
fn examples() -> impl Strategy<Value = Vec<Vec<String>>> {
    prop::collection::vec(
        prop::collection::vec((0u8..12).prop_map(|t| format!("t{t}")), 1..4),
        0..60,
    )
}

fn as_strs(texts: &[Vec<String>]) -> Vec<Vec<&str>> {
    texts
        .iter()
        .map(|ts| ts.iter().map(String::as_str).collect())
        .collect()
}

fn lengths_of(texts: &[Vec<String>]) -> Vec<usize> {
    texts
        .iter()
        .map(|ts| ts.iter().map(String::len).sum())
        .collect()
}

fn sorted_concat(batches: &[Vec<usize>]) -> Vec<usize> {
    let mut all = batches.concat();
    all.sort_unstable();
    all
}

proptest! {
    #[test]
    fn every_example_once_per_epoch(
        texts in examples(), batch_size in 1usize..9, seed: u64, epoch in 0u64..5,
        dedup: bool, group: bool,
    ) {
        let strs = as_strs(&texts);
        let lengths = lengths_of(&texts);
        let mut s = EpochSampler::new(texts.len(), batch_size, seed).unwrap();
        if dedup { s = s.no_duplicates(&strs).unwrap(); }
        if group { s = s.group_by_length(&lengths).unwrap(); }
        let batches = s.epoch_batches(epoch);
        prop_assert_eq!(sorted_concat(&batches), (0..texts.len()).collect::<Vec<_>>());
        prop_assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= batch_size));
        if !dedup && !group {
            // Only the last batch may be short.
            let n = batches.len();
            prop_assert!(batches.iter().take(n.saturating_sub(1)).all(|b| b.len() == batch_size));
        }
        let dropped = s.drop_last(true).epoch_batches(epoch);
        prop_assert!(dropped.iter().all(|b| b.len() == batch_size));
    }

    #[test]
    fn no_text_twice_in_a_batch(
        texts in examples(), batch_size in 1usize..9, seed: u64, epoch in 0u64..5, group: bool,
    ) {
        let strs = as_strs(&texts);
        let lengths = lengths_of(&texts);
        let mut s = EpochSampler::new(texts.len(), batch_size, seed)
            .unwrap()
            .no_duplicates(&strs)
            .unwrap();
        if group { s = s.group_by_length(&lengths).unwrap(); }
        for batch in s.epoch_batches(epoch) {
            let mut seen: HashSet<&str> = HashSet::new();
            for &i in &batch {
                let own: HashSet<&str> = strs[i].iter().copied().collect();
                prop_assert!(own.is_disjoint(&seen), "batch {:?} repeats a text", batch);
                seen.extend(own);
            }
        }
    }

    #[test]
    fn seed_and_epoch_determine_the_order(
        len in 10usize..80, batch_size in 1usize..9, seed: u64, epoch in 0u64..100,
    ) {
        let s = EpochSampler::new(len, batch_size, seed).unwrap();
        prop_assert_eq!(s.epoch_batches(epoch), s.epoch_batches(epoch));
        prop_assert_eq!(
            s.epoch_batches(epoch),
            EpochSampler::new(len, batch_size, seed).unwrap().epoch_batches(epoch)
        );
        // 10! orders: two epochs coinciding is vanishingly unlikely.
        prop_assert_ne!(s.epoch_batches(epoch).concat(), s.epoch_batches(epoch + 1).concat());
    }

    #[test]
    fn restoring_state_continues_the_sequence(
        texts in examples(), batch_size in 1usize..9, seed: u64,
        dedup: bool, group: bool, stop in 0usize..40,
    ) {
        prop_assume!(!texts.is_empty());
        let strs = as_strs(&texts);
        let lengths = lengths_of(&texts);
        let mut s = EpochSampler::new(texts.len(), batch_size, seed).unwrap();
        if dedup { s = s.no_duplicates(&strs).unwrap(); }
        if group { s = s.group_by_length(&lengths).unwrap(); }
        let start = SamplerState { epoch: 2, batches_done: 0 };
        let full: Vec<Vec<usize>> = s.iter_from(start).take(stop + 30).collect();
        let mut first = s.iter_from(start);
        let head: Vec<Vec<usize>> = first.by_ref().take(stop).collect();
        let saved = first.state();
        // A fresh sampler, as after a restart.
        let mut s2 = EpochSampler::new(texts.len(), batch_size, seed).unwrap();
        if dedup { s2 = s2.no_duplicates(&strs).unwrap(); }
        if group { s2 = s2.group_by_length(&lengths).unwrap(); }
        let tail: Vec<Vec<usize>> = s2.iter_from(saved).take(30).collect();
        prop_assert_eq!([head, tail].concat(), full);
    }
}

proptest! {
    #[test]
    fn in_order_keeps_the_data_order_every_epoch(
        len in 0usize..200,
        batch_size in 1usize..40,
        seed in any::<u64>(),
        epoch in 0u64..5,
    ) {
        let sampler = EpochSampler::new(len, batch_size, seed).unwrap().in_order(true);
        let flat: Vec<usize> = sampler.epoch_batches(epoch).concat();
        prop_assert_eq!(flat, (0..len).collect::<Vec<_>>());
    }
}
