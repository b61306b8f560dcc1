//! Attention masks in the form `scaled_dot_product_attention` takes them.

use tch::{Kind, Tensor};

use crate::error::Result;

/// Which keys each query may attend to, built once per forward and shared by every layer.
#[derive(Debug)]
pub(crate) enum AttentionMask {
    /// Boolean, true = attend: `[batch, 1, 1, seq]` for padding only, `[batch, 1, seq, seq]`
    /// for causal or windowed masks.
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

    /// Bidirectional attention over the real tokens within `half_window` positions of the query
    /// (`|i − j| ≤ half_window`, transformers' `sliding_window_bidirectional_overlay`; ModernBERT's
    /// local layers, `half_window = local_attention / 2`).
    ///
    /// # Shapes
    /// attention_mask: `[batch, seq]` → `[batch, 1, seq, seq]`
    pub(crate) fn padding_within(attention_mask: &Tensor, half_window: i64) -> Result<Self> {
        let (i, j) = query_key_positions(attention_mask)?;
        let near = i.f_sub(&j)?.f_abs()?.f_le(half_window)?;
        Self::padding(attention_mask)?.and(&near)
    }

    /// Causal attention over the real tokens: query `i` sees keys `j ≤ i` that are not padding
    /// (transformers' `create_causal_mask` with a 2-D padding mask). A left-padding query sees
    /// no key at all; `scaled_dot_product_attention` gives it zeros, as in transformers.
    ///
    /// # Shapes
    /// attention_mask: `[batch, seq]` → `[batch, 1, seq, seq]`
    pub(crate) fn causal(attention_mask: &Tensor) -> Result<Self> {
        let (i, j) = query_key_positions(attention_mask)?;
        Self::padding(attention_mask)?.and(&j.f_le_tensor(&i)?)
    }

    /// This boolean mask with `allowed` (`[seq, seq]`, true = attend) also required.
    fn and(&self, allowed: &Tensor) -> Result<Self> {
        match self {
            AttentionMask::Allowed(mask) => {
                Ok(AttentionMask::Allowed(mask.f_logical_and(allowed)?))
            }
            AttentionMask::Additive(_) => Err(crate::error::Error::InvalidInput(
                "cannot combine an additive attention mask with a boolean pattern".into(),
            )),
        }
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

/// Query positions `[seq, 1]` and key positions `[1, seq]`, for pattern masks.
fn query_key_positions(attention_mask: &Tensor) -> Result<(Tensor, Tensor)> {
    let (_, seq) = attention_mask.size2()?;
    let positions = Tensor::f_arange(seq, (Kind::Int64, attention_mask.device()))?;
    Ok((positions.f_unsqueeze(1)?, positions.f_unsqueeze(0)?))
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

    fn allowed(mask: AttentionMask) -> Vec<i64> {
        let t = mask.as_tensor().to_kind(Kind::Int64).flatten(0, -1);
        Vec::<i64>::try_from(t).unwrap()
    }

    #[test]
    fn window_and_causal_patterns_keep_padding_blocked() {
        let mask = Tensor::from_slice(&[1i64, 1, 1, 0]).view([1, 4]);
        #[rustfmt::skip]
        let window = [1, 1, 0, 0,
                      1, 1, 1, 0,
                      0, 1, 1, 0,
                      0, 0, 1, 0];
        assert_eq!(
            allowed(AttentionMask::padding_within(&mask, 1).unwrap()),
            window
        );
        let left = Tensor::from_slice(&[0i64, 1, 1]).view([1, 3]);
        #[rustfmt::skip]
        let causal = [0, 0, 0,
                      0, 1, 0,
                      0, 1, 1];
        assert_eq!(allowed(AttentionMask::causal(&left).unwrap()), causal);
    }
}
