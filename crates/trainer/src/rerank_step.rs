//! One micro-batch of cross-encoder training: the (query, document) pairs the loss's layout
//! asks for, scored by the model in the loss's forward passes, the logits laid out as the loss
//! reads them, and the backward pass (through GradCache for the cached loss).
//!
//! Rows are `(query, document_1, …)` text columns. Pairs are flattened column by column, as
//! sentence-transformers 6.3's cross-encoder losses score them: for (query, positive,
//! negative) rows all positives first, then all negatives; for in-batch negatives each column
//! of the loss's candidate matrix in turn.

use data::TrainingSet;
use losses::cross_encoder::{RerankLayout, RerankLoss, RerankScores};
use model::{CrossEncoder, TokenizedText};
use tch::{Kind, Tensor};

use crate::error::{Error, Result};

/// What a rerank loss needs from its training data: the text columns it takes and whether
/// each row must carry a label.
pub(crate) fn check_fits_data(loss: &dyn RerankLoss, set: &TrainingSet) -> Result<()> {
    let columns = set.column_names().len();
    let has_target = !matches!(set.target(), data::TargetColumn::None);
    let (fits, needs) = match loss.layout() {
        RerankLayout::Pairs => (
            columns == 2 && has_target,
            "(text, text) pairs with a label or score per row",
        ),
        RerankLayout::Columns => (
            columns >= 3 && matches!(set.target(), data::TargetColumn::Scores(_)),
            "(query, positive, negative…) rows with the teacher's margin as the score",
        ),
        RerankLayout::InBatchNegatives => {
            (columns >= 2, "(query, positive[, hard negatives…]) rows")
        }
        RerankLayout::Lists => (
            false,
            "(query, documents, labels) lists, which no training data format gives yet",
        ),
    };
    if fits {
        return Ok(());
    }
    Err(Error::Dataset(format!(
        "{} needs {needs}, but the training data has {columns} text column(s) ({}) and {}",
        loss.name(),
        set.column_names().join(", "),
        match set.target() {
            data::TargetColumn::None => "no labels".to_string(),
            data::TargetColumn::Classes { num_labels, .. } => format!("{num_labels}-class labels"),
            data::TargetColumn::Scores(_) => "float scores".to_string(),
        }
    )))
}

/// The pairs of one micro-batch in the order the model scores them, and how their logits
/// become the loss's `[batch, documents]` (or `[batch, num_labels]`) matrix.
struct Pairs<'a> {
    pairs: Vec<(&'a str, &'a str)>,
    /// Documents per row (the `[batch, documents]` logits' width); `None` for the pairs
    /// layout, whose logits are the model's `[batch, num_labels]` as they are.
    per_row: Option<usize>,
}

fn layout_pairs<'a>(
    loss: &dyn RerankLoss,
    set: &'a TrainingSet,
    rows: &[usize],
) -> Result<Pairs<'a>> {
    let columns = set.columns();
    let batch = rows.len();
    let text = |column: usize, row: usize| -> Result<&'a str> {
        columns
            .get(column)
            .and_then(|c| c.get(row))
            .map(String::as_str)
            .ok_or_else(|| Error::Dataset(format!("a batch names row {row} of column {column}")))
    };
    match loss.layout() {
        RerankLayout::Pairs => Ok(Pairs {
            pairs: rows
                .iter()
                .map(|&r| Ok((text(0, r)?, text(1, r)?)))
                .collect::<Result<_>>()?,
            per_row: None,
        }),
        RerankLayout::Columns => {
            let mut pairs = Vec::with_capacity(batch * (columns.len() - 1));
            for column in 1..columns.len() {
                for &r in rows {
                    pairs.push((text(0, r)?, text(column, r)?));
                }
            }
            Ok(Pairs {
                pairs,
                per_row: Some(columns.len() - 1),
            })
        }
        RerankLayout::InBatchNegatives => {
            let documents = columns.len() - 1;
            let candidates = loss
                .candidates(batch, documents)?
                .ok_or_else(|| Error::Dataset(format!("{} picked no candidates", loss.name())))?;
            let (_, width) = candidates.size2().map_err(|source| Error::Torch {
                context: format!("reading {}'s candidates", loss.name()),
                source,
            })?;
            let picks =
                Vec::<i64>::try_from(&candidates.contiguous().view(-1)).map_err(|source| {
                    Error::Torch {
                        context: format!("reading {}'s candidates", loss.name()),
                        source,
                    }
                })?;
            let width = width as usize;
            let mut pairs = Vec::with_capacity(batch * width);
            for k in 0..width {
                for (i, &r) in rows.iter().enumerate() {
                    // Candidate `column * batch + row`: the document column after the query.
                    let candidate = picks
                        .get(i * width + k)
                        .and_then(|&c| usize::try_from(c).ok())
                        .filter(|&c| c < batch * documents)
                        .ok_or_else(|| {
                            Error::Dataset(format!(
                                "{} picked a candidate outside the batch's {} documents",
                                loss.name(),
                                batch * documents
                            ))
                        })?;
                    let document = text(1 + candidate / batch, rows[candidate % batch])?;
                    pairs.push((text(0, r)?, document));
                }
            }
            Ok(Pairs {
                pairs,
                per_row: Some(width),
            })
        }
        RerankLayout::Lists => Err(Error::Dataset(format!(
            "{} trains on (query, documents, labels) lists, which no training data format \
             gives yet",
            loss.name()
        ))),
    }
}

