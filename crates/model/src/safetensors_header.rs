//! The header of a safetensors file: every tensor's name and shape, read without the tensors
//! and checked against the file's size, so that sizes a config implies can be compared with
//! the checkpoint before any variable is created.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{json_error, Error, Result};

/// Headers above this are refused unread (the safetensors crate's own limit).
const MAX_HEADER_BYTES: u64 = 100_000_000;

/// One entry of the header, as the safetensors format defines it.
#[derive(Debug, Deserialize)]
struct TensorEntry {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

#[derive(Debug)]
pub(crate) struct SafetensorsHeader {
    path: PathBuf,
    shapes: BTreeMap<String, Vec<i64>>,
}

impl SafetensorsHeader {
    /// Reads the header of `path`. Every shape must fit its data: a shape is then bounded by
    /// the file's size, whatever the header claims.
    pub(crate) fn read(path: &Path) -> Result<Self> {
        let corrupt = |message: String| Error::Config {
            path: path.to_path_buf(),
            message,
        };
        let (text, data_bytes) = read_header_text(path)?;
        let mut json = serde_json::Deserializer::from_slice(&text);
        let entries: BTreeMap<String, serde_json::Value> =
            serde_path_to_error::deserialize(&mut json)
                .map_err(|err| json_error(path, "a safetensors header", err))?;
        let mut shapes = BTreeMap::new();
        for (name, value) in entries {
            if name == "__metadata__" {
                continue;
            }
            let entry: TensorEntry = serde_path_to_error::deserialize(value).map_err(|err| {
                let key = format!("{name}.{}", err.path());
                Error::JsonKey {
                    path: path.to_path_buf(),
                    what: "a safetensors header",
                    key,
                    source: err.into_inner(),
                }
            })?;
            let shape = check_entry(&name, &entry, data_bytes).map_err(corrupt)?;
            shapes.insert(name, shape);
        }
        Ok(SafetensorsHeader {
            path: path.to_path_buf(),
            shapes,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.shapes.keys().map(String::as_str)
    }

    pub(crate) fn shape(&self, name: &str) -> Option<&[i64]> {
        self.shapes.get(name).map(Vec::as_slice)
    }
}

/// The header's bytes and the number of data bytes after it.
fn read_header_text(path: &Path) -> Result<(Vec<u8>, u64)> {
    let corrupt = |message: String| Error::Config {
        path: path.to_path_buf(),
        message,
    };
    let mut file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let size = file
        .metadata()
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    let mut len = [0u8; 8];
    file.read_exact(&mut len)
        .map_err(|_| corrupt("not a safetensors file (shorter than its 8-byte header)".into()))?;
    let n = u64::from_le_bytes(len);
    if n > size.saturating_sub(8) || n > MAX_HEADER_BYTES {
        return Err(corrupt(format!(
            "not a safetensors file (header length {n} exceeds the file size {size})"
        )));
    }
    let mut header = vec![0u8; n as usize];
    file.read_exact(&mut header)
        .map_err(|_| corrupt("truncated safetensors header".into()))?;
    Ok((header, size - 8 - n))
}

/// The shape of `entry`, after checking that its data lies in the file and has the size the
/// dtype and shape give it.
fn check_entry(
    name: &str,
    entry: &TensorEntry,
    data_bytes: u64,
) -> std::result::Result<Vec<i64>, String> {
    let width = dtype_bytes(&entry.dtype)
        .ok_or_else(|| format!("tensor {name} has unknown dtype {:?}", entry.dtype))?;
    let [start, end] = entry.data_offsets;
    let bytes = entry
        .shape
        .iter()
        .try_fold(width, |acc, &d| acc.checked_mul(d));
    if start > end || end > data_bytes || bytes != Some(end - start) {
        return Err(format!(
            "tensor {name} ({} {:?}) does not fit its data_offsets [{start}, {end}] in the \
             {data_bytes} data bytes of the file",
            entry.dtype, entry.shape
        ));
    }
    // Each dimension is at most the byte count, which fits a file size, so in i64.
    Ok(entry.shape.iter().map(|&d| d as i64).collect())
}

fn dtype_bytes(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" => 1,
        "U16" | "I16" | "F16" | "BF16" => 2,
        "U32" | "I32" | "F32" => 4,
        "U64" | "I64" | "F64" => 8,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, header: &str, data: usize) -> PathBuf {
        let path = dir.join("model.safetensors");
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend(header.as_bytes());
        bytes.extend(std::iter::repeat_n(0u8, data));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn reads_shapes_and_refuses_ones_the_data_cannot_hold() {
        let dir = tempfile::tempdir().unwrap();
        let ok = r#"{"__metadata__": {"format": "pt"},
                     "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}"#;
        let header = SafetensorsHeader::read(&write(dir.path(), ok, 24)).unwrap();
        assert_eq!(header.names().collect::<Vec<_>>(), ["w"]);
        assert_eq!(header.shape("w"), Some(&[2, 3][..]));
        let huge =
            r#"{"w": {"dtype": "F32", "shape": [1000000000000, 32], "data_offsets": [0, 24]}}"#;
        let err = SafetensorsHeader::read(&write(dir.path(), huge, 24))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("tensor w") && err.contains("data_offsets"),
            "{err}"
        );
        let overflow =
            r#"{"w": {"dtype": "F64", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}}"#;
        assert!(SafetensorsHeader::read(&write(dir.path(), overflow, 0)).is_err());
        let typed = r#"{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}"#;
        let err = SafetensorsHeader::read(&write(dir.path(), typed, 0))
            .unwrap_err()
            .to_string();
        assert!(err.contains("w.shape"), "{err}");
    }
}
