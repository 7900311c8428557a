//! NATS publishing, with optional JetStream acknowledgements, over a hand-written client for
//! the NATS text protocol (`INFO`/`CONNECT`/`PUB`/`HPUB`/`SUB`/`MSG`/`HMSG`/`PING`/`PONG`).
//!
//! Core NATS: a batch is confirmed by a `PING`/`PONG` round trip after its `PUB`s (the server
//! has processed them; delivery to subscribers is still at-most-once, NATS' own semantics).
//! JetStream: every alert is published with a reply inbox and a `Nats-Msg-Id` header (a hash
//! of its JSON); the batch is confirmed when a PubAck arrived for each. Resending after a
//! failure reuses the same ids, so the stream's duplicate window drops the copies.
//!
//! Rejected: the `async-nats` crate, which needs tokio; the subset we use is ~300 lines.
//! Not supported (documented): TLS to NATS, credentials/NKeys authentication.

use super::{Record, Sink, SinkError};
use crate::config::NatsOutput;
use std::collections::{HashSet, VecDeque};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// `nats://host[:port]` to `host:port`.
pub fn parse_nats_url(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("nats://")
        .ok_or("scheme must be nats:// (TLS and websocket are not supported)")?;
    let rest = rest.trim_end_matches('/');
    if rest.contains('@') {
        return Err("credentials are not supported".into());
    }
    if rest.is_empty() || rest.contains('/') {
        return Err("expected nats://host[:port]".into());
    }
    if rest.starts_with('[') {
        return match rest.rsplit_once("]:") {
            Some((_, p)) => p
                .parse::<u16>()
                .map(|_| rest.to_string())
                .map_err(|_| format!("invalid port '{p}'")),
            None => Ok(format!("{rest}:4222")),
        };
    }
    match rest.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => p
            .parse::<u16>()
            .map(|_| rest.to_string())
            .map_err(|_| format!("invalid port '{p}'")),
        Some(_) => Err("missing host".into()),
        None => Ok(format!("{rest}:4222")),
    }
}

/// A publish subject: dot-separated non-empty tokens, no whitespace, no wildcards.
pub fn check_subject(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("subject must not be empty".into());
    }
    if s.chars().any(|c| c.is_whitespace() || c == '*' || c == '>') {
        return Err(format!(
            "invalid subject '{s}': no spaces or wildcards allowed"
        ));
    }
    if s.split('.').any(|t| t.is_empty()) {
        return Err(format!("invalid subject '{s}': empty token"));
    }
    Ok(())
}

/// A message received on a subscription.
#[derive(Debug, Clone)]
pub struct Msg {
    pub subject: String,
    pub sid: u64,
    pub reply: Option<String>,
    /// Raw header block (`NATS/1.0 ...\r\n...`) for `HMSG`.
    pub headers: Option<String>,
    pub payload: Vec<u8>,
}

/// A connection to one NATS server.
pub struct NatsConn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    wbuf: Vec<u8>,
    timeout: Duration,
    next_sid: u64,
    /// Messages that arrived while waiting for something else.
    queued: VecDeque<Msg>,
    line: Vec<u8>,
    pub server_info: String,
}

fn proto_err(m: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, m.into())
}

enum Op {
    Msg(Msg),
    Pong,
    Other,
}

