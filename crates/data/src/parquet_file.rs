//! Streaming access to selected columns of a parquet file, batch by batch.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;

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
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let parquet_error = |source| Error::Parquet {
            path: path.to_path_buf(),
            source,
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_error)?;

        let schema = builder.schema();
        let roots = builder.parquet_schema().root_schema().get_fields();
        let mut indices = Vec::with_capacity(columns.len());
        for &(name, kind) in columns {
            let column = ColumnRef { path, name };
            let missing = || Error::MissingColumn {
                path: path.to_path_buf(),
                column: name.to_owned(),
                present: schema.fields().iter().map(|f| f.name().clone()).collect(),
            };
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
        let reader = builder
            .with_projection(mask)
            .with_batch_size(batch_size.max(1))
            .build()
            .map_err(parquet_error)?;
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            num_rows: usize::try_from(num_rows).unwrap_or(0),
            next_row: 0,
        })
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
        match self.reader.next() {
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
