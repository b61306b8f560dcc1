//! The activation a cross-encoder applies to its logits in `predict` (sentence-transformers'
//! `activation_fn`), named in model folders by its torch class path.

use std::fmt;
use std::str::FromStr;

use tch::{Kind, Tensor};

use crate::error::Result;

/// A torch activation module without arguments, as sentence-transformers instantiates the
/// class path it stores (`import_from_string(path)()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreActivation {
    Identity,
    Sigmoid,
    Tanh,
    Relu,
    /// The exact, erf-based GELU (`nn.GELU()`).
    Gelu,
    Silu,
    LogSigmoid,
    /// `nn.Softmax()` with no `dim`: torch's implicit dimension, the last one for the
    /// `[pairs, labels]` logits of a batch.
    Softmax,
}

/// The torch classes, with the module torch defines them in (what `fullname` writes).
const CLASSES: [(ScoreActivation, &str, &str); 8] = [
    (
        ScoreActivation::Identity,
        "torch.nn.modules.linear",
        "Identity",
    ),
    (
        ScoreActivation::Sigmoid,
        "torch.nn.modules.activation",
        "Sigmoid",
    ),
    (ScoreActivation::Tanh, "torch.nn.modules.activation", "Tanh"),
    (ScoreActivation::Relu, "torch.nn.modules.activation", "ReLU"),
    (ScoreActivation::Gelu, "torch.nn.modules.activation", "GELU"),
    (ScoreActivation::Silu, "torch.nn.modules.activation", "SiLU"),
    (
        ScoreActivation::LogSigmoid,
        "torch.nn.modules.activation",
        "LogSigmoid",
    ),
    (
        ScoreActivation::Softmax,
        "torch.nn.modules.activation",
        "Softmax",
    ),
];

impl ScoreActivation {
    /// sentence-transformers' default: sigmoid for one score per pair, identity otherwise.
    pub fn default_for(num_labels: i64) -> Self {
        if num_labels == 1 {
            ScoreActivation::Sigmoid
        } else {
            ScoreActivation::Identity
        }
    }

    /// The class path sentence-transformers writes (`torch.nn.modules.activation.Sigmoid`).
    pub fn class_path(self) -> String {
        let (_, module, class) = CLASSES
            .iter()
            .find(|(a, _, _)| *a == self)
            .copied()
            .unwrap_or((self, "torch.nn.modules.linear", "Identity"));
        format!("{module}.{class}")
    }

    /// Parses a torch class path as sentence-transformers stores it; `torch.nn.Sigmoid`, the
    /// re-export, is accepted too. `Ok(None)`: a path outside `torch.`, which
    /// sentence-transformers only imports with `trust_remote_code`.
    pub fn from_class_path(path: &str) -> std::result::Result<Option<Self>, String> {
        if !path.starts_with("torch.") {
            return Ok(None);
        }
        let (module, class) = path.rsplit_once('.').unwrap_or(("", path));
        CLASSES
            .iter()
            .find(|(_, own_module, own_class)| {
                *own_class == class && (module == *own_module || module == "torch.nn")
            })
            .map(|(activation, _, _)| Some(*activation))
            .ok_or_else(|| {
                format!(
                    "{path:?} is not a torch activation module this crate runs (known: {})",
                    CLASSES
                        .iter()
                        .map(|(_, m, c)| format!("{m}.{c}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }

    /// # Shapes
    /// `[pairs, labels]` → the same shape
    pub fn forward(self, logits: &Tensor) -> Result<Tensor> {
        Ok(match self {
            ScoreActivation::Identity => logits.shallow_clone(),
            ScoreActivation::Sigmoid => logits.f_sigmoid()?,
            ScoreActivation::Tanh => logits.f_tanh()?,
            ScoreActivation::Relu => logits.f_relu()?,
            ScoreActivation::Gelu => logits.f_gelu("none")?,
            ScoreActivation::Silu => logits.f_silu()?,
            ScoreActivation::LogSigmoid => logits.f_log_sigmoid()?,
            ScoreActivation::Softmax => {
                // torch's implicit dim for nn.Softmax(): 0 for 0-, 1- and 3-d inputs, else 1.
                let dim = match logits.dim() {
                    0 | 1 | 3 => 0,
                    _ => 1,
                };
                logits.f_softmax(dim, Kind::Float)?
            }
        })
    }
}

impl fmt::Display for ScoreActivation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ScoreActivation::Identity => "identity",
            ScoreActivation::Sigmoid => "sigmoid",
            ScoreActivation::Tanh => "tanh",
            ScoreActivation::Relu => "relu",
            ScoreActivation::Gelu => "gelu",
            ScoreActivation::Silu => "silu",
            ScoreActivation::LogSigmoid => "log-sigmoid",
            ScoreActivation::Softmax => "softmax",
        };
        f.write_str(name)
    }
}

/// The short names of the command line (`sigmoid`, `identity`, …) and the class paths.
impl FromStr for ScoreActivation {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let short = [
            ScoreActivation::Identity,
            ScoreActivation::Sigmoid,
            ScoreActivation::Tanh,
            ScoreActivation::Relu,
            ScoreActivation::Gelu,
            ScoreActivation::Silu,
            ScoreActivation::LogSigmoid,
            ScoreActivation::Softmax,
        ]
        .into_iter()
        .find(|a| a.to_string() == s);
        if let Some(activation) = short {
            return Ok(activation);
        }
        match Self::from_class_path(s)? {
            Some(activation) => Ok(activation),
            None => Err(format!(
                "unknown activation {s:?} (use identity, sigmoid, tanh, relu, gelu, silu, \
                 log-sigmoid, softmax or a torch class path)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_paths_round_trip_and_torch_nn_reexports_parse() {
        for (activation, _, _) in CLASSES {
            let path = activation.class_path();
            assert_eq!(
                ScoreActivation::from_class_path(&path),
                Ok(Some(activation))
            );
            assert_eq!(path.parse::<ScoreActivation>(), Ok(activation));
            assert_eq!(
                activation.to_string().parse::<ScoreActivation>(),
                Ok(activation)
            );
        }
        assert_eq!(
            ScoreActivation::from_class_path("torch.nn.Sigmoid"),
            Ok(Some(ScoreActivation::Sigmoid))
        );
        assert_eq!(
            ScoreActivation::from_class_path("mypackage.MyActivation"),
            Ok(None)
        );
        let err =
            ScoreActivation::from_class_path("torch.nn.modules.activation.Sigmoidd").unwrap_err();
        assert!(
            err.contains("Sigmoidd") && err.contains("Identity"),
            "{err}"
        );
    }

    #[test]
    fn defaults_follow_the_label_count() {
        assert_eq!(ScoreActivation::default_for(1), ScoreActivation::Sigmoid);
        assert_eq!(ScoreActivation::default_for(3), ScoreActivation::Identity);
    }

    #[test]
    fn softmax_normalises_each_pair() {
        let logits = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 0.0, 0.0, 0.0]).view([2, 3]);
        let p = ScoreActivation::Softmax.forward(&logits).unwrap();
        let sums = Vec::<f32>::try_from(p.sum_dim_intlist(1, false, Kind::Float)).unwrap();
        assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-6), "{sums:?}");
    }
}
