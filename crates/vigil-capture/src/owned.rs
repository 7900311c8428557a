//! Owned events: an event that outlives the buffer it was decoded from.
//!
//! The engine consumes borrowed [`Event`]s. Text fixtures and test cases are parsed once into
//! [`OwnedEvent`]s, which lend an `Event` on demand ([`OwnedEvent::with_event`]); the slice of
//! borrowed [`Param`]s is built in a [`ParamBuf`] that is reused from event to event, so lending
//! allocates nothing once the buffer has grown. The alternative, storing `Event<'static>` with
//! leaked strings, was rejected: it leaks for every fixture loaded.

use std::net::IpAddr;
use vigil_event::{
    Dir, Event, EventType, FdInfo, FdKind, FlagSet, Param, ParamName, SockAddr, SockTuple, Value,
};

/// An owned [`SockAddr`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedAddr {
    Inet { ip: IpAddr, port: u16 },
    Unix(String),
    Other(u16),
}

impl OwnedAddr {
    pub fn from_addr(a: &SockAddr<'_>) -> Self {
        match *a {
            SockAddr::Inet { ip, port } => OwnedAddr::Inet { ip, port },
            SockAddr::Unix(p) => OwnedAddr::Unix(p.to_string()),
            SockAddr::Other(f) => OwnedAddr::Other(f),
        }
    }

    pub fn as_addr(&self) -> SockAddr<'_> {
        match self {
            OwnedAddr::Inet { ip, port } => SockAddr::Inet {
                ip: *ip,
                port: *port,
            },
            OwnedAddr::Unix(p) => SockAddr::Unix(p),
            OwnedAddr::Other(f) => SockAddr::Other(*f),
        }
    }
}

/// An owned [`Value`].
#[derive(Clone, Debug, PartialEq)]
pub enum OwnedValue {
    None,
    I64(i64),
    U64(u64),
    Res(i64),
    Fd(i64),
    Str(String),
    Bytes(Vec<u8>),
    /// NUL-separated entries, as in [`Value::List`].
    List(String),
    Flags(u64, FlagSet),
    Mode(u32),
    Uid(u32),
    Gid(u32),
    Caps(u64),
    Addr(OwnedAddr),
    Tuple(SockTuple),
    Signal(u32),
}

impl OwnedValue {
    pub fn from_value(v: &Value<'_>) -> Self {
        match *v {
            Value::None => OwnedValue::None,
            Value::I64(x) => OwnedValue::I64(x),
            Value::U64(x) => OwnedValue::U64(x),
            Value::Res(x) => OwnedValue::Res(x),
            Value::Fd(x) => OwnedValue::Fd(x),
            Value::Str(s) => OwnedValue::Str(s.to_string()),
            Value::Bytes(b) => OwnedValue::Bytes(b.to_vec()),
            Value::List(s) => OwnedValue::List(s.to_string()),
            Value::Flags(x, set) => OwnedValue::Flags(x, set),
            Value::Mode(x) => OwnedValue::Mode(x),
            Value::Uid(x) => OwnedValue::Uid(x),
            Value::Gid(x) => OwnedValue::Gid(x),
            Value::Caps(x) => OwnedValue::Caps(x),
            Value::Addr(a) => OwnedValue::Addr(OwnedAddr::from_addr(&a)),
            Value::Tuple(t) => OwnedValue::Tuple(t),
            Value::Signal(x) => OwnedValue::Signal(x),
        }
    }

    pub fn as_value(&self) -> Value<'_> {
        match self {
            OwnedValue::None => Value::None,
            OwnedValue::I64(x) => Value::I64(*x),
            OwnedValue::U64(x) => Value::U64(*x),
            OwnedValue::Res(x) => Value::Res(*x),
            OwnedValue::Fd(x) => Value::Fd(*x),
            OwnedValue::Str(s) => Value::Str(s),
            OwnedValue::Bytes(b) => Value::Bytes(b),
            OwnedValue::List(s) => Value::List(s),
            OwnedValue::Flags(x, set) => Value::Flags(*x, *set),
            OwnedValue::Mode(x) => Value::Mode(*x),
            OwnedValue::Uid(x) => Value::Uid(*x),
            OwnedValue::Gid(x) => Value::Gid(*x),
            OwnedValue::Caps(x) => Value::Caps(*x),
            OwnedValue::Addr(a) => Value::Addr(a.as_addr()),
            OwnedValue::Tuple(t) => Value::Tuple(*t),
            OwnedValue::Signal(x) => Value::Signal(*x),
        }
    }
}

/// An owned [`Param`].
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedParam {
    pub name: ParamName,
    pub value: OwnedValue,
}

/// An owned [`FdInfo`].
#[derive(Clone, Debug, PartialEq, Default)]
pub struct OwnedFd {
    pub num: i64,
    pub kind: FdKind,
    pub name: String,
    pub nameraw: String,
    pub tuple: Option<SockTuple>,
    pub dev: u32,
    pub ino: u64,
    pub is_upper_layer: bool,
}

