//! A training dataset's loss: a bi-encoder loss over embeddings, or a cross-encoder loss over
//! pair scores. One `[loss]` table holds either; the `type` tells which (`cross_encoder.…` for
//! the second).

use serde::{de::Error as _, Deserialize, Deserializer, Serialize, Serializer};

use crate::loss::LossConfig;
use crate::rerank_loss::{RerankLossConfig, RERANK_LOSS_PREFIX};

#[derive(Debug, Clone, PartialEq)]
pub enum LossChoice {
    /// Trains a bi-encoder (`SentenceTransformer`).
    Embedding(LossConfig),
    /// Trains a cross-encoder; the run needs `model.cross_encoder`.
    Rerank(RerankLossConfig),
}

impl Default for LossChoice {
    fn default() -> Self {
        LossChoice::Embedding(LossConfig::default())
    }
}

impl LossChoice {
    pub fn embedding(&self) -> Option<&LossConfig> {
        match self {
            LossChoice::Embedding(loss) => Some(loss),
            LossChoice::Rerank(_) => None,
        }
    }

    pub fn rerank(&self) -> Option<&RerankLossConfig> {
        match self {
            LossChoice::Rerank(loss) => Some(loss),
            LossChoice::Embedding(_) => None,
        }
    }
}

impl From<LossConfig> for LossChoice {
    fn from(loss: LossConfig) -> Self {
        LossChoice::Embedding(loss)
    }
}

impl From<RerankLossConfig> for LossChoice {
    fn from(loss: RerankLossConfig) -> Self {
        LossChoice::Rerank(loss)
    }
}

impl Serialize for LossChoice {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            LossChoice::Embedding(loss) => loss.serialize(serializer),
            LossChoice::Rerank(loss) => loss.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for LossChoice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = toml::Value::deserialize(deserializer)?;
        let rerank = value
            .get("type")
            .and_then(toml::Value::as_str)
            .is_some_and(|t| t.starts_with(RERANK_LOSS_PREFIX));
        if rerank {
            value
                .try_into()
                .map(LossChoice::Rerank)
                .map_err(|e: toml::de::Error| D::Error::custom(e.message()))
        } else {
            value
                .try_into()
                .map(LossChoice::Embedding)
                .map_err(|e: toml::de::Error| D::Error::custom(e.message()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rerank_loss::RerankActivation;

    fn parse(text: &str) -> Result<LossChoice, toml::de::Error> {
        #[derive(Deserialize)]
        struct Wrapper {
            loss: LossChoice,
        }
        toml::from_str::<Wrapper>(text).map(|w| w.loss)
    }

    #[test]
    fn the_type_prefix_picks_the_family() {
        assert_eq!(
            parse("loss = { type = \"cosine_similarity\" }").unwrap(),
            LossChoice::Embedding(LossConfig::CosineSimilarity)
        );
        assert_eq!(
            parse("loss = { type = \"cross_encoder.multiple_negatives_ranking\" }").unwrap(),
            LossChoice::Rerank(RerankLossConfig::MultipleNegativesRanking {
                num_negatives: 4,
                scale: 10.0,
                activation_fn: RerankActivation::Sigmoid,
            })
        );
        let bce =
            parse("loss = { type = \"cross_encoder.binary_cross_entropy\", pos_weight = 2.0 }")
                .unwrap();
        assert_eq!(
            bce,
            LossChoice::Rerank(RerankLossConfig::BinaryCrossEntropy {
                activation_fn: RerankActivation::Identity,
                pos_weight: Some(2.0),
            })
        );
    }

    #[test]
    fn errors_name_the_field_or_type() {
        let err = parse("loss = { type = \"cross_encoder.mse\", scale = 2.0 }").unwrap_err();
        assert!(err.to_string().contains("scale"), "{err}");
        let err = parse("loss = { type = \"cross_encoder.lambda_rank\" }").unwrap_err();
        assert!(
            err.to_string().contains("cross_encoder.lambda_rank"),
            "{err}"
        );
        let err = parse("loss = { type = \"cosine_similarity\", margin = 1.0 }").unwrap_err();
        assert!(err.to_string().contains("margin"), "{err}");
    }

    #[test]
    fn round_trips_through_toml() {
        for text in [
            "loss = { type = \"cross_encoder.cached_multiple_negatives_ranking\", mini_batch_size = 8 }",
            "loss = { type = \"multiple_negatives_ranking\", scale = 30.0 }",
        ] {
            let loss = parse(text).unwrap();
            let mut table = toml::Table::new();
            table.insert("loss".into(), toml::Value::try_from(&loss).unwrap());
            assert_eq!(parse(&toml::to_string(&table).unwrap()).unwrap(), loss);
        }
    }
}
