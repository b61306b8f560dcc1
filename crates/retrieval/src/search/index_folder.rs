//! An index folder on disk: writing a first generation, appending one, and loading with every
//! file checked (present, of the size the manifest and its header give, of the recorded
//! sha256) before it is believed.
//!
//! A commit writes the new generation's data files under new names (`embeddings.{g}.npy`,
//! `documents.{g}.jsonl`, `ranges.{g}.npy`, `hnsw.{g}.usearch`, and a binary index's rescore
//! store `rescore.{g}.npy` with `rescore-ranges.{g}.npy`), syncs them, then replaces
//! `manifest.json` atomically (a synced temporary file renamed over it, then the folder
//! synced), and only then removes the files of the generation before. A crash or an error
//! at any point leaves a folder that loads as the old index or the new one, never a mix; files
//! of a generation that never committed are removed on error, or overwritten by the next
//! commit after a crash. Writers hold an OS lock on `.lock` in the folder, so two never
//! interleave.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use eval::{Embeddings, Precision, QuantizationRanges, QuantizedEmbeddings, QuantizedValues};
use sha2::{Digest, Sha256};

use super::corpus::Corpus;
use super::documents::{check_unique_ids, parse_jsonl, to_jsonl, Document};
use super::hnsw::{HnswGraph, HnswParams};
use super::manifest::{
    DataFile, DataFiles, Manifest, ModelRef, FORMAT_NAME, FORMAT_VERSION, MANIFEST_FILE,
};
use crate::error::{Error, Result};

/// The writers' lock file inside an index folder.
pub const LOCK_FILE: &str = ".lock";

/// What a new index records besides its data: the model and the prompts it embeds with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub model: ModelRef,
    /// Prepended to queries (empty: none).
    pub query_prompt: String,
    /// Prepended to documents (empty: none).
    pub document_prompt: String,
}

/// An index in memory: its manifest, embeddings, documents and optional graph.
#[derive(Debug)]
pub struct IndexContents {
    pub manifest: Manifest,
    pub corpus: Corpus,
    pub documents: Vec<Document>,
    pub graph: Option<HnswGraph>,
}

/// Loads the index in `dir`, checking before reading each data file that it exists and has
/// the size the manifest records (and, for `.npy` files, the size its header implies for the
/// manifest's shape), then that its sha256 is the recorded one, then its content.
pub fn load_index(dir: &Path) -> Result<IndexContents> {
    let manifest = Manifest::read(dir)?;
    let manifest_path = Manifest::path_in(dir);
    let width = manifest.precision.quantized_dim(manifest.dim);
    // Everything that can be checked without reading the files, for every file, first.
    for (role, file) in manifest.files.iter() {
        let path = dir.join(&file.name);
        let found = file_len(&path, &manifest_path, role)?;
        if found != file.bytes {
            return Err(Error::DataFileSize {
                path,
                found,
                expected: file.bytes,
                source_of_truth: format!("manifest {}", manifest_path.display()),
            });
        }
    }
    let embeddings_path = dir.join(&manifest.files.embeddings.name);
    check_npy_header(
        &embeddings_path,
        npy_dtype(manifest.precision),
        manifest.rows,
        width,
    )?;
    if let Some(ranges) = &manifest.files.ranges {
        check_npy_header(
            &dir.join(&ranges.name),
            data::NpyDtype::F32,
            2,
            manifest.dim,
        )?;
    }

    let store_files = match (
        manifest.rescore_precision,
        &manifest.files.rescore_embeddings,
        &manifest.files.rescore_ranges,
    ) {
        (Some(precision), Some(embeddings), Some(ranges)) => {
            check_npy_header(
                &dir.join(&embeddings.name),
                npy_dtype(precision),
                manifest.rows,
                precision.quantized_dim(manifest.dim),
            )?;
            check_npy_header(
                &dir.join(&ranges.name),
                data::NpyDtype::F32,
                2,
                manifest.dim,
            )?;
            Some((precision, embeddings, ranges))
        }
        _ => None,
    };

    let embeddings = read_embeddings(
        dir,
        &manifest_path,
        &manifest.files.embeddings,
        manifest.precision,
        manifest.rows,
        manifest.dim,
    )?;
    let ranges = match &manifest.files.ranges {
        Some(file) => Some(read_ranges(dir, &manifest_path, file)?),
        None => None,
    };
    let mut corpus = Corpus::new(embeddings, ranges)?;
    if let Some((precision, embeddings, ranges)) = store_files {
        let store = Corpus::new(
            read_embeddings(
                dir,
                &manifest_path,
                embeddings,
                precision,
                manifest.rows,
                manifest.dim,
            )?,
            Some(read_ranges(dir, &manifest_path, ranges)?),
        )?;
        corpus = corpus.with_rescore_store(store)?;
    }

    let documents_path = dir.join(&manifest.files.documents.name);
    let bytes = read_verified(dir, &manifest_path, &manifest.files.documents)?;
    let documents = parse_jsonl(&documents_path, &bytes)?;
    if documents.len() != manifest.rows {
        return Err(Error::DataFileContent {
            path: documents_path,
            reason: format!(
                "holds {} documents but manifest {} has rows {}",
                documents.len(),
                manifest_path.display(),
                manifest.rows
            ),
        });
    }

    let graph = match (&manifest.files.hnsw, manifest.hnsw) {
        (Some(file), Some(params)) => {
            let bytes = read_verified(dir, &manifest_path, file)?;
            Some(HnswGraph::from_bytes(
                &dir.join(&file.name),
                &bytes,
                manifest.precision,
                manifest.dim,
                manifest.rows,
                params,
            )?)
        }
        _ => None,
    };
    tracing::debug!(dir = %dir.display(), rows = manifest.rows, generation = manifest.generation, "loaded index");
    Ok(IndexContents {
        manifest,
        corpus,
        documents,
        graph,
    })
}

