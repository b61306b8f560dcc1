//! Attention masks in the form `scaled_dot_product_attention` takes them.

use tch::Tensor;

use crate::error::Result;

/// Which keys each query may attend to, built once per forward and shared by every layer.
#[derive(Debug)]
pub(crate) enum AttentionMask {
    /// Boolean, true = attend: `[batch, 1, 1, seq]` for padding only (later also
    /// `[batch, 1, seq, seq]` for causal or windowed masks).
    Allowed(Tensor),
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

    pub(crate) fn as_tensor(&self) -> &Tensor {
        match self {
            AttentionMask::Allowed(t) => t,
        }
    }
}
