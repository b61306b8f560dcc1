//! Validation of the cross-encoder losses' inputs, and the padded matrices of the listwise ones.
//! tch's fallible ops report only libtorch's message, so shapes are checked here first and the
//! errors name both shapes (or the row at fault).

use tch::{Device, Kind, Tensor};

use super::{Activation, RerankScores};
use crate::error::{Error, Result};

pub(crate) fn is_float(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Half | Kind::BFloat16 | Kind::Float | Kind::Double
    )
}

fn is_real(kind: Kind) -> bool {
    is_float(kind)
        || matches!(
            kind,
            Kind::Bool | Kind::Uint8 | Kind::Int8 | Kind::Int16 | Kind::Int | Kind::Int64
        )
}

/// Floating-point logits of `rank` dimensions and at least one row.
pub(crate) fn check_logits(
    loss: &'static str,
    scores: &RerankScores<'_>,
    rank: usize,
    expected: &str,
) -> Result<()> {
    let logits = scores.logits;
    let shape = logits.size();
    if shape.len() != rank {
        return Err(Error::Shape {
            loss,
            context: format!("logits vs the expected {expected}"),
            left: shape,
            right: vec![-1; rank],
        });
    }
    if shape[0] == 0 {
        return Err(Error::Shape {
            loss,
            context: "logits of an empty batch vs at least one row".into(),
            left: shape,
            right: vec![1],
        });
    }
    if !is_float(logits.kind()) {
        return Err(Error::Scores {
            loss,
            message: format!("logits must be floating point, got {:?}", logits.kind()),
        });
    }
    Ok(())
}

/// Only the listwise losses take a document count per row.
pub(crate) fn no_docs_per_row(loss: &'static str, scores: &RerankScores<'_>) -> Result<()> {
    match scores.docs_per_row {
        None => Ok(()),
        Some(_) => Err(Error::Scores {
            loss,
            message: "docs_per_row is for the listwise losses; this loss scores every column"
                .into(),
        }),
    }
}

pub(crate) fn required<'a>(loss: &'static str, labels: Option<&'a Tensor>) -> Result<&'a Tensor> {
    let labels = labels.ok_or_else(|| Error::Targets {
        loss,
        message: "expects labels but the batch has none".into(),
    })?;
    if !is_real(labels.kind()) {
        return Err(Error::Targets {
            loss,
            message: format!("labels must be numbers, got {:?}", labels.kind()),
        });
    }
    Ok(labels)
}

/// Which input a NaN was found in.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Input {
    Logits,
    Labels,
}

/// Refuses a NaN in `values` (where `mask` is true, if given), naming its position.
pub(crate) fn no_nan(
    loss: &'static str,
    input: Input,
    values: &Tensor,
    mask: Option<&Tensor>,
) -> Result<()> {
    if !is_float(values.kind()) {
        return Ok(());
    }
    let torch = Error::torch(loss);
    let mut nan = values.f_isnan().map_err(&torch)?;
    if let Some(mask) = mask {
        nan = nan.f_logical_and(mask).map_err(&torch)?;
    }
    let first = nan
        .f_nonzero()
        .and_then(|at| at.f_narrow(0, 0, at.size()[0].min(1)))
        .and_then(|at| at.f_to_device(Device::Cpu))
        .and_then(|at| Vec::<i64>::try_from(&at.f_reshape([-1])?))
        .map_err(&torch)?;
    if first.is_empty() {
        return Ok(());
    }
    let message = format!("{} is NaN at {first:?}", input.name());
    Err(match input {
        Input::Logits => Error::Scores { loss, message },
        Input::Labels => Error::Targets { loss, message },
    })
}

impl Input {
    fn name(self) -> &'static str {
        match self {
            Input::Logits => "a logit",
            Input::Labels => "a label",
        }
    }
}

/// The `[batch]` logits of a pointwise loss, from `[batch]` or `[batch, 1]` (6.3's
/// `scores.view(-1)` of a one-label model).
pub(crate) fn pair_logits(loss: &'static str, scores: &RerankScores<'_>) -> Result<Tensor> {
    no_docs_per_row(loss, scores)?;
    let logits = scores.logits;
    let shape = logits.size();
    let rank = shape.len();
    check_logits(loss, scores, rank.clamp(1, 2), "[batch] or [batch, 1]")?;
    if rank == 2 && shape[1] != 1 {
        return Err(Error::Shape {
            loss,
            context: "logits vs [batch, 1] (a model with one label)".into(),
            right: vec![shape[0], 1],
            left: shape,
        });
    }
    no_nan(loss, Input::Logits, logits, None)?;
    logits.f_reshape([shape[0]]).map_err(Error::torch(loss))
}

