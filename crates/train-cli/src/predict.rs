//! `train-cli predict`: a cross-encoder's scores of text pairs, as sentence-transformers'
//! `CrossEncoder.predict`, written as an array or as a dataset `train-cli train` reads back
//! (the silver labels of Augmented SBERT, a teacher's scores for distillation).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use config::{DataConfig, DataFormat};
use model::{CrossEncoderOptions, PredictOptions, PromptChoice, ScoreActivation};

use crate::encode::check_output_folder;
use crate::load::ModelArgs;

#[derive(Args, Debug)]
pub struct PredictArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Text pairs: a hub dataset (glue/mnli, snli: premise and hypothesis of every labelled
    /// row; glue/stsb: sentence1 and sentence2) or a local .parquet/.csv/.tsv/.jsonl file
    /// with --columns
    #[arg(long)]
    pub pairs: String,
    /// The pair's two columns of a local file, named as they are to be written:
    /// `first=<column>,second=<column>` (e.g. `query=q,document=passage`)
    #[arg(long)]
    pub columns: Option<String>,
    /// The split of a hub dataset
    #[arg(long, default_value = "train")]
    pub split: String,
    /// Score the first this many pairs only
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rows: Option<u64>,
    /// Where to write: .npy (float32 [pairs, labels]) or .jsonl/.parquet (the two texts, then
    /// `score` for a one-label model, or `scores` and `label`, the best one's index, for
    /// several; the dataset's own label or score as `gold_label`/`gold_score` when it has one)
    #[arg(long, short)]
    pub output: PathBuf,
    /// The activation on the logits: the model's by default (sigmoid for one label, identity
    /// for several, unless its folder names another); `identity` gives raw logits. Also
    /// chooses one for a folder whose stored activation is outside torch
    #[arg(long)]
    pub activation: Option<ScoreActivation>,
    /// A softmax over each pair's labels after the activation (models with several labels)
    #[arg(long)]
    pub softmax: bool,
    /// Prepend the model's prompt of this name to the first text of every pair; without
    /// --prompt-name or --prompt, the model's `default_prompt_name` applies
    #[arg(long, conflicts_with = "prompt")]
    pub prompt_name: Option<String>,
    /// Prepend this text to the first text of every pair (empty: no prompt)
    #[arg(long)]
    pub prompt: Option<String>,
    /// Hide the progress bar
    #[arg(long)]
    pub quiet: bool,
}

/// Text pairs read from a dataset, with the names of their two columns and the dataset's own
/// target when it has one.
pub(crate) struct Pairs {
    pub names: [String; 2],
    pub pairs: Vec<(String, String)>,
    pub target: data::TargetColumn,
}

/// Reads `source` (a hub dataset or a local file with `columns`) as text pairs; `format`
/// overrides how a hub dataset's rows are read (default: an NLI dataset's labelled pairs, an
/// STS dataset's scored pairs).
pub(crate) fn read_pairs(
    client: &hub::HubClient,
    source: &str,
    columns: Option<&str>,
    split: &str,
    max_rows: Option<u64>,
    format: Option<DataFormat>,
) -> Result<Pairs> {
    let local = std::path::Path::new(source).is_file();
    if local && columns.is_none() {
        bail!(
            "--pairs {source} is a file: name its two text columns with --columns \
             first=<column>,second=<column>"
        );
    }
    let format = match (local, format) {
        (true, _) => DataFormat::Columns,
        (false, Some(format)) => format,
        (false, None) => match data::KnownDataset::find(source).map(|k| k.kind) {
            Some(data::DatasetKind::Nli) => DataFormat::LabelledPairs,
            _ => DataFormat::StsPairs,
        },
    };
    let config = DataConfig {
        dataset: source.to_string(),
        split: split.to_string(),
        format,
        columns: columns.map(str::to_string),
        max_rows: max_rows.map(|n| n as usize),
        ..DataConfig::default()
    };
    let set = config::load_training_set(client, &config, 0)
        .with_context(|| format!("reading the pairs {source}"))?;
    let (names, texts) = (set.column_names(), set.columns());
    let [first, second] = texts else {
        bail!(
            "--pairs {source} gives the text columns {names:?}; a pair is exactly two, the first \
             and the second text"
        );
    };
    Ok(Pairs {
        names: [names[0].clone(), names[1].clone()],
        pairs: first.iter().cloned().zip(second.iter().cloned()).collect(),
        target: set.target().clone(),
    })
}

