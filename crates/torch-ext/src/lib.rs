//! The libtorch entry points that tch 0.24 leaves out, through a small C++ shim:
//!
//! - [`autocast`]: mixed precision on a chosen device **and dtype**. tch's own `autocast` only
//!   switches CUDA autocast on at its default fp16; bf16 (and CPU autocast) need the dtype.
//! - [`fused_adamw`]: torch's fused AdamW kernel (`torch.optim.AdamW(fused=True)`), one pass
//!   over each parameter instead of a dozen element-wise ops.
//! - [`set_grad`]: replacing a gradient (a sparse one by its dense copy).
//! - [`Profile`]: libtorch's operator profiler, written as a Chrome trace.
//! - [`dropout`] and [`attention_dropout`]: dropout on the CPU with masks drawn on every
//!   intra-op thread (libtorch's own CPU `bernoulli_` is serial except on Intel with MKL).
//! - [`inference_linear`]: dense layers without gradients through oneDNN, activation fused.
//! - [`c10d`]: PyTorch's distributed engine — stores, the Gloo process group, collectives.

pub mod c10d;
mod dropout;
mod linear;

pub use dropout::{attention_dropout, attention_with_keep_mask, dropout};
pub use linear::{inference_linear, FusedActivation};

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::Path;

use tch::{Device, Kind, Tensor};
use torch_sys::C_tensor;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("libtorch error in {what}: {message}")]
    Torch { what: &'static str, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Tch(#[from] tch::TchError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

extern "C" {
    fn torch_ext_free_error(message: *mut c_char);
    fn torch_ext_autocast_set(
        device: c_int,
        enabled: bool,
        dtype: c_int,
        prev_enabled: *mut bool,
        prev_dtype: *mut c_int,
    ) -> *mut c_char;
    fn torch_ext_autocast_enter();
    fn torch_ext_autocast_exit();
    fn torch_ext_set_grad(param: *mut C_tensor, grad: *mut C_tensor) -> *mut c_char;
    fn torch_ext_profile_begin(path: *const c_char, error: *mut *mut c_char) -> *mut c_void;
    fn torch_ext_profile_end(handle: *mut c_void) -> *mut c_char;
    fn torch_ext_fused_adamw(
        params: *const *mut C_tensor,
        grads: *const *mut C_tensor,
        exp_avgs: *const *mut C_tensor,
        exp_avg_sqs: *const *mut C_tensor,
        steps: *const *mut C_tensor,
        n: usize,
        lr: f64,
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
        eps: f64,
    ) -> *mut c_char;
}

/// Turns the shim's error convention (a malloc'd message, or null) into a `Result`.
pub(crate) fn check(what: &'static str, message: *mut c_char) -> Result<()> {
    if message.is_null() {
        return Ok(());
    }
    // SAFETY: a non-null return is a NUL-terminated string from strdup, freed right after.
    let text = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    unsafe { torch_ext_free_error(message) };
    Err(Error::Torch {
        what,
        message: text.lines().next().unwrap_or_default().to_owned(),
    })
}

pub(crate) fn handle(t: &Tensor) -> *mut C_tensor {
    t.as_ptr() as *mut C_tensor
}

/// Takes the tensor the shim allocated for a successful call.
pub(crate) fn output(
    what: &'static str,
    message: *mut std::ffi::c_char,
    out: *mut C_tensor,
) -> Result<Tensor> {
    check(what, message)?;
    if out.is_null() {
        return Err(Error::Invalid(format!("{what} returned no tensor")));
    }
    // SAFETY: on success the shim hands over a tensor it allocated with `new at::Tensor`, which
    // tch's `Tensor` owns and frees from here on.
    Ok(unsafe { Tensor::from_ptr(out) })
}

/// c10::ScalarType numbers of the dtypes autocast accepts.
fn scalar_type(kind: Kind) -> Result<c_int> {
    match kind {
        Kind::Half => Ok(5),
        Kind::Float => Ok(6),
        Kind::BFloat16 => Ok(15),
        other => Err(Error::Invalid(format!(
            "autocast computes in float16 or bfloat16, not {other:?}"
        ))),
    }
}

fn device_code(device: Device) -> c_int {
    match device {
        Device::Cuda(_) => 1,
        _ => 0,
    }
}

/// Runs `f` with autocast to `dtype` (`Kind::Half` or `Kind::BFloat16`) on `device`'s type,
/// or plainly when `dtype` is `None`. The previous autocast state is restored afterwards.
pub fn autocast<T>(device: Device, dtype: Option<Kind>, f: impl FnOnce() -> T) -> Result<T> {
    let Some(dtype) = dtype else {
        return Ok(f());
    };
    let code = device_code(device);
    let (mut prev_enabled, mut prev_dtype) = (false, 0);
    // SAFETY: plain values in, two out-pointers to locals.
    check("setting autocast", unsafe {
        torch_ext_autocast_set(
            code,
            true,
            scalar_type(dtype)?,
            &mut prev_enabled,
            &mut prev_dtype,
        )
    })?;
    unsafe { torch_ext_autocast_enter() };
    let out = f();
    unsafe { torch_ext_autocast_exit() };
    let (mut ignored_enabled, mut ignored_dtype) = (false, 0);
    check("restoring autocast", unsafe {
        torch_ext_autocast_set(
            code,
            prev_enabled,
            prev_dtype,
            &mut ignored_enabled,
            &mut ignored_dtype,
        )
    })?;
    Ok(out)
}

/// Makes `grad` the gradient of `param` (`param.grad = grad`), e.g. a dense copy of a sparse
/// gradient, so that later backward passes accumulate into it in place.
pub fn set_grad(param: &Tensor, grad: &Tensor) -> Result<()> {
    // SAFETY: two live tch handles; the shim copies the tensor reference, not the handle.
    check("setting a gradient", unsafe {
        torch_ext_set_grad(
            param.as_ptr() as *mut C_tensor,
            grad.as_ptr() as *mut C_tensor,
        )
    })
}

/// Records every libtorch operator run on this thread (and in the backward passes it starts)
/// until dropped, then writes them as a Chrome trace (`chrome://tracing`, Perfetto) to the
/// path given to [`Profile::start`].
pub struct Profile {
    handle: *mut c_void,
}

impl Profile {
    pub fn start(path: &Path) -> Result<Self> {
        let path = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| {
            Error::Invalid(format!(
                "a profile path with a NUL byte: {}",
                path.display()
            ))
        })?;
        let mut error = std::ptr::null_mut();
        // SAFETY: a NUL-terminated path in, an out-pointer to a local.
        let handle = unsafe { torch_ext_profile_begin(path.as_ptr(), &mut error) };
        check("starting the profiler", error)?;
        Ok(Self { handle })
    }

    /// Stops recording and writes the trace.
    pub fn finish(mut self) -> Result<()> {
        let handle = std::mem::replace(&mut self.handle, std::ptr::null_mut());
        // SAFETY: the handle came from torch_ext_profile_begin and is ended once.
        check("writing the profile", unsafe {
            torch_ext_profile_end(handle)
        })
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        if !self.handle.is_null() {
            // SAFETY: as in finish; an error here has no one to go to.
            let _ = check("writing the profile", unsafe {
                torch_ext_profile_end(self.handle)
            });
        }
    }
}

