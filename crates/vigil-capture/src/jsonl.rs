//! The JSON Lines capture format: one record per line, for fixtures written by hand and for
//! captures meant to be read by people or `jq`.
//!
//! ```text
//! {"host":{"hostname":"web-1"}}
//! {"process":{"pid":100,"ppid":1,"comm":"nginx","exe":"/usr/sbin/nginx","args":["-g","daemon off;"]}}
//! {"event":"openat","pid":100,"res":3,"args":{"fd":3,"name":"/etc/shadow","flags":"O_RDONLY"},"fd":{"num":3,"type":"file","name":"/etc/shadow"}}
//! ```
//!
//! Parameter values are typed from the parameter name and event type ([`param_kind`]), so
//! flags may be written symbolically, modes in octal, addresses as `ip:port`; any value can be
//! forced to a kind with `{"type":"u64","value":5}`. The writer uses that form only when a value
//! is not of its natural kind, so binary -> text -> binary is lossless. Blank lines and lines
//! starting with `#` are skipped. Errors name the line and the key.
//!
//! [`param_kind`]: crate::symbols::param_kind

use crate::error::{CaptureError, FieldError};
use crate::owned::{OwnedAddr, OwnedEvent, OwnedFd, OwnedParam, OwnedValue, ParamBuf};
use crate::record::{HostInfo, OwnedRecord, Record, Stats, UserTable};
use crate::symbols::{self, Kind};
use crate::tree::{Tree, MAX_DEPTH};
use std::io::{BufRead, Read, Write};
use std::net::SocketAddr;
use vigil_event::{
    Container, Dir, Event, EventType, FdKind, FlagSet, L4Proto, ParamName, Process, SockTuple,
    Value,
};

/// Longest line the reader accepts.
pub const MAX_LINE: usize = 16 << 20;

/// Timestamp given to the first event of a fixture that does not set `ts`
/// (2023-11-14T22:13:20Z); later events without one are 1 ms apart.
pub const BASE_TS: u64 = 1_700_000_000_000_000_000;
/// Spacing of implicit timestamps.
pub const TS_STEP: u64 = 1_000_000;

/// State carried between records of one fixture: implicit event numbers and timestamps.
#[derive(Clone, Debug, Default)]
pub struct TextContext {
    last_num: u64,
    last_ts: Option<u64>,
    /// Events parsed so far.
    pub events: u64,
}

type FResult<T> = Result<T, FieldError>;

fn expect_map<'t>(t: &'t Tree, what: &str) -> FResult<&'t [(String, Tree)]> {
    match t {
        Tree::Map(m) => Ok(m),
        other => Err(FieldError::new(
            "",
            format!("{what} must be a mapping, found {}", other.kind()),
        )),
    }
}

fn as_i64(t: &Tree) -> FResult<i64> {
    match t {
        Tree::I64(v) => Ok(*v),
        Tree::U64(v) => {
            i64::try_from(*v).map_err(|_| FieldError::new("", format!("{v} is out of range")))
        }
        other => Err(FieldError::new(
            "",
            format!("expected an integer, found {}", other.kind()),
        )),
    }
}

fn as_u64(t: &Tree) -> FResult<u64> {
    match t {
        Tree::U64(v) => Ok(*v),
        Tree::Str(s) => symbols::parse_uint(s)
            .ok_or_else(|| FieldError::new("", format!("'{s}' is not an unsigned number"))),
        other => Err(FieldError::new(
            "",
            format!("expected an unsigned integer, found {}", other.kind()),
        )),
    }
}

fn as_u32(t: &Tree) -> FResult<u32> {
    let v = as_u64(t)?;
    u32::try_from(v).map_err(|_| FieldError::new("", format!("{v} does not fit 32 bits")))
}

/// A uid/gid: also accepts -1 (the kernel's "unset", `u32::MAX`).
fn as_id(t: &Tree) -> FResult<u32> {
    if let Tree::I64(-1) = t {
        return Ok(u32::MAX);
    }
    as_u32(t)
}

fn as_str(t: &Tree) -> FResult<&str> {
    match t {
        Tree::Str(s) => Ok(s),
        other => Err(FieldError::new(
            "",
            format!("expected a string, found {}", other.kind()),
        )),
    }
}

fn as_bool(t: &Tree) -> FResult<bool> {
    match t {
        Tree::Bool(b) => Ok(*b),
        other => Err(FieldError::new(
            "",
            format!("expected true or false, found {}", other.kind()),
        )),
    }
}

