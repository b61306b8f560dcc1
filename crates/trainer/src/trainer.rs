//! The training loop.
//!
//! Everything random is a function of the seed and the step: the data order comes from the
//! seeded [`EpochSampler`], and libtorch's generator (dropout) is re-seeded from
//! `(seed, step, micro-batch)` before every forward pass. A checkpoint therefore only needs
//! the weights, the optimizer moments and the sampler position for a resumed run to end with
//! exactly the weights of an uninterrupted one.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use data::{EpochSampler, SamplerState, TargetColumn, TrainingSet};
use eval::StsMetrics;
use losses::{Loss, TargetKind, Targets};
use model::{SentenceTransformer, TokenBatch, TokenizedText};
use tch::{nn, Device, Kind, Tensor};
use tracing::{info, warn};

use crate::checkpoint::{self, BestEval, CheckpointParts, TrainerState};
use crate::config::{BatchSampler, Precision, TrainConfig};
use crate::error::{io_error, Error, Result};
use crate::grad_scaler::GradScaler;
use crate::metrics::{MetricsLog, MetricsRecord};
use crate::optimizer::{AdamW, AdamWSettings};
use crate::schedule::linear_warmup_decay;
use crate::sts_eval::StsSet;

/// Where a run starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Resume {
    #[default]
    Fresh,
    /// The newest complete checkpoint in the output folder (a fresh start when there is none).
    Latest,
    /// A checkpoint folder.
    From(PathBuf),
}

/// What a finished (or interrupted) run reports.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    pub output_dir: PathBuf,
    pub steps: u64,
    pub total_steps: u64,
    pub examples: usize,
    /// STS evaluation of the base model (`None` without evaluation or when resuming).
    pub before: Option<StsMetrics>,
    pub after: Option<StsMetrics>,
    pub best: Option<BestEval>,
    /// Training examples per second over the steps this process ran (evaluation excluded).
    pub examples_per_second: f64,
    /// Set when a stop was requested: a checkpoint was written and the run can be resumed.
    pub interrupted: Option<PathBuf>,
}

/// The data, model and loss of a run, checked against each other before any step is taken.
struct Prepared {
    set: TrainingSet,
    tokens: Vec<Vec<TokenizedText>>,
    eval_set: Option<StsSet>,
    model: SentenceTransformer,
    loss_vars: nn::VarStore,
    loss: Box<dyn Loss>,
    device: Device,
    resume_from: Option<PathBuf>,
    base_dir: PathBuf,
}

/// Runs the configured training. `stop` is polled between optimizer steps (Ctrl-C): when set,
/// a checkpoint is written and the run returns early.
pub fn train(
    config: &TrainConfig,
    resume: Resume,
    client: &hub::HubClient,
    stop: &AtomicBool,
) -> Result<TrainOutcome> {
    let prepared = prepare(config, &resume, client)?;
    run(config, prepared, stop)
}

fn checkpoints_root(config: &TrainConfig) -> PathBuf {
    config.output.dir.join("checkpoints")
}

fn prepare(config: &TrainConfig, resume: &Resume, client: &hub::HubClient) -> Result<Prepared> {
    let t = &config.training;
    if let Some(threads) = t.threads {
        tch::set_num_threads(threads as i32);
    }
    let mut device = t.device.resolve()?;
    if config.training.precision == Precision::Fp16 && device == Device::Cpu {
        warn!("precision fp16 needs CUDA; training in fp32 on the CPU");
    }
    if let Device::Cuda(_) = device {
        info!("training on {device:?}");
    } else {
        device = Device::Cpu;
    }

    let resume_from = match resume {
        Resume::Fresh => None,
        Resume::Latest => checkpoint::list_checkpoints(&checkpoints_root(config))?
            .pop()
            .map(|(_, path)| path),
        Resume::From(path) => {
            checkpoint::read_state(path)?;
            Some(path.clone())
        }
    };

    // Data and evaluation first: a missing file or a split without labels fails before the
    // (slower) model load.
    let set = crate::dataset::load_training_set(client, &config.data, t.seed)?;
    let eval_set = if config.evaluation.dataset.is_empty() {
        None
    } else {
        Some(StsSet::load(client, &config.evaluation)?)
    };

    let base_dir = hub::resolve_model(client, &config.model.base)?;
    let model_dir = match &resume_from {
        Some(dir) => dir.join("model"),
        None => base_dir.clone(),
    };
    let model = SentenceTransformer::load(&model_dir, device)?;

    tch::manual_seed(t.seed as i64);
    let loss_vars = nn::VarStore::new(device);
    let loss = config
        .loss
        .build(&loss_vars.root(), model.embedding_dimension())?;
    check_compatible(loss.as_ref(), &set)?;

    let tokens = set
        .columns()
        .iter()
        .map(|column| model.tokenizer().tokenize(column))
        .collect::<model::Result<Vec<_>>>()?;
    Ok(Prepared {
        set,
        tokens,
        eval_set,
        model,
        loss_vars,
        loss,
        device,
        resume_from,
        base_dir,
    })
}

