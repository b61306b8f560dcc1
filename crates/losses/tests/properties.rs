//! Invariants of the losses on random embeddings.

use losses::{BatchTripletDistance, BuildLoss, Loss, LossConfig, Targets, TripletDistance};
use proptest::prelude::*;
use tch::{nn, Device, Tensor};

fn build(config: LossConfig, dim: i64) -> Box<dyn Loss> {
    let vs = nn::VarStore::new(Device::Cpu);
    config.build(&vs.root(), dim).unwrap()
}

fn value(loss: &dyn Loss, columns: &[Tensor], targets: Targets<'_>) -> f64 {
    loss.compute(columns, targets).unwrap().double_value(&[])
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-5 * a.abs().max(1.0)
}

/// The values of a batch's embedding columns (tensors are not `Clone`, which proptest needs).
#[derive(Debug, Clone)]
struct Columns {
    batch: usize,
    dim: usize,
    values: Vec<Vec<f32>>,
}

impl Columns {
    fn tensors(&self) -> Vec<Tensor> {
        let shape = [self.batch as i64, self.dim as i64];
        self.values
            .iter()
            .map(|v| Tensor::from_slice(v).view(shape))
            .collect()
    }
}

/// `columns` matrices `[batch, dim]` of values in −3..3.
fn embeddings(
    columns: std::ops::Range<usize>,
    batch: std::ops::Range<usize>,
) -> impl Strategy<Value = Columns> {
    (columns, batch, 2usize..17).prop_flat_map(|(c, b, d)| {
        prop::collection::vec(prop::collection::vec(-3f32..3f32, b * d), c).prop_map(
            move |values| Columns {
                batch: b,
                dim: d,
                values,
            },
        )
    })
}

fn mnrl_configs() -> [LossConfig; 2] {
    [
        LossConfig::default(),
        LossConfig::MultipleNegativesRanking {
            scale: 20.0,
            symmetric: true,
            hardness_mode: None,
            hardness_strength: 0.0,
            gather_across_devices: false,
        },
    ]
}

/// Every batch triplet loss, with both distances and margins that leave some triplets inactive.
fn batch_triplet_configs() -> Vec<LossConfig> {
    let mut configs = Vec::new();
    for (distance, margin) in [
        (BatchTripletDistance::Euclidean, 2.0),
        (BatchTripletDistance::CosineDistance, 0.3),
    ] {
        configs.extend([
            LossConfig::BatchHardTriplet { distance, margin },
            LossConfig::BatchSemiHardTriplet { distance, margin },
            LossConfig::BatchAllTriplet { distance, margin },
            LossConfig::BatchHardSoftMarginTriplet { distance },
        ]);
    }
    configs
}

