//! `cargo xtask bench train --nproc N`: N data-parallel processes of this project against one
//! process with all their threads, alternating runs; examples/s, STS-B, the gradient
//! all-reduce's cost and each process's peak resident memory.

use super::*;
use crate::bench_mine::vm_hwm_kib;

/// How a run of this project spreads over the CPU: processes of `threads` threads each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Layout {
    pub(super) processes: usize,
    pub(super) threads: usize,
}

impl Layout {
    pub(super) fn single(threads: usize) -> Self {
        Self {
            processes: 1,
            threads,
        }
    }

    pub(super) fn label(self) -> String {
        let plural = |n: usize, word: &str, words: &str| {
            format!("{n} {}", if n == 1 { word } else { words })
        };
        format!(
            "{} × {}",
            plural(self.processes, "process", "processes"),
            plural(self.threads, "thread", "threads")
        )
    }

    /// Tells a several-process run's files from the one-process run's (which keeps the
    /// names the comparison with sentence-transformers writes).
    pub(super) fn file_suffix(self) -> String {
        if self.processes > 1 {
            format!("-{}x{}", self.processes, self.threads)
        } else {
            String::new()
        }
    }
}

/// `--nproc` runs the MNRL recipe on the CPU, this project against itself, with the threads
/// shared out evenly; checked before the downloads and the build.
pub(super) fn check_nproc(nproc: usize, opts: &TrainBench) -> Result<()> {
    ensure!(nproc >= 2, "--nproc {nproc}: compare at least 2 processes");
    ensure!(
        opts.losses == [BenchLoss::Mnrl],
        "--nproc runs the MNRL recipe only (gathered MNRL trains N processes as one); leave \
         out --loss {}",
        opts.losses
            .iter()
            .map(|l| l.name())
            .collect::<Vec<_>>()
            .join(",")
    );
    ensure!(
        opts.threads >= nproc && opts.threads % nproc == 0,
        "--threads {} cannot be shared out evenly over --nproc {nproc} processes (e.g. \
         --threads {nproc} for {nproc} processes × 1 thread against 1 process × {nproc} threads)",
        opts.threads
    );
    ensure!(
        opts.batch_size >= nproc,
        "--batch-size {} gives some of the {nproc} processes no example of a batch",
        opts.batch_size
    );
    ensure!(
        !opts.cuda && opts.sides != Sides::Python,
        "--nproc compares CPU runs of this project only (no --cuda, no --sides python)"
    );
    Ok(())
}

/// The book's MNRL recipe (`--loss mnrl`'s rows and hyperparameters, `--batch-size` the
/// global batch) as `nproc` processes of `threads / nproc` threads each (`train-cli train
/// --nproc`, `gather_across_devices = true`) against one process of `threads` threads, the
/// two alternating run by run. Reports each side's examples/s and their ratio (median, min,
/// max over the rounds), both Spearmans, the several-process side's all-reduce (bytes and
/// seconds per step, from its summary line) and every process's peak resident memory
/// (`VmHWM`, see [`run_watched`]). sentence-transformers is not run.
pub(super) fn train_nproc(
    root: &Path,
    client: &hub::HubClient,
    nproc: usize,
    opts: &TrainBench,
    out_dir: &Path,
) -> Result<()> {
    let bin = build_train_cli(root)?;
    let loss = BenchLoss::Mnrl;
    let layouts = [
        Layout::single(opts.threads),
        Layout {
            processes: nproc,
            threads: opts.threads / nproc,
        },
    ];
    let mut reports = Vec::new();
    for &seed in &opts.seeds {
        let train_file = write_training_rows(client, loss, seed, opts, out_dir)?;
        let run = RustRun {
            base: BENCH_MODEL,
            train_file: &train_file,
            out_dir,
        };
        println!(
            "\n== {} · data-parallel · {} rows · global batch {} · {} epoch(s) · lr {} · warm-up {} · seed {} · {} · {} order · {} round(s) of: {}",
            loss.name(),
            opts.rows,
            opts.batch_size,
            opts.epochs,
            opts.learning_rate,
            opts.warmup_steps,
            seed,
            opts.precision.arg(),
            match opts.order {
                Order::Same => "same",
                Order::Each => "each side's own",
            },
            opts.rounds,
            layouts.map(Layout::label).join(", ")
        );
        let mut results: Vec<Vec<Value>> = vec![Vec::new(); layouts.len()];
        for round in 1..=opts.rounds {
            for (&layout, out) in layouts.iter().zip(results.iter_mut()) {
                let result = run_layout(&bin, &run, seed, opts, layout)?;
                let mut line = format!(
                    "round {round}: {:<24} {:>7.2} examples/s, spearman {:.4} → {:.4}, peak RSS {} MiB",
                    layout.label(),
                    num(&result, "rate"),
                    num(&result, "spearman_before"),
                    num(&result, "spearman_after"),
                    result["peak_rss_mib"]
                        .as_array()
                        .map(|v| {
                            v.iter()
                                .map(|m| format!("{:.0}", m.as_f64().unwrap_or(f64::NAN)))
                                .collect::<Vec<_>>()
                                .join(" + ")
                        })
                        .unwrap_or_default()
                );
                if layout.processes > 1 {
                    let _ = write!(
                        line,
                        ", all-reduce {:.1} MB and {:.3} s per step",
                        num(&result, "allreduce_mb_per_step"),
                        num(&result, "allreduce_seconds_per_step")
                    );
                }
                println!("{line}");
                out.push(result);
            }
        }
        let (text, json) = summarize_nproc(seed, opts.batch_size, &layouts, &results);
        print!("{text}");
        reports.push(json);
    }
    let report_path = out_dir.join(format!("report-nproc{nproc}.json"));
    std::fs::write(
        &report_path,
        serde_json::to_string_pretty(&Value::Array(reports))? + "\n",
    )?;
    println!("\nreport: {}", report_path.display());
    Ok(())
}

