//! A minimal HTTP/1.1 GET client over a Unix socket, for the Docker and Podman APIs.
//!
//! One request per connection (`Connection: close`), a deadline for the whole exchange, and a
//! cap on the response size. The response parser ([`parse_response`]) is pure and handles
//! `Content-Length`, `chunked` and read-to-close bodies. We rejected hyper/reqwest: they pull
//! an async runtime into a crate whose lookups run on two plain threads, for four requests a
//! container.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// A response: status code and decoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("connect to {path}: {source}")]
    Connect {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("timed out")]
    Timeout,
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    #[error("malformed response: {0}")]
    Malformed(String),
}

/// `GET path` on the Unix socket at `socket`, within `timeout`, reading at most `max_bytes`.
pub fn get(
    socket: &Path,
    path: &str,
    timeout: Duration,
    max_bytes: usize,
) -> Result<HttpResponse, HttpError> {
    let deadline = Instant::now() + timeout;
    let mut s = UnixStream::connect(socket).map_err(|e| HttpError::Connect {
        path: socket.display().to_string(),
        source: e,
    })?;
    let left = |deadline: Instant| -> Result<Duration, HttpError> {
        let d = deadline.saturating_duration_since(Instant::now());
        if d.is_zero() {
            Err(HttpError::Timeout)
        } else {
            Ok(d)
        }
    };
    s.set_write_timeout(Some(left(deadline)?))?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: vigil\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).map_err(timeout_or_io)?;
    let mut raw = Vec::with_capacity(16 * 1024);
    let mut buf = [0u8; 16 * 1024];
    loop {
        s.set_read_timeout(Some(left(deadline)?))?;
        let n = s.read(&mut buf).map_err(timeout_or_io)?;
        if n == 0 {
            break;
        }
        if raw.len() + n > max_bytes {
            return Err(HttpError::TooLarge(max_bytes));
        }
        raw.extend_from_slice(&buf[..n]);
        // Stop early once a Content-Length body is complete (some servers keep the socket).
        if let Ok(Some(r)) = complete_response(&raw, max_bytes) {
            return Ok(r);
        }
    }
    parse_response(&raw, max_bytes).map_err(HttpError::Malformed)
}

fn timeout_or_io(e: std::io::Error) -> HttpError {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => HttpError::Timeout,
        _ => HttpError::Io(e),
    }
}

/// `Some(response)` if `raw` holds a complete response with a `Content-Length` body.
fn complete_response(raw: &[u8], max_bytes: usize) -> Result<Option<HttpResponse>, String> {
    let Some(hend) = find(raw, b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&raw[..hend]).map_err(|_| "header is not UTF-8")?;
    match header(head, "content-length") {
        Some(cl) => {
            let cl: usize = cl.parse().map_err(|_| "bad Content-Length")?;
            if raw.len() >= hend + 4 + cl {
                parse_response(&raw[..hend + 4 + cl], max_bytes).map(Some)
            } else {
                Ok(None)
            }
        }
        None => Ok(None),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Parses a complete raw HTTP/1.x response (the connection was closed after it).
pub fn parse_response(raw: &[u8], max_bytes: usize) -> Result<HttpResponse, String> {
    let hend = find(raw, b"\r\n\r\n").ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..hend]).map_err(|_| "header is not UTF-8")?;
    let status_line = head.split("\r\n").next().unwrap_or_default();
    let mut parts = status_line.split(' ');
    let proto = parts.next().unwrap_or_default();
    if !proto.starts_with("HTTP/1.") {
        return Err(format!("bad status line {status_line:?}"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let rest = &raw[hend + 4..];
    let body = if header(head, "transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"))
    {
        dechunk(rest, max_bytes)?
    } else if let Some(cl) = header(head, "content-length") {
        let cl: usize = cl
            .parse()
            .map_err(|_| format!("bad Content-Length {cl:?}"))?;
        if cl > max_bytes {
            return Err(format!(
                "Content-Length {cl} above the {max_bytes}-byte cap"
            ));
        }
        rest.get(..cl)
            .ok_or_else(|| format!("body shorter than Content-Length {cl}"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(HttpResponse { status, body })
}

fn dechunk(mut rest: &[u8], max_bytes: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let eol = find(rest, b"\r\n").ok_or("chunk size line not terminated")?;
        let line = std::str::from_utf8(&rest[..eol]).map_err(|_| "chunk size not UTF-8")?;
        let size_hex = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| format!("bad chunk size {size_hex:?}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(body);
        }
        if body.len().saturating_add(size) > max_bytes {
            return Err(format!("chunked body above the {max_bytes}-byte cap"));
        }
        let chunk = rest.get(..size).ok_or("chunk shorter than its size")?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or("chunk not followed by CRLF")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_chunked_and_close() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            100,
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
        let r = parse_response(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n",
            100,
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"{\"a\":1}"[..]));
        let r = parse_response(b"HTTP/1.0 200 OK\r\n\r\nabc", 100).unwrap();
        assert_eq!(r.body, b"abc");
    }

    #[test]
    fn malformed() {
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n", 10).is_err());
        assert!(parse_response(b"SSH-2.0 hi\r\n\r\n", 10).is_err());
        assert!(parse_response(b"HTTP/1.1 abc\r\n\r\n", 10).is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nab", 100).is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\nab", 100).is_err());
        assert!(parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            100
        )
        .is_err());
        assert!(parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffff\r\nab",
            100
        )
        .is_err());
    }
}
