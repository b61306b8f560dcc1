//! Loading and saving Hugging Face safetensors checkpoints into a `VarStore`, through each
//! architecture's key map.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use tch::{nn, Tensor};

use crate::dense::MODULES_SCOPE;
use crate::error::{Error, Result};

/// Prefixes that checkpoints put before the base model's key names, in the order they are
/// probed after the architecture's own: task heads (`BertForMaskedLM`, …) save the base model
/// under its `base_model_prefix` (ModernBERT's and Qwen3's is `model.`, which some exporters also
/// use); a bare `AutoModel` under none.
const PREFIXES: [&str; 6] = ["bert.", "roberta.", "mpnet.", "distilbert.", "model.", ""];

/// How one architecture's variables are named in checkpoints. The variables themselves carry
/// the base model's names (`embeddings.word_embeddings.weight`, …), which is what saving writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyMap {
    /// The architecture, for messages (`"BERT"`).
    pub architecture: &'static str,
    /// The architecture's own `base_model_prefix`, probed first (`"bert."`).
    pub prefix: &'static str,
    /// A key every checkpoint of the architecture holds, to find the prefix with.
    pub probe: &'static str,
}

impl KeyMap {
    /// The prefixes to try, the architecture's own first.
    fn prefixes(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.prefix).chain(PREFIXES.into_iter().filter(|p| *p != self.prefix))
    }

    /// The error for a checkpoint at `path` in which no prefix finds the probe key.
    pub(crate) fn no_weights(&self, path: &Path) -> Error {
        Error::NoWeights {
            path: path.to_path_buf(),
            architecture: self.architecture,
            probe: self.probe,
            prefixes: self
                .prefixes()
                .map(|p| format!("{p:?}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// The prefix under which `names` hold this architecture's weights.
    pub(crate) fn find_prefix<'n>(
        &self,
        names: impl Fn(&str) -> bool + 'n,
    ) -> Option<&'static str> {
        self.prefixes()
            .find(|p| names(&format!("{p}{}", self.probe)))
    }
}

/// Copies the tensors of `path` into the encoder's variables of `vs` (those of later modules,
/// under `modules.`, are left to their modules), matching key names through `keys`.
/// The prefix is probed (`bert.`, `roberta.`, …, `model.`, none); old checkpoints name
/// LayerNorm parameters `gamma`/`beta`, which are accepted. Keys the model does not use (task
/// heads, the `position_ids` buffer) are ignored. Nothing is copied unless every variable has
/// a tensor of its shape.
pub fn load_weights(vs: &mut nn::VarStore, path: &Path, keys: &KeyMap) -> Result<()> {
    load_encoder_tensors(vs, path, keys, read_tensors(path)?)
}

/// Every tensor of the safetensors file at `path`, by name.
pub(crate) fn read_tensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    if !path.is_file() {
        return Err(Error::MissingFile {
            path: path.to_path_buf(),
        });
    }
    let tensors = Tensor::read_safetensors(path).map_err(|source| Error::Torch {
        context: Some(format!("reading {}", path.display())),
        source,
    })?;
    Ok(tensors.into_iter().collect())
}

