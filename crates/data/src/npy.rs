//! Float32 matrices in NumPy's `.npy` format (version 1.0), the `encode` output that Python
//! reads with `np.load`.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

const MAGIC: &[u8] = b"\x93NUMPY";

/// A row-major matrix's values, typed: float32 embeddings, or int8/uint8 ones (quantized
/// values or packed bits, as sentence-transformers' `quantize_embeddings` returns them).
#[derive(Debug, Clone, Copy)]
pub enum MatrixValues<'a> {
    F32(&'a [f32]),
    I8(&'a [i8]),
    U8(&'a [u8]),
}

impl MatrixValues<'_> {
    pub fn len(&self) -> usize {
        match self {
            MatrixValues::F32(v) => v.len(),
            MatrixValues::I8(v) => v.len(),
            MatrixValues::U8(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// NumPy's dtype string.
    fn descr(&self) -> &'static str {
        match self {
            MatrixValues::F32(_) => "<f4",
            MatrixValues::I8(_) => "|i1",
            MatrixValues::U8(_) => "|u1",
        }
    }

    fn extend_le_bytes(&self, bytes: &mut Vec<u8>) {
        match self {
            MatrixValues::F32(v) => v
                .iter()
                .for_each(|x| bytes.extend_from_slice(&x.to_le_bytes())),
            MatrixValues::I8(v) => bytes.extend(v.iter().map(|&x| x as u8)),
            MatrixValues::U8(v) => bytes.extend_from_slice(v),
        }
    }
}

/// Writes a row-major `[rows, dim]` float32 matrix, atomically (temp file + rename).
pub fn write_npy_f32(path: impl AsRef<Path>, data: &[f32], rows: usize, dim: usize) -> Result<()> {
    write_npy(path, MatrixValues::F32(data), rows, dim)
}

/// Writes a row-major `[rows, dim]` matrix of float32, int8 or uint8 values (`np.load` gives
/// that dtype back), atomically (temp file + rename).
pub fn write_npy(
    path: impl AsRef<Path>,
    values: MatrixValues<'_>,
    rows: usize,
    dim: usize,
) -> Result<()> {
    let path = path.as_ref();
    if Some(values.len()) != rows.checked_mul(dim) {
        return Err(Error::MatrixShape {
            len: values.len(),
            rows,
            dim,
        });
    }
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': ({rows}, {dim}), }}",
        values.descr()
    );
    // The header (with magic, version and length) is padded to a multiple of 64 bytes and ends in '\n'.
    let unpadded = MAGIC.len() + 2 + 2 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut bytes = Vec::with_capacity(MAGIC.len() + 4 + header.len() + values.len() * 4);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&[1, 0]);
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    values.extend_le_bytes(&mut bytes);
    write_atomically(path, &bytes)
}

/// A row-major matrix's values read back from a `.npy` file, typed as stored.
#[derive(Debug, Clone, PartialEq)]
pub enum MatrixData {
    F32(Vec<f32>),
    I8(Vec<i8>),
    U8(Vec<u8>),
}

/// The element types this reader and [`write_npy`] know, by NumPy's dtype string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpyDtype {
    /// `<f4`
    F32,
    /// `|i1`
    I8,
    /// `|u1`
    U8,
}

impl NpyDtype {
    /// Bytes per value.
    pub fn item_size(self) -> usize {
        match self {
            NpyDtype::F32 => 4,
            NpyDtype::I8 | NpyDtype::U8 => 1,
        }
    }

    /// NumPy's dtype string.
    pub fn descr(self) -> &'static str {
        match self {
            NpyDtype::F32 => "<f4",
            NpyDtype::I8 => "|i1",
            NpyDtype::U8 => "|u1",
        }
    }
}

/// What a `.npy` header says: the dtype, the 2-d shape and where the values start. The file
/// holds `data_offset + rows * dim * dtype.item_size()` bytes when it is whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NpyHeader {
    pub dtype: NpyDtype,
    pub rows: usize,
    pub dim: usize,
    pub data_offset: usize,
}

impl NpyHeader {
    /// The size in bytes of the whole file this header describes (`None` on overflow).
    pub fn file_len(&self) -> Option<u64> {
        let payload = self
            .rows
            .checked_mul(self.dim)?
            .checked_mul(self.dtype.item_size())?;
        u64::try_from(self.data_offset.checked_add(payload)?).ok()
    }
}

/// Parses the header at the start of `bytes` (the first bytes of a `.npy` file; the values
/// need not be there). `path` only names the file in errors.
pub fn parse_npy_header(path: &Path, bytes: &[u8]) -> Result<NpyHeader> {
    let bad = |reason: &str| Error::Npy {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad("missing the \\x93NUMPY magic"));
    }
    let (header_len, header_start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return Err(bad("unknown format version")),
    };
    let header = bytes
        .get(header_start..header_start + header_len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("truncated header"))?;
    let dtype = [NpyDtype::F32, NpyDtype::I8, NpyDtype::U8]
        .into_iter()
        .find(|d| header.contains(&format!("'descr': '{}'", d.descr())))
        .ok_or_else(|| bad("dtype is not float32 ('<f4'), int8 ('|i1') or uint8 ('|u1')"))?;
    if header.contains("'fortran_order': True") {
        return Err(bad("fortran order is not supported"));
    }
    let shape = header
        .split("'shape':")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .map(|s| s.trim().trim_start_matches('('))
        .ok_or_else(|| bad("no shape in header"))?;
    let dims: Vec<usize> = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| bad("shape is not a tuple of integers"))
        })
        .collect::<Result<_>>()?;
    let [rows, dim] = dims[..] else {
        return Err(bad("shape is not 2-d"));
    };
    Ok(NpyHeader {
        dtype,
        rows,
        dim,
        data_offset: header_start + header_len,
    })
}

