//! Gloo's headers for the c10d bindings in `crates/torch-ext`.
//!
//! The PyPI torch wheel has Gloo compiled into `libtorch_cpu.so` and ships c10d's headers, but
//! `ProcessGroupGloo.hpp` includes Gloo's own headers, which the wheel leaves out. Debian's
//! `libgloo-dev` has them (a 2022 snapshot whose classes match what torch 2.11 was built with,
//! see ../shared/FACTS.md). We fetch that one pinned package from Debian's pool — a registry
//! this project may reach — check its digest, and unpack only its `usr/include/gloo` into
//! `.gloo/include`, which `.cargo/config.toml` hands to torch-ext's build script as
//! `GLOO_INCLUDE_DIR`. No root, no system change.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Context, Result};

const VERSION: &str = "0.0~git20220518.5b14351-3";
const URL: &str = "https://deb.debian.org/debian/pool/main/g/gloo/libgloo-dev_0.0~git20220518.5b14351-3_amd64.deb";
const SHA256: &str = "80529c9fd8af452faf489e686b94bf87075965c40673803810c4f41634b1e299";
const MARKER: &str = "GLOO_VERSION";

pub fn gloo_dir(root: &Path) -> PathBuf {
    root.join(".gloo")
}

/// Installs the headers unless the pinned version is already there.
pub fn ensure_headers(root: &Path, force: bool) -> Result<()> {
    let dest = gloo_dir(root);
    let installed = fs::read_to_string(dest.join(MARKER)).ok();
    let complete = dest.join("include/gloo/algorithm.h").is_file();
    if !force && complete && installed.as_deref().map(str::trim) == Some(VERSION) {
        println!("gloo headers {VERSION} already at {}", dest.display());
        return Ok(());
    }
    let downloads = root.join("target").join("gloo-deb");
    fs::create_dir_all(&downloads).with_context(|| format!("creating {}", downloads.display()))?;
    let deb = downloads.join(format!("libgloo-dev_{VERSION}_amd64.deb"));
    if sha256_of(&deb).ok().as_deref() != Some(SHA256) {
        println!("fetching Debian's libgloo-dev {VERSION} (headers only, 49 kB)");
        let status = Command::new("curl")
            .args(["-fsSL", "--retry", "3", "-o"])
            .arg(&deb)
            .arg(URL)
            .status()
            .context("running curl (needed to fetch Gloo's headers)")?;
        ensure!(status.success(), "downloading {URL} failed ({status})");
    }
    let digest = sha256_of(&deb)?;
    ensure!(
        digest == SHA256,
        "{} has sha256 {digest}, expected {SHA256}: refusing to use it",
        deb.display()
    );

    // Unpack beside the destination and rename at the end: an interrupted set-up never leaves
    // a half-filled `.gloo` that looks installed.
    let staging = dest.with_extension("partial");
    remove_dir(&staging)?;
    fs::create_dir_all(&staging)?;
    let unpacked = staging.join("deb");
    let status = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&unpacked)
        .status();
    match status {
        Ok(s) if s.success() => {}
        // Not a Debian system: a .deb is an `ar` archive holding data.tar.*.
        _ => unpack_with_ar(&deb, &unpacked)?,
    }
    let headers = unpacked.join("usr/include/gloo");
    ensure!(
        headers.join("algorithm.h").is_file(),
        "{} has no usr/include/gloo/algorithm.h",
        deb.display()
    );
    fs::create_dir_all(staging.join("include"))?;
    fs::rename(&headers, staging.join("include/gloo"))?;
    remove_dir(&unpacked)?;
    fs::write(staging.join(MARKER), VERSION)?;
    remove_dir(&dest)?;
    fs::rename(&staging, &dest)
        .with_context(|| format!("moving Gloo's headers into {}", dest.display()))?;
    println!("gloo headers {VERSION} installed at {}", dest.display());
    Ok(())
}

fn unpack_with_ar(deb: &Path, out: &Path) -> Result<()> {
    fs::create_dir_all(out)?;
    let status = Command::new("ar")
        .arg("x")
        .arg(deb)
        .current_dir(out)
        .status()
        .context("neither dpkg-deb nor ar could unpack the .deb")?;
    ensure!(status.success(), "ar x {} failed ({status})", deb.display());
    let data = fs::read_dir(out)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("data.tar"))
        })
        .with_context(|| format!("{} holds no data.tar.*", deb.display()))?;
    let status = Command::new("tar")
        .arg("xf")
        .arg(&data)
        .arg("-C")
        .arg(out)
        .status()
        .context("running tar")?;
    ensure!(
        status.success(),
        "tar xf {} failed ({status})",
        data.display()
    );
    Ok(())
}

fn sha256_of(path: &Path) -> Result<String> {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .context("running sha256sum")?;
    ensure!(out.status.success(), "sha256sum {} failed", path.display());
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned())
}

fn remove_dir(path: &Path) -> Result<()> {
    if fs::symlink_metadata(path).is_ok() {
        fs::remove_dir_all(path).with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}
