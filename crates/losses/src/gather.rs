//! `gather_across_devices`: in-batch-negative losses that score each rank's anchors against
//! the candidates of every rank of a data-parallel run, so N processes with a local batch of
//! b train as one process with a batch of N·b.
//!
//! The gathered batch keeps one process's layout: each column is gathered on its own (rank 0's
//! rows, then rank 1's…) and the columns are then concatenated, so an anchor's positive and its
//! hard negatives sit exactly where a single process would put them. (Gathering whole rows
//! instead interleaves the columns, which once trained sentence-transformers' anchors toward
//! their own hard negatives.)

use std::rc::Rc;

use tch::{TchError, Tensor};
use torch_ext::c10d::{ProcessGroup, ReduceOp};

/// The process group a loss gathers over.
#[derive(Debug, Clone)]
pub struct RowGather {
    group: Rc<ProcessGroup>,
}

/// Where this rank's rows sit in a gathered column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowLayout {
    /// Rows of every rank, in rank order.
    pub counts: Vec<i64>,
    /// This rank's first row.
    pub offset: i64,
    pub total: i64,
}

fn torch_error(err: torch_ext::Error) -> TchError {
    match err {
        torch_ext::Error::Tch(e) => e,
        other => TchError::Torch(other.to_string()),
    }
}

impl RowGather {
    pub fn new(group: Rc<ProcessGroup>) -> Self {
        RowGather { group }
    }

    pub fn group(&self) -> &ProcessGroup {
        &self.group
    }

    /// Every rank's row count for a local batch of `rows` on `device` (where the group's
    /// backend reduces: NCCL only reduces GPU tensors).
    pub fn layout(&self, rows: i64, device: tch::Device) -> Result<RowLayout, TchError> {
        let counts = self
            .group
            .all_gather(&Tensor::from_slice(&[rows]).f_to_device(device)?)
            .map_err(torch_error)?
            .iter()
            .map(|t| t.f_int64_value(&[0]))
            .collect::<Result<Vec<_>, _>>()?;
        let offset = counts[..self.group.rank()].iter().sum();
        let total = counts.iter().sum();
        Ok(RowLayout {
            counts,
            offset,
            total,
        })
    }

    /// Every rank's rows of `column`, in rank order; backward sums every rank's gradient for
    /// this rank's rows (reduce-scatter).
    pub fn gather(&self, column: &Tensor) -> Result<Tensor, TchError> {
        self.group.all_gather_rows(column).map_err(torch_error)
    }

    /// The sum over ranks of each rank's gradient for this rank's rows of a gathered column
    /// laid out as `layout` (the backward of [`RowGather::gather`], for callers that
    /// back-propagate into a detached gathered copy themselves).
    pub fn reduce_scatter_rows(
        &self,
        grad: &Tensor,
        layout: &RowLayout,
    ) -> Result<Tensor, TchError> {
        let most = layout.counts.iter().copied().max().unwrap_or(0);
        let mut start = 0;
        let mut slices = Vec::with_capacity(layout.counts.len());
        for &rows in &layout.counts {
            let slice = grad.f_narrow(0, start, rows)?;
            start += rows;
            slices.push(pad_rows(&slice, most)?);
        }
        let refs: Vec<&Tensor> = slices.iter().collect();
        let mine = self
            .group
            .reduce_scatter(&refs, ReduceOp::Sum)
            .map_err(torch_error)?;
        mine.f_narrow(0, 0, layout.counts[self.group.rank()])
    }
}

fn pad_rows(t: &Tensor, rows: i64) -> Result<Tensor, TchError> {
    let mut size = t.size();
    if size[0] == rows {
        return t.f_contiguous();
    }
    size[0] = rows - size[0];
    Tensor::f_cat(
        &[
            t.shallow_clone(),
            Tensor::f_zeros(&size, (t.kind(), t.device()))?,
        ],
        0,
    )
}
