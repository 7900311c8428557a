//! The binary capture format: what a live `vigil capture` writes and `vigil replay` reads.
//!
//! Layout (all integers little-endian; full description in `docs/capture-format.md`):
//!
//! ```text
//! header  = magic "\x89VIGIL\r\n" (8) | version u16 | flags u16 | reserved u32
//! record  = type u8 | length u32 | payload[length] | crc32 u32 (over type, length, payload)
//! ```
//!
//! Event payloads are varint-encoded (LEB128, zigzag for signed values; `ts` and `num` as
//! deltas from the previous event), parameter names are indices into a names record written
//! once at the start, and strings are borrowed straight out of the frame buffer when read, so
//! the read path decodes into reused buffers and allocates nothing per event. Snapshots
//! (processes, containers, users, host, end statistics) are rare and carry serde JSON inside
//! the frame: new fields then stay readable by older readers, which matters more for them than
//! a few bytes. A self-describing event encoding (CBOR, protobuf) was rejected: it costs a tag
//! per field per event and a dependency, and gives nothing a versioned header does not.

use crate::error::CaptureError;
use crate::owned::ParamBuf;
use crate::record::{HostInfo, Record, Stats, UserTable};
use crate::symbols;
use std::io::{BufWriter, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vigil_event::{
    Container, Dir, Event, EventType, FdInfo, Param, ParamName, Process, SockAddr, SockTuple, Value,
};

/// The first eight bytes of every binary capture.
pub const MAGIC: [u8; 8] = *b"\x89VIGIL\r\n";
/// The format version this crate writes and reads.
pub const VERSION: u16 = 1;
/// Size of the file header.
pub const HEADER_LEN: usize = 16;
/// Largest record payload a reader accepts (a whole kernel module image fits).
pub const MAX_RECORD: u32 = 16 << 20;
/// Most parameters one event may carry.
pub const MAX_PARAMS: usize = 64;

/// Record types.
pub mod rtype {
    pub const NAMES: u8 = 1;
    pub const HOST: u8 = 2;
    pub const EVENT: u8 = 3;
    pub const PROCESS: u8 = 4;
    pub const REMOVE_PROCESS: u8 = 5;
    pub const CONTAINER: u8 = 6;
    pub const USERS: u8 = 7;
    pub const END: u8 = 8;
}

/// Value tags inside event payloads.
mod vtag {
    pub const NONE: u8 = 0;
    pub const I64: u8 = 1;
    pub const U64: u8 = 2;
    pub const RES: u8 = 3;
    pub const FD: u8 = 4;
    pub const STR: u8 = 5;
    pub const BYTES: u8 = 6;
    pub const LIST: u8 = 7;
    pub const FLAGS: u8 = 8;
    pub const MODE: u8 = 9;
    pub const UID: u8 = 10;
    pub const GID: u8 = 11;
    pub const CAPS: u8 = 12;
    pub const ADDR: u8 = 13;
    pub const TUPLE: u8 = 14;
    pub const SIGNAL: u8 = 15;
}

// ---------------------------------------------------------------------------------------------
// Encoding helpers

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_ivarint(buf: &mut Vec<u8>, v: i64) {
    put_varint(buf, zigzag(v));
}

fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    put_varint(buf, b.len() as u64);
    buf.extend_from_slice(b);
}

fn put_ip(buf: &mut Vec<u8>, ip: &IpAddr) {
    match ip {
        IpAddr::V4(a) => {
            buf.push(4);
            buf.extend_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            buf.push(6);
            buf.extend_from_slice(&a.octets());
        }
    }
}

fn put_tuple(buf: &mut Vec<u8>, t: &SockTuple) {
    buf.push(symbols::l4_code(t.proto));
    put_ip(buf, &t.src_ip);
    buf.extend_from_slice(&t.src_port.to_le_bytes());
    put_ip(buf, &t.dst_ip);
    buf.extend_from_slice(&t.dst_port.to_le_bytes());
}

