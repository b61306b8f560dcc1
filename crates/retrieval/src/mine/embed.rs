//! Embedding the queries and the corpus with a model, as `encode_query` / `encode_document`
//! do, with an on-disk cache so that a re-run with other filters does not re-encode.

use std::path::{Path, PathBuf};

use model::{EmbeddingMatrix, EncodeOptions, PromptChoice, Prompts, SentenceTransformer};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Which side of the search texts are embedded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Query,
    Document,
}

impl Role {
    /// The prompt used when none is given, as sentence-transformers 6.3 picks it:
    /// `encode_query` uses the prompt named `"query"`, `encode_document` the first of
    /// `"document"`, `"passage"`, `"corpus"` the model defines. Models always define `"query"`
    /// and `"document"` (empty unless configured), so the model's `default_prompt_name` is not
    /// used; [`PromptChoice::Default`] is left only for prompt tables without those names.
    pub fn default_prompt(self, prompts: &Prompts) -> PromptChoice {
        let candidates: &[&str] = match self {
            Role::Query => &["query"],
            Role::Document => &["document", "passage", "corpus"],
        };
        candidates
            .iter()
            .find(|name| prompts.prompts().contains_key(**name))
            .map_or(PromptChoice::Default, |name| {
                PromptChoice::Name(name.to_string())
            })
    }

    fn what(self) -> &'static str {
        match self {
            Role::Query => "queries",
            Role::Document => "corpus",
        }
    }

    /// The cache file's prefix, sentence-transformers' names.
    fn file_prefix(self) -> &'static str {
        match self {
            Role::Query => "query_embeddings",
            Role::Document => "corpus_embeddings",
        }
    }
}

/// A folder of `.npy` embedding files, keyed by what produced them.
///
/// The key is a SHA-256 of the model id and revision given here, the model's compute dtype,
/// maximum sequence length and embedding dimension, the role, the prompt text actually
/// prepended, and the texts, so a different model, prompt or text list never reuses a file.
/// (sentence-transformers keys on the model card's base model and the prompt arguments; its
/// file names differ from these.) Files are written atomically; one that cannot be read back
/// is an error naming it, never silently re-encoded or reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddingCache {
    folder: PathBuf,
    model_id: String,
    revision: String,
}

impl EmbeddingCache {
    /// `model_id` and `revision` identify the model's weights (e.g. a hub repository and
    /// commit); the caller vouches that they change when the weights do.
    pub fn new(
        folder: impl Into<PathBuf>,
        model_id: impl Into<String>,
        revision: impl Into<String>,
    ) -> Self {
        EmbeddingCache {
            folder: folder.into(),
            model_id: model_id.into(),
            revision: revision.into(),
        }
    }

    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// The file for `texts` embedded as `role` with `prompt` prepended by a model whose
    /// settings are `model_settings`.
    pub fn file_for(
        &self,
        role: Role,
        model_settings: &str,
        prompt: Option<&str>,
        texts: &[String],
    ) -> PathBuf {
        let mut hash = Sha256::new();
        // Length-prefixed fields, so that no two different inputs hash the same bytes.
        let mut field = |bytes: &[u8]| {
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(bytes);
        };
        field(b"retrieval embedding cache v1");
        field(self.model_id.as_bytes());
        field(self.revision.as_bytes());
        field(model_settings.as_bytes());
        field(role.file_prefix().as_bytes());
        match prompt {
            Some(prompt) => field(format!("prompt:{prompt}").as_bytes()),
            None => field(b"no prompt"),
        }
        field(&(texts.len() as u64).to_le_bytes());
        for text in texts {
            field(text.as_bytes());
        }
        let digest = hex::encode(hash.finalize());
        self.folder
            .join(format!("{}_{digest}.npy", role.file_prefix()))
    }
}

/// How mining embeds its texts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmbedOptions {
    /// The queries' prompt; `None` picks as `encode_query` does ([`Role::default_prompt`]).
    pub query_prompt: Option<PromptChoice>,
    /// The corpus' prompt; `None` picks as `encode_document` does.
    pub corpus_prompt: Option<PromptChoice>,
    pub cache: Option<EmbeddingCache>,
}

