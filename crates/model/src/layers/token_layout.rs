//! The real tokens of several padded chunks as the rows of one matrix ("token-major"), and back.
//!
//! A length-packed training step runs about seven chunks. Every position-wise layer (the
//! linears, GELU, LayerNorm, dropout, the residual adds) treats tokens independently, so it can
//! run once over all real tokens of the step: one large product per weight instead of one per
//! chunk, no padding rows, and one weight gradient instead of a sum over chunks. On the CPU
//! that is where bf16 kernels pay: they gain little on the 100–700-row products of single
//! chunks. Only attention needs a chunk's `[batch, seq]` layout.

use tch::{Kind, Tensor};

use crate::error::{Error, Result};

/// Where each chunk's real tokens sit among the rows of the token matrix, in chunk order and,
/// within a chunk, row-major (row by row, position by position).
#[derive(Debug)]
pub(crate) struct TokenLayout {
    chunks: Vec<ChunkRows>,
    tokens: i64,
    /// Every chunk's `gather`, concatenated: one gather lays out all chunks at once, so its
    /// backward zero-fills the token matrix once per call, not once per chunk.
    gather: Tensor,
}

#[derive(Debug)]
struct ChunkRows {
    batch: i64,
    seq: i64,
    /// `[n]` int64: the flat positions (`row × seq + column`) of the chunk's real tokens.
    real: Tensor,
}

impl TokenLayout {
    /// The layout of chunks with these attention masks (`[batch, seq]`, 1 = real token).
    pub(crate) fn new<'a>(masks: impl IntoIterator<Item = &'a Tensor>) -> Result<Self> {
        let mut flat_masks = Vec::new();
        let mut reals = Vec::new();
        for mask in masks {
            let (batch, seq) = mask.size2().map_err(|_| Error::Shape {
                context: "an attention mask must be [batch, seq]",
                left: mask.size(),
                right: vec![],
            })?;
            let flat = mask.f_reshape([-1])?.f_gt(0)?;
            reals.push(flat.f_nonzero()?.f_reshape([-1])?);
            flat_masks.push((batch, seq, flat));
        }
        let tokens: i64 = reals.iter().map(|r| r.size()[0]).sum();
        let mut offset = 0;
        let mut chunks = Vec::with_capacity(reals.len());
        let mut gathers = Vec::with_capacity(reals.len());
        for ((batch, seq, flat), real) in flat_masks.into_iter().zip(reals) {
            // Each position's row in the token matrix with one zero row appended (row
            // `tokens`), where every padding position points.
            gathers.push(
                flat.f_cumsum(0, Kind::Int64)?
                    .f_add_scalar(offset - 1)?
                    .f_where_scalarother(&flat, tokens)?,
            );
            offset += real.size()[0];
            chunks.push(ChunkRows { batch, seq, real });
        }
        // An empty layout never gathers (`to_padded` returns no chunks).
        let gather = match gathers.is_empty() {
            true => Tensor::new(),
            false => Tensor::f_cat(&gathers, 0)?,
        };
        Ok(TokenLayout {
            chunks,
            tokens,
            gather,
        })
    }

    /// `[n]` int64: the flat positions (`row × seq + column`) of chunk `chunk`'s real tokens,
    /// in the order of its rows in the token matrix.
    pub(crate) fn real_positions(&self, chunk: usize) -> Option<&Tensor> {
        self.chunks.get(chunk).map(|c| &c.real)
    }

    /// The number of chunks.
    pub(crate) fn chunks(&self) -> usize {
        self.chunks.len()
    }

    /// The real tokens of every chunk as one matrix.
    ///
    /// # Shapes
    /// each of `padded`: `[batch_i, seq_i, dim]` → `[tokens, dim]`
    pub(crate) fn to_tokens(&self, padded: &[Tensor]) -> Result<Tensor> {
        if padded.len() != self.chunks.len() {
            return Err(Error::Shape {
                context: "one padded tensor per chunk of the token layout",
                left: vec![padded.len() as i64],
                right: vec![self.chunks.len() as i64],
            });
        }
        let rows = padded
            .iter()
            .zip(&self.chunks)
            .map(|(xs, chunk)| {
                let dim = last_dim(xs)?;
                Ok(xs
                    .f_reshape([chunk.batch * chunk.seq, dim])?
                    .f_index_select(0, &chunk.real)?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Tensor::f_cat(&rows, 0)?)
    }

    /// The token matrix laid out as the padded chunks again, padding positions zero.
    ///
    /// # Shapes
    /// tokens: `[tokens, dim]` → each `[batch_i, seq_i, dim]`
    pub(crate) fn to_padded(&self, tokens: &Tensor) -> Result<Vec<Tensor>> {
        let dim = last_dim(tokens)?;
        if tokens.size().first() != Some(&self.tokens) {
            return Err(Error::Shape {
                context: "token matrix rows vs the layout's real tokens",
                left: tokens.size(),
                right: vec![self.tokens, dim],
            });
        }
        if self.chunks.is_empty() {
            return Ok(Vec::new());
        }
        let padded = tokens
            .f_constant_pad_nd([0, 0, 0, 1])?
            .f_index_select(0, &self.gather)?;
        let sizes: Vec<i64> = self.chunks.iter().map(|c| c.batch * c.seq).collect();
        padded
            .f_split_with_sizes(&sizes, 0)?
            .into_iter()
            .zip(&self.chunks)
            .map(|(rows, chunk)| Ok(rows.f_view([chunk.batch, chunk.seq, dim])?))
            .collect()
    }
}

fn last_dim(xs: &Tensor) -> Result<i64> {
    xs.size().last().copied().ok_or_else(|| Error::Shape {
        context: "a token tensor needs a feature dimension",
        left: xs.size(),
        right: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::TokenLayout;
    use tch::{Kind, Tensor};

    #[test]
    fn tokens_and_back_keep_real_positions_and_zero_the_padding() {
        let masks = [
            Tensor::from_slice2(&[[1i64, 1, 0], [1, 1, 1]]),
            Tensor::from_slice2(&[[1i64], [1], [1]]),
            Tensor::from_slice2(&[[0i64, 1, 1, 1]]),
        ];
        let layout = TokenLayout::new(&masks).unwrap();
        let padded: Vec<Tensor> = masks
            .iter()
            .map(|m| {
                let (b, s) = m.size2().unwrap();
                Tensor::randn([b, s, 4], (Kind::Float, tch::Device::Cpu))
            })
            .collect();
        let tokens = layout.to_tokens(&padded).unwrap();
        assert_eq!(tokens.size(), vec![5 + 3 + 3, 4]);
        let back = layout.to_padded(&tokens).unwrap();
        for ((xs, ys), mask) in padded.iter().zip(&back).zip(&masks) {
            let keep = mask.unsqueeze(-1).to_kind(Kind::Float);
            let want = xs * &keep;
            assert!(ys.allclose(&want, 0.0, 0.0, false));
        }
        // Row order: chunk by chunk, row-major within a chunk.
        let first_of_second_chunk = padded[1].get(0).get(0);
        assert!(tokens
            .get(5)
            .allclose(&first_of_second_chunk, 0.0, 0.0, false));
    }

    #[test]
    fn a_wrong_number_of_chunks_is_an_error() {
        let masks = [Tensor::from_slice2(&[[1i64, 1]])];
        let layout = TokenLayout::new(&masks).unwrap();
        assert!(layout.to_tokens(&[]).is_err());
        assert!(layout
            .to_padded(&Tensor::zeros([3, 2], (Kind::Float, tch::Device::Cpu)))
            .is_err());
    }
}
