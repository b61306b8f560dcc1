//! One micro-batch of cross-encoder training: the (query, document) pairs the loss's layout
//! asks for, scored by the model in the loss's forward passes, the logits laid out as the loss
//! reads them, and the backward pass (through GradCache for the cached loss).
//!
//! Rows are `(query, document_1, …)` text columns. Pairs are flattened column by column, as
//! sentence-transformers 6.3's cross-encoder losses score them: for (query, positive,
//! negative) rows all positives first, then all negatives; for in-batch negatives each column
//! of the loss's candidate matrix in turn. (query, documents, labels) lists are flattened row
//! by row, as 6.3's listwise losses do (`[(query, doc) for query, docs in zip(queries,
//! docs_list) for doc in docs]`), and their logits placed left-aligned in a
//! `[batch, max_docs]` matrix with the labels beside them.

use data::TrainingSet;
use losses::cross_encoder::{RerankLayout, RerankLoss, RerankScores};
use model::{CrossEncoder, TokenizedText};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// The `type` names of the losses that train on (query, documents, labels) lists.
const LISTWISE_TYPES: &str = "cross_encoder.list_net, cross_encoder.list_mle, \
                              cross_encoder.p_list_mle, cross_encoder.lambda or \
                              cross_encoder.rank_net";

/// What the training data is, for messages: its text columns and target, or its lists.
pub(crate) fn describe_data(set: &TrainingSet) -> String {
    if set.lists().is_some() {
        return format!(
            "(query, documents, labels) lists ({}), which train cross-encoders with the \
             listwise losses ({LISTWISE_TYPES})",
            set.describe_columns()
        );
    }
    format!(
        "{} text column(s) ({}) and {}",
        set.column_names().len(),
        set.column_names().join(", "),
        match set.target() {
            data::TargetColumn::None => "no labels".to_string(),
            data::TargetColumn::Classes { num_labels, .. } => format!("{num_labels}-class labels"),
            data::TargetColumn::Scores(_) => "float scores".to_string(),
            data::TargetColumn::Vectors { dim, .. } => format!("{dim}-dimensional embeddings"),
        }
    )
}

/// What a rerank loss needs from its training data: the text columns it takes and whether
/// each row must carry a label, or (query, documents, labels) lists.
pub(crate) fn check_fits_data(loss: &dyn RerankLoss, set: &TrainingSet) -> Result<()> {
    let columns = set.column_names().len();
    let lists = set.lists().is_some();
    let has_target = matches!(
        set.target(),
        data::TargetColumn::Classes { .. } | data::TargetColumn::Scores(_)
    );
    let (fits, needs) = match loss.layout() {
        RerankLayout::Pairs => (
            !lists && columns == 2 && has_target,
            "(text, text) pairs with a label or score per row",
        ),
        RerankLayout::Columns => (
            !lists && columns >= 3 && matches!(set.target(), data::TargetColumn::Scores(_)),
            "(query, positive, negative…) rows with the teacher's margin as the score",
        ),
        RerankLayout::InBatchNegatives => (
            !lists && columns >= 2,
            "(query, positive[, hard negatives…]) rows",
        ),
        RerankLayout::Lists => (
            lists,
            "(query, documents, labels) lists: data.format = \"columns\" with a `labels` role, \
             e.g. columns = \"query=query,documents=docs,labels=labels\" over a .jsonl or \
             .parquet file",
        ),
    };
    if fits {
        return Ok(());
    }
    Err(Error::Dataset(format!(
        "{} needs {needs}, but the training data has {}",
        loss.name(),
        describe_data(set)
    )))
}

/// How the flat logits of a micro-batch's pairs (in scoring order) become the loss's matrix.
enum Arrangement {
    /// The model's `[batch, num_labels]` as they are (the pairs layout).
    AsIs,
    /// `[batch, width]`, the pairs having been scored column by column.
    ColumnMajor { width: usize },
    /// `[batch, max_docs]`, left-aligned, the pairs having been scored row by row.
    Lists { docs_per_row: Vec<usize> },
}

