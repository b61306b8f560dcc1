//! `cargo xtask test`: the whole test suite on a fresh machine — installs libtorch if needed,
//! then `cargo test --workspace`.

use std::path::Path;
use std::process::Command;

use anyhow::{ensure, Result};

use crate::setup;

pub fn run(root: &Path, extra: &[String]) -> Result<()> {
    setup::run(
        root,
        &setup::SetupOptions {
            flavour: setup::Flavour::Cpu,
            force: false,
            python: "python3".into(),
        },
    )?;
    let status = Command::new(env!("CARGO"))
        .current_dir(root)
        .args(["test", "--workspace"])
        .args(extra)
        .status()?;
    ensure!(status.success(), "cargo test failed ({status})");
    Ok(())
}
