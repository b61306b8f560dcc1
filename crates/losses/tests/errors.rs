//! Bad batches give an `Error` that names both shapes (or kinds), never a panic.

use losses::{BuildLoss, Error, LossConfig, Targets};
use tch::{nn, Device, Kind, Tensor};

const DIM: i64 = 8;

fn emb(batch: i64, dim: i64) -> Tensor {
    Tensor::randn([batch, dim], (Kind::Float, Device::Cpu))
}

fn scores(n: i64) -> Tensor {
    Tensor::rand([n], (Kind::Float, Device::Cpu))
}

fn build(config: LossConfig) -> (nn::VarStore, Box<dyn losses::Loss>) {
    let vs = nn::VarStore::new(Device::Cpu);
    let loss = config.build(&vs.root(), DIM).unwrap();
    (vs, loss)
}

fn softmax() -> LossConfig {
    LossConfig::Softmax {
        num_labels: 3,
        concatenation_sent_rep: true,
        concatenation_sent_difference: true,
        concatenation_sent_multiplication: false,
    }
}

fn all_configs() -> Vec<LossConfig> {
    vec![
        softmax(),
        LossConfig::CosineSimilarity,
        LossConfig::CoSent { scale: 20.0 },
        LossConfig::AnglE { scale: 20.0 },
        LossConfig::default(),
        LossConfig::MultipleNegativesRanking {
            scale: 20.0,
            symmetric: true,
            hardness_mode: None,
            hardness_strength: 0.0,
            gather_across_devices: false,
        },
        LossConfig::CachedMultipleNegativesRanking {
            scale: 20.0,
            mini_batch_size: 2,
            hardness_mode: None,
            hardness_strength: 0.0,
            gather_across_devices: false,
        },
        LossConfig::Triplet {
            distance: Default::default(),
            margin: 5.0,
        },
        LossConfig::Contrastive {
            distance: Default::default(),
            margin: 0.5,
            size_average: true,
        },
        LossConfig::OnlineContrastive {
            distance: Default::default(),
            margin: 0.5,
        },
        LossConfig::Matryoshka {
            loss: Box::new(LossConfig::CoSent { scale: 20.0 }),
            dims: vec![8, 4],
            weights: None,
        },
    ]
}

fn expect_shape(result: losses::Result<Tensor>, left: &[i64], right: &[i64]) {
    match result {
        Err(Error::Shape {
            left: l, right: r, ..
        }) => {
            assert_eq!((l.as_slice(), r.as_slice()), (left, right));
        }
        other => panic!("expected a shape error {left:?} vs {right:?}, got {other:?}"),
    }
}

#[test]
fn wrong_column_counts_are_errors_for_every_loss() {
    for config in all_configs() {
        let (_vs, loss) = build(config);
        let (min, max) = loss.columns();
        let mut counts = vec![min - 1];
        counts.extend(max.map(|m| m + 1));
        for n in counts {
            let columns: Vec<Tensor> = (0..n).map(|_| emb(4, DIM)).collect();
            let s = scores(4);
            let result = loss.compute(&columns, Targets::Scores(&s));
            assert!(
                matches!(result, Err(Error::Columns { found, .. }) if found == n),
                "{}: {n} columns gave {result:?}",
                loss.name()
            );
        }
    }
}

#[test]
fn batch_and_dim_mismatches_between_columns_name_both_shapes() {
    for config in all_configs() {
        let (_vs, loss) = build(config);
        let n = loss.columns().0;
        let labels = Tensor::from_slice(&[0i64, 1, 2, 0]);
        let s = scores(4);
        let targets = if loss.name() == "SoftmaxLoss" {
            Targets::Classes(&labels)
        } else {
            Targets::Scores(&s)
        };
        let mut columns: Vec<Tensor> = (0..n).map(|_| emb(4, DIM)).collect();
        columns[n - 1] = emb(5, DIM);
        let err = loss.compute(&columns, targets).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("[4, 8]") && message.contains("[5, 8]"),
            "{message}"
        );
        columns[n - 1] = emb(4, DIM - 1);
        expect_shape(loss.compute(&columns, targets), &[4, 8], &[4, 7]);
        // A vector instead of a matrix.
        let flat: Vec<Tensor> = (0..n)
            .map(|_| Tensor::zeros([4], (Kind::Float, Device::Cpu)))
            .collect();
        assert!(loss.compute(&flat, targets).is_err());
    }
}

