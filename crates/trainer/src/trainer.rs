//! The training loop, as phases: [`Trainer::new`] prepares and checks everything (data,
//! evaluators, model, loss, step plan, resume state) before anything is written;
//! [`Trainer::run`] then repeats [`Trainer::train_step`], evaluation and checkpointing, and
//! [`Trainer::finish`] writes the output folder.
//!
//! Everything random is a function of the seed and the step: the data order comes from the
//! seeded sampler, and libtorch's generator (dropout) is re-seeded from `(seed, step,
//! micro-batch)` before every forward pass. A checkpoint therefore only needs the weights, the
//! optimizer moments and the sampler position for a resumed run to end with exactly the
//! weights of an uninterrupted one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use config::{Precision, TrainConfig};
use data::ScheduledBatch;
use tch::{nn, Device, Kind};
use tracing::{info, warn};

use crate::batches::StepBatches;
use crate::callbacks::{Callback, ProgressCallback, StepReport, TracingCallback};
use crate::distributed::{share_weight, Distributed};
use crate::error::{io_error, Error, Result};
use crate::evaluators::{EvalReport, EvaluatorSet};
use crate::grad_scaler::GradScaler;
use crate::optimizer::{AdamW, AdamWSettings};
use crate::plan::StepPlan;
use crate::run_builder::{RunBuilder, RunParts};
use crate::run_folder::checkpoint::{self, BestEval, CheckpointParts, TrainerState};
use crate::run_folder::metrics::{MetricsLog, MetricsRecord};
use crate::run_folder::output_lock::OutputLock;
use crate::schedule::linear_warmup_decay;
use crate::train_sets::{SetLoss, TrainSets};
use evaluate::RunModel;

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
    /// Evaluation of the base model (empty without evaluators or when resuming).
    pub before: Vec<EvalReport>,
    /// Evaluation of the saved model: the last one, or the best one with `load_best`.
    pub after: Vec<EvalReport>,
    pub best: Option<BestEval>,
    /// Training examples per second over the steps this process ran (evaluation excluded).
    pub examples_per_second: f64,
    /// Set when a stop was requested: a checkpoint was written and the run can be resumed.
    pub interrupted: Option<PathBuf>,
    /// Processes that trained together (1 without distribution).
    pub world_size: usize,
    /// What summing gradients across processes cost (a data-parallel run only).
    pub communication: Option<crate::distributed::CommStats>,
}

/// Runs the configured training with the progress bar and tracing events. `stop` is polled
/// between optimizer steps (Ctrl-C): when set, a checkpoint is written and the run returns
/// early.
pub fn train(
    config: &TrainConfig,
    resume: Resume,
    client: &hub::HubClient,
    stop: &AtomicBool,
) -> Result<TrainOutcome> {
    train_distributed(config, resume, client, stop, None)
}

/// As [`train`], as one rank of a data-parallel run when `dist` is given (the progress bar
/// and log lines come from rank 0 only).
pub fn train_distributed(
    config: &TrainConfig,
    resume: Resume,
    client: &hub::HubClient,
    stop: &AtomicBool,
    dist: Option<Distributed>,
) -> Result<TrainOutcome> {
    let mut builder = RunBuilder::new(config, client).resume(resume);
    if let Some(dist) = &dist {
        builder = builder.local_rank(dist.env().local_rank);
    }
    let mut trainer = Trainer::from_parts(config, builder.build()?)?;
    if let Some(dist) = dist {
        trainer = trainer.distributed(dist)?;
    }
    if trainer.is_main() {
        let progress = ProgressCallback::new(trainer.plan().total_steps(), config.output.progress);
        trainer.add_callback(Box::new(progress));
        trainer.add_callback(Box::new(TracingCallback));
    }
    trainer.run(stop)
}

/// Examples and seconds of the steps this process ran, evaluation time excluded.
#[derive(Debug)]
struct Throughput {
    started: Instant,
    eval_seconds: f64,
    examples: usize,
}

impl Throughput {
    fn per_second(&self) -> f64 {
        let seconds = self.started.elapsed().as_secs_f64() - self.eval_seconds;
        self.examples as f64 / seconds.max(1e-9)
    }
}

