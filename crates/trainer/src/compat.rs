//! Checks that a loss gets the columns and the kind of target it needs, before any step.

use data::{TargetColumn, TrainingSet};
use losses::{Loss, TargetKind};

use crate::error::{Error, Result};

/// The loss must get the columns and the kind of target it needs.
pub fn check_loss_fits_data(loss: &dyn Loss, set: &TrainingSet) -> Result<()> {
    check_columns(loss, set)?;
    let mismatch = |needs: &str| {
        Error::Dataset(format!(
            "{} needs {needs}, but the training data has {}",
            loss.name(),
            match set.target() {
                TargetColumn::None => "no label column".to_string(),
                TargetColumn::Classes { num_labels, .. } => format!("{num_labels}-class labels"),
                TargetColumn::Scores(_) => "float scores".to_string(),
                TargetColumn::Vectors { dim, .. } =>
                    format!("{dim}-dimensional teacher embeddings"),
            }
        ))
    };
    match (loss.target_kind(), set.target()) {
        (TargetKind::None, TargetColumn::None)
        | (TargetKind::Score, TargetColumn::Scores(_))
        | (TargetKind::Vector, TargetColumn::Vectors { .. }) => Ok(()),
        (TargetKind::Class { num_labels }, TargetColumn::Classes { num_labels: n, .. })
            if *n <= num_labels =>
        {
            Ok(())
        }
        (TargetKind::Class { num_labels }, _)
            if TargetKind::Class { num_labels } == TargetKind::ANY_CLASS =>
        {
            Err(mismatch("an integer class label per row"))
        }
        (TargetKind::Class { num_labels }, _) => {
            Err(mismatch(&format!("class labels in 0..{num_labels}")))
        }
        (TargetKind::Score, _) => Err(mismatch("a float score per row")),
        (TargetKind::Vector, _) => Err(mismatch(
            "a teacher's embedding per row (an `embedding=<column>` of numbers)",
        )),
        (TargetKind::None, _) => Err(mismatch("only text columns (no labels)")),
    }
}

fn check_columns(loss: &dyn Loss, set: &TrainingSet) -> Result<()> {
    let columns = set.column_names().len();
    let (min, max) = loss.columns();
    if columns >= min && max.is_none_or(|max| columns <= max) {
        return Ok(());
    }
    Err(Error::Dataset(format!(
        "the training data has {columns} text column(s) ({}) but {} takes {}",
        set.column_names().join(", "),
        loss.name(),
        match max {
            Some(max) if max == min => format!("{min}"),
            Some(max) => format!("{min} to {max}"),
            None => format!("at least {min}"),
        }
    )))
}
