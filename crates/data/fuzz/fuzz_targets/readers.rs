//! Any bytes, saved under each extension `read_user_dataset` accepts (and read by the GLUE
//! parquet readers): every reader must return `Ok` or `Err`, never panic or abort.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use data::{
    read_nli_pairs, read_scored_pairs, read_text_column, read_user_dataset, ColumnMapping,
    NliColumns, ScoredPairColumns, UnlabeledRows,
};
use libfuzzer_sys::fuzz_target;

/// One folder for the whole run: a fresh one per input would dominate the run time.
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("data-fuzz-")
            .tempdir()
            .expect("temp dir");
        dir.keep()
    })
}

fn mappings() -> &'static [ColumnMapping] {
    static MAPPINGS: OnceLock<Vec<ColumnMapping>> = OnceLock::new();
    MAPPINGS.get_or_init(|| {
        vec![
            ColumnMapping::identity(),
            "anchor=a,positive=b,score=s".parse().expect("mapping"),
            "premise=premise,hypothesis=hypothesis,label=label"
                .parse::<ColumnMapping>()
                .expect("mapping")
                .with_num_labels(3),
        ]
    })
}

fuzz_target!(
    init: {
        // libfuzzer-sys aborts on every panic, even one that is caught. The data crate catches
        // the parquet crate's panics on corrupt files (apache/arrow-rs#9839) and returns an
        // error; a panic that escapes the readers still aborts in libfuzzer-sys' wrapper.
        std::panic::set_hook(Box::new(|info| eprintln!("panic: {info}")));
    },
    |bytes: &[u8]| {
    let dir = scratch();
    for extension in ["csv", "tsv", "jsonl", "parquet"] {
        let path = dir.join(format!("input.{extension}"));
        std::fs::write(&path, bytes).expect("write input");
        for mapping in mappings() {
            let _ = read_user_dataset(&path, mapping);
        }
    }
    let parquet = dir.join("input.parquet");
    let _ = read_nli_pairs(&parquet, &NliColumns::GLUE, UnlabeledRows::Skip);
    let _ = read_scored_pairs(&parquet, &ScoredPairColumns::GLUE);
    let _ = read_text_column(&parquet, "sentence1");
    }
);
