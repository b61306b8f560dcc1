//! Reading an architecture's `config.json`: serde into its typed struct, then its own checks.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{json_error, Error, Result};

/// Deserialises `raw` (the JSON of `path`) into `T`, then runs `validate`. Errors name the
/// file, and the key for a value of the wrong type.
pub(crate) fn parse_config<T: DeserializeOwned>(
    raw: &Value,
    path: &Path,
    what: &'static str,
    validate: impl FnOnce(&T) -> std::result::Result<(), String>,
) -> Result<T> {
    let config: T =
        serde_path_to_error::deserialize(raw).map_err(|err| json_error(path, what, err))?;
    validate(&config).map_err(|message| Error::Config {
        path: path.to_path_buf(),
        message,
    })?;
    Ok(config)
}

/// Errors naming the first key whose value is not positive.
pub(crate) fn check_positive(values: &[(&str, i64)]) -> std::result::Result<(), String> {
    match values.iter().find(|(_, value)| *value <= 0) {
        Some((key, value)) => Err(format!("key {key} must be positive, got {value}")),
        None => Ok(()),
    }
}

/// The most layers a config may set.
pub(crate) const MAX_LAYERS: i64 = 1 << 10;
/// The widest hidden, intermediate, head or projection size a config may set.
pub(crate) const MAX_WIDTH: i64 = 1 << 18;
/// The most rows a table may have (vocabulary, positions, token types, buckets).
pub(crate) const MAX_ROWS: i64 = 1 << 24;

/// Errors naming the first key whose value is not positive or is above its limit (the
/// limits are far above any released model, and keep products of sizes from overflowing).
pub(crate) fn check_sizes(values: &[(&str, i64, i64)]) -> std::result::Result<(), String> {
    let positive: Vec<(&str, i64)> = values.iter().map(|(k, v, _)| (*k, *v)).collect();
    check_positive(&positive)?;
    match values.iter().find(|(_, value, max)| value > max) {
        Some((key, value, max)) => Err(format!("key {key} is {value}, above the limit of {max}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Tiny {
        hidden_size: i64,
    }

    #[test]
    fn a_wrong_type_names_the_key_and_a_bad_value_the_check() {
        let path = Path::new("config.json");
        let err = parse_config::<Tiny>(
            &serde_json::json!({"hidden_size": "8"}),
            path,
            "a config",
            |_| Ok(()),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("config.json") && err.contains("hidden_size"),
            "{err}"
        );
        let err = parse_config::<Tiny>(
            &serde_json::json!({"hidden_size": 0}),
            path,
            "a config",
            |c| check_positive(&[("hidden_size", c.hidden_size)]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("key hidden_size must be positive, got 0"),
            "{err}"
        );
    }
}
