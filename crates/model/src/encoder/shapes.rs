//! The tensor shapes a config implies, checked before any variable exists: libtorch's variable
//! creation panics when an allocation fails, so a config of absurd sizes must be refused first.
//! Two checks: a budget on the weights the config implies (loaded or built in code), and at
//! load each size key against the checkpoint's header (whose shapes are bounded by the file's
//! size), so the variables are never bigger than the checkpoint that fills them.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::{Error, Result};
use crate::layers::post_norm_block::BlockKeys;
use crate::safetensors_header::SafetensorsHeader;
use crate::weights::KeyMap;

/// The most weights a config may imply: 2^36 (69 billion, 275 GB in fp32), far above any
/// sentence-embedding model and far below sizes whose allocation is bound to fail.
const MAX_WEIGHTS: u128 = 1 << 36;

/// One dimension, with the config key (or product of keys) that sets it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dim {
    pub key: &'static str,
    pub size: i64,
}

pub(crate) fn dim(key: &'static str, size: i64) -> Dim {
    Dim { key, size }
}

/// A tensor of the checkpoint (named without the checkpoint's prefix) and its dimensions.
#[derive(Debug, Clone)]
pub(crate) struct ExpectedTensor {
    pub name: String,
    pub dims: Vec<Dim>,
}

pub(crate) fn tensor(name: impl Into<String>, dims: &[Dim]) -> ExpectedTensor {
    ExpectedTensor {
        name: name.into(),
        dims: dims.to_vec(),
    }
}

impl ExpectedTensor {
    fn shape(&self) -> Vec<i64> {
        self.dims.iter().map(|d| d.size).collect()
    }

    fn elements(&self) -> u128 {
        self.dims.iter().fold(1, |n, d| {
            n.saturating_mul(u128::try_from(d.size).unwrap_or(0))
        })
    }
}

/// The tensors that carry every size key of an architecture: embedding tables, and the
/// projections of one layer (layers are alike, so layer 0 stands for all).
#[derive(Debug, Clone)]
pub(crate) struct ExpectedShapes {
    pub layers: Dim,
    /// The prefix the layers are numbered under (`encoder.layer.`).
    pub layer_prefix: &'static str,
    pub model: Vec<ExpectedTensor>,
    /// Named relative to the layer (`intermediate.dense.weight`).
    pub layer: Vec<ExpectedTensor>,
}

impl ExpectedShapes {
    /// Refuses configs that imply more than [`MAX_WEIGHTS`] weights.
    pub(crate) fn check_budget(&self) -> std::result::Result<(), String> {
        let layers = u128::try_from(self.layers.size).unwrap_or(0);
        let per_layer = self.layer.iter().map(ExpectedTensor::elements);
        let total = self
            .model
            .iter()
            .map(ExpectedTensor::elements)
            .chain(per_layer.map(|n| n.saturating_mul(layers)))
            .fold(0u128, u128::saturating_add);
        if total <= MAX_WEIGHTS {
            return Ok(());
        }
        let largest = self
            .model
            .iter()
            .chain(&self.layer)
            .max_by_key(|t| t.elements())
            .map(|t| format!("{} {:?}", t.name, t.shape()))
            .unwrap_or_default();
        Err(format!(
            "the sizes imply {total} weights ({} = {} layers; largest tensor {largest}), more \
             than the {MAX_WEIGHTS} this crate builds",
            self.layers.key, self.layers.size
        ))
    }

    /// Compares every size key of `config` with the checkpoint `header`: the layer count may not
    /// exceed the checkpoint's, and each expected tensor must have the checkpoint's shape.
    pub(crate) fn check_checkpoint(
        &self,
        config: &Path,
        header: &SafetensorsHeader,
        keys: &KeyMap,
    ) -> Result<()> {
        let prefix = keys
            .find_prefix(|name| header.shape(name).is_some())
            .ok_or_else(|| keys.no_weights(header.path()))?;
        let layers = format!("{prefix}{}", self.layer_prefix);
        let present = layer_count(header, &layers);
        if self.layers.size > present {
            return Err(Error::Config {
                path: config.to_path_buf(),
                message: format!(
                    "key {} is {}, but {} holds only {present} {} layers ({layers}N.…)",
                    self.layers.key,
                    self.layers.size,
                    header.path().display(),
                    keys.architecture
                ),
            });
        }
        let model = self
            .model
            .iter()
            .map(|t| (format!("{prefix}{}", t.name), t));
        let layer = self
            .layer
            .iter()
            .map(|t| (format!("{layers}0.{}", t.name), t));
        for (name, expected) in model.chain(layer) {
            check_tensor(config, header, keys, &name, expected)?;
        }
        Ok(())
    }
}

/// How many distinct layer indices the header holds under `layers` (`encoder.layer.`).
fn layer_count(header: &SafetensorsHeader, layers: &str) -> i64 {
    let indices: BTreeSet<u64> = header
        .names()
        .filter_map(|name| name.strip_prefix(layers)?.split('.').next()?.parse().ok())
        .collect();
    i64::try_from(indices.len()).unwrap_or(i64::MAX)
}

fn check_tensor(
    config: &Path,
    header: &SafetensorsHeader,
    keys: &KeyMap,
    name: &str,
    expected: &ExpectedTensor,
) -> Result<()> {
    let shape = expected.shape();
    let found = header.shape(name).ok_or_else(|| Error::MissingTensor {
        path: header.path().to_path_buf(),
        architecture: keys.architecture,
        key: name.to_string(),
        expected: shape.clone(),
    })?;
    if found == shape.as_slice() {
        return Ok(());
    }
    // The first dimension that differs names the key; a rank mismatch blames the first.
    let culprit = expected
        .dims
        .iter()
        .zip(found)
        .find(|(d, f)| d.size != **f)
        .map(|(d, _)| *d)
        .or_else(|| expected.dims.first().copied())
        .unwrap_or(dim("shape", 0));
    Err(size_mismatch(
        config,
        keys.architecture,
        culprit,
        name,
        &shape,
        header.path(),
        found,
    ))
}

/// The error for a tensor whose shape from the config at `config` (where `culprit` differs)
/// is not the one the checkpoint at `weights` holds.
pub(crate) fn size_mismatch(
    config: &Path,
    architecture: &str,
    culprit: Dim,
    tensor: &str,
    expected: &[i64],
    weights: &Path,
    found: &[i64],
) -> Error {
    Error::Config {
        path: config.to_path_buf(),
        message: format!(
            "{} = {} gives {architecture} weight {tensor} the shape {expected:?}, but {} holds \
             {found:?}",
            culprit.key,
            culprit.size,
            weights.display()
        ),
    }
}

/// The weights of a post-norm block (BERT, RoBERTa, MPNet, DistilBERT): four `[hidden,
/// hidden]` attention projections and the feed-forward pair.
pub(crate) fn post_norm_layer(keys: &BlockKeys, hidden: Dim, inner: Dim) -> Vec<ExpectedTensor> {
    let a = keys.attention;
    let mut tensors: Vec<ExpectedTensor> = [a.query, a.key, a.value, a.output]
        .iter()
        .map(|name| tensor(format!("{name}.weight"), &[hidden, hidden]))
        .collect();
    tensors.push(tensor(
        format!("{}.weight", keys.ff_input),
        &[inner, hidden],
    ));
    tensors.push(tensor(
        format!("{}.weight", keys.ff_output),
        &[hidden, inner],
    ));
    tensors
}
