//! The corpus side of a search: the embeddings at their stored precision, and for int8/uint8
//! the ranges they were quantized with, which quantize the queries and dequantize candidates.
//! A binary/ubinary corpus may carry a rescore store: an int8/uint8 copy of the same rows
//! (itself a [`Corpus`], with its ranges) that rescoring dequantizes instead of the bits.

use eval::{
    quantize_embeddings, Embeddings, Precision, QuantizationRanges, QuantizedEmbeddings,
    QuantizedValues,
};

use crate::error::{Error, Result};

/// Stored corpus embeddings: `[rows, dim]` at one [`Precision`], never empty, with the
/// int8/uint8 ranges (exactly for those precisions), and for binary/ubinary an optional
/// int8/uint8 rescore store of the same rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Corpus {
    embeddings: QuantizedEmbeddings,
    ranges: Option<QuantizationRanges>,
    rescore_store: Option<Box<Corpus>>,
}

impl Corpus {
    /// Wraps quantized embeddings (e.g. read back from an index folder) and their ranges.
    ///
    /// Errors on an empty corpus, on int8/uint8 without ranges or with ranges of another
    /// width, and on ranges given for another precision.
    pub fn new(
        embeddings: QuantizedEmbeddings,
        ranges: Option<QuantizationRanges>,
    ) -> Result<Corpus> {
        if embeddings.rows() == 0 {
            return Err(Error::EmptyCorpus);
        }
        let precision = embeddings.precision();
        match (&ranges, precision.uses_ranges()) {
            (None, true) => {
                return Err(Error::param(
                    "ranges",
                    format!("a {precision} corpus needs the ranges it was quantized with"),
                ))
            }
            (Some(_), false) => {
                return Err(Error::param(
                    "ranges",
                    format!("apply to int8 and uint8 only, not {precision}"),
                ))
            }
            (Some(r), true) if r.dim() != embeddings.dim() => {
                return Err(Error::param(
                    "ranges",
                    format!(
                        "are {} values wide but the embeddings have dim {}",
                        r.dim(),
                        embeddings.dim()
                    ),
                ))
            }
            _ => {}
        }
        Ok(Corpus {
            embeddings,
            ranges,
            rescore_store: None,
        })
    }

    /// Adds `store`, an int8/uint8 copy of this binary/ubinary corpus (same rows, same dim),
    /// which rescoring dequantizes instead of unpacking the bits.
    pub fn with_rescore_store(mut self, store: Corpus) -> Result<Corpus> {
        let precision = self.precision();
        if !matches!(precision, Precision::Binary | Precision::Ubinary) {
            return Err(Error::param(
                "rescore_store",
                format!("applies to binary and ubinary corpora only, not {precision}"),
            ));
        }
        if !store.precision().uses_ranges() {
            return Err(Error::param(
                "rescore_store",
                format!("must be int8 or uint8, not {}", store.precision()),
            ));
        }
        if (store.rows(), store.dim()) != (self.rows(), self.dim()) {
            return Err(Error::param(
                "rescore_store",
                format!(
                    "holds [{}, {}] but the corpus is [{}, {}]",
                    store.rows(),
                    store.dim(),
                    self.rows(),
                    self.dim()
                ),
            ));
        }
        self.rescore_store = Some(Box::new(store));
        Ok(self)
    }

    /// The int8/uint8 copy rescoring reads, when the corpus has one.
    pub fn rescore_store(&self) -> Option<&Corpus> {
        self.rescore_store.as_deref()
    }

    /// This corpus without its rescore store (rescoring then unpacks the bits).
    pub fn without_rescore_store(mut self) -> Corpus {
        self.rescore_store = None;
        self
    }

