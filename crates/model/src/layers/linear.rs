//! A dense layer whose variables are named `weight` and `bias`, as PyTorch's `nn.Linear`.

use tch::{nn, Tensor};

use torch_ext::FusedActivation;

use super::Activation;
use crate::error::{Error, Result};

#[derive(Debug)]
pub(crate) struct Linear {
    ws: Tensor,
    bs: Option<Tensor>,
}

impl Linear {
    /// A `[output, input]` weight drawn from N(0, `init_std`²) and a zero bias, as transformers
    /// initialises its encoders; a loaded checkpoint overwrites both.
    pub(crate) fn new(p: nn::Path, input: i64, output: i64, init_std: f64, bias: bool) -> Self {
        let config = nn::LinearConfig {
            ws_init: nn::Init::Randn {
                mean: 0.0,
                stdev: init_std,
            },
            bs_init: Some(nn::Init::Const(0.0)),
            bias,
        };
        let linear = nn::linear(p, input, output, config);
        Linear {
            ws: linear.ws,
            bs: linear.bs,
        }
    }

    /// # Shapes
    /// xs: `[…, input]` → `[…, output]`
    pub(crate) fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        self.forward_activated(xs, None)
    }

    /// `activation(xs · weightᵀ + bias)`. Forwards that need no gradient run on the CPU as one
    /// oneDNN product with the activation fused in ([`torch_ext::inference_linear`]); the rest
    /// as libtorch's `linear` followed by the activation.
    ///
    /// # Shapes
    /// xs: `[…, input]` → `[…, output]`
    pub(crate) fn forward_activated(
        &self,
        xs: &Tensor,
        activation: Option<Activation>,
    ) -> Result<Tensor> {
        let fused = match activation {
            None => FusedActivation::None,
            Some(Activation::Gelu) => FusedActivation::Gelu,
            Some(Activation::GeluNew) => FusedActivation::GeluTanh,
            Some(Activation::Relu) => FusedActivation::Relu,
            Some(Activation::Silu) => FusedActivation::Silu,
        };
        if let Some(out) = torch_ext::inference_linear(xs, &self.ws, self.bs.as_ref(), fused)? {
            return Ok(out);
        }
        let out = xs.f_linear(&self.ws, self.bs.as_ref())?;
        match activation {
            Some(activation) => activation.forward(&out),
            None => Ok(out),
        }
    }

    /// `xs` through several layers of one input size at once, their outputs side by side
    /// (`[…, Σ output]`): one matrix product instead of one per layer.
    ///
    /// # Shapes
    /// xs: `[…, input]` → `[…, output_1 + output_2 + …]`
    pub(crate) fn forward_fused(xs: &Tensor, layers: &[&Linear]) -> Result<Tensor> {
        let weights: Vec<&Tensor> = layers.iter().map(|l| &l.ws).collect();
        let biases: Vec<&Tensor> = layers.iter().filter_map(|l| l.bs.as_ref()).collect();
        let bias = match biases.len() {
            0 => None,
            n if n == layers.len() => Some(Tensor::f_cat(&biases, 0)?),
            _ => {
                return Err(Error::InvalidInput(
                    "fused linear layers must all have a bias or all have none".into(),
                ))
            }
        };
        Ok(xs.f_linear(&Tensor::f_cat(&weights, 0)?, bias.as_ref())?)
    }
}
