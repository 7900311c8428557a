//! A minimal HTTP/1.1 client (POST with keep-alive, TLS through rustls) and the webhook sink
//! (Falco JSON body, or a Slack-compatible message).
//!
//! Rejected: `ureq`/`reqwest`. The webhook needs exactly one request shape; a hand-written
//! client is ~200 lines, keeps `url`/`idna`/`http` and an async runtime out of the build, and
//! lets us enforce hard limits on what a hostile receiver can send back (64 KiB of headers,
//! 1 MiB of body, a deadline per request).

use super::{Record, Sink, SinkError};
use crate::config::{WebhookFormat, WebhookOutput};
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MAX_HEADER_BYTES: usize = 64 * 1024;
const MAX_BODY_BYTES: usize = 1 << 20;

/// A parsed `http://` or `https://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    pub https: bool,
    /// Host without brackets (IPv6 literals unbracketed).
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub target: String,
    /// Value of the `Host` header.
    pub authority: String,
}

impl HttpUrl {
    pub fn parse(s: &str) -> Result<HttpUrl, String> {
        let (https, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else {
            return Err("scheme must be http:// or https://".into());
        };
        let rest = rest.split('#').next().unwrap_or("");
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (auth, target) = rest.split_at(end);
        if auth.contains('@') {
            return Err("credentials in the URL are not supported (use a header)".into());
        }
        if auth.is_empty() {
            return Err("missing host".into());
        }
        let default_port = if https { 443 } else { 80 };
        let (host, port) = if let Some(r) = auth.strip_prefix('[') {
            let close = r.find(']').ok_or("unterminated IPv6 literal")?;
            let host = &r[..close];
            let after = &r[close + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) => p
                    .parse::<u16>()
                    .map_err(|_| format!("invalid port '{p}'"))?,
                None if after.is_empty() => default_port,
                None => return Err("garbage after IPv6 literal".into()),
            };
            (host.to_string(), port)
        } else {
            match auth.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    p.parse::<u16>()
                        .map_err(|_| format!("invalid port '{p}'"))?,
                ),
                None => (auth.to_string(), default_port),
            }
        };
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b))
        {
            return Err(format!("invalid host '{host}'"));
        }
        if port == 0 {
            return Err("port 0 is not valid".into());
        }
        if target.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err("path contains spaces or control characters (percent-encode them)".into());
        }
        let target = if target.is_empty() {
            "/".to_string()
        } else if target.starts_with('?') {
            format!("/{target}")
        } else {
            target.to_string()
        };
        Ok(HttpUrl {
            https,
            host,
            port,
            target,
            authority: auth.to_string(),
        })
    }
}

/// Reads PEM certificates from `path`; errors are user-facing strings.
pub fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let data = std::fs::read(path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&data)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("'{}' is not valid PEM: {e:?}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("'{}' contains no PEM certificate", path.display()));
    }
    Ok(certs)
}

