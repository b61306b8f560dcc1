//! Which device tensors live on: the configured `config::DeviceChoice` resolved against what
//! this libtorch build sees.

use config::DeviceChoice;
use tch::Device;

use crate::error::{Error, Result};

/// Resolving a [`DeviceChoice`] to a libtorch device. A trait rather than a function so
/// `choice.resolve()` reads as it did when `DeviceChoice` lived in this crate; the config
/// crate stays tch-free.
pub trait ResolveDevice {
    fn resolve(self) -> Result<Device>;
}

impl ResolveDevice for DeviceChoice {
    fn resolve(self) -> Result<Device> {
        match self {
            DeviceChoice::Auto => Ok(Device::cuda_if_available()),
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Cuda(index) => {
                if tch::Cuda::is_available() && (index as i64) < tch::Cuda::device_count() {
                    Ok(Device::Cuda(index))
                } else {
                    Err(Error::CudaUnavailable)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_the_cpu() {
        assert_eq!(DeviceChoice::Cpu.resolve().unwrap(), Device::Cpu);
    }
}