/// One MNRL run of this project as `layout`, its metrics with each process's peak resident
/// memory and, for several processes, the all-reduce's cost.
fn run_layout(
    bin: &Path,
    run: &RustRun<'_>,
    seed: u64,
    opts: &TrainBench,
    layout: Layout,
) -> Result<Value> {
    let loss = BenchLoss::Mnrl;
    let (config_path, model_out) =
        write_rust_config(run, loss, seed, opts.precision, opts, layout)?;
    let mut cmd = Command::new(bin);
    cmd.args(["train", "--quiet"]);
    if layout.processes > 1 {
        cmd.arg("--nproc").arg(layout.processes.to_string());
    }
    cmd.arg("--config").arg(&config_path);
    let watched = run_watched(&mut cmd, layout.threads, layout.processes)?;
    let mut result = read_rust_metrics(&model_out, loss, layout.threads)?;
    result["processes"] = json!(layout.processes);
    result["peak_rss_mib"] = json!(watched
        .ranks_kib
        .iter()
        .map(|&k| crate::bench_mine::mib(k))
        .collect::<Vec<_>>());
    if let Some(kib) = watched.launcher_kib {
        result["launcher_peak_rss_mib"] = json!(crate::bench_mine::mib(kib));
    }
    if layout.processes > 1 {
        let (mb, seconds) = communication(&watched.stdout)?;
        result["allreduce_mb_per_step"] = json!(mb);
        result["allreduce_seconds_per_step"] = json!(seconds);
    }
    Ok(result)
}

/// Megabytes and seconds per step of the gradient all-reduce, from train-cli's summary line
/// `[rank 0] 2 processes: 90.9 MB of gradients summed per step, 0.123 s per step in that
/// all-reduce`.
fn communication(stdout: &str) -> Result<(f64, f64)> {
    let line = stdout
        .lines()
        .find(|l| l.contains("of gradients summed per step"))
        .context("train-cli printed no all-reduce summary line")?;
    Ok((
        crate::bench_mine::number_after(line, "processes: ")?,
        crate::bench_mine::number_after(line, "per step, ")?,
    ))
}

/// A finished run of this project: its stdout and its processes' peak resident memory.
struct Watched {
    stdout: String,
    /// `VmHWM` of each training process in KiB, by rank (one entry for a single process).
    ranks_kib: Vec<u64>,
    /// The `--nproc` launcher's own (it trains nothing).
    launcher_kib: Option<u64>,
}

/// How often [`run_watched`] reads the processes' `VmHWM`.
const POLL: Duration = Duration::from_millis(10);

