//! Dropout as the layers use it: inverted dropout while training, the identity otherwise.

use tch::Tensor;

use crate::error::Result;

/// `torch.nn.functional.dropout(xs, p, training=train)`; on the CPU its mask is drawn on
/// every intra-op thread ([`torch_ext::dropout`]), from libtorch's generator as before.
pub(crate) fn dropout(xs: &Tensor, p: f64, train: bool) -> Result<Tensor> {
    if !train || p == 0.0 {
        return Ok(xs.shallow_clone());
    }
    Ok(torch_ext::dropout(xs, p)?)
}
