//! The Pooling module: token embeddings to one sentence embedding (`1_Pooling/config.json`).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tch::{Kind, Tensor};

use crate::error::{read_json, write_json, Error, Result};

/// `1_Pooling/config.json` as sentence-transformers writes it, in either layout. Unknown
/// `pooling_mode_*` keys are errors (a typo must not silently mean mean pooling); other
/// unknown keys are ignored, as sentence-transformers ignores them.
#[derive(Debug, Deserialize)]
struct PoolingConfigFile {
    embedding_dimension: Option<i64>,
    word_embedding_dimension: Option<i64>,
    pooling_mode: Option<ModeNames>,
    pooling_mode_cls_token: Option<bool>,
    pooling_mode_max_tokens: Option<bool>,
    pooling_mode_mean_tokens: Option<bool>,
    pooling_mode_mean_sqrt_len_tokens: Option<bool>,
    pooling_mode_weightedmean_tokens: Option<bool>,
    pooling_mode_lasttoken: Option<bool>,
    include_prompt: Option<bool>,
    #[serde(flatten)]
    other: std::collections::BTreeMap<String, serde::de::IgnoredAny>,
}

/// `pooling_mode`: one name or a list of names.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ModeNames {
    One(String),
    Many(Vec<String>),
}

impl ModeNames {
    fn names(&self) -> Vec<&str> {
        match self {
            ModeNames::One(name) => vec![name.as_str()],
            ModeNames::Many(names) => names.iter().map(String::as_str).collect(),
        }
    }
}

impl PoolingConfigFile {
    /// The modes whose legacy boolean is true (mean when none is, as sentence-transformers).
    fn legacy_modes(&self) -> Vec<PoolingMode> {
        let flags = [
            (PoolingMode::Cls, self.pooling_mode_cls_token),
            (PoolingMode::Max, self.pooling_mode_max_tokens),
            (PoolingMode::Mean, self.pooling_mode_mean_tokens),
            (
                PoolingMode::MeanSqrtLen,
                self.pooling_mode_mean_sqrt_len_tokens,
            ),
            (
                PoolingMode::WeightedMean,
                self.pooling_mode_weightedmean_tokens,
            ),
            (PoolingMode::LastToken, self.pooling_mode_lasttoken),
        ];
        let on: Vec<PoolingMode> = flags
            .into_iter()
            .filter(|(_, flag)| flag.unwrap_or(false))
            .map(|(mode, _)| mode)
            .collect();
        if on.is_empty() {
            vec![PoolingMode::Mean]
        } else {
            on
        }
    }

    fn unknown_mode_key(&self) -> Option<&str> {
        self.other
            .keys()
            .map(String::as_str)
            .find(|k| k.starts_with("pooling_mode_"))
    }
}

/// A pooling strategy of sentence-transformers' `Pooling` module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PoolingMode {
    /// The first real token (`[CLS]` for BERT).
    #[serde(rename = "cls")]
    Cls,
    /// Element-wise maximum over real tokens.
    #[serde(rename = "max")]
    Max,
    /// Average of real tokens.
    #[serde(rename = "mean")]
    Mean,
    /// Sum of real tokens divided by the square root of their count.
    #[serde(rename = "mean_sqrt_len_tokens")]
    MeanSqrtLen,
    /// Average weighted by position (1, 2, 3, …), as in SGPT.
    #[serde(rename = "weightedmean")]
    WeightedMean,
    /// The last real token.
    #[serde(rename = "lasttoken")]
    LastToken,
}