/// Runs `cmd` with `threads` libtorch threads per process (OpenMP, MKL) and watches the
/// peak resident memory of its training processes: the command itself when `ranks` is 1,
/// else the children of the `--nproc` launcher, each known by the `RANK` in its environment.
/// Each process's figure is the kernel's high-water mark (`VmHWM` of /proc/<pid>/status),
/// read every 10 ms while it runs and kept at its last reading: exact but for growth in a
/// process's last 10 ms (a zombie has no `VmHWM`). A failure carries the end of its stderr.
fn run_watched(cmd: &mut Command, threads: usize, ranks: usize) -> Result<Watched> {
    let threads = threads.to_string();
    cmd.env("OMP_NUM_THREADS", &threads)
        .env("MKL_NUM_THREADS", &threads)
        .env("TOKENIZERS_PARALLELISM", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| format!("running {cmd:?}"))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let top = child.id();
    let mut rank_pids: Vec<Option<u32>> = vec![None; ranks];
    if ranks == 1 {
        rank_pids[0] = Some(top);
    }
    let mut ranks_kib = vec![0; ranks];
    let mut launcher_kib = 0;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if rank_pids.iter().any(Option::is_none) {
            for pid in children_of(top) {
                if let Some(rank) = rank_of(pid).filter(|&r| r < ranks) {
                    rank_pids[rank] = Some(pid);
                }
            }
        }
        if ranks > 1 {
            launcher_kib = launcher_kib.max(vm_hwm_kib(top).unwrap_or(0));
        }
        for (pid, peak) in rank_pids.iter().zip(ranks_kib.iter_mut()) {
            if let Some(kib) = pid.and_then(vm_hwm_kib) {
                *peak = (*peak).max(kib);
            }
        }
        std::thread::sleep(POLL);
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!("{cmd:?} failed ({status}):\n{}", tail.join("\n"));
    }
    if let Some(rank) = ranks_kib.iter().position(|&k| k == 0) {
        bail!("{cmd:?}: never saw the memory of rank {rank} (no process with RANK={rank})");
    }
    Ok(Watched {
        stdout,
        ranks_kib,
        launcher_kib: (ranks > 1).then_some(launcher_kib),
    })
}

/// The processes whose parent is `parent` (/proc/<pid>/stat's fourth field, after the
/// parenthesised command name, which may itself hold spaces and parentheses).
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let after_name = &stat[stat.rfind(')')? + 1..];
                    after_name.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

/// The `RANK` a process was started with (none before its exec, while it still holds its
/// parent's environment).
fn rank_of(pid: u32) -> Option<usize> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ
        .split(|&b| b == 0)
        .find_map(|var| var.strip_prefix(b"RANK="))
        .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
}