/// A prepared training run; see the module docs for its phases.
pub struct Trainer<'c> {
    config: &'c TrainConfig,
    config_toml: String,
    sets: TrainSets,
    model: RunModel,
    base_dir: PathBuf,
    loss_vars: nn::VarStore,
    device: Device,
    evaluators: EvaluatorSet,
    plan: StepPlan,
    batches: StepBatches<ScheduledBatch>,
    optimizer: AdamW,
    state: TrainerState,
    resumed_from: Option<PathBuf>,
    last_checkpoint: Option<PathBuf>,
    metrics: Option<MetricsLog>,
    callbacks: Vec<Box<dyn Callback>>,
    window: LossWindow,
    throughput: Throughput,
    before: Vec<EvalReport>,
    last_eval: Option<(u64, Vec<EvalReport>)>,
    /// A data-parallel run's process group; `None` in a single-process run.
    dist: Option<Distributed>,
    /// `output.dir/.train.lock`, from the first write to the end (dropped last).
    output_lock: Option<OutputLock>,
}

impl<'c> Trainer<'c> {
    /// Loads and checks everything the run needs; writes nothing.
    pub fn new(config: &'c TrainConfig, resume: Resume, client: &hub::HubClient) -> Result<Self> {
        Self::with_evaluators(config, resume, client, Vec::new())
    }

    /// As [`Trainer::new`], with `custom` evaluators run after the configured ones
    /// (`metric_for_best_model` may name their metrics).
    pub fn with_evaluators(
        config: &'c TrainConfig,
        resume: Resume,
        client: &hub::HubClient,
        custom: Vec<Box<dyn crate::Evaluator>>,
    ) -> Result<Self> {
        let parts = RunBuilder::new(config, client)
            .resume(resume)
            .evaluators(custom)
            .build()?;
        Self::from_parts(config, parts)
    }

    /// A trainer for parts a [`RunBuilder`] built from `config` (the same config).
    pub fn from_parts(config: &'c TrainConfig, parts: RunParts) -> Result<Self> {
        let RunParts {
            mut model,
            base_dir,
            loss_vars,
            sets,
            evaluators,
            device,
            resumed_from,
            config_toml,
        } = parts;
        if config_toml != config.to_toml()? {
            return Err(Error::Config {
                origin: "Trainer::from_parts".into(),
                message: "the parts were built from another config than the one given; build \
                          them from the config the trainer runs"
                    .into(),
            });
        }
        let t = &config.training;
        let plan = StepPlan::new(t.epochs, t.max_steps, t.gradient_accumulation_steps, |e| {
            Ok(sets.epoch_schedule(t, e)?.len())
        })?;
        let optimizer = build_optimizer(config, &model, &loss_vars);
        let use_fp16 = t.precision == Precision::Fp16 && device.is_cuda();
        // Mixed precision covers the transformer's training forwards; the losses, the
        // optimizer and the evaluations stay float32.
        model.set_training_autocast(autocast_kind(t.precision, use_fp16));
        let mut trainer = Self {
            config,
            config_toml,
            sets,
            model,
            base_dir,
            loss_vars,
            device,
            evaluators,
            batches: StepBatches::new(t.gradient_accumulation_steps, Default::default()),
            state: TrainerState {
                global_step: 0,
                epoch: 0,
                batches_done: 0,
                total_steps: plan.total_steps(),
                seed: t.seed,
                scaler: use_fp16.then(GradScaler::default),
                best: None,
            },
            plan,
            optimizer,
            resumed_from: None,
            last_checkpoint: None,
            metrics: None,
            callbacks: Vec::new(),
            window: LossWindow::default(),
            throughput: Throughput {
                started: Instant::now(),
                eval_seconds: 0.0,
                examples: 0,
            },
            before: Vec::new(),
            last_eval: None,
            dist: None,
            output_lock: None,
        };
        if let Some(dir) = resumed_from {
            trainer.restore(&dir)?;
        }
        Ok(trainer)
    }