fn put_value(buf: &mut Vec<u8>, v: &Value<'_>) {
    match *v {
        Value::None => buf.push(vtag::NONE),
        Value::I64(x) => {
            buf.push(vtag::I64);
            put_ivarint(buf, x);
        }
        Value::U64(x) => {
            buf.push(vtag::U64);
            put_varint(buf, x);
        }
        Value::Res(x) => {
            buf.push(vtag::RES);
            put_ivarint(buf, x);
        }
        Value::Fd(x) => {
            buf.push(vtag::FD);
            put_ivarint(buf, x);
        }
        Value::Str(s) => {
            buf.push(vtag::STR);
            put_bytes(buf, s.as_bytes());
        }
        Value::Bytes(b) => {
            buf.push(vtag::BYTES);
            put_bytes(buf, b);
        }
        Value::List(s) => {
            buf.push(vtag::LIST);
            put_bytes(buf, s.as_bytes());
        }
        Value::Flags(x, set) => {
            buf.push(vtag::FLAGS);
            buf.push(symbols::flagset_code(set));
            put_varint(buf, x);
        }
        Value::Mode(x) => {
            buf.push(vtag::MODE);
            put_varint(buf, x.into());
        }
        Value::Uid(x) => {
            buf.push(vtag::UID);
            put_varint(buf, x.into());
        }
        Value::Gid(x) => {
            buf.push(vtag::GID);
            put_varint(buf, x.into());
        }
        Value::Caps(x) => {
            buf.push(vtag::CAPS);
            put_varint(buf, x);
        }
        Value::Addr(a) => {
            buf.push(vtag::ADDR);
            match a {
                SockAddr::Inet { ip, port } => {
                    buf.push(0);
                    put_ip(buf, &ip);
                    buf.extend_from_slice(&port.to_le_bytes());
                }
                SockAddr::Unix(p) => {
                    buf.push(1);
                    put_bytes(buf, p.as_bytes());
                }
                SockAddr::Other(f) => {
                    buf.push(2);
                    buf.extend_from_slice(&f.to_le_bytes());
                }
            }
        }
        Value::Tuple(t) => {
            buf.push(vtag::TUPLE);
            put_tuple(buf, &t);
        }
        Value::Signal(x) => {
            buf.push(vtag::SIGNAL);
            put_varint(buf, x.into());
        }
    }
}

/// Appends the payload of an event record. `prev` holds the previous event's `(num, ts)`.
fn encode_event(buf: &mut Vec<u8>, e: &Event<'_>, prev: &mut (u64, u64)) {
    put_varint(buf, e.etype.0.into());
    let mut flags = 0u8;
    if e.dir == Dir::Enter {
        flags |= 1;
    }
    if e.fd.is_some() {
        flags |= 2;
    }
    buf.push(flags);
    put_ivarint(buf, e.num.wrapping_sub(prev.0) as i64);
    put_ivarint(buf, e.ts.wrapping_sub(prev.1) as i64);
    *prev = (e.num, e.ts);
    put_varint(buf, e.cpu.into());
    put_varint(buf, e.tid.into());
    put_varint(buf, e.pid.into());
    put_ivarint(buf, e.res);
    put_varint(buf, e.latency);
    put_varint(buf, e.params.len() as u64);
    for p in e.params {
        put_varint(buf, p.name as u64);
        put_value(buf, &p.value);
    }
    if let Some(fd) = &e.fd {
        put_ivarint(buf, fd.num);
        buf.push(symbols::fdkind_code(fd.kind));
        put_bytes(buf, fd.name.as_bytes());
        put_bytes(buf, fd.nameraw.as_bytes());
        match &fd.tuple {
            Some(t) => {
                buf.push(1);
                put_tuple(buf, t);
            }
            None => buf.push(0),
        }
        put_varint(buf, fd.dev.into());
        put_varint(buf, fd.ino);
        buf.push(fd.is_upper_layer as u8);
    }
}

// ---------------------------------------------------------------------------------------------
// Writer

/// Writes a binary capture through a buffered writer.
///
/// The header, the parameter-names record and the host record are written by [`new`]; call
/// [`finish`] to write the end record and flush (a capture without one is reported as
/// truncated by readers).
///
/// [`new`]: BinaryWriter::new
/// [`finish`]: BinaryWriter::finish
pub struct BinaryWriter<W: Write> {
    w: BufWriter<W>,
    origin: String,
    payload: Vec<u8>,
    prev: (u64, u64),
    events: u64,
}

