//! Attention masks in the form `scaled_dot_product_attention` takes them.

use tch::{Kind, Tensor};

use crate::error::Result;

/// Which keys each query may attend to, built once per forward and shared by every layer.
#[derive(Debug)]
pub(crate) enum AttentionMask {
    /// Boolean, true = attend: `[batch, 1, 1, seq]` for padding only (later also
    /// `[batch, 1, seq, seq]` for causal or windowed masks).
    Allowed(Tensor),
    /// Added to the attention scores: a position bias with masked keys at the dtype's lowest
    /// value, `[batch or 1, heads, seq, seq]`.
    Additive(Tensor),
}

impl AttentionMask {
    /// Bidirectional attention over the real tokens of each row.
    ///
    /// # Shapes
    /// attention_mask: `[batch, seq]` (1 = real token) → `[batch, 1, 1, seq]`
    pub(crate) fn padding(attention_mask: &Tensor) -> Result<Self> {
        let allowed = attention_mask.f_gt(0)?.f_unsqueeze(1)?.f_unsqueeze(1)?;
        Ok(AttentionMask::Allowed(allowed))
    }

    /// This mask with `bias` added to every score, as MPNet's relative position bias is.
    /// Masked keys get the lowest finite value of `bias`'s dtype (as transformers' eager
    /// attention), so a row without a single real key stays finite.
    ///
    /// # Shapes
    /// bias: `[1 or batch, heads, seq, seq]` → `[batch, heads, seq, seq]`
    pub(crate) fn with_bias(&self, bias: &Tensor) -> Result<Self> {
        let additive = match self {
            AttentionMask::Allowed(allowed) => {
                let blocked = allowed.f_logical_not()?;
                let lowest = lowest_value(bias.kind());
                let zeros = Tensor::f_zeros(blocked.size(), (bias.kind(), bias.device()))?;
                bias.f_add(&zeros.f_masked_fill(&blocked, lowest)?)?
            }
            AttentionMask::Additive(mask) => bias.f_add(mask)?,
        };
        Ok(AttentionMask::Additive(additive))
    }

    pub(crate) fn as_tensor(&self) -> &Tensor {
        match self {
            AttentionMask::Allowed(t) | AttentionMask::Additive(t) => t,
        }
    }
}

/// `torch.finfo(kind).min`.
fn lowest_value(kind: Kind) -> f64 {
    match kind {
        Kind::Half => -65504.0,
        Kind::BFloat16 => -3.389_531_389_251_535_5e38,
        Kind::Double => f64::MIN,
        _ => f64::from(f32::MIN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bias_keeps_real_keys_and_blocks_padding() {
        let mask = Tensor::from_slice(&[1i64, 1, 0]).view([1, 3]);
        let bias = Tensor::ones([1, 2, 3, 3], (Kind::Float, tch::Device::Cpu));
        let additive = AttentionMask::padding(&mask)
            .unwrap()
            .with_bias(&bias)
            .unwrap();
        let t = additive.as_tensor();
        assert_eq!(t.size(), [1, 2, 3, 3]);
        assert_eq!(t.double_value(&[0, 1, 2, 0]), 1.0);
        assert!(t.double_value(&[0, 1, 2, 2]) < -1e38);
    }
}