impl NatsConn {
    /// Connects, sends `CONNECT` (headers enabled, no echo) and waits for the first `PONG`.
    pub fn connect(addr: &str, timeout: Duration) -> io::Result<NatsConn> {
        let mut last = proto_err(format!("{addr} resolves to no address"));
        let mut stream = None;
        for a in addr.to_socket_addrs()? {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let s = stream.ok_or(last)?;
        s.set_nodelay(true)?;
        s.set_write_timeout(Some(timeout))?;
        s.set_read_timeout(Some(timeout))?;
        let writer = s.try_clone()?;
        let mut c = NatsConn {
            reader: BufReader::with_capacity(64 * 1024, s),
            writer,
            wbuf: Vec::with_capacity(64 * 1024),
            timeout,
            next_sid: 1,
            queued: VecDeque::new(),
            line: Vec::new(),
            server_info: String::new(),
        };
        let deadline = Instant::now() + timeout;
        let info = c.read_line(deadline)?;
        let Some(json) = info.strip_prefix("INFO ") else {
            return Err(proto_err(format!(
                "expected INFO from server, got '{info}'"
            )));
        };
        if json.contains("\"tls_required\":true") {
            return Err(proto_err(
                "server requires TLS, which vigil's NATS output does not support",
            ));
        }
        if json.contains("\"auth_required\":true") {
            return Err(proto_err(
                "server requires authentication, which vigil's NATS output does not support",
            ));
        }
        c.server_info = json.to_string();
        let connect = format!(
            "CONNECT {{\"verbose\":false,\"pedantic\":false,\"lang\":\"rust\",\"name\":\"vigil\",\"version\":\"{}\",\"protocol\":1,\"headers\":true,\"no_responders\":true,\"echo\":false}}\r\n",
            env!("CARGO_PKG_VERSION")
        );
        c.wbuf.extend_from_slice(connect.as_bytes());
        c.flush()?;
        Ok(c)
    }

    fn read_line(&mut self, deadline: Instant) -> io::Result<String> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "NATS server did not answer in time",
                ));
            }
            self.reader.get_ref().set_read_timeout(Some(left))?;
            match self.reader.read_until(b'\n', &mut self.line) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "NATS server closed the connection",
                    ))
                }
                Ok(_) if self.line.ends_with(b"\n") => {
                    let l = String::from_utf8_lossy(&self.line).trim_end().to_string();
                    self.line.clear();
                    if l.len() > 1 << 20 {
                        return Err(proto_err("protocol line too long"));
                    }
                    return Ok(l);
                }
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn read_op(&mut self, deadline: Instant) -> io::Result<Op> {
        let line = self.read_line(deadline)?;
        let mut it = line.split_ascii_whitespace();
        let op = it.next().unwrap_or("").to_ascii_uppercase();
        match op.as_str() {
            "PING" => {
                self.writer.write_all(b"PONG\r\n")?;
                Ok(Op::Other)
            }
            "PONG" => Ok(Op::Pong),
            "+OK" | "INFO" | "" => Ok(Op::Other),
            "-ERR" => Err(proto_err(format!(
                "NATS server error: {}",
                line.trim_start_matches("-ERR").trim()
            ))),
            "MSG" | "HMSG" => {
                let args: Vec<&str> = it.collect();
                let hmsg = op == "HMSG";
                let need = if hmsg { 4 } else { 3 };
                if args.len() < need || args.len() > need + 1 {
                    return Err(proto_err(format!("malformed {op}: {line}")));
                }
                let subject = args[0].to_string();
                let sid: u64 = args[1].parse().map_err(|_| proto_err("bad sid"))?;
                let reply = if args.len() == need + 1 {
                    Some(args[2].to_string())
                } else {
                    None
                };
                let nums = &args[args.len() - if hmsg { 2 } else { 1 }..];
                let total: usize = nums[nums.len() - 1]
                    .parse()
                    .map_err(|_| proto_err("bad size"))?;
                let hlen: usize = if hmsg {
                    nums[0].parse().map_err(|_| proto_err("bad header size"))?
                } else {
                    0
                };
                if total > 64 << 20 || hlen > total {
                    return Err(proto_err("message too large"));
                }
                self.reader
                    .get_ref()
                    .set_read_timeout(Some(self.timeout.max(Duration::from_secs(1))))?;
                let mut data = vec![0u8; total + 2];
                self.reader.read_exact(&mut data)?;
                data.truncate(total);
                let payload = data.split_off(hlen);
                let headers = if hmsg {
                    Some(String::from_utf8_lossy(&data).to_string())
                } else {
                    None
                };
                Ok(Op::Msg(Msg {
                    subject,
                    sid,
                    reply,
                    headers,
                    payload,
                }))
            }
            _ => Err(proto_err(format!("unexpected NATS protocol line: {line}"))),
        }
    }

    /// Queues a `PUB` (or `HPUB` when `headers` is given: `"Name: value\r\n"` lines).
    pub fn publish(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&str>,
        payload: &[u8],
    ) {
        let r = reply.map(|r| format!(" {r}")).unwrap_or_default();
        match headers {
            Some(h) => {
                let hdr = format!("NATS/1.0\r\n{h}\r\n");
                let _ = write!(
                    self.wbuf,
                    "HPUB {subject}{r} {} {}\r\n",
                    hdr.len(),
                    hdr.len() + payload.len()
                );
                self.wbuf.extend_from_slice(hdr.as_bytes());
            }
            None => {
                let _ = write!(self.wbuf, "PUB {subject}{r} {}\r\n", payload.len());
            }
        }
        self.wbuf.extend_from_slice(payload);
        self.wbuf.extend_from_slice(b"\r\n");
    }

    /// Subscribes; returns the subscription id.
    pub fn subscribe(&mut self, subject: &str) -> u64 {
        let sid = self.next_sid;
        self.next_sid += 1;
        let _ = write!(self.wbuf, "SUB {subject} {sid}\r\n");
        sid
    }

    /// Sends everything queued and waits for the server's `PONG`: the server has processed it.
    pub fn flush(&mut self) -> io::Result<()> {
        self.wbuf.extend_from_slice(b"PING\r\n");
        self.writer.write_all(&self.wbuf)?;
        self.wbuf.clear();
        let deadline = Instant::now() + self.timeout;
        loop {
            match self.read_op(deadline)? {
                Op::Pong => return Ok(()),
                Op::Msg(m) => self.queued.push_back(m),
                Op::Other => {}
            }
        }
    }

    /// The next message on any subscription, or `None` at `deadline`.
    pub fn next_msg(&mut self, deadline: Instant) -> io::Result<Option<Msg>> {
        if !self.wbuf.is_empty() {
            let w = std::mem::take(&mut self.wbuf);
            self.writer.write_all(&w)?;
        }
        if let Some(m) = self.queued.pop_front() {
            return Ok(Some(m));
        }
        loop {
            match self.read_op(deadline) {
                Ok(Op::Msg(m)) => return Ok(Some(m)),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::TimedOut => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// Request/reply (used for the JetStream API in tests and tools).
    pub fn request(&mut self, subject: &str, payload: &[u8], timeout: Duration) -> io::Result<Msg> {
        let inbox = format!("_INBOX.vigil.{}.{}", std::process::id(), unique());
        let sid = self.subscribe(&inbox);
        self.publish(subject, Some(&inbox), None, payload);
        self.flush()?;
        let deadline = Instant::now() + timeout;
        loop {
            match self.next_msg(deadline)? {
                Some(m) if m.sid == sid => {
                    let _ = write!(self.wbuf, "UNSUB {sid}\r\n");
                    return Ok(m);
                }
                Some(_) => {}
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no reply to request on '{subject}'"),
                    ))
                }
            }
        }
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ (N.fetch_add(1, Ordering::Relaxed) << 48)
}

