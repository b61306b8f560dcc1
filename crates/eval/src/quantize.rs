//! Embedding quantization, as sentence-transformers 6.3's `quantize_embeddings`, and STS
//! evaluation of quantized embeddings, as `EmbeddingSimilarityEvaluator(precision=…)`.
//!
//! - int8/uint8 (scalar quantization): each dimension's `[min, max]` range is cut into 255
//!   equal steps and a value becomes the index of its step, clipped to `0..=255`; uint8 stores
//!   the index, int8 the index minus 128. Computed in `f32` in numpy's order of operations, so
//!   every value lands in the same bucket as in Python.
//! - binary/ubinary: the sign bits (`x > 0`) packed 8 per byte, most significant bit first,
//!   the last byte zero-padded (`np.packbits`); ubinary stores the byte, binary the byte
//!   minus 128.

use serde::{Deserialize, Serialize};

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::sts::{evaluate_sts, validate_sts_inputs, StsMetrics};

/// Below this many embeddings sentence-transformers warns that computed ranges are unstable.
const STABLE_CALIBRATION_ROWS: usize = 100;

/// The highest int8/uint8 bucket index: a range is cut into this many steps.
const TOP_BUCKET: f32 = 255.0;

/// int8 and binary store unsigned values minus this offset.
const SIGNED_OFFSET: i16 = 128;

/// The number format of quantized embeddings, named as in sentence-transformers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Unchanged `f32` values.
    Float32,
    /// Bucket index minus 128, one `i8` per dimension.
    Int8,
    /// Bucket index, one `u8` per dimension.
    Uint8,
    /// Packed sign bits minus 128, one `i8` per 8 dimensions.
    Binary,
    /// Packed sign bits, one `u8` per 8 dimensions.
    Ubinary,
}

impl Precision {
    /// All precisions, in the order sentence-transformers lists them.
    pub const ALL: [Self; 5] = [
        Self::Float32,
        Self::Int8,
        Self::Uint8,
        Self::Binary,
        Self::Ubinary,
    ];

    /// The name sentence-transformers uses (`"float32"`, `"int8"`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Float32 => "float32",
            Self::Int8 => "int8",
            Self::Uint8 => "uint8",
            Self::Binary => "binary",
            Self::Ubinary => "ubinary",
        }
    }

    /// Values per row of quantized `dim`-dimensional embeddings: `dim`, or for binary and
    /// ubinary `(dim + 7) / 8` bytes (8 dimensions per byte, the last one padded).
    pub fn quantized_dim(self, dim: usize) -> usize {
        match self {
            Self::Float32 | Self::Int8 | Self::Uint8 => dim,
            Self::Binary | Self::Ubinary => dim.div_ceil(8),
        }
    }

    /// Whether this is int8 or uint8, the precisions that use [`QuantizationRanges`].
    pub fn uses_ranges(self) -> bool {
        matches!(self, Self::Int8 | Self::Uint8)
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = Error;

    /// Parses an exact sentence-transformers name; anything else is an error listing them.
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| Error::UnknownPrecision { name: s.to_owned() })
    }
}

/// Per-dimension `[min, max]` ranges of int8/uint8 quantization: sentence-transformers'
/// `ranges` array of shape `(2, dim)`, row 0 the minima, row 1 the maxima.
///
/// Always valid: equally long, non-empty, finite, `min <= max` and `max - min` finite in
/// `f32` in every dimension. Serialises as `{"min": [...], "max": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawRanges")]
pub struct QuantizationRanges {
    min: Vec<f32>,
    max: Vec<f32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRanges {
    min: Vec<f32>,
    max: Vec<f32>,
}

impl TryFrom<RawRanges> for QuantizationRanges {
    type Error = Error;

