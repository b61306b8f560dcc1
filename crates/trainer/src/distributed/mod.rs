//! Data-parallel training on c10d (PyTorch's distributed engine, through `torch_ext::c10d`):
//! the ranks of a run meet at a TCPStore that rank 0 serves at `MASTER_ADDR:MASTER_PORT`,
//! join one Gloo process group, check that they run the same config, start from rank 0's
//! weights, and after every backward pass sum their (already weighted) gradients, so each
//! takes the same optimizer step. See [`LaunchEnv`] for the variables a launcher sets.

mod gradients;
mod launch_env;
mod liveness;

use std::rc::Rc;
use std::time::Duration;

use losses::gather::RowGather;
use tch::Tensor;
use torch_ext::c10d::{ProcessGroup, ReduceOp, Store};

pub use gradients::CommStats;
pub use launch_env::LaunchEnv;

use crate::error::{Error, Result};
use liveness::Heartbeat;

/// How long a rank waits for its peers (to join, in a collective, at a barrier) before the run
/// fails, unless the config says otherwise: torch.distributed's default for Gloo.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// The c10d backend that reduces the model's tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Gloo,
    Nccl,
}

impl Backend {
    /// `choice` for a run on `cuda` or not: `auto` takes NCCL on CUDA when this build has it.
    pub fn choose(choice: config::DdpBackend, cuda: bool) -> Self {
        match choice {
            config::DdpBackend::Gloo => Backend::Gloo,
            config::DdpBackend::Nccl => Backend::Nccl,
            config::DdpBackend::Auto if cuda && torch_ext::c10d::HAS_NCCL => Backend::Nccl,
            config::DdpBackend::Auto => Backend::Gloo,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Gloo => "gloo",
            Backend::Nccl => "nccl",
        }
    }
}

/// This process's membership of a data-parallel run.
pub struct Distributed {
    env: LaunchEnv,
    store: Store,
    /// Reduces the model's tensors where they live (Gloo, or NCCL on GPUs).
    group: Rc<ProcessGroup>,
    /// Gloo, for the small CPU-side agreements (summed step values, barriers); the same group
    /// as `group` when that is Gloo.
    control: Rc<ProcessGroup>,
    backend: Backend,
    heartbeat: Heartbeat,
    stats: CommStats,
}

impl std::fmt::Debug for Distributed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Distributed")
            .field("rank", &self.env.rank)
            .field("world_size", &self.env.world_size)
            .finish()
    }
}

impl Distributed {
    /// Joins the run `env` describes. Rank 0 serves the store; the others connect to it,
    /// retrying until `timeout`. A peer that never comes, an address where nothing listens or
    /// a port already taken is an error within `timeout`, naming the address.
    pub fn join(env: LaunchEnv, timeout: Duration, backend: Backend) -> Result<Self> {
        let rank = env.rank;
        let is_server = rank == 0 && !env.agent_store;
        let fail = |what: &str, err: torch_ext::Error| Error::Distributed {
            rank,
            message: format!(
                "{what} at {}:{} failed: {err}{}",
                env.master_addr,
                env.master_port,
                if is_server {
                    " (is the port already in use? MASTER_PORT chooses another)"
                } else {
                    " (is rank 0 running, and MASTER_ADDR/MASTER_PORT its address?)"
                }
            ),
        };
        let (store, _) = Store::tcp(
            &env.master_addr,
            env.master_port,
            env.world_size,
            is_server,
            timeout,
        )
        .map_err(|e| fail("the rendezvous store", e))?;
        // As init_process_group: the group's keys under their own prefix.
        let group_store = store
            .prefixed("default_pg")
            .map_err(|e| fail("the rendezvous store", e))?;
        let hostname = if env.is_loopback() {
            "127.0.0.1".to_owned()
        } else {
            this_host()
        };
        let control = Rc::new(
            ProcessGroup::gloo(&group_store, rank, env.world_size, &hostname, timeout, 2)
                .map_err(|e| fail("joining the Gloo group", e))?,
        );
        let group = match backend {
            Backend::Gloo => control.clone(),
            Backend::Nccl => {
                let nccl_store = store
                    .prefixed("nccl_pg")
                    .map_err(|e| fail("the rendezvous store", e))?;
                Rc::new(
                    ProcessGroup::nccl(&nccl_store, rank, env.world_size, timeout)
                        .map_err(|e| fail("joining the NCCL group", e))?,
                )
            }
        };
        let ours = store
            .prefixed("sentence_rs")
            .map_err(|e| fail("the rendezvous store", e))?;
        let heartbeat = Heartbeat::start(&env, timeout).map_err(|e| fail("the heartbeat", e))?;
        Ok(Distributed {
            env,
            store: ours,
            group,
            control,
            backend,
            heartbeat,
            stats: CommStats::default(),
        })
    }