impl<W: Write> BinaryWriter<W> {
    /// Starts a capture on `w`; `origin` names the destination in errors.
    pub fn new(w: W, origin: impl Into<String>, host: &HostInfo) -> Result<Self, CaptureError> {
        let mut me = BinaryWriter {
            w: BufWriter::with_capacity(256 << 10, w),
            origin: origin.into(),
            payload: Vec::with_capacity(4096),
            prev: (0, 0),
            events: 0,
        };
        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(&MAGIC);
        header[8..10].copy_from_slice(&VERSION.to_le_bytes());
        me.io(|w| w.write_all(&header))?;
        me.payload.clear();
        put_varint(&mut me.payload, ParamName::ALL.len() as u64);
        for n in ParamName::ALL {
            put_bytes(&mut me.payload, n.as_str().as_bytes());
        }
        me.frame(rtype::NAMES)?;
        me.write_json(rtype::HOST, host)?;
        Ok(me)
    }

    fn io(
        &mut self,
        f: impl FnOnce(&mut BufWriter<W>) -> std::io::Result<()>,
    ) -> Result<(), CaptureError> {
        f(&mut self.w).map_err(|source| CaptureError::Io {
            origin: self.origin.clone(),
            source,
        })
    }

    fn frame(&mut self, rt: u8) -> Result<(), CaptureError> {
        let len = u32::try_from(self.payload.len())
            .ok()
            .filter(|l| *l <= MAX_RECORD)
            .ok_or_else(|| CaptureError::Io {
                origin: self.origin.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "record of {} bytes exceeds the {MAX_RECORD}-byte limit",
                        self.payload.len()
                    ),
                ),
            })?;
        let mut head = [0u8; 5];
        head[0] = rt;
        head[1..].copy_from_slice(&len.to_le_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&head);
        crc.update(&self.payload);
        let sum = crc.finalize().to_le_bytes();
        let payload = std::mem::take(&mut self.payload);
        let r = self.io(|w| {
            w.write_all(&head)?;
            w.write_all(&payload)?;
            w.write_all(&sum)
        });
        self.payload = payload;
        r
    }

    fn write_json<T: serde::Serialize>(&mut self, rt: u8, v: &T) -> Result<(), CaptureError> {
        self.payload.clear();
        let mut payload = std::mem::take(&mut self.payload);
        let r = serde_json::to_writer(&mut payload, v);
        self.payload = payload;
        r.map_err(|e| CaptureError::Io {
            origin: self.origin.clone(),
            source: std::io::Error::other(e),
        })?;
        self.frame(rt)
    }

    /// Appends one event.
    pub fn write_event(&mut self, e: &Event<'_>) -> Result<(), CaptureError> {
        self.payload.clear();
        encode_event(&mut self.payload, e, &mut self.prev);
        self.frame(rtype::EVENT)?;
        self.events += 1;
        Ok(())
    }

    /// Appends a process snapshot.
    pub fn write_process(&mut self, p: &Process) -> Result<(), CaptureError> {
        self.write_json(rtype::PROCESS, p)
    }

    /// Records that a process is gone without a `procexit` event.
    pub fn write_remove_process(&mut self, pid: u32) -> Result<(), CaptureError> {
        self.payload.clear();
        put_varint(&mut self.payload, pid.into());
        self.frame(rtype::REMOVE_PROCESS)
    }

    /// Appends a container record.
    pub fn write_container(&mut self, c: &Container) -> Result<(), CaptureError> {
        self.write_json(rtype::CONTAINER, c)
    }

    /// Appends a user table.
    pub fn write_users(&mut self, u: &UserTable) -> Result<(), CaptureError> {
        self.write_json(rtype::USERS, u)
    }

    /// Appends any record except `Host` (written once by `new`) and `End` (see `finish`).
    pub fn write_record(&mut self, r: &Record<'_>) -> Result<(), CaptureError> {
        match *r {
            Record::Event(e) => self.write_event(e),
            Record::Process(p) => self.write_process(p),
            Record::RemoveProcess(pid) => self.write_remove_process(pid),
            Record::Container(c) => self.write_container(c),
            Record::Users(u) => self.write_users(u),
            Record::Host(h) => self.write_json(rtype::HOST, h),
            Record::End(_) => Ok(()),
        }
    }

    /// Events written so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Writes the end record (with `events` set to the number written) and flushes.
    pub fn finish(mut self, mut stats: Stats) -> Result<W, CaptureError> {
        stats.events = self.events;
        self.write_json(rtype::END, &stats)?;
        let origin = self.origin.clone();
        self.w.into_inner().map_err(|e| CaptureError::Io {
            origin,
            source: e.into_error(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Reader

/// A cursor over one record payload; errors are messages, positioned by the caller.
struct Cur<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cur<'a> {
    fn u8(&mut self) -> Result<u8, String> {
        let v = *self.b.get(self.pos).ok_or("record ends inside a value")?;
        self.pos += 1;
        Ok(v)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.b.len())
            .ok_or_else(|| format!("length {n} runs past the end of the record"))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            if shift == 63 && byte > 1 {
                return Err("varint overflows 64 bits".into());
            }
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    fn ivarint(&mut self) -> Result<i64, String> {
        self.varint().map(unzigzag)
    }

    fn u32v(&mut self, what: &str) -> Result<u32, String> {
        let v = self.varint()?;
        u32::try_from(v).map_err(|_| format!("{what} {v} does not fit 32 bits"))
    }

    fn u16le(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| "length overflows".to_string())?;
        self.take(n)
    }

    fn str(&mut self, what: &str) -> Result<&'a str, String> {
        let pos = self.pos;
        let b = self.bytes()?;
        std::str::from_utf8(b)
            .map_err(|e| format!("{what} at payload byte {pos} is not UTF-8: {e}"))
    }

    fn ip(&mut self) -> Result<IpAddr, String> {
        match self.u8()? {
            4 => {
                let b = self.take(4)?;
                Ok(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])))
            }
            6 => {
                let b = self.take(16)?;
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                Ok(IpAddr::V6(Ipv6Addr::from(a)))
            }
            f => Err(format!("unknown address family code {f}")),
        }
    }

    fn tuple(&mut self) -> Result<SockTuple, String> {
        let p = self.u8()?;
        let proto = symbols::l4_from_code(p).ok_or_else(|| format!("unknown protocol code {p}"))?;
        let src_ip = self.ip()?;
        let src_port = self.u16le()?;
        let dst_ip = self.ip()?;
        let dst_port = self.u16le()?;
        Ok(SockTuple {
            proto,
            src_ip,
            src_port,
            dst_ip,
            dst_port,
        })
    }

    fn value(&mut self) -> Result<Value<'a>, String> {
        let tag = self.u8()?;
        Ok(match tag {
            vtag::NONE => Value::None,
            vtag::I64 => Value::I64(self.ivarint()?),
            vtag::U64 => Value::U64(self.varint()?),
            vtag::RES => Value::Res(self.ivarint()?),
            vtag::FD => Value::Fd(self.ivarint()?),
            vtag::STR => Value::Str(self.str("string")?),
            vtag::BYTES => Value::Bytes(self.bytes()?),
            vtag::LIST => Value::List(self.str("list")?),
            vtag::FLAGS => {
                let c = self.u8()?;
                let set = symbols::flagset_from_code(c)
                    .ok_or_else(|| format!("unknown flag set code {c}"))?;
                Value::Flags(self.varint()?, set)
            }
            vtag::MODE => Value::Mode(self.u32v("mode")?),
            vtag::UID => Value::Uid(self.u32v("uid")?),
            vtag::GID => Value::Gid(self.u32v("gid")?),
            vtag::CAPS => Value::Caps(self.varint()?),
            vtag::ADDR => match self.u8()? {
                0 => {
                    let ip = self.ip()?;
                    let port = self.u16le()?;
                    Value::Addr(SockAddr::Inet { ip, port })
                }
                1 => Value::Addr(SockAddr::Unix(self.str("unix socket path")?)),
                2 => Value::Addr(SockAddr::Other(self.u16le()?)),
                k => return Err(format!("unknown address kind {k}")),
            },
            vtag::TUPLE => Value::Tuple(self.tuple()?),
            vtag::SIGNAL => Value::Signal(self.u32v("signal")?),
            t => return Err(format!("unknown value tag {t}")),
        })
    }
}