#[test]
fn missing_or_misshapen_scores_are_errors() {
    for config in [
        LossConfig::CosineSimilarity,
        LossConfig::CoSent { scale: 20.0 },
        LossConfig::AnglE { scale: 20.0 },
        LossConfig::Contrastive {
            distance: Default::default(),
            margin: 0.5,
            size_average: true,
        },
        LossConfig::OnlineContrastive {
            distance: Default::default(),
            margin: 0.5,
        },
    ] {
        let (_vs, loss) = build(config);
        let columns = [emb(4, DIM), emb(4, DIM)];
        let name = loss.name();
        assert!(
            matches!(
                loss.compute(&columns, Targets::None),
                Err(Error::Targets { .. })
            ),
            "{name}"
        );
        expect_shape(
            loss.compute(&columns, Targets::Scores(&scores(3))),
            &[3],
            &[4],
        );
        let ints = Tensor::from_slice(&[0i64, 1, 1, 0]);
        assert!(
            matches!(
                loss.compute(&columns, Targets::Scores(&ints)),
                Err(Error::Targets { .. })
            ),
            "{name}: int scores"
        );
        assert!(matches!(
            loss.compute(&columns, Targets::Classes(&ints)),
            Err(Error::Targets { .. })
        ));
        // One value per row in a column vector is what sentence-transformers accepts too.
        let column = scores(4).view([4, 1]);
        assert!(loss.compute(&columns, Targets::Scores(&column)).is_ok());
    }
}

/// An absurd num_labels fails with a message before the classifier is allocated.
#[test]
fn softmax_refuses_an_absurd_num_labels_before_allocating() {
    for num_labels in [1usize << 40, usize::MAX, (1 << 20) + 1] {
        let config = LossConfig::Softmax {
            num_labels,
            concatenation_sent_rep: true,
            concatenation_sent_difference: true,
            concatenation_sent_multiplication: false,
        };
        let vs = nn::VarStore::new(Device::Cpu);
        let err = config.build(&vs.root(), 384).unwrap_err().to_string();
        assert!(err.contains("num_labels") && err.contains("limit"), "{err}");
    }
}

#[test]
fn softmax_labels_must_be_int64_in_range() {
    let (_vs, loss) = build(softmax());
    let columns = [emb(4, DIM), emb(4, DIM)];
    let good = Tensor::from_slice(&[0i64, 1, 2, 0]);
    assert!(loss.compute(&columns, Targets::Classes(&good)).is_ok());
    for bad in [
        Tensor::from_slice(&[0i64, 1, 3, 0]),
        Tensor::from_slice(&[0i64, -1, 2, 0]),
    ] {
        let err = loss.compute(&columns, Targets::Classes(&bad)).unwrap_err();
        assert!(err.to_string().contains("0..3"), "{err}");
    }
    let int32 = good.to_kind(Kind::Int);
    let err = loss
        .compute(&columns, Targets::Classes(&int32))
        .unwrap_err();
    assert!(err.to_string().contains("Int"), "{err}");
    let floats = good.to_kind(Kind::Float);
    assert!(matches!(
        loss.compute(&columns, Targets::Scores(&floats)),
        Err(Error::Targets { .. })
    ));
    assert!(matches!(
        loss.compute(&columns, Targets::None),
        Err(Error::Targets { .. })
    ));
    expect_shape(
        loss.compute(&columns, Targets::Classes(&Tensor::from_slice(&[0i64, 1]))),
        &[2],
        &[4],
    );
    // Embeddings of another size than the classifier was built for.
    expect_shape(
        loss.compute(&[emb(4, 6), emb(4, 6)], Targets::Classes(&good)),
        &[4, 6],
        &[4, 8],
    );
}

#[test]
fn integer_embeddings_and_small_matryoshka_inputs_are_errors() {
    let (_vs, mnrl) = build(LossConfig::default());
    let ints = Tensor::zeros([4, DIM], (Kind::Int64, Device::Cpu));
    assert!(matches!(
        mnrl.compute(&[ints.shallow_clone(), ints], Targets::None),
        Err(Error::Embeddings { .. })
    ));
    let mixed = [emb(4, DIM), emb(4, DIM).to_kind(Kind::Double)];
    assert!(matches!(
        mnrl.compute(&mixed, Targets::None),
        Err(Error::Embeddings { .. })
    ));
    let (_vs, matryoshka) = build(LossConfig::Matryoshka {
        loss: Box::new(LossConfig::default()),
        dims: vec![8, 4],
        weights: None,
    });
    expect_shape(
        matryoshka.compute(&[emb(4, 6), emb(4, 6)], Targets::None),
        &[4, 6],
        &[4, 8],
    );
}

