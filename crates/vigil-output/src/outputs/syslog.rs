//! RFC 5424 syslog over a unix socket, UDP (RFC 5426, one message per datagram) or TCP with
//! octet-counting framing (RFC 6587 §3.4.1: `LEN SP MSG`).
//!
//! `PRI = facility * 8 + severity`, where Falco's priorities map one to one onto syslog
//! severities (Emergency = 0 … Debug = 7). The timestamp is the alert's event time truncated
//! to microseconds (RFC 5424 allows at most six fractional digits). No structured data
//! (`-`): we have no IANA enterprise number, and the JSON body carries every field anyway.
//! Rejected: non-transparent (newline) framing on TCP, which breaks on multi-line outputs.

use super::{Record, Sink, SinkError};
use crate::config::{facility_code, parse_syslog_address, Format, SyslogAddr, SyslogOutput};
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::time::Duration;

enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    UnixDgram(UnixDatagram),
    UnixStream(UnixStream),
}

pub struct SyslogSink {
    addr: SyslogAddr,
    facility: u8,
    app_name: String,
    format: Format,
    pid: u32,
    conn: Option<Conn>,
    msg: Vec<u8>,
    out: Vec<u8>,
}

/// Formats one RFC 5424 message (without transport framing).
pub fn format_rfc5424(
    buf: &mut Vec<u8>,
    rec: &Record,
    facility: u8,
    app_name: &str,
    pid: u32,
    format: Format,
) {
    let a = &rec.alert;
    let pri = facility as u32 * 8 + a.priority as u32;
    let ts = vigil_event::alert::format_rfc3339(a.time);
    // `...SS.nnnnnnnnnZ` -> `...SS.uuuuuuZ`
    let ts = match ts.find('.') {
        Some(dot) if ts.len() >= dot + 7 => format!("{}Z", &ts[..dot + 7]),
        _ => ts,
    };
    let host: String = a
        .hostname
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    let host = if host.is_empty() {
        "-".to_string()
    } else {
        host
    };
    let _ = write!(buf, "<{pri}>1 {ts} {host} {app_name} {pid} alert - ");
    match format {
        Format::Json => buf.extend_from_slice(rec.json.as_bytes()),
        Format::Text => {
            let _ = write!(buf, "{} {}: {}", a.priority, a.rule, a.output);
        }
    }
}

impl SyslogSink {
    pub fn new(cfg: &SyslogOutput) -> Result<Self, String> {
        Ok(SyslogSink {
            addr: parse_syslog_address(&cfg.address)?,
            facility: facility_code(&cfg.facility)
                .ok_or_else(|| format!("unknown facility {}", cfg.facility))?,
            app_name: cfg.app_name.clone(),
            format: cfg.format,
            pid: std::process::id(),
            conn: None,
            msg: Vec::with_capacity(4096),
            out: Vec::with_capacity(64 * 1024),
        })
    }

    fn connect(&mut self) -> Result<&mut Conn, SinkError> {
        if self.conn.is_none() {
            let retry = |e: std::io::Error| SinkError::Retry(format!("syslog connect: {e}"));
            let c = match &self.addr {
                SyslogAddr::Udp(a) => {
                    let bind = if a.starts_with('[') {
                        "[::]:0"
                    } else {
                        "0.0.0.0:0"
                    };
                    let s = UdpSocket::bind(bind).map_err(retry)?;
                    s.connect(a.as_str()).map_err(retry)?;
                    Conn::Udp(s)
                }
                SyslogAddr::Tcp(a) => {
                    let s = TcpStream::connect(a.as_str()).map_err(retry)?;
                    let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
                    let _ = s.set_nodelay(true);
                    Conn::Tcp(s)
                }
                SyslogAddr::Unix(p) => {
                    let d = UnixDatagram::unbound().map_err(retry)?;
                    match d.connect(p) {
                        Ok(()) => Conn::UnixDgram(d),
                        // A stream socket (e.g. some journald/rsyslog setups): frame like TCP.
                        Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => {
                            let s = UnixStream::connect(p).map_err(retry)?;
                            let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
                            Conn::UnixStream(s)
                        }
                        Err(e) => return Err(retry(e)),
                    }
                }
            };
            self.conn = Some(c);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| SinkError::Retry("not connected".into()))
    }
}

impl Sink for SyslogSink {
    fn write(&mut self, rec: &Record) -> Result<(), SinkError> {
        self.msg.clear();
        let mut msg = std::mem::take(&mut self.msg);
        format_rfc5424(
            &mut msg,
            rec,
            self.facility,
            &self.app_name,
            self.pid,
            self.format,
        );
        let r = (|| {
            let conn = self.connect()?;
            match conn {
                Conn::Udp(s) => s.send(&msg).map(|_| ()),
                Conn::UnixDgram(s) => s.send(&msg).map(|_| ()),
                Conn::Tcp(_) | Conn::UnixStream(_) => {
                    let _ = write!(self.out, "{} ", msg.len());
                    self.out.extend_from_slice(&msg);
                    Ok(())
                }
            }
            .map_err(|e| {
                if e.raw_os_error() == Some(libc::EMSGSIZE) {
                    SinkError::Reject(format!(
                        "syslog message of {} bytes too large for a datagram",
                        msg.len()
                    ))
                } else {
                    SinkError::Retry(format!("syslog send: {e}"))
                }
            })
        })();
        self.msg = msg;
        if matches!(r, Err(SinkError::Retry(_))) {
            self.conn = None;
        }
        r
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let r = match self.conn.as_mut() {
            Some(Conn::Tcp(s)) => s.write_all(&self.out).and_then(|_| s.flush()),
            Some(Conn::UnixStream(s)) => s.write_all(&self.out).and_then(|_| s.flush()),
            _ => Ok(()),
        };
        self.out.clear();
        r.map_err(|e| {
            self.conn = None;
            SinkError::Retry(format!("syslog send: {e}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use vigil_event::{Alert, Priority};

    #[test]
    fn rfc5424_layout() {
        let rec = Record::new(Alert {
            time: 1_700_000_000_123_456_789,
            rule: "Shell".into(),
            priority: Priority::Warning,
            source: "syscall".into(),
            hostname: "node 1".into(),
            output: "a shell".into(),
            tags: vec![],
            output_fields: BTreeMap::new(),
        });
        let mut b = Vec::new();
        format_rfc5424(&mut b, &rec, 16, "vigil", 42, Format::Text);
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "<132>1 2023-11-14T22:13:20.123456Z node1 vigil 42 alert - Warning Shell: a shell"
        );
    }
}