/// One label per row, any shape holding `batch` values (6.3's `labels.view(-1)` after checking
/// `labels.numel()`), as `[batch]` of `kind` on `device`.
pub(crate) fn labels_per_row(
    loss: &'static str,
    labels: Option<&Tensor>,
    batch: i64,
    kind: Kind,
    device: Device,
) -> Result<Tensor> {
    let labels = required(loss, labels)?;
    if labels.numel() as i64 != batch || labels.dim() > 2 {
        return Err(Error::Shape {
            loss,
            context: "labels vs one label per row".into(),
            left: labels.size(),
            right: vec![batch],
        });
    }
    no_nan(loss, Input::Labels, labels, None)?;
    labels
        .f_reshape([batch])
        .and_then(|l| l.f_to_device(device))
        .and_then(|l| l.f_to_kind(kind))
        .map_err(Error::torch(loss))
}

/// A listwise batch as 6.3 builds it from (query, [documents]) rows, narrowed to the longest
/// row's documents.
pub(crate) struct Lists {
    /// `[batch, max_docs]` float32 logits after the activation; 0 before it at padding (each
    /// loss puts its own fill value there).
    pub logits: Tensor,
    /// `[batch, max_docs]` float32 labels, `-inf` at padding (6.3's `labels_matrix`).
    pub labels: Tensor,
    /// `[batch, max_docs]` bool: true on real documents.
    pub mask: Tensor,
    /// `!mask`
    pub padding: Tensor,
    pub max_docs: i64,
}

impl Lists {
    /// Checks a listwise batch and lays it out as 6.3 does. 6.3 casts the logits and labels to
    /// float32 (`.float()`) before anything else, and so does this.
    pub fn new(
        loss: &'static str,
        scores: &RerankScores<'_>,
        labels: Option<&Tensor>,
        activation: Activation,
    ) -> Result<Lists> {
        check_logits(loss, scores, 2, "[batch, max_docs]")?;
        let logits = scores.logits;
        let shape = logits.size();
        let (batch, width) = (shape[0], shape[1]);
        let labels = required(loss, labels)?;
        if labels.size() != shape {
            return Err(Error::Shape {
                loss,
                context: "labels vs logits (both [batch, max_docs])".into(),
                left: labels.size(),
                right: shape,
            });
        }
        let counts = docs_per_row(loss, scores.docs_per_row, batch, width)?;
        let max_docs = counts.iter().copied().max().unwrap_or(0);

        let torch = Error::torch(loss);
        let device = logits.device();
        let mask = Tensor::f_from_slice(&counts)
            .and_then(|c| c.f_to_device(device))
            .and_then(|c| c.f_unsqueeze(1))
            .and_then(|c| {
                Tensor::f_arange(max_docs, (Kind::Int64, device))?
                    .f_unsqueeze(0)?
                    .f_lt_tensor(&c)
            })
            .map_err(&torch)?;
        let logits = logits
            .f_narrow(1, 0, max_docs)
            .and_then(|l| l.f_to_kind(Kind::Float))
            .map_err(&torch)?;
        let labels = labels
            .f_narrow(1, 0, max_docs)
            .and_then(|l| l.f_to_device(device))
            .and_then(|l| l.f_to_kind(Kind::Float))
            .map_err(&torch)?;
        no_nan(loss, Input::Logits, &logits, Some(&mask))?;
        no_nan(loss, Input::Labels, &labels, Some(&mask))?;

        let padding = mask.f_logical_not().map_err(&torch)?;
        // Whatever the caller left in the padding must neither reach the activation (a NaN there
        // would poison the gradient through masked_fill) nor the loss.
        let logits = logits
            .f_masked_fill(&padding, 0.0)
            .and_then(|l| activation.apply(&l))
            .map_err(&torch)?;
        let labels = labels
            .f_masked_fill(&padding, f64::NEG_INFINITY)
            .map_err(&torch)?;
        Ok(Lists {
            logits,
            labels,
            mask,
            padding,
            max_docs,
        })
    }

