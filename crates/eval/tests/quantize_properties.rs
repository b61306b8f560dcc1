//! Invariants of embedding quantization.

use eval::{
    dequantize, evaluate_sts, evaluate_sts_at_precision, quantize_embeddings, Embeddings,
    Precision, QuantizationRanges, QuantizedValues,
};
use proptest::prelude::*;

/// Finite values with plenty of zeros (of both signs), ties and bucket-edge-like integers.
fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        -2.0f32..2.0,
        Just(0.0f32),
        Just(-0.0f32),
        (-4i8..4).prop_map(f32::from),
        (-1e3f32..1e3),
    ]
}

/// A `[rows, dim]` matrix with `rows in 2..24`, `dim in 1..20`, as `(data, rows, dim)`.
fn matrix() -> impl Strategy<Value = (Vec<f32>, usize, usize)> {
    (2usize..24, 1usize..20).prop_flat_map(|(rows, dim)| {
        prop::collection::vec(value(), rows * dim).prop_map(move |data| (data, rows, dim))
    })
}

fn quantized(
    e: Embeddings<'_>,
    precision: Precision,
    ranges: Option<&QuantizationRanges>,
) -> QuantizedValues {
    quantize_embeddings(e, precision, ranges)
        .unwrap()
        .into_values()
}

