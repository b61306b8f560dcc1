//! Summing gradients over the ranks as DDP does: parameters' gradients packed into flat
//! buckets of one dtype (≤ 25 MiB, DDP's `bucket_cap_mb`), one all-reduce per bucket, and the
//! sums copied back.

use std::time::Duration;

use tch::Tensor;
use torch_ext::c10d::{ProcessGroup, ReduceOp};

/// DDP's default bucket size.
const BUCKET_BYTES: usize = 25 << 20;

/// What summing gradients has cost: steps, bytes all-reduced and seconds spent.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CommStats {
    pub steps: u64,
    pub bytes: u64,
    pub seconds: f64,
}

impl CommStats {
    pub(super) fn add_step(&mut self, bytes: u64, elapsed: Duration) {
        self.steps += 1;
        self.bytes += bytes;
        self.seconds += elapsed.as_secs_f64();
    }

    pub fn bytes_per_step(&self) -> f64 {
        self.bytes as f64 / self.steps.max(1) as f64
    }

    pub fn seconds_per_step(&self) -> f64 {
        self.seconds / self.steps.max(1) as f64
    }
}

/// Sums `grads` over the group in place; returns the bytes reduced.
pub(super) fn all_reduce_buckets(
    group: &ProcessGroup,
    grads: &[Tensor],
) -> Result<u64, torch_ext::Error> {
    let mut bytes = 0u64;
    for bucket in buckets(grads) {
        let flat = Tensor::f_cat(
            &bucket
                .iter()
                .map(|g| g.f_reshape([-1]))
                .collect::<Result<Vec<_>, _>>()?,
            0,
        )?;
        group.all_reduce(&[&flat], ReduceOp::Sum)?;
        bytes += (flat.numel() * flat.kind().elt_size_in_bytes()) as u64;
        let mut offset = 0i64;
        tch::no_grad(|| -> Result<(), torch_ext::Error> {
            for g in &bucket {
                let n = g.numel() as i64;
                let summed = flat.f_narrow(0, offset, n)?.f_view_as(g)?;
                g.shallow_clone().f_copy_(&summed)?;
                offset += n;
            }
            Ok(())
        })?;
    }
    Ok(bytes)
}

/// Consecutive gradients of one dtype, up to [`BUCKET_BYTES`] each (a larger tensor is a bucket
/// of its own). The same split on every rank, as every rank passes the same list.
fn buckets(grads: &[Tensor]) -> Vec<Vec<&Tensor>> {
    let mut out: Vec<Vec<&Tensor>> = Vec::new();
    let mut size = 0usize;
    for g in grads {
        let bytes = g.numel() * g.kind().elt_size_in_bytes();
        let fits = out
            .last()
            .is_some_and(|bucket| bucket[0].kind() == g.kind() && size + bytes <= BUCKET_BYTES);
        if fits {
            size += bytes;
            if let Some(bucket) = out.last_mut() {
                bucket.push(g);
            }
        } else {
            out.push(vec![g]);
            size = bytes;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn buckets_keep_order_dtype_and_size() {
        let big = Tensor::zeros([(BUCKET_BYTES / 4) as i64], (Kind::Float, Device::Cpu));
        let small = || Tensor::zeros([10], (Kind::Float, Device::Cpu));
        let double = Tensor::zeros([10], (Kind::Double, Device::Cpu));
        let grads = [small(), small(), double, small(), big, small()];
        let sizes: Vec<usize> = buckets(&grads).iter().map(Vec::len).collect();
        // float, float | double | float | big | float
        assert_eq!(sizes, vec![2, 1, 1, 1, 1]);
    }
}