/// A timestamp: ns since the epoch, or RFC 3339 text.
fn as_ts(t: &Tree) -> FResult<u64> {
    match t {
        Tree::Str(s) => vigil_event::alert::parse_rfc3339(s).ok_or_else(|| {
            FieldError::new(
                "",
                format!("'{s}' is not an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SS[.n]Z)"),
            )
        }),
        other => as_u64(other),
    }
}

/// `1.2.3.4:80`, `[::1]:80`.
fn parse_sockaddr(s: &str) -> FResult<SocketAddr> {
    s.parse::<SocketAddr>()
        .map_err(|_| FieldError::new("", format!("'{s}' is not an ip:port address")))
}

/// `[tcp |udp |icmp |raw ]SRC:PORT->DST:PORT`.
pub fn parse_tuple(s: &str) -> FResult<SockTuple> {
    let s = s.trim();
    let (proto, rest) = match s.split_once(' ') {
        Some((p, r)) => {
            let proto = match p {
                "tcp" => L4Proto::Tcp,
                "udp" => L4Proto::Udp,
                "icmp" => L4Proto::Icmp,
                "raw" => L4Proto::Raw,
                _ => {
                    return Err(FieldError::new(
                        "",
                        format!("unknown protocol '{p}' (expected tcp, udp, icmp or raw)"),
                    ))
                }
            };
            (proto, r.trim())
        }
        None => (L4Proto::Unknown, s),
    };
    let (a, b) = rest.split_once("->").ok_or_else(|| {
        FieldError::new(
            "",
            format!("'{s}' is not a tuple (expected [tcp ]SRC:PORT->DST:PORT)"),
        )
    })?;
    let src = parse_sockaddr(a.trim())?;
    let dst = parse_sockaddr(b.trim())?;
    Ok(SockTuple {
        proto,
        src_ip: src.ip(),
        src_port: src.port(),
        dst_ip: dst.ip(),
        dst_port: dst.port(),
    })
}

/// Renders a tuple in the form [`parse_tuple`] reads.
pub fn format_tuple(t: &SockTuple) -> String {
    let a = SocketAddr::new(t.src_ip, t.src_port);
    let b = SocketAddr::new(t.dst_ip, t.dst_port);
    match t.proto {
        L4Proto::Unknown => format!("{a}->{b}"),
        p => format!("{} {a}->{b}", p.as_str()),
    }
}

fn parse_kind_name(s: &str, set: Option<&Tree>) -> FResult<Kind> {
    Ok(match s {
        "i64" => Kind::I64,
        "u64" => Kind::U64,
        "res" => Kind::Res,
        "fd" => Kind::Fd,
        "str" => Kind::Str,
        "bytes" => Kind::Bytes,
        "list" => Kind::List,
        "mode" => Kind::Mode,
        "uid" => Kind::Uid,
        "gid" => Kind::Gid,
        "caps" => Kind::Caps,
        "addr" => Kind::Addr,
        "tuple" => Kind::Tuple,
        "signal" => Kind::Signal,
        "flags" => {
            let name = set
                .ok_or_else(|| FieldError::new("set", "a flags value needs 'set' (open, clone, mount, ...)"))
                .and_then(|t| as_str(t).map_err(|e| e.within("set")))?;
            Kind::Flags(symbols::flagset_from_name(name).ok_or_else(|| {
                FieldError::new("set", format!("unknown flag set '{name}'"))
            })?)
        }
        other => {
            return Err(FieldError::new(
                "type",
                format!("unknown value type '{other}' (expected none, i64, u64, res, fd, str, bytes, list, flags, mode, uid, gid, caps, addr, tuple or signal)"),
            ))
        }
    })
}