proptest! {
    #[test]
    fn uint8_is_int8_plus_128((data, rows, dim) in matrix()) {
        let e = Embeddings::new(&data, rows, dim).unwrap();
        let (QuantizedValues::Int8(i), QuantizedValues::Uint8(u)) =
            (quantized(e, Precision::Int8, None), quantized(e, Precision::Uint8, None))
        else {
            unreachable!()
        };
        prop_assert_eq!(i.len(), rows * dim);
        for (i, u) in i.iter().zip(&u) {
            prop_assert_eq!(i16::from(*i) + 128, i16::from(*u));
        }
    }

    #[test]
    fn binary_bytes_are_sign_bits((data, rows, dim) in matrix()) {
        let e = Embeddings::new(&data, rows, dim).unwrap();
        let (QuantizedValues::Binary(b), QuantizedValues::Ubinary(u)) =
            (quantized(e, Precision::Binary, None), quantized(e, Precision::Ubinary, None))
        else {
            unreachable!()
        };
        let bytes = dim.div_ceil(8);
        prop_assert_eq!(u.len(), rows * bytes);
        for (b, u) in b.iter().zip(&u) {
            prop_assert_eq!(i16::from(*b) + 128, i16::from(*u));
        }
        for (r, row) in e.iter_rows().enumerate() {
            for j in 0..8 * bytes {
                let bit = (u[r * bytes + j / 8] >> (7 - j % 8)) & 1 == 1;
                // Padding bits past `dim` are zero.
                prop_assert_eq!(bit, j < dim && row[j] > 0.0, "row {} bit {}", r, j);
            }
        }
    }

    #[test]
    fn float_views_are_values_or_bits((data, rows, dim) in matrix()) {
        let e = Embeddings::new(&data, rows, dim).unwrap();
        for precision in Precision::ALL {
            let q = quantize_embeddings(e, precision, None).unwrap();
            let view = q.to_float_view();
            prop_assert_eq!(view.len(), rows * q.float_view_dim());
            match q.values() {
                QuantizedValues::Float32(v) => prop_assert_eq!(&view, v),
                QuantizedValues::Int8(v) => {
                    prop_assert!(view.iter().zip(v).all(|(f, &i)| *f == f32::from(i)));
                }
                QuantizedValues::Uint8(v) => {
                    prop_assert!(view.iter().zip(v).all(|(f, &u)| *f == f32::from(u)));
                }
                QuantizedValues::Binary(_) | QuantizedValues::Ubinary(_) => {
                    prop_assert_eq!(q.float_view_dim(), 8 * dim.div_ceil(8));
                    prop_assert!(view.iter().all(|&f| f == 0.0 || f == 1.0));
                }
            }
        }
    }

    #[test]
    fn own_ranges_cover_every_value_and_equal_none((data, rows, dim) in matrix()) {
        let e = Embeddings::new(&data, rows, dim).unwrap();
        let ranges = QuantizationRanges::from_embeddings(e).unwrap();
        for row in e.iter_rows() {
            for ((x, lo), hi) in row.iter().zip(ranges.min()).zip(ranges.max()) {
                prop_assert!(lo <= x && x <= hi);
            }
        }
        // Each dimension's minimum attains its bound.
        for (d, lo) in ranges.min().iter().enumerate() {
            prop_assert!(e.iter_rows().any(|row| row[d] == *lo));
        }
        for precision in [Precision::Int8, Precision::Uint8] {
            prop_assert_eq!(
                quantized(e, precision, Some(&ranges)),
                quantized(e, precision, None)
            );
        }
        // The minimum of each dimension lands in bucket 0, a constant dimension entirely.
        let QuantizedValues::Uint8(u) = quantized(e, Precision::Uint8, None) else {
            unreachable!()
        };
        for (i, (&q, &x)) in u.iter().zip(&data).enumerate() {
            let d = i % dim;
            if x == ranges.min()[d] || ranges.min()[d] == ranges.max()[d] {
                prop_assert_eq!(q, 0, "value {} at dimension {}", x, d);
            }
        }
    }

    #[test]
    fn buckets_are_monotone_and_dequantize_to_their_low_edge(
        (data, rows, dim) in matrix(),
        lo in -3.0f32..0.0,
        width in prop_oneof![Just(0.0f32), 0.001f32..6.0],
    ) {
        // Fixed ranges, so values outside them clip.
        let ranges = QuantizationRanges::new(vec![lo; dim], vec![lo + width; dim]).unwrap();
        let e = Embeddings::new(&data, rows, dim).unwrap();
        let q = quantize_embeddings(e, Precision::Uint8, Some(&ranges)).unwrap();
        let QuantizedValues::Uint8(u) = q.values() else { unreachable!() };
        let deq = dequantize(&q, &ranges).unwrap();
        let step = if width == 0.0 { 1.0 } else { f64::from((lo + width - lo) / 255.0) };
        for d in 0..dim {
            let mut column: Vec<(f32, u8, f64)> =
                (0..rows).map(|r| (data[r * dim + d], u[r * dim + d], deq[r * dim + d])).collect();
            column.sort_by(|a, b| a.0.total_cmp(&b.0));
            for w in column.windows(2) {
                prop_assert!(w[0].1 <= w[1].1, "{:?} then {:?}", w[0], w[1]);
            }
            for &(x, q, back) in &column {
                let x = f64::from(x);
                let tol = 1e-5 * (x.abs() + f64::from(lo).abs() + step);
                if q > 0 && q < 255 {
                    // An unclipped value lies in its bucket [back, back + step).
                    prop_assert!(
                        back <= x + tol && x < back + step + tol,
                        "{} in bucket {} starting at {}", x, q, back
                    );
                }
            }
        }
    }

    #[test]
    fn rows_are_quantized_independently_given_ranges((data, rows, dim) in matrix()) {
        let e = Embeddings::new(&data, rows, dim).unwrap();
        let ranges = QuantizationRanges::from_embeddings(e).unwrap();
        for precision in Precision::ALL {
            let whole = quantize_embeddings(e, precision, Some(&ranges)).unwrap();
            let view = whole.to_float_view();
            let width = whole.float_view_dim();
            for (r, row) in e.iter_rows().enumerate() {
                let one = Embeddings::new(row, 1, dim).unwrap();
                let alone = quantize_embeddings(one, precision, Some(&ranges)).unwrap();
                prop_assert_eq!(&alone.to_float_view()[..], &view[r * width..(r + 1) * width]);
            }
        }
    }

    #[test]
    fn float32_sts_is_plain_sts((data, rows, dim) in matrix(), seed in 0u64..1000) {
        let half = rows / 2;
        prop_assume!(half >= 2);
        let a = &data[..half * dim];
        let b = &data[half * dim..2 * half * dim];
        let scores: Vec<f64> = (0..half).map(|i| ((i as u64 * 7919 + seed) % 13) as f64).collect();
        let e1 = Embeddings::new(a, half, dim).unwrap();
        let e2 = Embeddings::new(b, half, dim).unwrap();
        let plain = evaluate_sts(e1, e2, &scores).map_err(|e| e.to_string());
        let at = evaluate_sts_at_precision(e1, e2, &scores, Precision::Float32)
            .map_err(|e| e.to_string());
        prop_assert_eq!(plain, at);
    }
}
