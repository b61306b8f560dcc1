//! The configs under `configs/` are what README tells users to run: each must parse and pass
//! validation, so a field renamed in the structs cannot leave a shipped config broken.

use std::path::Path;

use config::TrainConfig;

#[test]
fn every_shipped_config_parses_and_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            if let Err(e) = TrainConfig::from_file(&path, &[]) {
                panic!("{}: {e}", path.display());
            }
            seen.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    seen.sort();
    assert!(
        seen.contains(&"default.toml".to_string())
            && seen.contains(&"multi-dataset.toml".to_string()),
        "{seen:?}"
    );
}