    fn try_from(raw: RawRanges) -> Result<Self> {
        Self::new(raw.min, raw.max)
    }
}

impl QuantizationRanges {
    /// Ranges from explicit per-dimension minima and maxima.
    ///
    /// Errors when the lengths differ or are zero, or naming the first dimension whose bound
    /// is not finite, whose `min > max`, or whose width `max - min` overflows `f32` (every
    /// value would then fall in a step of infinite width).
    pub fn new(min: Vec<f32>, max: Vec<f32>) -> Result<Self> {
        if min.len() != max.len() {
            return Err(Error::RangesLength {
                min: min.len(),
                max: max.len(),
            });
        }
        if min.is_empty() {
            return Err(Error::EmptyInput {
                input: "quantization ranges",
            });
        }
        for (dim, (&lo, &hi)) in min.iter().zip(&max).enumerate() {
            for (bound, value) in [("min", lo), ("max", hi)] {
                if !value.is_finite() {
                    return Err(Error::NonFiniteRange { bound, dim, value });
                }
            }
            if lo > hi {
                return Err(Error::InvertedRange {
                    dim,
                    min: lo,
                    max: hi,
                });
            }
            // Python accepts such a range, but then `inf / inf` makes NaN buckets that numpy
            // casts to integers in a platform-dependent way: refuse rather than guess.
            if !(hi - lo).is_finite() {
                return Err(Error::RangeOverflow {
                    dim,
                    min: lo,
                    max: hi,
                });
            }
        }
        Ok(Self { min, max })
    }

    /// Each dimension's minimum and maximum over the rows of `embeddings`, as
    /// sentence-transformers computes ranges from `calibration_embeddings` or, without them,
    /// from the embeddings being quantized.
    ///
    /// Errors with fewer than 2 rows (sentence-transformers refuses a single embedding), on a
    /// NaN or infinite value (naming its row) and as [`Self::new`]. Logs a warning, as
    /// sentence-transformers does, under 100 rows.
    ///
    /// # Shapes
    /// embeddings: `[rows, dim]`, `rows >= 2` → ranges of `dim`
    pub fn from_embeddings(embeddings: Embeddings<'_>) -> Result<Self> {
        let rows = embeddings.rows();
        if rows < 2 {
            return Err(Error::TooFewCalibrationRows { rows });
        }
        embeddings.check_finite("calibration embeddings")?;
        if rows < STABLE_CALIBRATION_ROWS {
            tracing::warn!(
                rows,
                "computing quantization ranges from fewer than {STABLE_CALIBRATION_ROWS} \
                 embeddings; ranges from a larger, representative set are more stable"
            );
        }
        let mut rows_iter = embeddings.iter_rows();
        let first = rows_iter.next().unwrap_or_default();
        let (mut min, mut max) = (first.to_vec(), first.to_vec());
        for row in rows_iter {
            for ((lo, hi), &v) in min.iter_mut().zip(&mut max).zip(row) {
                if v < *lo {
                    *lo = v;
                }
                if v > *hi {
                    *hi = v;
                }
            }
        }
        Self::new(min, max)
    }

    /// Per-dimension minima (row 0 of sentence-transformers' `ranges`).
    pub fn min(&self) -> &[f32] {
        &self.min
    }

    /// Per-dimension maxima (row 1 of sentence-transformers' `ranges`).
    pub fn max(&self) -> &[f32] {
        &self.max
    }

    /// Number of dimensions.
    pub fn dim(&self) -> usize {
        self.min.len()
    }

    /// Errors naming both widths unless the ranges have `dim` dimensions.
    fn check_dim(&self, dim: usize) -> Result<()> {
        if self.dim() == dim {
            Ok(())
        } else {
            Err(Error::RangesDim {
                ranges: self.dim(),
                embeddings: dim,
            })
        }
    }

    /// Each dimension's step `(max - min) / 255` in `f32`, a zero step replaced by 1, exactly
    /// as `quantize_embeddings` computes `steps`.
    fn steps(&self) -> Vec<f32> {
        self.min
            .iter()
            .zip(&self.max)
            .map(|(&lo, &hi)| {
                let step = (hi - lo) / TOP_BUCKET;
                if step == 0.0 {
                    1.0
                } else {
                    step
                }
            })
            .collect()
    }
}

/// The values of [`QuantizedEmbeddings`], row-major, typed by precision.
#[derive(Debug, Clone, PartialEq)]
pub enum QuantizedValues {
    /// `[rows * dim]` unchanged values.
    Float32(Vec<f32>),
    /// `[rows * dim]` bucket indices minus 128.
    Int8(Vec<i8>),
    /// `[rows * dim]` bucket indices.
    Uint8(Vec<u8>),
    /// `[rows * ((dim + 7) / 8)]` packed sign bits minus 128.
    Binary(Vec<i8>),
    /// `[rows * ((dim + 7) / 8)]` packed sign bits.
    Ubinary(Vec<u8>),
}

impl QuantizedValues {
    /// The precision these values are in.
    pub fn precision(&self) -> Precision {
        match self {
            Self::Float32(_) => Precision::Float32,
            Self::Int8(_) => Precision::Int8,
            Self::Uint8(_) => Precision::Uint8,
            Self::Binary(_) => Precision::Binary,
            Self::Ubinary(_) => Precision::Ubinary,
        }
    }