/// Reads a binary capture, lending each record to a closure.
///
/// Frames are read into one reused buffer and events are decoded in place (strings borrow the
/// frame), so reading allocates nothing per event once the buffers have grown.
pub struct BinaryReader<R: Read> {
    src: R,
    origin: String,
    /// Byte offset of the next frame.
    offset: u64,
    frame: Vec<u8>,
    names: Vec<Option<ParamName>>,
    have_names: bool,
    params: ParamBuf,
    prev: (u64, u64),
    events: u64,
    ended: bool,
    version: u16,
}

impl<R: Read> BinaryReader<R> {
    /// Reads and checks the header. `origin` names the source in errors.
    pub fn new(mut src: R, origin: impl Into<String>) -> Result<Self, CaptureError> {
        let origin = origin.into();
        let mut header = [0u8; HEADER_LEN];
        let got = read_full(&mut src, &mut header).map_err(|source| CaptureError::Io {
            origin: origin.clone(),
            source,
        })?;
        let bin = |offset: u64, msg: String| CaptureError::Binary {
            origin: origin.clone(),
            offset,
            msg,
        };
        if got < MAGIC.len() || header[..8] != MAGIC {
            return Err(bin(0, "not a vigil binary capture (bad magic)".into()));
        }
        if got < HEADER_LEN {
            return Err(bin(
                got as u64,
                format!("truncated header: {got} of {HEADER_LEN} bytes"),
            ));
        }
        let version = u16::from_le_bytes([header[8], header[9]]);
        if version != VERSION {
            return Err(bin(
                8,
                format!("unsupported format version {version} (this vigil reads {VERSION})"),
            ));
        }
        let flags = u16::from_le_bytes([header[10], header[11]]);
        if flags != 0 {
            return Err(bin(10, format!("unknown header flags {flags:#x}")));
        }
        Ok(BinaryReader {
            src,
            origin,
            offset: HEADER_LEN as u64,
            frame: Vec::with_capacity(4096),
            names: Vec::new(),
            have_names: false,
            params: ParamBuf::new(),
            prev: (0, 0),
            events: 0,
            ended: false,
            version,
        })
    }