    pub fn rank(&self) -> usize {
        self.env.rank
    }

    pub fn world_size(&self) -> usize {
        self.env.world_size
    }

    /// Rank 0 writes the output folder, logs and evaluates.
    pub fn is_main(&self) -> bool {
        self.env.rank == 0
    }

    pub fn env(&self) -> &LaunchEnv {
        &self.env
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// What the collectives have cost so far.
    pub fn stats(&self) -> &CommStats {
        &self.stats
    }

    /// The handle losses gather their candidates through (`gather_across_devices`).
    pub fn row_gather(&self) -> RowGather {
        RowGather::new(self.group.clone())
    }

    /// Fails on every rank unless all ranks run `config_toml` (the resolved config): ranks
    /// started with different configs would train different models while summing their
    /// gradients.
    pub fn check_same_config(&self, config_toml: &str) -> Result<()> {
        let rank = self.rank();
        let key = |r: usize| format!("config/{r}");
        self.store
            .set(&key(rank), config_toml.as_bytes())
            .map_err(|e| self.error("publishing its config", e))?;
        for other in 0..self.world_size() {
            if other == rank {
                continue;
            }
            let theirs = self
                .store
                .get(&key(other))
                .map_err(|e| self.error(&format!("reading rank {other}'s config"), e))?;
            if theirs != config_toml.as_bytes() {
                let first = first_difference(config_toml, &String::from_utf8_lossy(&theirs));
                return Err(Error::Distributed {
                    rank,
                    message: format!(
                        "rank {other} runs another config than rank {rank} ({first}); start \
                         every rank with the same config and flags"
                    ),
                });
            }
        }
        Ok(())
    }

    /// Overwrites `tensors` with rank 0's.
    pub fn broadcast_from_main(&mut self, tensors: &[Tensor]) -> Result<()> {
        tch::no_grad(|| -> Result<()> {
            for t in tensors {
                // Gloo broadcasts contiguous tensors; parameters are.
                let refs = [t];
                self.group
                    .broadcast(&refs, 0)
                    .map_err(|e| self.lost_peer("broadcasting the initial weights", e))?;
            }
            Ok(())
        })
    }

    /// Element-wise sums of `values` over the ranks.
    pub fn sum(&mut self, values: &[f64]) -> Result<Vec<f64>> {
        let t = Tensor::from_slice(values);
        self.control
            .all_reduce(&[&t], ReduceOp::Sum)
            .map_err(|e| self.lost_peer("summing step values", e))?;
        Vec::<f64>::try_from(&t).map_err(|source| Error::Torch {
            context: "reading summed step values".into(),
            source,
        })
    }

    /// Sums the gradients of `parameters` over the ranks, in buckets of flat tensors. A
    /// parameter with a gradient on some rank but not here gets zeros here first, so every
    /// rank reduces the same tensors.
    pub fn sum_gradients<'a>(
        &mut self,
        parameters: impl Iterator<Item = (&'a str, &'a Tensor)>,
    ) -> Result<()> {
        let parameters: Vec<(&str, &Tensor)> = parameters.collect();
        let started = std::time::Instant::now();
        let has: Vec<f64> = parameters
            .iter()
            .map(|(_, p)| f64::from(u8::from(p.grad().defined())))
            .collect();
        let anywhere = self.sum(&has)?;
        let mut grads = Vec::new();
        for ((name, param), count) in parameters.iter().zip(anywhere) {
            if count == 0.0 {
                continue;
            }
            let mut grad = param.grad();
            if !grad.defined() {
                grad = param.f_zeros_like().map_err(|source| Error::Torch {
                    context: format!("a zero gradient for {name}"),
                    source,
                })?;
                torch_ext::set_grad(param, &grad)?;
                grad = param.grad();
            }
            grads.push(grad);
        }
        let bytes = gradients::all_reduce_buckets(&self.group, &grads)
            .map_err(|e| self.lost_peer("summing gradients", e))?;
        self.stats.add_step(bytes, started.elapsed());
        Ok(())
    }

