//! Invariants of the correlation coefficients and ranks.

use eval::{average_ranks, pearson, spearman};
use proptest::prelude::*;

/// Values with plenty of ties: small integers scaled, some negative.
fn tied_values() -> impl Strategy<Value = f64> {
    (
        -20i32..20,
        prop_oneof![Just(1.0), Just(0.5), Just(0.01), Just(1e3)],
    )
        .prop_map(|(k, scale)| f64::from(k) * scale)
}

/// Tied or continuous values.
fn values() -> impl Strategy<Value = f64> {
    prop_oneof![tied_values(), -1e3f64..1e3]
}

fn is_constant(x: &[f64]) -> bool {
    x.iter().all(|&v| v == x[0])
}

/// `n >= 2` pairs where neither side is constant.
fn pairs() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
    (2usize..60)
        .prop_flat_map(|n| {
            (
                prop::collection::vec(values(), n),
                prop::collection::vec(values(), n),
            )
        })
        .prop_filter("constant input", |(x, y)| {
            !is_constant(x) && !is_constant(y)
        })
}

fn non_constant() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(values(), 2..60).prop_filter("constant input", |x| !is_constant(x))
}

proptest! {
    #[test]
    fn correlations_lie_in_unit_interval((x, y) in pairs()) {
        let p = pearson(&x, &y).unwrap();
        let s = spearman(&x, &y).unwrap();
        prop_assert!((-1.0..=1.0).contains(&p), "pearson {}", p);
        prop_assert!((-1.0..=1.0).contains(&s), "spearman {}", s);
    }

    #[test]
    fn spearman_is_invariant_under_increasing_transforms((x, y) in pairs()) {
        let s = spearman(&x, &y).unwrap();
        let affine: Vec<f64> = x.iter().map(|v| 3.0 * v + 7.0).collect();
        // exp is strictly increasing, but may merge values below f64 resolution; use a
        // bounded input so it stays injective on these values.
        let exp: Vec<f64> = x.iter().map(|v| (v / 1e3).exp()).collect();
        let cube: Vec<f64> = x.iter().map(|v| v.powi(3)).collect();
        for t in [&affine, &exp, &cube] {
            let st = spearman(t, &y).unwrap();
            prop_assert!((st - s).abs() < 1e-12, "{} != {}", st, s);
        }
    }

    #[test]
    fn pearson_of_x_with_itself_is_one(x in non_constant()) {
        let r = pearson(&x, &x).unwrap();
        prop_assert!((r - 1.0).abs() < 1e-12, "{}", r);
        let negated: Vec<f64> = x.iter().map(|v| -v).collect();
        let r = pearson(&x, &negated).unwrap();
        prop_assert!((r + 1.0).abs() < 1e-12, "{}", r);
    }

    #[test]
    fn correlations_are_symmetric((x, y) in pairs()) {
        prop_assert_eq!(pearson(&x, &y).unwrap(), pearson(&y, &x).unwrap());
        prop_assert_eq!(spearman(&x, &y).unwrap(), spearman(&y, &x).unwrap());
    }

    #[test]
    fn spearman_is_pearson_of_average_ranks((x, y) in pairs()) {
        let rx = average_ranks(&x).unwrap();
        let ry = average_ranks(&y).unwrap();
        prop_assert_eq!(spearman(&x, &y).unwrap(), pearson(&rx, &ry).unwrap());
    }

    #[test]
    fn ranks_sum_to_triangular_number(x in prop::collection::vec(values(), 0..100)) {
        let n = x.len() as f64;
        let ranks = average_ranks(&x).unwrap();
        prop_assert_eq!(ranks.iter().sum::<f64>(), n * (n + 1.0) / 2.0);
        // tied values share a rank; a larger value has a larger rank
        for i in 0..x.len() {
            for j in 0..x.len() {
                prop_assert_eq!(x[i] == x[j], ranks[i] == ranks[j]);
                prop_assert_eq!(x[i] < x[j], ranks[i] < ranks[j]);
            }
        }
    }

    #[test]
    fn permuting_pairs_together_changes_nothing(
        ((x, y), seed) in (pairs(), any::<u64>())
    ) {
        // Fisher–Yates with a tiny LCG so the permutation depends only on `seed`.
        let mut order: Vec<usize> = (0..x.len()).collect();
        let mut state = seed;
        for i in (1..order.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            order.swap(i, (state >> 33) as usize % (i + 1));
        }
        let px: Vec<f64> = order.iter().map(|&i| x[i]).collect();
        let py: Vec<f64> = order.iter().map(|&i| y[i]).collect();
        let (p, s) = (pearson(&x, &y).unwrap(), spearman(&x, &y).unwrap());
        // summation order changes rounding only
        prop_assert!((pearson(&px, &py).unwrap() - p).abs() < 1e-12);
        prop_assert!((spearman(&px, &py).unwrap() - s).abs() < 1e-12);
    }
}
