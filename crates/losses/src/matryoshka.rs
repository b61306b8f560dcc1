//! MatryoshkaLoss (Kusupati et al., 2022): the wrapped loss applied to every prefix of the
//! embeddings, so that truncated embeddings stay useful.
//!
//! Like sentence-transformers 6.2's `shrink`, each truncated embedding is L2-normalised again
//! before the wrapped loss sees it; cosine-based losses are unaffected, distance-based ones
//! (Euclidean triplets, contrastive) see unit vectors at every dimension.

use tch::{TchError, Tensor};

use crate::check;
use crate::error::{Error, Result};
use crate::loss::{Loss, TargetKind, Targets};
use crate::similarity::normalize;

const NAME: &str = "MatryoshkaLoss";

#[derive(Debug)]
pub struct MatryoshkaLoss {
    inner: Box<dyn Loss>,
    /// `(dim, weight)`, largest dimension first, as sentence-transformers sums them.
    dims: Vec<(i64, f64)>,
}

impl MatryoshkaLoss {
    /// `weights` default to 1 per dimension. Dimensions must be positive and at most
    /// `embedding_dim`.
    pub fn new(
        inner: Box<dyn Loss>,
        dims: &[i64],
        weights: Option<&[f64]>,
        embedding_dim: i64,
    ) -> Result<Self> {
        if dims.is_empty() {
            return Err(Error::Config("matryoshka: dims must not be empty".into()));
        }
        if let Some(&dim) = dims.iter().find(|&&d| d <= 0 || d > embedding_dim) {
            return Err(Error::Config(format!(
                "matryoshka: dimension {dim} must lie in 1..={embedding_dim} (the embedding dimension)"
            )));
        }
        let weights = match weights {
            Some(w) if w.len() != dims.len() => {
                return Err(Error::Config(format!(
                    "matryoshka: {} weights for {} dims",
                    w.len(),
                    dims.len()
                )))
            }
            Some(w) => w.to_vec(),
            None => vec![1.0; dims.len()],
        };
        let mut dims: Vec<(i64, f64)> = dims.iter().copied().zip(weights).collect();
        // Stable, so equal dims keep their order as in Python's `sorted`.
        dims.sort_by_key(|&(dim, _)| std::cmp::Reverse(dim));
        Ok(MatryoshkaLoss { inner, dims })
    }

    /// `(dim, weight)` pairs, largest dimension first.
    pub fn dims(&self) -> &[(i64, f64)] {
        &self.dims
    }
}

fn shrink(embeddings: &Tensor, dim: i64) -> Result<Tensor, TchError> {
    normalize(&embeddings.f_narrow(1, 0, dim)?)
}

impl Loss for MatryoshkaLoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn target_kind(&self) -> TargetKind {
        self.inner.target_kind()
    }

    fn columns(&self) -> (usize, Option<usize>) {
        self.inner.columns()
    }

    fn distribute(&mut self, gather: &crate::gather::RowGather) {
        self.inner.distribute(gather);
    }

    /// `Σ weight · inner(shrink(embeddings, dim))` over the dimensions.
    ///
    /// # Shapes
    /// embeddings: as the wrapped loss, with `dim ≥` the largest Matryoshka dimension
    fn compute(&self, embeddings: &[Tensor], targets: Targets<'_>) -> Result<Tensor> {
        let at = check::embeddings(NAME, embeddings, self.columns())?;
        let largest = self.dims[0].0;
        if at.dim < largest {
            return Err(Error::Shape {
                loss: NAME,
                context: "embeddings vs the largest matryoshka dimension".into(),
                left: embeddings[0].size(),
                right: vec![at.batch, largest],
            });
        }
        let mut total: Option<Tensor> = None;
        for &(dim, weight) in &self.dims {
            let truncated = embeddings
                .iter()
                .map(|e| shrink(e, dim))
                .collect::<Result<Vec<_>, _>>()
                .map_err(Error::torch(NAME))?;
            let term = self
                .inner
                .compute(&truncated, targets)?
                .f_mul_scalar(weight)
                .map_err(Error::torch(NAME))?;
            total = Some(match total {
                Some(t) => t.f_add(&term).map_err(Error::torch(NAME))?,
                None => term,
            });
        }
        total.ok_or_else(|| Error::Config("matryoshka: dims must not be empty".into()))
    }
}
