//! The training rows of a run, tokenised once, and how they become batches and tensors.

use config::{BatchSampler, TrainingConfig};
use data::{EpochSampler, GroupByLabelSampler, TargetColumn, TrainingSet};
use losses::Targets;
use model::{SentenceTokenizer, SentenceTransformer, TokenBatch, TokenizedText};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// A [`TrainingSet`] with every column tokenised by the model's tokenizer.
pub struct TrainData {
    set: TrainingSet,
    tokens: Vec<Vec<TokenizedText>>,
    /// Tokens of each column's prompt (tokenised with its texts), `None` without one.
    prompt_lengths: Vec<Option<usize>>,
    /// Tokens of each row over all its columns (length grouping); a list row's: over its
    /// (query, document) pairs.
    lengths: Vec<usize>,
}

/// One micro-batch as the loss takes it.
pub struct MicroBatch {
    pub columns: Vec<TokenBatch>,
    pub target: Option<Tensor>,
}

impl MicroBatch {
    pub fn targets(&self, set_target: &TargetColumn) -> Targets<'_> {
        match (&self.target, set_target) {
            (Some(t), TargetColumn::Classes { .. }) => Targets::Classes(t),
            (Some(t), TargetColumn::Scores(_)) => Targets::Scores(t),
            (Some(t), TargetColumn::Vectors { .. }) => Targets::Vectors(t),
            _ => Targets::None,
        }
    }
}

impl TrainData {
    /// `prompts`: one per column of `set` (see `TrainingPrompts::for_columns`). `tokenizer`
    /// is the model's: a bi-encoder's batches are these tokens; a cross-encoder tokenises its
    /// pairs per step and uses them only for the lengths.
    pub fn new(
        set: TrainingSet,
        tokenizer: &SentenceTokenizer,
        prompts: &[Option<String>],
    ) -> Result<Self> {
        let mut tokens = Vec::with_capacity(set.columns().len());
        let mut prompt_lengths = Vec::with_capacity(set.columns().len());
        for (c, column) in set.columns().iter().enumerate() {
            match prompts.get(c).and_then(Option::as_ref) {
                Some(prompt) => {
                    let prompted: Vec<String> =
                        column.iter().map(|t| format!("{prompt}{t}")).collect();
                    tokens.push(tokenizer.tokenize(&prompted)?);
                    prompt_lengths.push(Some(tokenizer.prompt_length(prompt)?));
                }
                None => {
                    tokens.push(tokenizer.tokenize(column)?);
                    prompt_lengths.push(None);
                }
            }
        }
        let mut lengths: Vec<usize> = (0..set.len())
            .map(|i| tokens.iter().map(|c| c[i].ids.len()).sum())
            .collect();
        if let Some(lists) = set.lists() {
            let documents: Vec<&str> = lists
                .documents()
                .iter()
                .flatten()
                .map(String::as_str)
                .collect();
            let mut document_lengths = tokenizer
                .tokenize(&documents)?
                .into_iter()
                .map(|t| t.ids.len());
            for (length, row) in lengths.iter_mut().zip(lists.documents()) {
                let query = *length;
                *length = row
                    .iter()
                    .map(|_| query + document_lengths.next().unwrap_or(0))
                    .sum();
            }
        }
        Ok(Self {
            set,
            tokens,
            prompt_lengths,
            lengths,
        })
    }

    pub fn set(&self) -> &TrainingSet {
        &self.set
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Epoch `epoch`'s batches of row indices: a pure function of the config's seed and the
    /// epoch, so a resumed run sees the same batches.
    pub fn epoch_batches(&self, t: &TrainingConfig, epoch: u64) -> Result<Vec<Vec<usize>>> {
        if t.batch_sampler == BatchSampler::GroupByLabel {
            let sampler =
                GroupByLabelSampler::from_target(self.set.target(), t.batch_size, t.seed)?
                    .drop_last(t.drop_last);
            return Ok(sampler.epoch_batches(epoch));
        }
        // sentence-transformers compares every column's value but the labels; a list of
        // documents is one value.
        let values: Vec<Vec<std::borrow::Cow<'_, str>>> =
            if t.batch_sampler == BatchSampler::NoDuplicates {
                (0..self.set.len())
                    .map(|i| self.set.row_values(i))
                    .collect()
            } else {
                Vec::new()
            };
        let texts: Vec<Vec<&str>> = values
            .iter()
            .map(|row| row.iter().map(|v| v.as_ref()).collect())
            .collect();
        let mut sampler = EpochSampler::new(self.set.len(), t.batch_size, t.seed)?
            .drop_last(t.drop_last)
            .in_order(t.batch_sampler == BatchSampler::Sequential);
        if t.batch_sampler == BatchSampler::NoDuplicates {
            sampler = sampler.no_duplicates(&texts)?;
        }
        if t.group_by_length {
            sampler = sampler.group_by_length(&self.lengths)?;
        }
        Ok(sampler.epoch_batches(epoch))
    }

    /// The tensors of the rows `indices`: one token batch per column, and the targets.
    pub fn micro_batch(
        &self,
        model: &SentenceTransformer,
        indices: &[usize],
        device: Device,
    ) -> Result<MicroBatch> {
        let columns = self
            .tokens
            .iter()
            .zip(&self.prompt_lengths)
            .map(|(column, prompt_length)| {
                let rows = indices
                    .iter()
                    .map(|&i| {
                        column
                            .get(i)
                            .ok_or_else(|| row_out_of_range(i, column.len()))
                    })
                    .collect::<Result<Vec<&TokenizedText>>>()?;
                let batch = model.to_tensors(&model.tokenizer().collate(&rows));
                Ok(match prompt_length {
                    Some(n) => batch.with_prompt_length(*n)?,
                    None => batch,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(MicroBatch {
            columns,
            target: target_tensor(self.set.target(), indices, device)?,
        })
    }
}

fn row_out_of_range(row: usize, len: usize) -> Error {
    Error::Dataset(format!("batch names row {row} of a {len}-row training set"))
}

pub(crate) fn target_tensor(
    target: &TargetColumn,
    indices: &[usize],
    device: Device,
) -> Result<Option<Tensor>> {
    let pick = |len: usize| {
        indices
            .iter()
            .map(|&i| {
                if i < len {
                    Ok(i)
                } else {
                    Err(row_out_of_range(i, len))
                }
            })
            .collect::<Result<Vec<usize>>>()
    };
    Ok(match target {
        TargetColumn::None => None,
        TargetColumn::Classes { values, .. } => {
            let picked: Vec<i64> = pick(values.len())?.into_iter().map(|i| values[i]).collect();
            Some(Tensor::from_slice(&picked).to_device(device))
        }
        TargetColumn::Scores(values) => {
            let picked: Vec<f32> = pick(values.len())?.into_iter().map(|i| values[i]).collect();
            Some(
                Tensor::from_slice(&picked)
                    .to_kind(Kind::Float)
                    .to_device(device),
            )
        }
        TargetColumn::Vectors { values, dim } => {
            let rows = values.len() / (*dim).max(1);
            let mut picked = Vec::with_capacity(indices.len() * dim);
            for i in pick(rows)? {
                picked.extend_from_slice(&values[i * dim..(i + 1) * dim]);
            }
            Some(
                Tensor::f_from_slice(&picked)
                    .and_then(|t| t.f_view([indices.len() as i64, *dim as i64]))
                    .and_then(|t| t.f_to_device(device))
                    .map_err(|source| Error::Torch {
                        context: "the teacher embeddings of a batch".into(),
                        source,
                    })?,
            )
        }
    })
}
