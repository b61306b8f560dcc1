//! Sentence embedding models on libtorch: a BERT encoder with the sentence-transformers module
//! stack (Transformer → Pooling → Normalize), loaded from and saved to the
//! sentence-transformers folder format so models move freely between this crate and Python.

mod bert;
mod device;
mod encode;
mod error;
mod modules;
mod normalize;
mod packing;
mod pooling;
mod sentence_transformer;
mod tokenizer;
mod tokenizer_config;

pub use bert::{load_weights, save_weights, Activation, BertConfig, BertModel, TokenBatch};
pub use device::DeviceChoice;
pub use encode::{EmbeddingMatrix, EncodeOptions};
pub use error::{Error, Result};
pub use modules::{read_modules, ModuleEntry, ModuleKind};
pub use normalize::l2_normalize;
pub use pooling::{Pooling, PoolingMode};
pub use sentence_transformer::SentenceTransformer;
pub use tokenizer::{EncodedBatch, PaddingSide, SentenceTokenizer, TokenizedText};

pub use tch;