/// The pairs of one micro-batch in the order the model scores them, and how their logits
/// become the loss's `[batch, documents]` (or `[batch, num_labels]`) matrix.
struct Pairs<'a> {
    pairs: Vec<(&'a str, &'a str)>,
    arrangement: Arrangement,
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
            arrangement: Arrangement::AsIs,
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
                arrangement: Arrangement::ColumnMajor {
                    width: columns.len() - 1,
                },
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
                arrangement: Arrangement::ColumnMajor { width },
            })
        }
        RerankLayout::Lists => {
            let lists = set
                .lists()
                .ok_or_else(|| Error::Dataset(format!("{} needs lists", loss.name())))?;
            let mut pairs = Vec::new();
            let mut docs_per_row = Vec::with_capacity(batch);
            for &r in rows {
                let query = text(0, r)?;
                let documents = lists.row_documents(r).ok_or_else(|| {
                    Error::Dataset(format!("a batch names row {r} of the document lists"))
                })?;
                pairs.extend(documents.iter().map(|d| (query, d.as_str())));
                docs_per_row.push(documents.len());
            }
            Ok(Pairs {
                pairs,
                arrangement: Arrangement::Lists { docs_per_row },
            })
        }
    }
}

/// The `[batch, max_docs]` labels of list rows `rows` (left-aligned, 0 at padding, which the
/// loss masks by the rows' document counts).
fn list_labels(set: &TrainingSet, rows: &[usize], device: Device) -> Result<Tensor> {
    let lists = set
        .lists()
        .ok_or_else(|| Error::Dataset("the training data has no document lists".into()))?;
    let labels = rows
        .iter()
        .map(|&r| {
            lists.row_labels(r).ok_or_else(|| {
                Error::Dataset(format!("a batch names row {r} of the document lists"))
            })
        })
        .collect::<Result<Vec<&[f32]>>>()?;
    let width = labels.iter().map(|l| l.len()).max().unwrap_or(0);
    let mut padded = vec![0f32; labels.len() * width];
    for (row, values) in labels.iter().enumerate() {
        padded[row * width..row * width + values.len()].copy_from_slice(values);
    }
    Tensor::f_from_slice(&padded)
        .and_then(|t| t.f_reshape([labels.len() as i64, width as i64]))
        .and_then(|t| t.f_to_device(device))
        .map_err(torch("list labels"))
}

/// For list rows: where each pair's logit goes in the flattened `[batch, max_docs]` matrix
/// (`row * max_docs + position`), in scoring order, and `max_docs`.
fn list_positions(docs_per_row: &[usize]) -> (Vec<i64>, usize) {
    let width = docs_per_row.iter().copied().max().unwrap_or(0);
    let positions = docs_per_row
        .iter()
        .enumerate()
        .flat_map(|(row, &n)| (0..n).map(move |j| (row * width + j) as i64))
        .collect();
    (positions, width)
}

fn torch(what: &str) -> impl Fn(tch::TchError) -> Error + '_ {
    move |source| Error::Torch {
        context: what.to_string(),
        source,
    }
}

/// The logits of `tokens` (pairs in scoring order) as the loss reads them.
fn arrange(logits: &Tensor, arrangement: &Arrangement, batch: usize) -> Result<Tensor> {
    match arrangement {
        Arrangement::AsIs => Ok(logits.shallow_clone()),
        Arrangement::ColumnMajor { width } => logits
            .f_reshape([*width as i64, batch as i64])
            .and_then(|l| l.f_transpose(0, 1))
            .map_err(torch("arranging the pair logits")),
        Arrangement::Lists { docs_per_row } => {
            // Every position of the matrix picks its pair's logit, a padding one the 0 appended
            // after the pairs (any finite value: the loss masks it).
            let (positions, width) = list_positions(docs_per_row);
            let pairs = positions.len() as i64;
            let mut source = vec![pairs; batch * width];
            for (pair, &position) in positions.iter().enumerate() {
                source[position as usize] = pair as i64;
            }
            let device = logits.device();
            Tensor::f_zeros([1], (logits.kind(), device))
                .and_then(|zero| Tensor::f_cat(&[logits, &zero], 0))
                .and_then(|l| {
                    l.f_index_select(0, &Tensor::f_from_slice(&source)?.f_to_device(device)?)
                })
                .and_then(|l| l.f_reshape([batch as i64, width as i64]))
                .map_err(torch("arranging the list logits"))
        }
    }
}