/// Parses a parameter value of kind `kind`.
pub fn parse_value(t: &Tree, kind: Kind) -> FResult<OwnedValue> {
    if let Tree::Null = t {
        return Ok(OwnedValue::None);
    }
    // Explicitly typed form.
    if let Tree::Map(m) = t {
        if m.iter().any(|(k, _)| k == "type") {
            for (k, _) in m {
                if !matches!(k.as_str(), "type" | "value" | "set") {
                    return Err(FieldError::new(
                        k.clone(),
                        "unknown key in a typed value (expected type, value, set)",
                    ));
                }
            }
            let ty = as_str(t.get("type").unwrap_or(&Tree::Null)).map_err(|e| e.within("type"))?;
            if ty == "none" {
                return Ok(OwnedValue::None);
            }
            let k = parse_kind_name(ty, t.get("set"))?;
            let v = t
                .get("value")
                .ok_or_else(|| FieldError::new("value", "a typed value needs 'value'"))?;
            return parse_value(v, k).map_err(|e| e.within("value"));
        }
    }
    Ok(match kind {
        Kind::I64 => OwnedValue::I64(as_i64(t)?),
        Kind::U64 => OwnedValue::U64(as_u64(t)?),
        Kind::ExeFlags => match t {
            Tree::Str(s) => OwnedValue::U64(
                symbols::parse_flags(s, symbols::EXE_FLAGS).map_err(|m| FieldError::new("", m))?,
            ),
            other => OwnedValue::U64(as_u64(other)?),
        },
        Kind::Res => match t {
            Tree::Str(s) => {
                let name = s.trim_start_matches('-');
                OwnedValue::Res(
                    -symbols::errno_from_name(name)
                        .ok_or_else(|| FieldError::new("", format!("unknown errno name '{s}'")))?,
                )
            }
            other => OwnedValue::Res(as_i64(other)?),
        },
        Kind::Fd => OwnedValue::Fd(as_i64(t)?),
        Kind::Str => OwnedValue::Str(as_str(t)?.to_string()),
        Kind::Bytes => match t {
            Tree::Str(s) => OwnedValue::Bytes(s.as_bytes().to_vec()),
            Tree::Map(_) => {
                let h = t.get("hex").ok_or_else(|| {
                    FieldError::new("", "bytes are a string or {\"hex\": \"...\"}")
                })?;
                OwnedValue::Bytes(
                    parse_hex(as_str(h).map_err(|e| e.within("hex"))?)
                        .map_err(|e| e.within("hex"))?,
                )
            }
            other => {
                return Err(FieldError::new(
                    "",
                    format!("expected a string, found {}", other.kind()),
                ))
            }
        },
        Kind::List => match t {
            Tree::Seq(items) => {
                let mut s = String::new();
                for (i, it) in items.iter().enumerate() {
                    let v = as_str(it).map_err(|e| e.within(&format!("[{i}]")))?;
                    if v.contains('\0') {
                        return Err(FieldError::new(
                            format!("[{i}]"),
                            "list entries cannot contain NUL",
                        ));
                    }
                    if i > 0 {
                        s.push('\0');
                    }
                    s.push_str(v);
                }
                OwnedValue::List(s)
            }
            Tree::Str(s) => OwnedValue::List(s.split_whitespace().collect::<Vec<_>>().join("\0")),
            other => {
                return Err(FieldError::new(
                    "",
                    format!("expected a list of strings, found {}", other.kind()),
                ))
            }
        },
        Kind::Flags(set) => match t {
            Tree::Str(s) => OwnedValue::Flags(
                symbols::parse_flags(s, symbols::flag_table(set))
                    .map_err(|m| FieldError::new("", m))?,
                set,
            ),
            other => OwnedValue::Flags(as_u64(other)?, set),
        },
        Kind::Mode => match t {
            Tree::Str(s) => {
                let v = symbols::parse_flags(s, symbols::flag_table(FlagSet::FileMode))
                    .map_err(|m| FieldError::new("", m))?;
                OwnedValue::Mode(
                    u32::try_from(v)
                        .map_err(|_| FieldError::new("", "mode does not fit 32 bits"))?,
                )
            }
            other => OwnedValue::Mode(as_u32(other)?),
        },
        Kind::Uid => OwnedValue::Uid(as_id(t)?),
        Kind::Gid => OwnedValue::Gid(as_id(t)?),
        Kind::Caps => match t {
            Tree::Str(s) => OwnedValue::Caps(parse_caps(s)?),
            other => OwnedValue::Caps(as_u64(other)?),
        },
        Kind::Addr => match t {
            Tree::Str(s) if s.starts_with('/') || s.starts_with('@') => {
                OwnedValue::Addr(OwnedAddr::Unix(s.clone()))
            }
            Tree::Str(s) => {
                let a = parse_sockaddr(s)?;
                OwnedValue::Addr(OwnedAddr::Inet {
                    ip: a.ip(),
                    port: a.port(),
                })
            }
            Tree::Map(m) => match m.as_slice() {
                [(k, v)] if k == "unix" => OwnedValue::Addr(OwnedAddr::Unix(
                    as_str(v).map_err(|e| e.within("unix"))?.to_string(),
                )),
                [(k, v)] if k == "family" => {
                    let f = as_u64(v).map_err(|e| e.within("family"))?;
                    OwnedValue::Addr(OwnedAddr::Other(
                        u16::try_from(f).map_err(|_| FieldError::new("family", "out of range"))?,
                    ))
                }
                _ => return Err(FieldError::new(
                    "",
                    "an address is \"ip:port\", a socket path, {\"unix\": PATH} or {\"family\": N}",
                )),
            },
            other => {
                return Err(FieldError::new(
                    "",
                    format!("expected an address string, found {}", other.kind()),
                ))
            }
        },
        Kind::Tuple => OwnedValue::Tuple(parse_tuple(as_str(t)?)?),
        Kind::Signal => match t {
            Tree::Str(s) => OwnedValue::Signal(
                symbols::signal_from_name(s)
                    .ok_or_else(|| FieldError::new("", format!("unknown signal '{s}'")))?,
            ),
            other => OwnedValue::Signal(as_u32(other)?),
        },
    })
}

