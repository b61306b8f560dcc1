//! `cargo xtask setup`: installs the libtorch that `tch` links against, and Gloo's headers
//! (see [`crate::gloo`]).
//!
//! download.pytorch.org is not always reachable, PyPI is: the libtorch shared libraries and
//! headers ship inside the `torch` wheel. For the CPU build we unpack only what torch-sys needs
//! (≈ 500 MB instead of a ≈ 4.7 GB venv). Leaving `libtorch_cuda.so` out makes torch-sys link
//! CPU-only. For `--cuda` we point at a full torch install (an existing one of the right
//! version, or a venv we create), whose `torch/` folder has the same `include/` + `lib/` shape.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};

/// tch 0.24 is built against exactly this PyTorch release (torch-sys `TORCH_VERSION`).
pub const TORCH_VERSION: &str = "2.11.0";
/// `libtorch_cpu.so` of the PyPI wheel NEEDs these two CUDA libraries even on CPU.
const CUDA_RUNTIME_WHEEL: &str = "nvidia-cuda-runtime==13.0.96.*";
const CUDA_CUPTI_WHEEL: &str = "nvidia-cuda-cupti==13.0.85.*";
const MARKER: &str = "SETUP_VERSION";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flavour {
    Cpu,
    Cuda,
}

impl Flavour {
    fn marker(self) -> String {
        match self {
            Flavour::Cpu => format!("torch {TORCH_VERSION} cpu"),
            Flavour::Cuda => format!("torch {TORCH_VERSION} cuda"),
        }
    }
}

pub struct SetupOptions {
    pub flavour: Flavour,
    pub force: bool,
    pub python: String,
}

pub fn run(root: &Path, opts: &SetupOptions) -> Result<()> {
    // Gloo's headers are needed whichever libtorch is linked (torch-ext's c10d bindings).
    crate::gloo::ensure_headers(root, opts.force)?;
    if let Ok(user) = std::env::var("LIBTORCH") {
        let dir = PathBuf::from(&user);
        // `.cargo/config.toml` sets LIBTORCH for cargo-run children, so only a *foreign* value
        // means the user chose their own libtorch.
        let ours = libtorch_dir(root);
        let same =
            dir == ours || (dir.exists() && dir.canonicalize().ok() == ours.canonicalize().ok());
        if !same {
            println!("LIBTORCH is set to {user}: using your libtorch, nothing to install");
            return Ok(());
        }
    }
    let dest = libtorch_dir(root);
    let wanted = opts.flavour.marker();
    if !opts.force && installed_flavour(root).as_deref() == Some(wanted.as_str()) {
        println!(
            "{wanted} already installed at {} (nothing to do)",
            dest.display()
        );
        return Ok(());
    }
    match opts.flavour {
        Flavour::Cpu => install_cpu(root, &dest, &opts.python)?,
        Flavour::Cuda => install_cuda(root, &dest, &opts.python)?,
    }
    println!("{wanted} installed at {}", dest.display());
    println!("cargo build / test / run now link against it (see .cargo/config.toml)");
    Ok(())
}

pub fn libtorch_dir(root: &Path) -> PathBuf {
    root.join(".libtorch")
}

fn installed_marker(dest: &Path) -> Option<String> {
    let text = fs::read_to_string(dest.join(MARKER)).ok()?;
    let ok = dest.join("include").is_dir() && dest.join("lib").is_dir();
    ok.then(|| text.trim().to_string())
}

fn install_cpu(root: &Path, dest: &Path, python: &str) -> Result<()> {
    let downloads = root.join("target").join("libtorch-wheels");
    fs::create_dir_all(&downloads).with_context(|| format!("creating {}", downloads.display()))?;
    for spec in [
        format!("torch=={TORCH_VERSION}"),
        CUDA_RUNTIME_WHEEL.into(),
        CUDA_CUPTI_WHEEL.into(),
    ] {
        println!("fetching wheel {spec} from PyPI (pip's cache makes re-runs quick)");
        let status = Command::new(python)
            .args([
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
            ])
            .arg("-d")
            .arg(&downloads)
            .arg(&spec)
            .status()
            .with_context(|| format!("running `{python} -m pip download {spec}`"))?;
        ensure!(
            status.success(),
            "`{python} -m pip download {spec}` failed ({status})"
        );
    }
    let torch_wheel = find_wheel(&downloads, &format!("torch-{TORCH_VERSION}-"))?;
    let cudart_wheel = find_wheel(&downloads, "nvidia_cuda_runtime-")?;
    let cupti_wheel = find_wheel(&downloads, "nvidia_cuda_cupti-")?;

    // Unpack into a sibling folder first and rename at the end, so an interrupted set-up never
    // leaves a half-filled `.libtorch` that looks installed.
    let staging = dest.with_extension("partial");
    remove_path(&staging)?;
    fs::create_dir_all(staging.join("lib"))?;
    let script = r#"
import sys, zipfile, os, shutil
torch_whl, cudart_whl, cupti_whl, out = sys.argv[1:5]
keep_libs = {"libtorch_cpu.so", "libc10.so", "libtorch.so", "libgomp.so.1"}
def extract(whl, want, rename):
    with zipfile.ZipFile(whl) as z:
        for info in z.infolist():
            target = want(info.filename)
            if target is None or info.is_dir():
                continue
            path = os.path.join(out, target)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with z.open(info) as src, open(path, "wb") as dst:
                shutil.copyfileobj(src, dst)
def torch_files(name):
    if name.startswith("torch/include/"):
        return name[len("torch/"):]
    if name.startswith("torch/lib/") and os.path.basename(name) in keep_libs:
        return "lib/" + os.path.basename(name)
    return None
extract(torch_whl, torch_files, None)
extract(cudart_whl, lambda n: "lib/libcudart.so.13" if n.endswith("/libcudart.so.13") else None, None)
extract(cupti_whl, lambda n: "lib/libcupti.so.13" if n.endswith("/libcupti.so.13") else None, None)
"#;
    println!(
        "unpacking libtorch {TORCH_VERSION} (CPU) into {}",
        dest.display()
    );
    let status = Command::new(python)
        .args(["-c", script])
        .args([&torch_wheel, &cudart_wheel, &cupti_wheel])
        .arg(&staging)
        .status()
        .context("running the wheel-unpacking script")?;
    ensure!(
        status.success(),
        "unpacking the torch wheel failed ({status})"
    );
    for lib in [
        "libtorch_cpu.so",
        "libc10.so",
        "libtorch.so",
        "libcudart.so.13",
        "libcupti.so.13",
    ] {
        ensure!(
            staging.join("lib").join(lib).is_file(),
            "the wheels did not contain {lib}"
        );
    }
    fs::write(staging.join(MARKER), Flavour::Cpu.marker())?;
    remove_path(dest)?;
    remove_path(&root.join(".libtorch-flavour"))?;
    fs::rename(&staging, dest)
        .with_context(|| format!("moving libtorch into {}", dest.display()))?;
    Ok(())
}