impl PoolingMode {
    /// sentence-transformers' order, which is also the concatenation order of legacy configs.
    pub const ALL: [PoolingMode; 6] = [
        PoolingMode::Cls,
        PoolingMode::Max,
        PoolingMode::Mean,
        PoolingMode::MeanSqrtLen,
        PoolingMode::WeightedMean,
        PoolingMode::LastToken,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PoolingMode::Cls => "cls",
            PoolingMode::Max => "max",
            PoolingMode::Mean => "mean",
            PoolingMode::MeanSqrtLen => "mean_sqrt_len_tokens",
            PoolingMode::WeightedMean => "weightedmean",
            PoolingMode::LastToken => "lasttoken",
        }
    }

    fn legacy_key(self) -> &'static str {
        match self {
            PoolingMode::Cls => "pooling_mode_cls_token",
            PoolingMode::Max => "pooling_mode_max_tokens",
            PoolingMode::Mean => "pooling_mode_mean_tokens",
            PoolingMode::MeanSqrtLen => "pooling_mode_mean_sqrt_len_tokens",
            PoolingMode::WeightedMean => "pooling_mode_weightedmean_tokens",
            PoolingMode::LastToken => "pooling_mode_lasttoken",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

impl std::str::FromStr for PoolingMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Self::from_name(s).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|m| m.name()).collect();
            format!("unknown pooling mode {s:?} (valid: {})", names.join(", "))
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pooling {
    modes: Vec<PoolingMode>,
    embedding_dimension: i64,
    include_prompt: bool,
}

impl Pooling {
    pub fn new(embedding_dimension: i64, modes: Vec<PoolingMode>) -> Result<Self> {
        if modes.is_empty() {
            return Err(Error::InvalidInput(
                "pooling needs at least one mode".into(),
            ));
        }
        Ok(Pooling {
            modes,
            embedding_dimension,
            include_prompt: true,
        })
    }

    pub fn modes(&self) -> &[PoolingMode] {
        &self.modes
    }

    /// Size of the pooled vector: one `embedding_dimension` per mode.
    pub fn output_dimension(&self) -> i64 {
        self.embedding_dimension * self.modes.len() as i64
    }

    pub fn embedding_dimension(&self) -> i64 {
        self.embedding_dimension
    }

    /// Whether a prompt's tokens are pooled (`include_prompt`, default true).
    pub fn include_prompt(&self) -> bool {
        self.include_prompt
    }

    pub fn set_include_prompt(&mut self, include: bool) {
        self.include_prompt = include;
    }

    /// Reads both config formats: the legacy `pooling_mode_*` booleans (sentence-transformers
    /// < 6 and most hub models) and the newer `pooling_mode` string or list. A value of the
    /// wrong type (a `"true"` string for a boolean) is an error naming the file and key.
    pub fn from_config_file(path: &Path) -> Result<Self> {
        let file: PoolingConfigFile = read_json(path, "a pooling config")?;
        let bad = |message: String| Error::Config {
            path: path.to_path_buf(),
            message,
        };
        let dim = file
            .embedding_dimension
            .or(file.word_embedding_dimension)
            .ok_or_else(|| bad("key word_embedding_dimension (an integer) is missing".into()))?;
        if dim <= 0 {
            return Err(bad(format!(
                "key word_embedding_dimension must be positive, got {dim}"
            )));
        }
        if let Some(key) = file.unknown_mode_key() {
            return Err(bad(format!("unknown pooling mode key {key}")));
        }
        let modes = match &file.pooling_mode {
            Some(names) => names
                .names()
                .iter()
                .map(|name| {
                    name.parse()
                        .map_err(|e: String| bad(format!("key pooling_mode: {e}")))
                })
                .collect::<Result<Vec<_>>>()?,
            None => file.legacy_modes(),
        };
        if modes.is_empty() {
            return Err(bad("key pooling_mode lists no mode".into()));
        }
        Ok(Pooling {
            modes,
            embedding_dimension: dim,
            include_prompt: file.include_prompt.unwrap_or(true),
        })
    }

