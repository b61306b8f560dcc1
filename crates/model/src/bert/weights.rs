//! Loading and saving Hugging Face safetensors checkpoints into a `VarStore`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use tch::{nn, Tensor};

use crate::error::{Error, Result};

/// Copies the tensors of `path` into the variables of `vs`, matching Hugging Face key names.
/// Checkpoints saved from `BertForXxx` carry a `bert.` prefix and old ones name LayerNorm
/// parameters `gamma`/`beta`; both are accepted. Keys the model does not use (`cls.*` heads,
/// the `position_ids` buffer) are ignored.
pub fn load_weights(vs: &mut nn::VarStore, path: &Path) -> Result<()> {
    if !path.is_file() {
        return Err(Error::MissingFile {
            path: path.to_path_buf(),
        });
    }
    let tensors = Tensor::read_safetensors(path).map_err(|source| Error::Torch {
        context: Some(format!("reading {}", path.display())),
        source,
    })?;
    let mut by_name: HashMap<String, Tensor> = HashMap::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        by_name.insert(canonical_key(&name), tensor);
    }
    // Sorted, and every key and shape checked before anything is copied: the first error
    // reported is the same on every run, and a bad file never leaves half-loaded weights.
    let mut variables: BTreeMap<String, Tensor> = vs.variables().into_iter().collect();
    for (name, var) in &variables {
        let source = by_name
            .get(name.as_str())
            .ok_or_else(|| Error::MissingTensor {
                path: path.to_path_buf(),
                key: name.clone(),
            })?;
        if source.size() != var.size() {
            return Err(Error::TensorShape {
                path: path.to_path_buf(),
                key: name.clone(),
                expected: var.size(),
                found: source.size(),
            });
        }
    }
    tch::no_grad(|| -> Result<()> {
        for (name, var) in variables.iter_mut() {
            if let Some(source) = by_name.get(name.as_str()) {
                var.f_copy_(source)?;
            }
        }
        Ok(())
    })?;
    let unused: Vec<&String> = by_name
        .keys()
        .filter(|k| !variables.contains_key(k.as_str()))
        .collect();
    if !unused.is_empty() {
        tracing::debug!(file = %path.display(), ?unused, "checkpoint tensors not used by the model");
    }
    Ok(())
}

/// Writes every variable of `vs` to `path` as float32 safetensors, atomically.
pub fn save_weights(vs: &nn::VarStore, path: &Path) -> Result<()> {
    let mut named: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(name, t)| (name, t.detach().to_device(tch::Device::Cpu).contiguous()))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let tmp = path.with_extension("safetensors.tmp");
    Tensor::write_safetensors(&named, &tmp).map_err(|source| Error::Torch {
        context: Some(format!("writing {}", tmp.display())),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn canonical_key(name: &str) -> String {
    let name = name.strip_prefix("bert.").unwrap_or(name);
    if let Some(stem) = name.strip_suffix(".gamma") {
        format!("{stem}.weight")
    } else if let Some(stem) = name.strip_suffix(".beta") {
        format!("{stem}.bias")
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_keys() {
        assert_eq!(
            canonical_key("bert.embeddings.LayerNorm.gamma"),
            "embeddings.LayerNorm.weight"
        );
        assert_eq!(
            canonical_key("encoder.layer.0.output.LayerNorm.beta"),
            "encoder.layer.0.output.LayerNorm.bias"
        );
        assert_eq!(canonical_key("pooler.dense.weight"), "pooler.dense.weight");
    }
}