fn install_cuda(root: &Path, dest: &Path, python: &str) -> Result<()> {
    // Prefer a torch that is already installed (GPU machines usually have one): a second
    // multi-GB download of the same release gains nothing.
    let torch_dir = match torch_of(python)? {
        Some((version, dir)) if version.starts_with(TORCH_VERSION) && version.contains("+cu") => {
            println!("using the installed torch {version} at {}", dir.display());
            dir
        }
        _ => {
            let venv = root.join(".venv-torch-cuda");
            let venv_python = venv.join("bin").join("python");
            if !venv_python.exists() {
                println!(
                    "creating {} with torch=={TORCH_VERSION} (CUDA, ≈ 3 GB)",
                    venv.display()
                );
                let status = Command::new(python)
                    .args(["-m", "venv"])
                    .arg(&venv)
                    .status()?;
                ensure!(status.success(), "creating the venv failed ({status})");
            }
            let status = Command::new(&venv_python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    &format!("torch=={TORCH_VERSION}"),
                ])
                .status()
                .context("running pip install torch")?;
            ensure!(
                status.success(),
                "pip install torch=={TORCH_VERSION} failed ({status})"
            );
            let venv_python = venv_python.to_string_lossy().into_owned();
            match torch_of(&venv_python)? {
                Some((_, dir)) => dir,
                None => bail!("torch is not importable from {venv_python} after installing it"),
            }
        }
    };
    ensure!(
        torch_dir.join("lib").join("libtorch_cuda.so").is_file(),
        "{} has no lib/libtorch_cuda.so: not a CUDA build of torch",
        torch_dir.display()
    );
    remove_path(dest)?;
    std::os::unix::fs::symlink(&torch_dir, dest)
        .with_context(|| format!("linking {} to {}", dest.display(), torch_dir.display()))?;
    // The marker lives beside the link, not inside someone else's torch install.
    fs::write(root.join(".libtorch-flavour"), Flavour::Cuda.marker())?;
    Ok(())
}

/// `(version, torch package dir)` of the torch importable by `python`, if any.
fn torch_of(python: &str) -> Result<Option<(String, PathBuf)>> {
    let out = Command::new(python)
        .args([
            "-c",
            "import torch, os; print(torch.__version__); print(os.path.dirname(torch.__file__))",
        ])
        .output();
    let Ok(out) = out else { return Ok(None) };
    if !out.status.success() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    match (lines.next(), lines.next()) {
        (Some(v), Some(d)) => Ok(Some((v.trim().to_string(), PathBuf::from(d.trim())))),
        _ => Ok(None),
    }
}

fn find_wheel(dir: &Path, prefix: &str) -> Result<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with(prefix) && name.ends_with(".whl") {
            found.push(path);
        }
    }
    found.sort();
    found
        .pop()
        .with_context(|| format!("no wheel named {prefix}*.whl in {}", dir.display()))
}

fn remove_path(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path)?,
        Ok(_) => fs::remove_file(path)?,
        Err(_) => {}
    }
    Ok(())
}

/// The flavour marker of an install made by [`run`]: CPU installs carry it inside the folder,
/// CUDA ones (a link into a torch install) beside it.
pub fn installed_flavour(root: &Path) -> Option<String> {
    let dest = libtorch_dir(root);
    if fs::symlink_metadata(&dest).ok()?.file_type().is_symlink() {
        return fs::read_to_string(root.join(".libtorch-flavour"))
            .ok()
            .map(|s| s.trim().into());
    }
    installed_marker(&dest)
}
