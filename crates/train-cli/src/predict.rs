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
    /// `first=<column>,second=<column>` (e.g. `query=q,document=passage`). Three columns
    /// (`query=q,positive=p,negative=n`, or a hub dataset with --format hard_triplets) score
    /// each row's two pairs and write the teacher's margin, score(query, positive) −
    /// score(query, negative), as `score`: the training data of MarginMSELoss
    #[arg(long)]
    pub columns: Option<String>,
    /// The split of a hub dataset
    #[arg(long, default_value = "train")]
    pub split: String,
    /// How a hub dataset's rows become pairs (as training's data.format): default
    /// labelled_pairs for NLI (the 3-way class as `gold_label`), sts_pairs for STS;
    /// scored_pairs gives NLI pairs scored 1 (entailment) or 0 (neutral, contradiction)
    #[arg(long, value_parser = crate::eval::parse_format)]
    pub format: Option<DataFormat>,
    /// Leave out the first this many pairs (a slice after the ones a model trained on)
    #[arg(long, default_value_t = 0)]
    pub skip: u64,
    /// Score this many pairs only (after --skip)
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

/// What predict scores: pairs, or (query, positive, negative) rows for their margins.
enum Input {
    Pairs(Pairs),
    Margins(Margins),
}

fn read_pairs_of(set: data::TrainingSet) -> Pairs {
    let names = set.column_names();
    let names = [names[0].clone(), names[1].clone()];
    let target = set.target().clone();
    let mut columns = set.into_columns().into_iter();
    let (first, second) = (
        columns.next().unwrap_or_default(),
        columns.next().unwrap_or_default(),
    );
    Pairs {
        names,
        pairs: first.into_iter().zip(second).collect(),
        target,
    }
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
    let set = read_rows(client, source, columns, split, max_rows, format)?;
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

/// Reads `source` as rows of text columns (pairs, or (query, positive, negative) triplets)
/// with the dataset's own target.
fn read_rows(
    client: &hub::HubClient,
    source: &str,
    columns: Option<&str>,
    split: &str,
    max_rows: Option<u64>,
    format: Option<DataFormat>,
) -> Result<data::TrainingSet> {
    let local = std::path::Path::new(source).is_file();
    if local && columns.is_none() {
        bail!(
            "--pairs {source} is a file: name its text columns with --columns \
             first=<column>,second=<column> (or query=…,positive=…,negative=… for margins)"
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
    config::load_training_set(client, &config, 0)
        .with_context(|| format!("reading the pairs {source}"))
}

/// (query, positive, negative) rows and the teacher's margin of each,
/// `score(query, positive) − score(query, negative)`: MarginMSELoss's training data.
struct Margins {
    names: [String; 3],
    rows: Vec<[String; 3]>,
}

impl Margins {
    fn from_set(source: &str, set: data::TrainingSet) -> Result<Self> {
        let names = set.column_names().to_vec();
        let [query, positive, negative] = set.columns() else {
            bail!(
                "--pairs {source} gives the text columns {names:?}; predict scores pairs (two \
                 columns) or the margins of (query, positive, negative) rows (three)"
            );
        };
        let rows = query
            .iter()
            .zip(positive)
            .zip(negative)
            .map(|((q, p), n)| [q.clone(), p.clone(), n.clone()])
            .collect();
        Ok(Self {
            names: [names[0].clone(), names[1].clone(), names[2].clone()],
            rows,
        })
    }

    /// Every row's (query, positive) pair, then every row's (query, negative) pair.
    fn pairs(&self) -> Vec<(String, String)> {
        let with = |doc: usize| {
            self.rows
                .iter()
                .map(move |r| (r[0].clone(), r[doc].clone()))
        };
        with(1).chain(with(2)).collect()
    }

    /// The texts and `score`, each row's margin, from the scores of [`Margins::pairs`].
    fn table(self, scores: &[f32]) -> Result<Vec<(String, data::TableColumn)>> {
        use data::TableColumn;
        let n = self.rows.len();
        if scores.len() != 2 * n {
            bail!(
                "{} scores for the {} pairs of {n} rows",
                scores.len(),
                2 * n
            );
        }
        let margins = scores[..n]
            .iter()
            .zip(&scores[n..])
            .map(|(p, q)| p - q)
            .collect();
        let [a, b, c] = self.names;
        let mut texts: [Vec<String>; 3] = Default::default();
        for row in self.rows {
            for (column, text) in texts.iter_mut().zip(row) {
                column.push(text);
            }
        }
        let [qs, ps, ns] = texts;
        Ok(vec![
            (a, TableColumn::Text(qs)),
            (b, TableColumn::Text(ps)),
            (c, TableColumn::Text(ns)),
            ("score".into(), TableColumn::Float(margins)),
        ])
    }
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
    let mut set = read_rows(
        &client,
        &args.pairs,
        args.columns.as_deref(),
        &args.split,
        args.max_rows.map(|n| n.saturating_add(args.skip)),
        args.format,
    )?;
    set.skip(usize::try_from(args.skip).unwrap_or(usize::MAX));
    if set.is_empty() {
        bail!(
            "--pairs {} has no rows after --skip {}",
            args.pairs,
            args.skip
        );
    }
    let input = match set.columns().len() {
        2 => Input::Pairs(read_pairs_of(set)),
        _ => Input::Margins(Margins::from_set(&args.pairs, set)?),
    };
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
    let pairs = match &input {
        Input::Pairs(p) => p.pairs.clone(),
        Input::Margins(m) => {
            if model.num_labels() != 1 {
                bail!(
                    "margins need one score per pair; {} has {} labels",
                    args.model.model,
                    model.num_labels()
                );
            }
            m.pairs()
        }
    };
    let scores = model.predict(&pairs, &options).context("scoring")?;
    let seconds = start.elapsed().as_secs_f64();
    let activation = args.activation.unwrap_or(model.activation());
    let agreement = match &input {
        Input::Pairs(p) => binary_agreement(&p.target, &scores, activation),
        Input::Margins(_) => None,
    };
    match (extension, input) {
        (Some("npy"), Input::Pairs(_)) => {
            data::write_npy_f32(&args.output, &scores.data, scores.rows, scores.dim)?
        }
        (Some("npy"), Input::Margins(m)) => {
            // [rows, 2]: each row's positive score, then its negative's.
            let n = m.rows.len();
            let (positive, negative) = scores.data.split_at(n.min(scores.data.len()));
            let interleaved: Vec<f32> = positive
                .iter()
                .zip(negative)
                .flat_map(|(p, q)| [*p, *q])
                .collect();
            data::write_npy_f32(&args.output, &interleaved, n, 2)?
        }
        (_, Input::Pairs(p)) => data::write_table(&args.output, &score_table(p, &scores))?,
        (_, Input::Margins(m)) => data::write_table(&args.output, &m.table(&scores.data)?)?,
    }
    eprintln!(
        "scored {} pairs into [{}, {}] ({}{}) in {seconds:.2} s ({:.0} pairs/s), wrote {}",
        scores.rows,
        scores.rows,
        scores.dim,
        activation,
        if args.softmax { ", softmax" } else { "" },
        scores.rows as f64 / seconds.max(1e-9),
        args.output.display()
    );
    if let Some((agree, total)) = agreement {
        eprintln!(
            "agreement with the dataset's 0/1 labels (score >= 0.5 as 1): {agree} of {total} \
             pairs ({:.2} %)",
            100.0 * agree as f64 / total.max(1) as f64
        );
    }
    Ok(())
}

/// How many one-label scores fall on the side of 0.5 their pair's 0/1 gold score is on (the
/// silver labels' agreement with gold ones), when the scores are probabilities (sigmoid) and
/// every gold score is 0 or 1; `None` otherwise.
fn binary_agreement(
    target: &data::TargetColumn,
    scores: &model::EmbeddingMatrix,
    activation: ScoreActivation,
) -> Option<(usize, usize)> {
    let data::TargetColumn::Scores(gold) = target else {
        return None;
    };
    let binary = gold.iter().all(|&g| g == 0.0 || g == 1.0);
    if scores.dim != 1 || activation != ScoreActivation::Sigmoid || !binary {
        return None;
    }
    let agree = gold
        .iter()
        .zip(&scores.data)
        .filter(|(&g, &s)| (s >= 0.5) == (g == 1.0))
        .count();
    Some((agree, gold.len()))
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
        // Only pairs come here: a pair file's embedding target is not carried through.
        data::TargetColumn::Vectors { .. } => {}
    }
    columns
}
