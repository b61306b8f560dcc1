//! The `activation_fn` a cross-encoder loss applies to the logits before its computation.

use tch::{TchError, Tensor};

use crate::error::{Error, Result};

/// `activation_fn`: 6.3 takes any `nn.Module`; these are the ones its docs and defaults use.
/// `None` in 6.3 (where a loss accepts it) is [`Activation::Identity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activation {
    /// `nn.Identity()`, the default of every loss but the MNRL ones.
    #[default]
    Identity,
    /// `nn.Sigmoid()`, the MNRL losses' default.
    Sigmoid,
    /// `nn.Tanh()`.
    Tanh,
}

impl Activation {
    /// Parses `identity`, `sigmoid`, `tanh` (any case) or the module's full name as 6.3's
    /// `get_config_dict` writes it (`torch.nn.modules.activation.Sigmoid`).
    pub fn from_name(name: &str) -> Result<Self> {
        let short = name.rsplit('.').next().unwrap_or(name);
        match short.to_ascii_lowercase().as_str() {
            "identity" => Ok(Activation::Identity),
            "sigmoid" => Ok(Activation::Sigmoid),
            "tanh" => Ok(Activation::Tanh),
            _ => Err(Error::Config(format!(
                "unknown activation_fn {name:?}; expected identity, sigmoid or tanh"
            ))),
        }
    }

    /// The full name 6.3 records in a loss's config (`fullname(self.activation_fn)`).
    pub fn fullname(self) -> &'static str {
        match self {
            Activation::Identity => "torch.nn.modules.linear.Identity",
            Activation::Sigmoid => "torch.nn.modules.activation.Sigmoid",
            Activation::Tanh => "torch.nn.modules.activation.Tanh",
        }
    }

    pub(crate) fn apply(self, logits: &Tensor) -> Result<Tensor, TchError> {
        match self {
            Activation::Identity => Ok(logits.shallow_clone()),
            Activation::Sigmoid => logits.f_sigmoid(),
            Activation::Tanh => logits.f_tanh(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_short_and_full() {
        for a in [Activation::Identity, Activation::Sigmoid, Activation::Tanh] {
            assert_eq!(Activation::from_name(a.fullname()).unwrap(), a);
        }
        assert_eq!(
            Activation::from_name("Sigmoid").unwrap(),
            Activation::Sigmoid
        );
        let err = Activation::from_name("relu6").unwrap_err().to_string();
        assert!(err.contains("relu6"), "{err}");
    }
}