    /// Number of stored values (or bytes).
    pub fn len(&self) -> usize {
        match self {
            Self::Float32(v) => v.len(),
            Self::Int8(v) | Self::Binary(v) => v.len(),
            Self::Uint8(v) | Self::Ubinary(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each stored value as `f32`, in order (packed bytes as bytes, not unpacked).
    fn to_f32(&self) -> Vec<f32> {
        match self {
            Self::Float32(v) => v.clone(),
            Self::Int8(v) | Self::Binary(v) => v.iter().map(|&x| f32::from(x)).collect(),
            Self::Uint8(v) | Self::Ubinary(v) => v.iter().map(|&x| f32::from(x)).collect(),
        }
    }
}

/// A `[rows, dim]` matrix of embeddings quantized to one [`Precision`].
///
/// # Shapes
/// values: `[rows * precision.quantized_dim(dim)]`, row-major
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedEmbeddings {
    rows: usize,
    dim: usize,
    values: QuantizedValues,
}

impl QuantizedEmbeddings {
    /// Wraps quantized values (e.g. read back from disk) of `rows` embeddings of `dim`
    /// dimensions before quantization.
    ///
    /// Errors when `dim` is zero or `values` does not hold `rows * quantized_dim(dim)` values.
    pub fn new(rows: usize, dim: usize, values: QuantizedValues) -> Result<Self> {
        if dim == 0 {
            return Err(Error::ZeroDim { rows });
        }
        let width = values.precision().quantized_dim(dim);
        let expected = rows as u128 * width as u128;
        if values.len() as u128 != expected {
            return Err(Error::BufferShape {
                len: values.len(),
                rows,
                dim: width,
                expected,
            });
        }
        Ok(Self { rows, dim, values })
    }

    /// Number of embeddings (rows).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Embedding dimension before quantization.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Values (or packed bytes) per row: [`Precision::quantized_dim`] of [`Self::dim`].
    pub fn quantized_dim(&self) -> usize {
        self.precision().quantized_dim(self.dim)
    }

    pub fn precision(&self) -> Precision {
        self.values.precision()
    }

    pub fn values(&self) -> &QuantizedValues {
        &self.values
    }

    pub fn into_values(self) -> QuantizedValues {
        self.values
    }

    /// Columns of [`Self::to_float_view`]: `dim`, or for binary and ubinary `8 * bytes per
    /// row`, the padded width `np.unpackbits` restores.
    pub fn float_view_dim(&self) -> usize {
        match self.precision() {
            Precision::Float32 | Precision::Int8 | Precision::Uint8 => self.dim,
            Precision::Binary | Precision::Ubinary => 8 * self.quantized_dim(),
        }
    }

    /// The `f32` matrix `EmbeddingSimilarityEvaluator` scores quantized embeddings on:
    /// float32 values unchanged, int8/uint8 values as numbers (no dequantization), and
    /// binary/ubinary bytes unpacked to 0/1 bits, most significant first, padding bits
    /// included (`np.unpackbits(…, axis=1).astype(np.float32)`, after binary's `+ 128`).
    ///
    /// # Shapes
    /// `[rows * self.float_view_dim()]`, row-major
    pub fn to_float_view(&self) -> Vec<f32> {
        let unpack = |bytes: &mut dyn Iterator<Item = u8>| -> Vec<f32> {
            bytes
                .flat_map(|byte| (0..8).rev().map(move |bit| f32::from((byte >> bit) & 1)))
                .collect()
        };
        match &self.values {
            QuantizedValues::Binary(v) => unpack(&mut v.iter().map(|&b| signed_to_unsigned(b))),
            QuantizedValues::Ubinary(v) => unpack(&mut v.iter().copied()),
            other => other.to_f32(),
        }
    }
}

/// Quantizes `embeddings` to `precision`, bit for bit as sentence-transformers 6.3's
/// `quantize_embeddings(embeddings, precision, ranges=ranges)`.
///
/// `ranges` is used by int8/uint8 only: `None` computes them from `embeddings` themselves
/// ([`QuantizationRanges::from_embeddings`], which needs 2 rows); to calibrate on other
/// embeddings (`calibration_embeddings=` in Python) pass
/// `QuantizationRanges::from_embeddings(calibration)`. Keep the ranges to [`dequantize`].
///
/// Zero rows give an empty result of the right width, with no ranges needed (as Python;
/// ranges that are given are still checked against `dim`, which Python skips).
///
/// # Shapes
/// embeddings: `[rows, dim]` → `[rows, precision.quantized_dim(dim)]`
///
/// Errors on a NaN or infinite value (naming its row), on int8/uint8 ranges whose width is
/// not `dim` (naming both), and as [`QuantizationRanges::from_embeddings`] when ranges must
/// be computed.
pub fn quantize_embeddings(
    embeddings: Embeddings<'_>,
    precision: Precision,
    ranges: Option<&QuantizationRanges>,
) -> Result<QuantizedEmbeddings> {
    embeddings.check_finite("embeddings")?;
    let (rows, dim) = (embeddings.rows(), embeddings.dim());
    let values = match precision {
        Precision::Float32 => QuantizedValues::Float32(embeddings.as_slice().to_vec()),
        Precision::Int8 | Precision::Uint8 => {
            let buckets = match ranges {
                Some(ranges) => {
                    ranges.check_dim(dim)?;
                    buckets(embeddings, ranges)
                }
                None if rows == 0 => Vec::new(),
                None => buckets(
                    embeddings,
                    &QuantizationRanges::from_embeddings(embeddings)?,
                ),
            };
            if precision == Precision::Uint8 {
                QuantizedValues::Uint8(buckets)
            } else {
                QuantizedValues::Int8(buckets.into_iter().map(unsigned_to_signed).collect())
            }
        }
        Precision::Binary | Precision::Ubinary => {
            let packed = pack_signs(embeddings);
            if precision == Precision::Ubinary {
                QuantizedValues::Ubinary(packed)
            } else {
                QuantizedValues::Binary(packed.into_iter().map(unsigned_to_signed).collect())
            }
        }
    };
    tracing::debug!(rows, dim, %precision, "quantized embeddings");
    Ok(QuantizedEmbeddings { rows, dim, values })
}

/// Maps int8/uint8 embeddings back to float coordinates (the low end of each bucket), as
/// sentence-transformers' `_dequantize_embeddings(embeddings, precision, ranges)` does before
/// rescoring: `q * step + min` (int8: `(q + 128) * step + min`), computed in `f64` from the
/// `f32` steps and minima, so the result is Python's float64 array bit for bit.
///
/// `ranges` must be those the embeddings were quantized with.
///
/// # Shapes
/// embeddings: `[rows, dim]` (int8 or uint8), ranges of `dim` → `[rows * dim]` in `f64`
///
/// Errors on other precisions and on ranges of another width (naming both widths).
pub fn dequantize(
    embeddings: &QuantizedEmbeddings,
    ranges: &QuantizationRanges,
) -> Result<Vec<f64>> {
    let buckets: Vec<f64> = match embeddings.values() {
        QuantizedValues::Uint8(v) => v.iter().map(|&q| f64::from(q)).collect(),
        QuantizedValues::Int8(v) => v
            .iter()
            .map(|&q| f64::from(q) + f64::from(SIGNED_OFFSET))
            .collect(),
        other => {
            return Err(Error::NotScalarQuantized {
                precision: other.precision(),
            })
        }
    };
    ranges.check_dim(embeddings.dim())?;
    let steps = ranges.steps();
    // Ranges are never empty; the guard keeps `chunks_exact` from panicking regardless.
    if steps.is_empty() {
        return Ok(Vec::new());
    }
    Ok(buckets
        .chunks_exact(steps.len())
        .flat_map(|row| {
            row.iter()
                .zip(&steps)
                .zip(ranges.min())
                .map(|((&q, &step), &lo)| q * f64::from(step) + f64::from(lo))
        })
        .collect())
}

/// Evaluates paired embeddings at `precision` as sentence-transformers'
/// `EmbeddingSimilarityEvaluator(…, similarity_fn_names=["cosine", "euclidean", "manhattan",
/// "dot"], precision=precision)` does (see [`evaluate_sts`]), given the embeddings that
/// evaluator encodes: L2-normalised, which the caller must do (`encode` normalises whenever a
/// precision is set).
///
/// int8/uint8 quantize `embeddings1` and `embeddings2` together (their rows stacked, so
/// both share ranges computed from all of them, as the evaluator's single `encode` call of
/// `sentences1 + sentences2`); binary/ubinary quantize each on its own. The similarities are
/// then computed on [`QuantizedEmbeddings::to_float_view`].
///
/// # Shapes
/// embeddings1, embeddings2: `[n, dim]`; scores: `[n]`; `n >= 2`
///
/// Errors as [`evaluate_sts`], checked before quantizing, and as [`quantize_embeddings`].
pub fn evaluate_sts_at_precision(
    embeddings1: Embeddings<'_>,
    embeddings2: Embeddings<'_>,
    scores: &[f64],
    precision: Precision,
) -> Result<StsMetrics> {
    validate_sts_inputs(embeddings1, embeddings2, scores)?;
    let (view1, view2, view_dim) = match precision {
        Precision::Float32 => return evaluate_sts(embeddings1, embeddings2, scores),
        Precision::Int8 | Precision::Uint8 => {
            let stacked = [embeddings1.as_slice(), embeddings2.as_slice()].concat();
            let rows = embeddings1.rows() + embeddings2.rows();
            let both = Embeddings::new(&stacked, rows, embeddings1.dim())?;
            let quantized = quantize_embeddings(both, precision, None)?;
            let mut view1 = quantized.to_float_view();
            let view2 = view1.split_off(embeddings1.rows() * quantized.float_view_dim());
            (view1, view2, quantized.float_view_dim())
        }
        Precision::Binary | Precision::Ubinary => {
            let q1 = quantize_embeddings(embeddings1, precision, None)?;
            let q2 = quantize_embeddings(embeddings2, precision, None)?;
            (q1.to_float_view(), q2.to_float_view(), q1.float_view_dim())
        }
    };
    let metrics = evaluate_sts(
        Embeddings::new(&view1, embeddings1.rows(), view_dim)?,
        Embeddings::new(&view2, embeddings2.rows(), view_dim)?,
        scores,
    )?;
    tracing::debug!(%precision, "sts evaluation at precision");
    Ok(metrics)
}

/// Each value's uint8 bucket: `clip(floor((x - min) / step), 0, 255)`, every operation in
/// `f32` as numpy does it, so values on or next to a bucket edge round as in Python.
fn buckets(embeddings: Embeddings<'_>, ranges: &QuantizationRanges) -> Vec<u8> {
    let steps = ranges.steps();
    embeddings
        .iter_rows()
        .flat_map(|row| {
            row.iter()
                .zip(ranges.min())
                .zip(&steps)
                .map(|((&x, &lo), &step)| {
                    // Finite inputs and a finite range width keep this from being NaN, and
                    // the clamp makes the cast exact.
                    ((x - lo) / step).floor().clamp(0.0, TOP_BUCKET) as u8
                })
        })
        .collect()
}

/// `np.packbits(x > 0, axis=-1)`: 8 sign bits per byte, most significant first, the last
/// byte of each row zero-padded.
fn pack_signs(embeddings: Embeddings<'_>) -> Vec<u8> {
    embeddings
        .iter_rows()
        .flat_map(|row| {
            row.chunks(8).map(|chunk| {
                chunk
                    .iter()
                    .enumerate()
                    .filter(|(_, &x)| x > 0.0)
                    .fold(0u8, |byte, (i, _)| byte | (0x80 >> i))
            })
        })
        .collect()
}

/// `u - 128` as `i8` (int8 from a uint8 bucket, binary from a ubinary byte).
fn unsigned_to_signed(u: u8) -> i8 {
    // `u - 128` lies in -128..=127, so the cast is exact.
    (i16::from(u) - SIGNED_OFFSET) as i8
}

/// `s + 128` as `u8`, the inverse of [`unsigned_to_signed`].
fn signed_to_unsigned(s: i8) -> u8 {
    // `s + 128` lies in 0..=255, so the cast is exact.
    (i16::from(s) + SIGNED_OFFSET) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emb(data: &[f32], rows: usize) -> Embeddings<'_> {
        Embeddings::new(data, rows, data.len() / rows.max(1)).unwrap()
    }

    #[test]
    fn precision_names_round_trip() {
        for p in Precision::ALL {
            assert_eq!(p.to_string().parse::<Precision>().unwrap(), p);
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.name()));
            assert_eq!(serde_json::from_str::<Precision>(&json).unwrap(), p);
        }
    }