    /// Writes the legacy boolean format when it can express the modes (every version of
    /// sentence-transformers reads it), else the newer `pooling_mode` list.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let canonical: Vec<PoolingMode> = PoolingMode::ALL
            .into_iter()
            .filter(|m| self.modes.contains(m))
            .collect();
        let mut obj = Map::new();
        if canonical == self.modes {
            obj.insert(
                "word_embedding_dimension".into(),
                json!(self.embedding_dimension),
            );
            for mode in PoolingMode::ALL {
                obj.insert(mode.legacy_key().into(), json!(self.modes.contains(&mode)));
            }
        } else {
            obj.insert(
                "embedding_dimension".into(),
                json!(self.embedding_dimension),
            );
            let names: Vec<&str> = self.modes.iter().map(|m| m.name()).collect();
            obj.insert("pooling_mode".into(), json!(names));
        }
        obj.insert("include_prompt".into(), json!(self.include_prompt));
        write_json(&dir.join("config.json"), &Value::Object(obj))
    }

    /// # Shapes
    /// token_embeddings: `[batch, seq, dim]`, attention_mask: `[batch, seq]` → `[batch, dim × modes]`
    pub fn forward(&self, token_embeddings: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        self.forward_with_prompt(token_embeddings, attention_mask, None)
    }

    /// [`forward`](Self::forward) for texts that start with a prompt of `prompt_length` tokens
    /// (see [`crate::SentenceTokenizer::prompt_length`]): with `include_prompt = false` those
    /// positions, and any left padding before them, are left out of pooling, as
    /// sentence-transformers leaves them out. Weighted mean keeps the positions' weights.
    ///
    /// # Shapes
    /// token_embeddings: `[batch, seq, dim]`, attention_mask: `[batch, seq]` → `[batch, dim × modes]`
    pub fn forward_with_prompt(
        &self,
        token_embeddings: &Tensor,
        attention_mask: &Tensor,
        prompt_length: Option<usize>,
    ) -> Result<Tensor> {
        let lengths = match prompt_length.filter(|&n| n > 0 && !self.include_prompt) {
            Some(n) => Some(Tensor::f_full(
                [attention_mask.size().first().copied().unwrap_or(0)],
                n as i64,
                (Kind::Int64, attention_mask.device()),
            )?),
            None => None,
        };
        self.forward_with_prompt_lengths(token_embeddings, attention_mask, lengths.as_ref())
    }

    /// [`forward_with_prompt`](Self::forward_with_prompt) with a prompt length per row
    /// (`[batch]`, int64): rows of a length-packed training batch come from columns with
    /// different prompts.
    pub fn forward_with_prompt_lengths(
        &self,
        token_embeddings: &Tensor,
        attention_mask: &Tensor,
        prompt_lengths: Option<&Tensor>,
    ) -> Result<Tensor> {
        let (batch, seq, dim) = token_embeddings.size3().map_err(|_| Error::Shape {
            context: "pooling expects token embeddings [batch, seq, dim]",
            left: token_embeddings.size(),
            right: vec![],
        })?;
        if attention_mask.size() != [batch, seq] {
            return Err(Error::Shape {
                context:
                    "pooling: token embeddings [batch, seq, dim] vs attention mask [batch, seq]",
                left: token_embeddings.size(),
                right: attention_mask.size(),
            });
        }
        if dim != self.embedding_dimension {
            return Err(Error::Shape {
                context: "pooling: token embedding size vs the config's word_embedding_dimension",
                left: vec![dim],
                right: vec![self.embedding_dimension],
            });
        }
        let original_mask = attention_mask;
        let excluded;
        let attention_mask = match prompt_lengths.filter(|_| !self.include_prompt) {
            Some(lengths) => {
                if lengths.size() != [batch] {
                    return Err(Error::Shape {
                        context:
                            "pooling: prompt lengths [batch] vs token embeddings [batch, seq, dim]",
                        left: lengths.size(),
                        right: token_embeddings.size(),
                    });
                }
                excluded = exclude_prompt(original_mask, lengths)?;
                &excluded
            }
            None => original_mask,
        };
        let kind = token_embeddings.kind();
        let mask = attention_mask.unsqueeze(-1).to_kind(kind);
        let mut outputs = Vec::with_capacity(self.modes.len());
        for mode in &self.modes {
            let pooled = match mode {
                PoolingMode::Cls => {
                    let first = attention_mask.to_kind(Kind::Int).argmax(1, false);
                    gather_positions(token_embeddings, &first, dim)
                }
                PoolingMode::Max => token_embeddings
                    .masked_fill(&mask.eq(0.0), f64::NEG_INFINITY)
                    .amax(1, false),
                PoolingMode::Mean | PoolingMode::MeanSqrtLen => {
                    let sum = (token_embeddings * &mask).sum_dim_intlist(1, false, Kind::Float);
                    let count = mask.sum_dim_intlist(1, false, Kind::Float).clamp_min(1e-9);
                    let denominator = if *mode == PoolingMode::Mean {
                        count
                    } else {
                        count.sqrt()
                    };
                    (sum / denominator).to_kind(kind)
                }
                PoolingMode::WeightedMean => {
                    let pad_lengths = original_mask
                        .to_kind(Kind::Int)
                        .argmax(1, false)
                        .to_kind(Kind::Float);
                    let positions =
                        Tensor::arange_start(1, seq + 1, (Kind::Float, token_embeddings.device()))
                            .view([1, seq, 1]);
                    let weights = positions - pad_lengths.view([batch, 1, 1]);
                    let weighted_mask = mask.to_kind(Kind::Float) * weights;
                    let sum = (token_embeddings.to_kind(Kind::Float) * &weighted_mask)
                        .sum_dim_intlist(1, false, Kind::Float);
                    let total = weighted_mask
                        .sum_dim_intlist(1, false, Kind::Float)
                        .clamp_min(1e-9);
                    (sum / total).to_kind(kind)
                }
                PoolingMode::LastToken => {
                    let flipped = attention_mask.flip([1]);
                    let (values, indices) = flipped.max_dim(1, false);
                    let indices = indices.where_self(
                        &values.ne(0),
                        &Tensor::from(seq - 1).to_device(indices.device()),
                    );
                    let last = (seq - 1) - indices;
                    gather_positions(&(token_embeddings * &mask), &last, dim)
                }
            };
            outputs.push(pooled);
        }
        Ok(if outputs.len() == 1 {
            outputs.remove(0)
        } else {
            Tensor::cat(&outputs, -1)
        })
    }
}

