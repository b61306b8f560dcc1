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