/// The rounds of both layouts: examples/s of each and the ratio of the several-process side
/// to the one-process side (median, min, max), both Spearmans and their gap, the all-reduce's
/// cost per step and its share of a step, and each process's peak resident memory.
fn summarize_nproc(
    seed: u64,
    batch_size: usize,
    layouts: &[Layout],
    results: &[Vec<Value>],
) -> (String, Value) {
    let per_layout = |f: &dyn Fn(&Value) -> f64| -> Vec<SideRuns> {
        layouts
            .iter()
            .zip(results)
            .map(|(layout, runs)| SideRuns {
                label: layout.label(),
                values: runs.iter().map(f).collect(),
            })
            .collect()
    };
    let rates = per_layout(&|r| num(r, "rate"));
    let before = per_layout(&|r| num(r, "spearman_before"));
    let after = per_layout(&|r| num(r, "spearman_after"));
    let several: Vec<usize> = (1..layouts.len()).collect();
    let mut text = report("examples/s", &rates, &several, &[0]);
    for (b, a) in before.iter().zip(&after) {
        let _ = writeln!(
            text,
            "spearman {:<24} {:.4} → {:.4}",
            a.label,
            Spread::of(&b.values).median,
            Spread::of(&a.values).median
        );
    }
    let median = |runs: &SideRuns| Spread::of(&runs.values).median;
    let mut gaps = Vec::new();
    for &i in &several {
        let gap = median(&after[i]) - median(&after[0]);
        let _ = writeln!(
            text,
            "spearman gap {} − {} {gap:+.4} ({} ±{PARITY_TOLERANCE})",
            after[i].label,
            after[0].label,
            within(gap)
        );
        gaps.push(gap);
    }
    let mut allreduce = Vec::new();
    for &i in &several {
        let runs = &results[i];
        let mb = Spread::of(
            &runs
                .iter()
                .map(|r| num(r, "allreduce_mb_per_step"))
                .collect::<Vec<_>>(),
        );
        let seconds: Vec<f64> = runs
            .iter()
            .map(|r| num(r, "allreduce_seconds_per_step"))
            .collect();
        // A step's time from the rate: the global batch over examples/s (training time only,
        // as the rate is).
        let share: Vec<f64> = runs
            .iter()
            .map(|r| num(r, "allreduce_seconds_per_step") * num(r, "rate") / batch_size as f64)
            .collect();
        let (seconds, share) = (Spread::of(&seconds), Spread::of(&share));
        let _ = writeln!(
            text,
            "all-reduce, {}: {:.1} MB of gradients summed per step, {seconds:.3} s per step, {:.1}% [{:.1}–{:.1}] of a step",
            layouts[i].label(),
            mb.median,
            share.median * 100.0,
            share.min * 100.0,
            share.max * 100.0
        );
        allreduce.push(json!({
            "side": layouts[i].label(),
            "mb_per_step": mb.to_json(),
            "seconds_per_step": seconds.to_json(),
            "share_of_step": share.to_json(),
        }));
    }
    let _ = writeln!(
        text,
        "peak resident memory per process (VmHWM, MiB) median [min–max]:"
    );
    let mut memory = Vec::new();
    for (layout, runs) in layouts.iter().zip(results) {
        let of = |key: &str, index: Option<usize>| {
            Spread::of(
                &runs
                    .iter()
                    .map(|r| match index {
                        Some(i) => r[key][i].as_f64().unwrap_or(f64::NAN),
                        None => num(r, key),
                    })
                    .collect::<Vec<_>>(),
            )
        };
        let processes: Vec<Spread> = (0..layout.processes)
            .map(|i| of("peak_rss_mib", Some(i)))
            .collect();
        let mut line = format!("{:<24}", layout.label());
        for (i, spread) in processes.iter().enumerate() {
            let who = if layout.processes > 1 {
                format!("rank {i}")
            } else {
                "process".into()
            };
            let _ = write!(line, "{}{who} {spread:.1}", if i > 0 { ", " } else { " " });
        }
        let launcher = (layout.processes > 1).then(|| of("launcher_peak_rss_mib", None));
        if let Some(launcher) = launcher {
            let _ = write!(line, "; launcher {launcher:.1}");
        }
        let _ = writeln!(text, "{line}");
        memory.push(json!({
            "side": layout.label(),
            "processes": processes.iter().map(|s| s.to_json()).collect::<Vec<_>>(),
            "launcher": launcher.map(Spread::to_json),
        }));
    }
    let json = json!({
        "loss": BenchLoss::Mnrl.name(),
        "seed": seed,
        "layouts": layouts.iter().map(|l| json!({"processes": l.processes, "threads": l.threads})).collect::<Vec<_>>(),
        "rates": report_json(&rates, &several, &[0]),
        "spearman_after": report_json(&after, &[], &[]),
        "spearman_gap": gaps,
        "allreduce": allreduce,
        "peak_rss_mib": memory,
        "runs": layouts.iter().zip(results).map(|(l, r)| json!({"side": l.label(), "results": r})).collect::<Vec<_>>(),
    });
    (text, json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bench(args: &[&str]) -> TrainBench {
        use clap::Parser;
        let argv = ["xtask", "bench", "train"].iter().chain(args);
        match crate::Cli::try_parse_from(argv).unwrap().command {
            crate::Command::Bench {
                which:
                    crate::BenchKind::Train {
                        loss,
                        threads,
                        batch_size,
                        nproc,
                        ..
                    },
            } => TrainBench {
                losses: loss,
                rows: 64,
                stsb_rows: None,
                batch_size,
                epochs: 1,
                learning_rate: 5e-5,
                warmup_steps: 100,
                weight_decay: 0.01,
                seeds: vec![42],
                threads: threads.unwrap_or(2),
                sides: Sides::Both,
                order: Order::Same,
                cuda: false,
                python: None,
                precision: BenchDtype::Fp32,
                rounds: 1,
                nproc: nproc.map(|n| n as usize),
            },
            _ => unreachable!(),
        }
    }

    #[test]
    fn nproc_takes_the_mnrl_recipe_with_the_threads_shared_out() {
        let opts = bench(&["--nproc", "2", "--threads", "2"]);
        assert_eq!(opts.nproc, Some(2));
        check_nproc(2, &opts).unwrap();
        let err = check_nproc(2, &bench(&["--nproc", "2", "--threads", "3"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--threads 3 cannot be shared out"), "{err}");
        let err = check_nproc(2, &bench(&["--nproc", "2", "--loss", "cosine"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("leave out --loss cosine"), "{err}");
        // Without --nproc the bench is the comparison with sentence-transformers.
        assert_eq!(bench(&[]).nproc, None);
        for wrong in [
            &["--nproc", "1"][..],
            &["--nproc", "2", "--sides", "python"],
            &["--nproc", "2", "--cuda"],
            &["--nproc", "2", "--cross-encoder"],
        ] {
            let argv = ["xtask", "bench", "train"].iter().chain(wrong);
            assert!(
                <crate::Cli as clap::Parser>::try_parse_from(argv).is_err(),
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn layouts_name_processes_and_threads() {
        assert_eq!(Layout::single(2).label(), "1 process × 2 threads");
        let two = Layout {
            processes: 2,
            threads: 1,
        };
        assert_eq!(two.label(), "2 processes × 1 thread");
        assert_eq!(
            (Layout::single(2).file_suffix(), two.file_suffix()),
            (String::new(), "-2x1".into())
        );
    }

    #[test]
    fn reads_the_all_reduce_line() {
        let stdout = "[rank 0] trained 100 steps on 3200 examples at 20.5 examples/s; model saved to x\n\
                      [rank 0] 2 processes: 90.9 MB of gradients summed per step, 0.123 s per step in that all-reduce\n";
        assert_eq!(communication(stdout).unwrap(), (90.9, 0.123));
        assert!(communication("[rank 0] trained 1 steps\n").is_err());
    }

    /// A stand-in launcher: `sh` starting two children with RANK set, as `train-cli --nproc 2`
    /// starts its ranks.
    #[test]
    fn watches_each_rank_of_a_launcher() {
        let w = run_watched(
            Command::new("sh").args([
                "-c",
                "RANK=1 sleep 0.4 & RANK=0 sleep 0.4 & echo started; wait",
            ]),
            1,
            2,
        )
        .unwrap();
        assert_eq!(w.stdout, "started\n");
        assert!(w.ranks_kib.iter().all(|&k| k > 0), "{:?}", w.ranks_kib);
        assert!(w.launcher_kib.is_some_and(|k| k > 0));

        let w = run_watched(Command::new("sh").args(["-c", "sleep 0.1"]), 1, 1).unwrap();
        assert!(w.ranks_kib[0] > 0 && w.launcher_kib.is_none());

        let err = run_watched(
            Command::new("sh").args(["-c", "echo broken >&2; exit 3"]),
            1,
            1,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("broken"), "{err}");
        // A launcher whose ranks never appear is an error, not a 0 MiB rank.
        let err = run_watched(Command::new("sh").args(["-c", "sleep 0.1"]), 1, 2)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("rank 0"), "{err}");
    }

    #[test]
    fn nproc_summary_sets_the_several_processes_against_one() {
        let layouts = [
            Layout::single(2),
            Layout {
                processes: 2,
                threads: 1,
            },
        ];
        let one = |rate: f64, mib: f64| {
            json!({"rate": rate, "spearman_before": 0.8672, "spearman_after": 0.8690,
                   "peak_rss_mib": [mib]})
        };
        let two = |rate: f64, seconds: f64| {
            json!({"rate": rate, "spearman_before": 0.8672, "spearman_after": 0.8700,
                   "peak_rss_mib": [700.0, 650.0], "launcher_peak_rss_mib": 20.0,
                   "allreduce_mb_per_step": 90.9, "allreduce_seconds_per_step": seconds})
        };
        let results = vec![
            vec![one(20.0, 900.0), one(25.0, 910.0)],
            vec![two(30.0, 0.1), two(25.0, 0.2)],
        ];
        let (text, json) = summarize_nproc(42, 32, &layouts, &results);
        assert!(
            text.contains(
                "ratio 2 processes × 1 thread / 1 process × 2 threads: 1.25 [1.00–1.50]x"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "spearman gap 2 processes × 1 thread − 1 process × 2 threads +0.0010 (within"
            ),
            "{text}"
        );
        // 0.1 s of a 32 / 30 s step, 0.2 s of a 32 / 25 s step.
        assert!(text.contains("90.9 MB of gradients summed per step, 0.150 [0.100–0.200] s per step, 12.5% [9.4–15.6] of a step"), "{text}");
        assert!(text.contains("process 905.0 [900.0–910.0]"), "{text}");
        assert!(
            text.contains("rank 0 700.0 [700.0–700.0], rank 1 650.0 [650.0–650.0]; launcher 20.0"),
            "{text}"
        );
        assert_eq!(json["peak_rss_mib"][1]["processes"][1]["median"], 650.0);
    }
}