    /// Every rank's rows of `t` (dim 0), in rank order; ranks may hold different row counts
    /// (sharded encoding and evaluation put their pieces back together with it).
    pub fn all_gather_rows(&self, t: &Tensor) -> Result<Tensor> {
        tch::no_grad(|| self.group.all_gather_rows(&t.detach()))
            .map_err(|e| self.lost_peer("gathering rows from every rank", e))
    }

    /// Waits for every rank (`what` names the point, for the error).
    pub fn barrier(&self, what: &str) -> Result<()> {
        self.control
            .barrier()
            .map_err(|e| self.lost_peer(&format!("waiting for every rank {what}"), e))
    }

    fn error(&self, what: &str, err: torch_ext::Error) -> Error {
        Error::Distributed {
            rank: self.rank(),
            message: format!("{what}: {err}"),
        }
    }

    /// `err`, which ended this rank's step, with the ranks that stopped answering named when
    /// there are any (a collective inside a loss fails when a peer dies, with only the peer's
    /// address in Gloo's message).
    pub fn explain_failure(&self, err: Error) -> Error {
        if matches!(err, Error::Distributed { .. }) {
            return err;
        }
        let who = self.lost_ranks();
        if who.is_empty() {
            return err;
        }
        Error::Distributed {
            rank: self.rank(),
            message: format!("{who}{err}"),
        }
    }

    /// The error of a failed collective, naming the ranks that stopped answering (their
    /// heartbeats stopped) when that can be told.
    fn lost_peer(&self, what: &str, err: torch_ext::Error) -> Error {
        Error::Distributed {
            rank: self.rank(),
            message: format!("{}{what} failed: {err}", self.lost_ranks()),
        }
    }

    /// `lost rank N (…); ` for the ranks whose heartbeat stopped, or nothing.
    fn lost_ranks(&self) -> String {
        match self.heartbeat.silent_ranks() {
            Some(ranks) if !ranks.is_empty() => format!(
                "lost rank {} (it stopped answering); ",
                ranks
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            // The store is served by rank 0: when it is gone, so is rank 0.
            None => "lost rank 0 (the rendezvous store it serves is gone); ".into(),
            Some(_) => String::new(),
        }
    }
}

/// The first line where two configs differ, for the error message.
fn first_difference(ours: &str, theirs: &str) -> String {
    let mut a = ours.lines();
    let mut b = theirs.lines();
    loop {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (x, y) => {
                return format!(
                    "here `{}`, there `{}`",
                    x.unwrap_or("<end>").trim(),
                    y.unwrap_or("<end>").trim()
                )
            }
        }
    }
}

/// The name peers on other machines reach this one by (its host name).
fn this_host() -> String {
    crate::run_folder::output_lock::host_name().unwrap_or_else(|| "127.0.0.1".into())
}

/// The weight of a rank's loss in the summed gradient: its `local` rows of a global batch of
/// `global` rows, as a fraction.
pub fn share_weight(local: usize, global: usize) -> f64 {
    if global == 0 {
        0.0
    } else {
        local as f64 / global as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use config::DdpBackend;

    #[test]
    fn auto_takes_nccl_only_on_cuda_in_a_build_with_it() {
        assert_eq!(Backend::choose(DdpBackend::Auto, false), Backend::Gloo);
        let on_cuda = if torch_ext::c10d::HAS_NCCL {
            Backend::Nccl
        } else {
            Backend::Gloo
        };
        assert_eq!(Backend::choose(DdpBackend::Auto, true), on_cuda);
        assert_eq!(Backend::choose(DdpBackend::Gloo, true), Backend::Gloo);
        assert_eq!(Backend::choose(DdpBackend::Nccl, false), Backend::Nccl);
    }

    #[test]
    fn the_first_differing_line_is_named() {
        let a = "[training]\nseed = 1\nbatch_size = 8\n";
        let b = "[training]\nseed = 2\nbatch_size = 8\n";
        assert_eq!(first_difference(a, b), "here `seed = 1`, there `seed = 2`");
        assert_eq!(first_difference("x\n", "x\ny\n"), "here `<end>`, there `y`");
    }
}