/// FNV-1a 64 of the alert JSON: the JetStream `Nats-Msg-Id`, stable across retries/replays.
pub fn msg_id(json: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in json.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("vigil-{h:016x}-{}", json.len())
}

pub struct NatsSink {
    addr: String,
    subject: String,
    jetstream: bool,
    timeout: Duration,
    conn: Option<NatsConn>,
    inbox: String,
    inbox_sid: u64,
    pending: HashSet<String>,
    next: u64,
}

impl NatsSink {
    pub fn new(cfg: &NatsOutput) -> Result<Self, String> {
        Ok(NatsSink {
            addr: parse_nats_url(&cfg.url)?,
            subject: cfg.subject.clone(),
            jetstream: cfg.jetstream,
            timeout: cfg.timeout.0,
            conn: None,
            inbox: format!("_INBOX.vigil.{}.{}", std::process::id(), unique()),
            inbox_sid: 0,
            pending: HashSet::new(),
            next: 0,
        })
    }

    fn conn(&mut self) -> Result<&mut NatsConn, SinkError> {
        if self.conn.is_none() {
            let mut c = NatsConn::connect(&self.addr, self.timeout)
                .map_err(|e| SinkError::Retry(format!("NATS connect {}: {e}", self.addr)))?;
            if self.jetstream {
                self.inbox_sid = c.subscribe(&format!("{}.*", self.inbox));
            }
            self.conn = Some(c);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| SinkError::Retry("not connected".into()))
    }

