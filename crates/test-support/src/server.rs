//! A static file server on loopback, for tests that must see or count the requests made.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A running server: its endpoint URL and how many requests it has answered.
#[derive(Debug, Clone)]
pub struct Served {
    pub endpoint: String,
    requests: Arc<AtomicUsize>,
}

impl Served {
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Serves the files under `root` over HTTP/1.1 on 127.0.0.1 until the test process exits:
/// GET and HEAD of files, 404 otherwise.
pub fn serve_dir(root: PathBuf) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("local address").port();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let _ = handle(stream, &root);
            });
        }
    });
    Served {
        endpoint: format!("http://127.0.0.1:{port}"),
        requests,
    }
}

fn handle(mut stream: TcpStream, root: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
    }
    let mut parts = request.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let relative = target
        .split('?')
        .next()
        .unwrap_or("")
        .trim_start_matches('/');
    let path = root.join(relative);
    let safe = !relative.split('/').any(|p| p == "..");
    match std::fs::read(&path) {
        Ok(body) if safe && path.is_file() => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            if method != "HEAD" {
                stream.write_all(&body)?;
            }
        }
        _ => write!(
            stream,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?,
    }
    stream.flush()
}