    /// Quantizes float embeddings to `precision`, as `quantize_embeddings` does; int8/uint8
    /// use `ranges`, or without them the per-dimension minima and maxima of `embeddings`.
    ///
    /// # Shapes
    /// embeddings: `[rows, dim]`, `rows >= 1` (2 when int8/uint8 ranges are computed)
    pub fn quantize_from(
        embeddings: Embeddings<'_>,
        precision: Precision,
        ranges: Option<QuantizationRanges>,
    ) -> Result<Corpus> {
        if embeddings.rows() == 0 {
            return Err(Error::EmptyCorpus);
        }
        let ranges = match (ranges, precision.uses_ranges()) {
            (Some(r), true) => Some(r),
            (None, true) => Some(QuantizationRanges::from_embeddings(embeddings).map_err(
                Error::quantize(format!(
                    "compute {precision} ranges from the corpus embeddings"
                )),
            )?),
            (Some(_), false) => {
                return Err(Error::param(
                    "ranges",
                    format!("apply to int8 and uint8 only, not {precision}"),
                ))
            }
            (None, false) => None,
        };
        let quantized = quantize_embeddings(embeddings, precision, ranges.as_ref()).map_err(
            Error::quantize(format!("quantize the corpus to {precision}")),
        )?;
        Corpus::new(quantized, ranges)
    }

    /// `queries` quantized as the corpus was (the same ranges for int8/uint8); float32 queries
    /// are copied unchanged.
    pub fn quantize(&self, queries: Embeddings<'_>) -> Result<QuantizedEmbeddings> {
        self.quantize_as(queries, "query embeddings")
    }

    fn quantize_as(
        &self,
        embeddings: Embeddings<'_>,
        input: &'static str,
    ) -> Result<QuantizedEmbeddings> {
        if embeddings.dim() != self.dim() {
            return Err(Error::EmbeddingShape {
                input,
                shape: vec![embeddings.rows() as i64, embeddings.dim() as i64],
                expected: format!("dim {} like the corpus", self.dim()),
            });
        }
        quantize_embeddings(embeddings, self.precision(), self.ranges.as_ref()).map_err(
            Error::quantize(format!("quantize the {input} to {}", self.precision())),
        )
    }

    /// Appends `more` float embeddings, quantized with this corpus' ranges (never recomputed),
    /// to the embeddings and to the rescore store (with its own ranges).
    pub fn append(&mut self, more: Embeddings<'_>) -> Result<()> {
        if let Some(store) = &mut self.rescore_store {
            // Checked first, so that a failure leaves both unchanged.
            if more.dim() != store.dim() {
                return Err(Error::EmbeddingShape {
                    input: "appended embeddings",
                    shape: vec![more.rows() as i64, more.dim() as i64],
                    expected: format!("dim {} like the corpus", store.dim()),
                });
            }
        }
        let added = self.quantize_as(more, "appended embeddings")?;
        let rows = self.rows() + added.rows();
        let values = match (self.embeddings.values().clone(), added.into_values()) {
            (QuantizedValues::Float32(mut a), QuantizedValues::Float32(b)) => {
                a.extend(b);
                QuantizedValues::Float32(a)
            }
            (QuantizedValues::Int8(mut a), QuantizedValues::Int8(b)) => {
                a.extend(b);
                QuantizedValues::Int8(a)
            }
            (QuantizedValues::Uint8(mut a), QuantizedValues::Uint8(b)) => {
                a.extend(b);
                QuantizedValues::Uint8(a)
            }
            (QuantizedValues::Binary(mut a), QuantizedValues::Binary(b)) => {
                a.extend(b);
                QuantizedValues::Binary(a)
            }
            (QuantizedValues::Ubinary(mut a), QuantizedValues::Ubinary(b)) => {
                a.extend(b);
                QuantizedValues::Ubinary(a)
            }
            (a, b) => {
                return Err(Error::param(
                    "embeddings",
                    format!(
                        "cannot append {} values to a {} corpus",
                        b.precision(),
                        a.precision()
                    ),
                ))
            }
        };
        let embeddings = QuantizedEmbeddings::new(rows, self.dim(), values)
            .map_err(Error::quantize("append to the corpus"))?;
        if let Some(store) = &mut self.rescore_store {
            store.append(more)?;
        }
        self.embeddings = embeddings;
        Ok(())
    }