/// The loss must get the columns and the kind of target it needs.
fn check_compatible(loss: &dyn Loss, set: &TrainingSet) -> Result<()> {
    let columns = set.column_names().len();
    let (min, max) = loss.columns();
    let describe = || {
        format!(
            "the training data has {columns} text column(s) ({}) but {} takes {}",
            set.column_names().join(", "),
            loss.name(),
            match max {
                Some(max) if max == min => format!("{min}"),
                Some(max) => format!("{min} to {max}"),
                None => format!("at least {min}"),
            }
        )
    };
    if columns < min || max.is_some_and(|max| columns > max) {
        return Err(Error::Dataset(describe()));
    }
    let mismatch = |needs: &str| {
        Error::Dataset(format!(
            "{} needs {needs}, but the training data has {}",
            loss.name(),
            match set.target() {
                TargetColumn::None => "no label column".to_string(),
                TargetColumn::Classes { num_labels, .. } => format!("{num_labels}-class labels"),
                TargetColumn::Scores(_) => "float scores".to_string(),
            }
        ))
    };
    match (loss.target_kind(), set.target()) {
        (TargetKind::None, TargetColumn::None) | (TargetKind::Score, TargetColumn::Scores(_)) => {
            Ok(())
        }
        (TargetKind::Class { num_labels }, TargetColumn::Classes { num_labels: n, .. })
            if *n <= num_labels =>
        {
            Ok(())
        }
        (TargetKind::Class { num_labels }, _) => {
            Err(mismatch(&format!("class labels in 0..{num_labels}")))
        }
        (TargetKind::Score, _) => Err(mismatch("a float score per row")),
        (TargetKind::None, _) => Err(mismatch("only text columns (no labels)")),
    }
}

/// The optimizer steps of one epoch: its micro-batches in groups of `accumulation`.
fn epoch_steps(batches: usize, accumulation: usize) -> u64 {
    batches.div_ceil(accumulation) as u64
}

