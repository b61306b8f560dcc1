//! Random unit vectors from a seed, without a random-number crate: splitmix64 and the
//! Box-Muller transform, so any test can make the same embeddings.

/// `rows` standard-normal vectors of `dim` values, each L2-normalised, row-major; the same
/// `seed` gives the same values.
pub fn unit_vectors(seed: u64, rows: usize, dim: usize) -> Vec<f32> {
    let mut state = seed;
    let mut uniform = move || {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // in (0, 1]
        ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    };
    let mut out = Vec::with_capacity(rows * dim);
    for _ in 0..rows {
        let row: Vec<f64> = (0..dim)
            .map(|_| {
                let (u, v) = (uniform(), uniform());
                (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
            })
            .collect();
        let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt();
        out.extend(row.iter().map(|x| (x / norm) as f32));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_unit_length_and_seeded() {
        let v = unit_vectors(7, 3, 16);
        assert_eq!(v.len(), 48);
        for row in v.chunks(16) {
            let norm: f32 = row.iter().map(|x| x * x).sum();
            assert!((norm - 1.0).abs() < 1e-5);
        }
        assert_eq!(v, unit_vectors(7, 3, 16));
        assert_ne!(v, unit_vectors(8, 3, 16));
    }
}