/// L2-normalised embeddings of `texts` as `role`, from the cache when it has them.
pub fn embed_texts(
    model: &SentenceTransformer,
    texts: &[String],
    role: Role,
    options: &EmbedOptions,
    batch_size: usize,
    show_progress: bool,
) -> Result<EmbeddingMatrix> {
    let what = role.what();
    let given = match role {
        Role::Query => &options.query_prompt,
        Role::Document => &options.corpus_prompt,
    };
    let prompt = given
        .clone()
        .unwrap_or_else(|| role.default_prompt(model.prompts()));
    let encode = EncodeOptions {
        batch_size,
        normalize: true,
        show_progress,
        prompt: prompt.clone(),
    };
    let embed_error = |source| Error::Embed {
        what,
        source: Box::new(source),
    };
    let Some(cache) = &options.cache else {
        return model.encode(texts, &encode).map_err(embed_error);
    };
    let prompt_text = model.prompts().resolve(&prompt).map_err(embed_error)?;
    let dim = model.embedding_dimension() as usize;
    let settings = format!(
        "dtype={} max_seq_length={} dim={dim}",
        model.dtype(),
        model.max_seq_length()
    );
    let path = cache.file_for(role, &settings, prompt_text, texts);
    if path.exists() {
        let matrix = read_cached(&path, texts.len(), dim)?;
        tracing::info!(path = %path.display(), rows = matrix.rows, "loaded cached {what} embeddings");
        return Ok(matrix);
    }
    let matrix = model.encode(texts, &encode).map_err(embed_error)?;
    std::fs::create_dir_all(cache.folder()).map_err(|source| Error::CacheFolder {
        path: cache.folder().to_path_buf(),
        source,
    })?;
    data::write_npy_f32(&path, &matrix.data, matrix.rows, matrix.dim).map_err(|source| {
        Error::CacheWrite {
            path: path.clone(),
            source: Box::new(source),
        }
    })?;
    tracing::info!(path = %path.display(), "saved {what} embeddings to the cache");
    Ok(matrix)
}

/// A cache file's matrix, checked against the expected shape and for finite values.
pub(crate) fn read_cached(path: &Path, rows: usize, dim: usize) -> Result<EmbeddingMatrix> {
    let (data, got_rows, got_dim) =
        data::read_npy_f32(path).map_err(|source| Error::CacheRead {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
    if (got_rows, got_dim) != (rows, dim) {
        return Err(Error::CacheShape {
            path: path.to_path_buf(),
            rows: got_rows,
            dim: got_dim,
            expected_rows: rows,
            expected_dim: dim,
        });
    }
    if let Some(row) = data
        .chunks_exact(dim.max(1))
        .position(|r| r.iter().any(|v| !v.is_finite()))
    {
        return Err(Error::CacheNonFinite {
            path: path.to_path_buf(),
            row,
        });
    }
    Ok(EmbeddingMatrix { data, rows, dim })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cache_key_changes_with_every_input() {
        let cache = EmbeddingCache::new("/c", "org/model", "abc123");
        let t = texts(&["a", "b"]);
        let base = cache.file_for(Role::Query, "s", Some("query: "), &t);
        assert!(base.starts_with("/c"));
        let name = base.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with("query_embeddings_") && name.ends_with(".npy"),
            "{name}"
        );
        assert_eq!(base, cache.file_for(Role::Query, "s", Some("query: "), &t));
        let others = [
            cache.file_for(Role::Document, "s", Some("query: "), &t),
            cache.file_for(Role::Query, "s2", Some("query: "), &t),
            cache.file_for(Role::Query, "s", None, &t),
            cache.file_for(Role::Query, "s", Some("q: "), &t),
            cache.file_for(Role::Query, "s", Some("query: "), &texts(&["ab"])),
            cache.file_for(Role::Query, "s", Some("query: "), &texts(&["a", "b", ""])),
            EmbeddingCache::new("/c", "org/model", "def").file_for(
                Role::Query,
                "s",
                Some("query: "),
                &t,
            ),
            EmbeddingCache::new("/c", "org/other", "abc123").file_for(
                Role::Query,
                "s",
                Some("query: "),
                &t,
            ),
        ];
        for (i, other) in others.iter().enumerate() {
            assert_ne!(
                other.file_name(),
                base.file_name(),
                "variant {i} hashes the same"
            );
        }
    }

    #[test]
    fn corrupt_or_misshapen_cache_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("query_embeddings_x.npy");
        std::fs::write(&path, b"\x93NUMPY garbage").unwrap();
        let e = read_cached(&path, 2, 3).unwrap_err();
        assert!(matches!(e, Error::CacheRead { .. }));
        assert!(e.to_string().contains("query_embeddings_x.npy"), "{e}");

        data::write_npy_f32(&path, &[0.0; 6], 3, 2).unwrap();
        let e = read_cached(&path, 2, 3).unwrap_err().to_string();
        assert!(e.contains("3 x 2") && e.contains("2 x 3"), "{e}");

        data::write_npy_f32(&path, &[0.0, 1.0, f32::NAN, 0.0], 2, 2).unwrap();
        let e = read_cached(&path, 2, 2).unwrap_err().to_string();
        assert!(
            e.contains("row 1") && e.contains("query_embeddings_x.npy"),
            "{e}"
        );

        data::write_npy_f32(&path, &[0.5; 4], 2, 2).unwrap();
        let m = read_cached(&path, 2, 2).unwrap();
        assert_eq!(m.data, [0.5; 4]);
    }
}
