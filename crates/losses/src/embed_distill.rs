//! MSELoss and EmbedDistillLoss, distillation from a teacher's embeddings (Reimers & Gurevych
//! 2020, multilingual knowledge distillation): each text column's embedding is pulled towards
//! the row's pre-computed teacher embedding, as sentence-transformers 6.3's `EmbedDistillLoss`
//! (of which `MSELoss` is the `distance_metric="mse"` case) computes it.

use config::DistillDistance;
use tch::{Kind, Reduction, TchError, Tensor};

use crate::check;
use crate::error::{Error, Result};
use crate::loss::{Loss, TargetKind, Targets};

/// The distance between student and teacher embeddings, averaged over the columns.
#[derive(Debug, Clone)]
pub struct EmbedDistillLoss {
    distance: DistillDistance,
    /// `MSELoss` when built as it, `EmbedDistillLoss` otherwise (also for `mse`, as 6.3 names
    /// the class it was built from).
    name: &'static str,
}

impl EmbedDistillLoss {
    /// sentence-transformers' `EmbedDistillLoss(model, distance_metric)`.
    pub fn new(distance: DistillDistance) -> Self {
        EmbedDistillLoss {
            distance,
            name: "EmbedDistillLoss",
        }
    }

    /// sentence-transformers' `MSELoss(model)`.
    pub fn mse() -> Self {
        EmbedDistillLoss {
            distance: DistillDistance::Mse,
            name: "MSELoss",
        }
    }

    pub fn distance(&self) -> DistillDistance {
        self.distance
    }

    /// The teacher embeddings of each of `columns` columns: the `[batch, dim]` labels for every
    /// column, or column `i` of `[batch, columns, dim]` labels.
    fn teachers(&self, labels: &Tensor, columns: usize) -> Result<Vec<Tensor>> {
        let name = self.name;
        let labels = labels.f_detach().map_err(Error::torch(name))?;
        match labels.dim() {
            2 => Ok((0..columns).map(|_| labels.shallow_clone()).collect()),
            3 => {
                let given = labels.size()[1];
                if given != columns as i64 {
                    return Err(Error::Targets {
                        loss: name,
                        message: format!(
                            "{given} teacher embeddings per row for {columns} text columns: give \
                             [batch, {columns}, dim] labels, or [batch, dim] for the same target \
                             for every column"
                        ),
                    });
                }
                (0..columns as i64)
                    .map(|i| labels.f_select(1, i).map_err(Error::torch(name)))
                    .collect()
            }
            d => Err(Error::Targets {
                loss: name,
                message: format!(
                    "teacher embeddings must be [batch, dim] or [batch, columns, dim], got {d} \
                     dimensions ({:?})",
                    labels.size()
                ),
            }),
        }
    }

    /// Checks one column's teacher against its student and casts it to the student's dtype
    /// (6.3 casts the teacher to the student's dtype, bf16/fp16 under autocast).
    fn teacher_for(&self, student: &Tensor, teacher: &Tensor) -> Result<Tensor> {
        let name = self.name;
        if teacher.size() != student.size() {
            return Err(Error::Targets {
                loss: name,
                message: format!(
                    "teacher embeddings {:?} against student embeddings {:?}: the teacher must \
                     embed in the student's dimension",
                    teacher.size(),
                    student.size()
                ),
            });
        }
        let finite = teacher
            .f_isfinite()
            .and_then(|f| f.f_all())
            .map_err(Error::torch(name))?;
        if !bool::try_from(&finite).map_err(Error::torch(name))? {
            return Err(Error::Targets {
                loss: name,
                message: "a teacher embedding holds NaN or an infinity".into(),
            });
        }
        teacher
            .f_to_kind(student.kind())
            .map_err(Error::torch(name))
    }
}

/// The distance of one column's student embeddings from its teacher's, a scalar.
fn distance(kind: DistillDistance, student: &Tensor, teacher: &Tensor) -> Result<Tensor, TchError> {
    match kind {
        DistillDistance::Mse => student.f_mse_loss(teacher, Reduction::Mean),
        DistillDistance::L2 => student
            .f_sub(teacher)?
            .f_norm_scalaropt_dim(2.0, [-1i64].as_slice(), false)?
            .f_mean(None::<Kind>),
        DistillDistance::Cosine => Tensor::f_cosine_similarity(student, teacher, -1, 1e-8)?
            .f_neg()?
            .f_add_scalar(1.0)?
            .f_mean(None::<Kind>),
    }
}

impl Loss for EmbedDistillLoss {
    fn name(&self) -> &'static str {
        self.name
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::Vector
    }

    /// Any number of text columns (a sentence and its translations, each pulled towards the
    /// same teacher embedding, or each towards its own).
    fn columns(&self) -> (usize, Option<usize>) {
        (1, None)
    }

    /// # Shapes
    /// embeddings: columns × `[batch, dim]`; targets: [`Targets::Vectors`] `[batch, dim]` or
    /// `[batch, columns, dim]` → scalar
    fn compute(&self, embeddings: &[Tensor], targets: Targets<'_>) -> Result<Tensor> {
        let name = self.name;
        let at = check::embeddings(name, embeddings, (1, None))?;
        let Targets::Vectors(labels) = targets else {
            return Err(Error::Targets {
                loss: name,
                message: "needs the teacher's embedding of each row as its target".into(),
            });
        };
        if !labels.is_floating_point() {
            return Err(Error::Targets {
                loss: name,
                message: format!(
                    "teacher embeddings must be floating point, got {:?}",
                    labels.kind()
                ),
            });
        }
        if labels.device() != at.device {
            return Err(Error::Targets {
                loss: name,
                message: format!(
                    "teacher embeddings are on {:?} but the student's on {:?}",
                    labels.device(),
                    at.device
                ),
            });
        }
        let teachers = self.teachers(labels, embeddings.len())?;
        let losses = embeddings
            .iter()
            .zip(&teachers)
            .map(|(student, teacher)| {
                let teacher = self.teacher_for(student, teacher)?;
                distance(self.distance, student, &teacher).map_err(Error::torch(name))
            })
            .collect::<Result<Vec<_>>>()?;
        Tensor::f_stack(&losses, 0)
            .and_then(|l| l.f_mean(None::<Kind>))
            .map_err(Error::torch(name))
    }
}
