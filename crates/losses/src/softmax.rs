//! SoftmaxLoss: a linear classifier on the pair's combined embeddings, trained with
//! cross-entropy (the original SBERT NLI objective).

use tch::{nn, Reduction, TchError, Tensor};

use crate::check;
use crate::error::{Error, Result};
use crate::loss::{Loss, TargetKind, Targets};

const NAME: &str = "SoftmaxLoss";

/// Far above any classification dataset, and small enough that the classifier always fits.
const MAX_LABELS: usize = 1 << 20;
const MAX_CLASSIFIER_WEIGHTS: u128 = 1 << 32;

/// Which vectors make up the classifier input, in sentence-transformers' order:
/// `[u; v]`, then `|u − v|`, then `u * v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concatenation {
    pub sent_rep: bool,
    pub sent_difference: bool,
    pub sent_multiplication: bool,
}

impl Concatenation {
    fn vectors(self) -> i64 {
        2 * i64::from(self.sent_rep)
            + i64::from(self.sent_difference)
            + i64::from(self.sent_multiplication)
    }
}

#[derive(Debug)]
pub struct SoftmaxLoss {
    classifier: nn::Linear,
    num_labels: i64,
    embedding_dim: i64,
    concatenation: Concatenation,
}

impl SoftmaxLoss {
    /// Creates the classifier as `p / "classifier"` (`weight` `[num_labels, k * dim]`, `bias`),
    /// with nn.Linear's initialisation, so the caller's var store trains and saves it.
    pub fn new(
        p: &nn::Path,
        embedding_dim: i64,
        num_labels: usize,
        concatenation: Concatenation,
    ) -> Result<Self> {
        let vectors = concatenation.vectors();
        if vectors == 0 {
            return Err(Error::Config(
                "softmax: at least one of concatenation_sent_rep, concatenation_sent_difference \
                 or concatenation_sent_multiplication must be true"
                    .into(),
            ));
        }
        if num_labels < 2 {
            return Err(Error::Config(format!(
                "softmax: num_labels must be at least 2 for cross-entropy, got {num_labels}"
            )));
        }
        if embedding_dim < 1 {
            return Err(Error::Config(format!(
                "softmax: the embedding dimension must be positive, got {embedding_dim}"
            )));
        }
        // The classifier is allocated right here, before any data is seen: a config's
        // num_labels of 10^12 would abort inside libtorch instead of failing with a message.
        let weights = (num_labels as u128) * (vectors as u128) * (embedding_dim as u128);
        if num_labels > MAX_LABELS || weights > MAX_CLASSIFIER_WEIGHTS {
            return Err(Error::Config(format!(
                "softmax: num_labels {num_labels} is above the limit ({MAX_LABELS} labels, \
                 {MAX_CLASSIFIER_WEIGHTS} classifier weights with embeddings of {embedding_dim})"
            )));
        }
        let num_labels = num_labels as i64;
        // torch.nn.Linear's initialisation: weight and bias uniform in ±1/sqrt(fan_in)
        // (kaiming_uniform with a = sqrt(5)). tch's default Kaiming-ReLU draws weights
        // sqrt(6) times larger, which trains measurably worse than sentence-transformers.
        let fan_in = vectors * embedding_dim;
        let bound = 1.0 / (fan_in as f64).sqrt();
        let uniform = nn::Init::Uniform {
            lo: -bound,
            up: bound,
        };
        // Weight first, then bias, as nn.Linear.reset_parameters draws them (tch's
        // nn::linear draws the bias first): seeded alike, both start from the same numbers.
        let classifier_path = p / "classifier";
        let ws = classifier_path.var("weight", &[num_labels, fan_in], uniform);
        let bs = classifier_path.var("bias", &[num_labels], uniform);
        let classifier = nn::Linear { ws, bs: Some(bs) };
        Ok(SoftmaxLoss {
            classifier,
            num_labels,
            embedding_dim,
            concatenation,
        })
    }

    /// The classifier's weight `[num_labels, k * dim]` and bias `[num_labels]`.
    pub fn classifier(&self) -> &nn::Linear {
        &self.classifier
    }

