//! DenoisingAutoEncoderLoss: TSDAE (Wang et al., 2021), sentence-transformers'
//! `DenoisingAutoEncoderLoss`. The model embeds a damaged text (most of its words deleted)
//! into one vector; a decoder that sees only that vector, through cross-attention, and the
//! original's previous tokens must predict each token of the original. The cross-entropy of
//! those predictions trains the encoder to put the sentence's content into its embedding.
//!
//! Columns: (damaged, original). The original is read as token ids: the decoder's input is
//! every token but the last, its targets every token but the first, and padding targets are
//! ignored (the tokenizer's pad id is the ignore index, as sentence-transformers sets it).

use std::path::Path;

use model::{SentenceDecoder, SentenceTransformer, TokenBatch};
use tch::{nn, Kind, Reduction, Tensor};

use crate::check;
use crate::error::{Error, Result};
use crate::loss::{Loss, TargetKind, Targets};

const NAME: &str = "DenoisingAutoEncoderLoss";

#[derive(Debug)]
pub struct DenoisingAutoEncoderLoss {
    decoder: SentenceDecoder,
    pad_id: i64,
}

impl DenoisingAutoEncoderLoss {
    /// A decoder tied to `model`'s transformer (sentence-transformers' default,
    /// `tie_encoder_decoder=True`): its own weights (cross-attention, the head's transform and
    /// bias) are created under `p`, everything else is the model's.
    pub fn tied(p: &nn::Path, model: &SentenceTransformer) -> Result<Self> {
        let decoder = SentenceDecoder::tied(p, model.encoder_config())?;
        Self::with_decoder(decoder, model)
    }

    /// A decoder with weights of its own (`tie_encoder_decoder=False`), loaded from the
    /// transformers folder `decoder_dir` (a BERT or RoBERTa checkpoint whose hidden size is the
    /// model's embedding width and whose vocabulary is the model's); all its weights live
    /// under `p`.
    pub fn untied(p: &nn::Path, model: &SentenceTransformer, decoder_dir: &Path) -> Result<Self> {
        let decoder = SentenceDecoder::untied(
            p,
            decoder_dir,
            model.embedding_dimension(),
            model.encoder_config().vocab_size(),
        )?;
        Self::with_decoder(decoder, model)
    }

    /// A loss around an already built decoder (for example an untied one whose weights were
    /// loaded from a checkpoint).
    pub fn with_decoder(decoder: SentenceDecoder, model: &SentenceTransformer) -> Result<Self> {
        let dim = model.embedding_dimension();
        if dim != decoder.hidden_size() {
            return Err(Error::Config(format!(
                "denoising_auto_encoder: the model's sentence embedding has {dim} values but the \
                 decoder's hidden size is {}: the decoder cross-attends to the embedding, so \
                 they must match (a Dense module that changes the width cannot be trained with \
                 TSDAE)",
                decoder.hidden_size()
            )));
        }
        Ok(Self {
            decoder,
            pad_id: model.tokenizer().pad_id(),
        })
    }

    /// The reconstruction loss of the originals `original` from the embeddings `embeddings`
    /// (`[batch, hidden]`), with gradients into both.
    ///
    /// # Shapes
    /// embeddings: `[batch, hidden]`, original: `[batch, seq]` → scalar
    pub fn reconstruction_loss(
        &self,
        model: &SentenceTransformer,
        embeddings: &Tensor,
        original: &TokenBatch,
        train: bool,
    ) -> Result<Tensor> {
        original.check()?;
        let torch = Error::torch(NAME);
        let (batch, seq) = original.input_ids.size2().map_err(&torch)?;
        let (rows, _) = embeddings.size2().map_err(&torch)?;
        if rows != batch {
            return Err(Error::Shape {
                loss: NAME,
                context: "damaged embeddings vs original token ids".into(),
                left: embeddings.size(),
                right: original.input_ids.size(),
            });
        }
        if seq < 2 {
            return Err(Error::Embeddings {
                loss: NAME,
                message: format!(
                    "the originals need at least 2 tokens to predict one from another, got {seq}"
                ),
            });
        }
        let inputs = original.input_ids.f_narrow(1, 0, seq - 1).map_err(&torch)?;
        let mask = original
            .attention_mask
            .f_narrow(1, 0, seq - 1)
            .map_err(&torch)?;
        let labels = original.input_ids.f_narrow(1, 1, seq - 1).map_err(&torch)?;
        let memory = embeddings.f_unsqueeze(1).map_err(&torch)?;
        // Scores only where the decoder reads a real token: a padding position's target is
        // padding, which the loss ignores anyway, so this is the same loss for less work (the
        // vocabulary head dominates a TSDAE step).
        let (logits, positions) =
            model.decoder_forward_real_t(&self.decoder, &inputs, &mask, &memory, train)?;
        labels
            .f_reshape([-1])
            .and_then(|flat| flat.f_index_select(0, &positions))
            .and_then(|targets| {
                logits.f_cross_entropy_loss::<Tensor>(
                    &targets,
                    None,
                    Reduction::Mean,
                    self.pad_id,
                    0.0,
                )
            })
            .and_then(|loss| loss.f_to_kind(Kind::Float))
            .map_err(torch)
    }
}

impl Loss for DenoisingAutoEncoderLoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::None
    }

    fn columns(&self) -> (usize, Option<usize>) {
        (2, Some(2))
    }

    fn keeps_parameters_in_output(&self) -> bool {
        // The decoder is a training device: the output folder holds the encoder alone, as a
        // normal sentence-transformers model; checkpoints keep the decoder for resuming.
        false
    }

    fn compute(&self, _embeddings: &[Tensor], _targets: Targets<'_>) -> Result<Tensor> {
        Err(Error::Embeddings {
            loss: NAME,
            message: "the loss reconstructs the original's tokens, so it needs the token ids \
                      (call forward_backward or reconstruction_loss), not embeddings alone"
                .into(),
        })
    }

    fn forward_backward(
        &self,
        model: &SentenceTransformer,
        columns: &[TokenBatch],
        _targets: Targets<'_>,
        grad_scale: f64,
    ) -> Result<f64> {
        check::column_count(NAME, columns.len(), self.columns())?;
        let embeddings = model.forward_t(&columns[0], true)?;
        let loss = self.reconstruction_loss(model, &embeddings, &columns[1], true)?;
        crate::loss::backward_scaled(NAME, &loss, grad_scale)
    }
}