fn parse_hex(s: &str) -> FResult<Vec<u8>> {
    let s: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    if s.len() % 2 == 1 {
        return Err(FieldError::new("", "odd number of hex digits"));
    }
    s.chunks(2)
        .map(|p| {
            let h = std::str::from_utf8(p)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok());
            h.ok_or_else(|| FieldError::new("", "invalid hex digit"))
        })
        .collect()
}

fn parse_caps(s: &str) -> FResult<u64> {
    let mut v = 0u64;
    for part in s.split('|').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some(n) = symbols::parse_uint(part) {
            v |= n;
        } else if let Some(i) = symbols::CAPABILITIES.iter().position(|c| *c == part) {
            v |= 1 << i;
        } else {
            return Err(FieldError::new("", format!("unknown capability '{part}'")));
        }
    }
    Ok(v)
}

fn parse_fd(t: &Tree, res: i64) -> FResult<OwnedFd> {
    let m = expect_map(t, "fd")?;
    let mut fd = OwnedFd {
        num: if res >= 0 { res } else { -1 },
        ..Default::default()
    };
    let mut kind = None;
    let mut nameraw = None;
    for (k, v) in m {
        let within = |e: FieldError| e.within(k);
        match k.as_str() {
            "num" => fd.num = as_i64(v).map_err(within)?,
            "type" => {
                let s = as_str(v).map_err(within)?;
                kind = Some(symbols::fdkind_from_name(s).ok_or_else(|| {
                    FieldError::new(k.clone(), format!("unknown descriptor type '{s}'"))
                })?);
            }
            "name" => fd.name = as_str(v).map_err(within)?.to_string(),
            "nameraw" => nameraw = Some(as_str(v).map_err(within)?.to_string()),
            "tuple" => fd.tuple = Some(parse_tuple(as_str(v).map_err(within)?).map_err(within)?),
            "dev" => fd.dev = as_u32(v).map_err(within)?,
            "ino" => fd.ino = as_u64(v).map_err(within)?,
            "upper" => fd.is_upper_layer = as_bool(v).map_err(within)?,
            other => {
                return Err(FieldError::new(
                    other,
                    "unknown key (expected num, type, name, nameraw, tuple, dev, ino, upper)",
                ))
            }
        }
    }
    fd.kind = kind.unwrap_or(match fd.tuple {
        Some(t) if t.src_ip.is_ipv6() => FdKind::Ipv6,
        Some(_) => FdKind::Ipv4,
        None => FdKind::File,
    });
    fd.nameraw = nameraw.unwrap_or_else(|| fd.name.clone());
    Ok(fd)
}

