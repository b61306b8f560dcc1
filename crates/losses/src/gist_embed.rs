//! GISTEmbedLoss (Solatorio, 2024): in-batch negatives as in MultipleNegativesRankingLoss, where
//! a frozen guide model scores the same texts and every in-batch candidate the guide rates above
//! the anchor's own positive (less a margin) is left out of the softmax: a likely false negative.
//!
//! The guide is a second [`SentenceTransformer`] with a var store of its own: it is run without
//! gradients and with dropout off, and is never among the trainer's variables, so it is neither
//! optimised nor checkpointed nor saved. Its embedding width may differ from the model's; only
//! its similarity matrices are used.

use std::path::Path;

use config::MarginStrategy;
use model::{SentenceTransformer, TokenBatch, TokenizedText};
use tch::{Device, Kind, Reduction, TchError, Tensor};

use crate::check;
use crate::error::{Error, Result};
use crate::loss::{backward_scaled, Loss, TargetKind, Targets};

const NAME: &str = "GISTEmbedLoss";

/// GISTEmbedLoss's hyperparameters (sentence-transformers' defaults: temperature 0.01,
/// absolute margin 0, both contrasts on).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GistSettings {
    /// The similarities are divided by it (the inverse of MNRL's `scale`); > 0.
    pub temperature: f64,
    pub margin_strategy: MarginStrategy,
    pub margin: f64,
    /// Adds the anchor–anchor similarities as negatives.
    pub contrast_anchors: bool,
    /// Adds the positive–positive similarities as negatives.
    pub contrast_positives: bool,
}

impl Default for GistSettings {
    fn default() -> Self {
        GistSettings {
            temperature: 0.01,
            margin_strategy: MarginStrategy::Absolute,
            margin: 0.0,
            contrast_anchors: true,
            contrast_positives: true,
        }
    }
}

impl GistSettings {
    /// sentence-transformers checks only the strategy (an enum here); a temperature ≤ 0 or a
    /// margin that is not finite would give NaN or meaningless masks.
    fn check(&self) -> Result<()> {
        let GistSettings {
            temperature,
            margin,
            ..
        } = *self;
        if !(temperature > 0.0 && temperature.is_finite()) {
            return Err(Error::Config(format!(
                "gist_embed: temperature must be a positive number, got {temperature}"
            )));
        }
        if !margin.is_finite() {
            return Err(Error::Config(format!(
                "gist_embed: margin must be a finite number, got {margin}"
            )));
        }
        Ok(())
    }
}

/// GISTEmbedLoss over (anchor, positive) pairs or (anchor, positive, negative) triplets.
#[derive(Debug)]
pub struct GistEmbedLoss {
    guide: SentenceTransformer,
    settings: GistSettings,
    /// Whether the guide needs its own tokens of the texts: another vocabulary than the model's,
    /// or a shorter `max_seq_length` (sentence-transformers' `must_retokenize`).
    retokenize: bool,
}

impl GistEmbedLoss {
    /// GIST for training `model`, guided by `guide` (frozen here). `model`'s tokenizer decides
    /// whether the guide can read the model's token batches as they are.
    pub fn new(
        model: &SentenceTransformer,
        mut guide: SentenceTransformer,
        settings: GistSettings,
    ) -> Result<Self> {
        settings.check()?;
        if guide.device() != model.device() {
            return Err(Error::Config(format!(
                "gist_embed: the guide is on {:?} but the model on {:?}",
                guide.device(),
                model.device()
            )));
        }
        // Belt and braces: the guide runs under no_grad, and frozen it never gets a gradient.
        guide.var_store_mut().freeze();
        let retokenize = !model.tokenizer().same_vocabulary(guide.tokenizer())
            || guide.max_seq_length() < model.max_seq_length();
        Ok(GistEmbedLoss {
            guide,
            settings,
            retokenize,
        })
    }

    /// [`new`](Self::new) with the guide loaded from the sentence-transformers folder `dir` onto
    /// the model's device.
    pub fn load(model: &SentenceTransformer, dir: &Path, settings: GistSettings) -> Result<Self> {
        // Before the (slower) load.
        settings.check()?;
        let guide = SentenceTransformer::load(dir, model.device())?;
        Self::new(model, guide, settings)
    }

    pub fn guide(&self) -> &SentenceTransformer {
        &self.guide
    }

    /// Whether the guide re-tokenizes the texts (see [`guide_columns`](Self::guide_columns)).
    pub fn retokenizes(&self) -> bool {
        self.retokenize
    }