fn batch_triplet_configs() -> Vec<LossConfig> {
    let distance = losses::BatchTripletDistance::Euclidean;
    vec![
        LossConfig::BatchHardTriplet {
            distance,
            margin: 5.0,
        },
        LossConfig::BatchSemiHardTriplet {
            distance,
            margin: 5.0,
        },
        LossConfig::BatchAllTriplet {
            distance,
            margin: 5.0,
        },
        LossConfig::BatchHardSoftMarginTriplet { distance },
    ]
}

#[test]
fn batch_triplet_losses_take_one_column_and_any_class_labels() {
    let labels = Tensor::from_slice(&[0i64, 1, 0, 1]);
    for config in batch_triplet_configs() {
        let (_vs, loss) = build(config);
        let name = loss.name();
        assert_eq!(loss.columns(), (1, Some(1)), "{name}");
        assert_eq!(loss.target_kind(), losses::TargetKind::ANY_CLASS, "{name}");
        for n in [0, 2, 3] {
            let columns: Vec<Tensor> = (0..n).map(|_| emb(4, DIM)).collect();
            let result = loss.compute(&columns, Targets::Classes(&labels));
            assert!(
                matches!(result, Err(Error::Columns { found, .. }) if found == n),
                "{name}: {n} columns gave {result:?}"
            );
        }
        // Only equality matters: negative and large label values are fine.
        let odd = Tensor::from_slice(&[-3i64, 1_000_000, -3, 1_000_000]);
        assert!(loss.compute(&[emb(4, DIM)], Targets::Classes(&odd)).is_ok());
    }
}

#[test]
fn batch_triplet_labels_must_be_int64_one_per_example() {
    let columns = [emb(4, DIM)];
    let good = Tensor::from_slice(&[0i64, 1, 0, 1]);
    for config in batch_triplet_configs() {
        let (_vs, loss) = build(config);
        let name = loss.name();
        assert!(loss.compute(&columns, Targets::Classes(&good)).is_ok());
        // One value per row in a column vector is what sentence-transformers accepts too.
        let column = good.view([4, 1]);
        assert!(loss.compute(&columns, Targets::Classes(&column)).is_ok());
        for kind in [Kind::Int, Kind::Float, Kind::Bool] {
            let err = loss
                .compute(&columns, Targets::Classes(&good.to_kind(kind)))
                .unwrap_err();
            assert!(
                matches!(err, Error::Targets { .. })
                    && err.to_string().contains(&format!("{kind:?}")),
                "{name}: {err}"
            );
        }
        let floats = good.to_kind(Kind::Float);
        assert!(
            matches!(
                loss.compute(&columns, Targets::Scores(&floats)),
                Err(Error::Targets { .. })
            ),
            "{name}: scores"
        );
        assert!(
            matches!(
                loss.compute(&columns, Targets::None),
                Err(Error::Targets { .. })
            ),
            "{name}: no labels"
        );
        // Label and batch sizes disagree, both ways.
        expect_shape(
            loss.compute(
                &columns,
                Targets::Classes(&Tensor::from_slice(&[0i64, 1, 0])),
            ),
            &[3],
            &[4],
        );
        expect_shape(
            loss.compute(&[emb(3, DIM)], Targets::Classes(&good)),
            &[4],
            &[3],
        );
        let err = loss
            .compute(&[emb(3, DIM)], Targets::Classes(&good))
            .unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn batch_triplet_losses_refuse_empty_vector_and_integer_batches() {
    let none = Tensor::zeros([0], (Kind::Int64, Device::Cpu));
    let labels = Tensor::from_slice(&[0i64, 1, 0, 1]);
    for config in batch_triplet_configs() {
        let (_vs, loss) = build(config);
        let name = loss.name();
        expect_shape(
            loss.compute(&[emb(0, DIM)], Targets::Classes(&none)),
            &[0, DIM],
            &[1, DIM],
        );
        let flat = Tensor::zeros([4], (Kind::Float, Device::Cpu));
        assert!(
            matches!(
                loss.compute(&[flat], Targets::Classes(&labels)),
                Err(Error::Shape { .. })
            ),
            "{name}: a vector"
        );
        let ints = Tensor::zeros([4, DIM], (Kind::Int64, Device::Cpu));
        assert!(
            matches!(
                loss.compute(&[ints], Targets::Classes(&labels)),
                Err(Error::Embeddings { .. })
            ),
            "{name}: int64 embeddings"
        );
    }
}
