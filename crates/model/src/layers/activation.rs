//! Activation functions named as checkpoints name them (`hidden_act`, DistilBERT's `activation`,
//! ModernBERT's `hidden_activation`).

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::error::Result;

/// `hidden_act` values of BERT-family checkpoints, computed as transformers' `ACT2FN` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// The exact, erf-based GELU (transformers' `"gelu"`; not the tanh approximation).
    Gelu,
    /// The tanh approximation (`gelu_new` and `gelu_pytorch_tanh` are the same function).
    #[serde(alias = "gelu_pytorch_tanh")]
    GeluNew,
    Relu,
    /// x · sigmoid(x) (Qwen3's `"silu"`).
    Silu,
}

impl Activation {
    /// # Shapes
    /// any → the same shape
    pub(crate) fn forward(self, xs: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Activation::Gelu => xs.f_gelu("none")?,
            Activation::GeluNew => xs.f_gelu("tanh")?,
            Activation::Relu => xs.f_relu()?,
            Activation::Silu => xs.f_silu()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_aliases() {
        let a: Activation = serde_json::from_str("\"gelu_pytorch_tanh\"").unwrap();
        assert_eq!(a, Activation::GeluNew);
        assert!(serde_json::from_str::<Activation>("\"swish\"").is_err());
    }

    #[test]
    fn gelu_is_the_erf_form() {
        let x = Tensor::from_slice(&[1.0f32]);
        let exact = Activation::Gelu.forward(&x).unwrap().double_value(&[0]);
        // 0.5 · x · (1 + erf(x / √2)) at x = 1; the tanh form gives 0.841192
        assert!((exact - 0.841_344_7).abs() < 1e-6, "{exact}");
    }
}
