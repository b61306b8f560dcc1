//! Which rank is gone when a collective fails. Gloo reports a closed connection by address;
//! to name the rank, every rank bumps its own counter in the rendezvous store twice a second
//! from a background thread, and a rank whose collective failed looks for counters that
//! stopped moving.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use torch_ext::c10d::Store;

use super::LaunchEnv;

const BEAT: Duration = Duration::from_millis(500);
/// Long enough for several beats of a live rank.
const WATCH: Duration = Duration::from_millis(2500);

pub(super) struct Heartbeat {
    store: Arc<Store>,
    rank: usize,
    world_size: usize,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn key(rank: usize) -> String {
    format!("heartbeat/{rank}")
}

impl Heartbeat {
    /// A store connection of its own (so beats never queue behind the trainer's requests)
    /// and the beating thread.
    pub(super) fn start(env: &LaunchEnv, timeout: Duration) -> Result<Self, torch_ext::Error> {
        let (store, _) = Store::tcp(
            &env.master_addr,
            env.master_port,
            env.world_size,
            false,
            timeout,
        )?;
        let store = Arc::new(store.prefixed("sentence_rs")?);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let store = store.clone();
            let stop = stop.clone();
            let rank = env.rank;
            std::thread::Builder::new()
                .name(format!("heartbeat-{rank}"))
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        // A store that is gone ends the beating; the trainer finds out itself.
                        if store.add(&key(rank), 1).is_err() {
                            return;
                        }
                        std::thread::sleep(BEAT);
                    }
                })
                .map_err(|e| torch_ext::Error::Invalid(format!("starting the heartbeat: {e}")))?
        };
        Ok(Heartbeat {
            store,
            rank: env.rank,
            world_size: env.world_size,
            stop,
            thread: Some(thread),
        })
    }

    /// The other ranks whose heartbeat did not move for a while; `None` when the store cannot
    /// be reached (rank 0, which serves it, is gone).
    pub(super) fn silent_ranks(&self) -> Option<Vec<usize>> {
        let read = || -> Option<Vec<i64>> {
            (0..self.world_size)
                .map(|r| self.store.add(&key(r), 0).ok())
                .collect()
        };
        let before = read()?;
        std::thread::sleep(WATCH);
        let after = read()?;
        Some(
            (0..self.world_size)
                .filter(|&r| r != self.rank && before[r] == after[r])
                .collect(),
        )
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
