//! A tiny in-process HTTP/1.1 server on loopback for the hub client's tests: serves a map of
//! path → response, 404 otherwise, and records every request.
//!
//! It can also play a hostile hub: a body shorter than its Content-Length, a body trickled
//! one byte at a time, any status and headers (HTML pages, redirects). It binds only
//! `127.0.0.1:0`, serves at most [`MAX_CONNECTIONS`] connections, never waits more than
//! [`CLIENT_READ_TIMEOUT`] for a request, and stops when dropped (a trickle notices the stop
//! flag within [`STOP_POLL`]).

#![allow(dead_code)] // each test binary uses a different part of this helper

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Connections one server serves before its thread ends by itself.
pub const MAX_CONNECTIONS: usize = 1000;
/// How long the server waits for a client's request head.
pub const CLIENT_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a trickling response checks whether the server is being stopped.
pub const STOP_POLL: Duration = Duration::from_millis(20);

/// One canned response.
#[derive(Clone, Debug)]
pub struct Route {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Sent as Content-Length instead of the body's length (to simulate a cut connection).
    pub claimed_len: Option<usize>,
    /// Sends the body one byte at a time, pausing this long before each byte.
    pub trickle: Option<Duration>,
    /// Waits this long before sending anything (a hub that never answers).
    pub head_delay: Option<Duration>,
}

impl Route {
    /// 200 with `body` and no other headers, like a static file server.
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
            claimed_len: None,
            trickle: None,
            head_delay: None,
        }
    }

    /// An empty response with `status`.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            ..Self::ok("")
        }
    }

    /// A redirect to `location` (302, as the hub answers for LFS files).
    pub fn redirect(location: &str) -> Self {
        Self::status(302).header("location", location)
    }

    /// A 200 HTML page, as a captive portal or a proxy's login page answers.
    pub fn html() -> Self {
        Self::ok("<!DOCTYPE html><html><body>Please log in to the Wi-Fi</body></html>")
            .header("content-type", "text/html; charset=utf-8")
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Announces `claimed` bytes but sends only the body, then closes.
    pub fn truncated(mut self, claimed: usize) -> Self {
        self.claimed_len = Some(claimed);
        self
    }

    /// Sends the body one byte every `interval`.
    pub fn trickle(mut self, interval: Duration) -> Self {
        self.trickle = Some(interval);
        self
    }

    /// Sends nothing for `delay`, then the response.
    pub fn silent_for(mut self, delay: Duration) -> Self {
        self.head_delay = Some(delay);
        self
    }
}

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
}

pub struct TestServer {
    addr: std::net::SocketAddr,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn start(routes: impl IntoIterator<Item = (String, Route)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let routes = Arc::new(Mutex::new(routes.into_iter().collect::<HashMap<_, _>>()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (routes, seen, stop) = (routes.clone(), seen.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming().take(MAX_CONNECTIONS) {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        serve(stream, &routes, &seen, &stop);
                    }
                }
            })
        };
        Self {
            addr,
            routes,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.to_owned(), route);
    }

    pub fn request_count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn paths(&self) -> Vec<String> {
        self.requests().into_iter().map(|s| s.path).collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so the thread sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    stream: TcpStream,
    routes: &Mutex<HashMap<String, Route>>,
    seen: &Mutex<Vec<Seen>>,
    stop: &AtomicBool,
) {
    let _ = stream.set_read_timeout(Some(CLIENT_READ_TIMEOUT));
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.clone(),
        headers,
    });
    let route = routes
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or_else(|| Route::status(404));
    let mut out = stream;
    if let Some(delay) = route.head_delay {
        if !pause(delay, stop) {
            return;
        }
    }
    let len = route.claimed_len.unwrap_or(route.body.len());
    let mut head = format!(
        "HTTP/1.1 {} X\r\ncontent-length: {len}\r\nconnection: close\r\n",
        route.status
    );
    for (k, v) in &route.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = out.write_all(head.as_bytes());
    if method != "HEAD" {
        match route.trickle {
            Some(interval) => trickle(&mut out, &route.body, interval, stop),
            None => {
                let _ = out.write_all(&route.body);
            }
        }
    }
    let _ = out.flush();
    let _ = out.shutdown(Shutdown::Both);
}

/// Writes `body` one byte per `interval`; ends early when the client is gone or on stop.
fn trickle(out: &mut TcpStream, body: &[u8], interval: Duration, stop: &AtomicBool) {
    for byte in body {
        if !pause(interval, stop) || out.write_all(&[*byte]).and_then(|()| out.flush()).is_err() {
            return;
        }
    }
}

/// Sleeps `duration` in short steps; `false` if the server is stopped meanwhile.
fn pause(duration: Duration, stop: &AtomicBool) -> bool {
    let due = Instant::now() + duration;
    while Instant::now() < due {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(STOP_POLL.min(due.saturating_duration_since(Instant::now())));
    }
    true
}

/// A port on loopback where nothing listens.
pub fn dead_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// Files below `dir`, relative, sorted (for assertions on the cache layout).
pub fn tree(dir: &std::path::Path) -> Vec<String> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.is_symlink() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

/// Every `*.incomplete` file below `dir`.
pub fn incomplete_files(dir: &std::path::Path) -> Vec<String> {
    tree(dir)
        .into_iter()
        .filter(|p| p.ends_with(".incomplete"))
        .collect()
}

/// A minimal valid safetensors file: no tensors, an 8-byte header `{}` padded with spaces.
pub fn empty_safetensors() -> Vec<u8> {
    let mut bytes = 8u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}      ");
    bytes
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
