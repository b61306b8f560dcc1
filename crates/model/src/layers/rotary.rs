//! Rotary position embeddings (RoPE, transformers' default `rope_type`): queries and keys are
//! rotated by angles `position · θ^(−2i/d)`, so their dot product depends only on the distance
//! between positions.

use tch::{Device, Kind, Tensor};

use crate::error::Result;

/// In which dtype the rotation of queries and keys is computed (the two architectures differ
/// only when the model runs in half precision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RotationPrecision {
    /// Upcast to fp32, rotate, cast back (ModernBERT's `apply_rotary_pos_emb`).
    Float32,
    /// In the dtype of the queries and keys, with `cos`/`sin` cast to it (Qwen3's).
    Input,
}

/// The inverse frequencies of one `rope_theta` over a head of `head_dim` (even).
#[derive(Debug)]
pub(crate) struct RotaryEmbedding {
    theta: f64,
    head_dim: i64,
    precision: RotationPrecision,
}

/// `cos` and `sin` of every position's angles, each `[1 or batch, seq, head_dim]`.
#[derive(Debug)]
pub(crate) struct RotaryAngles {
    cos: Tensor,
    sin: Tensor,
    precision: RotationPrecision,
}

impl RotaryEmbedding {
    pub(crate) fn new(theta: f64, head_dim: i64, precision: RotationPrecision) -> Self {
        RotaryEmbedding {
            theta,
            head_dim,
            precision,
        }
    }

    /// `1 / θ^(arange(0, d, 2) / d)` in fp32, as transformers' `compute_default_rope_parameters`.
    fn inv_freq(&self, device: Device) -> Result<Tensor> {
        let exponents = Tensor::f_arange_start_step(0, self.head_dim, 2, (Kind::Float, device))?
            .f_div_scalar(self.head_dim as f64)?;
        Ok(Tensor::f_pow_scalar(self.theta, &exponents)?.f_reciprocal()?)
    }

    /// The angles of `positions` (`[1 or batch, seq]`, int64), in fp32 then cast to `kind`.
    ///
    /// # Shapes
    /// positions: `[b, seq]` → cos, sin `[b, seq, head_dim]`
    pub(crate) fn angles(&self, positions: &Tensor, kind: Kind) -> Result<RotaryAngles> {
        let inv_freq = self.inv_freq(positions.device())?;
        let freqs = positions
            .f_to_kind(Kind::Float)?
            .f_unsqueeze(-1)?
            .f_mul(&inv_freq)?;
        let emb = Tensor::f_cat(&[&freqs, &freqs], -1)?;
        Ok(RotaryAngles {
            cos: emb.f_cos()?.f_to_kind(kind)?,
            sin: emb.f_sin()?.f_to_kind(kind)?,
            precision: self.precision,
        })
    }
}

impl RotaryAngles {
    /// `x · cos + rotate_half(x) · sin`, in the dtype the [`RotationPrecision`] says, returned
    /// in `x`'s dtype.
    ///
    /// # Shapes
    /// xs: `[batch, heads, seq, head_dim]` → the same
    pub(crate) fn apply(&self, xs: &Tensor) -> Result<Tensor> {
        let kind = xs.kind();
        let x = match self.precision {
            RotationPrecision::Float32 => xs.f_to_kind(Kind::Float)?,
            RotationPrecision::Input => xs.shallow_clone(),
        };
        let cos = self.cos.f_unsqueeze(1)?;
        let sin = self.sin.f_unsqueeze(1)?;
        let rotated = rotate_half(&x)?.f_mul(&sin)?;
        Ok(x.f_mul(&cos)?.f_add(&rotated)?.f_to_kind(kind)?)
    }
}

/// `cat(−x₂, x₁)` of the two halves of the last dimension.
fn rotate_half(xs: &Tensor) -> Result<Tensor> {
    let half = xs.size().last().copied().unwrap_or(0) / 2;
    let x1 = xs.f_narrow(-1, 0, half)?;
    let x2 = xs.f_narrow(-1, half, half)?;
    Ok(Tensor::f_cat(&[&x2.f_neg()?, &x1], -1)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_depend_only_on_the_distance() {
        let rope = RotaryEmbedding::new(10_000.0, 4, RotationPrecision::Input);
        let q = Tensor::from_slice(&[0.3f32, -1.2, 0.7, 0.5]).view([1, 1, 1, 4]);
        let k = Tensor::from_slice(&[1.1f32, 0.4, -0.6, 0.9]).view([1, 1, 1, 4]);
        let score = |qi: i64, ki: i64| {
            let pos = |i: i64| Tensor::from_slice(&[i]).view([1, 1]);
            let rq = rope
                .angles(&pos(qi), Kind::Float)
                .unwrap()
                .apply(&q)
                .unwrap();
            let rk = rope
                .angles(&pos(ki), Kind::Float)
                .unwrap()
                .apply(&k)
                .unwrap();
            (rq * rk).sum(Kind::Float).double_value(&[])
        };
        assert!((score(5, 2) - score(13, 10)).abs() < 1e-5);
        assert!((score(5, 2) - score(2, 5)).abs() > 1e-3);
    }
}
