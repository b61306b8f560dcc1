//! Gated feed-forward blocks (GLU variants): `output(act(a) · b)`, with `a` and `b` either two
//! halves of one fused projection (ModernBERT's GeGLU: `Wi`, `Wo`) or two projections (Qwen3's
//! SwiGLU: `gate_proj`, `up_proj`, `down_proj`).

use tch::{nn, Tensor};

use super::linear::Linear;
use super::Activation;
use crate::error::Result;

/// Where the gated pair comes from, with the checkpoint names relative to the block.
#[derive(Debug, Clone, Copy)]
pub(crate) enum GateKeys {
    /// One `[2 · intermediate, hidden]` projection; its first half goes through the activation.
    Fused {
        input: &'static str,
        output: &'static str,
    },
    /// `gate` goes through the activation and multiplies `up`.
    Split {
        gate: &'static str,
        up: &'static str,
        output: &'static str,
    },
}

#[derive(Debug)]
enum GateInput {
    Fused(Linear),
    Split { gate: Linear, up: Linear },
}

/// Sizes of a gated block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GatedConfig {
    pub hidden: i64,
    pub intermediate: i64,
    pub activation: Activation,
    pub bias: bool,
    /// On `act(a) · b`, before the output projection.
    pub dropout: f64,
    pub init_std: f64,
}

#[derive(Debug)]
pub(crate) struct GatedFeedForward {
    input: GateInput,
    output: Linear,
    activation: Activation,
    dropout: f64,
}

impl GatedFeedForward {
    pub(crate) fn new(p: &nn::Path, keys: GateKeys, c: &GatedConfig) -> Self {
        let linear =
            |name: &str, i: i64, o: i64| Linear::new(super::sub(p, name), i, o, c.init_std, c.bias);
        let (input, output) = match keys {
            GateKeys::Fused { input, output } => (
                GateInput::Fused(linear(input, c.hidden, 2 * c.intermediate)),
                output,
            ),
            GateKeys::Split { gate, up, output } => (
                GateInput::Split {
                    gate: linear(gate, c.hidden, c.intermediate),
                    up: linear(up, c.hidden, c.intermediate),
                },
                output,
            ),
        };
        GatedFeedForward {
            input,
            output: linear(output, c.intermediate, c.hidden),
            activation: c.activation,
            dropout: c.dropout,
        }
    }

    /// # Shapes
    /// xs: `[batch, seq, hidden]` → `[batch, seq, hidden]`
    pub(crate) fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let (activated, multiplier) = match &self.input {
            GateInput::Fused(wi) => {
                let mut halves = wi.forward(xs)?.f_chunk(2, -1)?.into_iter();
                match (halves.next(), halves.next()) {
                    (Some(a), Some(b)) => (a, b),
                    _ => {
                        return Err(crate::error::Error::InvalidInput(
                            "a fused gated projection did not split in two".into(),
                        ))
                    }
                }
            }
            GateInput::Split { gate, up } => (gate.forward(xs)?, up.forward(xs)?),
        };
        let h = self.activation.forward(&activated)?.f_mul(&multiplier)?;
        self.output
            .forward(&super::dropout(&h, self.dropout, train)?)
    }
}
