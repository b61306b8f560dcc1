//! Position ids for learned position tables.

use tch::{Device, Kind, Tensor};

use crate::error::Result;

/// How an architecture numbers the positions it looks up in its position table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PositionIds {
    /// 0, 1, …, seq − 1 for every row, padding included (BERT, DistilBERT).
    Absolute,
}

impl PositionIds {
    /// The largest sequence the table of `table_size` rows can number.
    pub(crate) fn max_tokens(self, table_size: i64) -> i64 {
        match self {
            PositionIds::Absolute => table_size,
        }
    }

    /// # Shapes
    /// attention_mask: `[batch, seq]` → `[1, seq]` (absolute) or `[batch, seq]`
    pub(crate) fn ids(self, attention_mask: &Tensor) -> Result<Tensor> {
        let (_, seq) = attention_mask.size2()?;
        match self {
            PositionIds::Absolute => absolute(seq, attention_mask.device()),
        }
    }
}

/// # Shapes
/// → `[1, seq]`
fn absolute(seq: i64, device: Device) -> Result<Tensor> {
    Ok(Tensor::f_arange(seq, (Kind::Int64, device))?.f_unsqueeze(0)?)
}
