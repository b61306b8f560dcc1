//! Named metrics: what every evaluator reports, and all the trainer reads.
//!
//! sentence-transformers' `SentenceEvaluator.__call__` returns a dict of named metrics and
//! names one of them `primary_metric`; the trainer's best-model selection, the logs and the
//! model card read only that dict. [`MetricValues`] is that dict, in the evaluator's order.

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Metric names and values in the order the evaluator reports them.
///
/// Serialises as a JSON/TOML map (`{"spearman_cosine": 0.87, …}`) keeping that order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricValues(Vec<(String, f64)>);

impl MetricValues {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `name = value`, replacing an earlier value of the same name in place.
    pub fn push(&mut self, name: impl Into<String>, value: f64) {
        let name = name.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.0.iter().map(|(n, v)| (n.as_str(), *v))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(n, _)| n.as_str())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The same metrics with `prefix_` before each name (sentence-transformers prefixes each
    /// evaluator's keys with its name).
    pub fn prefixed(&self, prefix: &str) -> Self {
        Self(
            self.0
                .iter()
                .map(|(n, v)| (format!("{prefix}_{n}"), *v))
                .collect(),
        )
    }

    /// Appends every metric of `other` (a later value of a name replaces an earlier one).
    pub fn extend(&mut self, other: MetricValues) {
        for (name, value) in other.0 {
            self.push(name, value);
        }
    }
}

impl FromIterator<(String, f64)> for MetricValues {
    fn from_iter<I: IntoIterator<Item = (String, f64)>>(iter: I) -> Self {
        let mut values = Self::new();
        for (name, value) in iter {
            values.push(name, value);
        }
        values
    }
}

impl Serialize for MetricValues {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for MetricValues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InOrder;
        impl<'de> Visitor<'de> for InOrder {
            type Value = MetricValues;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of metric names to numbers")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MetricValues, A::Error> {
                let mut values = MetricValues::new();
                while let Some((name, value)) = map.next_entry::<String, f64>()? {
                    values.push(name, value);
                }
                Ok(values)
            }
        }
        deserializer.deserialize_map(InOrder)
    }
}

/// A result type that reports named metrics, as a sentence-transformers evaluator does.
pub trait NamedMetrics {
    /// The metrics under sentence-transformers' key names, without the evaluator's name
    /// prefix, in its order.
    fn metric_values(&self) -> MetricValues;

    /// The key sentence-transformers names `primary_metric` for this evaluator (greater is
    /// better).
    fn primary_metric(&self) -> &str;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_replaces_in_place() {
        let mut m = MetricValues::new();
        m.push("b", 1.0);
        m.push("a", 2.0);
        m.push("b", 3.0);
        assert_eq!(m.names().collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(m.get("b"), Some(3.0));
        assert_eq!(m.get("c"), None);
    }

    #[test]
    fn json_round_trip_keeps_order() {
        let m: MetricValues = [("z".to_string(), 0.5), ("a".to_string(), 0.25)]
            .into_iter()
            .collect();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"z":0.5,"a":0.25}"#);
        let back: MetricValues = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert!(serde_json::from_str::<MetricValues>(r#"{"a":"x"}"#).is_err());
    }

    #[test]
    fn prefixed_names_each_key() {
        let mut m = MetricValues::new();
        m.push("spearman_cosine", 0.8);
        assert_eq!(
            m.prefixed("sts-dev").get("sts-dev_spearman_cosine"),
            Some(0.8)
        );
    }
}
