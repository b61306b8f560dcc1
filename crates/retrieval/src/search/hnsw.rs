//! An approximate nearest-neighbour graph (HNSW) over an index's embeddings, through usearch,
//! built as sentence-transformers' `semantic_search_usearch` builds its `Index`: float32 with
//! metric `cos`, int8 with `ip`, binary and ubinary as `b1` bits with `hamming` (binary's bytes
//! XORed with 0x80 first, so both store the same bits). uint8 has no graph: usearch's `ip` on
//! `u8` is not the plain inner product, and sentence-transformers' usearch search refuses it.

use std::path::Path;

use eval::{Precision, QuantizedEmbeddings, QuantizedValues};
use serde::{Deserialize, Serialize};
use usearch::{b1x8, Index, IndexOptions, MetricKind, ScalarKind};

use super::corpus::Corpus;
use crate::error::{Error, Result};

/// usearch's build and search parameters. `connectivity` and `expansion_add` default to
/// usearch's own (Python's `Index(connectivity=16, expansion_add=128)`); `expansion_search`
/// defaults to 128 rather than usearch's 64: on 100,000 MNLI/SNLI sentences embedded by
/// all-MiniLM-L6-v2, recall@10 against exact search was 0.970 at 64 and 0.989 at 128, for
/// 0.7 and 1.5 ms a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HnswParams {
    /// Edges per node (usearch's `connectivity`, HNSW's M).
    pub connectivity: usize,
    /// Candidates considered while inserting (efConstruction).
    pub expansion_add: usize,
    /// Candidates considered while searching (ef), at least the number of results asked for.
    pub expansion_search: usize,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            connectivity: 16,
            expansion_add: 128,
            expansion_search: 128,
        }
    }
}

impl HnswParams {
    /// Errors on a parameter usearch cannot use or on a precision without a graph.
    pub fn check(&self, precision: Precision) -> Result<()> {
        if precision == Precision::Uint8 {
            return Err(Error::param(
                "hnsw",
                "an hnsw graph supports float32, int8, binary and ubinary (as sentence-transformers' \
                 usearch search); uint8 is searched exactly",
            ));
        }
        if self.connectivity < 2 {
            return Err(Error::param(
                "connectivity",
                format!("must be at least 2, got {}", self.connectivity),
            ));
        }
        for (name, value) in [
            ("expansion_add", self.expansion_add),
            ("expansion_search", self.expansion_search),
        ] {
            if value == 0 {
                return Err(Error::param(name, "must be at least 1"));
            }
        }
        Ok(())
    }
}

/// The HNSW graph of an index; its keys are the corpus rows.
pub struct HnswGraph {
    index: Index,
    precision: Precision,
    dim: usize,
    params: HnswParams,
}

impl std::fmt::Debug for HnswGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HnswGraph")
            .field("precision", &self.precision)
            .field("dim", &self.dim)
            .field("params", &self.params)
            .field("size", &self.index.size())
            .finish()
    }
}

/// usearch's options for a graph of `precision` embeddings of `dim` dimensions.
fn options(precision: Precision, dim: usize, params: HnswParams) -> Result<IndexOptions> {
    params.check(precision)?;
    let (dimensions, metric, quantization) = match precision {
        Precision::Float32 => (dim, MetricKind::Cos, ScalarKind::F32),
        Precision::Int8 => (dim, MetricKind::IP, ScalarKind::I8),
        // `check` refused uint8 above; this arm only keeps the match exhaustive.
        Precision::Uint8 => (dim, MetricKind::IP, ScalarKind::U8),
        Precision::Binary | Precision::Ubinary => (
            8 * precision.quantized_dim(dim),
            MetricKind::Hamming,
            ScalarKind::B1,
        ),
    };
    Ok(IndexOptions {
        dimensions,
        metric,
        quantization,
        connectivity: params.connectivity,
        expansion_add: params.expansion_add,
        expansion_search: params.expansion_search,
        multi: false,
    })
}

/// Binary's bytes as the unsigned bits usearch stores (`^ 0x80` undoes the `- 128`).
fn unsigned_bits(binary: &[i8]) -> Vec<u8> {
    binary.iter().map(|&b| (b as u8) ^ 0x80).collect()
}

