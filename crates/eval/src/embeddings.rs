//! A borrowed, row-major matrix of `f32` embeddings.

use crate::error::{Error, Result};

/// A borrowed row-major `[rows, dim]` matrix of embeddings, e.g. the flat buffer of a tensor.
///
/// # Shapes
/// `data`: `[rows * dim]`, row `i` is `data[i * dim..(i + 1) * dim]`
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Embeddings<'a> {
    data: &'a [f32],
    rows: usize,
    dim: usize,
}

impl<'a> Embeddings<'a> {
    /// Wraps `data` as a `[rows, dim]` matrix; `data.len()` must equal `rows * dim` and `dim > 0`.
    pub fn new(data: &'a [f32], rows: usize, dim: usize) -> Result<Self> {
        let expected = rows as u128 * dim as u128;
        if data.len() as u128 != expected {
            return Err(Error::BufferShape {
                len: data.len(),
                rows,
                dim,
                expected,
            });
        }
        if dim == 0 {
            return Err(Error::ZeroDim { rows });
        }
        Ok(Self { data, rows, dim })
    }

    /// Number of embeddings (rows).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Embedding dimension (columns).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The flat row-major buffer.
    pub fn as_slice(&self) -> &'a [f32] {
        self.data
    }

    /// Row `i`, or `None` when `i >= rows`.
    pub fn row(&self, i: usize) -> Option<&'a [f32]> {
        let start = i.checked_mul(self.dim)?;
        self.data.get(start..start + self.dim)
    }

    /// Iterates over the rows in order.
    pub fn iter_rows(&self) -> std::slice::ChunksExact<'a, f32> {
        self.data.chunks_exact(self.dim)
    }

    /// Errors naming the first row that holds a NaN or infinite value; `input` names the matrix.
    pub fn check_finite(&self, input: &'static str) -> Result<()> {
        for (row, values) in self.iter_rows().enumerate() {
            if let Some(&value) = values.iter().find(|v| !v.is_finite()) {
                return Err(Error::NonFinite {
                    input,
                    row,
                    value: f64::from(value),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_row_major() {
        let data = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let e = Embeddings::new(&data, 2, 3).unwrap();
        assert_eq!(e.row(0), Some(&data[..3]));
        assert_eq!(e.row(1), Some(&data[3..]));
        assert_eq!(e.row(2), None);
        assert_eq!(e.iter_rows().count(), 2);
    }

    #[test]
    fn buffer_length_error_names_rows_and_dim() {
        let err = Embeddings::new(&[0.0; 5], 2, 3).unwrap_err().to_string();
        assert!(err.contains("5 values"), "{err}");
        assert!(err.contains("2 * 3 = 6"), "{err}");
    }

    #[test]
    fn huge_shape_does_not_overflow() {
        let err = Embeddings::new(&[], usize::MAX, 2).unwrap_err().to_string();
        assert!(err.contains(&(usize::MAX as u128 * 2).to_string()), "{err}");
    }

    #[test]
    fn zero_dim_is_rejected() {
        let err = Embeddings::new(&[], 3, 0).unwrap_err().to_string();
        assert!(err.contains("dim must be positive"), "{err}");
    }

    #[test]
    fn non_finite_names_row_and_input() {
        let data = [0.0, 1.0, 2.0, f32::INFINITY];
        let e = Embeddings::new(&data, 2, 2).unwrap();
        let err = e.check_finite("embeddings2").unwrap_err().to_string();
        assert!(err.contains("embeddings2"), "{err}");
        assert!(err.contains("row 1"), "{err}");
    }
}
