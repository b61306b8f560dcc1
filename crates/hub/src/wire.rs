//! The outermost ureq transport layer: writes the token over its placeholder in the bytes
//! that go to the socket (or to TLS), after ureq-proto has logged them (see `token.rs`).
//!
//! The layer sits on top of ureq's default connector chain (proxy, TCP, TLS), so it sees the
//! plain request head of every connection. The placeholder and the token have the same
//! length, so the swap happens in place and the amount ureq asked to send stays right.
//! Requests are GET/HEAD without a body; the placeholder (`Bearer ` and `*`s) only appears in
//! the `Authorization` header that `transport.rs` adds for the endpoint's origin.

use std::fmt;
use std::sync::Arc;

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, NextTimeout, Transport as UreqTransport,
};

use crate::token::Token;

/// Wraps each new connection in a [`TokenWire`].
#[derive(Clone)]
pub(crate) struct TokenConnector {
    swap: Option<Arc<(Vec<u8>, Vec<u8>)>>,
}

impl TokenConnector {
    pub fn new(token: Option<&Token>) -> Self {
        Self {
            swap: token.map(|t| Arc::new(t.wire_swap())),
        }
    }
}

/// Never prints the token.
impl fmt::Debug for TokenConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenConnector").finish_non_exhaustive()
    }
}

impl Connector<Box<dyn UreqTransport>> for TokenConnector {
    type Out = TokenWire;

    fn connect(
        &self,
        _details: &ConnectionDetails,
        chained: Option<Box<dyn UreqTransport>>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(|inner| TokenWire {
            inner,
            swap: self.swap.clone(),
        }))
    }
}

/// A connection whose outgoing bytes get the token swapped in.
pub(crate) struct TokenWire {
    inner: Box<dyn UreqTransport>,
    swap: Option<Arc<(Vec<u8>, Vec<u8>)>>,
}

/// Never prints the token.
impl fmt::Debug for TokenWire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenWire")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl UreqTransport for TokenWire {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        if let Some(swap) = &self.swap {
            let output = self.inner.buffers().output();
            if let Some(bytes) = output.get_mut(..amount) {
                replace_all(bytes, &swap.0, &swap.1);
            }
        }
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.inner.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

/// Overwrites every occurrence of `from` in `bytes` with `to` (both of the same length).
fn replace_all(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    if from.is_empty() || from.len() != to.len() {
        return;
    }
    let mut i = 0;
    while let Some(window) = bytes.get_mut(i..i + from.len()) {
        if *window == *from {
            window.copy_from_slice(to);
            i += from.len();
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_in_place() {
        let mut head = b"GET / HTTP/1.1\r\nauthorization: Bearer ***\r\n\r\n".to_vec();
        replace_all(&mut head, b"Bearer ***", b"Bearer abc");
        assert_eq!(head, b"GET / HTTP/1.1\r\nauthorization: Bearer abc\r\n\r\n");
        let mut short = b"Bear".to_vec();
        replace_all(&mut short, b"Bearer ***", b"Bearer abc");
        assert_eq!(short, b"Bear");
    }

    #[test]
    fn debug_hides_the_token() {
        let token = Token::new("hf_wire_secret").unwrap();
        let shown = format!("{:?}", TokenConnector::new(Some(&token)));
        assert!(!shown.contains("hf_wire_secret"), "{shown}");
    }
}