/// The arranged logits as the loss takes them (with each row's document count for lists).
fn scores<'a>(logits: &'a Tensor, arrangement: &'a Arrangement) -> RerankScores<'a> {
    match arrangement {
        Arrangement::Lists { docs_per_row } => RerankScores::lists(logits, docs_per_row),
        _ => RerankScores::new(logits),
    }
}

/// The inverse of [`arrange`] for a gradient of the loss's matrix: back to the flat scoring
/// order.
fn unarrange(grad: Tensor, arrangement: &Arrangement) -> Result<Tensor> {
    match arrangement {
        Arrangement::AsIs => Ok(grad),
        Arrangement::ColumnMajor { .. } => grad
            .f_transpose(0, 1)
            .and_then(|g| g.f_contiguous())
            .and_then(|g| g.f_reshape([-1]))
            .map_err(torch("the logits' gradient")),
        Arrangement::Lists { docs_per_row } => {
            let (positions, _) = list_positions(docs_per_row);
            let device = grad.device();
            grad.f_reshape([-1])
                .and_then(|g| {
                    g.f_index_select(0, &Tensor::f_from_slice(&positions)?.f_to_device(device)?)
                })
                .map_err(torch("the logits' gradient"))
        }
    }
}

/// One micro-batch of cross-encoder training on the rows `rows` of `set`, as the Trainer runs
/// it: the pairs `loss`'s layout asks for, scored by `model` (dropout on, seeded with `seed`
/// per forward pass) in the passes [`RerankLoss::forward_chunks`] says, the logits laid out as
/// the loss reads them, and `loss · grad_scale` back-propagated into the model's gradients.
/// Returns the unscaled loss.
pub fn rerank_micro_batch(
    model: &CrossEncoder,
    loss: &dyn RerankLoss,
    set: &TrainingSet,
    rows: &[usize],
    grad_scale: f64,
    seed: i64,
) -> Result<f64> {
    let target = crate::train_data::target_tensor(set.target(), rows, model.device())?;
    forward_backward(model, loss, set, rows, target.as_ref(), grad_scale, seed)
}

/// Runs one micro-batch of `rows` through `model` and `loss`, back-propagating
/// `loss · grad_scale`; returns the unscaled loss. `target` is the rows' labels or scores
/// (`None` for in-batch negatives and for lists, whose labels come from the set's lists).
/// `seed` fixes the dropout of each forward pass (GradCache replays them).
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
    let Pairs { pairs, arrangement } = layout_pairs(loss, set, rows)?;
    let tokens = model.tokenizer().tokenize_pairs(&pairs)?;
    let chunks = loss.forward_chunks(batch, tokens.len());
    // Several scores per pair train with CrossEntropyLoss alone (losses refuse other counts),
    // which takes the classes as they are; every one-score loss compares float scores.
    let labels = match (target, &arrangement) {
        (_, Arrangement::Lists { .. }) => Some(list_labels(set, rows, model.device())?),
        (Some(t), _) if model.num_labels() > 1 => Some(t.shallow_clone()),
        (Some(t), _) => Some(t.f_to_kind(Kind::Float).map_err(torch("labels"))?),
        (None, _) => None,
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
        Ok(match arrangement {
            Arrangement::AsIs => logits,
            _ => logits.f_reshape([-1]).map_err(torch("pair logits"))?,
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
        let logits = arrange(&logits, &arrangement, batch)?;
        let value = loss.compute(&scores(&logits, &arrangement), labels.as_ref())?;
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
    let leaf = arrange(&logits, &arrangement, batch)?
        .f_detach()
        .and_then(|l| l.f_set_requires_grad(true))
        .map_err(torch(name))?;
    let value = loss.compute(&scores(&leaf, &arrangement), labels.as_ref())?;
    let number = value.f_double_value(&[]).map_err(torch(name))?;
    let grad = Tensor::f_run_backward(&[&value], &[&leaf], false, false)
        .map_err(torch(name))?
        .pop()
        .ok_or_else(|| Error::Dataset(format!("{name}: no gradient for the logits")))?;
    // Back to scoring order.
    let grad = unarrange(grad, &arrangement)?;
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
