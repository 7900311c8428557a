//! The metrics/health HTTP endpoint: `GET /metrics` (Prometheus text) and `GET /healthz`
//! (JSON, 200 when healthy, 503 otherwise). Loopback by default.
//!
//! One accept thread serving connections inline with short timeouts: a scraper every few
//! seconds is the whole load. Rejected: an HTTP server crate (hyper/axum) and its runtime for
//! two GET routes.

use crate::metrics::Metrics;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A running metrics server.
pub struct MetricsServer {
    addr: SocketAddr,
    listen: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MetricsServer({})", self.addr)
    }
}

impl MetricsServer {
    /// Binds `listen` (`ip:port`, port 0 picks a free one) and serves in a thread.
    pub fn start(listen: &str, metrics: Metrics) -> io::Result<MetricsServer> {
        let l = TcpListener::bind(listen)?;
        l.set_nonblocking(true)?;
        let addr = l.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let thread = std::thread::Builder::new()
            .name("vigil-metrics".into())
            .spawn(move || {
                while !st.load(Ordering::Relaxed) {
                    match l.accept() {
                        Ok((s, _)) => {
                            let _ = serve(s, &metrics);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(25))
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(25)),
                    }
                }
            })?;
        Ok(MetricsServer {
            addr,
            listen: listen.to_string(),
            stop,
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configured `listen` string.
    pub fn listen(&self) -> &str {
        &self.listen
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(s: TcpStream, m: &Metrics) -> io::Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut r = BufReader::new(s.try_clone()?);
    let mut first = String::new();
    r.read_line(&mut first)?;
    // Skip the headers (bounded).
    let mut total = first.len();
    loop {
        let mut l = String::new();
        let n = r.read_line(&mut l)?;
        total += n;
        if n == 0 || l == "\r\n" || l == "\n" || total > 16 * 1024 {
            break;
        }
    }
    let mut parts = first.split_ascii_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let (status, ctype, body) = match (method, path) {
        ("GET", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            m.render_prometheus(),
        ),
        ("GET", "/healthz") => {
            let h = m.health();
            (
                if h.healthy {
                    "200 OK"
                } else {
                    "503 Service Unavailable"
                },
                "application/json",
                h.json,
            )
        }
        ("GET", _) => (
            "404 Not Found",
            "text/plain",
            "not found: try /metrics or /healthz\n".to_string(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "only GET is supported\n".to_string(),
        ),
    };
    let mut w = s;
    write!(w, "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
    w.flush()
}
