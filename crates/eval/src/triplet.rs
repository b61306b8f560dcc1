//! Triplet evaluation, as sentence-transformers' `TripletEvaluator`: how often an anchor is
//! more similar to its positive than to its negative.

use serde::{Deserialize, Serialize};

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::metrics::{MetricValues, NamedMetrics};
use crate::similarity::SimilarityFunction;
use crate::validate::{check_aligned, check_functions, check_main_listed};

/// The evaluator's `similarity_fn_names`, `main_similarity_function` and `margin`.
///
/// `similarity_fn_names` defaults to cosine (sentence-transformers 6.2 uses the model's
/// `similarity_fn_name`, or `[main_similarity_function]` when only that is given); here a
/// `main_similarity_function` must be one of `similarity_fn_names`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TripletConfig {
    pub similarity_fn_names: Vec<SimilarityFunction>,
    /// The function whose accuracy is the primary metric; `None`: the only one, or the max.
    pub main_similarity_function: Option<SimilarityFunction>,
    pub margin: TripletMargin,
}

impl Default for TripletConfig {
    fn default() -> Self {
        Self {
            similarity_fn_names: vec![SimilarityFunction::Cosine],
            main_similarity_function: None,
            margin: TripletMargin::default(),
        }
    }
}

/// How much more similar the positive must be than the negative, per function (in that
/// function's similarity units: negative distances for euclidean and manhattan). Default 0.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TripletMargin {
    pub cosine: f64,
    pub euclidean: f64,
    pub manhattan: f64,
    pub dot: f64,
}

impl TripletMargin {
    /// The same margin for every function (sentence-transformers' `margin=float`).
    pub fn uniform(margin: f64) -> Self {
        Self {
            cosine: margin,
            euclidean: margin,
            manhattan: margin,
            dot: margin,
        }
    }

    /// The margin of `function`.
    pub fn get(&self, function: SimilarityFunction) -> f64 {
        match function {
            SimilarityFunction::Cosine => self.cosine,
            SimilarityFunction::Euclidean => self.euclidean,
            SimilarityFunction::Manhattan => self.manhattan,
            SimilarityFunction::Dot => self.dot,
        }
    }

    fn check_finite(&self) -> Result<()> {
        let keys = [
            "margin.cosine",
            "margin.euclidean",
            "margin.manhattan",
            "margin.dot",
        ];
        for (key, function) in keys.into_iter().zip(SimilarityFunction::ALL) {
            let value = self.get(function);
            if !value.is_finite() {
                return Err(Error::NonFiniteConfigValue { key, value });
            }
        }
        Ok(())
    }
}

/// The result of [`TripletEvaluator::evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct TripletMetrics {
    /// `(function, accuracy)` in the config's order.
    pub accuracies: Vec<(SimilarityFunction, f64)>,
    primary_metric: String,
}