fn run(config: &TrainConfig, p: Prepared, stop: &AtomicBool) -> Result<TrainOutcome> {
    let t = &config.training;
    let out_dir = config.output.dir.clone();
    std::fs::create_dir_all(&out_dir).map_err(io_error(&out_dir))?;
    let checkpoints = checkpoints_root(config);
    let config_toml = config.to_toml()?;

    let Prepared {
        set,
        tokens,
        eval_set,
        mut model,
        mut loss_vars,
        loss,
        device,
        resume_from,
        base_dir,
    } = p;

    let texts: Vec<Vec<&str>> = (0..set.len()).map(|i| set.row_texts(i)).collect();
    let lengths: Vec<usize> = (0..set.len())
        .map(|i| tokens.iter().map(|c| c[i].ids.len()).sum())
        .collect();
    let mut sampler = EpochSampler::new(set.len(), t.batch_size, t.seed)?
        .drop_last(t.drop_last)
        .in_order(t.batch_sampler == BatchSampler::Sequential);
    if t.batch_sampler == BatchSampler::NoDuplicates {
        sampler = sampler.no_duplicates(&texts)?;
    }
    if t.group_by_length {
        sampler = sampler.group_by_length(&lengths)?;
    }

    // The step plan: whole epochs, or as many as max_steps needs.
    let accumulation = t.gradient_accumulation_steps;
    let mut epoch_lengths: Vec<usize> = Vec::new();
    let mut total_steps = 0u64;
    let max_steps = t.max_steps.unwrap_or(u64::MAX);
    let mut epoch = 0u64;
    while (t.max_steps.is_some() || epoch < u64::from(t.epochs)) && total_steps < max_steps {
        let batches = sampler.epoch_batches(epoch).len();
        if batches == 0 {
            return Err(Error::Dataset(format!(
                "{} training rows give no batch of {} (drop_last is on)",
                set.len(),
                t.batch_size
            )));
        }
        epoch_lengths.push(batches);
        total_steps += epoch_steps(batches, accumulation);
        epoch += 1;
    }
    let total_steps = total_steps.min(max_steps);

    let mut params = checkpoint::named_variables(model.var_store());
    params.extend(
        checkpoint::named_variables(&loss_vars)
            .into_iter()
            .map(|(n, v)| (format!("{LOSS_PARAMETER_PREFIX}{n}"), v)),
    );
    let mut optimizer = AdamW::new(
        params,
        AdamWSettings {
            beta1: t.adam_beta1,
            beta2: t.adam_beta2,
            epsilon: t.adam_epsilon,
            weight_decay: t.weight_decay,
        },
    );
    let use_fp16 = t.precision == Precision::Fp16 && device.is_cuda();
    let autocast_dtype = match t.precision {
        Precision::Fp16 if use_fp16 => Some(Kind::Half),
        Precision::Bf16 => Some(Kind::BFloat16),
        _ => None,
    };

    let mut state = TrainerState {
        global_step: 0,
        epoch: 0,
        batches_done: 0,
        total_steps,
        seed: t.seed,
        scaler: use_fp16.then(GradScaler::default),
        best: None,
    };
    if let Some(dir) = &resume_from {
        state = checkpoint::read_state(dir)?;
        if state.seed != t.seed {
            return Err(Error::Checkpoint {
                path: dir.clone(),
                message: format!(
                    "was written with seed {} but the config says {}; a resumed run must use \
                     the same seed",
                    state.seed, t.seed
                ),
            });
        }
        optimizer.load(&dir.join("optimizer.safetensors"))?;
        checkpoint::load_loss_vars(dir, &mut loss_vars)?;
        state.total_steps = total_steps;
        if use_fp16 && state.scaler.is_none() {
            state.scaler = Some(GradScaler::default());
        }
        info!(checkpoint = %dir.display(), step = state.global_step, "resuming");
    }
    let mut metrics = MetricsLog::open(
        &out_dir.join("metrics.jsonl"),
        resume_from.as_ref().map(|_| state.global_step),
    )?;

    let epoch_of = |step: u64| -> f64 {
        let mut remaining = step;
        for (e, &batches) in epoch_lengths.iter().enumerate() {
            let steps = epoch_steps(batches, accumulation);
            if remaining <= steps {
                return e as f64 + remaining as f64 / steps as f64;
            }
            remaining -= steps;
        }
        epoch_lengths.len() as f64
    };

    let eval_batch = config.evaluation.batch_size;
    let evaluate = |model: &SentenceTransformer,
                    step: u64,
                    metrics: &mut MetricsLog|
     -> Result<Option<StsMetrics>> {
        let Some(eval_set) = &eval_set else {
            return Ok(None);
        };
        let m = eval_set.evaluate(model, eval_batch)?;
        info!(
            step,
            spearman_cosine = m.spearman_cosine,
            pearson_cosine = m.pearson_cosine,
            "evaluation on {}",
            eval_set.name
        );
        metrics.append(MetricsRecord::Eval {
            step,
            epoch: epoch_of(step),
            dataset: eval_set.name.clone(),
            metrics: m,
        })?;
        Ok(Some(m))
    };

    let before = if resume_from.is_none() {
        evaluate(&model, 0, &mut metrics)?
    } else {
        None
    };
    if let (Some(m), true) = (before, config.output.load_best) {
        state.best = Some(BestEval {
            step: 0,
            spearman_cosine: m.spearman_cosine,
        });
        model.save(&out_dir.join("best-model"))?;
    }

    let bar = crate::progress::training_bar(total_steps, state.global_step, config.output.progress);
    let started = Instant::now();
    let mut eval_seconds = 0.0f64;
    let mut examples_this_run = 0usize;
    let mut window = LossWindow::default();
    let mut last_checkpoint: Option<PathBuf> = resume_from.clone();
    let mut last_eval: Option<(u64, StsMetrics)> = None;
    let mut interrupted = None;
    let mut position = SamplerState {
        epoch: state.epoch,
        batches_done: state.batches_done,
    };

    // The current epoch's batches, rebuilt only when the epoch changes (not every step).
    let mut epoch_cache: Option<(u64, Vec<Vec<usize>>)> = None;
    while state.global_step < total_steps {
        if epoch_cache
            .as_ref()
            .is_none_or(|(e, _)| *e != position.epoch)
        {
            epoch_cache = Some((position.epoch, sampler.epoch_batches(position.epoch)));
        }
        let epoch_batches = match &epoch_cache {
            Some((_, batches)) => batches,
            None => continue,
        };
        if position.batches_done >= epoch_batches.len() {
            position = SamplerState {
                epoch: position.epoch + 1,
                batches_done: 0,
            };
            continue;
        }
        let end = (position.batches_done + accumulation).min(epoch_batches.len());
        let micro_batches = &epoch_batches[position.batches_done..end];

        // One optimizer step over the micro-batches.
        let loss_scale = state.scaler.map_or(1.0, |s| s.scale);
        let mut step_loss = 0.0;
        for (micro, indices) in micro_batches.iter().enumerate() {
            tch::manual_seed(step_seed(t.seed, state.global_step, micro));
            let columns: Vec<TokenBatch> = tokens
                .iter()
                .map(|column| {
                    let rows: Vec<&TokenizedText> = indices.iter().map(|&i| &column[i]).collect();
                    model.to_tensors(&model.tokenizer().collate(&rows))
                })
                .collect();
            let target_tensor = target_tensor(set.target(), indices, device);
            let targets = match (&target_tensor, set.target()) {
                (Some(t), TargetColumn::Classes { .. }) => Targets::Classes(t),
                (Some(t), TargetColumn::Scores(_)) => Targets::Scores(t),
                _ => Targets::None,
            };
            let grad_scale = loss_scale / micro_batches.len() as f64;
            let value = torch_ext::autocast(device, autocast_dtype, || {
                loss.forward_backward(&model, &columns, targets, grad_scale)
            })??;
            if !value.is_finite() {
                bar.abandon();
                return Err(Error::NonFiniteLoss {
                    value,
                    step: state.global_step + 1,
                    epoch: position.epoch,
                    last_checkpoint,
                });
            }
            step_loss += value / micro_batches.len() as f64;
            examples_this_run += indices.len();
        }

        let mut take_step = true;
        if let Some(scaler) = &mut state.scaler {
            optimizer.scale_gradients(1.0 / scaler.scale);
            take_step = scaler.update(optimizer.gradients_non_finite());
        }
        let lr = linear_warmup_decay(
            t.learning_rate,
            state.global_step,
            t.warmup_steps,
            total_steps,
        );
        let grad_norm = if take_step {
            let norm = optimizer.clip_gradients(t.max_grad_norm, |name| !is_loss_parameter(name));
            optimizer.step(lr)?;
            norm
        } else {
            warn!(
                step = state.global_step + 1,
                "fp16 gradients overflowed; step skipped"
            );
            f64::NAN
        };
        optimizer.zero_grad();
        state.global_step += 1;
        position.batches_done = end;
        if end == epoch_batches.len() {
            position = SamplerState {
                epoch: position.epoch + 1,
                batches_done: 0,
            };
        }
        state.epoch = position.epoch;
        state.batches_done = position.batches_done;
        window.add(
            step_loss,
            grad_norm,
            micro_batches.iter().map(Vec::len).sum(),
        );

        bar.set_position(state.global_step);
        bar.set_message(format!("loss {step_loss:.4} · lr {lr:.2e}"));
        let step = state.global_step;
        if step % config.output.logging_steps == 0 || step == total_steps {
            let elapsed = started.elapsed().as_secs_f64() - eval_seconds;
            let record = MetricsRecord::Train {
                step,
                epoch: epoch_of(step),
                loss: window.mean_loss(),
                learning_rate: lr,
                grad_norm: window.mean_grad_norm(),
                examples_per_second: examples_this_run as f64 / elapsed.max(1e-9),
            };
            info!(step, loss = window.mean_loss(), lr, "training");
            metrics.append(record)?;
            window = LossWindow::default();
        }
        let eval_due = config.evaluation.eval_steps > 0 && step % config.evaluation.eval_steps == 0;
        if eval_due || step == total_steps {
            let eval_start = Instant::now();
            if let Some(m) = evaluate(&model, step, &mut metrics)? {
                last_eval = Some((step, m));
                let better = state
                    .best
                    .is_none_or(|b| m.spearman_cosine > b.spearman_cosine);
                if config.output.load_best && better {
                    state.best = Some(BestEval {
                        step,
                        spearman_cosine: m.spearman_cosine,
                    });
                    model.save(&out_dir.join("best-model"))?;
                }
                bar.println(format!(
                    "step {step}: {} spearman (cosine) {:.4}",
                    eval_set.as_ref().map(|e| e.name.as_str()).unwrap_or(""),
                    m.spearman_cosine
                ));
            }
            eval_seconds += eval_start.elapsed().as_secs_f64();
        }
        let save_due = config.output.save_steps > 0 && step % config.output.save_steps == 0;
        let stopping = stop.load(Ordering::SeqCst);
        if (save_due && step < total_steps) || stopping {
            let path = checkpoint::write_checkpoint(
                &checkpoints,
                &CheckpointParts {
                    model: &model,
                    loss_vars: &loss_vars,
                    optimizer: &optimizer,
                    state: &state,
                    config_toml: &config_toml,
                },
            )?;
            if let Some(limit) = config.output.save_total_limit {
                checkpoint::rotate_checkpoints(&checkpoints, limit, None)?;
            }
            last_checkpoint = Some(path.clone());
            if stopping && step < total_steps {
                bar.abandon_with_message(format!("stopped; checkpoint {}", path.display()));
                interrupted = Some(path);
                break;
            }
        }
    }
    bar.finish_and_clear();
    let train_seconds = started.elapsed().as_secs_f64() - eval_seconds;

    if interrupted.is_none() && config.output.load_best {
        if let Some(best) = state.best {
            if last_eval.is_none_or(|(step, _)| step != best.step) {
                info!(
                    step = best.step,
                    spearman = best.spearman_cosine,
                    "loading the best model"
                );
                model = SentenceTransformer::load(&out_dir.join("best-model"), device)?;
            }
        }
    }
    let after = last_eval.map(|(_, m)| m);
    let outcome = TrainOutcome {
        output_dir: out_dir.clone(),
        steps: state.global_step,
        total_steps,
        examples: set.len(),
        before,
        after: if config.output.load_best {
            state.best.and_then(|b| {
                metrics
                    .records()
                    .iter()
                    .rev()
                    .find_map(|r| match r {
                        MetricsRecord::Eval { step, metrics, .. } if *step == b.step => {
                            Some(*metrics)
                        }
                        _ => None,
                    })
                    .or(after)
            })
        } else {
            after
        },
        best: state.best,
        examples_per_second: examples_this_run as f64 / train_seconds.max(1e-9),
        interrupted,
    };
    if outcome.interrupted.is_none() {
        crate::output::write_output(&crate::output::OutputParts {
            dir: &out_dir,
            model: &model,
            loss_vars: &loss_vars,
            loss_name: loss.name(),
            config,
            config_toml: &config_toml,
            base_dir: &base_dir,
            outcome: &outcome,
            metrics: metrics.records(),
            examples: set.len(),
        })?;
        if config.output.load_best {
            let best_dir = out_dir.join("best-model");
            if best_dir.exists() {
                std::fs::remove_dir_all(&best_dir).map_err(io_error(&best_dir))?;
            }
        }
    }
    Ok(outcome)
}

