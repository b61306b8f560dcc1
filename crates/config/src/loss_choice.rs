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
    fn listwise_losses_take_six_three_defaults() {
        use crate::rerank_loss::{LambdaWeightingScheme, PListMleWeighting, RerankReductionLog};
        let rerank = |text: &str| match parse(text).unwrap() {
            LossChoice::Rerank(loss) => loss,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            rerank("loss = { type = \"cross_encoder.list_net\" }"),
            RerankLossConfig::ListNet {
                activation_fn: RerankActivation::Identity,
                mini_batch_size: None,
            }
        );
        assert_eq!(
            rerank("loss = { type = \"cross_encoder.list_mle\", mini_batch_size = 16 }"),
            RerankLossConfig::ListMle {
                activation_fn: RerankActivation::Identity,
                mini_batch_size: Some(16),
                respect_input_order: true,
            }
        );
        assert_eq!(
            rerank("loss = { type = \"cross_encoder.p_list_mle\" }"),
            RerankLossConfig::PListMle {
                lambda_weight: PListMleWeighting::Exponential,
                activation_fn: RerankActivation::Identity,
                mini_batch_size: None,
                respect_input_order: true,
            }
        );
        let lambda = rerank("loss = { type = \"cross_encoder.lambda\" }");
        assert_eq!(
            lambda,
            RerankLossConfig::Lambda {
                weighting_scheme: LambdaWeightingScheme::NdcgLoss2Pp { mu: 10.0 },
                k: None,
                sigma: 1.0,
                eps: 1e-10,
                reduction_log: RerankReductionLog::Binary,
                activation_fn: RerankActivation::Identity,
                mini_batch_size: None,
            }
        );
        assert_eq!(lambda.type_name(), "cross_encoder.lambda");
        assert!(lambda.is_listwise());
        assert_eq!(
            rerank(
                "loss = { type = \"cross_encoder.rank_net\", k = 5, reduction_log = \"natural\" }"
            ),
            RerankLossConfig::RankNet {
                k: Some(5),
                sigma: 1.0,
                eps: 1e-10,
                reduction_log: RerankReductionLog::Natural,
                activation_fn: RerankActivation::Identity,
                mini_batch_size: None,
            }
        );
        for name in RerankLossConfig::TYPES {
            let loss = rerank(&format!("loss = {{ type = \"{name}\" }}"));
            assert_eq!(loss.type_name(), name);
            assert_eq!(
                loss.is_listwise(),
                RerankLossConfig::TYPES[6..].contains(&name)
            );
        }
    }

    #[test]
    fn lambda_weighting_schemes_by_table_or_name() {
        use crate::rerank_loss::LambdaWeightingScheme;
        let scheme = |value: &str| match parse(&format!(
            "loss = {{ type = \"cross_encoder.lambda\", weighting_scheme = {value} }}"
        )) {
            Ok(LossChoice::Rerank(RerankLossConfig::Lambda {
                weighting_scheme, ..
            })) => Ok(weighting_scheme),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.to_string()),
        };
        assert_eq!(
            scheme("{ type = \"ndcg_loss2_pp\", mu = 5.0 }"),
            Ok(LambdaWeightingScheme::NdcgLoss2Pp { mu: 5.0 })
        );
        assert_eq!(
            scheme("{ type = \"ndcg_loss2_pp\" }"),
            Ok(LambdaWeightingScheme::NdcgLoss2Pp { mu: 10.0 })
        );
        assert_eq!(
            scheme("{ type = \"lambda_rank\" }"),
            Ok(LambdaWeightingScheme::LambdaRank)
        );
        assert_eq!(
            scheme("\"no_weighting\""),
            Ok(LambdaWeightingScheme::NoWeighting)
        );
        assert_eq!(
            scheme("\"NDCGLoss1Scheme\""),
            Ok(LambdaWeightingScheme::NdcgLoss1)
        );
        assert_eq!(
            scheme("\"sentence_transformers.cross_encoder.losses.lambda_loss.NDCGLoss2Scheme\""),
            Ok(LambdaWeightingScheme::NdcgLoss2)
        );
        let err = scheme("\"ndcg3\"").unwrap_err();
        assert!(
            err.contains("unknown weighting_scheme \"ndcg3\"") && err.contains("ndcg_loss2_pp"),
            "{err}"
        );
        let err = scheme("{ type = \"lambda_rank\", mu = 2.0 }").unwrap_err();
        assert!(
            err.contains("weighting_scheme") && err.contains("mu"),
            "{err}"
        );
        let err = scheme("{ type = \"ndcg9\" }").unwrap_err();
        assert!(
            err.contains("weighting_scheme") && err.contains("ndcg9"),
            "{err}"
        );
        // Unknown keys of the listwise losses name the key.
        let err = parse("loss = { type = \"cross_encoder.list_net\", sigma = 1.0 }").unwrap_err();
        assert!(err.to_string().contains("sigma"), "{err}");
        let err =
            parse("loss = { type = \"cross_encoder.p_list_mle\", lambda_weight = \"linear\" }")
                .unwrap_err();
        assert!(err.to_string().contains("linear"), "{err}");
    }

    #[test]
    fn listwise_validation_names_the_key() {
        let cases = [
            (
                "type = \"cross_encoder.list_net\", mini_batch_size = 0",
                "mini_batch_size must be at least 1",
            ),
            ("type = \"cross_encoder.lambda\", k = 0", "k must be at least 1"),
            (
                "type = \"cross_encoder.rank_net\", sigma = inf",
                "sigma must be finite, got inf",
            ),
            (
                "type = \"cross_encoder.lambda\", eps = -1.0",
                "eps must be a finite number ≥ 0, got -1",
            ),
            (
                "type = \"cross_encoder.lambda\", weighting_scheme = { type = \"ndcg_loss2_pp\", mu = nan }",
                "weighting_scheme.mu must be finite",
            ),
        ];
        for (loss, expected) in cases {
            let LossChoice::Rerank(loss) = parse(&format!("loss = {{ {loss} }}")).unwrap() else {
                panic!("{loss}")
            };
            let err = loss.validate().unwrap_err();
            assert!(err.starts_with(expected), "{err} vs {expected}");
        }
        let LossChoice::Rerank(ok) = parse("loss = { type = \"cross_encoder.lambda\" }").unwrap()
        else {
            panic!()
        };
        assert_eq!(ok.validate(), Ok(()));
    }

    #[test]
    fn round_trips_through_toml() {
        for text in [
            "loss = { type = \"cross_encoder.cached_multiple_negatives_ranking\", mini_batch_size = 8 }",
            "loss = { type = \"multiple_negatives_ranking\", scale = 30.0 }",
            "loss = { type = \"cross_encoder.lambda\", k = 3, weighting_scheme = { type = \"ndcg_loss2_pp\", mu = 2.0 } }",
            "loss = { type = \"cross_encoder.lambda\", weighting_scheme = \"lambda_rank\" }",
            "loss = { type = \"cross_encoder.p_list_mle\", lambda_weight = \"none\", mini_batch_size = 4 }",
            "loss = { type = \"cross_encoder.rank_net\", reduction_log = \"natural\" }",
        ] {
            let loss = parse(text).unwrap();
            let mut table = toml::Table::new();
            table.insert("loss".into(), toml::Value::try_from(&loss).unwrap());
            assert_eq!(parse(&toml::to_string(&table).unwrap()).unwrap(), loss);
        }
    }
}