impl HnswGraph {
    /// A graph over all of `corpus`'s rows, inserted by `threads` threads (the graph then
    /// depends on their interleaving; one thread makes it reproducible).
    pub fn build(corpus: &Corpus, params: HnswParams, threads: usize) -> Result<HnswGraph> {
        let options = options(corpus.precision(), corpus.dim(), params)?;
        let index = Index::new(&options).map_err(Error::hnsw("create an index"))?;
        let graph = HnswGraph {
            index,
            precision: corpus.precision(),
            dim: corpus.dim(),
            params,
        };
        graph.add_rows(corpus.embeddings(), 0, threads)?;
        Ok(graph)
    }

    /// Reads a graph saved by [`Self::save`] from its bytes and checks it against the index it
    /// belongs to: `rows` nodes of `precision` embeddings of `dim` dimensions. `path` names the
    /// file in errors.
    pub fn from_bytes(
        path: &Path,
        bytes: &[u8],
        precision: Precision,
        dim: usize,
        rows: usize,
        params: HnswParams,
    ) -> Result<HnswGraph> {
        let options = options(precision, dim, params)?;
        let index = Index::new(&options).map_err(Error::hnsw("create an index"))?;
        index
            .load_from_buffer(bytes)
            .map_err(Error::hnsw(format!("load {}", path.display())))?;
        let found = (
            index.size(),
            index.dimensions(),
            index.metric_kind(),
            index.scalar_kind(),
        );
        let expected = (
            rows,
            options.dimensions,
            options.metric,
            options.quantization,
        );
        if found != expected {
            return Err(Error::DataFileContent {
                path: path.to_path_buf(),
                reason: format!(
                    "the graph holds {} nodes of {} dimensions ({:?}, {:?}); the index needs {} of {} ({:?}, {:?})",
                    found.0, found.1, found.2, found.3, expected.0, expected.1, expected.2, expected.3
                ),
            });
        }
        index.change_expansion_add(params.expansion_add);
        index.change_expansion_search(params.expansion_search);
        Ok(HnswGraph {
            index,
            precision,
            dim,
            params,
        })
    }

    /// Adds the rows of `corpus` the graph does not hold yet (those after [`Self::len`]).
    pub fn extend(&mut self, corpus: &Corpus, threads: usize) -> Result<()> {
        if corpus.precision() != self.precision || corpus.dim() != self.dim {
            return Err(Error::param(
                "corpus",
                format!(
                    "is {} of dim {}, the graph {} of dim {}",
                    corpus.precision(),
                    corpus.dim(),
                    self.precision,
                    self.dim
                ),
            ));
        }
        let from = self.len();
        if corpus.rows() < from {
            return Err(Error::param(
                "corpus",
                format!("has {} rows, fewer than the graph's {from}", corpus.rows()),
            ));
        }
        self.add_rows(corpus.embeddings(), from, threads)
    }

