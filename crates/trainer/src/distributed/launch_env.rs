//! The launch variables of a data-parallel run, as `torchrun` and cluster launchers set them:
//! `RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `LOCAL_WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT`.

use crate::error::{Error, Result};

/// Where this process sits in the run and where the ranks meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchEnv {
    pub rank: usize,
    pub world_size: usize,
    /// This process's index among the processes of its machine.
    pub local_rank: usize,
    pub local_world_size: usize,
    /// Rank 0's address: it serves the rendezvous store there.
    pub master_addr: String,
    pub master_port: u16,
    /// torchrun's agent already serves the store at the master address
    /// (`TORCHELASTIC_USE_AGENT_STORE=True`): rank 0 connects to it instead of serving.
    pub agent_store: bool,
}

fn bad(variable: &str, message: String) -> Error {
    Error::Config {
        origin: format!("environment variable {variable}"),
        message,
    }
}

fn number<T: std::str::FromStr>(variable: &str, text: &str) -> Result<T> {
    text.trim()
        .parse()
        .map_err(|_| bad(variable, format!("{text:?} is not a non-negative integer")))
}

impl LaunchEnv {
    /// The launch variables from the process environment; `None` when `WORLD_SIZE` and `RANK`
    /// are both unset (a plain single-process run).
    pub fn from_env() -> Result<Option<Self>> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`LaunchEnv::from_env`], reading variables through `lookup` (for tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>> {
        let (world, rank) = match (lookup("WORLD_SIZE"), lookup("RANK")) {
            (None, None) => return Ok(None),
            (Some(_), None) => {
                return Err(bad(
                    "RANK",
                    "WORLD_SIZE is set but RANK is not; a launcher sets both (torchrun does)"
                        .into(),
                ))
            }
            (None, Some(_)) => {
                return Err(bad(
                    "WORLD_SIZE",
                    "RANK is set but WORLD_SIZE is not; a launcher sets both (torchrun does)"
                        .into(),
                ))
            }
            (Some(world), Some(rank)) => (world, rank),
        };
        let world_size: usize = number("WORLD_SIZE", &world)?;
        let rank: usize = number("RANK", &rank)?;
        if world_size == 0 {
            return Err(bad("WORLD_SIZE", "must be at least 1".into()));
        }
        if rank >= world_size {
            return Err(bad(
                "RANK",
                format!("rank {rank} is not below WORLD_SIZE {world_size} (ranks count from 0)"),
            ));
        }
        let local_world_size = match lookup("LOCAL_WORLD_SIZE") {
            Some(text) => number("LOCAL_WORLD_SIZE", &text)?,
            None => world_size,
        };
        let local_rank = match lookup("LOCAL_RANK") {
            Some(text) => number("LOCAL_RANK", &text)?,
            None => rank % local_world_size.max(1),
        };
        if local_world_size == 0 || local_world_size > world_size {
            return Err(bad(
                "LOCAL_WORLD_SIZE",
                format!("{local_world_size} is not between 1 and WORLD_SIZE {world_size}"),
            ));
        }
        if local_rank >= local_world_size {
            return Err(bad(
                "LOCAL_RANK",
                format!("{local_rank} is not below LOCAL_WORLD_SIZE {local_world_size}"),
            ));
        }
        let master_addr = lookup("MASTER_ADDR").unwrap_or_else(|| "127.0.0.1".into());
        if master_addr.trim().is_empty() {
            return Err(bad("MASTER_ADDR", "is empty".into()));
        }
        let master_port = match lookup("MASTER_PORT") {
            Some(text) => {
                let port: u16 = number("MASTER_PORT", &text)?;
                if port == 0 {
                    return Err(bad("MASTER_PORT", "must be a port number from 1".into()));
                }
                port
            }
            // torch.distributed's default.
            None => 29500,
        };
        let agent_store = lookup("TORCHELASTIC_USE_AGENT_STORE")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        Ok(Some(LaunchEnv {
            rank,
            world_size,
            local_rank,
            local_world_size,
            master_addr: master_addr.trim().to_owned(),
            master_port,
            agent_store,
        }))
    }

    /// Whether the ranks meet on this machine's loopback interface.
    pub fn is_loopback(&self) -> bool {
        self.master_addr == "localhost"
            || self
                .master_addr
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(vars: &[(&str, &str)]) -> Result<Option<LaunchEnv>> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LaunchEnv::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn torchrun_variables_parse() {
        let env = parse(&[
            ("RANK", "3"),
            ("WORLD_SIZE", "4"),
            ("LOCAL_RANK", "1"),
            ("LOCAL_WORLD_SIZE", "2"),
            ("MASTER_ADDR", "10.0.0.7"),
            ("MASTER_PORT", "29400"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            env,
            LaunchEnv {
                rank: 3,
                world_size: 4,
                local_rank: 1,
                local_world_size: 2,
                master_addr: "10.0.0.7".into(),
                master_port: 29400,
                agent_store: false,
            }
        );
        assert!(!env.is_loopback());
    }

    #[test]
    fn no_variables_is_a_single_process_run() {
        assert_eq!(parse(&[]).unwrap(), None);
    }

    #[test]
    fn missing_optional_variables_take_torch_defaults() {
        let env = parse(&[("RANK", "1"), ("WORLD_SIZE", "2")])
            .unwrap()
            .unwrap();
        assert_eq!(env.master_addr, "127.0.0.1");
        assert_eq!(env.master_port, 29500);
        assert_eq!((env.local_rank, env.local_world_size), (1, 2));
        assert!(env.is_loopback());
    }

    #[test]
    fn bad_variables_are_named() {
        for (vars, needle) in [
            (vec![("WORLD_SIZE", "2")], "RANK"),
            (vec![("RANK", "0")], "WORLD_SIZE"),
            (
                vec![("RANK", "2"), ("WORLD_SIZE", "2")],
                "not below WORLD_SIZE 2",
            ),
            (vec![("RANK", "x"), ("WORLD_SIZE", "2")], "\"x\""),
            (vec![("RANK", "0"), ("WORLD_SIZE", "0")], "at least 1"),
            (
                vec![("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_PORT", "70000")],
                "MASTER_PORT",
            ),
            (
                vec![("RANK", "0"), ("WORLD_SIZE", "2"), ("LOCAL_RANK", "2")],
                "LOCAL_RANK",
            ),
        ] {
            let err = parse(&vars).unwrap_err().to_string();
            assert!(err.contains(needle), "{vars:?}: {err}");
        }
    }
}