    /// Continues from a checkpoint: weights were loaded already; here the optimizer, the loss
    /// parameters and the position.
    fn restore(&mut self, dir: &Path) -> Result<()> {
        crate::run_folder::resume_check::check_resume_config(dir, &self.config_toml)?;
        let t = &self.config.training;
        let mut state = checkpoint::read_state(dir)?;
        if state.seed != t.seed {
            return Err(Error::Checkpoint {
                path: dir.to_path_buf(),
                message: format!(
                    "was written with seed {} but the config says {}; a resumed run must use \
                     the same seed",
                    state.seed, t.seed
                ),
            });
        }
        self.optimizer.load(&dir.join("optimizer.safetensors"))?;
        checkpoint::load_loss_vars(dir, &mut self.loss_vars)?;
        state.total_steps = self.plan.total_steps();
        if self.state.scaler.is_some() && state.scaler.is_none() {
            state.scaler = Some(GradScaler::default());
        }
        self.batches = StepBatches::new(
            t.gradient_accumulation_steps,
            data::SamplerState {
                epoch: state.epoch,
                batches_done: state.batches_done,
            },
        );
        info!(checkpoint = %dir.display(), step = state.global_step, "resuming");
        self.state = state;
        self.resumed_from = Some(dir.to_path_buf());
        self.last_checkpoint = Some(dir.to_path_buf());
        Ok(())
    }

    /// Makes this trainer one rank of a data-parallel run: every rank must run the same
    /// config (checked through the rendezvous store); the weights and loss parameters start as
    /// rank 0's; each global batch is split across the ranks and their weighted gradients are
    /// summed before every optimizer step, so all ranks take the same step and end with the
    /// weights one process would reach on the same global batches. Rank 0 alone logs,
    /// evaluates and writes the output folder.
    pub fn distributed(mut self, mut dist: Distributed) -> Result<Self> {
        let world = dist.world_size();
        let batch = self.config.training.batch_size;
        if batch < world {
            return Err(Error::Config {
                origin: "training.batch_size".into(),
                message: format!(
                    "{batch} examples per step cannot be split over {world} processes; use at \
                     least as many examples per step as processes"
                ),
            });
        }
        dist.check_same_config(&self.config_toml)?;
        let mut tensors: Vec<tch::Tensor> = checkpoint::named_variables(self.model.var_store())
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        tensors.extend(
            checkpoint::named_variables(&self.loss_vars)
                .into_iter()
                .map(|(_, t)| t),
        );
        dist.broadcast_from_main(&tensors)?;
        self.sets.distribute(&dist.row_gather());
        self.dist = Some(dist);
        Ok(self)
    }

    /// Whether this process writes the output folder and logs (always, without distribution).
    pub fn is_main(&self) -> bool {
        self.dist.as_ref().is_none_or(Distributed::is_main)
    }

    /// The data-parallel run this trainer is a rank of, if any.
    pub fn distribution(&self) -> Option<&Distributed> {
        self.dist.as_ref()
    }

    pub fn add_callback(&mut self, callback: Box<dyn Callback>) {
        self.callbacks.push(callback);
    }

    pub fn plan(&self) -> &StepPlan {
        &self.plan
    }

    pub fn state(&self) -> &TrainerState {
        &self.state
    }

    pub fn model(&self) -> &RunModel {
        &self.model
    }

    pub fn evaluators(&self) -> &EvaluatorSet {
        &self.evaluators
    }

    /// Trains to the end of the plan (or until `stop` is set), then [`Trainer::finish`]es.
    pub fn run(mut self, stop: &AtomicBool) -> Result<TrainOutcome> {
        self.begin()?;
        let mut profile = crate::step_profile::StepProfile::from_env();
        while self.state.global_step < self.plan.total_steps() {
            profile.before_step(self.state.global_step + 1)?;
            let report = match self.train_step() {
                Ok(report) => report,
                Err(err) => {
                    self.notify(|c, s| c.on_train_end(s, None));
                    return Err(match &self.dist {
                        Some(dist) => dist.explain_failure(err),
                        None => err,
                    });
                }
            };
            self.after_step(&report)?;
            let stopping = self.agree_on_stop(stop.load(Ordering::SeqCst))?;
            if stopping || self.save_due() {
                let path = self.checkpoint()?;
                if stopping && self.state.global_step < self.plan.total_steps() {
                    return self.interrupted(path);
                }
            }
        }
        profile.finish()?;
        self.finish()
    }

