//! The Normalize module: unit-length embeddings, so that dot product equals cosine.

use tch::Tensor;

/// `x / max(‖x‖₂, 1e-12)` along the last dimension, as `torch.nn.functional.normalize`.
pub fn l2_normalize(xs: &Tensor) -> Tensor {
    let norm = xs.norm_scalaropt_dim(2, [-1], true).clamp_min(1e-12);
    xs / norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_length_and_zero_safe() {
        let xs = Tensor::from_slice(&[3f32, 4., 0., 0.]).view([2, 2]);
        let out = Vec::<f32>::try_from(l2_normalize(&xs).flatten(0, -1)).unwrap();
        assert_eq!(out, vec![0.6, 0.8, 0., 0.]);
    }
}
