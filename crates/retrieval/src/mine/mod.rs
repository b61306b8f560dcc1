//! Hard-negative mining: sentence-transformers 6.3's `mine_hard_negatives` without the
//! cross-encoder rescoring and FAISS.
//!
//! For each unique anchor (query), the most similar corpus entries that are neither the query
//! itself nor one of its positives become candidate negatives; filters skip candidates that are
//! too close to the positive (`absolute_margin`, `relative_margin`) or outside a score band
//! (`max_score`, `min_score`); the rank window `[range_min, range_max)` is kept and
//! `num_negatives` are taken from its top or at random. The result is a dataset in one of four
//! formats ([`OutputFormat`]) plus the statistics Python prints ([`MiningStats`]).
//!
//! [`mine_embedded`] runs on given embeddings (what tests and parity checks drive); [`mine`]
//! embeds with a [`SentenceTransformer`] first (queries as `encode_query`, the corpus as
//! `encode_document`, L2-normalised), optionally through an [`EmbeddingCache`].
//!
//! Similarities are dot products of the normalised embeddings (cosine similarities), computed in
//! query chunks whose `[chunk, corpus]` block stays under [`MineParams::max_chunk_elements`].

mod candidates;
mod embed;
mod output;
mod params;
mod python_format;
mod select;
mod stats;
mod texts;

pub use candidates::{chunk_rows, top_candidates, Candidates, Chunking};
pub use embed::{embed_texts, EmbedOptions, EmbeddingCache, Role};
pub use output::{output_column_names, Column, ColumnValues, MinedDataset};
pub use params::{MineParams, OutputFormat, ResolvedParams, Sampling, DEFAULT_MAX_CHUNK_ELEMENTS};
pub use select::{Filter, SkippedCandidates};
pub use stats::{MiningStats, MissingSamples, ScoreSummary};
pub use texts::{MiningTexts, TextColumn};

use model::{EmbeddingMatrix, SentenceTransformer};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use candidates::flat_cpu;

/// A mined dataset with its statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct Mined {
    pub dataset: MinedDataset,
    pub stats: MiningStats,
    /// The parameters as used, `range_max` and the output format filled in.
    pub resolved: ResolvedParams,
}

/// An embedding matrix given to [`mine_embedded`]: a tensor, or a borrowed row-major buffer.
#[derive(Debug, Clone, Copy)]
pub enum EmbeddingInput<'a> {
    Tensor(&'a Tensor),
    Rows(eval::Embeddings<'a>),
}

impl<'a> From<&'a Tensor> for EmbeddingInput<'a> {
    fn from(t: &'a Tensor) -> Self {
        EmbeddingInput::Tensor(t)
    }
}

impl<'a> From<eval::Embeddings<'a>> for EmbeddingInput<'a> {
    fn from(e: eval::Embeddings<'a>) -> Self {
        EmbeddingInput::Rows(e)
    }
}

impl EmbeddingInput<'_> {
    /// A float32 `[rows, dim]` tensor of the embeddings, checked against the expected row count
    /// and for finite values; `input` names the matrix in errors.
    fn to_tensor(self, input: &'static str, rows: usize) -> Result<Tensor> {
        let t = match self {
            EmbeddingInput::Tensor(t) => t.f_to_kind(Kind::Float),
            EmbeddingInput::Rows(e) => Tensor::f_from_slice(e.as_slice())
                .and_then(|t| t.f_view([e.rows() as i64, e.dim() as i64])),
        }
        .map_err(Error::torch("converting embeddings to float32"))?;
        let shape = t.size();
        if shape.len() != 2 || shape[0] != rows as i64 || shape[1] == 0 {
            return Err(Error::EmbeddingShape {
                input,
                shape,
                expected: format!("[{rows}, dim] with dim > 0 (one row per text)"),
            });
        }
        let finite_rows = t
            .f_isfinite()
            .and_then(|f| f.f_all_dim(1, false))
            .map_err(Error::torch("checking embeddings for non-finite values"))?;
        let finite: Vec<bool> = flat_cpu(&finite_rows, Kind::Bool)?;
        if let Some(row) = finite.iter().position(|ok| !ok) {
            return Err(Error::NonFinite { input, row });
        }
        Ok(t)
    }
}