fn parse_event(m: &[(String, Tree)], ctx: &mut TextContext) -> FResult<OwnedEvent> {
    let mut etype = None;
    let mut ev = OwnedEvent {
        num: 0,
        ts: 0,
        etype: EventType(0),
        dir: Dir::Exit,
        cpu: 0,
        tid: 0,
        pid: 0,
        res: 0,
        params: Vec::new(),
        fd: None,
        latency: 0,
    };
    let (mut num, mut ts, mut tid, mut pid, mut res) = (None, None, None, None, None);
    let mut args = None;
    let mut fd = None;
    for (k, v) in m {
        let within = |e: FieldError| e.within(k);
        match k.as_str() {
            "event" => {
                let s = as_str(v).map_err(within)?;
                etype = Some(EventType::from_name(s).ok_or_else(|| {
                    FieldError::new("event", format!("unknown event type '{s}'"))
                })?);
            }
            "num" => num = Some(as_u64(v).map_err(within)?),
            "ts" => ts = Some(as_ts(v).map_err(within)?),
            "dir" => {
                ev.dir = match as_str(v).map_err(within)? {
                    "<" | "exit" => Dir::Exit,
                    ">" | "enter" => Dir::Enter,
                    s => {
                        return Err(FieldError::new(
                            "dir",
                            format!("'{s}' is not a direction (expected < or >)"),
                        ))
                    }
                }
            }
            "cpu" => {
                let c = as_u64(v).map_err(within)?;
                ev.cpu = u16::try_from(c).map_err(|_| FieldError::new("cpu", "out of range"))?;
            }
            "tid" => tid = Some(as_u32(v).map_err(within)?),
            "pid" => pid = Some(as_u32(v).map_err(within)?),
            "res" => res = Some(parse_value(v, Kind::Res).map_err(within)?),
            "latency" => ev.latency = as_u64(v).map_err(within)?,
            "args" => args = Some(v),
            "fd" => fd = Some(v),
            other => return Err(FieldError::new(
                other,
                "unknown key (expected event, num, ts, dir, cpu, tid, pid, res, latency, args, fd)",
            )),
        }
    }
    ev.etype = etype.ok_or_else(|| FieldError::new("event", "missing"))?;
    ev.pid = pid.ok_or_else(|| FieldError::new("pid", "missing"))?;
    ev.tid = tid.unwrap_or(ev.pid);
    let ename = ev.etype.name();
    if let Some(a) = args {
        let am = expect_map(a, "args").map_err(|e| e.within("args"))?;
        for (k, v) in am {
            let name = ParamName::from_name(k)
                .ok_or_else(|| FieldError::new(format!("args.{k}"), "unknown parameter name"))?;
            if ev.params.iter().any(|p| p.name == name) {
                return Err(FieldError::new(format!("args.{k}"), "duplicate parameter"));
            }
            let value = parse_value(v, symbols::param_kind(ename, name))
                .map_err(|e| e.within(k).within("args"))?;
            ev.params.push(OwnedParam { name, value });
        }
        if ev.params.len() > crate::binary::MAX_PARAMS {
            return Err(FieldError::new(
                "args",
                format!("more than {} parameters", crate::binary::MAX_PARAMS),
            ));
        }
    }
    // `res` sets the event's return value; a `res` parameter is only present if written in
    // `args` (then it also gives the return value when the top-level key is absent).
    let arg_res = ev.param(ParamName::Res).cloned();
    ev.res = match (&res, &arg_res) {
        (Some(OwnedValue::Res(r)), _) => *r,
        (_, Some(OwnedValue::Res(r))) => *r,
        (_, Some(OwnedValue::I64(r))) => *r,
        _ => 0,
    };
    if let Some(f) = fd {
        ev.fd = Some(parse_fd(f, ev.res).map_err(|e| e.within("fd"))?);
    }
    ev.num = num.unwrap_or(ctx.last_num + 1);
    ev.ts = match ts {
        Some(t) => t,
        None => ctx.last_ts.map_or(BASE_TS, |t| t + TS_STEP),
    };
    ctx.last_num = ev.num;
    ctx.last_ts = Some(ev.ts);
    ctx.events += 1;
    Ok(ev)
}

/// Deserializes a snapshot after checking its top-level keys against the type's fields, so a
/// misspelled field is an error rather than a silently defaulted one.
fn snapshot<T: serde::de::DeserializeOwned + serde::Serialize + Default>(
    t: &Tree,
    what: &str,
) -> FResult<T> {
    let m = expect_map(t, what)?;
    let known = serde_json::to_value(T::default()).unwrap_or(serde_json::Value::Null);
    if let serde_json::Value::Object(fields) = &known {
        for (k, _) in m {
            if !fields.contains_key(k) {
                let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
                names.sort_unstable();
                return Err(FieldError::new(
                    k.clone(),
                    format!("unknown {what} field (known: {})", names.join(", ")),
                ));
            }
        }
    }
    serde_json::from_value(t.to_json()).map_err(|e| FieldError::new("", format!("bad {what}: {e}")))
}

