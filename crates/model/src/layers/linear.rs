//! A dense layer whose variables are named `weight` and `bias`, as PyTorch's `nn.Linear`.

use tch::{nn, Tensor};

use crate::error::Result;

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
        Ok(xs.f_linear(&self.ws, self.bs.as_ref())?)
    }
}
