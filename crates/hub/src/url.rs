//! The few URL operations the client needs: building resolve URLs, percent-encoding and
//! following `Location` headers.

use crate::repo::Repo;

/// `{endpoint}/{datasets/}{id}/resolve/{revision}/{file}`, as `huggingface_hub.hf_hub_url`
/// builds it: the revision is fully encoded (`refs/pr/1` → `refs%2Fpr%2F1`), the file keeps
/// its slashes.
pub(crate) fn file_url(endpoint: &str, repo: &Repo, file: &str) -> String {
    format!(
        "{endpoint}/{}{}/resolve/{}/{}",
        repo.kind().url_prefix(),
        repo.id(),
        encode(repo.revision(), false),
        encode(file, true),
    )
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and `/` if `keep_slash`).
fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Splits `scheme://authority/rest` into (`scheme://authority`, `/rest`).
fn split_origin(url: &str) -> Option<(&str, &str)> {
    let scheme_end = url.find("://")? + 3;
    let path_start = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    Some((&url[..path_start], &url[path_start..]))
}

/// `scheme://authority` of `url`, if it is absolute.
pub(crate) fn origin(url: &str) -> Option<&str> {
    split_origin(url).map(|(origin, _)| origin)
}

/// Resolves a `Location` header against the URL that returned it.
pub(crate) fn join(base: &str, location: &str) -> Option<String> {
    if location.contains("://") {
        return Some(location.to_owned());
    }
    let (origin, path) = split_origin(base)?;
    if let Some(rest) = location.strip_prefix("//") {
        let scheme = &origin[..origin.find("://")?];
        return Some(format!("{scheme}://{rest}"));
    }
    if location.starts_with('/') {
        return Some(format!("{origin}{location}"));
    }
    let path = path.split(['?', '#']).next().unwrap_or("");
    let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
    Some(format!("{origin}{dir}{location}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::Repo;

    #[test]
    fn builds_resolve_urls() {
        let m = Repo::model("org/name").unwrap();
        assert_eq!(
            file_url("http://h", &m, "1_Pooling/config.json"),
            "http://h/org/name/resolve/main/1_Pooling/config.json"
        );
        let d = Repo::dataset("nyu-mll/glue")
            .unwrap()
            .with_revision("refs/pr/1")
            .unwrap();
        assert_eq!(
            file_url("http://h", &d, "stsb/a b.parquet"),
            "http://h/datasets/nyu-mll/glue/resolve/refs%2Fpr%2F1/stsb/a%20b.parquet"
        );
    }

    #[test]
    fn joins_locations() {
        let base = "https://hub.test/org/m/resolve/main/x.bin?a=1";
        assert_eq!(
            join(base, "https://cdn.test/y").unwrap(),
            "https://cdn.test/y"
        );
        assert_eq!(join(base, "//cdn.test/y").unwrap(), "https://cdn.test/y");
        assert_eq!(join(base, "/api/z").unwrap(), "https://hub.test/api/z");
        assert_eq!(
            join(base, "y.bin").unwrap(),
            "https://hub.test/org/m/resolve/main/y.bin"
        );
        assert_eq!(join("http://h:8", "a").unwrap(), "http://h:8/a");
        assert_eq!(origin(base), Some("https://hub.test"));
        assert_eq!(origin("http://127.0.0.1:9"), Some("http://127.0.0.1:9"));
        assert_eq!(origin("nope"), None);
    }
}