    /// The classifier as [`PairClassifier`]: the same tensors, so it sees every update.
    pub fn pair_classifier(&self) -> PairClassifier {
        PairClassifier {
            weight: self.classifier.ws.shallow_clone(),
            bias: self.classifier.bs.as_ref().map(Tensor::shallow_clone),
            concatenation: self.concatenation,
        }
    }

    fn loss(&self, u: &Tensor, v: &Tensor, labels: &Tensor) -> Result<Tensor, TchError> {
        let logits = self.pair_classifier().logits(u, v)?;
        logits.f_cross_entropy_loss::<Tensor>(labels, None, Reduction::Mean, -100, 0.0)
    }
}

/// SoftmaxLoss's classifier on its own: label logits of sentence pairs, for
/// `LabelAccuracyEvaluator` (which scores the trained classifier, as sentence-transformers'
/// does with the loss it is given).
#[derive(Debug)]
pub struct PairClassifier {
    weight: Tensor,
    bias: Option<Tensor>,
    concatenation: Concatenation,
}

impl PairClassifier {
    /// # Shapes
    /// u, v: `[batch, dim]` → `[batch, num_labels]`
    pub fn logits(&self, u: &Tensor, v: &Tensor) -> Result<Tensor, TchError> {
        let c = self.concatenation;
        let mut vectors = Vec::with_capacity(4);
        if c.sent_rep {
            vectors.push(u.shallow_clone());
            vectors.push(v.shallow_clone());
        }
        if c.sent_difference {
            vectors.push(u.f_sub(v)?.f_abs()?);
        }
        if c.sent_multiplication {
            vectors.push(u.f_mul(v)?);
        }
        let features = Tensor::f_cat(&vectors, 1)?
            .f_to_kind(self.weight.kind())?
            .f_to_device(self.weight.device())?;
        features.f_linear(&self.weight, self.bias.as_ref())
    }
}

impl Loss for SoftmaxLoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pair_classifier(&self) -> Option<PairClassifier> {
        Some(SoftmaxLoss::pair_classifier(self))
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::Class {
            num_labels: self.num_labels as usize,
        }
    }

    fn columns(&self) -> (usize, Option<usize>) {
        (2, Some(2))
    }

    /// # Shapes
    /// embeddings: 2 × `[batch, dim]`, classes `[batch]` int64 → scalar
    fn compute(&self, embeddings: &[Tensor], targets: Targets<'_>) -> Result<Tensor> {
        let at = check::embeddings(NAME, embeddings, self.columns())?;
        if at.dim != self.embedding_dim {
            return Err(Error::Shape {
                loss: NAME,
                context: "embeddings vs the classifier's embedding dimension".into(),
                left: embeddings[0].size(),
                right: vec![at.batch, self.embedding_dim],
            });
        }
        if self.classifier.ws.device() != at.device {
            return Err(Error::Embeddings {
                loss: NAME,
                message: format!(
                    "embeddings are on {:?} but the classifier on {:?}",
                    at.device,
                    self.classifier.ws.device()
                ),
            });
        }
        let labels = check::classes(NAME, targets, at, self.num_labels)?;
        self.loss(&embeddings[0], &embeddings[1], &labels)
            .map_err(Error::torch(NAME))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// torch.nn.Linear's bound, 1/sqrt(fan_in), for weight and bias alike.
    #[test]
    fn classifier_starts_as_torch_linear() {
        let _rng = crate::rng_lock();
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let concatenation = Concatenation {
            sent_rep: true,
            sent_difference: true,
            sent_multiplication: false,
        };
        let loss = SoftmaxLoss::new(&vs.root(), 384, 3, concatenation).unwrap();
        let bound = 1.0 / (3.0f64 * 384.0).sqrt();
        let weight_max = loss.classifier().ws.abs().max().double_value(&[]);
        assert!(
            weight_max <= bound && weight_max > 0.9 * bound,
            "{weight_max} vs {bound}"
        );
        let bias = loss.classifier().bs.as_ref().unwrap();
        assert!(bias.abs().max().double_value(&[]) <= bound);
    }
}