    #[test]
    fn unknown_precision_lists_the_five_names() {
        let err = "float16".parse::<Precision>().unwrap_err().to_string();
        assert!(err.contains("\"float16\""), "{err}");
        for p in Precision::ALL {
            assert!(err.contains(p.name()), "{err}");
        }
        // Names are exact, as in Python.
        assert!("INT8".parse::<Precision>().is_err());
    }

    #[test]
    fn quantized_dim_packs_eight_per_byte() {
        assert_eq!(Precision::Binary.quantized_dim(13), 2);
        assert_eq!(Precision::Ubinary.quantized_dim(16), 2);
        assert_eq!(Precision::Ubinary.quantized_dim(17), 3);
        assert_eq!(Precision::Int8.quantized_dim(13), 13);
    }

    #[test]
    fn single_row_without_ranges_is_refused() {
        let data = [0.5, -0.5, 1.0];
        for p in [Precision::Int8, Precision::Uint8] {
            let err = quantize_embeddings(emb(&data, 1), p, None)
                .unwrap_err()
                .to_string();
            assert!(err.contains("need at least 2 embeddings, got 1"), "{err}");
        }
        // With ranges, or for precisions without ranges, one row is fine.
        let ranges = QuantizationRanges::new(vec![-1.0; 3], vec![1.0; 3]).unwrap();
        assert!(quantize_embeddings(emb(&data, 1), Precision::Int8, Some(&ranges)).is_ok());
        assert!(quantize_embeddings(emb(&data, 1), Precision::Binary, None).is_ok());
    }

