//! `train-cli --nproc N …`: starts N processes of this same command on this machine as one
//! data-parallel run, the way `torchrun --nproc_per_node N` would: each gets `RANK`,
//! `WORLD_SIZE`, `LOCAL_RANK`, `LOCAL_WORLD_SIZE`, `MASTER_ADDR` (loopback) and `MASTER_PORT`
//! (a free port unless set), its output lines are prefixed with its rank, and when one fails
//! the others are given a moment to report the lost rank themselves and then stopped.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// How long the other ranks get to notice a lost peer and exit on their own.
const GRACE: Duration = Duration::from_secs(60);

/// Runs `nproc` ranks of this command (its arguments without `--nproc`) and waits for them.
pub fn run(nproc: usize) -> Result<()> {
    if nproc == 0 {
        bail!("--nproc must be at least 1");
    }
    if std::env::var_os("RANK").is_some() || std::env::var_os("WORLD_SIZE").is_some() {
        bail!(
            "--nproc starts the processes itself, but RANK/WORLD_SIZE are already set (a \
             launcher such as torchrun started this one): leave --nproc out under a launcher"
        );
    }
    let port = match std::env::var("MASTER_PORT") {
        Ok(port) => port,
        Err(_) => free_port()?.to_string(),
    };
    let exe = std::env::current_exe().context("finding this executable to start its ranks")?;
    let args = without_nproc(std::env::args_os().skip(1));
    // Ctrl-C reaches every rank (they share the terminal's process group): each writes a
    // checkpoint and exits; this process only waits for them.
    let _ = ctrlc::set_handler(|| {});
    let mut children = Vec::with_capacity(nproc);
    for rank in 0..nproc {
        let mut child = Command::new(&exe)
            .args(&args)
            .env("RANK", rank.to_string())
            .env("WORLD_SIZE", nproc.to_string())
            .env("LOCAL_RANK", rank.to_string())
            .env("LOCAL_WORLD_SIZE", nproc.to_string())
            .env("MASTER_ADDR", "127.0.0.1")
            .env("MASTER_PORT", &port)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting rank {rank}"))?;
        if let Some(out) = child.stdout.take() {
            forward(out, rank, false);
        }
        if let Some(err) = child.stderr.take() {
            forward(err, rank, true);
        }
        children.push(child);
    }
    wait_all(children)
}

/// Copies a rank's output line by line, each prefixed with the rank.
fn forward(stream: impl Read + Send + 'static, rank: usize, stderr: bool) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            if stderr {
                let _ = writeln!(std::io::stderr().lock(), "[rank {rank}] {line}");
            } else {
                let _ = writeln!(std::io::stdout().lock(), "[rank {rank}] {line}");
            }
        }
    });
}

fn wait_all(mut children: Vec<Child>) -> Result<()> {
    let mut status: Vec<Option<ExitStatus>> = vec![None; children.len()];
    let mut first_failure: Option<(usize, ExitStatus)> = None;
    let mut deadline: Option<Instant> = None;
    loop {
        for (rank, child) in children.iter_mut().enumerate() {
            if status[rank].is_none() {
                if let Some(s) = child.try_wait()? {
                    status[rank] = Some(s);
                    if !s.success() && first_failure.is_none() {
                        first_failure = Some((rank, s));
                        deadline = Some(Instant::now() + GRACE);
                    }
                }
            }
        }
        if status.iter().all(Option::is_some) {
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            for (rank, child) in children.iter_mut().enumerate() {
                if status[rank].is_none() {
                    let _ = child.kill();
                    status[rank] = child.wait().ok();
                }
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let the forwarding threads print the last lines.
    std::thread::sleep(Duration::from_millis(100));
    match first_failure {
        None => Ok(()),
        Some((rank, s)) if s.code() == Some(130) => {
            eprintln!("rank {rank} was interrupted");
            std::process::exit(130);
        }
        Some((rank, s)) => bail!("rank {rank} failed ({}); the run stopped", describe(s)),
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(9)) => "killed by SIGKILL".into(),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => status.to_string(),
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .context("finding a free port on 127.0.0.1 for the ranks to meet")?;
    Ok(listener.local_addr()?.port())
}

/// The arguments without `--nproc N` / `--nproc=N`.
fn without_nproc(args: impl Iterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut skip_next = false;
    for arg in args {
        if skip_next {
            skip_next = false;
            continue;
        }
        match arg.to_str() {
            Some("--nproc") => skip_next = true,
            Some(s) if s.starts_with("--nproc=") => {}
            _ => out.push(arg),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nproc_is_left_out_of_the_ranks_arguments() {
        let args = [
            "train",
            "--nproc",
            "2",
            "-c",
            "x.toml",
            "--nproc=3",
            "--epochs",
            "1",
        ]
        .map(OsString::from);
        let kept = without_nproc(args.into_iter());
        assert_eq!(
            kept,
            ["train", "-c", "x.toml", "--epochs", "1"].map(OsString::from)
        );
    }
}