/// Interprets one record.
pub fn parse_record(t: &Tree, ctx: &mut TextContext) -> FResult<OwnedRecord> {
    if t.depth() > MAX_DEPTH {
        return Err(FieldError::new(
            "",
            format!("nesting deeper than {MAX_DEPTH}"),
        ));
    }
    let m = expect_map(t, "a record")?;
    if m.iter().any(|(k, _)| k == "event") {
        return parse_event(m, ctx).map(OwnedRecord::Event);
    }
    let [(k, v)] = m else {
        return Err(FieldError::new(
            "",
            "a record is an event ({\"event\": ...}) or has exactly one of the keys process, remove, container, users, host, end",
        ));
    };
    let within = |e: FieldError| e.within(k);
    Ok(match k.as_str() {
        "process" => {
            OwnedRecord::Process(Box::new(snapshot::<Process>(v, "process").map_err(within)?))
        }
        "remove" => OwnedRecord::RemoveProcess(as_u32(v).map_err(within)?),
        "container" => OwnedRecord::Container(Box::new(
            snapshot::<Container>(v, "container").map_err(within)?,
        )),
        "users" => OwnedRecord::Users(snapshot::<UserTable>(v, "users").map_err(within)?),
        "host" => OwnedRecord::Host(snapshot::<HostInfo>(v, "host").map_err(within)?),
        "end" => OwnedRecord::End(snapshot::<Stats>(v, "end").map_err(within)?),
        other => return Err(FieldError::new(
            other,
            "unknown record kind (expected event, process, remove, container, users, host, end)",
        )),
    })
}

/// Reads a JSON Lines capture, lending each record to a closure.
pub struct JsonlReader<R: BufRead> {
    src: R,
    origin: String,
    line_no: usize,
    line: Vec<u8>,
    ctx: TextContext,
    params: ParamBuf,
    ended: bool,
}

impl<R: BufRead> JsonlReader<R> {
    pub fn new(src: R, origin: impl Into<String>) -> Self {
        JsonlReader {
            src,
            origin: origin.into(),
            line_no: 0,
            line: Vec::new(),
            ctx: TextContext::default(),
            params: ParamBuf::new(),
            ended: false,
        }
    }

    fn err(&self, msg: impl Into<String>) -> CaptureError {
        CaptureError::Text {
            origin: self.origin.clone(),
            line: self.line_no,
            msg: msg.into(),
        }
    }

    /// Reads the next record and calls `f` with it; `Ok(None)` at the end of the input.
    pub fn next_record<T>(
        &mut self,
        f: impl FnOnce(Record<'_>) -> T,
    ) -> Result<Option<T>, CaptureError> {
        loop {
            self.line.clear();
            let n = std::io::Read::by_ref(&mut self.src)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut self.line)
                .map_err(|source| CaptureError::Io {
                    origin: self.origin.clone(),
                    source,
                })?;
            if n == 0 {
                return Ok(None);
            }
            self.line_no += 1;
            if self.line.len() > MAX_LINE {
                return Err(self.err(format!("line longer than {MAX_LINE} bytes")));
            }
            let text =
                std::str::from_utf8(&self.line).map_err(|e| self.err(format!("not UTF-8: {e}")))?;
            let text = text.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            if self.ended {
                return Err(self.err("record after the end record"));
            }
            let tree: Tree =
                serde_json::from_str(text).map_err(|e| self.err(format!("invalid JSON: {e}")))?;
            let rec = parse_record(&tree, &mut self.ctx).map_err(|e| self.err(e.to_string()))?;
            if let OwnedRecord::End(s) = &rec {
                if s.events != self.ctx.events {
                    return Err(self.err(format!(
                        "end record counts {} events but {} were read (records lost)",
                        s.events, self.ctx.events
                    )));
                }
                self.ended = true;
            }
            return Ok(Some(rec.with_record(&mut self.params, f)));
        }
    }
}