    /// Every rank stops when one was asked to (Ctrl-C reaches one process of a node first).
    fn agree_on_stop(&mut self, here: bool) -> Result<bool> {
        match &mut self.dist {
            None => Ok(here),
            Some(dist) => Ok(dist.sum(&[f64::from(u8::from(here))])?[0] > 0.0),
        }
    }

    /// Locks the output folder, opens the metrics log (the first writes of the run) and scores
    /// the base model. Only rank 0 of a data-parallel run writes.
    fn begin(&mut self) -> Result<()> {
        if self.config.output.load_best && self.evaluators.is_empty() {
            return Err(Error::Config {
                origin: "output.load_best".into(),
                message: "keeping the best model needs at least one [[evaluation.evaluators]]"
                    .into(),
            });
        }
        if !self.is_main() {
            self.throughput.started = Instant::now();
            return Ok(());
        }
        let out_dir = &self.config.output.dir;
        std::fs::create_dir_all(out_dir).map_err(io_error(out_dir))?;
        self.output_lock = Some(OutputLock::acquire(out_dir)?);
        let resume_step = self.resumed_from.as_ref().map(|_| self.state.global_step);
        self.metrics = Some(MetricsLog::open(
            &out_dir.join("metrics.jsonl"),
            resume_step,
            &self.config.output.report_to,
        )?);
        self.throughput.started = Instant::now();
        self.notify(|c, s| c.on_train_begin(s));
        if self.resumed_from.is_none() && !self.evaluators.is_empty() {
            let reports = self.evaluate()?;
            self.keep_if_best(0, &reports)?;
            self.before = reports;
        }
        Ok(())
    }

    /// One optimizer step: forward and backward over the step's micro-batches, then the
    /// update.
    pub fn train_step(&mut self) -> Result<StepReport> {
        let t = &self.config.training;
        let sets = &self.sets;
        let micro_batches = self
            .batches
            .next_step(|epoch| sets.epoch_schedule(t, epoch))?
            .ok_or_else(|| Error::Dataset("the sampler ran out of batches".into()))?;
        let loss = self.accumulate_gradients(&micro_batches)?;
        let (learning_rate, grad_norm) = self.apply_gradients()?;
        self.state.global_step += 1;
        let position = self.batches.position();
        self.state.epoch = position.epoch;
        self.state.batches_done = position.batches_done;
        let examples = micro_batches.iter().map(|b| b.indices.len()).sum();
        self.throughput.examples += examples;
        Ok(StepReport {
            step: self.state.global_step,
            loss,
            learning_rate,
            grad_norm,
            examples,
        })
    }

    /// Forward and backward of each micro-batch; gradients add up in the parameters.
    /// Returns the step's mean loss.
    fn accumulate_gradients(&mut self, micro_batches: &[ScheduledBatch]) -> Result<f64> {
        let seed = self.config.training.seed;
        let loss_scale = self.state.scaler.map_or(1.0, |s| s.scale);
        let share = 1.0 / micro_batches.len() as f64;
        let (rank, world) = self
            .dist
            .as_ref()
            .map_or((0, 1), |d| (d.rank(), d.world_size()));
        let mut step_loss = 0.0;
        for (micro, global) in micro_batches.iter().enumerate() {
            if global.indices.len() < world {
                // Every rank sees the same schedule, so every rank skips it alike.
                warn!(
                    step = self.state.global_step + 1,
                    examples = global.indices.len(),
                    processes = world,
                    "a batch smaller than the number of processes is skipped"
                );
                continue;
            }
            // Each rank trains on its share; weighting its loss by the share's size makes the
            // summed gradients those of the whole batch's mean loss.
            let indices = global.shard(rank, world)?.to_vec();
            let weight = share_weight(indices.len(), global.indices.len());
            let scheduled = &data::ScheduledBatch {
                dataset: global.dataset,
                indices,
            };
            tch::manual_seed(step_seed(
                seed,
                self.state.global_step,
                micro * world + rank,
            ));
            let set = self.sets.get(scheduled.dataset)?;
            let value = match (&set.loss, &self.model) {
                (SetLoss::Embedding(loss), RunModel::Bi(model)) => {
                    let batch = set
                        .data
                        .micro_batch(model, &scheduled.indices, self.device)?;
                    let targets = batch.targets(set.data.set().target());
                    loss.forward_backward(
                        model,
                        &batch.columns,
                        targets,
                        loss_scale * share * weight,
                    )?
                }
                (SetLoss::Rerank(loss), RunModel::Cross(model)) => {
                    let target = crate::train_data::target_tensor(
                        set.data.set().target(),
                        &scheduled.indices,
                        self.device,
                    )?;
                    crate::rerank_step::forward_backward(
                        model,
                        loss.as_ref(),
                        set.data.set(),
                        &scheduled.indices,
                        target.as_ref(),
                        loss_scale * share * weight,
                        step_seed(seed, self.state.global_step, micro * world + rank),
                    )?
                }
                _ => {
                    return Err(Error::Dataset(format!(
                        "dataset {}: its loss is for the other kind of model",
                        set.name
                    )))
                }
            };
            step_loss += value * share * weight;
        }
        // The ranks' weighted losses add up to the global batch's (so does a NaN on any rank).
        if let Some(dist) = &mut self.dist {
            step_loss = dist.sum(&[step_loss])?[0];
        }
        if !step_loss.is_finite() {
            return Err(Error::NonFiniteLoss {
                value: step_loss,
                step: self.state.global_step + 1,
                epoch: self.batches.position().epoch,
                last_checkpoint: self.last_checkpoint.clone(),
            });
        }
        Ok(step_loss)
    }

