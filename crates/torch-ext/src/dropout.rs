//! Training-time dropout whose CPU masks are drawn on every intra-op thread (`dropout.cpp`).
//!
//! libtorch's CPU `bernoulli_` draws one Mersenne-Twister number per element on one thread
//! (its parallel MKL path runs on Intel CPUs only): about 7 ns an element, a tenth of an
//! all-MiniLM-L6-v2 training step on two cores, most of it the attention probabilities'. Here
//! each element is a counter-based hash of a seed and its index, and the seed is drawn from
//! libtorch's CPU generator, so `tch::manual_seed` fixes every mask as before. On CUDA,
//! libtorch's own fused kernels are used.

use std::ptr;

use tch::Tensor;
use torch_sys::C_tensor;

use crate::{handle, output, Error, Result};

extern "C" {
    fn torch_ext_dropout(
        input: *mut C_tensor,
        p: f64,
        out: *mut *mut C_tensor,
    ) -> *mut std::ffi::c_char;
    fn torch_ext_attention_dropout(
        q: *mut C_tensor,
        k: *mut C_tensor,
        v: *mut C_tensor,
        attn_mask: *mut C_tensor,
        p: f64,
        keep: *mut C_tensor,
        out: *mut *mut C_tensor,
    ) -> *mut std::ffi::c_char;
}

fn check_probability(p: f64) -> Result<()> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "dropout probability must be in [0, 1], got {p}"
        )))
    }
}

/// Inverted dropout in training: each element zeroed with probability `p`, the rest scaled by
/// 1/(1-p) (`torch.nn.functional.dropout(xs, p, training=True)`), differentiable.
pub fn dropout(xs: &Tensor, p: f64) -> Result<Tensor> {
    check_probability(p)?;
    if p == 0.0 {
        return Ok(xs.shallow_clone());
    }
    if p == 1.0 || xs.device() != tch::Device::Cpu {
        return xs.f_dropout(p, true).map_err(|e| Error::Torch {
            what: "dropout",
            message: e.to_string(),
        });
    }
    let mut out = ptr::null_mut();
    // SAFETY: a live tensor handle in, one out-pointer to a local.
    let message = unsafe { torch_ext_dropout(handle(xs), p, &mut out) };
    output("dropout", message, out)
}

/// `scaled_dot_product_attention(q, k, v, attn_mask, dropout_p = p)` while training, with the
/// dropout mask of the attention probabilities drawn as [`dropout`]'s (CPU), or by libtorch
/// (CUDA). Under CPU autocast the inputs are cast to its dtype and the attention itself runs
/// in float32, as libtorch's own kernel for this case does.
///
/// # Shapes
/// q: `[batch, heads, seq_q, dim]`, k, v: `[batch, heads, seq_k, dim]`, attn_mask: boolean
/// (true = attend) or additive, broadcastable to `[batch, heads, seq_q, seq_k]`
/// → `[batch, heads, seq_q, dim]`
pub fn attention_dropout(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    attn_mask: Option<&Tensor>,
    p: f64,
) -> Result<Tensor> {
    check_probability(p)?;
    if p == 0.0 || p == 1.0 || q.device() != tch::Device::Cpu {
        return Tensor::f_scaled_dot_product_attention(q, k, v, attn_mask, p, false, None, false)
            .map_err(|e| Error::Torch {
                what: "scaled dot-product attention",
                message: e.to_string(),
            });
    }
    attention(q, k, v, attn_mask, p, None)
}

/// [`attention_dropout`]'s CPU computation with a given keep-and-scale mask (`[batch, heads,
/// seq_q, seq_k]`, each element 0 or 1/(1-p)) instead of a drawn one: for checking it against
/// libtorch's own attention kernel under the same mask.
pub fn attention_with_keep_mask(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    attn_mask: Option<&Tensor>,
    keep: &Tensor,
) -> Result<Tensor> {
    // The probability only matters when the shim draws the mask.
    attention(q, k, v, attn_mask, 0.0, Some(keep))
}

fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    attn_mask: Option<&Tensor>,
    p: f64,
    keep: Option<&Tensor>,
) -> Result<Tensor> {
    let mut out = ptr::null_mut();
    // SAFETY: live tensor handles (or null for the optional ones) in, one out-pointer to a
    // local; the shim only reads the inputs.
    let message = unsafe {
        torch_ext_attention_dropout(
            handle(q),
            handle(k),
            handle(v),
            attn_mask.map_or(ptr::null_mut(), handle),
            p,
            keep.map_or(ptr::null_mut(), handle),
            &mut out,
        )
    };
    output("attention with dropout", message, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn float(shape: &[i64]) -> Tensor {
        Tensor::randn(shape, (Kind::Float, Device::Cpu))
    }

    #[test]
    fn dropout_zeroes_about_p_and_scales_the_rest() {
        tch::manual_seed(1);
        let xs = Tensor::ones([1000, 1000], (Kind::Float, Device::Cpu));
        let ys = dropout(&xs, 0.1).unwrap();
        let kept = ys
            .ne(0.0)
            .to_kind(Kind::Float)
            .mean(Kind::Float)
            .double_value(&[]);
        // 10⁶ draws: the kept fraction's standard deviation is 3e-4.
        assert!((kept - 0.9).abs() < 2e-3, "kept {kept}");
        let values = ys.masked_select(&ys.ne(0.0));
        let (lo, hi) = (
            values.min().double_value(&[]),
            values.max().double_value(&[]),
        );
        assert!((lo - 1.0 / 0.9).abs() < 1e-6 && (hi - 1.0 / 0.9).abs() < 1e-6);
    }

    #[test]
    fn the_seed_fixes_the_mask_and_each_call_draws_a_new_one() {
        let xs = float(&[64, 48]);
        tch::manual_seed(7);
        let a = dropout(&xs, 0.3).unwrap();
        let b = dropout(&xs, 0.3).unwrap();
        tch::manual_seed(7);
        let again = dropout(&xs, 0.3).unwrap();
        assert!(a.equal(&again));
        assert!(!a.equal(&b));
    }

    #[test]
    fn neighbouring_elements_are_not_correlated() {
        tch::manual_seed(3);
        let kept = dropout(&Tensor::ones([400_000], (Kind::Float, Device::Cpu)), 0.5)
            .unwrap()
            .ne(0.0)
            .to_kind(Kind::Float);
        let pairs = kept.slice(0, 0, 399_999, 1) * kept.slice(0, 1, 400_000, 1);
        let both = pairs.mean(Kind::Float).double_value(&[]);
        assert!((both - 0.25).abs() < 5e-3, "P(both kept) {both}");
    }

    #[test]
    fn dropout_passes_the_gradient_through_the_kept_elements() {
        tch::manual_seed(5);
        let xs = float(&[32, 16]).set_requires_grad(true);
        let ys = dropout(&xs, 0.25).unwrap();
        ys.sum(Kind::Float).backward();
        let scale = ys.detach() / xs.detach();
        assert!(xs.grad().allclose(&scale, 1e-6, 1e-6, false));
    }

    #[test]
    fn dropout_keeps_the_dtype_and_refuses_bad_probabilities() {
        let xs = float(&[8, 8]).to_kind(Kind::BFloat16);
        assert_eq!(dropout(&xs, 0.1).unwrap().kind(), Kind::BFloat16);
        assert!(dropout(&xs, 0.0).unwrap().equal(&xs));
        assert_eq!(
            dropout(&xs, 1.0)
                .unwrap()
                .abs()
                .sum(Kind::Float)
                .double_value(&[]),
            0.0
        );
        for p in [-0.1, 1.5, f64::NAN] {
            let err = dropout(&xs, p).unwrap_err().to_string();
            assert!(err.contains("dropout probability"), "{err}");
        }
    }

    /// The attention with a given dropout mask against libtorch's own math kernel with the same
    /// mask, values and gradients, for a boolean and an additive attention mask.
    #[test]
    fn attention_matches_libtorchs_kernel_under_the_same_dropout_mask() {
        tch::manual_seed(11);
        let (b, h, l, s, d, p) = (2, 3, 5, 6, 8, 0.2);
        let allowed = Tensor::from_slice(&[1i64, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1])
            .view([b, 1, 1, s])
            .gt(0);
        // Learned, as MPNet's relative position bias: its gradient is checked too.
        let additive = float(&[1, h, l, s]).set_requires_grad(true);
        for mask in [allowed, additive] {
            let q = float(&[b, h, l, d]).set_requires_grad(true);
            let k = float(&[b, h, s, d]).set_requires_grad(true);
            let v = float(&[b, h, s, d]).set_requires_grad(true);
            let keep = Tensor::rand([b, h, l, s], (Kind::Float, Device::Cpu)).ge(p);
            let ours = attention_with_keep_mask(
                &q,
                &k,
                &v,
                Some(&mask),
                &(keep.to_kind(Kind::Float) / (1.0 - p)),
            )
            .unwrap();
            // The public op turns a boolean mask into an additive one before this kernel.
            let additive = match mask.kind() {
                Kind::Bool => Tensor::zeros([1], (Kind::Float, Device::Cpu))
                    .where_scalarother(&mask, f64::NEG_INFINITY),
                _ => mask.shallow_clone(),
            };
            let (theirs, _) = Tensor::internal_scaled_dot_product_attention_math(
                &q,
                &k,
                &v,
                Some(&additive),
                p,
                false,
                Some(&keep),
                None,
                false,
            );
            assert!(ours.allclose(&theirs, 1e-5, 1e-6, false));
            let upstream = float(&[b, h, l, d]);
            let grads = |out: &Tensor| {
                let loss = (out * &upstream).sum(Kind::Float);
                let mut inputs = vec![&q, &k, &v];
                if mask.requires_grad() {
                    inputs.push(&mask);
                }
                Tensor::run_backward(&[loss], &inputs, false, false)
            };
            let (ours, theirs) = (grads(&ours), grads(&theirs));
            assert_eq!(ours.len(), 3 + usize::from(mask.requires_grad()));
            for (a, b) in ours.iter().zip(&theirs) {
                assert!(a.allclose(b, 1e-5, 1e-6, false));
            }
        }
    }

    #[test]
    fn a_query_without_any_allowed_key_attends_to_nothing() {
        let (q, k, v) = (
            float(&[1, 1, 2, 4]),
            float(&[1, 1, 3, 4]),
            float(&[1, 1, 3, 4]),
        );
        let mask = Tensor::from_slice(&[0i64, 0, 0, 1, 1, 0])
            .view([1, 1, 2, 3])
            .gt(0);
        let out = attention_dropout(&q, &k, &v, Some(&mask), 0.1).unwrap();
        assert_eq!(
            out.get(0)
                .get(0)
                .get(0)
                .abs()
                .sum(Kind::Float)
                .double_value(&[]),
            0.0
        );
        assert!(out.isfinite().all().int64_value(&[]) == 1);
    }

    #[test]
    fn attention_under_bf16_autocast_returns_bf16() {
        let (q, k, v) = (
            float(&[1, 2, 3, 4]),
            float(&[1, 2, 3, 4]),
            float(&[1, 2, 3, 4]),
        );
        let out = crate::autocast(Device::Cpu, Some(Kind::BFloat16), || {
            attention_dropout(&q, &k, &v, None, 0.1)
        })
        .unwrap()
        .unwrap();
        assert_eq!(out.kind(), Kind::BFloat16);
    }
}