fn torch(what: &str) -> impl Fn(tch::TchError) -> Error + '_ {
    move |source| Error::Torch {
        context: what.to_string(),
        source,
    }
}

/// The logits of `tokens` (pairs in scoring order) as the loss reads them.
fn arrange(logits: &Tensor, per_row: Option<usize>, batch: usize) -> Result<Tensor> {
    let Some(width) = per_row else {
        return Ok(logits.shallow_clone());
    };
    logits
        .f_reshape([width as i64, batch as i64])
        .and_then(|l| l.f_transpose(0, 1))
        .map_err(torch("arranging the pair logits"))
}

/// Runs one micro-batch of `rows` through `model` and `loss`, back-propagating
/// `loss · grad_scale`; returns the unscaled loss. `target` is the rows' labels or scores
/// (`None` for in-batch negatives). `seed` fixes the dropout of each forward pass (GradCache
/// replays them).
pub(crate) fn forward_backward(
    model: &CrossEncoder,
    loss: &dyn RerankLoss,
    set: &TrainingSet,
    rows: &[usize],
    target: Option<&Tensor>,
    grad_scale: f64,
    seed: i64,
) -> Result<f64> {
    let batch = rows.len();
    let Pairs { pairs, per_row } = layout_pairs(loss, set, rows)?;
    let tokens = model.tokenizer().tokenize_pairs(&pairs)?;
    let chunks = loss.forward_chunks(batch, tokens.len());
    // Several scores per pair train with CrossEntropyLoss alone (losses refuse other counts),
    // which takes the classes as they are; every one-score loss compares float scores.
    let labels = match target {
        Some(t) if model.num_labels() > 1 => Some(t.shallow_clone()),
        Some(t) => Some(t.f_to_kind(Kind::Float).map_err(torch("labels"))?),
        None => None,
    };
    let score = |range: &std::ops::Range<usize>, chunk: usize| -> Result<Tensor> {
        tch::manual_seed(seed.wrapping_add(chunk as i64));
        let members: Vec<&TokenizedText> = tokens
            .get(range.clone())
            .ok_or_else(|| {
                Error::Dataset(format!(
                    "{} split {} pairs into a pass over {range:?}",
                    loss.name(),
                    tokens.len()
                ))
            })?
            .iter()
            .collect();
        // Length-packed and token-major, as the bi-encoder's columns train.
        let logits = model.forward_packed_t(&members, true)?;
        Ok(match per_row {
            Some(_) => logits.f_reshape([-1]).map_err(torch("pair logits"))?,
            None => logits,
        })
    };
    let name = loss.name();
    if !loss.caches_gradients() {
        let parts = chunks
            .iter()
            .enumerate()
            .map(|(c, range)| score(range, c))
            .collect::<Result<Vec<_>>>()?;
        let logits = Tensor::f_cat(&parts, 0).map_err(torch(name))?;
        let logits = arrange(&logits, per_row, batch)?;
        let value = loss.compute(&RerankScores::new(&logits), labels.as_ref())?;
        let number = value.f_double_value(&[]).map_err(torch(name))?;
        value
            .f_mul_scalar(grad_scale)
            .map_err(torch(name))?
            .backward();
        return Ok(number);
    }
    // GradCache: every chunk scored without a graph, the loss's gradient with respect to the
    // logits taken once, then each chunk scored again (the same dropout) with a graph and its
    // slice of that gradient back-propagated.
    let parts = tch::no_grad(|| {
        chunks
            .iter()
            .enumerate()
            .map(|(c, range)| score(range, c))
            .collect::<Result<Vec<_>>>()
    })?;
    let logits = Tensor::f_cat(&parts, 0).map_err(torch(name))?;
    let leaf = arrange(&logits, per_row, batch)?
        .f_detach()
        .and_then(|l| l.f_set_requires_grad(true))
        .map_err(torch(name))?;
    let value = loss.compute(&RerankScores::new(&leaf), labels.as_ref())?;
    let number = value.f_double_value(&[]).map_err(torch(name))?;
    let grad = Tensor::f_run_backward(&[&value], &[&leaf], false, false)
        .map_err(torch(name))?
        .pop()
        .ok_or_else(|| Error::Dataset(format!("{name}: no gradient for the logits")))?;
    // Back to scoring order: [batch, width] → width-major, flat.
    let grad = match per_row {
        Some(_) => grad
            .f_transpose(0, 1)
            .and_then(|g| g.f_contiguous())
            .and_then(|g| g.f_reshape([-1]))
            .map_err(torch(name))?,
        None => grad,
    };
    for (c, range) in chunks.iter().enumerate() {
        let logits = score(range, c)?;
        let slice = grad
            .f_narrow(0, range.start as i64, range.len() as i64)
            .map_err(torch(name))?;
        logits
            .f_mul(&slice)
            .and_then(|l| l.f_sum(Kind::Float))
            .and_then(|l| l.f_mul_scalar(grad_scale))
            .map_err(torch(name))?
            .backward();
    }
    Ok(number)
}