    /// The guide's token batches of the model's columns: the model's own batches when the two
    /// share a vocabulary; otherwise, as sentence-transformers does, each text decoded back
    /// with the model's tokenizer (special tokens left out) and tokenized by the guide's. Only
    /// the real tokens of a row are decoded, never its padding.
    pub fn guide_columns(
        &self,
        model: &SentenceTransformer,
        columns: &[TokenBatch],
    ) -> Result<Vec<TokenBatch>> {
        columns
            .iter()
            .map(|column| {
                if self.retokenize {
                    self.retokenized(model, column)
                } else {
                    Ok(TokenBatch {
                        input_ids: column.input_ids.shallow_clone(),
                        attention_mask: column.attention_mask.shallow_clone(),
                        token_type_ids: column.token_type_ids.shallow_clone(),
                        prompt_lengths: column.prompt_lengths.as_ref().map(Tensor::shallow_clone),
                    })
                }
            })
            .collect()
    }

    fn retokenized(&self, model: &SentenceTransformer, column: &TokenBatch) -> Result<TokenBatch> {
        let torch = Error::torch(NAME);
        let (rows, seq) = column.shape()?;
        let flat = |t: &Tensor| -> Result<Vec<i64>, TchError> {
            Vec::<i64>::try_from(&t.f_to_device(Device::Cpu)?.f_reshape([-1])?)
        };
        let ids = flat(&column.input_ids).map_err(&torch)?;
        let mask = flat(&column.attention_mask).map_err(&torch)?;
        let real: Vec<Vec<i64>> = (0..rows as usize)
            .map(|row| {
                let span = row * seq as usize..(row + 1) * seq as usize;
                ids[span.clone()]
                    .iter()
                    .zip(&mask[span])
                    .filter(|(_, &m)| m != 0)
                    .map(|(&id, _)| id)
                    .collect()
            })
            .collect();
        let real: Vec<&[i64]> = real.iter().map(Vec::as_slice).collect();
        let texts = model.tokenizer().decode_batch(&real, true)?;
        let tokenized = self.guide.tokenizer().tokenize(&texts)?;
        let refs: Vec<&TokenizedText> = tokenized.iter().collect();
        Ok(self
            .guide
            .to_tensors(&self.guide.tokenizer().collate(&refs)))
    }

    /// The guide's embeddings of the model's columns: no gradient, dropout off.
    pub fn guide_embeddings(
        &self,
        model: &SentenceTransformer,
        columns: &[TokenBatch],
    ) -> Result<Vec<Tensor>> {
        let columns = self.guide_columns(model, columns)?;
        Ok(tch::no_grad(|| {
            self.guide.forward_columns_t(&columns, false)
        })?)
    }

    /// The logits GIST classifies: anchor–positive, then anchor–anchor and positive–positive
    /// (when contrasted), then anchor–negative similarities, divided by the temperature, with
    /// `-inf` where the guide left a candidate out (and on the self-pairs). Row `i`'s target is
    /// column `i`.
    ///
    /// # Shapes
    /// embeddings: the model's columns `n × [batch, dim]` (n = 2 or 3), then the guide's
    /// `n × [batch, guide_dim]` → `[batch, batch · (n − 1 + contrasts)]`
    pub fn scores(&self, embeddings: &[Tensor]) -> Result<Tensor> {
        let (model, guide) = self.split(embeddings)?;
        self.guided_scores(model, guide).map_err(Error::torch(NAME))
    }