/// Mines hard negatives from given embeddings.
///
/// `queries` holds one L2-normalised embedding per [`MiningTexts::queries`] entry and `corpus`
/// one per [`MiningTexts::corpus`] entry, in those orders. The corpus is moved to the queries'
/// device, where the similarity search runs.
///
/// # Shapes
/// queries: `[texts.queries().len(), dim]`, corpus: `[texts.corpus().len(), dim]`
pub fn mine_embedded<'a>(
    texts: &MiningTexts,
    queries: impl Into<EmbeddingInput<'a>>,
    corpus: impl Into<EmbeddingInput<'a>>,
    params: &MineParams,
) -> Result<Mined> {
    let resolved = params.validate(texts.max_positives())?;
    output::check_column_names(texts, &resolved, params.output_scores)?;
    params.warn_about_include_positives();
    report_inputs(texts, &resolved);

    let queries = queries
        .into()
        .to_tensor("query embeddings", texts.queries().len())?;
    let corpus = corpus
        .into()
        .to_tensor("corpus embeddings", texts.corpus().len())?
        .f_to_device(queries.device())
        .map_err(Error::torch("moving the corpus to the queries' device"))?;

    let candidates = top_candidates(
        &queries,
        &corpus,
        resolved.candidate_count,
        params.max_chunk_elements,
        params.show_progress,
    )?;
    let positive_scores = positive_scores(texts, &queries, &corpus)?;
    let selection = select::select(texts, candidates, &positive_scores, params, &resolved);
    tracing::info!("negative candidates mined, preparing dataset");
    let (dataset, scores) = output::build(
        texts,
        &selection,
        &positive_scores,
        &resolved,
        params.output_scores,
    )?;

    let missing = scores
        .maximum_possible_samples
        .saturating_sub(dataset.num_rows());
    let stats = MiningStats {
        positive: ScoreSummary::of(&positive_scores)?,
        negative: ScoreSummary::of(&scores.negative)?,
        difference: ScoreSummary::of(&scores.difference)?,
        skipped: selection.skipped.clone(),
        missing: (missing > 0).then(|| MissingSamples {
            missing,
            maximum_possible: scores.maximum_possible_samples,
            parameters: loosenable(params),
        }),
    };
    Ok(Mined {
        dataset,
        stats,
        resolved,
    })
}

/// Embeds the corpus (as documents) and the queries with `model`, then mines as
/// [`mine_embedded`]. Parameters are checked before anything is encoded.
pub fn mine(
    model: &SentenceTransformer,
    texts: &MiningTexts,
    params: &MineParams,
    options: &EmbedOptions,
) -> Result<Mined> {
    let resolved = params.validate(texts.max_positives())?;
    output::check_column_names(texts, &resolved, params.output_scores)?;
    let (batch, progress) = (params.batch_size, params.show_progress);
    // the corpus first, as sentence-transformers does
    let corpus = embed_texts(
        model,
        texts.corpus(),
        Role::Document,
        options,
        batch,
        progress,
    )?;
    let queries = embed_texts(
        model,
        texts.queries(),
        Role::Query,
        options,
        batch,
        progress,
    )?;
    let device = model.device();
    let queries = matrix_tensor(&queries, device)?;
    let corpus = matrix_tensor(&corpus, device)?;
    mine_embedded(texts, &queries, &corpus, params)
}

fn matrix_tensor(m: &EmbeddingMatrix, device: Device) -> Result<Tensor> {
    Tensor::f_from_slice(&m.data)
        .and_then(|t| t.f_view([m.rows as i64, m.dim as i64]))
        .and_then(|t| t.f_to_device(device))
        .map_err(Error::torch("moving embeddings to the model's device"))
}