impl OwnedFd {
    pub fn from_fd(f: &FdInfo<'_>) -> Self {
        OwnedFd {
            num: f.num,
            kind: f.kind,
            name: f.name.to_string(),
            nameraw: f.nameraw.to_string(),
            tuple: f.tuple,
            dev: f.dev,
            ino: f.ino,
            is_upper_layer: f.is_upper_layer,
        }
    }

    pub fn as_fd(&self) -> FdInfo<'_> {
        FdInfo {
            num: self.num,
            kind: self.kind,
            name: &self.name,
            nameraw: &self.nameraw,
            tuple: self.tuple,
            dev: self.dev,
            ino: self.ino,
            is_upper_layer: self.is_upper_layer,
        }
    }
}

/// An event that owns its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedEvent {
    pub num: u64,
    pub ts: u64,
    pub etype: EventType,
    pub dir: Dir,
    pub cpu: u16,
    pub tid: u32,
    pub pid: u32,
    pub res: i64,
    pub params: Vec<OwnedParam>,
    pub fd: Option<OwnedFd>,
    pub latency: u64,
}

impl OwnedEvent {
    /// Copies a borrowed event.
    pub fn from_event(e: &Event<'_>) -> Self {
        OwnedEvent {
            num: e.num,
            ts: e.ts,
            etype: e.etype,
            dir: e.dir,
            cpu: e.cpu,
            tid: e.tid,
            pid: e.pid,
            res: e.res,
            params: e
                .params
                .iter()
                .map(|p| OwnedParam {
                    name: p.name,
                    value: OwnedValue::from_value(&p.value),
                })
                .collect(),
            fd: e.fd.as_ref().map(OwnedFd::from_fd),
            latency: e.latency,
        }
    }

    /// The value of a parameter.
    pub fn param(&self, name: ParamName) -> Option<&OwnedValue> {
        self.params
            .iter()
            .find(|p| p.name == name)
            .map(|p| &p.value)
    }

    /// Lends this event as a borrowed [`Event`] to `f`; `buf` holds the parameter slice and is
    /// reused across calls.
    pub fn with_event<R>(&self, buf: &mut ParamBuf, f: impl FnOnce(&Event<'_>) -> R) -> R {
        let mut params = buf.take();
        params.extend(
            self.params
                .iter()
                .map(|p| Param::new(p.name, p.value.as_value())),
        );
        let ev = Event {
            num: self.num,
            ts: self.ts,
            etype: self.etype,
            dir: self.dir,
            cpu: self.cpu,
            tid: self.tid,
            pid: self.pid,
            res: self.res,
            params: &params,
            fd: self.fd.as_ref().map(OwnedFd::as_fd),
            latency: self.latency,
        };
        let r = f(&ev);
        buf.give_back(params);
        r
    }
}

/// A reusable allocation for the parameter slice of a lent event.
///
/// `Vec<Param<'a>>` cannot be kept across events whose borrows differ, so the buffer is
/// stored emptied at the `'static` lifetime and re-lent: taking is a covariant coercion, giving
/// back collects the emptied vector in place (same layout, so the allocation is kept).
#[derive(Debug, Default)]
pub struct ParamBuf {
    v: Vec<Param<'static>>,
}

impl ParamBuf {
    pub fn new() -> Self {
        ParamBuf::default()
    }

    /// An empty vector with the retained capacity.
    pub fn take<'a>(&mut self) -> Vec<Param<'a>> {
        std::mem::take(&mut self.v)
    }

    /// Returns a vector for reuse; its contents are dropped.
    pub fn give_back(&mut self, mut v: Vec<Param<'_>>) {
        v.clear();
        self.v = v
            .into_iter()
            .map(|_| Param::new(ParamName::Res, Value::None))
            .collect();
    }

    /// Capacity currently retained (for tests of allocation reuse).
    pub fn capacity(&self) -> usize {
        self.v.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_buffer_reuse() {
        let ev = OwnedEvent {
            num: 7,
            ts: 11,
            etype: EventType::from_name("openat").unwrap(),
            dir: Dir::Exit,
            cpu: 1,
            tid: 5,
            pid: 5,
            res: 3,
            params: vec![
                OwnedParam {
                    name: ParamName::Fd,
                    value: OwnedValue::Fd(3),
                },
                OwnedParam {
                    name: ParamName::Name,
                    value: OwnedValue::Str("/etc/shadow".into()),
                },
            ],
            fd: Some(OwnedFd {
                num: 3,
                kind: FdKind::File,
                name: "/etc/shadow".into(),
                ..Default::default()
            }),
            latency: 0,
        };
        let mut buf = ParamBuf::new();
        let back = ev.with_event(&mut buf, |e| {
            assert_eq!(e.param(ParamName::Name), Some(&Value::Str("/etc/shadow")));
            OwnedEvent::from_event(e)
        });
        assert_eq!(back, ev);
        let cap = buf.capacity();
        assert!(cap >= 2, "the parameter buffer keeps its allocation");
        ev.with_event(&mut buf, |_| ());
        assert_eq!(buf.capacity(), cap);
    }
}