/// One embedding column with a label per row from a few classes, and a shuffled row order.
fn labelled_batch() -> impl Strategy<Value = (Columns, Vec<i64>, Vec<i64>)> {
    embeddings(1..2, 1..13).prop_flat_map(|cols| {
        let batch = cols.batch;
        (
            Just(cols),
            prop::collection::vec(0i64..4, batch),
            Just((0..batch as i64).collect::<Vec<_>>()).prop_shuffle(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Hinges and softplus are non-negative; the batch order does not matter as long as the
    /// labels move with their rows; and only label equality matters, not the label values.
    #[test]
    fn batch_triplet_losses_are_non_negative_and_invariant_to_order_and_label_names(
        (columns, labels, order) in labelled_batch()
    ) {
        let columns = columns.tensors();
        let dim = columns[0].size()[1];
        let labels = Tensor::from_slice(&labels);
        let index = Tensor::from_slice(&order);
        let permuted = [columns[0].index_select(0, &index)];
        let permuted_labels = labels.index_select(0, &index);
        // An injective renaming, negative values included.
        let renamed = &labels * -7 + 1000;
        for config in batch_triplet_configs() {
            let loss = build(config, dim);
            let name = loss.name();
            let original = value(loss.as_ref(), &columns, Targets::Classes(&labels));
            prop_assert!(original >= 0.0 && original.is_finite(), "{name}: {original}");
            let shuffled = value(loss.as_ref(), &permuted, Targets::Classes(&permuted_labels));
            prop_assert!(close(original, shuffled), "{name}: {original} vs shuffled {shuffled}");
            let relabelled = value(loss.as_ref(), &columns, Targets::Classes(&renamed));
            prop_assert!(close(original, relabelled), "{name}: {original} vs renamed {relabelled}");
        }
    }

    /// Gradients are finite even with duplicate rows (zero distances) and single-label batches.
    #[test]
    fn batch_triplet_gradients_are_finite_with_duplicates(
        (columns, labels, _order) in labelled_batch()
    ) {
        let [column] = columns.tensors().try_into().unwrap();
        let dim = column.size()[1];
        // Every row twice: each label has at least two examples, and d(i, i') = 0.
        let doubled = Tensor::cat(&[&column, &column], 0);
        let labels = Tensor::from_slice(&labels);
        let labels = Tensor::cat(&[&labels, &labels], 0);
        for config in batch_triplet_configs() {
            let loss = build(config, dim);
            let name = loss.name();
            let leaf = doubled.copy().set_requires_grad(true);
            let value = loss.compute(&[leaf.shallow_clone()], Targets::Classes(&labels)).unwrap();
            value.backward();
            let finite = leaf.grad().isfinite().all().int64_value(&[]) == 1;
            prop_assert!(finite, "{name}: non-finite gradient");
        }
    }

    /// Cross-entropy is non-negative, and which row sits where in the batch does not matter as
    /// long as every column is permuted alike.
    #[test]
    fn mnrl_is_non_negative_and_permutation_invariant(
        (columns, order) in embeddings(2..5, 1..12).prop_flat_map(|cols| {
            let batch = cols.batch as i64;
            (Just(cols), Just((0..batch).collect::<Vec<_>>()).prop_shuffle())
        })
    ) {
        let columns = columns.tensors();
        let dim = columns[0].size()[1];
        let index = Tensor::from_slice(&order);
        let permuted: Vec<Tensor> = columns.iter().map(|c| c.index_select(0, &index)).collect();
        for config in mnrl_configs() {
            let loss = build(config, dim);
            let original = value(loss.as_ref(), &columns, Targets::None);
            prop_assert!(original >= 0.0, "{}: {original}", loss.name());
            let shuffled = value(loss.as_ref(), &permuted, Targets::None);
            prop_assert!(close(original, shuffled), "{}: {original} vs {shuffled}", loss.name());
        }
    }

    /// CoSENT only compares scores with each other, so a positive scale changes nothing.
    #[test]
    fn cosent_ignores_the_scale_of_the_scores(
        (columns, scores) in embeddings(2..3, 1..16).prop_flat_map(|cols| {
            let batch = cols.batch;
            // STS-like scores on a 0.25 grid, so that scaling cannot merge or split ties.
            (Just(cols), prop::collection::vec(0u8..21, batch))
        }),
        factor in 0.01f64..100.0,
    ) {
        let columns = columns.tensors();
        let dim = columns[0].size()[1];
        let scores: Vec<f32> = scores.iter().map(|&s| f32::from(s) * 0.25).collect();
        let scores = Tensor::from_slice(&scores);
        let scaled = &scores * factor;
        for config in [LossConfig::CoSent { scale: 20.0 }, LossConfig::AnglE { scale: 20.0 }] {
            let loss = build(config, dim);
            let a = value(loss.as_ref(), &columns, Targets::Scores(&scores));
            let b = value(loss.as_ref(), &columns, Targets::Scores(&scaled));
            prop_assert!(close(a, b), "{}: {a} vs {b}", loss.name());
        }
    }

    /// Matryoshka over the full dimension alone is the wrapped loss. sentence-transformers
    /// re-normalises the truncated embeddings, so this holds for losses that normalise anyway
    /// (cosine), and for the others on unit-length embeddings.
    #[test]
    fn matryoshka_at_full_dimension_is_the_wrapped_loss(
        columns in embeddings(3..4, 1..10),
        scores in prop::collection::vec(0f32..1.0, 10),
    ) {
        let columns = columns.tensors();
        let (batch, dim) = (columns[0].size()[0], columns[0].size()[1]);
        let unit: Vec<Tensor> = columns
            .iter()
            .map(|c| c / c.norm_scalaropt_dim(2.0, [-1], true).clamp_min(1e-12))
            .collect();
        let scores = Tensor::from_slice(&scores[..batch as usize]);
        let labels = scores.round();
        let cases: Vec<(LossConfig, &[Tensor], Targets<'_>)> = vec![
            (LossConfig::default(), &columns, Targets::None),
            (LossConfig::MultipleNegativesRanking { scale: 20.0, symmetric: true, hardness_mode: None, hardness_strength: 0.0, gather_across_devices: false }, &columns, Targets::None),
            (LossConfig::CoSent { scale: 20.0 }, &columns[..2], Targets::Scores(&scores)),
            (LossConfig::AnglE { scale: 20.0 }, &columns, Targets::Scores(&scores)),
            (LossConfig::CosineSimilarity, &columns[..2], Targets::Scores(&scores)),
            (LossConfig::Triplet { distance: TripletDistance::Cosine, margin: 0.5 }, &columns, Targets::None),
            (LossConfig::Triplet { distance: TripletDistance::Euclidean, margin: 1.0 }, &unit, Targets::None),
            (
                LossConfig::OnlineContrastive { distance: Default::default(), margin: 0.5 },
                &columns[..2],
                Targets::Scores(&labels),
            ),
        ];
        for (config, inputs, targets) in cases {
            let wrapped = build(config.clone(), dim);
            let matryoshka = build(
                LossConfig::Matryoshka { loss: Box::new(config), dims: vec![dim], weights: None },
                dim,
            );
            let a = value(wrapped.as_ref(), inputs, targets);
            let b = value(matryoshka.as_ref(), inputs, targets);
            prop_assert!(close(a, b), "{}: {a} vs matryoshka {b}", wrapped.name());
        }
    }
}