/// [`load_weights`] from the tensors of `path` already read.
pub(crate) fn load_encoder_tensors(
    vs: &mut nn::VarStore,
    path: &Path,
    keys: &KeyMap,
    names: HashMap<String, Tensor>,
) -> Result<()> {
    let prefix = keys
        .find_prefix(|k| names.contains_key(k))
        .ok_or_else(|| keys.no_weights(path))?;
    let by_name: HashMap<String, Tensor> = names
        .into_iter()
        .filter_map(|(name, t)| Some((canonical_key(name.strip_prefix(prefix)?), t)))
        .collect();
    // Sorted, and every key and shape checked before anything is copied: the first error
    // reported is the same on every run, and a bad file never leaves half-loaded weights.
    let mut variables: BTreeMap<String, Tensor> = encoder_variables(vs).collect();
    for (name, var) in &variables {
        check_tensor(path, keys, prefix, name, var, by_name.get(name.as_str()))?;
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

fn check_tensor(
    path: &Path,
    keys: &KeyMap,
    prefix: &str,
    name: &str,
    var: &Tensor,
    source: Option<&Tensor>,
) -> Result<()> {
    let source = source.ok_or_else(|| Error::MissingTensor {
        path: path.to_path_buf(),
        architecture: keys.architecture,
        key: format!("{prefix}{name}"),
        expected: var.size(),
    })?;
    if source.size() != var.size() {
        return Err(Error::TensorShape {
            path: path.to_path_buf(),
            architecture: keys.architecture,
            key: format!("{prefix}{name}"),
            expected: var.size(),
            found: source.size(),
        });
    }
    Ok(())
}

/// Writes every encoder variable of `vs` (not those of later modules, under `modules.`) to `path` as safetensors under the base model's key names
/// (what `AutoModel.from_pretrained` reads), atomically.
pub fn save_weights(vs: &nn::VarStore, path: &Path) -> Result<()> {
    write_named(encoder_variables(vs).collect(), path)
}

/// Writes a task model's checkpoint as transformers' `*ForSequenceClassification` saves it:
/// the encoder's variables under `prefix` (`bert.`, `roberta.`, …) and those under
/// `head_scope` at the root under the rest of their names, atomically. Other module variables
/// are left out.
pub(crate) fn save_task_weights(
    vs: &nn::VarStore,
    path: &Path,
    prefix: &str,
    head_scope: &str,
) -> Result<()> {
    write_named(task_variables(vs, prefix, head_scope), path)
}

/// The variables of a task model by their checkpoint names (see [`save_task_weights`]).
pub(crate) fn task_variables(
    vs: &nn::VarStore,
    prefix: &str,
    head_scope: &str,
) -> Vec<(String, Tensor)> {
    let head = format!("{head_scope}.");
    vs.variables()
        .into_iter()
        .filter_map(|(name, t)| match name.strip_prefix(&head) {
            Some(rest) => Some((rest.to_string(), t)),
            None => (!is_module_variable(&name)).then(|| (format!("{prefix}{name}"), t)),
        })
        .collect()
}

fn write_named(named: Vec<(String, Tensor)>, path: &Path) -> Result<()> {
    let mut named: Vec<(String, Tensor)> = named
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

/// The encoder's variables: all but those of the modules after the Transformer (Dense), which
/// live under [`MODULES_SCOPE`] and are read and written by their modules.
fn encoder_variables(vs: &nn::VarStore) -> impl Iterator<Item = (String, Tensor)> {
    vs.variables()
        .into_iter()
        .filter(|(name, _)| !is_module_variable(name))
}

pub(crate) fn is_module_variable(name: &str) -> bool {
    name.strip_prefix(MODULES_SCOPE)
        .is_some_and(|rest| rest.starts_with('.'))
}

fn canonical_key(name: &str) -> String {
    if let Some(stem) = name.strip_suffix(".gamma") {
        format!("{stem}.weight")
    } else if let Some(stem) = name.strip_suffix(".beta") {
        format!("{stem}.bias")
    } else {
        name.to_string()
    }
}

/// Registers every variable of `vars` under `under` (the same tensors, not copies), so the var
/// store of `under` optimises and checkpoints them: a model copy or a decoder trained as part
/// of a loss. Names keep their dotted form below `under`.
pub fn share_variables(vars: &nn::VarStore, under: &nn::Path) {
    for (name, var) in vars.variables() {
        let (parent, last) = match name.rsplit_once('.') {
            Some((parent, last)) => (crate::layers::sub(under, parent), last),
            None => (under.clone(), name.as_str()),
        };
        let _shared = parent.add(last, var.shallow_clone(), var.requires_grad());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BERT: KeyMap = KeyMap {
        architecture: "BERT",
        prefix: "bert.",
        probe: "embeddings.word_embeddings.weight",
    };

    #[test]
    fn canonical_keys() {
        assert_eq!(
            canonical_key("embeddings.LayerNorm.gamma"),
            "embeddings.LayerNorm.weight"
        );
        assert_eq!(
            canonical_key("encoder.layer.0.output.LayerNorm.beta"),
            "encoder.layer.0.output.LayerNorm.bias"
        );
        assert_eq!(canonical_key("pooler.dense.weight"), "pooler.dense.weight");
    }

    #[test]
    fn prefix_probing_prefers_the_own_prefix_and_falls_back_to_none() {
        let has = |keys: &'static [&'static str]| move |k: &str| keys.contains(&k);
        assert_eq!(
            BERT.find_prefix(has(&["bert.embeddings.word_embeddings.weight"])),
            Some("bert.")
        );
        assert_eq!(
            BERT.find_prefix(has(&["model.embeddings.word_embeddings.weight"])),
            Some("model.")
        );
        assert_eq!(
            BERT.find_prefix(has(&["embeddings.word_embeddings.weight"])),
            Some("")
        );
        assert_eq!(BERT.find_prefix(has(&["lm_head.weight"])), None);
    }

    #[test]
    fn missing_and_misshaped_weights_name_key_shapes_and_architecture() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("model.safetensors");
        let word = Tensor::zeros([5, 3], (tch::Kind::Float, tch::Device::Cpu));
        Tensor::write_safetensors(&[("bert.embeddings.word_embeddings.weight", &word)], &file)
            .unwrap();
        let mut vs = nn::VarStore::new(tch::Device::Cpu);
        let root = vs.root();
        let _ = root
            .sub("embeddings")
            .sub("word_embeddings")
            .zeros("weight", &[5, 4]);
        let err = load_weights(&mut vs, &file, &BERT).unwrap_err().to_string();
        assert!(
            err.contains("bert.embeddings.word_embeddings.weight")
                && err.contains("[5, 3]")
                && err.contains("[5, 4]")
                && err.contains("BERT"),
            "{err}"
        );
        let mut vs = nn::VarStore::new(tch::Device::Cpu);
        let root = vs.root();
        let _ = root
            .sub("embeddings")
            .sub("word_embeddings")
            .zeros("weight", &[5, 3]);
        let _ = root.sub("pooler").sub("dense").zeros("weight", &[3, 3]);
        let err = load_weights(&mut vs, &file, &BERT).unwrap_err().to_string();
        assert!(
            err.contains("bert.pooler.dense.weight")
                && err.contains("[3, 3]")
                && err.contains("BERT"),
            "{err}"
        );
    }
}
