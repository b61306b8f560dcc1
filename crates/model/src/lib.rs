//! Sentence embedding models and cross-encoders (rerankers) on libtorch: transformer encoders (BERT, RoBERTa, XLM-RoBERTa,
//! MPNet, DistilBERT, ModernBERT) and decoders used as encoders (Qwen3) behind one seam, with the sentence-transformers module stack
//! (Transformer → Pooling → Dense → Normalize), loaded from and saved to the sentence-transformers
//! folder format so models move freely between this crate and Python.

mod batch_workers;
mod bert;
mod config_json;
mod cross_encoder;
mod decoder;
mod dense;
mod device;
mod distilbert;
mod dtype;
mod encode;
mod encoder;
mod error;
mod layers;
mod modernbert;
mod modules;
mod mpnet;
mod normalize;
mod packing;
mod pooling;
mod prompts;
mod qwen3;
mod roberta;
mod safetensors_header;
mod sentence_transformer;
pub mod testing;
mod token_batch;
mod tokenizer;
mod tokenizer_config;
mod transformer_folder;
mod weights;

pub use bert::{BertConfig, BertModel};
pub use cross_encoder::{
    rank_scores, CrossEncoder, CrossEncoderOptions, PredictOptions, RankedDocument, ScoreActivation,
};
pub use decoder::SentenceDecoder;
pub use dense::{DenseActivation, DenseConfig};
pub use device::ResolveDevice;
pub use distilbert::{DistilBertConfig, DistilBertModel};
pub use dtype::{cpu_has_native_bf16, ComputeDtype};
// Defined in the tch-free config crate; re-exported so `model::DeviceChoice` still works.
pub use config::DeviceChoice;
pub use encode::{EmbeddingMatrix, EncodeOptions};
pub use encoder::{Encoder, EncoderConfig, SUPPORTED_MODEL_TYPES};
pub use error::{Error, Result};
pub use layers::Activation;
pub use modernbert::{
    LayerType, ModernBertConfig, ModernBertModel, ModernBertRope, RopeParameters,
};
pub use modules::{read_modules, ModuleEntry, ModuleKind};
pub use mpnet::{MpnetConfig, MpnetModel};
pub use normalize::l2_normalize;
pub use pooling::{Pooling, PoolingMode};
pub use prompts::{PromptChoice, Prompts};
pub use qwen3::{Qwen3Config, Qwen3Model, Qwen3Rope};
pub use roberta::{RobertaConfig, RobertaModel};
pub use sentence_transformer::SentenceTransformer;
pub use token_batch::TokenBatch;
pub use tokenizer::{EncodedBatch, PaddingSide, SentenceTokenizer, TokenizedText};
pub use weights::{load_weights, save_weights, share_variables, KeyMap};

pub use tch;