    fn fail(&mut self, e: impl std::fmt::Display) -> SinkError {
        self.conn = None;
        self.pending.clear();
        SinkError::Retry(format!("NATS {}: {e}", self.addr))
    }
}

impl Sink for NatsSink {
    fn write(&mut self, rec: &Record) -> Result<(), SinkError> {
        if self.jetstream {
            self.next += 1;
            let reply = format!("{}.{}", self.inbox, self.next);
            let hdr = format!("Nats-Msg-Id: {}\r\n", msg_id(&rec.json));
            let subject = self.subject.clone();
            self.conn()?
                .publish(&subject, Some(&reply), Some(&hdr), rec.json.as_bytes());
            self.pending.insert(reply);
        } else {
            let subject = self.subject.clone();
            self.conn()?
                .publish(&subject, None, None, rec.json.as_bytes());
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        let Some(c) = self.conn.as_mut() else {
            return Ok(());
        };
        if let Err(e) = c.flush() {
            return Err(self.fail(e));
        }
        let deadline = Instant::now() + self.timeout;
        while !self.pending.is_empty() {
            let Some(c) = self.conn.as_mut() else {
                return Err(self.fail("connection lost"));
            };
            let m = match c.next_msg(deadline) {
                Ok(Some(m)) => m,
                Ok(None) => {
                    let n = self.pending.len();
                    return Err(self.fail(format!(
                        "no JetStream ack for {n} alert(s) within {:?}",
                        self.timeout
                    )));
                }
                Err(e) => return Err(self.fail(e)),
            };
            if m.sid != self.inbox_sid || !self.pending.contains(&m.subject) {
                continue;
            }
            if let Some(h) = &m.headers {
                if h.starts_with("NATS/1.0 503") {
                    return Err(self.fail(format!(
                        "no JetStream stream listens on subject '{}'",
                        self.subject
                    )));
                }
            }
            let v: serde_json::Value =
                serde_json::from_slice(&m.payload).unwrap_or(serde_json::Value::Null);
            if let Some(err) = v.get("error") {
                return Err(self.fail(format!("JetStream error: {err}")));
            }
            if v.get("stream").is_none() {
                return Err(self.fail(format!(
                    "unexpected PubAck '{}'",
                    String::from_utf8_lossy(&m.payload)
                )));
            }
            self.pending.remove(&m.subject);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_subjects() {
        assert_eq!(
            parse_nats_url("nats://127.0.0.1:4222").unwrap(),
            "127.0.0.1:4222"
        );
        assert_eq!(
            parse_nats_url("nats://localhost").unwrap(),
            "localhost:4222"
        );
        assert!(parse_nats_url("tls://x:1").is_err());
        assert!(parse_nats_url("nats://u:p@x:1").is_err());
        assert!(parse_nats_url("nats://x:notaport").is_err());
        assert!(check_subject("vigil.alerts").is_ok());
        for bad in ["", "a b", "a.*", "a.>", "a..b", ".a"] {
            assert!(check_subject(bad).is_err(), "{bad}");
        }
        assert_eq!(msg_id("x"), msg_id("x"));
        assert_ne!(msg_id("x"), msg_id("y"));
    }
}