impl TripletMetrics {
    /// The largest accuracy over the functions.
    pub fn max_accuracy(&self) -> f64 {
        self.accuracies
            .iter()
            .map(|&(_, a)| a)
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

impl NamedMetrics for TripletMetrics {
    /// `{function}_accuracy` per function, then `max_accuracy` when there are several.
    fn metric_values(&self) -> MetricValues {
        let mut values: MetricValues = self
            .accuracies
            .iter()
            .map(|&(f, a)| (format!("{}_accuracy", f.name()), a))
            .collect();
        if self.accuracies.len() > 1 {
            values.push("max_accuracy", self.max_accuracy());
        }
        values
    }

    /// `{main_similarity_function}_accuracy` when set, else `max_accuracy` with several
    /// functions, else `{function}_accuracy`.
    fn primary_metric(&self) -> &str {
        &self.primary_metric
    }
}

/// sentence-transformers' `TripletEvaluator` on precomputed embeddings.
///
/// A triplet counts as correct when `sim(anchor, positive) > sim(anchor, negative) + margin`
/// (strictly: a tie is wrong), with each [`SimilarityFunction`] in `f64`; the accuracy is the
/// fraction of correct triplets. sentence-transformers compares `f32` similarities, so
/// triplets within `f32` rounding of the margin may count differently.
#[derive(Debug, Clone)]
pub struct TripletEvaluator {
    config: TripletConfig,
}

impl TripletEvaluator {
    /// Errors on an invalid config (naming the key): no or repeated functions, a main
    /// function that is not listed, a non-finite margin.
    pub fn new(config: TripletConfig) -> Result<Self> {
        check_functions("similarity_fn_names", &config.similarity_fn_names)?;
        check_main_listed(
            "main_similarity_function",
            config.main_similarity_function,
            "similarity_fn_names",
            &config.similarity_fn_names,
        )?;
        config.margin.check_finite()?;
        Ok(Self { config })
    }

    /// The accuracy of each function on the triplets (`anchors[i]`, `positives[i]`,
    /// `negatives[i]`).
    ///
    /// # Shapes
    /// anchors, positives, negatives: `[n, dim]`, `n >= 1`
    ///
    /// Errors on empty inputs, differing row counts or dims, or NaN/infinite values (naming
    /// the input and row).
    pub fn evaluate(
        &self,
        anchors: Embeddings<'_>,
        positives: Embeddings<'_>,
        negatives: Embeddings<'_>,
    ) -> Result<TripletMetrics> {
        check_aligned(&[
            ("anchors", anchors),
            ("positives", positives),
            ("negatives", negatives),
        ])?;
        let accuracies = self
            .config
            .similarity_fn_names
            .iter()
            .map(|&function| {
                let positive = function.paired(anchors, positives)?;
                let negative = function.paired(anchors, negatives)?;
                let margin = self.config.margin.get(function);
                let correct = positive
                    .iter()
                    .zip(&negative)
                    .filter(|&(p, n)| *p > n + margin)
                    .count();
                Ok((function, correct as f64 / anchors.rows() as f64))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TripletMetrics {
            accuracies,
            primary_metric: self.primary_metric(),
        })
    }

    /// `{main_similarity_function}_accuracy` when set, else `max_accuracy` with several
    /// functions, else `{function}_accuracy`.
    pub fn primary_metric(&self) -> String {
        match (
            self.config.main_similarity_function,
            &self.config.similarity_fn_names[..],
        ) {
            (Some(main), _) => format!("{}_accuracy", main.name()),
            (None, [only]) => format!("{}_accuracy", only.name()),
            (None, _) => "max_accuracy".to_string(),
        }
    }

    /// Every key [`Self::evaluate`] reports, in its order, known before any evaluation.
    pub fn metric_names(&self) -> Vec<String> {
        let metrics = TripletMetrics {
            accuracies: self
                .config
                .similarity_fn_names
                .iter()
                .map(|&f| (f, 0.0))
                .collect(),
            primary_metric: String::new(),
        };
        metrics
            .metric_values()
            .names()
            .map(str::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emb(data: &[f32]) -> Embeddings<'_> {
        Embeddings::new(data, data.len() / 2, 2).unwrap()
    }

    const ANCHORS: [f32; 6] = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
    const POSITIVES: [f32; 6] = [0.9, 0.1, 0.5, 0.5, 1.0, 1.0];
    const NEGATIVES: [f32; 6] = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0];

    #[test]
    fn ties_count_as_wrong() {
        // triplet 2 has positive == negative
        let m = TripletEvaluator::new(TripletConfig::default())
            .unwrap()
            .evaluate(emb(&ANCHORS), emb(&POSITIVES), emb(&NEGATIVES))
            .unwrap();
        assert_eq!(m.accuracies, [(SimilarityFunction::Cosine, 2.0 / 3.0)]);
        assert_eq!(m.primary_metric(), "cosine_accuracy");
        let names: Vec<String> = m.metric_values().names().map(String::from).collect();
        assert_eq!(names, ["cosine_accuracy"]);
    }

    #[test]
    fn margin_raises_the_bar() {
        // cosine gaps: triplet 0 ≈ 0.99, triplet 1 ≈ 0.71
        let config = TripletConfig {
            margin: TripletMargin {
                cosine: 0.8,
                ..Default::default()
            },
            ..Default::default()
        };
        let m = TripletEvaluator::new(config)
            .unwrap()
            .evaluate(emb(&ANCHORS), emb(&POSITIVES), emb(&NEGATIVES))
            .unwrap();
        assert_eq!(m.accuracies[0].1, 1.0 / 3.0);
    }

    #[test]
    fn several_functions_add_max_accuracy() {
        let config = TripletConfig {
            similarity_fn_names: SimilarityFunction::ALL.to_vec(),
            ..Default::default()
        };
        let m = TripletEvaluator::new(config.clone())
            .unwrap()
            .evaluate(emb(&ANCHORS), emb(&POSITIVES), emb(&NEGATIVES))
            .unwrap();
        assert_eq!(m.primary_metric(), "max_accuracy");
        let values = m.metric_values();
        assert_eq!(values.len(), 5);
        assert_eq!(values.get("max_accuracy"), Some(m.max_accuracy()));
        let config = TripletConfig {
            main_similarity_function: Some(SimilarityFunction::Dot),
            ..config
        };
        let m = TripletEvaluator::new(config)
            .unwrap()
            .evaluate(emb(&ANCHORS), emb(&POSITIVES), emb(&NEGATIVES))
            .unwrap();
        assert_eq!(m.primary_metric(), "dot_accuracy");
    }

    #[test]
    fn bad_inputs_are_errors_naming_them() {
        let evaluator = TripletEvaluator::new(TripletConfig::default()).unwrap();
        let err = evaluator
            .evaluate(emb(&ANCHORS), emb(&POSITIVES[..4]), emb(&NEGATIVES))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "positives has 2 rows but anchors has 3");
        let err = evaluator
            .evaluate(emb(&[]), emb(&[]), emb(&[]))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "anchors is empty");
        let mut negatives = NEGATIVES;
        negatives[3] = f32::INFINITY;
        let err = evaluator
            .evaluate(emb(&ANCHORS), emb(&POSITIVES), emb(&negatives))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "negatives has a non-finite value inf at row 1");
        let config = TripletConfig {
            main_similarity_function: Some(SimilarityFunction::Euclidean),
            ..Default::default()
        };
        let err = TripletEvaluator::new(config).unwrap_err().to_string();
        assert_eq!(
            err,
            "config key main_similarity_function is euclidean, which is not listed in similarity_fn_names"
        );
        let config = TripletConfig {
            margin: TripletMargin::uniform(f64::NAN),
            ..Default::default()
        };
        let err = TripletEvaluator::new(config).unwrap_err().to_string();
        assert_eq!(err, "config key margin.cosine must be finite, got NaN");
    }
}