/// Optimizer names of the loss's own parameters start with this.
const LOSS_PARAMETER_PREFIX: &str = "loss.";

fn is_loss_parameter(name: &str) -> bool {
    name.starts_with(LOSS_PARAMETER_PREFIX)
}

/// A per-step seed for libtorch's generator, so dropout masks do not depend on how many
/// steps this process has run.
fn step_seed(seed: u64, step: u64, micro: usize) -> i64 {
    // splitmix64 of the three: distinct, well-mixed seeds for neighbouring steps.
    let mut z = seed
        .wrapping_add(step.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add((micro as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 1) as i64
}

fn target_tensor(target: &TargetColumn, indices: &[usize], device: Device) -> Option<Tensor> {
    match target {
        TargetColumn::None => None,
        TargetColumn::Classes { values, .. } => {
            let picked: Vec<i64> = indices.iter().map(|&i| values[i]).collect();
            Some(Tensor::from_slice(&picked).to_device(device))
        }
        TargetColumn::Scores(values) => {
            let picked: Vec<f32> = indices.iter().map(|&i| values[i]).collect();
            Some(
                Tensor::from_slice(&picked)
                    .to_kind(Kind::Float)
                    .to_device(device),
            )
        }
    }
}

/// Loss and gradient norm averaged over the steps between two log lines.
#[derive(Debug, Default)]
struct LossWindow {
    loss_sum: f64,
    grad_norm_sum: f64,
    steps: u64,
    grad_steps: u64,
    examples: usize,
}

impl LossWindow {
    fn add(&mut self, loss: f64, grad_norm: f64, examples: usize) {
        self.loss_sum += loss;
        self.steps += 1;
        if grad_norm.is_finite() {
            self.grad_norm_sum += grad_norm;
            self.grad_steps += 1;
        }
        self.examples += examples;
    }

    fn mean_loss(&self) -> f64 {
        self.loss_sum / self.steps.max(1) as f64
    }

    fn mean_grad_norm(&self) -> f64 {
        self.grad_norm_sum / self.grad_steps.max(1) as f64
    }
}

/// The path a checkpoint of `step` would have for this config (for tests and messages).
pub fn checkpoint_path(config: &TrainConfig, step: u64) -> PathBuf {
    checkpoint::checkpoint_dir(&checkpoints_root(config), step)
}
