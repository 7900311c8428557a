//! Live containers: asks the local engines for every running container's inspect JSON.
//!
//! Order: the podman REST socket (`/run/podman/podman.sock`) and the Docker socket
//! (`/var/run/docker.sock`) through their Docker-compatible API (`GET /containers/json`,
//! `GET /containers/{id}/json`); when no socket answers, `podman ps -q` + `podman inspect`.
//! The HTTP client is a minimal HTTP/1.0 request over a Unix socket (no chunked responses to
//! a 1.0 client, though a chunked body is still decoded defensively); pulling in hyper and
//! tokio for two GET requests was rejected.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Default engine sockets, in the order they are tried.
pub const DEFAULT_SOCKETS: &[&str] = &["/run/podman/podman.sock", "/var/run/docker.sock"];

const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// Why live containers could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("{socket}: {what}: {source}")]
    Socket {
        socket: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("{socket}: GET {path}: {msg}")]
    Http {
        socket: PathBuf,
        path: String,
        msg: String,
    },
    #[error("`{cmd}` failed: {msg}")]
    Cli { cmd: String, msg: String },
    #[error(
        "no container engine found (no socket at {sockets}, and `podman` could not be run: {cli})"
    )]
    NoEngine { sockets: String, cli: String },
}

/// The inspect JSON of running containers from one engine.
#[derive(Debug)]
pub struct EngineDump {
    /// Where it came from (`podman:/run/podman/podman.sock`, `podman-cli`).
    pub source: String,
    /// One JSON document per container (API) or one JSON array (CLI).
    pub documents: Vec<String>,
}

/// Sends `GET path` over a Unix socket and returns the body of a 200 response.
pub fn http_get(socket: &Path, path: &str) -> Result<String, LiveError> {
    let sock_err = |what: &'static str| {
        let socket = socket.to_path_buf();
        move |source| LiveError::Socket {
            socket,
            what,
            source,
        }
    };
    let mut s = UnixStream::connect(socket).map_err(sock_err("connect"))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(sock_err("set timeout"))?;
    s.write_all(
        format!("GET {path} HTTP/1.0\r\nHost: localhost\r\nAccept: application/json\r\n\r\n")
            .as_bytes(),
    )
    .map_err(sock_err("write"))?;
    let mut buf = Vec::new();
    s.take(MAX_RESPONSE as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(sock_err("read"))?;
    let http = |msg: String| LiveError::Http {
        socket: socket.to_path_buf(),
        path: path.to_string(),
        msg,
    };
    if buf.len() > MAX_RESPONSE {
        return Err(http(format!("response larger than {MAX_RESPONSE} bytes")));
    }
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| http("malformed HTTP response (no header end)".into()))?;
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let body = &buf[split + 4..];
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            http(format!(
                "malformed status line: {}",
                head.lines().next().unwrap_or("")
            ))
        })?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked {
        dechunk(body).ok_or_else(|| http("malformed chunked body".into()))?
    } else {
        body.to_vec()
    };
    let text = String::from_utf8(body).map_err(|_| http("response is not UTF-8".into()))?;
    if status != 200 {
        return Err(http(format!(
            "HTTP {status}: {}",
            text.chars().take(200).collect::<String>()
        )));
    }
    Ok(text)
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let nl = b.windows(2).position(|w| w == b"\r\n")?;
        let size_str = std::str::from_utf8(&b[..nl]).ok()?;
        let size = usize::from_str_radix(size_str.split(';').next()?.trim(), 16).ok()?;
        b = &b[nl + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

/// Lists running containers through one engine socket (Docker-compatible API).
pub fn dump_socket(socket: &Path) -> Result<EngineDump, LiveError> {
    let list = http_get(socket, "/containers/json")?;
    let v: serde_json::Value = serde_json::from_str(&list).map_err(|e| LiveError::Http {
        socket: socket.to_path_buf(),
        path: "/containers/json".into(),
        msg: format!("invalid JSON: {e}"),
    })?;
    let mut documents = Vec::new();
    for c in v.as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let Some(id) = c.get("Id").and_then(|i| i.as_str()) else {
            continue;
        };
        if !id.chars().all(|ch| ch.is_ascii_alphanumeric()) {
            continue;
        }
        documents.push(http_get(socket, &format!("/containers/{id}/json"))?);
    }
    Ok(EngineDump {
        source: format!("socket:{}", socket.display()),
        documents,
    })
}

/// Lists running containers with the podman CLI.
pub fn dump_podman_cli() -> Result<EngineDump, LiveError> {
    let run = |args: &[&str]| -> Result<String, LiveError> {
        let cmd = format!("podman {}", args.join(" "));
        let out = Command::new("podman")
            .args(args)
            .output()
            .map_err(|e| LiveError::Cli {
                cmd: cmd.clone(),
                msg: e.to_string(),
            })?;
        if !out.status.success() {
            return Err(LiveError::Cli {
                cmd,
                msg: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        String::from_utf8(out.stdout).map_err(|_| LiveError::Cli {
            cmd,
            msg: "output is not UTF-8".into(),
        })
    };
    let ids = run(&["ps", "-q", "--no-trunc"])?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    let mut documents = Vec::new();
    if !ids.is_empty() {
        let mut args = vec!["inspect", "--type", "container"];
        args.extend(ids);
        documents.push(run(&args)?);
    }
    Ok(EngineDump {
        source: "podman-cli".into(),
        documents,
    })
}

/// Collects running containers from every reachable engine. With `sockets` given, only those
/// are asked; otherwise the default sockets, then the podman CLI if no socket answered.
/// Sockets that exist but fail are reported in the second element, not silently skipped.
pub fn dump_all(sockets: &[PathBuf]) -> Result<(Vec<EngineDump>, Vec<LiveError>), LiveError> {
    let explicit = !sockets.is_empty();
    let candidates: Vec<PathBuf> = if explicit {
        sockets.to_vec()
    } else {
        DEFAULT_SOCKETS.iter().map(PathBuf::from).collect()
    };
    let mut dumps = Vec::new();
    let mut errors = Vec::new();
    for s in &candidates {
        if !explicit && !s.exists() {
            continue;
        }
        match dump_socket(s) {
            Ok(d) => dumps.push(d),
            Err(e) => errors.push(e),
        }
    }
    if dumps.is_empty() && !explicit {
        match dump_podman_cli() {
            Ok(d) => dumps.push(d),
            Err(e) if errors.is_empty() => {
                return Err(LiveError::NoEngine {
                    sockets: DEFAULT_SOCKETS.join(", "),
                    cli: e.to_string(),
                })
            }
            Err(e) => errors.push(e),
        }
    }
    if dumps.is_empty() {
        if let Some(e) = errors.pop() {
            return Err(e);
        }
    }
    Ok((dumps, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunk_works() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert!(dechunk(b"zz\r\n").is_none());
    }
}
