//! MarginMSELoss (Hofstätter et al. 2021), distillation from a teacher's margins: over
//! (query, positive, negative_1, …, negative_n) rows, the mean squared error between the
//! student's margins `sim(q, p) − sim(q, n_i)` and the teacher's, as sentence-transformers 6.3's
//! bi-encoder `MarginMSELoss` computes it.

use config::PairwiseSimilarity;
use tch::{Kind, Reduction, TchError, Tensor};

use crate::check::{self, BatchShape};
use crate::error::{Error, Result};
use crate::loss::{Loss, TargetKind, Targets};
use crate::similarity::{
    pairwise_cos_sim, pairwise_euclidean_distance, pairwise_manhattan_distance,
};

const NAME: &str = "MarginMSELoss";

#[derive(Debug, Clone, Default)]
pub struct MarginMseLoss {
    similarity: PairwiseSimilarity,
}

impl MarginMseLoss {
    /// Scores each (query, document) pair with `similarity` (6.3's `similarity_fct`, the dot
    /// product by default).
    pub fn new(similarity: PairwiseSimilarity) -> Self {
        MarginMseLoss { similarity }
    }

    pub fn similarity(&self) -> PairwiseSimilarity {
        self.similarity
    }
}

/// `similarity(a[i], b[i])` for every row, as the `pairwise_*` functions of
/// `sentence_transformers.util`, which score float16 and bfloat16 rows in float32.
///
/// # Shapes
/// a, b: `[batch, dim]` → `[batch]`
fn pairwise(similarity: PairwiseSimilarity, a: &Tensor, b: &Tensor) -> Result<Tensor, TchError> {
    let (a, b) = match a.kind() {
        Kind::Half | Kind::BFloat16 => (a.f_to_kind(Kind::Float)?, b.f_to_kind(Kind::Float)?),
        _ => (a.shallow_clone(), b.shallow_clone()),
    };
    match similarity {
        PairwiseSimilarity::Dot => a.f_mul(&b)?.f_sum_dim_intlist(-1i64, false, None::<Kind>),
        PairwiseSimilarity::Cosine => pairwise_cos_sim(&a, &b),
        PairwiseSimilarity::Euclidean => pairwise_euclidean_distance(&a, &b)?.f_neg(),
        PairwiseSimilarity::Manhattan => pairwise_manhattan_distance(&a, &b)?.f_neg(),
    }
}

/// The teacher margins as `[batch, negatives]`, from the label forms 6.3 accepts, tried in its
/// order: `[batch, negatives + 1]` scores (the positive's first) become `score_p − score_n_i`;
/// `[batch]` is one margin per row (one negative); `[batch, negatives]` are the margins.
fn teacher_margins(targets: Targets<'_>, at: BatchShape, negatives: i64) -> Result<Tensor> {
    let labels = match targets {
        Targets::Scores(labels) => labels,
        Targets::Classes(_) => {
            return Err(Error::Targets {
                loss: NAME,
                message: "expects float teacher margins but got class labels".into(),
            })
        }
        Targets::Vectors(_) => {
            return Err(Error::Targets {
                loss: NAME,
                message: "expects float teacher margins but got teacher embeddings".into(),
            })
        }
        Targets::None => {
            return Err(Error::Targets {
                loss: NAME,
                message: "expects the teacher's margin per row but the batch has none".into(),
            })
        }
    };
    if !labels.is_floating_point() {
        return Err(Error::Targets {
            loss: NAME,
            message: format!(
                "teacher margins must be floating point, got {:?}",
                labels.kind()
            ),
        });
    }
    if labels.device() != at.device {
        return Err(Error::Targets {
            loss: NAME,
            message: format!(
                "teacher margins are on {:?} but the embeddings on {:?}",
                labels.device(),
                at.device
            ),
        });
    }
    let margins = crate::cross_encoder::teacher_margins(NAME, labels, at.batch, negatives)?;
    // A target takes no gradient (6.3 detaches it).
    margins.f_detach().map_err(Error::torch(NAME))
}

