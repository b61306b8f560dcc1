//! The training output folder: the model in sentence-transformers format (loads in Python
//! unchanged), a model card, the resolved config, the metrics log and the training plot.

use std::fmt::Write as _;
use std::path::Path;

use config::TrainConfig;
use tch::{nn, Tensor};

use crate::error::{io_error, Error, Result};
use crate::evaluators::{EvalReport, SelectionMetric};
use crate::run_folder::checkpoint::named_variables;
use crate::run_folder::metrics::MetricsRecord;
use crate::run_folder::plot::{write_training_plot, Series};
use crate::trainer::TrainOutcome;

pub(crate) struct OutputParts<'a> {
    pub dir: &'a Path,
    pub model: &'a evaluate::RunModel,
    pub loss_vars: &'a nn::VarStore,
    pub sets: &'a crate::train_sets::TrainSets,
    pub config: &'a TrainConfig,
    pub config_toml: &'a str,
    pub base_dir: &'a Path,
    pub outcome: &'a TrainOutcome,
    /// The metric the plot draws (best-model selection's).
    pub selection: Option<&'a SelectionMetric>,
    pub metrics: &'a [MetricsRecord],
}

pub(crate) fn write_output(parts: &OutputParts<'_>) -> Result<()> {
    let dir = parts.dir;
    parts.model.write_into(dir)?;
    // Parameters of losses that are only a training device (TSDAE's decoder) stay in the
    // checkpoints; the rest (SoftmaxLoss's classifier) go beside the model.
    let left_out: Vec<&str> = parts
        .sets
        .iter()
        .filter(|s| !s.loss.keeps_parameters_in_output())
        .map(|s| s.var_prefix.as_str())
        .collect();
    let loss_vars: Vec<(String, Tensor)> = named_variables(parts.loss_vars)
        .into_iter()
        .filter(|(name, _)| !left_out.iter().any(|prefix| name.starts_with(prefix)))
        .collect();
    if !loss_vars.is_empty() {
        let path = dir.join("loss.safetensors");
        Tensor::write_safetensors(&loss_vars, &path).map_err(|source| Error::Torch {
            context: format!("writing {}", path.display()),
            source,
        })?;
    }
    let config_path = dir.join("train_config.toml");
    std::fs::write(&config_path, parts.config_toml).map_err(io_error(&config_path))?;
    let readme = dir.join("README.md");
    std::fs::write(&readme, model_card(parts)).map_err(io_error(&readme))?;

    let loss: Vec<(f64, f64)> = parts
        .metrics
        .iter()
        .filter_map(|r| match r {
            MetricsRecord::Train { step, loss, .. } => Some((*step as f64, *loss)),
            _ => None,
        })
        .collect();
    let eval: Vec<(f64, f64)> = match parts.selection {
        Some(selection) => parts
            .metrics
            .iter()
            .filter_map(|r| match r {
                MetricsRecord::Eval {
                    step,
                    evaluator,
                    metrics,
                    ..
                } if *evaluator == selection.evaluator => metrics
                    .get(&selection.metric)
                    .map(|value| (*step as f64, value)),
                _ => None,
            })
            .collect(),
        None => Vec::new(),
    };
    let eval_title = parts
        .selection
        .map(|s| s.key().replace('_', " "))
        .unwrap_or_else(|| "no evaluation".into());
    write_training_plot(
        &dir.join("training_plot.png"),
        &Series {
            title: "training loss",
            points: &loss,
        },
        &Series {
            title: &eval_title,
            points: &eval,
        },
    )
}

