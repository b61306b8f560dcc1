//! The encoder's input: token ids and masks of a padded batch.

use data::EncodedBatch;
use tch::{Device, Tensor};

use crate::error::{Error, Result};

/// Token ids and masks of a padded batch, on the model's device. Every architecture takes
/// this; one that has no token types ignores `token_type_ids`.
#[derive(Debug)]
pub struct TokenBatch {
    /// `[batch, seq]`, int64
    pub input_ids: Tensor,
    /// `[batch, seq]`, int64, 1 for real tokens and 0 for padding
    pub attention_mask: Tensor,
    /// `[batch, seq]`, int64
    pub token_type_ids: Tensor,
    /// `[batch]`, int64: how many leading real tokens of each row are a prompt (a Pooling
    /// with `include_prompt = false` leaves them out); `None` for no prompts.
    pub prompt_lengths: Option<Tensor>,
}

impl TokenBatch {
    /// A collated batch's tensors on `device`.
    pub fn from_encoded(batch: &EncodedBatch, device: Device) -> Self {
        let shape = [batch.batch as i64, batch.seq_len as i64];
        let t = |v: &[i64]| Tensor::from_slice(v).view(shape).to_device(device);
        TokenBatch {
            input_ids: t(&batch.input_ids),
            attention_mask: t(&batch.attention_mask),
            token_type_ids: t(&batch.token_type_ids),
            prompt_lengths: None,
        }
    }

    /// Checks that the three tensors are `[batch, seq]` and agree.
    pub fn check(&self) -> Result<()> {
        let ids = self.input_ids.size();
        if ids.len() != 2 {
            return Err(Error::Shape {
                context: "input_ids must be [batch, seq]",
                left: ids,
                right: vec![],
            });
        }
        for (what, other) in [
            ("input_ids vs attention_mask", &self.attention_mask),
            ("input_ids vs token_type_ids", &self.token_type_ids),
        ] {
            if other.size() != ids {
                return Err(Error::Shape {
                    context: what,
                    left: ids.clone(),
                    right: other.size(),
                });
            }
        }
        Ok(())
    }

    /// The same batch with every row starting with a prompt of `tokens` tokens.
    pub fn with_prompt_length(self, tokens: usize) -> Result<Self> {
        let (batch, _) = self.shape()?;
        let lengths = Tensor::f_full(
            [batch],
            tokens as i64,
            (tch::Kind::Int64, self.input_ids.device()),
        )?;
        Ok(Self {
            prompt_lengths: Some(lengths),
            ..self
        })
    }

    /// `[batch, seq]`.
    pub fn shape(&self) -> Result<(i64, i64)> {
        self.check()?;
        Ok(self.input_ids.size2()?)
    }
}

impl TokenBatch {
    /// [`check`](Self::check), and that `seq` fits a position table numbering `max_tokens`.
    pub(crate) fn check_length(&self, max_tokens: i64) -> Result<(i64, i64)> {
        let (batch, seq) = self.shape()?;
        if seq > max_tokens {
            return Err(Error::InvalidInput(format!(
                "sequence length {seq} exceeds the {max_tokens} positions the model can number \
                 (max_position_embeddings)"
            )));
        }
        Ok((batch, seq))
    }
}
