//! Writes small valid inputs of every format into the corpus folder given as argument, so
//! the fuzzer starts past the parquet footer and the CSV/JSONL headers.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

fn parquet(path: &Path, columns: Vec<(&str, ArrayRef)>, compression: Compression) {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|(_, array)| array).collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("batch");
    let props = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_size(2)
        .build();
    let file = File::create(path).expect("create");
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: seed_corpus <corpus dir>");
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).expect("corpus dir");
    let text = |values: &[&str]| Arc::new(StringArray::from(values.to_vec())) as ArrayRef;
    parquet(
        &dir.join("nli.parquet"),
        vec![
            ("premise", text(&["a man", "a man", "two dogs"])),
            ("hypothesis", text(&["a person", "a woman", "animals"])),
            ("label", Arc::new(Int64Array::from(vec![0, 2, -1])) as _),
        ],
        Compression::SNAPPY,
    );
    parquet(
        &dir.join("sts.parquet"),
        vec![
            ("sentence1", text(&["x", "y"])),
            ("sentence2", text(&["z", "w"])),
            ("label", Arc::new(Float32Array::from(vec![4.5, 0.0])) as _),
        ],
        Compression::ZSTD(ZstdLevel::default()),
    );
    let texts = [
        ("pairs.csv", "a,b,s\n\"x, y\",z,0.5\nq,\"multi\nline\",1\n"),
        ("nli.tsv", "premise\thypothesis\tlabel\nx\ty\t0\nx\tz\t2\n"),
        (
            "rows.jsonl",
            "{\"a\":\"x\",\"b\":\"y\",\"s\":0.25}\n\n{\"a\":\"q\",\"b\":\"r\",\"s\":1}\n",
        ),
    ];
    for (name, content) in texts {
        std::fs::write(dir.join(name), content).expect("write seed");
    }
}