fn model_card(parts: &OutputParts<'_>) -> String {
    let c = parts.config;
    let t = &c.training;
    let o = parts.outcome;
    let mut card = String::new();
    let base = &c.model.base;
    let base_link = if Path::new(base).exists() {
        parts.base_dir.display().to_string()
    } else {
        format!("https://huggingface.co/{base}")
    };
    let losses: Vec<&str> = parts.sets.iter().map(|s| s.loss.name()).collect();
    match parts.model {
        evaluate::RunModel::Bi(model) => {
            let _ = writeln!(
                card,
                "---\nlibrary_name: sentence-transformers\npipeline_tag: sentence-similarity\ntags:\n- sentence-transformers\n- sentence-similarity\n- feature-extraction\nbase_model: {base}\n---\n"
            );
            let _ = writeln!(card, "# {base} fine-tuned with {}\n", losses.join(" and "));
            let _ = writeln!(
                card,
                "A sentence-transformers model trained with sentence-rs from [{base}]({base_link}): it maps \
                 sentences to a {}-dimensional vector space.\n",
                model.embedding_dimension()
            );
            let _ = writeln!(
                card,
                "## Usage\n\n```python\nfrom sentence_transformers import SentenceTransformer\n\nmodel = SentenceTransformer(\"{}\")\nembeddings = model.encode([\"A man is eating food.\", \"A man is eating a piece of bread.\"])\n```\n",
                parts.dir.display()
            );
        }
        evaluate::RunModel::Cross(model) => {
            let _ = writeln!(
                card,
                "---\nlibrary_name: sentence-transformers\npipeline_tag: text-ranking\ntags:\n- sentence-transformers\n- cross-encoder\n- reranker\nbase_model: {base}\n---\n"
            );
            let _ = writeln!(
                card,
                "# Cross-encoder from {base} trained with {}\n",
                losses.join(" and ")
            );
            let _ = writeln!(
                card,
                "A sentence-transformers CrossEncoder trained with sentence-rs from \
                 [{base}]({base_link}): it scores a pair of texts with {} value(s) \
                 (`predict` applies {}).\n",
                model.num_labels(),
                model.activation()
            );
            let _ = writeln!(
                card,
                "## Usage\n\n```python\nfrom sentence_transformers import CrossEncoder\n\nmodel = CrossEncoder(\"{}\")\nscores = model.predict([(\"A man is eating food.\", \"A man is eating a piece of bread.\")])\n```\n",
                parts.dir.display()
            );
        }
    }
    training_data(&mut card, parts);
    let _ = writeln!(card, "## Training\n");
    let _ = writeln!(
        card,
        "| hyperparameter | value |\n|---|---|\n| epochs | {} |\n| steps | {} |\n| batch size | {} |\n| processes | {} |\n| gradient accumulation | {} |\n| learning rate | {} |\n| warm-up steps | {} |\n| weight decay | {} |\n| max grad norm | {} |\n| batch sampler | {:?} |\n| precision | {:?} |\n| seed | {} |\n",
        t.epochs,
        o.steps,
        t.batch_size,
        o.world_size,
        t.gradient_accumulation_steps,
        t.learning_rate,
        t.warmup_steps,
        t.weight_decay,
        t.max_grad_norm,
        t.batch_sampler,
        t.precision,
        t.seed
    );
    let _ = writeln!(
        card,
        "Training throughput: {:.1} examples/s. The full configuration is in \
         `train_config.toml`, the per-step log in `metrics.jsonl`, the curves in \
         `training_plot.png`.\n",
        o.examples_per_second
    );
    evaluation_tables(&mut card, &o.before, &o.after);
    card
}

/// Each dataset with its loss and row count.
fn training_data(card: &mut String, parts: &OutputParts<'_>) {
    let _ = writeln!(card, "## Training data\n");
    let _ = writeln!(card, "| dataset | rows | loss |\n|---|---|---|");
    for set in parts.sets.iter() {
        let _ = writeln!(
            card,
            "| {}: {} | {} | {} (`{}`) |",
            set.name,
            set.description,
            set.data.len(),
            set.loss.name(),
            set.loss_json
        );
    }
    if parts.sets.iter().count() > 1 {
        let _ = writeln!(
            card,
            "\nEvery batch comes from one dataset; batches are interleaved {:?} \
             (`training.multi_dataset_sampling`).",
            parts.config.training.multi_dataset_sampling
        );
    }
    let _ = writeln!(card, "\nTraining examples: {}.\n", parts.sets.examples());
}

/// One table per evaluator: each metric of the base model and of the saved model.
fn evaluation_tables(card: &mut String, before: &[EvalReport], after: &[EvalReport]) {
    if before.is_empty() && after.is_empty() {
        return;
    }
    let _ = writeln!(card, "## Evaluation\n");
    let named =
        |reports: &[EvalReport], name: &str| reports.iter().find(|r| r.evaluator == name).cloned();
    let mut names: Vec<&str> = after.iter().map(|r| r.evaluator.as_str()).collect();
    names.extend(
        before
            .iter()
            .map(|r| r.evaluator.as_str())
            .filter(|n| !after.iter().any(|a| a.evaluator == *n)),
    );
    for name in names {
        let (b, a) = (named(before, name), named(after, name));
        let _ = writeln!(card, "`{name}`:\n");
        let _ = writeln!(card, "| metric | base model | this model |\n|---|---|---|");
        let keys = a
            .as_ref()
            .or(b.as_ref())
            .map(|r| r.metrics.clone())
            .unwrap_or_default();
        let cell = |r: &Option<EvalReport>, key: &str| {
            r.as_ref()
                .and_then(|r| r.metrics.get(key))
                .map(|v| format!("{v:.4}"))
                .unwrap_or_else(|| "–".into())
        };
        for (key, _) in keys.iter() {
            let _ = writeln!(card, "| {key} | {} | {} |", cell(&b, key), cell(&a, key));
        }
        card.push('\n');
    }
}
