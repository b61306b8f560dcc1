//! Validation at the public entry points. tch's infallible ops panic on bad shapes and its
//! fallible ones report only libtorch's message, so inputs are checked here first and the
//! errors name both shapes.

use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::loss::Targets;

/// The common shape of a batch's embedding columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchShape {
    pub batch: i64,
    pub dim: i64,
    pub device: Device,
}

pub(crate) fn column_count(
    loss: &'static str,
    found: usize,
    (min, max): (usize, Option<usize>),
) -> Result<()> {
    let ok = found >= min && max.is_none_or(|max| found <= max);
    if ok {
        return Ok(());
    }
    let expected = match max {
        Some(max) if max == min => format!("{min} text columns"),
        Some(max) => format!("{min} to {max} text columns"),
        None => format!("at least {min} text columns"),
    };
    Err(Error::Columns {
        loss,
        expected,
        found,
    })
}

/// Every column must be a floating-point `[batch, dim]` tensor of the same shape, dtype and
/// device as the first.
pub(crate) fn embeddings(
    loss: &'static str,
    columns: &[Tensor],
    range: (usize, Option<usize>),
) -> Result<BatchShape> {
    column_count(loss, columns.len(), range)?;
    let Some(first) = columns.first() else {
        return Err(Error::Columns {
            loss,
            expected: "at least one text column".into(),
            found: 0,
        });
    };
    let shape = first.size();
    if shape.len() != 2 {
        return Err(Error::Shape {
            loss,
            context: "column 0 (expected [batch, dim]) vs a matrix".into(),
            left: shape,
            right: vec![-1, -1],
        });
    }
    let kind = first.kind();
    if !is_float(kind) {
        return Err(Error::Embeddings {
            loss,
            message: format!("embeddings must be floating point, column 0 is {kind:?}"),
        });
    }
    let device = first.device();
    for (i, column) in columns.iter().enumerate().skip(1) {
        if column.size() != shape {
            return Err(Error::Shape {
                loss,
                context: format!("column 0 vs column {i}"),
                left: shape,
                right: column.size(),
            });
        }
        if column.kind() != kind || column.device() != device {
            return Err(Error::Embeddings {
                loss,
                message: format!(
                    "column 0 is {kind:?} on {device:?} but column {i} is {:?} on {:?}",
                    column.kind(),
                    column.device()
                ),
            });
        }
    }
    Ok(BatchShape {
        batch: shape[0],
        dim: shape[1],
        device,
    })
}

/// One float score per row, returned as `[batch]`.
pub(crate) fn scores(loss: &'static str, targets: Targets<'_>, at: BatchShape) -> Result<Tensor> {
    let scores = match targets {
        Targets::Scores(scores) => scores,
        Targets::Classes(_) => {
            return Err(Error::Targets {
                loss,
                message: "expects float scores but got class labels".into(),
            })
        }
        Targets::Vectors(_) => {
            return Err(Error::Targets {
                loss,
                message: "expects one value per row but got teacher embeddings".into(),
            })
        }
        Targets::None => {
            return Err(Error::Targets {
                loss,
                message: "expects a float score per pair but the batch has none".into(),
            })
        }
    };
    let kind = scores.kind();
    if !is_float(kind) {
        return Err(Error::Targets {
            loss,
            message: format!("scores must be floating point, got {kind:?}"),
        });
    }
    one_per_row(loss, "scores", scores, at)
}

/// One int64 class in `0..num_labels` per row, returned as `[batch]`.
pub(crate) fn classes(
    loss: &'static str,
    targets: Targets<'_>,
    at: BatchShape,
    num_labels: i64,
) -> Result<Tensor> {
    let labels = match targets {
        Targets::Classes(labels) => labels,
        Targets::Scores(_) => {
            return Err(Error::Targets {
                loss,
                message: "expects int64 class labels but got float scores".into(),
            })
        }
        Targets::Vectors(_) => {
            return Err(Error::Targets {
                loss,
                message: "expects one value per row but got teacher embeddings".into(),
            })
        }
        Targets::None => {
            return Err(Error::Targets {
                loss,
                message: "expects a class label per pair but the batch has none".into(),
            })
        }
    };
    if labels.kind() != Kind::Int64 {
        return Err(Error::Targets {
            loss,
            message: format!("class labels must be int64, got {:?}", labels.kind()),
        });
    }
    let labels = one_per_row(loss, "class labels", labels, at)?;
    if at.batch > 0 {
        let min = labels.f_min().and_then(|t| t.f_int64_value(&[]));
        let max = labels.f_max().and_then(|t| t.f_int64_value(&[]));
        let (min, max) = (
            min.map_err(Error::torch(loss))?,
            max.map_err(Error::torch(loss))?,
        );
        if min < 0 || max >= num_labels {
            return Err(Error::Targets {
                loss,
                message: format!(
                    "class labels must lie in 0..{num_labels}, found {}",
                    if min < 0 { min } else { max }
                ),
            });
        }
    }
    Ok(labels)
}

/// One int64 label per row of any value (only equality matters: the batch triplet losses),
/// returned as `[batch]`.
pub(crate) fn labels(loss: &'static str, targets: Targets<'_>, at: BatchShape) -> Result<Tensor> {
    let labels = match targets {
        Targets::Classes(labels) => labels,
        Targets::Scores(_) => {
            return Err(Error::Targets {
                loss,
                message: "expects int64 class labels but got float scores".into(),
            })
        }
        Targets::Vectors(_) => {
            return Err(Error::Targets {
                loss,
                message: "expects one value per row but got teacher embeddings".into(),
            })
        }
        Targets::None => {
            return Err(Error::Targets {
                loss,
                message: "expects a class label per example but the batch has none".into(),
            })
        }
    };
    if labels.kind() != Kind::Int64 {
        return Err(Error::Targets {
            loss,
            message: format!("class labels must be int64, got {:?}", labels.kind()),
        });
    }
    one_per_row(loss, "class labels", labels, at)
}

fn is_float(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Half | Kind::BFloat16 | Kind::Float | Kind::Double
    )
}

fn one_per_row(loss: &'static str, what: &str, targets: &Tensor, at: BatchShape) -> Result<Tensor> {
    // sentence-transformers accepts any shape holding one value per row (`labels.view(-1)`).
    if targets.numel() as i64 != at.batch || targets.dim() > 2 {
        return Err(Error::Shape {
            loss,
            context: format!("{what} vs the embeddings' batch"),
            left: targets.size(),
            right: vec![at.batch],
        });
    }
    if targets.device() != at.device {
        return Err(Error::Targets {
            loss,
            message: format!(
                "{what} are on {:?} but the embeddings on {:?}",
                targets.device(),
                at.device
            ),
        });
    }
    targets.f_reshape([at.batch]).map_err(Error::torch(loss))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_count_messages_name_the_range() {
        let err = column_count("TripletLoss", 2, (3, Some(3))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "TripletLoss expects 3 text columns but got 2"
        );
        let err = column_count("MultipleNegativesRankingLoss", 1, (2, None)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "MultipleNegativesRankingLoss expects at least 2 text columns but got 1"
        );
        assert!(column_count("x", 5, (2, None)).is_ok());
    }
}
