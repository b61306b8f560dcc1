//! RMSNorm (T5's LayerNorm without mean or bias), as Qwen3 computes it: in fp32 whatever the
//! input dtype, cast back, then scaled by `weight`.

use tch::{nn, Kind, Tensor};

use crate::error::Result;

#[derive(Debug)]
pub(crate) struct RmsNorm {
    ws: Tensor,
    eps: f64,
}

impl RmsNorm {
    pub(crate) fn new(p: nn::Path, dim: i64, eps: f64) -> Self {
        let ws = p.var("weight", &[dim], nn::Init::Const(1.0));
        RmsNorm { ws, eps }
    }

    /// `weight · (x / √(mean(x²) + eps))`, the normalisation in fp32.
    ///
    /// # Shapes
    /// xs: `[…, dim]` → `[…, dim]`
    pub(crate) fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let kind = xs.kind();
        let x32 = xs.f_to_kind(Kind::Float)?;
        let variance = x32.f_pow_tensor_scalar(2)?.f_mean_dim(-1, true, None)?;
        let normed = x32.f_mul(&variance.f_add_scalar(self.eps)?.f_rsqrt()?)?;
        Ok(self.ws.f_mul(&normed.f_to_kind(kind)?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_rms_and_weight_scaling() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let norm = RmsNorm::new(vs.root() / "n", 2, 0.0);
        let xs = Tensor::from_slice(&[3f32, 4.]).view([1, 2]);
        let got = Vec::<f32>::try_from(norm.forward(&xs).unwrap().flatten(0, -1)).unwrap();
        // rms of (3, 4) is √12.5
        let rms = 12.5f32.sqrt();
        assert!((got[0] - 3. / rms).abs() < 1e-6 && (got[1] - 4. / rms).abs() < 1e-6);
    }
}