/// Parses a whole JSON Lines text into owned records (for tests and small fixtures).
pub fn parse_str(text: &str, origin: &str) -> Result<Vec<OwnedRecord>, CaptureError> {
    let mut r = JsonlReader::new(text.as_bytes(), origin);
    let mut out = Vec::new();
    while let Some(rec) = r.next_record(|r| OwnedRecord::from_record(&r))? {
        out.push(rec);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Writing

fn kind_of(v: &Value<'_>) -> Option<Kind> {
    Some(match v {
        Value::None => return None,
        Value::I64(_) => Kind::I64,
        Value::U64(_) => Kind::U64,
        Value::Res(_) => Kind::Res,
        Value::Fd(_) => Kind::Fd,
        Value::Str(_) => Kind::Str,
        Value::Bytes(_) => Kind::Bytes,
        Value::List(_) => Kind::List,
        Value::Flags(_, s) => Kind::Flags(*s),
        Value::Mode(_) => Kind::Mode,
        Value::Uid(_) => Kind::Uid,
        Value::Gid(_) => Kind::Gid,
        Value::Caps(_) => Kind::Caps,
        Value::Addr(_) => Kind::Addr,
        Value::Tuple(_) => Kind::Tuple,
        Value::Signal(_) => Kind::Signal,
    })
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::I64 => "i64",
        Kind::U64 | Kind::ExeFlags => "u64",
        Kind::Res => "res",
        Kind::Fd => "fd",
        Kind::Str => "str",
        Kind::Bytes => "bytes",
        Kind::List => "list",
        Kind::Flags(_) => "flags",
        Kind::Mode => "mode",
        Kind::Uid => "uid",
        Kind::Gid => "gid",
        Kind::Caps => "caps",
        Kind::Addr => "addr",
        Kind::Tuple => "tuple",
        Kind::Signal => "signal",
    }
}

/// The natural JSON form of `v` (as if its kind were `as_kind`).
fn value_json(v: &Value<'_>, as_kind: Kind) -> serde_json::Value {
    use serde_json::{json, Value as J};
    match *v {
        Value::None => J::Null,
        Value::I64(x) | Value::Res(x) | Value::Fd(x) => J::from(x),
        Value::U64(x) => {
            if as_kind == Kind::ExeFlags && x != 0 {
                if let Some(s) = symbols::format_flags(x, symbols::EXE_FLAGS, false) {
                    return J::String(s);
                }
            }
            J::from(x)
        }
        Value::Str(s) => J::String(s.to_string()),
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(s) => J::String(s.to_string()),
            Err(_) => json!({"hex": b.iter().map(|x| format!("{x:02x}")).collect::<String>()}),
        },
        Value::List(s) => {
            if s.is_empty() {
                J::Array(vec![])
            } else {
                J::Array(s.split('\0').map(|x| J::String(x.to_string())).collect())
            }
        }
        Value::Flags(x, set) => {
            match symbols::format_flags(x, symbols::flag_table(set), symbols::is_enumerated(set)) {
                Some(s) => J::String(s),
                None => J::from(x),
            }
        }
        Value::Mode(m) => J::String(format!("0{m:o}")),
        Value::Uid(x) | Value::Gid(x) => J::from(x),
        Value::Caps(x) => J::from(x),
        Value::Signal(x) => match symbols::SIGNALS.get(x as usize) {
            Some(n) if !n.is_empty() => J::String(n.to_string()),
            _ => J::from(x),
        },
        Value::Addr(a) => match a {
            vigil_event::SockAddr::Inet { ip, port } => {
                J::String(SocketAddr::new(ip, port).to_string())
            }
            vigil_event::SockAddr::Unix(p) if p.starts_with('/') || p.starts_with('@') => {
                J::String(p.to_string())
            }
            vigil_event::SockAddr::Unix(p) => json!({"unix": p}),
            vigil_event::SockAddr::Other(f) => json!({"family": f}),
        },
        Value::Tuple(t) => J::String(format_tuple(&t)),
    }
}

/// The JSON form of parameter `name` of event type `etype`: natural when the value has the
/// natural kind, typed (`{"type":...,"value":...}`) otherwise.
fn param_json(etype: &str, name: ParamName, v: &Value<'_>) -> serde_json::Value {
    let natural = symbols::param_kind(etype, name);
    match kind_of(v) {
        None => serde_json::Value::Null,
        Some(k) if k == natural || (natural == Kind::ExeFlags && k == Kind::U64) => {
            value_json(v, natural)
        }
        Some(k) => {
            let mut m = serde_json::Map::new();
            m.insert("type".into(), kind_name(k).into());
            if let Kind::Flags(set) = k {
                m.insert("set".into(), symbols::flagset_name(set).into());
            }
            m.insert("value".into(), value_json(v, k));
            serde_json::Value::Object(m)
        }
    }
}

fn push_json(out: &mut String, v: &impl serde::Serialize) {
    // Serializing strings, numbers and maps of them cannot fail.
    out.push_str(&serde_json::to_string(v).unwrap_or_else(|_| "null".into()));
}