/// Parses a whole `.npy` file's bytes: a `[rows, dim]` C-order matrix of float32, int8 or
/// uint8 values, as NumPy or [`write_npy`] writes it. `path` only names the file in errors.
pub fn parse_npy(path: &Path, bytes: &[u8]) -> Result<(MatrixData, usize, usize)> {
    let header = parse_npy_header(path, bytes)?;
    let (rows, dim) = (header.rows, header.dim);
    let payload = &bytes[header.data_offset..];
    let expected = rows
        .checked_mul(dim)
        .and_then(|n| n.checked_mul(header.dtype.item_size()));
    if Some(payload.len()) != expected {
        return Err(Error::Npy {
            path: path.to_path_buf(),
            reason: format!(
                "payload has {} bytes, shape ({rows}, {dim}) of {} needs {}",
                payload.len(),
                header.dtype.descr(),
                rows.saturating_mul(dim)
                    .saturating_mul(header.dtype.item_size())
            ),
        });
    }
    let data = match header.dtype {
        NpyDtype::F32 => MatrixData::F32(
            payload
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        NpyDtype::I8 => MatrixData::I8(payload.iter().map(|&b| b as i8).collect()),
        NpyDtype::U8 => MatrixData::U8(payload.to_vec()),
    };
    Ok((data, rows, dim))
}

/// Reads a `[rows, dim]` C-order matrix of float32, int8 or uint8 values written by NumPy or
/// [`write_npy`].
pub fn read_npy(path: impl AsRef<Path>) -> Result<(MatrixData, usize, usize)> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_npy(path, &bytes)
}

/// Reads a float32 `[rows, dim]` C-order matrix written by NumPy or [`write_npy_f32`].
pub fn read_npy_f32(path: impl AsRef<Path>) -> Result<(Vec<f32>, usize, usize)> {
    let path = path.as_ref();
    match read_npy(path)? {
        (MatrixData::F32(data), rows, dim) => Ok((data, rows, dim)),
        _ => Err(Error::Npy {
            path: path.to_path_buf(),
            reason: "dtype is not little-endian float32 ('<f4')".into(),
        }),
    }
}

pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    // The temporary file is private (0600); the output is an ordinary data file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(err)?;
    }
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_header_alignment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        let data: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 1.0).collect();
        write_npy_f32(&path, &data, 3, 4).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!((bytes.len() - 48) % 64, 0, "header padded to 64 bytes");
        assert_eq!(read_npy_f32(&path).unwrap(), (data, 3, 4));
    }

    #[test]
    fn int8_and_uint8_matrices_carry_their_dtype_and_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.npy");
        write_npy(&path, MatrixValues::I8(&[-128, -1, 0, 127, 5, -5]), 2, 3).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(
            header.contains("'descr': '|i1'") && header.contains("(2, 3)"),
            "{header}"
        );
        assert_eq!(&bytes[10 + header_len..], &[128, 255, 0, 127, 5, 251]);
        write_npy(&path, MatrixValues::U8(&[0, 255]), 1, 2).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(String::from_utf8_lossy(&bytes).contains("'descr': '|u1'"));
        assert_eq!(&bytes[bytes.len() - 2..], &[0, 255]);
        // float32 readers refuse them by dtype.
        let err = read_npy_f32(&path).unwrap_err().to_string();
        assert!(err.contains("float32"), "{err}");
        assert!(write_npy(&path, MatrixValues::U8(&[1, 2, 3]), 2, 2).is_err());
    }

    #[test]
    fn typed_reader_returns_each_dtype_and_checks_the_payload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.npy");
        write_npy(&path, MatrixValues::I8(&[-128, -1, 0, 127]), 2, 2).unwrap();
        assert_eq!(
            read_npy(&path).unwrap(),
            (MatrixData::I8(vec![-128, -1, 0, 127]), 2, 2)
        );
        write_npy(&path, MatrixValues::U8(&[0, 255, 7]), 1, 3).unwrap();
        assert_eq!(
            read_npy(&path).unwrap(),
            (MatrixData::U8(vec![0, 255, 7]), 1, 3)
        );
        write_npy_f32(&path, &[0.5, -2.0], 2, 1).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let header = parse_npy_header(&path, &bytes).unwrap();
        assert_eq!(
            (header.dtype, header.rows, header.dim),
            (NpyDtype::F32, 2, 1)
        );
        assert_eq!(header.file_len(), Some(bytes.len() as u64));
        // A truncated payload is refused, naming the sizes.
        let err = parse_npy(&path, &bytes[..bytes.len() - 1])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("payload has 7 bytes") && err.contains("needs 8"),
            "{err}"
        );
    }

    #[test]
    fn rejects_wrong_shapes_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        assert!(matches!(
            write_npy_f32(&path, &[1.0; 5], 2, 3),
            Err(Error::MatrixShape { .. })
        ));
        std::fs::write(&path, b"not numpy").unwrap();
        let err = read_npy_f32(&path).unwrap_err().to_string();
        assert!(err.contains("x.npy") && err.contains("magic"), "{err}");
    }
}
