//! The training output folder: the model in sentence-transformers format (loads in Python
//! unchanged), a model card, the resolved config, the metrics log and the training plot.

use std::fmt::Write as _;
use std::path::Path;

use tch::{nn, Tensor};

use crate::checkpoint::named_variables;
use crate::config::TrainConfig;
use crate::error::{io_error, Error, Result};
use crate::metrics::MetricsRecord;
use crate::plot::{write_training_plot, Series};
use crate::trainer::TrainOutcome;

/// A metric's name and how to read it off the evaluation.
type MetricRow = (&'static str, fn(&eval::StsMetrics) -> f64);

pub(crate) struct OutputParts<'a> {
    pub dir: &'a Path,
    pub model: &'a model::SentenceTransformer,
    pub loss_vars: &'a nn::VarStore,
    pub loss_name: &'a str,
    pub config: &'a TrainConfig,
    pub config_toml: &'a str,
    pub base_dir: &'a Path,
    pub outcome: &'a TrainOutcome,
    pub metrics: &'a [MetricsRecord],
    pub examples: usize,
}

pub(crate) fn write_output(parts: &OutputParts<'_>) -> Result<()> {
    let dir = parts.dir;
    parts.model.write_into(dir)?;
    let loss_vars = named_variables(parts.loss_vars);
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
    let eval: Vec<(f64, f64)> = parts
        .metrics
        .iter()
        .filter_map(|r| match r {
            MetricsRecord::Eval { step, metrics, .. } => {
                Some((*step as f64, metrics.spearman_cosine))
            }
            _ => None,
        })
        .collect();
    write_training_plot(
        &dir.join("training_plot.png"),
        &Series {
            title: "training loss",
            points: &loss,
        },
        &Series {
            title: "validation spearman (cosine)",
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
    let _ = writeln!(
        card,
        "---\nlibrary_name: sentence-transformers\npipeline_tag: sentence-similarity\ntags:\n- sentence-transformers\n- sentence-similarity\n- feature-extraction\nbase_model: {base}\n---\n"
    );
    let _ = writeln!(card, "# {base} fine-tuned with {}\n", parts.loss_name);
    let _ = writeln!(
        card,
        "A sentence-transformers model trained with sentence-rs from [{base}]({}): it maps \
         sentences to a {}-dimensional vector space.\n",
        if Path::new(base).exists() {
            parts.base_dir.display().to_string()
        } else {
            format!("https://huggingface.co/{base}")
        },
        parts.model.embedding_dimension()
    );
    let _ = writeln!(
        card,
        "## Usage\n\n```python\nfrom sentence_transformers import SentenceTransformer\n\nmodel = SentenceTransformer(\"{}\")\nembeddings = model.encode([\"A man is eating food.\", \"A man is eating a piece of bread.\"])\n```\n",
        parts.dir.display()
    );
    let _ = writeln!(card, "## Training data\n");
    let _ = writeln!(
        card,
        "- dataset: `{}` (split `{}`), as {:?}{}\n- training examples: {}\n",
        c.data.dataset,
        c.data.split,
        c.data.format,
        c.data
            .max_rows
            .map(|n| format!(", max_rows {n}"))
            .unwrap_or_default(),
        parts.examples
    );
    let _ = writeln!(card, "## Training\n");
    let _ = writeln!(
        card,
        "| hyperparameter | value |\n|---|---|\n| loss | {} (`{}`) |\n| epochs | {} |\n| steps | {} |\n| batch size | {} |\n| gradient accumulation | {} |\n| learning rate | {} |\n| warm-up steps | {} |\n| weight decay | {} |\n| max grad norm | {} |\n| batch sampler | {:?} |\n| precision | {:?} |\n| seed | {} |\n",
        parts.loss_name,
        serde_json::to_string(&c.loss).unwrap_or_default(),
        t.epochs,
        o.steps,
        t.batch_size,
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
    if o.before.is_some() || o.after.is_some() {
        let _ = writeln!(
            card,
            "## Evaluation\n\n`{}` split `{}`:\n",
            c.evaluation.dataset, c.evaluation.split
        );
        let _ = writeln!(card, "| metric | base model | this model |\n|---|---|---|");
        let cell = |m: Option<eval::StsMetrics>, f: fn(&eval::StsMetrics) -> f64| {
            m.map(|m| format!("{:.4}", f(&m)))
                .unwrap_or_else(|| "–".into())
        };
        let rows: [MetricRow; 8] = [
            ("pearson_cosine", |m| m.pearson_cosine),
            ("spearman_cosine", |m| m.spearman_cosine),
            ("pearson_euclidean", |m| m.pearson_euclidean),
            ("spearman_euclidean", |m| m.spearman_euclidean),
            ("pearson_manhattan", |m| m.pearson_manhattan),
            ("spearman_manhattan", |m| m.spearman_manhattan),
            ("pearson_dot", |m| m.pearson_dot),
            ("spearman_dot", |m| m.spearman_dot),
        ];
        for (name, f) in rows {
            let _ = writeln!(
                card,
                "| {name} | {} | {} |",
                cell(o.before, f),
                cell(o.after, f)
            );
        }
        card.push('\n');
    }
    card
}
