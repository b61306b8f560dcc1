//! The similarity and distance functions of `sentence_transformers.util` and
//! `torch.nn.functional` that the losses share, op for op, so that values and gradients match
//! sentence-transformers to float rounding.
//!
//! # Shapes
//! Inputs are `[batch, dim]`; pairwise functions return `[batch]`, [`cos_sim_normalized`] `[n, m]`.

use tch::{Kind, TchError, Tensor};

/// `F.normalize(x, p=2, dim=-1)`: the eps keeps zero vectors at zero instead of NaN.
pub(crate) fn normalize(x: &Tensor) -> Result<Tensor, TchError> {
    let norm = x
        .f_norm_scalaropt_dim(2.0, [-1], true)?
        .f_clamp_min(1e-12)?;
    x.f_div(&norm)
}

/// `util.cos_sim` (every row of `a` against every row of `b`) on rows that are already
/// [`normalize`]d, so a batch is normalised once however many chunks use it.
pub(crate) fn cos_sim_normalized(a: &Tensor, b: &Tensor) -> Result<Tensor, TchError> {
    a.f_mm(&b.f_tr()?)
}

/// `util.pairwise_cos_sim`: normalise, then the row-wise dot product.
pub(crate) fn pairwise_cos_sim(a: &Tensor, b: &Tensor) -> Result<Tensor, TchError> {
    normalize(a)?
        .f_mul(&normalize(b)?)?
        .f_sum_dim_intlist(-1i64, false, None::<Kind>)
}

/// `util.pairwise_angle_sim`: `|cos + sin|` of the normalised rows, where dimension `i` pairs
/// with `i + dim/2` (odd dims are padded with a zero first, as sentence-transformers does).
pub(crate) fn pairwise_angle_sim(x: &Tensor, y: &Tensor) -> Result<Tensor, TchError> {
    let dim = x.size().last().copied().unwrap_or(0);
    let (x, y) = if dim % 2 == 1 {
        (x.f_constant_pad_nd([0, 1])?, y.f_constant_pad_nd([0, 1])?)
    } else {
        (x.shallow_clone(), y.shallow_clone())
    };
    let (x, y) = (normalize(&x)?, normalize(&y)?);
    let cosines = x.f_mul(&y)?.f_sum_dim_intlist(1i64, false, None::<Kind>)?;
    let half = x.size()[1] / 2;
    let (first_x, last_x) = (x.f_narrow(1, 0, half)?, x.f_narrow(1, half, half)?);
    let (first_y, last_y) = (y.f_narrow(1, 0, half)?, y.f_narrow(1, half, half)?);
    let sines = last_x
        .f_mul(&first_y)?
        .f_sub(&first_x.f_mul(&last_y)?)?
        .f_sum_dim_intlist(1i64, false, None::<Kind>)?;
    cosines.f_add(&sines)?.f_abs()
}

/// `-util.pairwise_euclidean_sim`: the L2 norm of the difference (no eps, unlike
/// `F.pairwise_distance`).
pub(crate) fn pairwise_euclidean_distance(a: &Tensor, b: &Tensor) -> Result<Tensor, TchError> {
    a.f_sub(b)?.f_norm_scalaropt_dim(2.0, [-1], false)
}

/// `-util.pairwise_manhattan_sim`.
pub(crate) fn pairwise_manhattan_distance(a: &Tensor, b: &Tensor) -> Result<Tensor, TchError> {
    a.f_sub(b)?
        .f_abs()?
        .f_sum_dim_intlist(-1i64, false, None::<Kind>)
}

/// `F.cosine_similarity(a, b)` (dim 1, eps 1e-8): libtorch's own op, which clamps each norm
/// separately, so it differs from [`pairwise_cos_sim`] near zero vectors.
pub(crate) fn cosine_similarity(a: &Tensor, b: &Tensor) -> Result<Tensor, TchError> {
    Tensor::f_cosine_similarity(a, b, 1, 1e-8)
}

/// `F.pairwise_distance(a, b, p)`: libtorch's op, which adds eps = 1e-6 to the difference.
pub(crate) fn pairwise_distance(a: &Tensor, b: &Tensor, p: f64) -> Result<Tensor, TchError> {
    Tensor::f_pairwise_distance(a, b, p, 1e-6, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_leaves_zero_rows_at_zero() {
        let x = Tensor::from_slice(&[0f32, 0., 3., 4.]).view([2, 2]);
        let n = normalize(&x).unwrap();
        let expected = Tensor::from_slice(&[0f32, 0., 0.6, 0.8]).view([2, 2]);
        assert!(n.allclose(&expected, 1e-7, 1e-7, false));
    }

    #[test]
    fn angle_sim_of_identical_vectors_is_one() {
        let x = Tensor::from_slice(&[1f32, 2., 3., 4., 5.]).view([1, 5]);
        let s = pairwise_angle_sim(&x, &x).unwrap().double_value(&[0]);
        assert!((s - 1.0).abs() < 1e-6, "{s}");
    }
}
