//! The Dense module: a linear layer and an activation on the sentence embedding
//! (`{N}_Dense/config.json` and `{N}_Dense/model.safetensors` with `linear.weight`,
//! `linear.bias`).
//!
//! Its variables live in the model's `VarStore` under `modules.{idx}.linear.*`, so the trainer's
//! optimizer updates them and checkpoints carry them; they are read from and written to the
//! module's own folder under the names sentence-transformers uses (`linear.weight`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use crate::encoder::shapes::{dim, size_mismatch};
use crate::error::{read_json, write_json, Error, Result};
use crate::safetensors_header::SafetensorsHeader;

/// The `VarStore` scope that holds the variables of the modules after the Transformer.
pub(crate) const MODULES_SCOPE: &str = "modules";

/// The one input and output name sentence-transformers' Dense reads and writes by default.
const SENTENCE_EMBEDDING: &str = "sentence_embedding";

/// `{N}_Dense/config.json` as sentence-transformers 2.x–6.x writes it. Keys that only newer
/// versions write are optional; values this crate cannot run (another input name, a residual)
/// are errors at load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseConfig {
    pub in_features: i64,
    pub out_features: i64,
    #[serde(default = "default_bias")]
    pub bias: bool,
    /// A `torch.nn` class path (`torch.nn.modules.activation.Tanh`); sentence-transformers'
    /// default when absent is Tanh.
    #[serde(default = "default_activation")]
    pub activation_function: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_input_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_output_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_residual: Option<bool>,
}

fn default_bias() -> bool {
    true
}

fn default_activation() -> String {
    DenseActivation::Tanh.python_type().into()
}

/// The activations a Dense module may name, as `torch.nn` modules compute them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenseActivation {
    Tanh,
    Identity,
    Relu,
    /// The exact, erf-based GELU (`torch.nn.GELU()`'s default).
    Gelu,
    Sigmoid,
    Silu,
}

impl DenseActivation {
    pub const ALL: [DenseActivation; 6] = [
        DenseActivation::Tanh,
        DenseActivation::Identity,
        DenseActivation::Relu,
        DenseActivation::Gelu,
        DenseActivation::Sigmoid,
        DenseActivation::Silu,
    ];

    /// The class path `sentence_transformers.util.fullname` writes.
    pub fn python_type(self) -> &'static str {
        match self {
            DenseActivation::Tanh => "torch.nn.modules.activation.Tanh",
            DenseActivation::Identity => "torch.nn.modules.linear.Identity",
            DenseActivation::Relu => "torch.nn.modules.activation.ReLU",
            DenseActivation::Gelu => "torch.nn.modules.activation.GELU",
            DenseActivation::Sigmoid => "torch.nn.modules.activation.Sigmoid",
            DenseActivation::Silu => "torch.nn.modules.activation.SiLU",
        }
    }

    /// The full class path, or its `torch.nn.` short form (`torch.nn.Tanh`), which
    /// sentence-transformers imports alike.
    pub fn from_python_type(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| {
            let full = a.python_type();
            let short = full.rsplit('.').next().unwrap_or(full);
            name == full || name == format!("torch.nn.{short}")
        })
    }

    fn forward(self, xs: &Tensor) -> Result<Tensor> {
        Ok(match self {
            DenseActivation::Tanh => xs.f_tanh()?,
            DenseActivation::Identity => xs.shallow_clone(),
            DenseActivation::Relu => xs.f_relu()?,
            DenseActivation::Gelu => xs.f_gelu("none")?,
            DenseActivation::Sigmoid => xs.f_sigmoid()?,
            DenseActivation::Silu => xs.f_silu()?,
        })
    }
}

