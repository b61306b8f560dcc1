//! LayerNorm over the last dimension, with a `weight` and (unless the architecture drops it,
//! as ModernBERT's `norm_bias: false` does) a `bias` variable.

use tch::{nn, Tensor};

use crate::error::Result;

#[derive(Debug)]
pub(crate) struct LayerNorm {
    ws: Tensor,
    bs: Option<Tensor>,
    dim: i64,
    eps: f64,
}

impl LayerNorm {
    pub(crate) fn new(p: nn::Path, dim: i64, eps: f64) -> Self {
        Self::with_bias(p, dim, eps, true)
    }

    /// `bias` false: no `bias` variable (PyTorch's `nn.LayerNorm(bias=False)`).
    pub(crate) fn with_bias(p: nn::Path, dim: i64, eps: f64, bias: bool) -> Self {
        let ws = p.var("weight", &[dim], nn::Init::Const(1.0));
        let bs = bias.then(|| p.var("bias", &[dim], nn::Init::Const(0.0)));
        LayerNorm { ws, bs, dim, eps }
    }

    /// # Shapes
    /// xs: `[…, dim]` → `[…, dim]`
    pub(crate) fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        Ok(Tensor::f_layer_norm(
            xs,
            [self.dim],
            Some(&self.ws),
            self.bs.as_ref(),
            self.eps,
            true,
        )?)
    }
}