/// TLS client configuration trusting the web PKI roots plus `extra` CAs.
pub fn tls_config(extra: &[CertificateDer<'static>]) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for c in extra {
        roots
            .add(c.clone())
            .map_err(|e| format!("bad CA certificate: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// A response's status and (capped) body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Keep-alive HTTP/1.1 client for one origin.
pub struct HttpClient {
    url: HttpUrl,
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
    conn: Option<BufReader<Box<dyn Stream>>>,
}

fn io_other(m: impl Into<String>) -> io::Error {
    io::Error::other(m.into())
}

impl HttpClient {
    pub fn new(url: HttpUrl, tls: Option<Arc<rustls::ClientConfig>>, timeout: Duration) -> Self {
        HttpClient {
            url,
            tls,
            timeout,
            conn: None,
        }
    }

    fn connect(&self) -> io::Result<Box<dyn Stream>> {
        let addrs: Vec<_> = (self.url.host.as_str(), self.url.port)
            .to_socket_addrs()?
            .collect();
        let mut last = io_other(format!("{} resolves to no address", self.url.host));
        for a in addrs {
            match TcpStream::connect_timeout(&a, self.timeout) {
                Ok(s) => {
                    s.set_read_timeout(Some(self.timeout))?;
                    s.set_write_timeout(Some(self.timeout))?;
                    let _ = s.set_nodelay(true);
                    if !self.url.https {
                        return Ok(Box::new(s));
                    }
                    let cfg = self
                        .tls
                        .clone()
                        .ok_or_else(|| io_other("no TLS configuration"))?;
                    let name = ServerName::try_from(self.url.host.clone())
                        .map_err(|e| io_other(format!("TLS server name: {e}")))?;
                    let c = rustls::ClientConnection::new(cfg, name)
                        .map_err(|e| io_other(format!("TLS: {e}")))?;
                    return Ok(Box::new(rustls::StreamOwned::new(c, s)));
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// POSTs `body`. A failure on a reused connection before any response byte is retried
    /// once on a fresh connection (the server may have closed an idle keep-alive).
    pub fn post(
        &mut self,
        headers: &[(String, String)],
        content_type: &str,
        body: &[u8],
    ) -> io::Result<Response> {
        let reused = self.conn.is_some();
        match self.post_once(headers, content_type, body) {
            Err((e, false)) if reused => {
                let _ = e;
                self.conn = None;
                self.post_once(headers, content_type, body)
                    .map_err(|(e, _)| e)
            }
            r => r.map_err(|(e, _)| e),
        }
    }

    /// On error, also says whether any response byte was read.
    fn post_once(
        &mut self,
        headers: &[(String, String)],
        ct: &str,
        body: &[u8],
    ) -> Result<Response, (io::Error, bool)> {
        let deadline = Instant::now() + self.timeout;
        if self.conn.is_none() {
            self.conn = Some(BufReader::with_capacity(
                16 * 1024,
                self.connect().map_err(|e| (e, false))?,
            ));
        }
        let mut req = Vec::with_capacity(body.len() + 512);
        let _ = write!(
            req,
            "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: vigil/{}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n",
            self.url.target,
            self.url.authority,
            env!("CARGO_PKG_VERSION"),
            body.len()
        );
        for (k, v) in headers {
            let _ = write!(req, "{k}: {v}\r\n");
        }
        req.extend_from_slice(b"\r\n");
        req.extend_from_slice(body);
        let res = (|| -> Result<(Response, bool), (io::Error, bool)> {
            let conn = self
                .conn
                .as_mut()
                .ok_or_else(|| (io_other("not connected"), false))?;
            let s = conn.get_mut();
            s.write_all(&req)
                .and_then(|_| s.flush())
                .map_err(|e| (e, false))?;
            read_response(conn, deadline)
        })();
        match res {
            Ok((resp, keep)) => {
                if !keep {
                    self.conn = None;
                }
                Ok(resp)
            }
            Err(e) => {
                self.conn = None;
                Err(e)
            }
        }
    }
}

fn read_response(
    r: &mut impl BufRead,
    deadline: Instant,
) -> Result<(Response, bool), (io::Error, bool)> {
    let mut got_any = false;
    let mut head = Vec::new();
    loop {
        if Instant::now() > deadline {
            return Err((
                io::Error::new(io::ErrorKind::TimedOut, "response timed out"),
                got_any,
            ));
        }
        let mut line = Vec::new();
        let n = r.read_until(b'\n', &mut line).map_err(|e| (e, got_any))?;
        if n == 0 {
            return Err((
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed before the response",
                ),
                got_any,
            ));
        }
        got_any = true;
        if line == b"\r\n" || line == b"\n" {
            if head.is_empty() {
                continue;
            }
            break;
        }
        head.push(String::from_utf8_lossy(&line).trim_end().to_string());
        if head.iter().map(|l| l.len()).sum::<usize>() > MAX_HEADER_BYTES {
            return Err((io_other("response headers too large"), true));
        }
    }
    let bad = |m: &str| (io_other(format!("malformed response: {m}")), true);
    let status_line = &head[0];
    let mut parts = status_line.splitn(3, ' ');
    let ver = parts.next().unwrap_or("");
    if !ver.starts_with("HTTP/1.") {
        return Err(bad(status_line));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(status_line))?;
    let mut len: Option<usize> = None;
    let mut chunked = false;
    let mut keep = ver == "HTTP/1.1";
    for h in &head[1..] {
        let Some((k, v)) = h.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        match k.as_str() {
            "content-length" => len = Some(v.parse().map_err(|_| bad("content-length"))?),
            "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
            "connection" => {
                let v = v.to_ascii_lowercase();
                if v.contains("close") {
                    keep = false;
                } else if v.contains("keep-alive") {
                    keep = true;
                }
            }
            _ => {}
        }
    }
    let mut body = Vec::new();
    if status == 204 || status == 304 || (100..200).contains(&status) {
        // No body.
    } else if chunked {
        loop {
            let mut line = String::new();
            r.read_line(&mut line).map_err(|e| (e, true))?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad("chunk size"))?;
            if size == 0 {
                // Trailers until an empty line.
                loop {
                    let mut t = String::new();
                    if r.read_line(&mut t).map_err(|e| (e, true))? == 0 || t.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            if body.len().saturating_add(size) > MAX_BODY_BYTES {
                return Err((io_other("response body too large"), true));
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..]).map_err(|e| (e, true))?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf).map_err(|e| (e, true))?;
        }
    } else if let Some(n) = len {
        if n > MAX_BODY_BYTES {
            return Err((io_other("response body too large"), true));
        }
        body.resize(n, 0);
        r.read_exact(&mut body).map_err(|e| (e, true))?;
    } else {
        r.take(MAX_BODY_BYTES as u64)
            .read_to_end(&mut body)
            .map_err(|e| (e, true))?;
        keep = false;
    }
    Ok((Response { status, body }, keep))
}

/// Slack's colour for a priority (red for the top three, orange, yellow, then grey/blue).
fn slack_color(p: vigil_event::Priority) -> &'static str {
    use vigil_event::Priority::*;
    match p {
        Emergency | Alert | Critical => "#e01e5a",
        Error => "#ff5400",
        Warning => "#ecb22e",
        Notice => "#36c5f0",
        Informational | Debug => "#aaaaaa",
    }
}

/// The Slack incoming-webhook message for an alert.
pub fn slack_body(rec: &Record) -> Vec<u8> {
    let a = &rec.alert;
    let mut fields = vec![
        serde_json::json!({"title": "rule", "value": a.rule, "short": true}),
        serde_json::json!({"title": "priority", "value": a.priority.as_str(), "short": true}),
        serde_json::json!({"title": "source", "value": a.source, "short": true}),
        serde_json::json!({"title": "hostname", "value": a.hostname, "short": true}),
    ];
    for (k, v) in &a.output_fields {
        fields.push(serde_json::json!({"title": k, "value": v.to_string(), "short": true}));
    }
    if !a.tags.is_empty() {
        fields
            .push(serde_json::json!({"title": "tags", "value": a.tags.join(", "), "short": false}));
    }
    serde_json::json!({
        "text": format!("{} {}: {}", a.priority, a.rule, a.output),
        "attachments": [{
            "color": slack_color(a.priority),
            "text": a.output,
            "fields": fields,
            "footer": "vigil",
            "ts": a.time / 1_000_000_000,
        }]
    })
    .to_string()
    .into_bytes()
}

pub struct WebhookSink {
    client: HttpClient,
    format: WebhookFormat,
    headers: Vec<(String, String)>,
}

impl WebhookSink {
    pub fn new(cfg: &WebhookOutput) -> Result<Self, String> {
        let url = HttpUrl::parse(&cfg.url)?;
        let tls = if url.https {
            let extra = match &cfg.ca_file {
                Some(p) => load_ca_file(p)?,
                None => Vec::new(),
            };
            Some(tls_config(&extra)?)
        } else {
            None
        };
        Ok(WebhookSink {
            client: HttpClient::new(url, tls, cfg.timeout.0),
            format: cfg.format,
            headers: cfg
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }
}

impl Sink for WebhookSink {
    fn write(&mut self, rec: &Record) -> Result<(), SinkError> {
        let slack;
        let body: &[u8] = match self.format {
            WebhookFormat::Falco => rec.json.as_bytes(),
            WebhookFormat::Slack => {
                slack = slack_body(rec);
                &slack
            }
        };
        match self.client.post(&self.headers, "application/json", body) {
            Ok(r) if (200..300).contains(&r.status) => Ok(()),
            Ok(r) if r.status == 408 || r.status == 429 || r.status >= 500 => {
                Err(SinkError::Retry(format!(
                    "HTTP {}: {}",
                    r.status,
                    String::from_utf8_lossy(&r.body[..r.body.len().min(200)])
                )))
            }
            Ok(r) => Err(SinkError::Reject(format!(
                "HTTP {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body[..r.body.len().min(200)])
            ))),
            Err(e) => Err(SinkError::Retry(format!(
                "POST {}:{}: {e}",
                self.client.url.host, self.client.url.port
            ))),
        }
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    fn confirms_each_write(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = HttpUrl::parse("https://hooks.example.com/a/b?x=1#frag").unwrap();
        assert_eq!(
            (u.https, u.host.as_str(), u.port, u.target.as_str()),
            (true, "hooks.example.com", 443, "/a/b?x=1")
        );
        let u = HttpUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            (u.port, u.target.as_str(), u.authority.as_str()),
            (8080, "/", "127.0.0.1:8080")
        );
        let u = HttpUrl::parse("http://[::1]:9/x").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9));
        for bad in [
            "ftp://x",
            "http://",
            "http://u:p@h/",
            "http://h:99999/",
            "http://h/a b",
            "htp:/x",
        ] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_chunked_and_length_responses() {
        let d = Instant::now() + Duration::from_secs(5);
        let mut r = BufReader::new(
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"[..],
        );
        let (resp, keep) = read_response(&mut r, d).unwrap();
        assert_eq!(
            (resp.status, resp.body.as_slice(), keep),
            (200, &b"abc"[..], true)
        );
        let mut r = BufReader::new(&b"HTTP/1.0 503 Busy\r\nContent-Length: 2\r\n\r\nno"[..]);
        let (resp, keep) = read_response(&mut r, d).unwrap();
        assert_eq!(
            (resp.status, resp.body.as_slice(), keep),
            (503, &b"no"[..], false)
        );
        let mut r = BufReader::new(&b"garbage\r\n\r\n"[..]);
        assert!(read_response(&mut r, d).is_err());
    }

    #[test]
    fn random_responses_never_panic() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let seeds: [&[u8]; 3] = [
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
            b"HTTP/1.1 500 E\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            b"HTTP/1.0 204 N\r\nConnection: close\r\n\r\n",
        ];
        for k in 0..5000 {
            let mut b = seeds[k % 3].to_vec();
            for _ in 0..3 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x as usize) % b.len();
                b[i] = (x >> 32) as u8;
            }
            let d = Instant::now() + Duration::from_secs(1);
            let _ = read_response(&mut BufReader::new(&b[..]), d);
        }
    }
}