/// The tensors of one fused AdamW call; every list is parallel to `params`.
pub struct AdamwTensors<'a> {
    pub params: &'a [Tensor],
    pub grads: &'a [Tensor],
    pub exp_avgs: &'a [Tensor],
    pub exp_avg_sqs: &'a [Tensor],
    /// float32 scalars: the step number of this update (1 for the first).
    pub steps: &'a [Tensor],
}

/// The AdamW hyperparameters of one update.
#[derive(Debug, Clone, Copy)]
pub struct AdamwSettings {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub weight_decay: f64,
    pub eps: f64,
}

/// One AdamW update of every parameter in place, by torch's fused kernel (CPU or CUDA; all
/// tensors on one device, parameters and moments of one dtype).
pub fn fused_adamw(t: &AdamwTensors<'_>, s: AdamwSettings) -> Result<()> {
    let n = t.params.len();
    for (name, list) in [
        ("grads", t.grads),
        ("exp_avgs", t.exp_avgs),
        ("exp_avg_sqs", t.exp_avg_sqs),
        ("steps", t.steps),
    ] {
        if list.len() != n {
            return Err(Error::Invalid(format!(
                "fused AdamW got {} {name} for {n} parameters",
                list.len()
            )));
        }
    }
    if n == 0 {
        return Ok(());
    }
    let handles = |list: &[Tensor]| -> Vec<*mut C_tensor> {
        list.iter().map(|x| x.as_ptr() as *mut C_tensor).collect()
    };
    let (p, g, m, v, st) = (
        handles(t.params),
        handles(t.grads),
        handles(t.exp_avgs),
        handles(t.exp_avg_sqs),
        handles(t.steps),
    );
    // SAFETY: five arrays of n live tensor handles, borrowed for the duration of the call.
    check("fused AdamW", unsafe {
        torch_ext_fused_adamw(
            p.as_ptr(),
            g.as_ptr(),
            m.as_ptr(),
            v.as_ptr(),
            st.as_ptr(),
            n,
            s.lr,
            s.beta1,
            s.beta2,
            s.weight_decay,
            s.eps,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_autocast_runs_matmuls_in_bfloat16_and_restores_the_state() {
        let a = Tensor::randn([4, 8], (Kind::Float, Device::Cpu));
        let b = Tensor::randn([8, 3], (Kind::Float, Device::Cpu));
        let inside = autocast(Device::Cpu, Some(Kind::BFloat16), || a.matmul(&b)).unwrap();
        assert_eq!(inside.kind(), Kind::BFloat16);
        assert_eq!(a.matmul(&b).kind(), Kind::Float, "autocast is off again");
        let plain = autocast(Device::Cpu, None, || a.matmul(&b)).unwrap();
        assert_eq!(plain.kind(), Kind::Float);
    }

    #[test]
    fn autocast_refuses_a_non_float_dtype() {
        assert!(autocast(Device::Cpu, Some(Kind::Int64), || ()).is_err());
    }

    /// Two steps of the fused kernel against AdamW written out (torch.optim.AdamW's order).
    #[test]
    fn fused_adamw_matches_adamw_written_out() {
        tch::manual_seed(0);
        let s = AdamwSettings {
            lr: 1e-2,
            beta1: 0.9,
            beta2: 0.999,
            weight_decay: 0.01,
            eps: 1e-8,
        };
        let param = Tensor::randn([5, 7], (Kind::Float, Device::Cpu));
        let (mut p_ref, mut m_ref, mut v_ref) =
            (param.copy(), param.zeros_like(), param.zeros_like());
        let (p, m, v) = (param.copy(), param.zeros_like(), param.zeros_like());
        for step in 1..=2 {
            let grad = Tensor::randn([5, 7], (Kind::Float, Device::Cpu));
            let steps = [Tensor::from(step as f32)];
            fused_adamw(
                &AdamwTensors {
                    params: std::slice::from_ref(&p),
                    grads: std::slice::from_ref(&grad),
                    exp_avgs: std::slice::from_ref(&m),
                    exp_avg_sqs: std::slice::from_ref(&v),
                    steps: &steps,
                },
                s,
            )
            .unwrap();
            let t = step as f64;
            p_ref = &p_ref * (1.0 - s.lr * s.weight_decay);
            m_ref = &m_ref * s.beta1 + &grad * (1.0 - s.beta1);
            v_ref = &v_ref * s.beta2 + &grad * &grad * (1.0 - s.beta2);
            let denom = v_ref.sqrt() / (1.0 - s.beta2.powf(t)).sqrt() + s.eps;
            p_ref = &p_ref - &m_ref / denom * (s.lr / (1.0 - s.beta1.powf(t)));
        }
        let diff = (&p - &p_ref).abs().max().double_value(&[]);
        assert!(diff < 1e-6, "{diff}");
        assert!((&m - &m_ref).abs().max().double_value(&[]) < 1e-7);
    }

    #[test]
    fn fused_adamw_rejects_mismatched_lists() {
        let p = [Tensor::zeros([2], (Kind::Float, Device::Cpu))];
        let err = fused_adamw(
            &AdamwTensors {
                params: &p,
                grads: &[],
                exp_avgs: &p,
                exp_avg_sqs: &p,
                steps: &p,
            },
            AdamwSettings {
                lr: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                weight_decay: 0.0,
                eps: 1e-8,
            },
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("0 grads for 1 parameters"),
            "{err}"
        );
    }
}
