//! The git-ignored Python venv holding the reference implementation (sentence-transformers on
//! torch 2.11.0) that benchmarks compare against. Never a runtime dependency.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Context, Result};

use crate::setup::TORCH_VERSION;

/// Returns a Python that imports sentence-transformers: `explicit` if given, else the venv
/// `.venv-bench` of the project, created and filled on first use.
pub fn reference_python(root: &Path, explicit: Option<&str>) -> Result<PathBuf> {
    if let Some(python) = explicit {
        return Ok(PathBuf::from(python));
    }
    let venv = root.join(".venv-bench");
    let python = venv.join("bin").join("python");
    if python.exists() && imports_sentence_transformers(&python) {
        return Ok(python);
    }
    println!(
        "creating {} with torch=={TORCH_VERSION} and sentence-transformers (first run only)",
        venv.display()
    );
    let status = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&venv)
        .status()
        .context("running python3 -m venv")?;
    ensure!(
        status.success(),
        "creating the venv {} failed ({status})",
        venv.display()
    );
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            &format!("torch=={TORCH_VERSION}"),
            "sentence-transformers[train]",
        ])
        .status()
        .context("running pip install")?;
    ensure!(
        status.success(),
        "pip install torch=={TORCH_VERSION} sentence-transformers[train] failed ({status})"
    );
    Ok(python)
}

fn imports_sentence_transformers(python: &Path) -> bool {
    Command::new(python)
        .args([
            "-c",
            "import sentence_transformers, torch, datasets, accelerate",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}
