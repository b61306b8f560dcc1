//! One text column of a parquet file, e.g. the sentences to encode.

use std::path::Path;

use crate::column::{push_strings, ColumnKind};
use crate::error::Result;
use crate::parquet_file::{ParquetColumns, DEFAULT_BATCH_SIZE};

/// Reads every value of the string column `column` (`Utf8`, `LargeUtf8` or `Utf8View`);
/// a null is an error naming file, row and column.
pub fn read_text_column(path: impl AsRef<Path>, column: &str) -> Result<Vec<String>> {
    let mut file = ParquetColumns::open(
        path.as_ref(),
        &[(column, ColumnKind::Text)],
        DEFAULT_BATCH_SIZE,
    )?;
    let mut texts = Vec::with_capacity(file.num_rows());
    while let Some(batch) = file.next_batch()? {
        let text = file.column_ref(column);
        push_strings(batch.column(text)?, text, batch.first_row, &mut texts)?;
    }
    tracing::debug!(path = %file.path().display(), column, rows = texts.len(), "read text column");
    Ok(texts)
}
