//! The model folder the `model_folder` target mutates, shared with the seed corpus writer so
//! that seeds and target agree on which first byte names which file.

use std::path::{Path, PathBuf};

use model::tch::{Device, Kind, Tensor};
use serde_json::json;

/// The files an input can replace, picked by its first byte (modulo the count). Every JSON
/// file `SentenceTransformer::load` parses, the checkpoints (their headers are JSON too), and
/// `special_tokens_map.json`, which load only carries over verbatim.
pub const FILES: [&str; 11] = [
    "config.json",
    "modules.json",
    "1_Pooling/config.json",
    "sentence_bert_config.json",
    "tokenizer_config.json",
    "config_sentence_transformers.json",
    "2_Dense/config.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "model.safetensors",
    "2_Dense/model.safetensors",
];

/// The Dense module's output size; its input is the tiny BERT's hidden size.
const DENSE_OUT: i64 = 16;

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// Writes a valid tiny model under `dir`, `model::testing::tiny_bert` plus a Dense module and a
/// `special_tokens_map.json`, so that every file of [`FILES`] exists and is read by load.
pub fn write_base_folder(dir: &Path) -> Fallible<PathBuf> {
    let folder = model::testing::tiny_bert(dir, &["a", "cat", "sits", "##s", "."], 7)?;
    let hidden = model::SentenceTransformer::load(&folder, Device::Cpu)?
        .encoder_config()
        .hidden_size();
    add_dense(&folder, hidden)?;
    let special = json!({"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                         "cls_token": "[CLS]", "mask_token": "[MASK]"});
    write_json(&folder.join("special_tokens_map.json"), &special)?;
    model::SentenceTransformer::load(&folder, Device::Cpu)?;
    Ok(folder)
}

/// `2_Dense` (hidden → [`DENSE_OUT`], tanh) and its `modules.json` entry after the Pooling.
fn add_dense(folder: &Path, hidden: i64) -> Fallible<()> {
    let dense = folder.join("2_Dense");
    std::fs::create_dir_all(&dense)?;
    let config = json!({"in_features": hidden, "out_features": DENSE_OUT, "bias": true,
                        "activation_function": "torch.nn.modules.activation.Tanh"});
    write_json(&dense.join("config.json"), &config)?;
    let weight = Tensor::randn([DENSE_OUT, hidden], (Kind::Float, Device::Cpu));
    let bias = Tensor::zeros([DENSE_OUT], (Kind::Float, Device::Cpu));
    Tensor::write_safetensors(
        &[("linear.weight", &weight), ("linear.bias", &bias)],
        dense.join("model.safetensors"),
    )?;
    let modules_path = folder.join("modules.json");
    let mut modules: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&modules_path)?)?;
    modules.push(json!({"idx": 2, "name": "2", "path": "2_Dense",
                        "type": "sentence_transformers.models.Dense"}));
    write_json(&modules_path, &modules)
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Fallible<()> {
    std::fs::write(path, serde_json::to_vec_pretty(value)?)?;
    Ok(())
}