#[derive(Debug)]
pub(crate) struct Dense {
    config: DenseConfig,
    activation: DenseActivation,
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Dense {
    /// A Dense module under `p` (`modules.{idx}`), initialised as `torch.nn.Linear` is.
    pub(crate) fn new(p: &nn::Path, config: DenseConfig, path: &Path) -> Result<Self> {
        let activation = check_config(&config, path)?;
        let linear = nn::linear(
            p / "linear",
            config.in_features,
            config.out_features,
            nn::LinearConfig {
                bias: config.bias,
                ..Default::default()
            },
        );
        Ok(Dense {
            config,
            activation,
            weight: linear.ws,
            bias: linear.bs,
        })
    }

    /// Reads `dir/config.json` and builds the module under `p`, weights not yet loaded. Its
    /// sizes are checked against the checkpoint's header first: the variables are never
    /// bigger than the checkpoint that fills them.
    pub(crate) fn from_dir(p: &nn::Path, dir: &Path) -> Result<Self> {
        let path = dir.join("config.json");
        let config: DenseConfig = read_json(&path, "a Dense config")?;
        check_config(&config, &path)?;
        check_checkpoint(&config, &path, &weights_file(dir)?)?;
        Self::new(p, config, &path)
    }

    pub(crate) fn config(&self) -> &DenseConfig {
        &self.config
    }

    pub(crate) fn in_features(&self) -> i64 {
        self.config.in_features
    }

    pub(crate) fn out_features(&self) -> i64 {
        self.config.out_features
    }

    /// Copies `dir/model.safetensors` (`linear.weight`, `linear.bias`) into the variables,
    /// after checking every name and shape.
    pub(crate) fn load_weights(&mut self, dir: &Path) -> Result<()> {
        let path = weights_file(dir)?;
        let tensors: BTreeMap<String, Tensor> = Tensor::read_safetensors(&path)
            .map_err(|source| Error::Torch {
                context: Some(format!("reading {}", path.display())),
                source,
            })?
            .into_iter()
            .collect();
        let mut targets = vec![("linear.weight", &mut self.weight)];
        if let Some(bias) = self.bias.as_mut() {
            targets.push(("linear.bias", bias));
        }
        for (key, var) in &targets {
            let source = tensors.get(*key).ok_or_else(|| Error::MissingTensor {
                path: path.clone(),
                architecture: "Dense",
                key: key.to_string(),
                expected: var.size(),
            })?;
            if source.size() != var.size() {
                return Err(Error::TensorShape {
                    path: path.clone(),
                    architecture: "Dense",
                    key: key.to_string(),
                    expected: var.size(),
                    found: source.size(),
                });
            }
        }
        tch::no_grad(|| -> Result<()> {
            for (key, var) in targets {
                if let Some(source) = tensors.get(key) {
                    var.f_copy_(source)?;
                }
            }
            Ok(())
        })
    }

    /// Writes `dir/config.json` with the keys every sentence-transformers version accepts, and
    /// `dir/model.safetensors`.
    pub(crate) fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let config = DenseConfig {
            activation_function: self.activation.python_type().into(),
            module_input_name: None,
            module_output_name: None,
            use_residual: None,
            ..self.config.clone()
        };
        write_json(&dir.join("config.json"), &config)?;
        let mut named = vec![("linear.weight".to_string(), cpu(&self.weight))];
        if let Some(bias) = &self.bias {
            named.push(("linear.bias".to_string(), cpu(bias)));
        }
        let path = dir.join("model.safetensors");
        Tensor::write_safetensors(&named, &path).map_err(|source| Error::Torch {
            context: Some(format!("writing {}", path.display())),
            source,
        })
    }

    /// # Shapes
    /// xs: `[batch, in_features]` → `[batch, out_features]`
    pub(crate) fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let size = xs.size();
        if size.last() != Some(&self.config.in_features) {
            return Err(Error::Shape {
                context: "Dense: sentence embeddings [batch, dim] vs the module's in_features",
                left: size,
                right: vec![self.config.in_features],
            });
        }
        let linear = xs.f_linear(&self.weight, self.bias.as_ref())?;
        self.activation.forward(&linear)
    }
}

/// `dir/model.safetensors`, or the error for its absence (naming a pickle found instead).
fn weights_file(dir: &Path) -> Result<PathBuf> {
    let path = dir.join("model.safetensors");
    if path.is_file() {
        return Ok(path);
    }
    let pickle = dir.join("pytorch_model.bin");
    Err(if pickle.is_file() {
        Error::PickleCheckpoint { path: pickle }
    } else {
        Error::MissingFile { path }
    })
}

