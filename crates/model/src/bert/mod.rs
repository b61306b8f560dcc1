//! A BERT encoder on libtorch whose variable names are the Hugging Face checkpoint keys.

mod attention;
mod config;
mod embeddings;
mod feed_forward;
mod weights;

use tch::{nn, Tensor};

pub use config::{Activation, BertConfig};
pub use weights::{load_weights, save_weights};

use attention::BertAttention;
use embeddings::BertEmbeddings;
use feed_forward::BertFeedForward;

use crate::error::{Error, Result};

/// Token ids and masks of a padded batch, on the model's device.
#[derive(Debug)]
pub struct TokenBatch {
    /// `[batch, seq]`, int64
    pub input_ids: Tensor,
    /// `[batch, seq]`, int64, 1 for real tokens and 0 for padding
    pub attention_mask: Tensor,
    /// `[batch, seq]`, int64
    pub token_type_ids: Tensor,
}

impl TokenBatch {
    pub fn check(&self) -> Result<()> {
        let ids = self.input_ids.size();
        for (what, other) in [
            ("attention_mask", &self.attention_mask),
            ("token_type_ids", &self.token_type_ids),
        ] {
            if other.size() != ids {
                return Err(Error::Shape {
                    context: what,
                    left: ids.clone(),
                    right: other.size(),
                });
            }
        }
        if ids.len() != 2 {
            return Err(Error::Shape {
                context: "input_ids must be [batch, seq]",
                left: ids,
                right: vec![],
            });
        }
        Ok(())
    }
}

#[derive(Debug)]
struct BertLayer {
    attention: BertAttention,
    feed_forward: BertFeedForward,
}

/// The BERT encoder. The pooler (a dense layer on `[CLS]`) is kept only so that checkpoints
/// round-trip unchanged; sentence embeddings come from the Pooling module instead.
#[derive(Debug)]
pub struct BertModel {
    embeddings: BertEmbeddings,
    layers: Vec<BertLayer>,
    config: BertConfig,
}

impl BertModel {
    /// Creates the variables under `p` with Hugging Face names (`embeddings.…`,
    /// `encoder.layer.N.…`, `pooler.dense.…` when `with_pooler`).
    pub fn new(p: &nn::Path, config: &BertConfig, with_pooler: bool) -> Self {
        let embeddings = BertEmbeddings::new(p / "embeddings", config);
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let lp = p / "encoder" / "layer" / i;
                BertLayer {
                    attention: BertAttention::new(&lp / "attention", config),
                    feed_forward: BertFeedForward::new(&lp, config),
                }
            })
            .collect();
        if with_pooler {
            let _pooler = linear(
                p / "pooler" / "dense",
                config.hidden_size,
                config.hidden_size,
                config,
            );
        }
        BertModel {
            embeddings,
            layers,
            config: config.clone(),
        }
    }

    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// # Shapes
    /// ids, mask, type ids: `[batch, seq]` → token embeddings `[batch, seq, hidden]`
    pub fn forward_t(&self, batch: &TokenBatch, train: bool) -> Result<Tensor> {
        batch.check()?;
        let seq = batch.input_ids.size()[1];
        if seq > self.config.max_position_embeddings {
            return Err(Error::InvalidInput(format!(
                "sequence length {seq} exceeds max_position_embeddings {}",
                self.config.max_position_embeddings
            )));
        }
        let _span = tracing::trace_span!("bert_forward", seq).entered();
        let mask = batch.attention_mask.gt(0).unsqueeze(1).unsqueeze(1);
        let mut xs = self
            .embeddings
            .forward_t(&batch.input_ids, &batch.token_type_ids, train);
        for layer in &self.layers {
            xs = layer.attention.forward_t(&xs, &mask, train);
            xs = layer.feed_forward.forward_t(&xs, train);
        }
        Ok(xs)
    }
}

fn linear(p: nn::Path, input: i64, output: i64, config: &BertConfig) -> nn::Linear {
    let cfg = nn::LinearConfig {
        ws_init: nn::Init::Randn {
            mean: 0.0,
            stdev: config.initializer_range,
        },
        bs_init: Some(nn::Init::Const(0.0)),
        bias: true,
    };
    nn::linear(p, input, output, cfg)
}

fn layer_norm(p: nn::Path, config: &BertConfig) -> nn::LayerNorm {
    let cfg = nn::LayerNormConfig {
        eps: config.layer_norm_eps,
        ..Default::default()
    };
    nn::layer_norm(p, vec![config.hidden_size], cfg)
}
