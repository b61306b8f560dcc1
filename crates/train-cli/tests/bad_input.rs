//! Bad input gives an error naming the file or key and a non-zero exit, never a panic.

mod common;

use std::path::Path;

use common::*;

fn encode_with_model(model: &Path, endpoint: &str) -> std::process::Output {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("in.txt");
    std::fs::write(&input, "hello world\n").unwrap();
    let output = work.path().join("out.npy");
    let model = model.to_str().unwrap();
    encode(
        model,
        &input,
        &output,
        &["--device", "cpu", "--quiet"],
        endpoint,
        work.path(),
    )
}

#[test]
fn missing_weights_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    link_minilm(dir.path());
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    assert_fails_with(
        &encode_with_model(dir.path(), "http://127.0.0.1:9"),
        &["model.safetensors"],
    );
}

#[test]
fn pickle_only_checkpoint_is_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    link_minilm(dir.path());
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    replace(
        dir.path(),
        "pytorch_model.bin",
        b"\x80\x02not really a pickle",
    );
    assert_fails_with(
        &encode_with_model(dir.path(), "http://127.0.0.1:9"),
        &["pytorch_model.bin", "safetensors"],
    );
}

#[test]
fn corrupt_weights_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    link_minilm(dir.path());
    replace(
        dir.path(),
        "model.safetensors",
        b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage",
    );
    assert_fails_with(
        &encode_with_model(dir.path(), "http://127.0.0.1:9"),
        &["model.safetensors"],
    );
}

#[test]
fn wrong_tensor_shape_names_key_and_both_shapes() {
    let dir = tempfile::tempdir().unwrap();
    link_minilm(dir.path());
    let config = std::fs::read_to_string(minilm_dir().join("config.json")).unwrap();
    replace(
        dir.path(),
        "config.json",
        config
            .replace("\"intermediate_size\": 1536", "\"intermediate_size\": 1024")
            .as_bytes(),
    );
    let out = encode_with_model(dir.path(), "http://127.0.0.1:9");
    assert_fails_with(
        &out,
        &[
            "config.json",
            "intermediate_size",
            "encoder.layer.0.intermediate.dense.weight",
            "[1024, 384]",
            "[1536, 384]",
        ],
    );
}

#[test]
fn unknown_pooling_mode_names_file_and_mode() {
    let dir = tempfile::tempdir().unwrap();
    link_minilm(dir.path());
    replace(
        dir.path(),
        "1_Pooling/config.json",
        br#"{"embedding_dimension": 384, "pooling_mode": "median"}"#,
    );
    assert_fails_with(
        &encode_with_model(dir.path(), "http://127.0.0.1:9"),
        &["1_Pooling/config.json", "median"],
    );
}

/// Every sentence-transformers JSON file is read through typed structs: a value of the wrong
/// type is an error naming the file and key, never silently a default (a `"true"` string for
/// the CLS flag used to mean mean pooling).
#[test]
fn wrong_types_in_model_folder_json_name_the_file_and_key() {
    let cases: [(&str, &[u8], &str); 4] = [
        (
            "1_Pooling/config.json",
            br#"{"word_embedding_dimension": 384, "pooling_mode_cls_token": "true"}"#,
            "pooling_mode_cls_token",
        ),
        (
            "1_Pooling/config.json",
            br#"{"word_embedding_dimension": 384, "pooling_mode_cls_tokens": true}"#,
            "pooling_mode_cls_tokens",
        ),
        (
            "sentence_bert_config.json",
            br#"{"max_seq_length": "256", "do_lower_case": false}"#,
            "max_seq_length",
        ),
        (
            "sentence_bert_config.json",
            br#"{"max_seq_length": 256, "do_lower_case": 1}"#,
            "do_lower_case",
        ),
    ];
    for (file, contents, key) in cases {
        let dir = tempfile::tempdir().unwrap();
        link_minilm(dir.path());
        replace(dir.path(), file, contents);
        assert_fails_with(
            &encode_with_model(dir.path(), "http://127.0.0.1:9"),
            &[file, key],
        );
    }
}

/// Token ids past the embedding table used to reach libtorch's index_select (a panic on the
/// first text with such a token); the tokenizer/config pair is refused at load, naming both.
#[test]
fn a_tokenizer_larger_than_the_embedding_table_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    link_minilm(dir.path());
    let text = std::fs::read_to_string(minilm_dir().join("tokenizer.json")).unwrap();
    let mut tokenizer: serde_json::Value = serde_json::from_str(&text).unwrap();
    let vocab = tokenizer["model"]["vocab"].as_object_mut().unwrap();
    let next = vocab.len();
    vocab.insert("zzqqxunseen".into(), serde_json::json!(next));
    replace(
        dir.path(),
        "tokenizer.json",
        tokenizer.to_string().as_bytes(),
    );
    assert_fails_with(
        &encode_with_model(dir.path(), "http://127.0.0.1:9"),
        &["30523 tokens", "vocab_size is 30522"],
    );
}