    /// Between backward and the update: loss-scale bookkeeping, clipping and the AdamW step.
    /// A data-parallel run first sums the ranks' (share-weighted) gradients. Returns
    /// the learning rate and the gradient norm before clipping (NaN for a skipped step).
    fn apply_gradients(&mut self) -> Result<(f64, f64)> {
        self.optimizer.densify_gradients()?;
        if let Some(dist) = &mut self.dist {
            dist.sum_gradients(self.optimizer.parameters())?;
        }
        let t = &self.config.training;
        let mut take_step = true;
        if let Some(scaler) = &mut self.state.scaler {
            self.optimizer.scale_gradients(1.0 / scaler.scale);
            take_step = scaler.update(self.optimizer.gradients_non_finite());
        }
        let lr = linear_warmup_decay(
            t.learning_rate,
            self.state.global_step,
            t.warmup_steps,
            self.plan.total_steps(),
        );
        let grad_norm = if take_step {
            let norm = self
                .optimizer
                .clip_gradients(t.max_grad_norm, |name| !is_loss_parameter(name));
            self.optimizer.step(lr)?;
            norm
        } else {
            warn!(
                step = self.state.global_step + 1,
                "fp16 gradients overflowed; step skipped"
            );
            f64::NAN
        };
        self.optimizer.zero_grad()?;
        Ok((lr, grad_norm))
    }

    /// Logging and evaluation once a step is done.
    fn after_step(&mut self, report: &StepReport) -> Result<()> {
        let step = report.step;
        let last = step == self.plan.total_steps();
        self.window.add(report.loss, report.grad_norm);
        self.notify(|c, s| c.on_step_end(s, report));
        if !self.is_main() {
            return Ok(());
        }
        if step % self.config.output.logging_steps == 0 || last {
            let record = MetricsRecord::Train {
                step,
                epoch: self.plan.epoch_of(step),
                loss: self.window.mean_loss(),
                learning_rate: report.learning_rate,
                grad_norm: self.window.mean_grad_norm(),
                examples_per_second: self.throughput.per_second(),
                world_size: self.dist.as_ref().map_or(1, Distributed::world_size),
            };
            self.log(record)?;
            self.window = LossWindow::default();
        }
        let every = self.config.evaluation.eval_steps;
        if !self.evaluators.is_empty() && ((every > 0 && step % every == 0) || last) {
            let started = Instant::now();
            let reports = self.evaluate()?;
            self.keep_if_best(step, &reports)?;
            self.last_eval = Some((step, reports));
            self.throughput.eval_seconds += started.elapsed().as_secs_f64();
        }
        Ok(())
    }

