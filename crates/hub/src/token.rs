//! The access token: a secret that no `Debug`, error message or log line can show.
//!
//! ureq-proto logs the raw bytes of every request at TRACE level (through the `log` crate,
//! 16 bytes per line, as hex and as text), so an application running with `RUST_LOG=trace`
//! would log any `Authorization` value handed to ureq. The token therefore never goes to
//! ureq: requests carry [`Token::header_value`]'s same-length placeholder, and the transport
//! in `wire.rs`, the last layer before the socket, writes the token over it after ureq has
//! logged the request.

use std::fmt;

use tracing::warn;

/// Bytes a token may hold: visible ASCII, so the token cannot break the request head.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_graphic()
}

/// Filler of the placeholder; the placeholder is `Bearer ` followed by one per token byte.
pub(crate) const PLACEHOLDER_BYTE: u8 = b'*';

/// A hub access token. `Debug` prints `<redacted>`; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Token(String);

impl Token {
    /// Cleans `raw` like `huggingface_hub` (drops CR/LF, trims); `None` if it is then empty,
    /// or unusable in a header (a warning says so, without the token).
    pub fn new(raw: &str) -> Option<Self> {
        let cleaned: String = raw.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
        let cleaned = cleaned.trim();
        if cleaned.is_empty() {
            return None;
        }
        if !cleaned.bytes().all(is_token_byte) {
            warn!("ignoring the hub token: it holds spaces or non-ASCII characters");
            return None;
        }
        Some(Self(cleaned.to_owned()))
    }

    /// The `Authorization` value handed to ureq: `Bearer ` and one `*` per token byte.
    pub fn header_value(&self) -> String {
        format!(
            "Bearer {}",
            char::from(PLACEHOLDER_BYTE)
                .to_string()
                .repeat(self.0.len())
        )
    }

    /// The placeholder as it appears on the wire, and what replaces it there.
    pub fn wire_swap(&self) -> (Vec<u8>, Vec<u8>) {
        let placeholder = self.header_value().into_bytes();
        let real = format!("Bearer {}", self.0).into_bytes();
        (placeholder, real)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let token = Token::new("hf_secret").unwrap();
        assert_eq!(format!("{token:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(token)), "Some(<redacted>)");
    }

    #[test]
    fn placeholder_has_the_token_length_and_hides_it() {
        let token = Token::new("hf_abc").unwrap();
        assert_eq!(token.header_value(), "Bearer ******");
        let (placeholder, real) = token.wire_swap();
        assert_eq!(placeholder.len(), real.len());
        assert_eq!(real, b"Bearer hf_abc");
    }

    #[test]
    fn cleaning() {
        assert_eq!(Token::new(" hf_x\r\n"), Token::new("hf_x"));
        assert_eq!(Token::new("  "), None);
        assert_eq!(Token::new("hf x"), None);
        assert_eq!(Token::new("hf_\u{e9}"), None);
    }
}