    #[test]
    fn zero_rows_give_empty_output_of_the_right_width() {
        for p in Precision::ALL {
            let e = Embeddings::new(&[], 0, 13).unwrap();
            let q = quantize_embeddings(e, p, None).unwrap();
            assert_eq!((q.rows(), q.dim(), q.values().len()), (0, 13, 0));
            assert_eq!(q.quantized_dim(), p.quantized_dim(13));
            assert!(q.to_float_view().is_empty());
        }
        assert!(QuantizationRanges::from_embeddings(Embeddings::new(&[], 0, 3).unwrap()).is_err());
    }

    #[test]
    fn ranges_of_the_wrong_width_name_both_widths() {
        let data = [0.0; 6];
        let ranges = QuantizationRanges::new(vec![0.0; 2], vec![1.0; 2]).unwrap();
        let err = quantize_embeddings(emb(&data, 2), Precision::Uint8, Some(&ranges))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "quantization ranges have dim 2 but the embeddings have dim 3"
        );
        let q = quantize_embeddings(emb(&data, 2), Precision::Uint8, None).unwrap();
        let err = dequantize(&q, &ranges).unwrap_err().to_string();
        assert!(err.contains("dim 2") && err.contains("dim 3"), "{err}");
    }

    #[test]
    fn nan_names_its_row() {
        let mut data = [0.0f32; 12];
        data[7] = f32::NAN;
        for p in Precision::ALL {
            let err = quantize_embeddings(emb(&data, 4), p, None)
                .unwrap_err()
                .to_string();
            assert_eq!(err, "embeddings has a non-finite value NaN at row 2");
        }
        let err = QuantizationRanges::from_embeddings(emb(&data, 4))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "calibration embeddings has a non-finite value NaN at row 2"
        );
    }

    #[test]
    fn invalid_ranges_name_the_dimension() {
        let err = QuantizationRanges::new(vec![0.0, 2.0, 0.0], vec![1.0, 1.0, 1.0])
            .unwrap_err()
            .to_string();
        assert_eq!(err, "quantization range of dimension 1 has min 2 > max 1");
        let err = QuantizationRanges::new(vec![0.0, 0.0], vec![1.0, f32::INFINITY])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "quantization range max of dimension 1 is not finite: inf"
        );
        let err = QuantizationRanges::new(vec![-3e38], vec![3e38])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("quantization range of dimension 0 spans"),
            "{err}"
        );
        let err = QuantizationRanges::new(vec![0.0; 2], vec![1.0; 3])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "quantization ranges differ in length: min has 2 values, max has 3"
        );
        assert!(QuantizationRanges::new(vec![], vec![]).is_err());
    }

    #[test]
    fn ranges_deserialize_through_validation() {
        let r: QuantizationRanges = serde_json::from_str(r#"{"min":[0,1],"max":[1,1]}"#).unwrap();
        assert_eq!(
            (r.min(), r.max(), r.dim()),
            (&[0.0, 1.0][..], &[1.0, 1.0][..], 2)
        );
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"min":[0.0,1.0],"max":[1.0,1.0]}"#
        );
        let err = serde_json::from_str::<QuantizationRanges>(r#"{"min":[2],"max":[1]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("dimension 0 has min 2 > max 1"), "{err}");
    }

    #[test]
    fn buckets_follow_numpy() {
        // min 0, max 255: step 1, so values are their own buckets; outside values clip.
        let ranges = QuantizationRanges::new(vec![0.0, -1.0], vec![255.0, -1.0]).unwrap();
        let data = [0.0, -1.0, 3.999, -0.5, 255.0, 2.5, -7.0, 300.0];
        let q = quantize_embeddings(emb(&data, 4), Precision::Uint8, Some(&ranges)).unwrap();
        // Dimension 1 has zero width: step 1, so floor(x + 1) clipped.
        assert_eq!(
            q.values(),
            &QuantizedValues::Uint8(vec![0, 0, 3, 0, 255, 3, 0, 255])
        );
        let q = quantize_embeddings(emb(&data, 4), Precision::Int8, Some(&ranges)).unwrap();
        assert_eq!(
            q.values(),
            &QuantizedValues::Int8(vec![-128, -128, -125, -128, 127, -125, -128, 127])
        );
        assert_eq!(
            dequantize(&q, &ranges).unwrap(),
            [0.0, -1.0, 3.0, -1.0, 255.0, 2.0, 0.0, 254.0]
        );
    }

    #[test]
    fn binary_packs_sign_bits_msb_first() {
        let mut data = [0.0f32; 10];
        data[0] = 1.0; // bit 7 of byte 0
        data[7] = 0.1; // bit 0 of byte 0
        data[8] = 2.0; // bit 7 of byte 1; bits 0..=5 of byte 1 are padding
        data[9] = -0.0; // not > 0
        let q = quantize_embeddings(emb(&data, 1), Precision::Ubinary, None).unwrap();
        assert_eq!(
            q.values(),
            &QuantizedValues::Ubinary(vec![0b1000_0001, 0b1000_0000])
        );
        assert_eq!(q.float_view_dim(), 16);
        let view = q.to_float_view();
        assert_eq!(view.len(), 16);
        assert_eq!(
            &view[..10],
            &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0]
        );
        let b = quantize_embeddings(emb(&data, 1), Precision::Binary, None).unwrap();
        assert_eq!(b.values(), &QuantizedValues::Binary(vec![1, 0]));
        assert_eq!(b.to_float_view(), view);
    }

    #[test]
    fn dequantize_needs_int8_or_uint8() {
        let ranges = QuantizationRanges::new(vec![0.0; 2], vec![1.0; 2]).unwrap();
        let q = quantize_embeddings(emb(&[0.5, -0.5], 1), Precision::Binary, None).unwrap();
        let err = dequantize(&q, &ranges).unwrap_err().to_string();
        assert_eq!(
            err,
            "dequantization needs int8 or uint8 embeddings, got binary"
        );
    }

    #[test]
    fn new_checks_the_buffer_length() {
        let err = QuantizedEmbeddings::new(2, 13, QuantizedValues::Ubinary(vec![0; 3]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("rows * dim = 2 * 2 = 4"), "{err}");
        assert!(QuantizedEmbeddings::new(2, 13, QuantizedValues::Binary(vec![0; 4])).is_ok());
        assert!(QuantizedEmbeddings::new(0, 0, QuantizedValues::Int8(vec![])).is_err());
    }

    #[test]
    fn sts_at_precision_checks_inputs_before_quantizing() {
        let a = [1.0, 0.0, 0.0, 1.0, 0.6, 0.8];
        // One pair: the STS error, not the single-row calibration error.
        let err =
            evaluate_sts_at_precision(emb(&a[..2], 1), emb(&a[2..4], 1), &[1.0], Precision::Int8)
                .unwrap_err()
                .to_string();
        assert_eq!(err, "sts evaluation needs at least 2 pairs, got 1");
        let mut b = a;
        b[3] = f32::NAN;
        let err =
            evaluate_sts_at_precision(emb(&a, 3), emb(&b, 3), &[1.0, 0.0, 0.5], Precision::Uint8)
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("embeddings2 has a non-finite value NaN at row 1"),
            "{err}"
        );
    }
}
