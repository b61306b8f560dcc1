//! Keeps the architecture honest: the crates that must build before libtorch exists, or that
//! promise to stay tensor-free, never reach `tch` or `torch-sys`, not even transitively.

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::process::Command;

    use serde_json::Value;

    const TENSOR_FREE: [&str; 5] = ["xtask", "hub", "data", "eval", "config"];
    const FORBIDDEN: [&str; 2] = ["tch", "torch-sys"];

    #[test]
    fn tensor_free_crates_never_depend_on_libtorch() {
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
        for krate in TENSOR_FREE {
            let start = names
                .iter()
                .find(|(_, n)| **n == krate)
                .map(|(id, _)| *id)
                .expect("workspace crate");
            let mut seen = HashSet::new();
            let mut stack = vec![start];
            while let Some(id) = stack.pop() {
                if !seen.insert(id) {
                    continue;
                }
                assert!(
                    !FORBIDDEN.contains(&names[id]),
                    "{krate} depends on {} (it must stay tensor-free)",
                    names[id]
                );
                stack.extend(edges.get(id).into_iter().flatten());
            }
        }
    }
}