/// Holds the write lock of an index folder for a new index or an append.
#[derive(Debug)]
pub struct IndexWriter {
    dir: PathBuf,
    _lock: std::fs::File,
}

impl IndexWriter {
    /// For a new index in `dir`: created if missing; an existing one must be empty (but for a
    /// lock file), else [`Error::IndexExists`] says what it holds.
    pub fn create(dir: &Path) -> Result<IndexWriter> {
        if dir.exists() {
            check_empty(dir)?;
        }
        std::fs::create_dir_all(dir).map_err(Error::index_io("create the index folder", dir))?;
        let writer = Self::lock(dir)?;
        check_empty(dir)?;
        Ok(writer)
    }

    /// For appending to the index in `dir` (which must have a manifest).
    pub fn open(dir: &Path) -> Result<IndexWriter> {
        if !Manifest::path_in(dir).is_file() {
            return Err(Error::NotAnIndex {
                dir: dir.to_path_buf(),
                manifest: MANIFEST_FILE,
            });
        }
        Self::lock(dir)
    }

    fn lock(dir: &Path) -> Result<IndexWriter> {
        let path = dir.join(LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(Error::index_io("open the lock file", &path))?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(IndexWriter {
                dir: dir.to_path_buf(),
                _lock: file,
            }),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(Error::IndexLocked {
                dir: dir.to_path_buf(),
                lock: path,
            }),
            Err(e) => Err(Error::index_io("lock", &path)(e.into())),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Loads the index under the lock, for [`Self::append`].
    pub fn load(&self) -> Result<IndexContents> {
        load_index(&self.dir)
    }

    /// Writes a new index: `documents[i]` is the document of `corpus` row `i`; `graph`, when
    /// given, must hold every row.
    pub fn write_new(
        &self,
        spec: IndexSpec,
        corpus: Corpus,
        documents: Vec<Document>,
        graph: Option<HnswGraph>,
    ) -> Result<IndexContents> {
        let manifest = Manifest {
            format: FORMAT_NAME.to_string(),
            version: FORMAT_VERSION,
            model: spec.model,
            query_prompt: spec.query_prompt,
            document_prompt: spec.document_prompt,
            precision: corpus.precision(),
            dim: corpus.dim(),
            normalize: true,
            rows: corpus.rows(),
            generation: 0,
            files: placeholder_files(),
            hnsw: graph.as_ref().map(HnswGraph::params),
            rescore_precision: corpus.rescore_store().map(Corpus::precision),
        };
        let contents = IndexContents {
            manifest,
            corpus,
            documents,
            graph,
        };
        self.commit(None, contents)
    }

    /// Appends `embeddings` (float, embedded as the index's model and prompt embed
    /// documents) and their `documents` to `index` (loaded by [`Self::load`]): quantized with
    /// the index's ranges, never recomputed; the graph extended, or built over every row with
    /// `build_graph` when the index has none.
    pub fn append(
        &self,
        mut index: IndexContents,
        embeddings: Embeddings<'_>,
        documents: Vec<Document>,
        build_graph: Option<HnswParams>,
        threads: usize,
    ) -> Result<IndexContents> {
        if embeddings.rows() != documents.len() {
            return Err(Error::DocumentCount {
                what: "embeddings",
                found: embeddings.rows(),
                expected: documents.len(),
            });
        }
        if documents.is_empty() {
            return Err(Error::EmptyCorpus);
        }
        let previous = index.manifest.clone();
        index.corpus.append(embeddings)?;
        index.documents.extend(documents);
        match (&mut index.graph, build_graph) {
            (Some(graph), _) => graph.extend(&index.corpus, threads)?,
            (None, Some(params)) => {
                index.graph = Some(HnswGraph::build(&index.corpus, params, threads)?)
            }
            (None, None) => {}
        }
        index.manifest.rows = index.corpus.rows();
        index.manifest.hnsw = index.graph.as_ref().map(HnswGraph::params);
        self.commit(Some(&previous), index)
    }

    /// Writes `contents` as the generation after `previous` (or the first one): the data
    /// files, then the manifest, then the removal of `previous`'s files no longer named.
    fn commit(
        &self,
        previous: Option<&Manifest>,
        mut contents: IndexContents,
    ) -> Result<IndexContents> {
        if contents.documents.len() != contents.corpus.rows() {
            return Err(Error::DocumentCount {
                what: "embeddings",
                found: contents.corpus.rows(),
                expected: contents.documents.len(),
            });
        }
        if let Some(graph) = &contents.graph {
            if graph.len() != contents.corpus.rows() {
                return Err(Error::param(
                    "graph",
                    format!(
                        "holds {} rows, the corpus {}",
                        graph.len(),
                        contents.corpus.rows()
                    ),
                ));
            }
        }
        check_unique_ids(&contents.documents)?;
        let generation = previous.map_or(1, |m| m.generation + 1);
        let manifest_path = Manifest::path_in(&self.dir);
        let mut written = Vec::new();
        let committed = self
            .write_files(generation, previous, &contents, &mut written)
            .and_then(|files| {
                let manifest = Manifest {
                    generation,
                    files,
                    rows: contents.corpus.rows(),
                    ..contents.manifest.clone()
                };
                manifest.validate(&manifest_path)?;
                self.replace_manifest(&manifest)?;
                Ok(manifest)
            });
        contents.manifest = match committed {
            Ok(manifest) => manifest,
            Err(e) => {
                self.remove_quietly(&written);
                return Err(e);
            }
        };
        // Committed: the folder now loads as the new generation. Make the rename durable,
        // then drop what only the old generation named.
        if let Err(e) = sync_folder(&self.dir) {
            tracing::warn!(error = %e, "the new manifest is in place but syncing the folder failed");
        }
        if let Some(previous) = previous {
            let keep: Vec<&str> = contents
                .manifest
                .files
                .iter()
                .map(|(_, f)| f.name.as_str())
                .collect();
            let stale: Vec<PathBuf> = previous
                .files
                .iter()
                .filter(|(_, f)| !keep.contains(&f.name.as_str()))
                .map(|(_, f)| self.dir.join(&f.name))
                .collect();
            self.remove_quietly(&stale);
        }
        tracing::info!(dir = %self.dir.display(), generation, rows = contents.manifest.rows, "committed index");
        Ok(contents)
    }

    fn write_files(
        &self,
        generation: u64,
        previous: Option<&Manifest>,
        contents: &IndexContents,
        written: &mut Vec<PathBuf>,
    ) -> Result<DataFiles> {
        let corpus = &contents.corpus;
        let embeddings_path = self.dir.join(format!("embeddings.{generation}.npy"));
        written.push(embeddings_path.clone());
        let embeddings = write_embeddings(&embeddings_path, corpus.embeddings())?;

        let documents_path = self.dir.join(format!("documents.{generation}.jsonl"));
        written.push(documents_path.clone());
        write_synced(&documents_path, &to_jsonl(&contents.documents))?;
        let documents = seal(&documents_path)?;

        // The ranges never change after the first commit: the file stays.
        let previous_ranges = previous.and_then(|m| m.files.ranges.clone());
        let ranges = match (corpus.ranges(), previous_ranges) {
            (None, _) => None,
            (Some(_), Some(file)) => Some(file),
            (Some(r), None) => {
                let path = self.dir.join(format!("ranges.{generation}.npy"));
                written.push(path.clone());
                Some(write_ranges(&path, r)?)
            }
        };

        // The rescore store: its rows every generation, its ranges (like the index's) once.
        let (rescore_embeddings, rescore_ranges) = match corpus.rescore_store() {
            None => (None, None),
            Some(store) => {
                let path = self.dir.join(format!("rescore.{generation}.npy"));
                written.push(path.clone());
                let rows = write_embeddings(&path, store.embeddings())?;
                let previous_ranges = previous.and_then(|m| m.files.rescore_ranges.clone());
                let ranges = match (store.ranges(), previous_ranges) {
                    (_, Some(file)) => file,
                    (Some(r), None) => {
                        let path = self.dir.join(format!("rescore-ranges.{generation}.npy"));
                        written.push(path.clone());
                        write_ranges(&path, r)?
                    }
                    (None, None) => {
                        return Err(Error::param(
                            "rescore_store",
                            "an int8/uint8 rescore store without ranges cannot be written",
                        ))
                    }
                };
                (Some(rows), Some(ranges))
            }
        };

        let hnsw = match &contents.graph {
            Some(graph) => {
                let path = self.dir.join(format!("hnsw.{generation}.usearch"));
                written.push(path.clone());
                graph.save(&path)?;
                Some(seal(&path)?)
            }
            None => None,
        };
        Ok(DataFiles {
            embeddings,
            documents,
            ranges,
            hnsw,
            rescore_embeddings,
            rescore_ranges,
        })
    }

    fn replace_manifest(&self, manifest: &Manifest) -> Result<()> {
        let path = Manifest::path_in(&self.dir);
        let mut json =
            serde_json::to_vec_pretty(manifest).map_err(|source| Error::ManifestInvalid {
                path: path.clone(),
                key: ".".into(),
                source,
            })?;
        json.push(b'\n');
        let mut tmp = tempfile::Builder::new()
            .prefix(".manifest.")
            .tempfile_in(&self.dir)
            .map_err(Error::index_io("create a temporary manifest in", &self.dir))?;
        tmp.write_all(&json)
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(Error::index_io("write a temporary manifest in", &self.dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
                .map_err(Error::index_io("set the permissions of", tmp.path()))?;
        }
        tmp.persist(&path)
            .map_err(|e| Error::index_io("replace", &path)(e.error))?;
        Ok(())
    }

    fn remove_quietly(&self, paths: &[PathBuf]) {
        for path in paths {
            if let Err(e) = std::fs::remove_file(path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove an index file");
                }
            }
        }
    }
}

/// Errors unless `dir` holds nothing but (maybe) a lock file.
fn check_empty(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        return Err(Error::IndexExists {
            dir: dir.to_path_buf(),
            what: "a file, not a folder".into(),
            hint: "",
        });
    }
    if Manifest::path_in(dir).exists() {
        return Err(Error::IndexExists {
            dir: dir.to_path_buf(),
            what: "a search index".into(),
            hint: ", or add documents to this one with --append",
        });
    }
    let entries = std::fs::read_dir(dir).map_err(Error::index_io("list", dir))?;
    let mut others: Vec<String> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(Error::index_io("list", dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != LOCK_FILE {
            others.push(name);
        }
    }
    if let Some(first) = others.first() {
        return Err(Error::IndexExists {
            dir: dir.to_path_buf(),
            what: format!("{} other entries (e.g. {first})", others.len()),
            hint: "",
        });
    }
    Ok(())
}

/// A manifest's files before the commit names them (replaced in `commit`).
fn placeholder_files() -> DataFiles {
    let none = || DataFile {
        name: String::new(),
        bytes: 0,
        sha256: String::new(),
    };
    DataFiles {
        embeddings: none(),
        documents: none(),
        ranges: None,
        hnsw: None,
        rescore_embeddings: None,
        rescore_ranges: None,
    }
}

/// The `.npy` dtype embeddings of `precision` are stored as.
fn npy_dtype(precision: Precision) -> data::NpyDtype {
    match precision {
        Precision::Float32 => data::NpyDtype::F32,
        Precision::Int8 | Precision::Binary => data::NpyDtype::I8,
        Precision::Uint8 | Precision::Ubinary => data::NpyDtype::U8,
    }
}

/// `values` as embeddings of `precision`, `None` when the dtype does not hold them.
fn quantized_values(precision: Precision, values: data::MatrixData) -> Option<QuantizedValues> {
    use data::MatrixData as M;
    Some(match (precision, values) {
        (Precision::Float32, M::F32(v)) => QuantizedValues::Float32(v),
        (Precision::Int8, M::I8(v)) => QuantizedValues::Int8(v),
        (Precision::Binary, M::I8(v)) => QuantizedValues::Binary(v),
        (Precision::Uint8, M::U8(v)) => QuantizedValues::Uint8(v),
        (Precision::Ubinary, M::U8(v)) => QuantizedValues::Ubinary(v),
        _ => return None,
    })
}

/// The size of data file `path`, or [`Error::DataFileMissing`].
fn file_len(path: &Path, manifest: &Path, role: &'static str) -> Result<u64> {
    match std::fs::metadata(path) {
        Ok(meta) => Ok(meta.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::DataFileMissing {
            path: path.to_path_buf(),
            manifest: manifest.to_path_buf(),
            role,
        }),
        Err(e) => Err(Error::index_io("read the size of", path)(e)),
    }
}

/// Reads only the header of `.npy` file `path` and checks its dtype and shape, and that the
/// file is as long as they imply.
fn check_npy_header(path: &Path, dtype: data::NpyDtype, rows: usize, dim: usize) -> Result<()> {
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(1 << 16).read_to_end(&mut head))
        .map_err(Error::index_io("read", path))?;
    let header = data::parse_npy_header(path, &head).map_err(|source| Error::DataFileRead {
        path: path.to_path_buf(),
        source: Box::new(source),
    })?;
    if (header.dtype, header.rows, header.dim) != (dtype, rows, dim) {
        return Err(Error::DataFileContent {
            path: path.to_path_buf(),
            reason: format!(
                "its header says {} [{}, {}] but the manifest needs {} [{rows}, {dim}]",
                header.dtype.descr(),
                header.rows,
                header.dim,
                dtype.descr()
            ),
        });
    }
    let found = file_len(path, path, "data")?;
    let expected = header.file_len().unwrap_or(u64::MAX);
    if found != expected {
        return Err(Error::DataFileSize {
            path: path.to_path_buf(),
            found,
            expected,
            source_of_truth: format!("its header ([{rows}, {dim}] {})", dtype.descr()),
        });
    }
    Ok(())
}

/// Reads and checks embeddings file `file` of `precision`, `[rows, dim]` before quantization.
fn read_embeddings(
    dir: &Path,
    manifest: &Path,
    file: &DataFile,
    precision: Precision,
    rows: usize,
    dim: usize,
) -> Result<QuantizedEmbeddings> {
    let path = dir.join(&file.name);
    let bytes = read_verified(dir, manifest, file)?;
    let (values, _, _) = data::parse_npy(&path, &bytes).map_err(|source| Error::DataFileRead {
        path: path.clone(),
        source: Box::new(source),
    })?;
    drop(bytes);
    let values = quantized_values(precision, values).ok_or_else(|| Error::DataFileContent {
        path: path.clone(),
        reason: format!("its dtype does not hold {precision} embeddings"),
    })?;
    QuantizedEmbeddings::new(rows, dim, values)
        .map_err(Error::quantize(format!("read {}", path.display())))
}

/// Writes `embeddings` as a `.npy` at `path` (numpy's dtype for their precision) and seals it.
fn write_embeddings(path: &Path, embeddings: &QuantizedEmbeddings) -> Result<DataFile> {
    let values = match embeddings.values() {
        QuantizedValues::Float32(v) => data::MatrixValues::F32(v),
        QuantizedValues::Int8(v) | QuantizedValues::Binary(v) => data::MatrixValues::I8(v),
        QuantizedValues::Uint8(v) | QuantizedValues::Ubinary(v) => data::MatrixValues::U8(v),
    };
    data::write_npy(path, values, embeddings.rows(), embeddings.quantized_dim()).map_err(
        |source| Error::DataFileRead {
            path: path.to_path_buf(),
            source: Box::new(source),
        },
    )?;
    seal(path)
}

/// Writes int8/uint8 `ranges` as a `[2, dim]` float32 `.npy` at `path` and seals it.
fn write_ranges(path: &Path, ranges: &QuantizationRanges) -> Result<DataFile> {
    let both = [ranges.min(), ranges.max()].concat();
    data::write_npy_f32(path, &both, 2, ranges.dim()).map_err(|source| Error::DataFileRead {
        path: path.to_path_buf(),
        source: Box::new(source),
    })?;
    seal(path)
}

/// The bytes of `file`, after checking their sha256 against the manifest's.
fn read_verified(dir: &Path, manifest: &Path, file: &DataFile) -> Result<Vec<u8>> {
    let path = dir.join(&file.name);
    let bytes = std::fs::read(&path).map_err(Error::index_io("read", &path))?;
    let found = hex::encode(Sha256::digest(&bytes));
    if found != file.sha256.to_ascii_lowercase() {
        return Err(Error::DataFileHash {
            path,
            manifest: manifest.to_path_buf(),
            found,
            expected: file.sha256.clone(),
        });
    }
    Ok(bytes)
}

fn read_ranges(dir: &Path, manifest: &Path, file: &DataFile) -> Result<QuantizationRanges> {
    let path = dir.join(&file.name);
    let bytes = read_verified(dir, manifest, file)?;
    let (values, rows, dim) =
        data::parse_npy(&path, &bytes).map_err(|source| Error::DataFileRead {
            path: path.clone(),
            source: Box::new(source),
        })?;
    let data::MatrixData::F32(values) = values else {
        return Err(Error::DataFileContent {
            path,
            reason: "ranges must be float32".into(),
        });
    };
    if rows != 2 {
        return Err(Error::DataFileContent {
            path,
            reason: format!("holds [{rows}, {dim}]; ranges are [2, dim]"),
        });
    }
    let (min, max) = values.split_at(dim);
    QuantizationRanges::new(min.to_vec(), max.to_vec()).map_err(Error::quantize(format!(
        "read the ranges in {}",
        path.display()
    )))
}

/// Writes `bytes` to `path` (a new generation's name) and syncs it.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = std::fs::File::create(path).map_err(Error::index_io("create", path))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(Error::index_io("write", path))
}

/// Syncs a written data file to disk and describes it: name, size and sha256.
fn seal(path: &Path) -> Result<DataFile> {
    let mut file = std::fs::File::open(path).map_err(Error::index_io("open", path))?;
    let mut hash = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(Error::index_io("read", path))?;
        if n == 0 {
            break;
        }
        hash.update(&buffer[..n]);
        bytes += n as u64;
    }
    file.sync_all().map_err(Error::index_io("sync", path))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(DataFile {
        name,
        bytes,
        sha256: hex::encode(hash.finalize()),
    })
}

/// Makes renames and removals in `dir` durable.
fn sync_folder(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::index_io("sync the index folder", dir))
}