    /// Runs every evaluator on the current weights and logs each report.
    pub fn evaluate(&mut self) -> Result<Vec<EvalReport>> {
        let step = self.state.global_step;
        let reports = self.evaluators.evaluate(&self.model)?;
        for r in &reports {
            self.log(MetricsRecord::Eval {
                step,
                epoch: self.plan.epoch_of(step),
                evaluator: r.evaluator.clone(),
                metrics: r.metrics.clone(),
            })?;
        }
        self.notify(|c, _| c.on_evaluate(step, &reports));
        Ok(reports)
    }

    /// With `load_best`: saves the weights when the selection metric improved.
    fn keep_if_best(&mut self, step: u64, reports: &[EvalReport]) -> Result<()> {
        let Some(selection) = self.evaluators.selection() else {
            return Ok(());
        };
        let Some(value) = selection.value_in(reports) else {
            return Ok(());
        };
        let incumbent = self.state.best.as_ref().map(|b| b.value);
        if !self.config.output.load_best || !selection.improves(value, incumbent) {
            return Ok(());
        }
        self.state.best = Some(BestEval {
            step,
            metric: selection.key(),
            value,
        });
        self.model
            .save(&self.config.output.dir.join(BEST_MODEL_DIR))?;
        Ok(())
    }

    fn save_due(&self) -> bool {
        let every = self.config.output.save_steps;
        let step = self.state.global_step;
        every > 0 && step % every == 0 && step < self.plan.total_steps()
    }

    /// Writes `checkpoints/checkpoint-{step}` and rotates old ones (rank 0 of a data-parallel
    /// run, while the others wait, so no rank runs ahead of a checkpoint it may resume from).
    pub fn checkpoint(&mut self) -> Result<PathBuf> {
        let root = checkpoints_root(self.config);
        if !self.is_main() {
            let path = checkpoint::checkpoint_dir(&root, self.state.global_step);
            if let Some(dist) = &self.dist {
                dist.barrier("after a checkpoint")?;
            }
            self.last_checkpoint = Some(path.clone());
            return Ok(path);
        }
        let path = checkpoint::write_checkpoint(
            &root,
            &CheckpointParts {
                model: &self.model,
                loss_vars: &self.loss_vars,
                optimizer: &self.optimizer,
                state: &self.state,
                config_toml: &self.config_toml,
            },
        )?;
        if let Some(limit) = self.config.output.save_total_limit {
            checkpoint::rotate_checkpoints(&root, limit, None)?;
        }
        let step = self.state.global_step;
        self.notify(|c, _| c.on_save(step, &path));
        self.last_checkpoint = Some(path.clone());
        if let Some(dist) = &self.dist {
            dist.barrier("after a checkpoint")?;
        }
        Ok(path)
    }

    fn log(&mut self, record: MetricsRecord) -> Result<()> {
        if let Some(metrics) = &mut self.metrics {
            metrics.append(record.clone())?;
        }
        self.notify(|c, _| c.on_log(&record));
        Ok(())
    }

    fn notify(&mut self, mut call: impl FnMut(&mut dyn Callback, &TrainerState)) {
        for callback in &mut self.callbacks {
            call(callback.as_mut(), &self.state);
        }
    }

    fn interrupted(mut self, checkpoint: PathBuf) -> Result<TrainOutcome> {
        self.notify(|c, s| c.on_train_end(s, Some(&checkpoint)));
        let mut outcome = self.outcome(Vec::new());
        outcome.interrupted = Some(checkpoint);
        Ok(outcome)
    }

    /// Picks the weights to keep (the best with `load_best`), writes the output folder and
    /// reports.
    pub fn finish(mut self) -> Result<TrainOutcome> {
        self.notify(|c, s| c.on_train_end(s, None));
        if !self.is_main() {
            let outcome = self.outcome(Vec::new());
            if let Some(dist) = &self.dist {
                dist.barrier("at the end")?;
            }
            return Ok(outcome);
        }
        let after = self.load_best_weights()?;
        let outcome = self.outcome(after);
        let records = self.metrics.as_ref().map(|m| m.records()).unwrap_or(&[]);
        crate::run_folder::output::write_output(&crate::run_folder::output::OutputParts {
            dir: &self.config.output.dir,
            model: &self.model,
            loss_vars: &self.loss_vars,
            sets: &self.sets,
            config: self.config,
            config_toml: &self.config_toml,
            base_dir: &self.base_dir,
            outcome: &outcome,
            selection: self.evaluators.selection(),
            metrics: records,
        })?;
        let best_dir = self.config.output.dir.join(BEST_MODEL_DIR);
        if best_dir.exists() {
            std::fs::remove_dir_all(&best_dir).map_err(io_error(&best_dir))?;
        }
        if let Some(dist) = &self.dist {
            dist.barrier("at the end")?;
        }
        Ok(outcome)
    }

