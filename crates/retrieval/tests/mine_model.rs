//! `mine` with a real (tiny, random) model: the prompts `encode_query` / `encode_document`
//! would pick, the embedding cache, and agreement with `mine_embedded` on the same embeddings.

use std::path::{Path, PathBuf};

use model::{EmbeddingMatrix, EncodeOptions, PromptChoice, SentenceTransformer};
use retrieval::{
    mine, mine_embedded, EmbedOptions, EmbeddingCache, Error, MineParams, MiningTexts, Role,
    TextColumn,
};
use tch::{Device, Tensor};

const WORDS: [&str; 16] = [
    "query", "passage", "cat", "dog", "sat", "ran", "on", "the", "mat", "park", "red", "blue",
    "big", "small", "tree", "house",
];

/// A tiny BERT whose config gives the query and document prompts (and a default prompt that
/// `encode_query` / `encode_document` must not fall back to).
fn tiny_model(dir: &Path) -> SentenceTransformer {
    let folder = model::testing::tiny_bert(dir, &WORDS, 11).unwrap();
    let config = folder.join("config_sentence_transformers.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    json["prompts"] =
        serde_json::json!({"query": "query : ", "document": "passage : ", "other": "red : "});
    json["default_prompt_name"] = serde_json::json!("other");
    std::fs::write(&config, json.to_string()).unwrap();
    SentenceTransformer::load(&folder, Device::Cpu).unwrap()
}

fn rows() -> (Vec<String>, Vec<String>, Vec<String>) {
    let w = |i: usize| WORDS[2 + i % 14];
    let anchors = (0..12)
        .map(|i| format!("{} {} {}", w(i), w(i * 3 + 1), w(i / 2)))
        .collect();
    let positives = (0..12)
        .map(|i| format!("{} {} {}", w(i), w(i * 3 + 1), w(i * 5 + 2)))
        .collect();
    let corpus = (0..30)
        .map(|i| format!("{} {} {} {}", w(i), w(i * 7 + 3), w(i * 2 + 5), w(i / 3)))
        .collect();
    (anchors, positives, corpus)
}

fn encode(model: &SentenceTransformer, texts: &[String], prompt: &str) -> EmbeddingMatrix {
    let options = EncodeOptions {
        normalize: true,
        prompt: PromptChoice::Text(prompt.into()),
        ..EncodeOptions::default()
    };
    model.encode(texts, &options).unwrap()
}

fn tensor(m: &EmbeddingMatrix) -> Tensor {
    Tensor::from_slice(&m.data).view([m.rows as i64, m.dim as i64])
}

fn npy_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn default_prompts_are_encode_query_s_and_encode_document_s() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    assert_eq!(
        Role::Query.default_prompt(model.prompts()),
        PromptChoice::Name("query".into())
    );
    assert_eq!(
        Role::Document.default_prompt(model.prompts()),
        PromptChoice::Name("document".into())
    );
    // a prompt table without the role's names falls back to the model's default
    assert_eq!(
        Role::Query.default_prompt(&model::Prompts::default()),
        PromptChoice::Default
    );
}

#[test]
fn mine_embeds_with_role_prompts_caches_and_matches_mine_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let (anchors, positives, corpus) = rows();
    let texts = MiningTexts::new(
        TextColumn::new("anchor", &anchors),
        TextColumn::new("positive", &positives),
        Some(&corpus),
    )
    .unwrap();
    let params = MineParams {
        num_negatives: 2,
        show_progress: false,
        ..MineParams::default()
    };
    let cache_dir = dir.path().join("cache");
    let options = EmbedOptions {
        cache: Some(EmbeddingCache::new(&cache_dir, "tiny", "seed-11")),
        ..EmbedOptions::default()
    };
    let first = mine(&model, &texts, &params, &options).unwrap();
    assert!(first.dataset.num_rows() > 0);

    // the queries carry the "query" prompt and the corpus the "document" one
    let queries = encode(&model, texts.queries(), "query : ");
    let documents = encode(&model, texts.corpus(), "passage : ");
    let direct = mine_embedded(&texts, &tensor(&queries), &tensor(&documents), &params).unwrap();
    assert_eq!(first, direct);

    let files = npy_files(&cache_dir);
    assert_eq!(files.len(), 2, "{files:?}");
    let (corpus_file, query_file) = (&files[0], &files[1]);
    assert!(corpus_file.to_string_lossy().contains("corpus_embeddings_"));
    assert_eq!(data::read_npy_f32(query_file).unwrap().0, queries.data);
    assert_eq!(data::read_npy_f32(corpus_file).unwrap().0, documents.data);

    // other filters reuse the cached embeddings: the cached corpus is read, not re-encoded
    let stricter = MineParams {
        max_score: Some(0.99),
        ..params.clone()
    };
    let reversed: Vec<f32> = documents
        .data
        .chunks_exact(documents.dim)
        .rev()
        .flatten()
        .copied()
        .collect();
    data::write_npy_f32(corpus_file, &reversed, documents.rows, documents.dim).unwrap();
    let from_cache = mine(&model, &texts, &stricter, &options).unwrap();
    let reversed_m = EmbeddingMatrix {
        data: reversed,
        ..documents.clone()
    };
    let expected =
        mine_embedded(&texts, &tensor(&queries), &tensor(&reversed_m), &stricter).unwrap();
    assert_eq!(from_cache, expected);
    assert_eq!(npy_files(&cache_dir).len(), 2);

    // a given prompt is another cache entry
    let prompted = EmbedOptions {
        query_prompt: Some(PromptChoice::Text("big : ".into())),
        ..options.clone()
    };
    mine(&model, &texts, &params, &prompted).unwrap();
    assert_eq!(npy_files(&cache_dir).len(), 3);

    // a corrupt file is an error naming it, never re-encoded over
    std::fs::write(query_file, b"not an npy file").unwrap();
    let err = mine(&model, &texts, &params, &options).unwrap_err();
    assert!(matches!(err, Error::CacheRead { .. }), "{err}");
    assert!(
        err.to_string().contains(&*query_file.to_string_lossy()),
        "{err}"
    );
}

#[test]
fn parameters_are_checked_before_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let (anchors, positives, corpus) = rows();
    let texts = MiningTexts::new(
        TextColumn::new("anchor", &anchors),
        TextColumn::new("positive", &positives),
        Some(&corpus),
    )
    .unwrap();
    let cache_dir = dir.path().join("cache");
    let options = EmbedOptions {
        cache: Some(EmbeddingCache::new(&cache_dir, "tiny", "seed-11")),
        ..EmbedOptions::default()
    };
    let bad = MineParams {
        range_min: 3,
        range_max: Some(3),
        ..MineParams::default()
    };
    let err = mine(&model, &texts, &bad, &options)
        .unwrap_err()
        .to_string();
    assert!(err.contains("range_min"), "{err}");
    assert!(
        !cache_dir.exists(),
        "encoded before checking the parameters"
    );
}
