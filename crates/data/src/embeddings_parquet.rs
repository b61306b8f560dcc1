//! Embeddings as a parquet file: a `text` column and a fixed-size-list `embedding` column,
//! which pandas, polars and `datasets` read as arrays.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, FixedSizeListArray, Float32Array, Int8Array, RecordBatch, StringArray, UInt8Array,
};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;

use crate::error::{Error, Result};
use crate::npy::{write_atomically, MatrixValues};

pub fn write_embeddings_parquet<S: AsRef<str>>(
    path: impl AsRef<Path>,
    texts: &[S],
    data: &[f32],
    dim: usize,
) -> Result<()> {
    write_embeddings_parquet_as(path, texts, MatrixValues::F32(data), dim)
}

/// [`write_embeddings_parquet`] with an `embedding` column of float32, int8 or uint8 items
/// (quantized embeddings, or packed bits with `dim` bytes per row).
pub fn write_embeddings_parquet_as<S: AsRef<str>>(
    path: impl AsRef<Path>,
    texts: &[S],
    values: MatrixValues<'_>,
    dim: usize,
) -> Result<()> {
    let path = path.as_ref();
    let rows = texts.len();
    if Some(values.len()) != rows.checked_mul(dim) {
        return Err(Error::MatrixShape {
            len: values.len(),
            rows,
            dim,
        });
    }
    let (item_type, items): (DataType, ArrayRef) = match values {
        MatrixValues::F32(v) => (DataType::Float32, Arc::new(Float32Array::from(v.to_vec()))),
        MatrixValues::I8(v) => (DataType::Int8, Arc::new(Int8Array::from(v.to_vec()))),
        MatrixValues::U8(v) => (DataType::UInt8, Arc::new(UInt8Array::from(v.to_vec()))),
    };
    let item = Arc::new(Field::new("item", item_type, false));
    let dim_i32 = i32::try_from(dim).map_err(|_| Error::MatrixShape {
        len: values.len(),
        rows,
        dim,
    })?;
    let embedding =
        FixedSizeListArray::try_new(item.clone(), dim_i32, items, None).map_err(|source| {
            Error::Decode {
                path: path.to_path_buf(),
                source,
            }
        })?;
    let text = StringArray::from_iter_values(texts.iter().map(|t| t.as_ref()));
    let schema = Arc::new(Schema::new(vec![
        Field::new("text", DataType::Utf8, false),
        Field::new("embedding", DataType::FixedSizeList(item, dim_i32), false),
    ]));
    let columns: Vec<ArrayRef> = vec![Arc::new(text), Arc::new(embedding)];
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|source| Error::Decode {
        path: path.to_path_buf(),
        source,
    })?;
    let mut buffer = Vec::new();
    let write_err = |source| Error::ParquetWrite {
        path: path.to_path_buf(),
        source,
    };
    let mut writer = ArrowWriter::try_new(&mut buffer, schema, None).map_err(write_err)?;
    writer.write(&batch).map_err(write_err)?;
    writer.close().map_err(write_err)?;
    write_atomically(path, &buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_readable_parquet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.parquet");
        write_embeddings_parquet(&path, &["a", "b"], &[1.0, 2.0, 3.0, 4.0], 2).unwrap();
        assert_eq!(
            crate::read_text_column(&path, "text").unwrap(),
            vec!["a", "b"]
        );
        assert!(write_embeddings_parquet(&path, &["a"], &[1.0, 2.0, 3.0], 2).is_err());
    }
}