/// The attention mask with each row's left padding and first `prompt_lengths[row]` real
/// positions set to 0.
fn exclude_prompt(attention_mask: &Tensor, prompt_lengths: &Tensor) -> Result<Tensor> {
    let seq = attention_mask.size().get(1).copied().unwrap_or(0);
    let pad_lengths = attention_mask.f_to_kind(Kind::Int)?.f_argmax(1, false)?;
    let positions =
        Tensor::f_arange(seq, (Kind::Int64, attention_mask.device()))?.f_view([1, seq])?;
    let starts = pad_lengths.f_add(prompt_lengths)?.f_unsqueeze(1)?;
    let keep = positions.f_ge_tensor(&starts)?;
    Ok(attention_mask.f_mul(&keep.f_to_kind(attention_mask.kind())?)?)
}

/// Picks `xs[b, positions[b], :]` for every row `b`.
fn gather_positions(xs: &Tensor, positions: &Tensor, dim: i64) -> Tensor {
    let index = positions
        .to_kind(Kind::Int64)
        .view([-1, 1, 1])
        .expand([-1, 1, dim], false);
    xs.gather(1, &index, false).squeeze_dim(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> (Tensor, Tensor) {
        // batch 2, seq 3, dim 2; the second row has one padding position holding garbage
        let xs = Tensor::from_slice(&[1f32, 2., 3., 4., 5., 6., 10., 20., 30., 40., 999., -999.])
            .view([2, 3, 2]);
        let mask = Tensor::from_slice(&[1i64, 1, 1, 1, 1, 0]).view([2, 3]);
        (xs, mask)
    }

    fn pool(mode: PoolingMode) -> Vec<f32> {
        let (xs, mask) = tokens();
        let out = Pooling::new(2, vec![mode])
            .unwrap()
            .forward(&xs, &mask)
            .unwrap();
        Vec::<f32>::try_from(out.flatten(0, -1)).unwrap()
    }

    #[test]
    fn every_mode_ignores_padding() {
        assert_eq!(pool(PoolingMode::Cls), vec![1., 2., 10., 20.]);
        assert_eq!(pool(PoolingMode::Max), vec![5., 6., 30., 40.]);
        assert_eq!(pool(PoolingMode::Mean), vec![3., 4., 20., 30.]);
        let s3 = 3f32.sqrt();
        let s2 = 2f32.sqrt();
        let got = pool(PoolingMode::MeanSqrtLen);
        for (g, e) in got.iter().zip([9. / s3, 12. / s3, 40. / s2, 60. / s2]) {
            assert!((g - e).abs() < 1e-5, "{got:?}");
        }
        // weights 1,2,3 and 1,2: (1+6+15)/6, (2+8+18)/6 ; (10+60)/3, (20+80)/3
        let got = pool(PoolingMode::WeightedMean);
        for (g, e) in got.iter().zip([22. / 6., 28. / 6., 70. / 3., 100. / 3.]) {
            assert!((g - e).abs() < 1e-5, "{got:?}");
        }
        assert_eq!(pool(PoolingMode::LastToken), vec![5., 6., 30., 40.]);
    }

    #[test]
    fn include_prompt_false_leaves_the_prompt_and_left_padding_out() {
        let (xs, mask) = tokens();
        let mut p = Pooling::new(2, vec![PoolingMode::Mean, PoolingMode::Cls]).unwrap();
        let pooled = |p: &Pooling, mask: &Tensor| {
            let out = p.forward_with_prompt(&xs, mask, Some(1)).unwrap();
            Vec::<f32>::try_from(out.flatten(0, -1)).unwrap()
        };
        // include_prompt true (the default): the prompt is pooled like any token
        assert_eq!(pooled(&p, &mask), vec![3., 4., 1., 2., 20., 30., 10., 20.]);
        p.set_include_prompt(false);
        // right padding: row 0 keeps positions 1, 2; row 1 keeps position 1
        assert_eq!(pooled(&p, &mask), vec![4., 5., 3., 4., 30., 40., 30., 40.]);
        // left padding on row 1 (position 0 is padding): it keeps position 2 only
        let left = Tensor::from_slice(&[1i64, 1, 1, 0, 1, 1]).view([2, 3]);
        assert_eq!(
            pooled(&p, &left),
            vec![4., 5., 3., 4., 999., -999., 999., -999.]
        );
    }

    #[test]
    fn reads_legacy_and_new_configs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, r#"{"word_embedding_dimension": 4, "pooling_mode_cls_token": true, "pooling_mode_max_tokens": true}"#).unwrap();
        let p = Pooling::from_config_file(&path).unwrap();
        assert_eq!(p.modes(), &[PoolingMode::Cls, PoolingMode::Max]);
        assert_eq!(p.output_dimension(), 8);
        std::fs::write(
            &path,
            r#"{"embedding_dimension": 4, "pooling_mode": ["mean", "cls"]}"#,
        )
        .unwrap();
        assert_eq!(
            Pooling::from_config_file(&path).unwrap().modes(),
            &[PoolingMode::Mean, PoolingMode::Cls]
        );
        std::fs::write(
            &path,
            r#"{"embedding_dimension": 4, "pooling_mode": "median"}"#,
        )
        .unwrap();
        let err = Pooling::from_config_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("median") && err.contains("config.json"),
            "{err}"
        );
    }

    #[test]
    fn save_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        for modes in [
            vec![PoolingMode::Mean],
            vec![PoolingMode::LastToken, PoolingMode::Cls],
        ] {
            let p = Pooling::new(8, modes).unwrap();
            p.save(dir.path()).unwrap();
            assert_eq!(
                Pooling::from_config_file(&dir.path().join("config.json")).unwrap(),
                p
            );
        }
    }

    #[test]
    fn shape_errors_name_both_shapes() {
        let (xs, _) = tokens();
        let err = Pooling::new(2, vec![PoolingMode::Mean])
            .unwrap()
            .forward(&xs, &Tensor::ones([2, 4], (Kind::Int64, tch::Device::Cpu)))
            .unwrap_err();
        assert!(
            err.to_string().contains("[2, 3, 2]") && err.to_string().contains("[2, 4]"),
            "{err}"
        );
    }
}
