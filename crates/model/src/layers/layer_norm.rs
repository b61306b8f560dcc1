//! LayerNorm over the last dimension, with `weight` and `bias` variables.

use tch::{nn, Tensor};

use crate::error::Result;

#[derive(Debug)]
pub(crate) struct LayerNorm {
    ws: Tensor,
    bs: Tensor,
    dim: i64,
    eps: f64,
}

impl LayerNorm {
    pub(crate) fn new(p: nn::Path, dim: i64, eps: f64) -> Self {
        let ws = p.var("weight", &[dim], nn::Init::Const(1.0));
        let bs = p.var("bias", &[dim], nn::Init::Const(0.0));
        LayerNorm { ws, bs, dim, eps }
    }

    /// # Shapes
    /// xs: `[…, dim]` → `[…, dim]`
    pub(crate) fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        Ok(Tensor::f_layer_norm(
            xs,
            [self.dim],
            Some(&self.ws),
            Some(&self.bs),
            self.eps,
            true,
        )?)
    }
}