/// `mse(sim(q, p) − sim(q, n_i), margins)` over every row and negative.
fn loss(
    similarity: PairwiseSimilarity,
    embeddings: &[Tensor],
    margins: &Tensor,
) -> Result<Tensor, TchError> {
    let query = &embeddings[0];
    let positive = pairwise(similarity, query, &embeddings[1])?;
    let student = embeddings[2..]
        .iter()
        .map(|negative| positive.f_sub(&pairwise(similarity, query, negative)?))
        .collect::<Result<Vec<_>, _>>()?;
    // [batch, negatives]
    let student = Tensor::f_stack(&student, 1)?;
    // The labels meet the margins in their dtype: 6.3 mixes none (its collator's float32 labels,
    // float32 margins, also from float16 and bfloat16 embeddings).
    let margins = margins.f_to_kind(student.kind())?;
    student.f_mse_loss(&margins, Reduction::Mean)
}

impl Loss for MarginMseLoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::Score
    }

    /// Three: (query, positive, negative). The training data carries one float score per row,
    /// the teacher's margin for one negative, so the trainer is told three and refuses more
    /// before the first step; [`compute`](Loss::compute) also takes several negative columns,
    /// given a `[batch, n]` or `[batch, n + 1]` score matrix.
    fn columns(&self) -> (usize, Option<usize>) {
        (3, Some(3))
    }

    /// # Shapes
    /// embeddings: (query, positive, negative_1, …, negative_n) × `[batch, dim]`, n ≥ 1;
    /// scores: `[batch, n]` teacher margins `M(q, p) − M(q, n_i)`, `[batch, n + 1]` teacher
    /// scores `[M(q, p), M(q, n_1), …]`, or `[batch]` margins when n = 1 → scalar
    fn compute(&self, embeddings: &[Tensor], targets: Targets<'_>) -> Result<Tensor> {
        let at = check::embeddings(NAME, embeddings, (3, None))?;
        let negatives = embeddings.len() as i64 - 2;
        let margins = teacher_margins(targets, at, negatives)?;
        loss(self.similarity, embeddings, &margins).map_err(Error::torch(NAME))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn rows(values: &[f32], dim: i64) -> Tensor {
        Tensor::from_slice(values).view([-1, dim])
    }

    #[test]
    fn a_student_with_the_teachers_margins_has_zero_loss() {
        let query = rows(&[1., 0., 0., 1.], 2);
        let positive = rows(&[2., 1., 0., 3.], 2);
        let negative = rows(&[0., 5., 1., 1.], 2);
        // dot: q·p − q·n = [2 − 0, 3 − 1]
        let margins = Tensor::from_slice(&[2f32, 2.]);
        let loss = MarginMseLoss::default()
            .compute(&[query, positive, negative], Targets::Scores(&margins))
            .unwrap();
        assert_eq!(loss.double_value(&[]), 0.0);
    }

    #[test]
    fn label_shapes_that_fit_no_form_are_refused() {
        let columns: Vec<Tensor> = (0..4)
            .map(|_| Tensor::ones([3, 2], (Kind::Float, Device::Cpu)))
            .collect();
        let loss = MarginMseLoss::default();
        // Two negatives: one margin per row is not enough.
        let one = Tensor::zeros([3], (Kind::Float, Device::Cpu));
        let err = loss.compute(&columns, Targets::Scores(&one)).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err}");
        let four = Tensor::zeros([3, 4], (Kind::Float, Device::Cpu));
        assert!(loss.compute(&columns, Targets::Scores(&four)).is_err());
        for good in [[3, 2], [3, 3]] {
            let labels = Tensor::zeros(good, (Kind::Float, Device::Cpu));
            assert!(loss.compute(&columns, Targets::Scores(&labels)).is_ok());
        }
        let classes = Tensor::zeros([3], (Kind::Int64, Device::Cpu));
        assert!(matches!(
            loss.compute(&columns[..3], Targets::Classes(&classes)),
            Err(Error::Targets { .. })
        ));
        assert!(matches!(
            loss.compute(&columns[..2], Targets::Scores(&one)),
            Err(Error::Columns { .. })
        ));
    }
}
