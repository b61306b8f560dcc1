//! Which folders a run may write its output into, checked before anything is loaded.
//!
//! A run writes `model.safetensors`, `config.json`, `README.md`, `checkpoints/` and more
//! straight into `output.dir`, replacing files of those names. So `output.dir` must be a new
//! folder, an empty one, or one a previous run wrote (it holds `metrics.jsonl`,
//! `checkpoints/`, `train_config.toml` or `.train.lock`: resuming and re-running land there).
//! Refused: an empty path, the filesystem root, the current working directory itself (even
//! one that holds a previous run: `-o .` is almost always a slip), something that is not a
//! folder, and a folder with other files in it (hidden ones count too).

use std::path::Path;

use crate::error::{Error, Result};
use crate::run_folder::output_lock::LOCK_FILE;

/// What a previous run leaves in its output folder (any one of them is enough).
const RUN_MARKERS: &[&str] = &[
    "metrics.jsonl",
    "checkpoints",
    "train_config.toml",
    LOCK_FILE,
];

/// How many of a refused folder's entries the message names.
const SHOWN_ENTRIES: usize = 3;

/// Refuses an `output.dir` a run must not write into (see the module docs).
pub(crate) fn check_output_dir(dir: &Path) -> Result<()> {
    let refuse = |message: String| {
        Err(Error::Config {
            origin: "output.dir".into(),
            message,
        })
    };
    if dir.as_os_str().is_empty() {
        return refuse("is empty; name a folder for the run's output".into());
    }
    let Ok(real) = std::fs::canonicalize(dir) else {
        return Ok(()); // a new folder (or one whose parents are missing: created as needed)
    };
    let shown = dir.display();
    if real.parent().is_none() {
        return refuse(format!(
            "{shown} is the filesystem root; name a folder for the run"
        ));
    }
    if std::env::current_dir().is_ok_and(|cwd| cwd == real) {
        return refuse(format!(
            "{shown} is the current working directory; name a folder for the run's output"
        ));
    }
    if !real.is_dir() {
        return refuse(format!("{shown} exists and is not a folder"));
    }
    let others = foreign_entries(dir)?;
    if others.is_empty() {
        return Ok(());
    }
    refuse(format!(
        "{shown} is not empty and is not a previous run's output (no {}); it holds {}: \
         choose a new or empty folder",
        RUN_MARKERS.join(", "),
        others.join(", ")
    ))
}

/// A few entries of `dir`, or none when it is empty or holds a previous run's output.
fn foreign_entries(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(crate::error::io_error(dir))?;
    for entry in entries {
        let name = entry
            .map_err(crate::error::io_error(dir))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if RUN_MARKERS.contains(&name.as_str()) {
            return Ok(Vec::new());
        }
        names.push(name);
    }
    names.sort();
    if names.len() > SHOWN_ENTRIES {
        let more = names.len() - SHOWN_ENTRIES;
        names.truncate(SHOWN_ENTRIES);
        names.push(format!("{more} more"));
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(dir: &Path, needles: &[&str]) {
        let text = check_output_dir(dir).unwrap_err().to_string();
        assert!(text.contains("output.dir"), "{text}");
        for needle in needles {
            assert!(text.contains(needle), "{needle:?} missing from: {text}");
        }
    }

    #[test]
    fn new_empty_and_previous_run_folders_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        check_output_dir(&dir.path().join("new/nested")).unwrap();
        check_output_dir(dir.path()).unwrap();
        for marker in RUN_MARKERS {
            let run = dir.path().join(format!("run-{marker}"));
            std::fs::create_dir_all(run.join(marker)).unwrap();
            std::fs::write(run.join("README.md"), "card").unwrap();
            check_output_dir(&run).unwrap();
        }
    }

    #[test]
    fn empty_root_file_and_foreign_folders_are_refused() {
        refused(Path::new(""), &["is empty"]);
        refused(Path::new("/"), &["filesystem root"]);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("notes.txt");
        std::fs::write(&file, "mine").unwrap();
        refused(&file, &["not a folder"]);
        for i in 0..4 {
            std::fs::write(dir.path().join(format!("f{i}")), "x").unwrap();
        }
        refused(
            dir.path(),
            &["not empty", "f0, f1, f2, 2 more", "metrics.jsonl"],
        );
    }

    #[test]
    fn the_current_working_directory_is_refused() {
        let cwd = std::env::current_dir().unwrap();
        refused(Path::new("."), &["current working directory"]);
        refused(&cwd, &["current working directory"]);
    }
}