    /// The model's and the guide's halves of `embeddings`, checked.
    fn split<'a>(&self, embeddings: &'a [Tensor]) -> Result<(&'a [Tensor], &'a [Tensor])> {
        let n = embeddings.len() / 2;
        if embeddings.len() % 2 != 0 || !(2..=3).contains(&n) {
            return Err(Error::Columns {
                loss: NAME,
                expected: "the model's 2 or 3 embedding columns followed by the guide's".into(),
                found: embeddings.len(),
            });
        }
        let (model, guide) = embeddings.split_at(n);
        let at = check::embeddings(NAME, model, self.columns())?;
        let guided = check::embeddings(NAME, guide, self.columns())?;
        if guided.batch != at.batch || guided.device != at.device {
            return Err(Error::Shape {
                loss: NAME,
                context: format!(
                    "the model's embeddings (on {:?}) vs the guide's (on {:?})",
                    at.device, guided.device
                ),
                left: model[0].size(),
                right: guide[0].size(),
            });
        }
        if at.batch == 0 {
            return Err(Error::Shape {
                loss: NAME,
                context: "an empty batch vs at least one anchor".into(),
                left: model[0].size(),
                right: vec![1, at.dim],
            });
        }
        Ok((model, guide))
    }

    fn guided_scores(&self, model: &[Tensor], guide: &[Tensor]) -> Result<Tensor, TchError> {
        let s = &self.settings;
        let guide = guide
            .iter()
            .map(Tensor::f_detach)
            .collect::<Result<Vec<_>, _>>()?;
        let (anchor, positive) = (&model[0], &model[1]);
        let (guide_anchor, guide_positive) = (&guide[0], &guide[1]);
        let batch = anchor.size()[0];
        let own = Tensor::f_eye(batch, (Kind::Bool, anchor.device()))?;

        let guided_ap = sim_matrix(guide_anchor, guide_positive)?;
        // [batch, 1]: the guide's similarity of each anchor to its positive
        let guided_own = guided_ap.f_diagonal(0, 0, 1)?.f_view([-1, 1])?;
        let threshold = match s.margin_strategy {
            MarginStrategy::Absolute => guided_own.f_sub_scalar(s.margin)?,
            MarginStrategy::Relative => {
                guided_own.f_sub(&guided_own.f_abs()?.f_mul_scalar(s.margin)?)?
            }
        };
        let left_out = |guided: &Tensor| guided.f_gt_tensor(&threshold);
        let neg_inf = f64::NEG_INFINITY;

        // The anchor's own positive always stays (it is the target).
        let ap_out = left_out(&guided_ap)?.f_logical_and(&own.f_logical_not()?)?;
        let mut scores = vec![sim_matrix(anchor, positive)?.f_masked_fill(&ap_out, neg_inf)?];
        if s.contrast_anchors {
            let out = left_out(&sim_matrix(guide_anchor, guide_anchor)?)?;
            scores.push(
                sim_matrix(anchor, anchor)?
                    .f_masked_fill(&out, neg_inf)?
                    .f_masked_fill(&own, neg_inf)?,
            );
        }
        if s.contrast_positives {
            let out = left_out(&sim_matrix(guide_positive, guide_positive)?)?;
            scores.push(
                sim_matrix(positive, positive)?
                    .f_masked_fill(&out, neg_inf)?
                    .f_masked_fill(&own, neg_inf)?,
            );
        }
        if let (Some(negative), Some(guide_negative)) = (model.get(2), guide.get(2)) {
            let out = left_out(&sim_matrix(guide_anchor, guide_negative)?)?;
            scores.push(sim_matrix(anchor, negative)?.f_masked_fill(&out, neg_inf)?);
        }
        Tensor::f_cat(&scores, 1)?.f_div_scalar(s.temperature)
    }
}

/// Every row of `a` against every row of `b`, as sentence-transformers computes it:
/// `nn.CosineSimilarity(dim=-1)` (eps 1e-8) on `[n, 1, d]` against `[1, m, d]`. The same libtorch
/// op on the same broadcast gives the same values, so the guide's masks, decided by strict
/// comparisons, match sentence-transformers' too.
///
/// # Shapes
/// a: `[n, d]`, b: `[m, d]` → `[n, m]`
fn sim_matrix(a: &Tensor, b: &Tensor) -> Result<Tensor, TchError> {
    Tensor::f_cosine_similarity(&a.f_unsqueeze(1)?, &b.f_unsqueeze(0)?, -1, 1e-8)
}

impl Loss for GistEmbedLoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::None
    }

    /// (anchor, positive) or (anchor, positive, negative)
    fn columns(&self) -> (usize, Option<usize>) {
        (2, Some(3))
    }

    /// Cross-entropy of [`scores`](Self::scores), each anchor's target its own positive.
    /// `embeddings` are the model's columns followed by the guide's (the guide's carry no
    /// gradient). Targets are ignored, as in sentence-transformers.
    fn compute(&self, embeddings: &[Tensor], _targets: Targets<'_>) -> Result<Tensor> {
        let scores = self.scores(embeddings)?;
        let torch = Error::torch(NAME);
        let batch = scores.size()[0];
        let labels = Tensor::f_arange(batch, (Kind::Int64, scores.device())).map_err(&torch)?;
        scores
            .f_cross_entropy_loss::<Tensor>(&labels, None, Reduction::Mean, -100, 0.0)
            .map_err(torch)
    }

    fn forward_backward(
        &self,
        model: &SentenceTransformer,
        columns: &[TokenBatch],
        targets: Targets<'_>,
        grad_scale: f64,
    ) -> Result<f64> {
        check::column_count(NAME, columns.len(), self.columns())?;
        let embeddings = model.forward_columns_t(columns, true)?;
        let guide = self.guide_embeddings(model, columns)?;
        let all: Vec<Tensor> = embeddings.into_iter().chain(guide).collect();
        backward_scaled(NAME, &self.compute(&all, targets)?, grad_scale)
    }
}