    /// Format version of the file.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// Byte offset of the next record.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Event records read so far.
    pub fn events_read(&self) -> u64 {
        self.events
    }

    fn err(&self, offset: u64, msg: impl Into<String>) -> CaptureError {
        CaptureError::Binary {
            origin: self.origin.clone(),
            offset,
            msg: msg.into(),
        }
    }

    fn io_err(&self, source: std::io::Error) -> CaptureError {
        CaptureError::Io {
            origin: self.origin.clone(),
            source,
        }
    }

    /// Reads the next record and calls `f` with it. Returns `Ok(None)` after the end record at
    /// the end of the file. The names record is consumed internally (never lent).
    pub fn next_record<T>(
        &mut self,
        f: impl FnOnce(Record<'_>) -> T,
    ) -> Result<Option<T>, CaptureError> {
        loop {
            let start = self.offset;
            let mut head = [0u8; 5];
            let got = read_full(&mut self.src, &mut head).map_err(|e| self.io_err(e))?;
            if got == 0 {
                if self.ended {
                    return Ok(None);
                }
                return Err(self.err(
                    start,
                    "capture ends without an end record (file truncated?)",
                ));
            }
            if got < head.len() {
                return Err(self.err(start, format!("truncated record header: {got} of 5 bytes")));
            }
            if self.ended {
                return Err(self.err(start, "data after the end record"));
            }
            let rt = head[0];
            let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
            if len > MAX_RECORD {
                return Err(self.err(
                    start,
                    format!(
                        "record length {len} exceeds the {MAX_RECORD}-byte limit (corrupt file?)"
                    ),
                ));
            }
            let total = len as usize + 4;
            self.frame.clear();
            self.frame.resize(total, 0);
            let got = read_full(&mut self.src, &mut self.frame).map_err(|e| self.io_err(e))?;
            if got < total {
                return Err(self.err(
                    start,
                    format!(
                        "truncated record: type {rt} declares {len} payload bytes, only {got} of \
                         {total} bytes (payload and checksum) are present"
                    ),
                ));
            }
            let (payload, sum) = self.frame.split_at(len as usize);
            let mut crc = crc32fast::Hasher::new();
            crc.update(&head);
            crc.update(payload);
            let want = u32::from_le_bytes([sum[0], sum[1], sum[2], sum[3]]);
            if crc.finalize() != want {
                return Err(self.err(
                    start,
                    format!("checksum mismatch in record of type {rt} (corrupt file)"),
                ));
            }
            self.offset = start + 5 + total as u64;
            let payload_at = start + 5;
            match rt {
                rtype::NAMES => {
                    self.read_names(payload_at)?;
                    continue;
                }
                rtype::EVENT => {
                    if !self.have_names {
                        return Err(
                            self.err(start, "event record before the parameter-names record")
                        );
                    }
                    let BinaryReader {
                        frame,
                        names,
                        params,
                        prev,
                        ..
                    } = self;
                    let payload = &frame[..len as usize];
                    let mut buf = params.take();
                    let decoded = decode_event(payload, names, &mut buf, prev);
                    let r = match decoded {
                        Ok(ev) => {
                            let ev = Event { params: &buf, ..ev };
                            Ok(f(Record::Event(&ev)))
                        }
                        Err((pos, msg)) => Err((pos, msg)),
                    };
                    params.give_back(buf);
                    return match r {
                        Ok(v) => {
                            self.events += 1;
                            Ok(Some(v))
                        }
                        Err((pos, msg)) => {
                            Err(self
                                .err(payload_at + pos as u64, format!("bad event record: {msg}")))
                        }
                    };
                }
                rtype::REMOVE_PROCESS => {
                    let mut c = Cur {
                        b: &self.frame[..len as usize],
                        pos: 0,
                    };
                    let pid = c.u32v("pid").map_err(|m| {
                        self.err(payload_at, format!("bad process-removal record: {m}"))
                    })?;
                    return Ok(Some(f(Record::RemoveProcess(pid))));
                }
                rtype::HOST => {
                    let h: HostInfo = self.json(payload_at, len, "host")?;
                    return Ok(Some(f(Record::Host(&h))));
                }
                rtype::PROCESS => {
                    let p: Process = self.json(payload_at, len, "process")?;
                    return Ok(Some(f(Record::Process(&p))));
                }
                rtype::CONTAINER => {
                    let c: Container = self.json(payload_at, len, "container")?;
                    return Ok(Some(f(Record::Container(&c))));
                }
                rtype::USERS => {
                    let u: UserTable = self.json(payload_at, len, "users")?;
                    return Ok(Some(f(Record::Users(&u))));
                }
                rtype::END => {
                    let s: Stats = self.json(payload_at, len, "end")?;
                    if s.events != self.events {
                        return Err(self.err(
                            start,
                            format!(
                                "end record counts {} events but {} were read (records lost)",
                                s.events, self.events
                            ),
                        ));
                    }
                    self.ended = true;
                    return Ok(Some(f(Record::End(&s))));
                }
                other => return Err(self.err(start, format!("unknown record type {other}"))),
            }
        }
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        at: u64,
        len: u32,
        what: &str,
    ) -> Result<T, CaptureError> {
        serde_json::from_slice(&self.frame[..len as usize])
            .map_err(|e| self.err(at, format!("bad {what} record: {e}")))
    }

    fn read_names(&mut self, at: u64) -> Result<(), CaptureError> {
        let len = self.frame.len() - 4;
        let mut c = Cur {
            b: &self.frame[..len],
            pos: 0,
        };
        let mut names = Vec::new();
        let r: Result<(), String> = (|| {
            let n = c.varint()?;
            if n > 4096 {
                return Err(format!(
                    "{n} parameter names is more than the limit of 4096"
                ));
            }
            for _ in 0..n {
                let s = c.str("parameter name")?;
                names.push(ParamName::from_name(s).ok_or_else(|| s.to_string()));
            }
            Ok(())
        })();
        r.map_err(|m| self.err(at, format!("bad names record: {m}")))?;
        // A name this build does not know is only an error if an event uses it.
        self.names = names.iter().map(|n| n.as_ref().ok().copied()).collect();
        self.have_names = true;
        Ok(())
    }
}

/// Decodes an event payload; parameters go into `buf` (cleared first). On error returns the
/// payload position and a message.
fn decode_event<'a>(
    payload: &'a [u8],
    names: &[Option<ParamName>],
    buf: &mut Vec<Param<'a>>,
    prev: &mut (u64, u64),
) -> Result<Event<'a>, (usize, String)> {
    let mut c = Cur { b: payload, pos: 0 };
    let at = |c: &Cur<'_>, m: String| (c.pos, m);
    let r: Result<Event<'a>, String> = (|| {
        let et = c.varint()?;
        let etype = u16::try_from(et).map_err(|_| format!("event type {et} out of range"))?;
        if etype as usize >= EventType::MAX {
            return Err(format!("event type {etype} is unknown"));
        }
        let flags = c.u8()?;
        if flags & !3 != 0 {
            return Err(format!("unknown event flags {flags:#x}"));
        }
        let num = prev.0.wrapping_add(c.ivarint()? as u64);
        let ts = prev.1.wrapping_add(c.ivarint()? as u64);
        *prev = (num, ts);
        let cpu = c.varint()?;
        let cpu = u16::try_from(cpu).map_err(|_| format!("cpu {cpu} out of range"))?;
        let tid = c.u32v("tid")?;
        let pid = c.u32v("pid")?;
        let res = c.ivarint()?;
        let latency = c.varint()?;
        let n = c.varint()?;
        if n as usize > MAX_PARAMS {
            return Err(format!("{n} parameters exceed the limit of {MAX_PARAMS}"));
        }
        buf.clear();
        for _ in 0..n {
            let idx = c.varint()?;
            let name = names
                .get(idx as usize)
                .copied()
                .flatten()
                .ok_or_else(|| format!("parameter name index {idx} is unknown"))?;
            let value = c.value()?;
            buf.push(Param::new(name, value));
        }
        let fd = if flags & 2 != 0 {
            let num = c.ivarint()?;
            let k = c.u8()?;
            let kind = symbols::FD_KINDS
                .get(k as usize)
                .map(|(k, _)| *k)
                .ok_or_else(|| format!("unknown descriptor kind code {k}"))?;
            let name = c.str("fd name")?;
            let nameraw = c.str("fd raw name")?;
            let tuple = match c.u8()? {
                0 => None,
                1 => Some(c.tuple()?),
                x => return Err(format!("bad tuple presence byte {x}")),
            };
            let dev = c.u32v("dev")?;
            let ino = c.varint()?;
            let upper = match c.u8()? {
                0 => false,
                1 => true,
                x => return Err(format!("bad boolean byte {x}")),
            };
            Some(FdInfo {
                num,
                kind,
                name,
                nameraw,
                tuple,
                dev,
                ino,
                is_upper_layer: upper,
            })
        } else {
            None
        };
        if c.pos != payload.len() {
            return Err(format!(
                "{} trailing bytes after the event",
                payload.len() - c.pos
            ));
        }
        Ok(Event {
            num,
            ts,
            etype: EventType(etype),
            dir: if flags & 1 != 0 {
                Dir::Enter
            } else {
                Dir::Exit
            },
            cpu,
            tid,
            pid,
            res,
            params: &[],
            fd,
            latency,
        })
    })();
    r.map_err(|m| at(&c, m))
}

/// Reads until `buf` is full or the source ends; returns the bytes read.
fn read_full(src: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut c = Cur { b: &b, pos: 0 };
            assert_eq!(c.varint().unwrap(), v);
            assert_eq!(c.pos, b.len());
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, -4096] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        let mut c = Cur {
            b: &[0xff; 11],
            pos: 0,
        };
        assert!(c.varint().is_err());
    }
}
