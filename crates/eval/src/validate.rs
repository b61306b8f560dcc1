//! Input and config checks shared by the evaluators; each error names the input or key.

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::similarity::SimilarityFunction;

/// Errors when `list` (config key `key`) is empty or names a function twice.
pub(crate) fn check_functions(key: &'static str, list: &[SimilarityFunction]) -> Result<()> {
    if list.is_empty() {
        return Err(Error::NoSimilarityFunctions { key });
    }
    for (i, &function) in list.iter().enumerate() {
        if list[..i].contains(&function) {
            return Err(Error::DuplicateSimilarityFunction { key, function });
        }
    }
    Ok(())
}

/// Errors when `main` (config key `key`) is set but not in `list` (config key `list_key`).
pub(crate) fn check_main_listed(
    key: &'static str,
    main: Option<SimilarityFunction>,
    list_key: &'static str,
    list: &[SimilarityFunction],
) -> Result<()> {
    match main {
        Some(function) if !list.contains(&function) => Err(Error::MainFunctionNotListed {
            key,
            function,
            list_key,
        }),
        _ => Ok(()),
    }
}

/// Errors when the count `value` (config key `key`) is zero.
pub(crate) fn check_positive(key: &'static str, value: usize) -> Result<()> {
    if value == 0 {
        return Err(Error::ZeroConfigValue { key });
    }
    Ok(())
}

/// Errors unless `inputs` (name, matrix) all have at least one row, the rows and dims of the
/// first, and only finite values (naming the input and row).
pub(crate) fn check_aligned(inputs: &[(&'static str, Embeddings<'_>)]) -> Result<()> {
    let Some(&(reference, first)) = inputs.first() else {
        return Ok(());
    };
    for &(input, e) in inputs {
        if e.rows() == 0 {
            return Err(Error::EmptyInput { input });
        }
        if e.rows() != first.rows() {
            return Err(Error::InputRows {
                input,
                rows: e.rows(),
                reference,
                expected: first.rows(),
            });
        }
        check_same_dim(input, e, reference, first)?;
    }
    for &(input, e) in inputs {
        e.check_finite(input)?;
    }
    Ok(())
}

/// Errors when `e` (named `input`) and `reference` differ in dim.
pub(crate) fn check_same_dim(
    input: &'static str,
    e: Embeddings<'_>,
    reference_name: &'static str,
    reference: Embeddings<'_>,
) -> Result<()> {
    if e.dim() != reference.dim() {
        return Err(Error::InputDim {
            input,
            dim: e.dim(),
            reference: reference_name,
            expected: reference.dim(),
        });
    }
    Ok(())
}