    /// The logits with `fill` at padding (6.3's `torch.full(..., fill)` before placing them).
    pub fn padded_logits(&self, loss: &'static str, fill: f64) -> Result<Tensor> {
        self.logits
            .f_masked_fill(&self.padding, fill)
            .map_err(Error::torch(loss))
    }
}

/// Each row's document count: between 1 and the logits' width.
fn docs_per_row(
    loss: &'static str,
    docs_per_row: Option<&[usize]>,
    batch: i64,
    width: i64,
) -> Result<Vec<i64>> {
    let Some(counts) = docs_per_row else {
        if width == 0 {
            return Err(Error::Scores {
                loss,
                message: "every row has no documents (logits of width 0)".into(),
            });
        }
        return Ok(vec![width; batch as usize]);
    };
    if counts.len() as i64 != batch {
        return Err(Error::Shape {
            loss,
            context: "docs_per_row vs the logits' rows".into(),
            left: vec![counts.len() as i64],
            right: vec![batch],
        });
    }
    counts
        .iter()
        .enumerate()
        .map(|(row, &count)| match i64::try_from(count) {
            Ok(0) => Err(Error::Scores {
                loss,
                message: format!("row {row} has no documents (docs_per_row[{row}] = 0)"),
            }),
            Ok(count) if count <= width => Ok(count),
            _ => Err(Error::Shape {
                loss,
                context: format!("docs_per_row[{row}] vs the logits' width"),
                left: vec![count as i64],
                right: vec![width],
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(logits: &Tensor, labels: &Tensor, counts: Option<&[usize]>) -> Result<Lists, Error> {
        let scores = RerankScores {
            logits,
            docs_per_row: counts,
        };
        Lists::new("ListNetLoss", &scores, Some(labels), Activation::Identity)
    }

    #[test]
    fn lists_mask_padding_and_narrow_to_the_longest_row() {
        let logits = Tensor::from_slice(&[1.0f32, 2.0, f32::NAN, 3.0, 9.0, 9.0]).view([2, 3]);
        let labels = Tensor::from_slice(&[1.0f32, 0.0, 5.0, 2.0, 5.0, 5.0]).view([2, 3]);
        let l = lists(&logits, &labels, Some(&[2, 1][..])).unwrap();
        assert_eq!(l.max_docs, 2);
        assert_eq!(l.logits.size(), [2, 2]);
        assert_eq!(
            Vec::<f32>::try_from(&l.labels.view([-1])).unwrap(),
            [1.0, 0.0, 2.0, f32::NEG_INFINITY]
        );
        assert_eq!(
            Vec::<f32>::try_from(&l.padded_logits("x", -5.0).unwrap().view([-1])).unwrap(),
            [1.0, 2.0, 3.0, -5.0]
        );
    }

    #[test]
    fn bad_lists_name_the_problem() {
        let logits = Tensor::zeros([2, 3], (Kind::Float, Device::Cpu));
        let labels = Tensor::zeros([2, 3], (Kind::Float, Device::Cpu));
        let err = lists(&logits, &labels, Some(&[2, 0][..]))
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            err,
            "ListNetLoss: row 1 has no documents (docs_per_row[1] = 0)"
        );
        let err = lists(&logits, &labels, Some(&[2, 4][..]))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("docs_per_row[1]") && err.contains("[4] vs [3]"),
            "{err}"
        );
        let err = lists(&logits, &labels, Some(&[2][..]))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("[1] vs [2]"), "{err}");
        let short = Tensor::zeros([2, 2], (Kind::Float, Device::Cpu));
        let err = lists(&logits, &short, None).err().unwrap().to_string();
        assert!(err.contains("[2, 2] vs [2, 3]"), "{err}");
        let nan = Tensor::from_slice(&[0.0f32, 0.0, 0.0, 0.0, f32::NAN, 0.0]).view([2, 3]);
        let err = lists(&logits, &nan, Some(&[3, 2][..]))
            .err()
            .unwrap()
            .to_string();
        assert_eq!(err, "ListNetLoss: a label is NaN at [1, 1]");
        // A NaN in the padding is not the loss's business.
        assert!(lists(&nan, &labels, Some(&[3, 1][..])).is_ok());
    }
}