/// `linear.weight` in `weights` must be `[out_features, in_features]`.
fn check_checkpoint(config: &DenseConfig, path: &Path, weights: &Path) -> Result<()> {
    let header = SafetensorsHeader::read(weights)?;
    let expected = vec![config.out_features, config.in_features];
    let found = header
        .shape("linear.weight")
        .ok_or_else(|| Error::MissingTensor {
            path: weights.to_path_buf(),
            architecture: "Dense",
            key: "linear.weight".into(),
            expected: expected.clone(),
        })?;
    if found == expected.as_slice() {
        return Ok(());
    }
    let culprit = if found.first() == Some(&config.out_features) {
        dim("in_features", config.in_features)
    } else {
        dim("out_features", config.out_features)
    };
    let tensor = "linear.weight";
    Err(size_mismatch(
        path, "Dense", culprit, tensor, &expected, weights, found,
    ))
}

fn cpu(t: &Tensor) -> Tensor {
    t.detach().to_device(tch::Device::Cpu).contiguous()
}

/// The activation, after checking that this crate runs the config as sentence-transformers does.
fn check_config(config: &DenseConfig, path: &Path) -> Result<DenseActivation> {
    let bad = |message: String| Error::Config {
        path: path.to_path_buf(),
        message,
    };
    if config.in_features <= 0 || config.out_features <= 0 {
        return Err(bad(format!(
            "in_features and out_features must be positive, got {} and {}",
            config.in_features, config.out_features
        )));
    }
    let width = crate::config_json::MAX_WIDTH;
    crate::config_json::check_sizes(&[
        ("in_features", config.in_features, width),
        ("out_features", config.out_features, width),
    ])
    .map_err(bad)?;
    for (key, value) in [
        ("module_input_name", &config.module_input_name),
        ("module_output_name", &config.module_output_name),
    ] {
        if let Some(name) = value.as_deref().filter(|n| *n != SENTENCE_EMBEDDING) {
            return Err(bad(format!(
                "key {key} is {name:?}; only {SENTENCE_EMBEDDING:?} is supported"
            )));
        }
    }
    if config.use_residual == Some(true) {
        return Err(bad("key use_residual true is not supported".into()));
    }
    DenseActivation::from_python_type(&config.activation_function).ok_or_else(|| {
        let names: Vec<&str> = DenseActivation::ALL
            .iter()
            .map(|a| a.python_type())
            .collect();
        bad(format!(
            "key activation_function {:?} is not supported (supported: {})",
            config.activation_function,
            names.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> DenseConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn activations_by_full_and_short_class_path() {
        assert_eq!(
            DenseActivation::from_python_type("torch.nn.modules.linear.Identity"),
            Some(DenseActivation::Identity)
        );
        assert_eq!(
            DenseActivation::from_python_type("torch.nn.Tanh"),
            Some(DenseActivation::Tanh)
        );
        assert_eq!(DenseActivation::from_python_type("my.Tanh"), None);
    }

    #[test]
    fn unknown_activation_lists_the_supported_ones() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let c = config(
            r#"{"in_features": 4, "out_features": 2, "activation_function": "torch.nn.modules.activation.Softplus"}"#,
        );
        let err = Dense::new(&vs.root(), c, Path::new("2_Dense/config.json"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Softplus")
                && err.contains("torch.nn.modules.activation.Tanh")
                && err.contains("2_Dense/config.json"),
            "{err}"
        );
    }

    #[test]
    fn defaults_are_sentence_transformers_and_residuals_are_refused() {
        let c = config(r#"{"in_features": 4, "out_features": 2}"#);
        assert!(c.bias);
        assert_eq!(c.activation_function, "torch.nn.modules.activation.Tanh");
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let c = config(r#"{"in_features": 4, "out_features": 2, "use_residual": true}"#);
        let err = Dense::new(&vs.root(), c, Path::new("x")).unwrap_err();
        assert!(err.to_string().contains("use_residual"), "{err}");
    }

    #[test]
    fn forward_is_activation_of_linear() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let c = config(r#"{"in_features": 2, "out_features": 1, "bias": false}"#);
        let mut dense = Dense::new(&vs.root(), c, Path::new("x")).unwrap();
        tch::no_grad(|| {
            dense
                .weight
                .copy_(&Tensor::from_slice(&[1f32, 2.]).view([1, 2]))
        });
        let out = dense
            .forward(&Tensor::from_slice(&[0.5f32, 0.25]).view([1, 2]))
            .unwrap();
        assert!((out.double_value(&[0, 0]) - 1f64.tanh()).abs() < 1e-6);
        let err = dense.forward(&Tensor::zeros([1, 3], tch::kind::FLOAT_CPU));
        assert!(err.unwrap_err().to_string().contains("[1, 3]"));
    }
}
