//! Dense layers at inference through oneDNN, with the activation fused into the product
//! (`linear.cpp`).
//!
//! libtorch's float32 `linear` on the CPU is MKL's sgemm, which on AMD CPUs runs its generic
//! AVX2 kernels; oneDNN picks its kernels by instruction set whatever the vendor. Measured on
//! the 2-core AMD EPYC (AVX-512) dev machine, one thread, products of all-MiniLM-L6-v2's shapes
//! (960 tokens × 384 → 384/1152/1536, 1536 → 384): 99–103 GFLOP/s for MKL, 106–110 for oneDNN,
//! and 92 against 98–105 once MKL's product is followed by its separate GELU. oneDNN has no
//! backward here, so only forwards that need no gradient take this path.

use std::ptr;

use tch::Tensor;
use torch_sys::C_tensor;

use crate::{handle, output, Result};

extern "C" {
    fn torch_ext_inference_linear(
        x: *mut C_tensor,
        weight: *mut C_tensor,
        bias: *mut C_tensor,
        activation: std::ffi::c_int,
        out: *mut *mut C_tensor,
    ) -> *mut std::ffi::c_char;
}

/// The activation fused into [`inference_linear`]'s product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FusedActivation {
    None,
    /// The exact, erf-based GELU.
    Gelu,
    /// GELU's tanh approximation.
    GeluTanh,
    Relu,
    /// x · sigmoid(x).
    Silu,
}

impl FusedActivation {
    fn code(self) -> std::ffi::c_int {
        match self {
            FusedActivation::None => 0,
            FusedActivation::Gelu => 1,
            FusedActivation::GeluTanh => 2,
            FusedActivation::Relu => 3,
            FusedActivation::Silu => 4,
        }
    }
}

/// `activation(xs · weightᵀ + bias)` through oneDNN, or `None` where that path does not apply
/// and the caller should compute it as usual: a tensor that is not float32 on the CPU, a
/// gradient to be taken (grad mode on and an input requiring one), CPU autocast on, or a
/// libtorch without oneDNN.
///
/// # Shapes
/// xs: `[…, input]`, weight: `[output, input]`, bias: `[output]` → `[…, output]`
pub fn inference_linear(
    xs: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    activation: FusedActivation,
) -> Result<Option<Tensor>> {
    let mut out = ptr::null_mut();
    let bias = bias.map_or(ptr::null_mut(), handle);
    // SAFETY: live tensor handles (or a null bias, which the shim accepts) and one out-pointer
    // to a local.
    let message = unsafe {
        torch_ext_inference_linear(
            handle(xs),
            handle(weight),
            bias,
            activation.code(),
            &mut out,
        )
    };
    if out.is_null() {
        crate::check("inference_linear", message)?;
        return Ok(None);
    }
    output("inference_linear", message, out).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn inputs() -> (Tensor, Tensor, Tensor) {
        tch::manual_seed(7);
        let opts = (Kind::Float, Device::Cpu);
        (
            Tensor::randn([3, 5, 16], opts),
            Tensor::randn([24, 16], opts) / 4.0,
            Tensor::randn([24], opts),
        )
    }

    #[test]
    fn equals_linear_then_activation() {
        let (x, w, b) = inputs();
        let plain = x.linear(&w, Some(&b));
        for (activation, expected) in [
            (FusedActivation::None, plain.shallow_clone()),
            (FusedActivation::Gelu, plain.gelu("none")),
            (FusedActivation::GeluTanh, plain.gelu("tanh")),
            (FusedActivation::Relu, plain.relu()),
            (FusedActivation::Silu, plain.silu()),
        ] {
            let fused = tch::no_grad(|| inference_linear(&x, &w, Some(&b), activation))
                .unwrap()
                .expect("a float32 CPU product without gradients takes the oneDNN path");
            assert_eq!(fused.size(), vec![3, 5, 24]);
            let diff = (fused - expected).abs().max().double_value(&[]);
            assert!(diff < 1e-5, "{activation:?}: {diff}");
        }
        let no_bias = tch::no_grad(|| inference_linear(&x, &w, None, FusedActivation::None))
            .unwrap()
            .unwrap();
        let diff = (no_bias - x.linear::<Tensor>(&w, None))
            .abs()
            .max()
            .double_value(&[]);
        assert!(diff < 1e-5, "{diff}");
    }

    #[test]
    fn declines_what_needs_a_gradient_or_another_dtype() {
        let (x, w, b) = inputs();
        let w = w.set_requires_grad(true);
        // Grad mode on and a weight requiring a gradient: the caller's autograd path.
        assert!(inference_linear(&x, &w, Some(&b), FusedActivation::None)
            .unwrap()
            .is_none());
        // The same under no_grad takes oneDNN.
        assert!(
            tch::no_grad(|| inference_linear(&x, &w, Some(&b), FusedActivation::None))
                .unwrap()
                .is_some()
        );
        let half = x.to_kind(Kind::BFloat16);
        assert!(tch::no_grad(|| inference_linear(
            &half,
            &w.to_kind(Kind::BFloat16),
            None,
            FusedActivation::None
        ))
        .unwrap()
        .is_none());
    }
}