    pub fn embeddings(&self) -> &QuantizedEmbeddings {
        &self.embeddings
    }

    pub fn ranges(&self) -> Option<&QuantizationRanges> {
        self.ranges.as_ref()
    }

    pub fn precision(&self) -> Precision {
        self.embeddings.precision()
    }

    /// The embedding dimension before quantization.
    pub fn dim(&self) -> usize {
        self.embeddings.dim()
    }

    pub fn rows(&self) -> usize {
        self.embeddings.rows()
    }

    /// The embeddings of `rows`, in that order, at the corpus' precision.
    pub(crate) fn select_rows(&self, rows: &[usize]) -> Result<QuantizedEmbeddings> {
        let width = self.embeddings.quantized_dim();
        fn pick<T: Copy>(values: &[T], rows: &[usize], width: usize) -> Vec<T> {
            rows.iter()
                .flat_map(|&r| values[r * width..(r + 1) * width].iter().copied())
                .collect()
        }
        if let Some(&bad) = rows.iter().find(|&&r| r >= self.rows()) {
            return Err(Error::param(
                "rows",
                format!("row {bad} is past the corpus' {} rows", self.rows()),
            ));
        }
        let values = match self.embeddings.values() {
            QuantizedValues::Float32(v) => QuantizedValues::Float32(pick(v, rows, width)),
            QuantizedValues::Int8(v) => QuantizedValues::Int8(pick(v, rows, width)),
            QuantizedValues::Uint8(v) => QuantizedValues::Uint8(pick(v, rows, width)),
            QuantizedValues::Binary(v) => QuantizedValues::Binary(pick(v, rows, width)),
            QuantizedValues::Ubinary(v) => QuantizedValues::Ubinary(pick(v, rows, width)),
        };
        QuantizedEmbeddings::new(rows.len(), self.dim(), values)
            .map_err(Error::quantize("select corpus rows"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_keeps_the_ranges_and_quantizes_with_them() {
        let data = [0.0, 1.0, 1.0, 0.0, 0.5, 0.5];
        let e = Embeddings::new(&data, 3, 2).unwrap();
        let mut c = Corpus::quantize_from(e, Precision::Uint8, None).unwrap();
        let ranges = c.ranges().cloned();
        // Outside the ranges: clipped, not re-calibrated.
        let more = [2.0, -1.0];
        c.append(Embeddings::new(&more, 1, 2).unwrap()).unwrap();
        assert_eq!(c.ranges().cloned(), ranges);
        assert_eq!(c.rows(), 4);
        // A maximum lands in bucket 254, as in numpy: (1 - 0) / (1 / 255) is 254.99998 in f32.
        assert_eq!(
            c.embeddings().values(),
            &QuantizedValues::Uint8(vec![0, 254, 254, 0, 127, 127, 255, 0])
        );
        let picked = c.select_rows(&[3, 0]).unwrap();
        assert_eq!(
            picked.values(),
            &QuantizedValues::Uint8(vec![255, 0, 0, 254])
        );
        assert!(c.select_rows(&[4]).is_err());
    }

    #[test]
    fn empty_corpora_and_misplaced_ranges_are_refused() {
        let e = Embeddings::new(&[], 0, 2).unwrap();
        assert!(matches!(
            Corpus::quantize_from(e, Precision::Float32, None),
            Err(Error::EmptyCorpus)
        ));
        let r = QuantizationRanges::new(vec![0.0; 2], vec![1.0; 2]).unwrap();
        let e = Embeddings::new(&[0.5, 0.5], 1, 2).unwrap();
        let err = Corpus::quantize_from(e, Precision::Binary, Some(r))
            .unwrap_err()
            .to_string();
        assert!(err.contains("binary"), "{err}");
    }
}
