//! Forward + backward of every loss on random embeddings that require grad, at batch 32, 128
//! and 512 and dims 384 and 768 (CPU unless `LOSSES_BENCH_CUDA=1` and CUDA is available).
//! The cached MNRL is left out: without a model its `compute` is MNRL, and its cost is the
//! model's.
//!
//! libtorch runs on one intra-op thread unless `LOSSES_BENCH_THREADS` says otherwise, so that
//! figures stay comparable on a shared machine.
//!
//! `cargo bench -p losses`; one group per loss, ids `d{dim}/{batch}`, throughput in rows.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use losses::{BuildLoss, Loss, LossConfig, Targets};
use tch::{nn, Device, Kind, Tensor};

fn configs() -> Vec<(&'static str, LossConfig, usize)> {
    vec![
        (
            "softmax",
            LossConfig::Softmax {
                num_labels: 3,
                concatenation_sent_rep: true,
                concatenation_sent_difference: true,
                concatenation_sent_multiplication: false,
            },
            2,
        ),
        ("cosine_similarity", LossConfig::CosineSimilarity, 2),
        ("cosent", LossConfig::CoSent { scale: 20.0 }, 2),
        ("angle", LossConfig::AnglE { scale: 20.0 }, 2),
        ("mnrl_triplets", LossConfig::default(), 3),
        (
            "mnrl_symmetric_pairs",
            LossConfig::MultipleNegativesRanking {
                scale: 20.0,
                symmetric: true,
                hardness_mode: None,
                hardness_strength: 0.0,
                gather_across_devices: false,
            },
            2,
        ),
        (
            "triplet",
            LossConfig::Triplet {
                distance: Default::default(),
                margin: 5.0,
            },
            3,
        ),
        (
            "batch_hard_triplet",
            LossConfig::BatchHardTriplet {
                distance: Default::default(),
                margin: 5.0,
            },
            1,
        ),
        (
            "batch_semi_hard_triplet",
            LossConfig::BatchSemiHardTriplet {
                distance: Default::default(),
                margin: 5.0,
            },
            1,
        ),
        (
            "batch_all_triplet",
            LossConfig::BatchAllTriplet {
                distance: Default::default(),
                margin: 5.0,
            },
            1,
        ),
        (
            "batch_hard_soft_margin_triplet",
            LossConfig::BatchHardSoftMarginTriplet {
                distance: Default::default(),
            },
            1,
        ),
        (
            "contrastive",
            LossConfig::Contrastive {
                distance: Default::default(),
                margin: 0.5,
                size_average: true,
            },
            2,
        ),
        (
            "online_contrastive",
            LossConfig::OnlineContrastive {
                distance: Default::default(),
                margin: 0.5,
            },
            2,
        ),
    ]
}

fn device() -> Device {
    if std::env::var("LOSSES_BENCH_CUDA").is_ok_and(|v| v == "1") {
        Device::cuda_if_available()
    } else {
        Device::Cpu
    }
}

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

fn bench_losses(c: &mut Criterion) {
    let device = device();
    let threads = std::env::var("LOSSES_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    tch::set_num_threads(threads);
    tch::manual_seed(0);
    for (name, config, columns) in configs() {
        let mut group = c.benchmark_group(name);
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        for dim in [384i64, 768] {
            // Matryoshka over MNRL at the model's dim and two truncations.
            let configs = [
                (name.to_string(), config.clone()),
                (
                    format!("matryoshka_{name}"),
                    LossConfig::Matryoshka {
                        loss: Box::new(config.clone()),
                        dims: vec![dim, dim / 2, dim / 4],
                        weights: None,
                    },
                ),
            ];
            for (label, config) in configs {
                if label.starts_with("matryoshka") && name != "mnrl_triplets" {
                    continue;
                }
                let vs = nn::VarStore::new(device);
                let loss: Box<dyn Loss> = match config.build(&vs.root(), dim) {
                    Ok(loss) => loss,
                    Err(e) => panic!("{label}: {e}"),
                };
                for batch in [32i64, 128, 512] {
                    let embeddings: Vec<Tensor> = (0..columns)
                        .map(|_| {
                            Tensor::randn([batch, dim], (Kind::Float, device))
                                .set_requires_grad(true)
                        })
                        .collect();
                    let classes = Tensor::randint(3, [batch], (Kind::Int64, device));
                    let scores = Tensor::randint(2, [batch], (Kind::Float, device));
                    let targets = match config {
                        LossConfig::Softmax { .. }
                        | LossConfig::BatchHardTriplet { .. }
                        | LossConfig::BatchSemiHardTriplet { .. }
                        | LossConfig::BatchAllTriplet { .. }
                        | LossConfig::BatchHardSoftMarginTriplet { .. } => {
                            Targets::Classes(&classes)
                        }
                        _ => Targets::Scores(&scores),
                    };
                    group.throughput(Throughput::Elements(batch as u64));
                    let id = if label == name {
                        BenchmarkId::new(format!("d{dim}"), batch)
                    } else {
                        BenchmarkId::new(format!("matryoshka_d{dim}"), batch)
                    };
                    group.bench_function(id, |b| {
                        b.iter(|| {
                            let value = loss.compute(&embeddings, targets).unwrap();
                            value.backward();
                            sync(device);
                        })
                    });
                }
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bench_losses);
criterion_main!(benches);