/// Renders an event as one JSON line (no newline), with keys in a fixed order.
pub fn event_to_json(e: &Event<'_>) -> String {
    let mut s = String::with_capacity(256);
    let et = e.etype.name();
    s.push_str("{\"event\":");
    if e.etype.name() == "<unknown>" {
        // Not representable by name; a reader will reject it, as it should.
        push_json(&mut s, &format!("<unknown:{}>", e.etype.0));
    } else {
        push_json(&mut s, &et);
    }
    s.push_str(&format!(",\"num\":{},\"ts\":{}", e.num, e.ts));
    if e.dir == Dir::Enter {
        s.push_str(",\"dir\":\">\"");
    }
    if e.cpu != 0 {
        s.push_str(&format!(",\"cpu\":{}", e.cpu));
    }
    if e.tid != e.pid {
        s.push_str(&format!(",\"tid\":{}", e.tid));
    }
    s.push_str(&format!(",\"pid\":{},\"res\":{}", e.pid, e.res));
    if e.latency != 0 {
        s.push_str(&format!(",\"latency\":{}", e.latency));
    }
    let params = e.params;
    if !params.is_empty() {
        s.push_str(",\"args\":{");
        for (i, p) in params.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            push_json(&mut s, &p.name.as_str());
            s.push(':');
            push_json(&mut s, &param_json(et, p.name, &p.value));
        }
        s.push('}');
    }
    if let Some(fd) = &e.fd {
        s.push_str(",\"fd\":{");
        s.push_str(&format!("\"num\":{},\"type\":", fd.num));
        push_json(&mut s, &symbols::fdkind_name(fd.kind));
        s.push_str(",\"name\":");
        push_json(&mut s, &fd.name);
        if fd.nameraw != fd.name {
            s.push_str(",\"nameraw\":");
            push_json(&mut s, &fd.nameraw);
        }
        if let Some(t) = &fd.tuple {
            s.push_str(",\"tuple\":");
            push_json(&mut s, &format_tuple(t));
        }
        if fd.dev != 0 {
            s.push_str(&format!(",\"dev\":{}", fd.dev));
        }
        if fd.ino != 0 {
            s.push_str(&format!(",\"ino\":{}", fd.ino));
        }
        if fd.is_upper_layer {
            s.push_str(",\"upper\":true");
        }
        s.push('}');
    }
    s.push('}');
    s
}

/// Renders any record as one JSON line (no newline).
pub fn record_to_json(r: &Record<'_>) -> String {
    fn wrap(k: &str, v: &impl serde::Serialize) -> String {
        let mut s = format!("{{\"{k}\":");
        push_json(&mut s, v);
        s.push('}');
        s
    }
    match *r {
        Record::Event(e) => event_to_json(e),
        Record::Process(p) => wrap("process", p),
        Record::RemoveProcess(pid) => wrap("remove", &pid),
        Record::Container(c) => wrap("container", c),
        Record::Users(u) => wrap("users", u),
        Record::Host(h) => wrap("host", h),
        Record::End(s) => wrap("end", s),
    }
}

/// Writes records as JSON Lines.
pub struct JsonlWriter<W: Write> {
    w: std::io::BufWriter<W>,
    origin: String,
    events: u64,
}

impl<W: Write> JsonlWriter<W> {
    pub fn new(w: W, origin: impl Into<String>) -> Self {
        JsonlWriter {
            w: std::io::BufWriter::new(w),
            origin: origin.into(),
            events: 0,
        }
    }

    /// Writes one record (an `End` record gets `events` set to the number written).
    pub fn write_record(&mut self, r: &Record<'_>) -> Result<(), CaptureError> {
        let line = match *r {
            Record::End(s) => {
                let s = Stats {
                    events: self.events,
                    ..s.clone()
                };
                record_to_json(&Record::End(&s))
            }
            _ => record_to_json(r),
        };
        if let Record::Event(_) = r {
            self.events += 1;
        }
        let origin = &self.origin;
        writeln!(self.w, "{line}").map_err(|source| CaptureError::Io {
            origin: origin.clone(),
            source,
        })
    }

    /// Flushes and returns the inner writer.
    pub fn finish(self) -> Result<W, CaptureError> {
        let origin = self.origin;
        self.w.into_inner().map_err(|e| CaptureError::Io {
            origin,
            source: e.into_error(),
        })
    }
}
