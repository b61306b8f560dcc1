//! Keeps the architecture honest: the crates that must build before libtorch exists, or that
//! promise to stay tensor-free, never reach `tch` or `torch-sys`, not even transitively; and
//! the layers below the trainer (the evaluators, retrieval) never reach it.

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::process::Command;

    use serde_json::Value;

    const TENSOR_FREE: [&str; 5] = ["xtask", "hub", "data", "eval", "config"];
    const FORBIDDEN: [&str; 2] = ["tch", "torch-sys"];
    /// Crates that `train-cli eval`/`predict`/`mine`/`search` build on, which must not need the
    /// training loop.
    const BELOW_TRAINER: [&str; 3] = ["evaluate", "retrieval", "losses"];

    #[test]
    fn tensor_free_crates_never_depend_on_libtorch() {
        for krate in TENSOR_FREE {
            for dependency in dependencies_of(krate) {
                assert!(
                    !FORBIDDEN.contains(&dependency.as_str()),
                    "{krate} depends on {dependency} (it must stay tensor-free)"
                );
            }
        }
    }

    #[test]
    fn evaluators_and_retrieval_never_depend_on_the_trainer() {
        for krate in BELOW_TRAINER {
            assert!(
                !dependencies_of(krate).contains("trainer"),
                "{krate} depends on trainer (the evaluators, retrieval and losses sit below it)"
            );
        }
    }

    /// Every crate `krate` reaches through normal and build dependencies, itself included.
    fn dependencies_of(krate: &str) -> HashSet<String> {
        let out = Command::new(env!("CARGO"))
            .args(["metadata", "--format-version", "1", "--manifest-path"])
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
            .output()
            .expect("cargo metadata runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
        let names: HashMap<&str, &str> = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
            .collect();
        // Normal and build dependencies only: dev-dependencies do not reach users' builds.
        let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
        for node in meta["resolve"]["nodes"].as_array().unwrap() {
            let deps = node["deps"].as_array().unwrap().iter().filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].as_str() != Some("dev"))
            });
            edges.insert(
                node["id"].as_str().unwrap(),
                deps.map(|d| d["pkg"].as_str().unwrap()).collect(),
            );
        }
        let start = names
            .iter()
            .find(|(_, n)| **n == krate)
            .map(|(id, _)| *id)
            .expect("workspace crate");
        let mut seen = HashSet::new();
        let mut stack = vec![start];
        while let Some(id) = stack.pop() {
            if seen.insert(id) {
                stack.extend(edges.get(id).into_iter().flatten());
            }
        }
        seen.into_iter().map(|id| names[id].to_string()).collect()
    }
}
