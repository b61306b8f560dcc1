//! Inputs that once made a reader panic, found by `cargo fuzz run readers` (crates/data/fuzz).
//! Each must now give `Ok` or `Err` under every extension and reader.

use std::path::Path;

use data::{
    read_nli_pairs, read_scored_pairs, read_text_column, read_user_dataset, ColumnMapping, Error,
    NliColumns, ScoredPairColumns, UnlabeledRows,
};

/// What the fuzz target does with one input.
fn read_everywhere(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let mappings: [ColumnMapping; 2] = [
        ColumnMapping::identity(),
        "anchor=a,positive=b,score=s".parse().unwrap(),
    ];
    for extension in ["csv", "tsv", "jsonl", "parquet"] {
        let path = dir.path().join(format!("input.{extension}"));
        std::fs::write(&path, bytes).unwrap();
        for mapping in &mappings {
            let _ = read_user_dataset(&path, mapping);
        }
    }
    let parquet = dir.path().join("input.parquet");
    let _ = read_nli_pairs(&parquet, &NliColumns::GLUE, UnlabeledRows::Skip);
    let _ = read_scored_pairs(&parquet, &ScoredPairColumns::GLUE);
    let _ = read_text_column(&parquet, "sentence1");
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A parquet footer whose embedded arrow schema (`ARROW:schema`) declares a float of unknown
/// precision: arrow-ipc 57 panicked decoding it. The readers now ignore that metadata.
#[test]
fn corrupt_embedded_arrow_schema() {
    let bytes = fixture("corrupt_arrow_schema.parquet");
    read_everywhere(&bytes);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.parquet");
    std::fs::write(&path, &bytes).unwrap();
    assert!(read_user_dataset(&path, &ColumnMapping::identity()).is_err());
}

/// A footer whose column metadata has a thrift bool field with a non-bool wire type: parquet
/// 57.3 unwraps it (apache/arrow-rs#9839). The readers turn that panic into an error.
#[test]
fn malformed_thrift_bool_in_the_footer() {
    let bytes = fixture("malformed_thrift_bool.parquet");
    read_everywhere(&bytes);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.parquet");
    std::fs::write(&path, &bytes).unwrap();
    let err = read_user_dataset(&path, &ColumnMapping::identity()).unwrap_err();
    assert!(matches!(err, Error::Parquet { .. }), "{err:?}");
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains("panicked on corrupt input"), "{source}");
}
