//! Settings read from the environment, with the same variables and defaults as
//! `huggingface_hub` (`huggingface_hub/constants.py`).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::timeouts::Timeouts;
use crate::token::Token;

/// The public hub.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Everything [`crate::HubClient::from_env`] takes from the environment. `Debug` shows the
/// token as `<redacted>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    pub endpoint: String,
    pub cache_dir: PathBuf,
    pub token: Option<Token>,
    pub offline: bool,
    /// `HF_HUB_DOWNLOAD_TIMEOUT`, `SENTENCE_RS_HUB_STALL_TIMEOUT` (see `timeouts.rs`).
    pub timeouts: Timeouts,
    /// Where `huggingface-cli login` stores a token (`HF_TOKEN_PATH`, else `$HF_HOME/token`).
    pub token_path: Option<PathBuf>,
}

impl Settings {
    /// Reads the settings through `var`, which returns a variable's value (tests pass a map,
    /// so no test has to mutate the process environment). Empty values count as unset.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        let home = var("HOME")
            .or_else(|| var("USERPROFILE"))
            .map(PathBuf::from);
        let expand = |v: String| expand_home(&v, home.as_deref());

        let endpoint =
            normalize_endpoint(&var("HF_ENDPOINT").unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned()));

        let hf_home = var("HF_HOME").map(expand).or_else(|| {
            var("XDG_CACHE_HOME")
                .map(expand)
                .or_else(|| home.as_ref().map(|h| h.join(".cache")))
                .map(|cache| cache.join("huggingface"))
        });
        let cache_dir = var("HF_HUB_CACHE")
            .or_else(|| var("HUGGINGFACE_HUB_CACHE"))
            .map(expand)
            .or_else(|| hf_home.as_ref().map(|h| h.join("hub")))
            .ok_or(Error::NoCacheDir)?;
        let token_path = var("HF_TOKEN_PATH")
            .map(expand)
            .or_else(|| hf_home.map(|h| h.join("token")));

        Ok(Self {
            endpoint,
            cache_dir,
            token: var("HF_TOKEN").and_then(|t| Token::new(&t)),
            offline: var("HF_HUB_OFFLINE").is_some_and(|v| is_true(&v)),
            timeouts: Timeouts::from_lookup(var)?,
            token_path,
        })
    }
}

/// Trims whitespace and trailing slashes.
pub(crate) fn normalize_endpoint(endpoint: &str) -> String {
    endpoint.trim().trim_end_matches('/').to_owned()
}

/// `huggingface_hub`'s `_is_true`: `1`, `on`, `yes`, `true` in any case.
fn is_true(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "on" | "yes" | "true"
    )
}

/// Expands a leading `~/` like Python's `os.path.expanduser`.
fn expand_home(value: &str, home: Option<&Path>) -> PathBuf {
    match (value.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ if value == "~" => home.map_or_else(|| PathBuf::from(value), Path::to_path_buf),
        _ => PathBuf::from(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let s = settings(&[("HOME", "/home/u")]).unwrap();
        assert_eq!(s.endpoint, "https://huggingface.co");
        assert_eq!(s.cache_dir, PathBuf::from("/home/u/.cache/huggingface/hub"));
        assert_eq!(
            s.token_path,
            Some(PathBuf::from("/home/u/.cache/huggingface/token"))
        );
        assert_eq!(s.token, None);
        assert!(!s.offline);
    }

    #[test]
    fn precedence() {
        let s = settings(&[("HOME", "/h"), ("XDG_CACHE_HOME", "/xdg")]).unwrap();
        assert_eq!(s.cache_dir, PathBuf::from("/xdg/huggingface/hub"));
        let s = settings(&[
            ("HOME", "/h"),
            ("XDG_CACHE_HOME", "/xdg"),
            ("HF_HOME", "~/hf"),
        ])
        .unwrap();
        assert_eq!(s.cache_dir, PathBuf::from("/h/hf/hub"));
        let s = settings(&[("HF_HOME", "/hf"), ("HF_HUB_CACHE", "/c")]).unwrap();
        assert_eq!(s.cache_dir, PathBuf::from("/c"));
        assert_eq!(s.token_path, Some(PathBuf::from("/hf/token")));
    }

    #[test]
    fn endpoint_token_offline() {
        let s = settings(&[
            ("HF_HUB_CACHE", "/c"),
            ("HF_ENDPOINT", "http://127.0.0.1:8000//"),
            ("HF_TOKEN", "hf_x"),
            ("HF_HUB_OFFLINE", "YES"),
        ])
        .unwrap();
        assert_eq!(s.endpoint, "http://127.0.0.1:8000");
        assert_eq!(s.token, Token::new("hf_x"));
        assert!(s.offline);
        for (v, on) in [
            ("1", true),
            ("true", true),
            ("0", false),
            ("no", false),
            ("", false),
        ] {
            assert_eq!(
                settings(&[("HF_HUB_CACHE", "/c"), ("HF_HUB_OFFLINE", v)])
                    .unwrap()
                    .offline,
                on,
                "{v}"
            );
        }
    }

    #[test]
    fn debug_hides_the_token() {
        let s = settings(&[("HF_HUB_CACHE", "/c"), ("HF_TOKEN", "hf_settings_secret")]).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hf_settings_secret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn timeouts_come_from_the_environment() {
        let s = settings(&[("HF_HUB_CACHE", "/c"), ("HF_HUB_DOWNLOAD_TIMEOUT", "3")]).unwrap();
        assert_eq!(s.timeouts.read, std::time::Duration::from_secs(3));
        assert!(matches!(
            settings(&[("HF_HUB_CACHE", "/c"), ("HF_HUB_DOWNLOAD_TIMEOUT", "soon")]),
            Err(Error::InvalidTimeout { .. })
        ));
    }

    #[test]
    fn no_home_is_an_error() {
        assert!(matches!(settings(&[]), Err(Error::NoCacheDir)));
    }
}
