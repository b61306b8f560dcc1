//! How long a request may wait for the hub, and how slow a download may get.
//!
//! | field   | environment variable            | default | a request fails when                    |
//! |---------|---------------------------------|---------|-----------------------------------------|
//! | `read`  | `HF_HUB_DOWNLOAD_TIMEOUT`       | 10 s    | no byte at all arrives for this long    |
//! | `stall` | `SENTENCE_RS_HUB_STALL_TIMEOUT` | 60 s    | a window this long brings under 64 KiB  |
//!
//! `read` is `huggingface_hub`'s `HF_HUB_DOWNLOAD_TIMEOUT`, with its meaning and default: the
//! `timeout=` it gives `requests`, a limit on each wait for data (each socket read of the
//! response head and of the body), not on the whole download. Values are seconds and may have
//! a fraction (`2.5`).
//!
//! A read limit alone lets a server that trickles one byte every `read - ε` seconds hold a
//! download forever, so the body must also make progress: every `stall` window must bring at
//! least [`MIN_BYTES_PER_WINDOW`] (64 KiB per 60 s is about 1 KiB/s, far below any working
//! link), and the response head must arrive within one window. There is no whole-file
//! deadline: its default would have to depend on the file size (a 1 GB file on a slow link
//! rightly takes an hour); the stall rule already bounds a download of `n` bytes to about
//! `n / 64 KiB` windows.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Bytes each stall window must bring.
pub const MIN_BYTES_PER_WINDOW: u64 = 64 * 1024;

/// `huggingface_hub`'s variable for the per-read timeout.
pub(crate) const READ_TIMEOUT_VAR: &str = "HF_HUB_DOWNLOAD_TIMEOUT";
/// Ours for the stall window.
pub(crate) const STALL_TIMEOUT_VAR: &str = "SENTENCE_RS_HUB_STALL_TIMEOUT";

/// Time limits of hub requests (see the module docs in `timeouts.rs` for the rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// No byte for this long, while waiting for the response or any part of the body, fails
    /// the request (`HF_HUB_DOWNLOAD_TIMEOUT`, default 10 s).
    pub read: Duration,
    /// Each window this long must bring [`MIN_BYTES_PER_WINDOW`] bytes of the body (or its
    /// end), and the response head must arrive within one (`SENTENCE_RS_HUB_STALL_TIMEOUT`,
    /// default 60 s).
    pub stall: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            read: Duration::from_secs(10),
            stall: Duration::from_secs(60),
        }
    }
}

impl Timeouts {
    /// The defaults, overridden by the variables `var` returns (empty values count as unset).
    pub(crate) fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let defaults = Self::default();
        let read = |name: &'static str, default: Duration| match var(name) {
            Some(value) if !value.trim().is_empty() => parse_seconds(name, &value),
            _ => Ok(default),
        };
        Ok(Self {
            read: read(READ_TIMEOUT_VAR, defaults.read)?,
            stall: read(STALL_TIMEOUT_VAR, defaults.stall)?,
        })
    }
}

/// A positive, finite number of seconds.
fn parse_seconds(name: &'static str, value: &str) -> Result<Duration> {
    let invalid = |source| Error::InvalidTimeout {
        name,
        value: value.to_owned(),
        source,
    };
    let secs: f64 = value.trim().parse().map_err(|e| invalid(Some(e)))?;
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(invalid(None)),
    }
}

/// Too few bytes in a whole stall window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stall {
    pub received: u64,
    pub window: Duration,
}

/// Enforces the stall rule on a body as it arrives.
#[derive(Debug)]
pub(crate) struct StallGuard {
    window: Duration,
    since: Instant,
    bytes: u64,
}

impl StallGuard {
    pub fn new(window: Duration, now: Instant) -> Self {
        Self {
            window,
            since: now,
            bytes: 0,
        }
    }

    /// Counts `n` new bytes arrived at `now`; a window that ends with fewer than
    /// [`MIN_BYTES_PER_WINDOW`] is a [`Stall`]. Enough bytes start a new window.
    pub fn record(&mut self, n: u64, now: Instant) -> std::result::Result<(), Stall> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes >= MIN_BYTES_PER_WINDOW {
            self.since = now;
            self.bytes = 0;
            return Ok(());
        }
        if now.saturating_duration_since(self.since) >= self.window {
            return Err(Stall {
                received: self.bytes,
                window: self.window,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn timeouts(vars: &[(&str, &str)]) -> Result<Timeouts> {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        Timeouts::from_lookup(|k| map.get(k).map(|v| (*v).to_owned()))
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(timeouts(&[]).unwrap(), Timeouts::default());
        assert_eq!(Timeouts::default().read, Duration::from_secs(10));
        let t = timeouts(&[(READ_TIMEOUT_VAR, "2.5"), (STALL_TIMEOUT_VAR, " 30 ")]).unwrap();
        assert_eq!(t.read, Duration::from_millis(2500));
        assert_eq!(t.stall, Duration::from_secs(30));
        assert_eq!(
            timeouts(&[(READ_TIMEOUT_VAR, "")]).unwrap().read.as_secs(),
            10
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        for bad in ["ten", "0", "-1", "inf", "NaN"] {
            let err = timeouts(&[(READ_TIMEOUT_VAR, bad)]).unwrap_err();
            assert!(
                matches!(err, Error::InvalidTimeout { .. }),
                "{bad}: {err:?}"
            );
            let msg = err.to_string();
            assert!(msg.contains(READ_TIMEOUT_VAR) && msg.contains(bad), "{msg}");
        }
        let err = timeouts(&[(READ_TIMEOUT_VAR, "ten")]).unwrap_err();
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn stall_rule() {
        let t0 = Instant::now();
        let window = Duration::from_secs(1);
        let mut guard = StallGuard::new(window, t0);
        assert_eq!(guard.record(10, t0 + Duration::from_millis(500)), Ok(()));
        assert_eq!(
            guard.record(10, t0 + window),
            Err(Stall {
                received: 20,
                window
            })
        );
        // Enough bytes open a fresh window.
        let mut guard = StallGuard::new(window, t0);
        let later = t0 + Duration::from_millis(900);
        assert_eq!(guard.record(MIN_BYTES_PER_WINDOW, later), Ok(()));
        assert_eq!(guard.record(1, later + Duration::from_millis(500)), Ok(()));
        assert!(guard.record(1, later + window).is_err());
    }
}
