//! Streaming access to selected columns of a parquet file, batch by batch.

use std::any::Any;
use std::fs::File;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::Schema;
use arrow::error::ArrowError;
use parquet::arrow::arrow_reader::{
    ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::errors::ParquetError;

use crate::column::{ColumnKind, ColumnRef};
use crate::error::{Error, Result};

/// Rows per record batch when decoding.
pub(crate) const DEFAULT_BATCH_SIZE: usize = 8192;

/// An open parquet file projected onto the requested columns, whose names and
/// arrow types have been checked against the schema.
pub(crate) struct ParquetColumns {
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    num_rows: usize,
    next_row: usize,
}

/// One decoded record batch and the absolute index of its first row.
pub(crate) struct Batch {
    pub(crate) first_row: usize,
    pub(crate) batch: RecordBatch,
}

impl ParquetColumns {
    /// Opens `path` and projects onto `columns`, checking each column exists with an
    /// accepted type, and that the file holds rows.
    pub(crate) fn open(
        path: &Path,
        columns: &[(&str, ColumnKind)],
        batch_size: usize,
    ) -> Result<Self> {
        let columns = columns
            .iter()
            .map(|&(name, kind)| (name.to_owned(), kind))
            .collect();
        Self::open_with(path, batch_size, |_| Ok((columns, ()))).map(|(file, ())| file)
    }

    /// Like [`ParquetColumns::open`], with the columns chosen by `choose` from the file's
    /// arrow schema (for readers whose columns depend on the file); `choose`'s other result
    /// is passed through.
    pub(crate) fn open_with<T>(
        path: &Path,
        batch_size: usize,
        choose: impl FnOnce(&Schema) -> Result<(Vec<(String, ColumnKind)>, T)>,
    ) -> Result<(Self, T)> {
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let parquet_error = |source| Error::Parquet {
            path: path.to_path_buf(),
            source,
        };
        // The arrow schema embedded by writers (`ARROW:schema`) is ignored: arrow-ipc panics
        // on some corrupt ones (found by fuzzing, tests/fuzz_regressions.rs), and the parquet
        // schema alone gives every type we read (dictionary-encoded strings come back plain).
        let options = ArrowReaderOptions::new().with_skip_arrow_metadata(true);
        let builder =
            contain_panic(|| ParquetRecordBatchReaderBuilder::try_new_with_options(file, options))
                .map_err(parquet_error)?;

        let schema = builder.schema();
        let (columns, chosen) = choose(schema)?;
        let roots = builder.parquet_schema().root_schema().get_fields();
        let mut indices = Vec::with_capacity(columns.len());
        for (name, kind) in &columns {
            let (name, kind) = (name.as_str(), *kind);
            let column = ColumnRef { path, name };
            let missing = || Error::MissingColumn {
                path: path.to_path_buf(),
                column: name.to_owned(),
                present: schema.fields().iter().map(|f| f.name().clone()).collect(),
            };
            if roots.iter().filter(|f| f.name() == name).count() > 1 {
                return Err(Error::DuplicateColumn {
                    path: path.to_path_buf(),
                    column: name.to_owned(),
                });
            }
            let (_, field) = schema.column_with_name(name).ok_or_else(missing)?;
            if !kind.accepts(field.data_type()) {
                return Err(column.type_error(kind, field.data_type()));
            }
            let root = roots
                .iter()
                .position(|f| f.name() == name)
                .ok_or_else(missing)?;
            indices.push(root);
        }

        let num_rows = builder.metadata().file_metadata().num_rows();
        if num_rows <= 0 {
            return Err(Error::NoRows {
                path: path.to_path_buf(),
            });
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
        let reader = contain_panic(|| {
            builder
                .with_projection(mask)
                .with_batch_size(batch_size.max(1))
                .build()
        })
        .map_err(parquet_error)?;
        let file = Self {
            path: path.to_path_buf(),
            reader,
            num_rows: usize::try_from(num_rows).unwrap_or(0),
            next_row: 0,
        };
        Ok((file, chosen))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Row count from the file metadata (a capacity hint).
    pub(crate) fn num_rows(&self) -> usize {
        self.num_rows
    }

    /// The next record batch, or `None` at the end of the file.
    pub(crate) fn next_batch(&mut self) -> Result<Option<Batch>> {
        // As in `contain_panic`: every reader returns at the first error, dropping `self`.
        let reader = &mut self.reader;
        let next = std::panic::catch_unwind(AssertUnwindSafe(|| reader.next())).unwrap_or_else(
            |payload| Some(Err(ArrowError::ParquetError(panic_message(&*payload)))),
        );
        match next {
            None => Ok(None),
            Some(Err(source)) => Err(Error::Decode {
                path: self.path.clone(),
                source,
            }),
            Some(Ok(batch)) => {
                let first_row = self.next_row;
                self.next_row += batch.num_rows();
                Ok(Some(Batch { first_row, batch }))
            }
        }
    }

    /// The error context for column `name` of this file.
    pub(crate) fn column_ref<'a>(&'a self, name: &'a str) -> ColumnRef<'a> {
        ColumnRef {
            path: &self.path,
            name,
        }
    }
}

/// Runs parquet decoding, turning a panic into an error. The parquet crate still panics on
/// some corrupt files (found by fuzzing: parquet 57 unwraps malformed thrift bool fields,
/// apache/arrow-rs#9839); a user's broken file must be an error naming it, not a crash. A
/// reader that panicked is never used again: the error ends the read and drops it.
fn contain_panic<T>(
    decode: impl FnOnce() -> std::result::Result<T, ParquetError>,
) -> std::result::Result<T, ParquetError> {
    std::panic::catch_unwind(AssertUnwindSafe(decode))
        .unwrap_or_else(|payload| Err(ParquetError::General(panic_message(&*payload))))
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    format!("the parquet decoder panicked on corrupt input: {detail}")
}

impl Batch {
    /// Column `name` of this batch (checked by [`ParquetColumns::open`]).
    pub(crate) fn column(&self, column: ColumnRef<'_>) -> Result<&dyn Array> {
        self.batch
            .column_by_name(column.name)
            .map(|array| array.as_ref())
            .ok_or_else(|| Error::MissingColumn {
                path: column.path.to_path_buf(),
                column: column.name.to_owned(),
                present: self
                    .batch
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect(),
            })
    }
}