impl PredictArgs {
    fn prompt_choice(&self) -> PromptChoice {
        match (&self.prompt_name, &self.prompt) {
            (Some(name), _) => PromptChoice::Name(name.clone()),
            (None, Some(text)) => PromptChoice::Text(text.clone()),
            (None, None) => PromptChoice::Default,
        }
    }
}

pub fn run(args: &PredictArgs) -> Result<()> {
    args.model.check()?;
    let extension = args.output.extension().and_then(|e| e.to_str());
    if !matches!(extension, Some("npy" | "jsonl" | "parquet")) {
        bail!(
            "--output {} must end in .npy, .jsonl or .parquet",
            args.output.display()
        );
    }
    check_output_folder(&args.output)?;
    let client = hub::HubClient::from_env()?;
    let input = read_pairs(
        &client,
        &args.pairs,
        args.columns.as_deref(),
        &args.split,
        args.max_rows,
        None,
    )?;
    let model = args.model.load_cross_encoder(&CrossEncoderOptions {
        activation: args.activation,
        ..Default::default()
    })?;
    let options = PredictOptions {
        batch_size: args.model.runtime.batch_size as usize,
        activation: args.activation,
        apply_softmax: args.softmax,
        prompt: args.prompt_choice(),
        show_progress: !args.quiet,
    };
    model
        .prompts()
        .resolve(&options.prompt)
        .context("choosing the prompt")?;
    let start = std::time::Instant::now();
    let scores = model.predict(&input.pairs, &options).context("scoring")?;
    let seconds = start.elapsed().as_secs_f64();
    if extension == Some("npy") {
        data::write_npy_f32(&args.output, &scores.data, scores.rows, scores.dim)?;
    } else {
        data::write_table(&args.output, &score_table(input, &scores))?;
    }
    eprintln!(
        "scored {} pairs into [{}, {}] ({}{}) in {seconds:.2} s ({:.0} pairs/s), wrote {}",
        scores.rows,
        scores.rows,
        scores.dim,
        args.activation.unwrap_or(model.activation()),
        if args.softmax { ", softmax" } else { "" },
        scores.rows as f64 / seconds.max(1e-9),
        args.output.display()
    );
    Ok(())
}

/// The pairs with their scores as table columns.
fn score_table(input: Pairs, scores: &model::EmbeddingMatrix) -> Vec<(String, data::TableColumn)> {
    use data::TableColumn;
    let Pairs {
        names: [first_name, second_name],
        pairs,
        target,
    } = input;
    let (first, second): (Vec<String>, Vec<String>) = pairs.into_iter().unzip();
    let mut columns = vec![
        (first_name, TableColumn::Text(first)),
        (second_name, TableColumn::Text(second)),
    ];
    let rows: Vec<&[f32]> = scores.data.chunks_exact(scores.dim.max(1)).collect();
    if scores.dim == 1 {
        columns.push(("score".into(), TableColumn::Float(scores.data.clone())));
    } else {
        let label = rows
            .iter()
            .map(|row| {
                // The first best, as numpy's argmax picks.
                let best = row
                    .iter()
                    .enumerate()
                    .fold(
                        (0, f32::NEG_INFINITY),
                        |acc, (i, &x)| {
                            if x > acc.1 {
                                (i, x)
                            } else {
                                acc
                            }
                        },
                    );
                best.0 as i64
            })
            .collect();
        columns.push((
            "scores".into(),
            TableColumn::FloatList(rows.iter().map(|r| r.to_vec()).collect()),
        ));
        columns.push(("label".into(), TableColumn::Int(label)));
    }
    match target {
        data::TargetColumn::None => {}
        data::TargetColumn::Classes { values, .. } => {
            columns.push(("gold_label".into(), TableColumn::Int(values)))
        }
        data::TargetColumn::Scores(values) => {
            columns.push(("gold_score".into(), TableColumn::Float(values)))
        }
    }
    columns
}