    /// With `load_best`, reloads the best weights unless they are the current ones; returns
    /// the evaluation of the weights that are kept.
    fn load_best_weights(&mut self) -> Result<Vec<EvalReport>> {
        let last = self.last_eval.take();
        let best_step = match (&self.state.best, self.config.output.load_best) {
            (Some(best), true) => best.step,
            _ => return Ok(last.map(|(_, r)| r).unwrap_or_default()),
        };
        if last.as_ref().is_some_and(|(step, _)| *step == best_step) {
            return Ok(last.map(|(_, r)| r).unwrap_or_default());
        }
        info!(step = best_step, "loading the best model");
        self.model = RunModel::load(
            self.config,
            &self.config.output.dir.join(BEST_MODEL_DIR),
            self.device,
        )?;
        Ok(self.reports_at(best_step))
    }

    /// The evaluation logged at `step` (from metrics.jsonl, so also before a resume).
    fn reports_at(&self, step: u64) -> Vec<EvalReport> {
        let records = self.metrics.as_ref().map(|m| m.records()).unwrap_or(&[]);
        records
            .iter()
            .filter_map(|r| match r {
                MetricsRecord::Eval {
                    step: s,
                    evaluator,
                    metrics,
                    ..
                } if *s == step => Some(EvalReport {
                    evaluator: evaluator.clone(),
                    metrics: metrics.clone(),
                    primary_metric: self.evaluators.primary_metric_of(evaluator),
                }),
                _ => None,
            })
            .collect()
    }

    fn outcome(&self, after: Vec<EvalReport>) -> TrainOutcome {
        TrainOutcome {
            output_dir: self.config.output.dir.clone(),
            steps: self.state.global_step,
            total_steps: self.plan.total_steps(),
            examples: self.sets.examples(),
            before: self.before.clone(),
            after,
            best: self.state.best.clone(),
            examples_per_second: self.throughput.per_second(),
            interrupted: None,
            world_size: self.dist.as_ref().map_or(1, Distributed::world_size),
            communication: self.dist.as_ref().map(|d| d.stats().clone()),
        }
    }
}

/// Where `load_best` keeps the best weights until the run ends.
const BEST_MODEL_DIR: &str = "best-model";

pub(crate) fn checkpoints_root(config: &TrainConfig) -> PathBuf {
    config.output.dir.join("checkpoints")
}

fn autocast_kind(precision: Precision, use_fp16: bool) -> Option<Kind> {
    match precision {
        Precision::Fp16 if use_fp16 => Some(Kind::Half),
        Precision::Bf16 => Some(Kind::BFloat16),
        _ => None,
    }
}

fn build_optimizer(config: &TrainConfig, model: &RunModel, loss_vars: &nn::VarStore) -> AdamW {
    let t = &config.training;
    let mut params = checkpoint::named_variables(model.var_store());
    params.extend(
        checkpoint::named_variables(loss_vars)
            .into_iter()
            .map(|(n, v)| (format!("{LOSS_PARAMETER_PREFIX}{n}"), v)),
    );
    AdamW::new(
        params,
        AdamWSettings {
            beta1: t.adam_beta1,
            beta2: t.adam_beta2,
            epsilon: t.adam_epsilon,
            weight_decay: t.weight_decay,
        },
    )
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

/// Loss and gradient norm averaged over the steps between two log lines.
#[derive(Debug, Default)]
struct LossWindow {
    loss_sum: f64,
    grad_norm_sum: f64,
    steps: u64,
    grad_steps: u64,
}

impl LossWindow {
    fn add(&mut self, loss: f64, grad_norm: f64) {
        self.loss_sum += loss;
        self.steps += 1;
        if grad_norm.is_finite() {
            self.grad_norm_sum += grad_norm;
            self.grad_steps += 1;
        }
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