/// Dot products of each query with each of its positives, in [`MiningTexts::positives_of`]
/// order: `(q * p).sum(-1)` as sentence-transformers' pairwise similarity computes them.
fn positive_scores(texts: &MiningTexts, queries: &Tensor, corpus: &Tensor) -> Result<Vec<f32>> {
    let (query_rows, corpus_rows): (Vec<i64>, Vec<i64>) = (0..texts.queries().len())
        .flat_map(|q| {
            texts
                .positives_of(q)
                .iter()
                .map(move |&c| (q as i64, c as i64))
        })
        .unzip();
    let _no_grad = tch::no_grad_guard();
    let device = queries.device();
    let index = |rows: &[i64]| Tensor::f_from_slice(rows).and_then(|t| t.f_to_device(device));
    let scores = index(&query_rows)
        .and_then(|qi| queries.f_index_select(0, &qi))
        .and_then(|q| {
            let p = corpus.f_index_select(0, &index(&corpus_rows)?)?;
            q.f_mul(&p)
        })
        .and_then(|qp| qp.f_sum_dim_intlist([-1i64].as_slice(), false, None::<Kind>))
        .map_err(Error::torch("computing positive scores"))?;
    flat_cpu(&scores, Kind::Float)
}

/// The parameters the "could not find enough negatives" line suggests loosening.
fn loosenable(params: &MineParams) -> Vec<&'static str> {
    let mut names = vec!["range_max"];
    if params.range_min > 0 {
        names.push("range_min");
    }
    if params.absolute_margin.is_some() {
        names.push("absolute_margin");
    }
    if params.relative_margin.is_some() {
        names.push("relative_margin");
    }
    if params.max_score.is_some() {
        names.push("max_score");
    }
    names
}

/// The notes sentence-transformers prints before mining, as tracing events.
fn report_inputs(texts: &MiningTexts, resolved: &ResolvedParams) {
    if resolved.range_max_derived {
        tracing::info!(
            range_max = resolved.range_max,
            "setting range_max based on the provided parameters"
        );
    }
    if texts.queries().len() != texts.num_rows() {
        tracing::info!(
            unique = texts.queries().len(),
            total = texts.num_rows(),
            "found duplicate queries"
        );
    }
    if texts.max_positives() > 1 {
        tracing::info!(
            average = texts.mean_positives(),
            "average number of positives per query"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts() -> MiningTexts {
        MiningTexts::new(
            TextColumn::new("a", &["q1", "q2"]),
            TextColumn::new("p", &["p1", "p2"]),
            Some(&["d1", "d2", "d3"]),
        )
        .unwrap()
    }

    fn params() -> MineParams {
        MineParams {
            num_negatives: 1,
            show_progress: false,
            ..MineParams::default()
        }
    }

    #[test]
    fn embedding_shapes_and_values_are_checked() {
        let t = texts();
        let q = Tensor::ones([2, 4], (Kind::Float, Device::Cpu));
        let c = Tensor::ones([5, 4], (Kind::Float, Device::Cpu));
        assert!(mine_embedded(&t, &q, &c, &params()).is_ok());

        let short = Tensor::ones([4, 4], (Kind::Float, Device::Cpu));
        let e = mine_embedded(&t, &q, &short, &params())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("corpus embeddings") && e.contains("[4, 4]"),
            "{e}"
        );

        let narrow = Tensor::ones([5, 3], (Kind::Float, Device::Cpu));
        let e = mine_embedded(&t, &q, &narrow, &params())
            .unwrap_err()
            .to_string();
        assert!(e.contains("[5, 3]") && e.contains("[2, 4]"), "{e}");

        let mut values = vec![0.5f32; 8];
        values[6] = f32::NAN;
        let rows = eval::Embeddings::new(&values, 2, 4).unwrap();
        let e = mine_embedded(&t, rows, &c, &params())
            .unwrap_err()
            .to_string();
        assert!(e.contains("query embeddings") && e.contains("row 1"), "{e}");
    }

    #[test]
    fn bad_parameters_fail_before_the_search() {
        let t = texts();
        // the wrong shape would fail later: the parameter error must come first
        let q = Tensor::ones([1, 4], (Kind::Float, Device::Cpu));
        let bad = MineParams {
            num_negatives: 0,
            ..params()
        };
        let e = mine_embedded(&t, &q, &q, &bad).unwrap_err().to_string();
        assert!(e.contains("num_negatives"), "{e}");
    }
}