#[test]
fn non_bert_architecture_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    link_minilm(dir.path());
    let config = std::fs::read_to_string(minilm_dir().join("config.json")).unwrap();
    replace(
        dir.path(),
        "config.json",
        config
            .replace("\"model_type\": \"bert\"", "\"model_type\": \"gpt2\"")
            .as_bytes(),
    );
    assert_fails_with(
        &encode_with_model(dir.path(), "http://127.0.0.1:9"),
        &["config.json", "gpt2"],
    );
}

#[test]
fn corrupt_config_json_is_named() {
    let dir = tempfile::tempdir().unwrap();
    link_minilm(dir.path());
    replace(dir.path(), "config.json", b"{ not json");
    assert_fails_with(
        &encode_with_model(dir.path(), "http://127.0.0.1:9"),
        &["config.json"],
    );
}

#[test]
fn unreachable_endpoint_says_so() {
    // Port 9 (discard) on loopback: nothing listens there.
    let out = encode_with_model(
        Path::new("sentence-transformers/all-MiniLM-L6-v2"),
        "http://127.0.0.1:9",
    );
    assert_fails_with(&out, &["HF_ENDPOINT"]);
}

#[test]
fn model_missing_on_the_hub_is_named() {
    let endpoint = endpoint();
    let out = encode_with_model(Path::new("sentence-transformers/no-such-model"), &endpoint);
    assert_fails_with(&out, &["no-such-model"]);
}

#[test]
fn empty_input_file_is_named() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("empty.txt");
    std::fs::write(&input, "").unwrap();
    let (model, output) = (minilm_dir(), work.path().join("o.npy"));
    let out = encode(
        model.to_str().unwrap(),
        &input,
        &output,
        &[],
        "http://127.0.0.1:9",
        work.path(),
    );
    assert_fails_with(&out, &["empty.txt"]);
}

#[test]
fn wrong_column_and_output_format_are_reported_before_loading() {
    let work = tempfile::tempdir().unwrap();
    let stsb = stsb_test_parquet();
    let model = minilm_dir();
    let model = model.to_str().unwrap();
    let (npy, csv) = (work.path().join("o.npy"), work.path().join("o.csv"));
    let out = encode(
        model,
        &stsb,
        &npy,
        &["--column", "text"],
        "http://127.0.0.1:9",
        work.path(),
    );
    assert_fails_with(&out, &["text", "sentence1"]);
    let out = encode(
        model,
        &stsb,
        &csv,
        &["--column", "sentence1"],
        "http://127.0.0.1:9",
        work.path(),
    );
    assert_fails_with(&out, &["o.csv", ".npy"]);
}

#[test]
fn eval_on_a_split_without_gold_scores_is_refused() {
    let endpoint = endpoint();
    let home = tempfile::tempdir().unwrap();
    let out = train_cli(
        &[
            "eval",
            "--model",
            minilm_dir().to_str().unwrap(),
            "--dataset",
            "glue/stsb",
            "--split",
            "test",
        ],
        &endpoint,
        home.path(),
    );
    assert_fails_with(&out, &["test-00000-of-00001.parquet", "label"]);
}

/// A hub id that cannot load (nothing listens on the endpoint): an error naming `--output`
/// instead of `HF_ENDPOINT` shows the check ran before the model load.
const UNLOADABLE: &str = "sentence-transformers/all-MiniLM-L6-v2";
const CLOSED: &str = "http://127.0.0.1:9";

#[test]
fn encode_refuses_to_write_over_its_input_by_path_symlink_or_hard_link() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("texts.parquet");
    data::write_embeddings_parquet(&input, &["a", "b"], &[1.0, 2.0, 3.0, 4.0], 2).unwrap();
    let original = std::fs::read(&input).unwrap();
    let symlink = work.path().join("link.parquet");
    std::os::unix::fs::symlink(&input, &symlink).unwrap();
    let hard = work.path().join("hard.parquet");
    std::fs::hard_link(&input, &hard).unwrap();
    let dotted = work.path().join(".").join("texts.parquet");
    for output in [&input, &dotted, &symlink, &hard] {
        let out = encode(
            UNLOADABLE,
            &input,
            output,
            &["--column", "text"],
            CLOSED,
            work.path(),
        );
        assert_fails_with(&out, &["--output", "same file as --input", "texts.parquet"]);
    }
    assert_eq!(
        std::fs::read(&input).unwrap(),
        original,
        "the input changed"
    );
}

