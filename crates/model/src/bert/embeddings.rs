//! Word + position + token-type embeddings, then LayerNorm and dropout.

use tch::{nn, Tensor};

use super::config::BertConfig;

#[derive(Debug)]
pub struct BertEmbeddings {
    word_embeddings: nn::Embedding,
    position_embeddings: nn::Embedding,
    token_type_embeddings: nn::Embedding,
    layer_norm: nn::LayerNorm,
    dropout: f64,
}

impl BertEmbeddings {
    pub fn new(p: nn::Path, config: &BertConfig) -> Self {
        let init = nn::Init::Randn {
            mean: 0.0,
            stdev: config.initializer_range,
        };
        let emb = |name: &str, n: i64| {
            nn::embedding(
                &p / name,
                n,
                config.hidden_size,
                nn::EmbeddingConfig {
                    ws_init: init,
                    ..Default::default()
                },
            )
        };
        BertEmbeddings {
            word_embeddings: emb("word_embeddings", config.vocab_size),
            position_embeddings: emb("position_embeddings", config.max_position_embeddings),
            token_type_embeddings: emb("token_type_embeddings", config.type_vocab_size),
            layer_norm: super::layer_norm(&p / "LayerNorm", config),
            dropout: config.hidden_dropout_prob,
        }
    }

    /// # Shapes
    /// input_ids, token_type_ids: `[batch, seq]` → `[batch, seq, hidden]`
    pub fn forward_t(&self, input_ids: &Tensor, token_type_ids: &Tensor, train: bool) -> Tensor {
        let seq_len = input_ids.size()[1];
        let positions =
            Tensor::arange(seq_len, (tch::Kind::Int64, input_ids.device())).unsqueeze(0);
        let xs = input_ids.apply(&self.word_embeddings)
            + positions.apply(&self.position_embeddings)
            + token_type_ids.apply(&self.token_type_embeddings);
        xs.apply(&self.layer_norm).dropout(self.dropout, train)
    }
}
