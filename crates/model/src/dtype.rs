//! The dtype a model computes in. Only the transformer's weights take it: Pooling, Dense and
//! Normalize run in float32 on its float32 output, and embeddings are float32 whatever the
//! compute dtype.

use std::fmt;
use std::str::FromStr;

use tch::{Device, Kind};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComputeDtype {
    /// float32: the reference numbers.
    #[default]
    Fp32,
    /// bfloat16: float32's range, 8 bits of mantissa; on CPUs with AVX-512 BF16 (or AMX) its
    /// matrix products run at two to three times the float32 rate.
    Bf16,
    /// float16: CUDA only (CPU kernels for it are slow or missing).
    Fp16,
}

impl ComputeDtype {
    pub const NAMES: [&'static str; 3] = ["fp32", "bf16", "fp16"];

    pub fn name(self) -> &'static str {
        match self {
            Self::Fp32 => "fp32",
            Self::Bf16 => "bf16",
            Self::Fp16 => "fp16",
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Self::Fp32 => Kind::Float,
            Self::Bf16 => Kind::BFloat16,
            Self::Fp16 => Kind::Half,
        }
    }

    /// Warns when bf16 is asked of a CPU without bf16 instructions: libtorch then emulates
    /// every bf16 product, which on an AVX2-only EPYC measured about 20 times slower than
    /// float32 (a 0.1 s float32 attention forward and backward took 1.6 s), so the user
    /// should hear it before a run that crawls.
    pub fn warn_if_emulated(self, device: Device) {
        if self == Self::Bf16 && !device.is_cuda() && !cpu_has_native_bf16() {
            tracing::warn!(
                "bf16 on a CPU without AVX-512 BF16 or AMX: libtorch emulates it, far slower \
                 than fp32 (about 20x measured); use fp32 on this machine"
            );
        }
    }

    /// Refuses a dtype the device cannot compute in (fp16 on the CPU).
    pub fn check_device(self, device: Device) -> Result<()> {
        if self == Self::Fp16 && !device.is_cuda() {
            return Err(Error::InvalidInput(
                "fp16 computes on CUDA only; on the CPU use bf16 or fp32".into(),
            ));
        }
        Ok(())
    }
}

/// Whether this CPU multiplies bf16 natively (AVX-512 BF16 or AMX; Arm's BF16 extension), where libtorch's oneDNN
/// kernels make bf16 pay.
pub fn cpu_has_native_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // AMX detection is not stable Rust yet; every AMX CPU (Sapphire Rapids on) also has
        // AVX-512 BF16.
        std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("bf16")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

impl fmt::Display for ComputeDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ComputeDtype {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "fp32" | "float32" => Ok(Self::Fp32),
            "bf16" | "bfloat16" => Ok(Self::Bf16),
            "fp16" | "float16" => Ok(Self::Fp16),
            other => Err(Error::InvalidInput(format!(
                "unknown dtype {other:?}; expected one of {}",
                Self::NAMES.join(", ")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_list_the_choices() {
        for name in ComputeDtype::NAMES {
            assert_eq!(name.parse::<ComputeDtype>().unwrap().name(), name);
        }
        let err = "fp8".parse::<ComputeDtype>().unwrap_err().to_string();
        assert!(
            err.contains("\"fp8\"") && err.contains("fp32, bf16, fp16"),
            "{err}"
        );
    }

    #[test]
    fn fp16_is_refused_on_the_cpu() {
        let err = ComputeDtype::Fp16.check_device(Device::Cpu).unwrap_err();
        assert!(err.to_string().contains("CUDA only"), "{err}");
        assert!(ComputeDtype::Bf16.check_device(Device::Cpu).is_ok());
    }
}