#[test]
fn encode_checks_the_output_folder_before_loading_the_model() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("in.txt");
    std::fs::write(&input, "hello world\n").unwrap();
    let missing = work.path().join("no/such/out.npy");
    let out = encode(UNLOADABLE, &input, &missing, &[], CLOSED, work.path());
    assert_fails_with(&out, &["--output", "no/such", "does not exist"]);
    // /proc takes no new files, not even from root (tests may run as root, so no chmod).
    let out = encode(
        UNLOADABLE,
        &input,
        Path::new("/proc/out.npy"),
        &[],
        CLOSED,
        work.path(),
    );
    assert_fails_with(&out, &["--output", "/proc", "not writable"]);
    let out = encode(UNLOADABLE, &input, work.path(), &[], CLOSED, work.path());
    assert_fails_with(&out, &["must end in .npy"]);
    let folder = work.path().join("folder.npy");
    std::fs::create_dir(&folder).unwrap();
    let out = encode(UNLOADABLE, &input, &folder, &[], CLOSED, work.path());
    assert_fails_with(&out, &["--output", "folder.npy", "is a folder"]);
}

#[test]
fn zero_or_huge_threads_and_zero_batch_size_name_the_flag() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("in.txt");
    std::fs::write(&input, "hello world\n").unwrap();
    let output = work.path().join("out.npy");
    for (flag, value) in [
        ("--threads", "0"),
        ("--threads", "3000000000"),
        ("--batch-size", "0"),
    ] {
        let out = encode(
            UNLOADABLE,
            &input,
            &output,
            &[flag, value],
            CLOSED,
            work.path(),
        );
        assert_fails_with(&out, &[flag, value]);
        let args = ["eval", "--model", UNLOADABLE, flag, value];
        assert_fails_with(&train_cli(&args, CLOSED, work.path()), &[flag, value]);
    }
    assert!(!output.exists());
}

#[test]
fn fp16_on_the_cpu_and_an_unknown_dtype_name_the_flag_and_the_choices() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("in.txt");
    std::fs::write(&input, "hello world\n").unwrap();
    let output = work.path().join("out.npy");
    let cases: [(&[&str], &[&str]); 2] = [
        (
            &["--dtype", "fp16", "--device", "cpu"],
            &["--dtype fp16", "CUDA only", "bf16 or fp32"],
        ),
        (&["--dtype", "fp8"], &["--dtype", "fp8", "fp32, bf16, fp16"]),
    ];
    for (flags, expected) in cases {
        let out = encode(UNLOADABLE, &input, &output, flags, CLOSED, work.path());
        assert_fails_with(&out, expected);
        let mut args = vec!["eval", "--model", UNLOADABLE];
        args.extend(flags);
        assert_fails_with(&train_cli(&args, CLOSED, work.path()), expected);
    }
    assert!(!output.exists());
}

/// The prompts fixture of the model crate: prompts "query" and "document", default "query".
fn prompts_model() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../model/tests/fixtures/modules/prompts-bert/model")
}

#[test]
fn an_unknown_prompt_name_lists_the_known_ones_and_prompt_flags_exclude_each_other() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("in.txt");
    std::fs::write(&input, "a cat sits\n").unwrap();
    let output = work.path().join("out.npy");
    let model = prompts_model();
    let model = model.to_str().unwrap();
    let flags = ["--device", "cpu", "--quiet", "--prompt-name", "passage"];
    let out = encode(model, &input, &output, &flags, CLOSED, work.path());
    assert_fails_with(&out, &["\"passage\"", "\"document\", \"query\""]);
    let flags = ["--prompt-name", "query", "--prompt", "query: "];
    let out = encode(model, &input, &output, &flags, CLOSED, work.path());
    assert_fails_with(&out, &["--prompt-name", "--prompt"]);
}

#[test]
fn encode_applies_a_named_prompt_the_default_one_and_an_empty_one_as_sentence_transformers() {
    let fixture = prompts_model();
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("../reference.json")).unwrap())
            .unwrap();
    let sentences: Vec<String> = meta["sentences"].as_array().unwrap()[..6]
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("in.txt");
    std::fs::write(&input, sentences.join("\n") + "\n").unwrap();
    let model = fixture.to_str().unwrap();
    for (flags, reference) in [
        (vec!["--prompt-name", "document"], "false-document.npy"),
        (vec![], "false-default.npy"),
        (vec!["--prompt", ""], "false-none.npy"),
    ] {
        let output = work.path().join("out.npy");
        let mut args = vec!["--device", "cpu", "--quiet"];
        args.extend(flags.iter());
        let out = encode(model, &input, &output, &args, CLOSED, work.path());
        assert!(
            out.status.success(),
            "{flags:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (got, rows, dim) = data::read_npy_f32(&output).unwrap();
        let (want, _, _) = data::read_npy_f32(fixture.join("..").join(reference)).unwrap();
        assert_eq!(rows, sentences.len());
        let diff = got
            .iter()
            .zip(&want[..rows * dim])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff <= 1e-5, "{flags:?}: max abs diff {diff:e}");
    }
}