    fn add_rows(
        &self,
        embeddings: &QuantizedEmbeddings,
        from: usize,
        threads: usize,
    ) -> Result<()> {
        let total = embeddings.rows();
        if from >= total {
            return Ok(());
        }
        let threads = threads.clamp(1, total - from);
        self.index
            .reserve_capacity_and_threads(total, threads)
            .map_err(Error::hnsw(format!("reserve room for {total} nodes")))?;
        let width = embeddings.quantized_dim();
        let binary_bits = match embeddings.values() {
            QuantizedValues::Binary(v) => Some(unsigned_bits(v)),
            _ => None,
        };
        let add = |row: usize| -> Result<()> {
            let range = row * width..(row + 1) * width;
            let key = row as u64;
            let added = match (embeddings.values(), &binary_bits) {
                (QuantizedValues::Float32(v), _) => self.index.add(key, &v[range]),
                (QuantizedValues::Int8(v), _) => self.index.add(key, &v[range]),
                (QuantizedValues::Binary(_), Some(bits)) => {
                    self.index.add(key, b1x8::from_u8s(&bits[range]))
                }
                (QuantizedValues::Ubinary(v), _) => self.index.add(key, b1x8::from_u8s(&v[range])),
                (other, _) => {
                    return Err(Error::param(
                        "hnsw",
                        format!("cannot hold {} embeddings", other.precision()),
                    ))
                }
            };
            added.map_err(Error::hnsw(format!("add row {row}")))
        };
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let add = &add;
                    scope.spawn(move || (from + t..total).step_by(threads).try_for_each(add))
                })
                .collect();
            workers.into_iter().try_for_each(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|_| Err(Error::param("hnsw", "a thread adding rows panicked")))
            })
        })?;
        tracing::debug!(from, total, threads, "added rows to the hnsw graph");
        Ok(())
    }

    /// Writes the graph (with its copy of the vectors) to `path`, usearch's file format.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = path.to_str().ok_or_else(|| {
            Error::param("index", format!("{} is not valid UTF-8", path.display()))
        })?;
        self.index
            .save(text)
            .map_err(Error::hnsw(format!("save {}", path.display())))
    }

    /// Nodes in the graph.
    pub fn len(&self) -> usize {
        self.index.size()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn params(&self) -> HnswParams {
        self.params
    }

    /// Sets the candidates considered per search (ef) from now on.
    pub fn set_expansion_search(&mut self, expansion_search: usize) -> Result<()> {
        if expansion_search == 0 {
            return Err(Error::param("expansion_search", "must be at least 1"));
        }
        self.index.change_expansion_search(expansion_search);
        self.params.expansion_search = expansion_search;
        Ok(())
    }

    /// The rows of (about) the `count` nearest neighbours of each query, nearest first as
    /// usearch orders them.
    ///
    /// # Shapes
    /// queries: `[q, dim]` at the graph's precision → `q` lists of at most `count` rows
    pub fn search(&self, queries: &QuantizedEmbeddings, count: usize) -> Result<Vec<Vec<usize>>> {
        if queries.precision() != self.precision || queries.dim() != self.dim {
            return Err(Error::param(
                "queries",
                format!(
                    "are {} of dim {}, the graph holds {} of dim {}",
                    queries.precision(),
                    queries.dim(),
                    self.precision,
                    self.dim
                ),
            ));
        }
        let width = queries.quantized_dim();
        let binary_bits = match queries.values() {
            QuantizedValues::Binary(v) => Some(unsigned_bits(v)),
            _ => None,
        };
        (0..queries.rows())
            .map(|q| {
                let range = q * width..(q + 1) * width;
                let found = match (queries.values(), &binary_bits) {
                    (QuantizedValues::Float32(v), _) => self.index.search(&v[range], count),
                    (QuantizedValues::Int8(v), _) => self.index.search(&v[range], count),
                    (QuantizedValues::Binary(_), Some(bits)) => {
                        self.index.search(b1x8::from_u8s(&bits[range]), count)
                    }
                    (QuantizedValues::Ubinary(v), _) => {
                        self.index.search(b1x8::from_u8s(&v[range]), count)
                    }
                    (other, _) => {
                        return Err(Error::param(
                            "hnsw",
                            format!("cannot search {} embeddings", other.precision()),
                        ))
                    }
                };
                let matches = found.map_err(Error::hnsw(format!("search for query {q}")))?;
                Ok(matches.keys.iter().map(|&key| key as usize).collect())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint8_and_bad_parameters_are_refused() {
        let e = HnswParams::default()
            .check(Precision::Uint8)
            .unwrap_err()
            .to_string();
        assert!(e.contains("uint8"), "{e}");
        let p = HnswParams {
            connectivity: 1,
            ..HnswParams::default()
        };
        assert!(p
            .check(Precision::Float32)
            .unwrap_err()
            .to_string()
            .contains("connectivity"));
        assert!(HnswParams::default().check(Precision::Binary).is_ok());
    }

    #[test]
    fn binary_bytes_become_ubinary_bits() {
        assert_eq!(unsigned_bits(&[-128, 0, 127, -1]), [0, 128, 255, 127]);
    }
}
