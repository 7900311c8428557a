//! Decoding of ring-buffer records into [`Event`]s, without allocating per event.
//!
//! A record is borrowed straight from the ring buffer. Parameters are built in a stack array
//! of [`Param`]s; strings are borrowed from the record when they are valid UTF-8 and need no
//! change, and otherwise written into one reusable byte arena (paths joined with their base
//! directory, lossily repaired UTF-8, `pipe:[ino]`-style names). Decoding runs in two phases so
//! the arena can grow during the first and be borrowed immutably by the finished event.
//!
//! This module is pure: it never touches the kernel, so it is unit-tested (and fuzzed) with
//! hand-built records. We rejected decoding into owned `String`s: at a million events a second
//! the allocator would dominate the profile.

use crate::table::{Src, SyscallDef, Table};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vigil_bpf::{blob, fdf, rec, Blob, Exit, Fd, Hdr, Proc, Stdio, Sys};
use vigil_event::{
    Dir, Event, EventType, FdInfo, FdKind, FlagSet, L4Proto, Param, ParamName, SockAddr, SockTuple,
    Value,
};

/// Most parameters any event carries (execve has 33).
const MAX_PARAMS: usize = 40;
/// Most blobs a record carries (argv, env, cwd, exepath, 3 stdio names, 6 arguments + bases).
const MAX_BLOBS: usize = 24;

/// Why a record could not be decoded. Each is counted in [`crate::SensorStats`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record too short for {what}: need {need} bytes, have {have}")]
    TooShort {
        what: &'static str,
        need: usize,
        have: usize,
    },
    #[error("unknown record kind {0}")]
    UnknownKind(u8),
    #[error("blob at offset {offset} overruns the record ({len} bytes announced)")]
    BadBlob { offset: usize, len: usize },
    #[error("record has more than {MAX_BLOBS} blobs")]
    TooManyBlobs,
}

/// A string produced in the first phase: borrowed from the record, or a range of the arena.
#[derive(Clone, Copy, Debug)]
enum S<'r> {
    None,
    B(&'r str),
    A(u32, u32),
}

/// A parameter value in the first phase.
#[derive(Clone, Copy, Debug)]
enum PV<'r> {
    V(Value<'r>),
    Str(S<'r>),
    List(S<'r>),
    Unix(S<'r>),
}

#[derive(Clone, Copy, Debug)]
struct BlobRef<'r> {
    tag: u8,
    arg: u8,
    data: &'r [u8],
}

#[derive(Clone, Copy, Debug)]
struct FdPre<'r> {
    num: i64,
    kind: FdKind,
    name: S<'r>,
    nameraw: S<'r>,
    tuple: Option<SockTuple>,
    dev: u32,
    ino: u64,
    upper: bool,
}

/// Turns records into events. Keep one per consumer thread and reuse it.
pub struct Decoder {
    table: Table,
    arena: Vec<u8>,
    tmp: Vec<u8>,
    boot_to_wall: u64,
    num: u64,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").field("num", &self.num).finish()
    }
}

/// What kind of record was decoded (for per-category counting).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    Syscall,
    Lifecycle,
    Exit,
}

impl Decoder {
    /// `boot_to_wall` is added to the kernel's boot-time clock to get Unix-epoch nanoseconds.
    pub fn new(boot_to_wall: u64) -> Decoder {
        Decoder {
            table: Table::new(),
            arena: Vec::with_capacity(64 * 1024),
            tmp: Vec::with_capacity(16 * 1024),
            boot_to_wall,
            num: 0,
        }
    }

    /// Decodes one record and calls `f` with the event. Returns the record's kind.
    pub fn decode<F: FnMut(&Event<'_>)>(
        &mut self,
        record: &[u8],
        mut f: F,
    ) -> Result<RecordKind, DecodeError> {
        let hdr: Hdr = vigil_bpf::read(record).ok_or(DecodeError::TooShort {
            what: "header",
            need: std::mem::size_of::<Hdr>(),
            have: record.len(),
        })?;
        let len = (hdr.len as usize).min(record.len());
        if len < std::mem::size_of::<Hdr>() {
            return Err(DecodeError::TooShort {
                what: "header (announced length)",
                need: std::mem::size_of::<Hdr>(),
                have: len,
            });
        }
        let record = &record[..len];
        let body = &record[std::mem::size_of::<Hdr>()..];
        self.arena.clear();
        self.num += 1;
        match hdr.kind {
            rec::SYSCALL => {
                self.decode_syscall(&hdr, body, &mut f)?;
                Ok(RecordKind::Syscall)
            }
            rec::PROC => {
                self.decode_proc(&hdr, body, &mut f)?;
                Ok(RecordKind::Lifecycle)
            }
            rec::EXIT => {
                self.decode_exit(&hdr, body, &mut f)?;
                Ok(RecordKind::Exit)
            }
            k => Err(DecodeError::UnknownKind(k)),
        }
    }

    fn base_event(&self, hdr: &Hdr, etype: EventType) -> Event<'static> {
        Event {
            num: self.num,
            ts: hdr.ts.wrapping_add(self.boot_to_wall),
            etype,
            dir: Dir::Exit,
            cpu: hdr.cpu as u16,
            tid: hdr.tid,
            pid: hdr.pid,
            res: hdr.res,
            params: &[],
            fd: None,
            latency: hdr.latency,
        }
    }

    fn decode_exit<F: FnMut(&Event<'_>)>(
        &mut self,
        hdr: &Hdr,
        body: &[u8],
        f: &mut F,
    ) -> Result<(), DecodeError> {
        let e: Exit = read_part(body, "procexit")?;
        let params = [
            Param::new(ParamName::Status, Value::I64(e.status)),
            Param::new(ParamName::Sig, Value::Signal(e.sig)),
            Param::new(ParamName::Core, Value::I64(e.core as i64)),
        ];
        let mut ev = self.base_event(hdr, EventType::PROCEXIT);
        ev.params = &params;
        f(&ev);
        Ok(())
    }

    fn decode_proc<F: FnMut(&Event<'_>)>(
        &mut self,
        hdr: &Hdr,
        body: &[u8],
        f: &mut F,
    ) -> Result<(), DecodeError> {
        let p: Proc = read_part(body, "lifecycle")?;
        let mut blobs = [BlobRef {
            tag: 0,
            arg: 0,
            data: &[],
        }; MAX_BLOBS];
        let nblobs = parse_blobs(body, std::mem::size_of::<Proc>(), &mut blobs)?;
        let blobs = &blobs[..nblobs];
        let find = |tag: u8, arg: u8| blobs.iter().find(|b| b.tag == tag && b.arg == arg);

        let is_exec = matches!(EventType(hdr.nr).name(), "execve" | "execveat");
        // argv: exe = argv[0], args = the rest (NUL separated, without the final NUL).
        let (exe, args) = match find(blob::ARGV, 0) {
            Some(b) => {
                let data = trim_nuls(b.data);
                match data.iter().position(|c| *c == 0) {
                    Some(i) => (self.text(&data[..i]), self.text(&data[i + 1..])),
                    None => (self.text(data), S::B("")),
                }
            }
            None => (S::None, S::None),
        };
        let env = find(blob::ENV, 0).map_or(S::None, |b| self.text(trim_nuls(b.data)));
        let cwd = match find(blob::CWD, 0) {
            Some(b) => self.dir_with_slash(b.data),
            None => S::None,
        };
        let exepath = find(blob::EXEPATH, 0).map_or(S::None, |b| self.text(b.data));
        let comm = self.text(until_nul(&p.comm));
        // The cgroup path's last components, outermost first, joined with `/`.
        let cgroup = {
            self.tmp.clear();
            for level in (0..3u8).rev() {
                if let Some(b) = find(blob::CGROUP, level) {
                    self.tmp.push(b'/');
                    self.tmp.extend_from_slice(b.data);
                }
            }
            if self.tmp.is_empty() {
                S::None
            } else {
                let start = self.arena.len();
                let tmp = std::mem::take(&mut self.tmp);
                push_lossy(&mut self.arena, &tmp);
                self.tmp = tmp;
                S::A(start as u32, self.arena.len() as u32)
            }
        };

        let mut pre: [(ParamName, PV<'_>); MAX_PARAMS] =
            [(ParamName::Res, PV::V(Value::None)); MAX_PARAMS];
        let mut n = 0;
        macro_rules! push {
            ($name:expr, $v:expr) => {
                if n < MAX_PARAMS {
                    pre[n] = ($name, $v);
                    n += 1;
                }
            };
        }
        let (tid, pid) = (hdr.tid as i64, hdr.pid as i64);
        push!(ParamName::Res, PV::V(Value::Res(0)));
        push!(ParamName::Exe, PV::Str(exe));
        push!(ParamName::Args, PV::List(args));
        push!(ParamName::Tid, PV::V(Value::I64(tid)));
        push!(ParamName::Pid, PV::V(Value::I64(pid)));
        push!(ParamName::Ptid, PV::V(Value::I64(p.ptid as i64)));
        push!(ParamName::Cwd, PV::Str(cwd));
        push!(ParamName::Comm, PV::Str(comm));
        if is_exec {
            let stdio: [(FdKind, S<'_>); 3] = std::array::from_fn(|i| {
                let st = p.stdio[i];
                let kind = stdio_kind(&st);
                (kind, S::None)
            });
            let mut names = [S::None; 3];
            for (i, name) in names.iter_mut().enumerate() {
                let st = p.stdio[i];
                *name = match stdio[i].0 {
                    FdKind::Unknown => S::None,
                    FdKind::Pipe => self.fmt(format_args!("pipe:[{}]", st.ino)),
                    FdKind::Ipv4 | FdKind::Ipv6 | FdKind::Unix | FdKind::Netlink => {
                        self.fmt(format_args!("socket:[{}]", st.ino))
                    }
                    _ => match find(blob::STDIO, i as u8) {
                        Some(b) => self.text(b.data),
                        None => S::None,
                    },
                };
            }
            push!(ParamName::Env, PV::List(env));
            push!(ParamName::Tty, PV::V(Value::U64(p.tty as u64)));
            push!(ParamName::Pgid, PV::V(Value::I64(p.pgid as i64)));
            push!(ParamName::Sid, PV::V(Value::I64(p.sid as i64)));
            push!(ParamName::Vpid, PV::V(Value::I64(p.vpid as i64)));
            push!(ParamName::Loginuid, PV::V(Value::Uid(p.loginuid)));
            push!(ParamName::Flags, PV::V(Value::U64(p.exe_flags as u64)));
            push!(
                ParamName::CapInheritable,
                PV::V(Value::Caps(p.cap_inheritable))
            );
            push!(ParamName::CapPermitted, PV::V(Value::Caps(p.cap_permitted)));
            push!(ParamName::CapEffective, PV::V(Value::Caps(p.cap_effective)));
            push!(ParamName::Uid, PV::V(Value::Uid(p.uid)));
            push!(ParamName::Gid, PV::V(Value::Gid(p.gid)));
            push!(ParamName::Euid, PV::V(Value::Uid(p.euid)));
            push!(ParamName::Egid, PV::V(Value::Gid(p.egid)));
            push!(ParamName::TrustedExepath, PV::Str(exepath));
            push!(ParamName::CgroupId, PV::V(Value::U64(p.cgroup_id)));
            push!(ParamName::Cgroup, PV::Str(cgroup));
            push!(ParamName::ExeIno, PV::V(Value::U64(p.exe_ino)));
            push!(ParamName::ExeInoCtime, PV::V(Value::U64(p.exe_ctime)));
            push!(ParamName::ExeInoMtime, PV::V(Value::U64(p.exe_mtime)));
            push!(ParamName::Fd0Type, PV::V(Value::Str(stdio[0].0.as_str())));
            push!(ParamName::Fd1Type, PV::V(Value::Str(stdio[1].0.as_str())));
            push!(ParamName::Fd2Type, PV::V(Value::Str(stdio[2].0.as_str())));
            push!(ParamName::Fd0Name, PV::Str(names[0]));
            push!(ParamName::Fd1Name, PV::Str(names[1]));
            push!(ParamName::Fd2Name, PV::Str(names[2]));
        } else {
            push!(
                ParamName::Flags,
                PV::V(Value::Flags(p.clone_flags, FlagSet::Clone))
            );
            push!(ParamName::Uid, PV::V(Value::Uid(p.uid)));
            push!(ParamName::Gid, PV::V(Value::Gid(p.gid)));
            push!(ParamName::Vtid, PV::V(Value::I64(p.vtid as i64)));
            push!(ParamName::Vpid, PV::V(Value::I64(p.vpid as i64)));
            push!(ParamName::CgroupId, PV::V(Value::U64(p.cgroup_id)));
            push!(ParamName::Cgroup, PV::Str(cgroup));
            push!(ParamName::Loginuid, PV::V(Value::Uid(p.loginuid)));
            push!(ParamName::Tty, PV::V(Value::U64(p.tty as u64)));
            push!(ParamName::CapEffective, PV::V(Value::Caps(p.cap_effective)));
            push!(ParamName::CapPermitted, PV::V(Value::Caps(p.cap_permitted)));
            push!(
                ParamName::CapInheritable,
                PV::V(Value::Caps(p.cap_inheritable))
            );
            push!(ParamName::Pgid, PV::V(Value::I64(p.pgid as i64)));
            push!(ParamName::Sid, PV::V(Value::I64(p.sid as i64)));
        }
        let count = n;
        let mut ev = self.base_event(hdr, EventType(hdr.nr));
        ev.res = 0;
        self.finish(ev, &pre[..count], None, f);
        Ok(())
    }

    fn decode_syscall<F: FnMut(&Event<'_>)>(
        &mut self,
        hdr: &Hdr,
        body: &[u8],
        f: &mut F,
    ) -> Result<(), DecodeError> {
        let sys: Sys = read_part(body, "syscall")?;
        let mut blobs = [BlobRef {
            tag: 0,
            arg: 0,
            data: &[],
        }; MAX_BLOBS];
        let nblobs = parse_blobs(body, std::mem::size_of::<Sys>(), &mut blobs)?;
        let blobs = &blobs[..nblobs];
        let etype = EventType(hdr.nr);
        let mut ev = self.base_event(hdr, etype);

        let mut pre: [(ParamName, PV<'_>); MAX_PARAMS] =
            [(ParamName::Res, PV::V(Value::None)); MAX_PARAMS];
        let Some(def) = self.table.get(hdr.nr) else {
            // Generic capture: only the return value.
            pre[0] = (ParamName::Res, PV::V(Value::Res(hdr.res)));
            self.finish(ev, &pre[..1], None, f);
            return Ok(());
        };
        let fd = self.fd_info(def, &sys, blobs, hdr);
        let mut n = 0;
        for (name, src) in def.params {
            if n == MAX_PARAMS {
                break;
            }
            let v = self.param(*src, &sys, blobs, hdr, fd.as_ref());
            pre[n] = (*name, v);
            n += 1;
        }
        if let Some(fdi) = &fd {
            if fdi.num < 0 && hdr.res < 0 && def.fd_src != vigil_bpf::fd_src::ARG0 {
                // A failed fd-producing call is about no descriptor.
                ev.fd = None;
                self.finish(ev, &pre[..n], None, f);
                return Ok(());
            }
        }
        self.finish(ev, &pre[..n], fd, f);
        Ok(())
    }

    fn fd_info<'r>(
        &mut self,
        def: &SyscallDef,
        sys: &Sys,
        blobs: &[BlobRef<'r>],
        hdr: &Hdr,
    ) -> Option<FdPre<'r>> {
        if def.fd_src == vigil_bpf::fd_src::NONE {
            return None;
        }
        let k = &sys.fd;
        let valid = k.flags & fdf::VALID != 0;
        let mut kind = if valid { fd_kind(k) } else { FdKind::Unknown };
        if valid && k.magic == ANON_INODE_FS_MAGIC {
            if let Some(b) = find_blob(blobs, blob::FDPATH, 0) {
                kind = anon_kind(b.data);
            }
        }
        let mut name = S::None;
        let mut nameraw = S::None;
        // The path argument as the process passed it (open*, creat).
        if let Some((i, _)) = def.params.iter().find_map(|(_, s)| {
            if let Src::Path(i) = s {
                Some((*i, ()))
            } else {
                None
            }
        }) {
            if let Some(b) = find_blob(blobs, blob::STR, i) {
                nameraw = self.text(b.data);
            }
        }
        if let Some(b) = find_blob(blobs, blob::FDPATH, 0) {
            name = match kind {
                FdKind::Memfd => self.text(b.data.strip_prefix(b"/").unwrap_or(b.data)),
                FdKind::Pipe => self.fmt(format_args!("pipe:[{}]", k.ino)),
                _ => self.text(b.data),
            };
        } else if kind == FdKind::Unix {
            // Unix sockets are named by the address the process used, when it passed one.
            if let Some(b) = blobs.iter().find(|b| b.tag == blob::SOCKADDR) {
                if let Some((abs, p)) = unix_path(b.data) {
                    name = self.unix_name(abs, p);
                }
            }
        } else if kind == FdKind::Pipe {
            name = self.fmt(format_args!("pipe:[{}]", k.ino));
        }
        let mut tuple = if valid && k.flags & fdf::SOCK != 0 {
            sock_tuple(&k.sock, is_accept(hdr.nr))
        } else {
            None
        };
        // The destination the process named (connect, sendto, sendmsg) wins over the socket's
        // peer: unconnected UDP sockets have none, and a failed connect has reset it.
        if let (Some(t), Some(b)) = (
            tuple.as_mut(),
            blobs.iter().find(|b| b.tag == blob::SOCKADDR),
        ) {
            if let Some(ParsedAddr::Inet(ip, port)) = parse_sockaddr(b.data) {
                if !is_accept(hdr.nr) && EventType(hdr.nr).name() != "bind" {
                    t.dst_ip = ip;
                    t.dst_port = port;
                }
            }
        }
        Some(FdPre {
            num: k.num,
            kind,
            name,
            nameraw,
            tuple,
            dev: k.dev,
            ino: k.ino,
            upper: k.flags & fdf::UPPER != 0,
        })
    }

    fn param<'r>(
        &mut self,
        src: Src,
        sys: &Sys,
        blobs: &[BlobRef<'r>],
        hdr: &Hdr,
        fd: Option<&FdPre<'r>>,
    ) -> PV<'r> {
        let a = |i: u8| sys.args[(i as usize) % 6];
        match src {
            Src::Res => PV::V(Value::Res(hdr.res)),
            Src::ResFd => PV::V(Value::Fd(hdr.res)),
            Src::I64(i) => PV::V(Value::I64(a(i) as i64)),
            Src::U64(i) | Src::Size(i) => PV::V(Value::U64(a(i))),
            Src::Fd(i) => PV::V(Value::Fd(a(i) as u32 as i32 as i64)),
            Src::Flags(i, set) => PV::V(Value::Flags(a(i), set)),
            Src::Mode(i) => PV::V(Value::Mode(a(i) as u32)),
            Src::Uid(i) => PV::V(Value::Uid(a(i) as u32)),
            Src::Gid(i) => PV::V(Value::Gid(a(i) as u32)),
            Src::Str(i) => match find_blob(blobs, blob::STR, i) {
                Some(b) => PV::Str(self.text(b.data)),
                None => PV::V(Value::None),
            },
            Src::Path(i) => {
                let Some(raw) = find_blob(blobs, blob::STR, i) else {
                    return PV::V(Value::None);
                };
                let base = find_blob(blobs, blob::BASEDIR, i).map(|b| b.data);
                PV::Str(self.join(base.unwrap_or(b"/"), raw.data))
            }
            Src::Addr(i) => match find_blob(blobs, blob::SOCKADDR, i) {
                Some(b) => match parse_sockaddr(b.data) {
                    Some(ParsedAddr::Inet(ip, port)) => {
                        PV::V(Value::Addr(SockAddr::Inet { ip, port }))
                    }
                    Some(ParsedAddr::Unix(abs, p)) => PV::Unix(self.unix_name(abs, p)),
                    Some(ParsedAddr::Other(fam)) => PV::V(Value::Addr(SockAddr::Other(fam))),
                    None => PV::V(Value::None),
                },
                None => PV::V(Value::None),
            },
            Src::Tuple => match fd.and_then(|f| f.tuple) {
                Some(t) => PV::V(Value::Tuple(t)),
                None => PV::V(Value::None),
            },
            Src::Pipe1 | Src::Pipe2 => match find_blob(blobs, blob::PIPEFDS, 0) {
                Some(b) if b.data.len() >= 8 => {
                    let off = if src == Src::Pipe1 { 0 } else { 4 };
                    let v = i32::from_le_bytes([
                        b.data[off],
                        b.data[off + 1],
                        b.data[off + 2],
                        b.data[off + 3],
                    ]);
                    PV::V(Value::Fd(v as i64))
                }
                _ => PV::V(Value::None),
            },
            Src::PipeIno | Src::FdIno => match fd {
                Some(f) if f.ino != 0 => PV::V(Value::U64(f.ino)),
                _ => PV::V(Value::None),
            },
            Src::FdDev => match fd {
                Some(f) if f.ino != 0 => PV::V(Value::U64(f.dev as u64)),
                _ => PV::V(Value::None),
            },
        }
    }

    /// Second phase: resolves arena ranges to `&str` and calls the consumer.
    fn finish<'r, F: FnMut(&Event<'_>)>(
        &self,
        base: Event<'static>,
        pre: &[(ParamName, PV<'r>)],
        fd: Option<FdPre<'r>>,
        f: &mut F,
    ) {
        let arena: &[u8] = &self.arena;
        let mut params: [Param<'_>; MAX_PARAMS] =
            [Param::new(ParamName::Res, Value::None); MAX_PARAMS];
        for (slot, (name, pv)) in params.iter_mut().zip(pre) {
            let value = match *pv {
                PV::V(v) => v,
                PV::Str(s) => resolve(arena, s).map_or(Value::None, Value::Str),
                PV::List(s) => resolve(arena, s).map_or(Value::None, Value::List),
                PV::Unix(s) => {
                    resolve(arena, s).map_or(Value::None, |p| Value::Addr(SockAddr::Unix(p)))
                }
            };
            *slot = Param::new(*name, value);
        }
        let ev = Event {
            params: &params[..pre.len()],
            fd: fd.map(|p| FdInfo {
                num: p.num,
                kind: p.kind,
                name: resolve(arena, p.name).unwrap_or(""),
                nameraw: resolve(arena, p.nameraw).unwrap_or(""),
                tuple: p.tuple,
                dev: p.dev,
                ino: p.ino,
                is_upper_layer: p.upper,
            }),
            ..base
        };
        f(&ev);
    }

    /// Borrows `bytes` as text when valid UTF-8; otherwise copies a lossy repair to the arena.
    fn text<'r>(&mut self, bytes: &'r [u8]) -> S<'r> {
        match std::str::from_utf8(bytes) {
            Ok(s) => S::B(s),
            Err(_) => {
                let start = self.arena.len();
                push_lossy(&mut self.arena, bytes);
                S::A(start as u32, self.arena.len() as u32)
            }
        }
    }

    fn unix_name<'r>(&mut self, abstract_: bool, path: &'r [u8]) -> S<'r> {
        if !abstract_ {
            return self.text(path);
        }
        let start = self.arena.len();
        self.arena.push(b'@');
        push_lossy(&mut self.arena, path);
        S::A(start as u32, self.arena.len() as u32)
    }

    fn fmt(&mut self, args: std::fmt::Arguments<'_>) -> S<'static> {
        let start = self.arena.len();
        let mut w = ArenaWriter(&mut self.arena);
        let _ = w.write_fmt(args);
        S::A(start as u32, self.arena.len() as u32)
    }

    /// A directory path with Falco's trailing slash.
    fn dir_with_slash<'r>(&mut self, bytes: &'r [u8]) -> S<'r> {
        if bytes.ends_with(b"/") {
            return self.text(bytes);
        }
        self.tmp.clear();
        self.tmp.extend_from_slice(bytes);
        self.tmp.push(b'/');
        let start = self.arena.len();
        push_lossy(&mut self.arena, &self.tmp);
        S::A(start as u32, self.arena.len() as u32)
    }

    /// `base` joined with `rel` (unless `rel` is absolute), normalised lexically (`.`, `..`,
    /// repeated slashes), into the arena.
    fn join<'r>(&mut self, base: &[u8], rel: &'r [u8]) -> S<'r> {
        self.tmp.clear();
        normalize_into(
            &mut self.tmp,
            if rel.starts_with(b"/") { b"" } else { base },
            rel,
        );
        let start = self.arena.len();
        push_lossy(&mut self.arena, &self.tmp);
        S::A(start as u32, self.arena.len() as u32)
    }
}

/// A first-phase string as `&str`. The arena only ever receives valid UTF-8 (see `text`,
/// `join`, `fmt`), so the check cannot fail in practice; it keeps this free of `unsafe`.
fn resolve<'x>(arena: &'x [u8], s: S<'x>) -> Option<&'x str> {
    match s {
        S::None => None,
        S::B(x) => Some(x),
        S::A(a, b) => arena
            .get(a as usize..b as usize)
            .and_then(|r| std::str::from_utf8(r).ok()),
    }
}

struct ArenaWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for ArenaWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn push_lossy(out: &mut Vec<u8>, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        out.extend_from_slice(chunk.valid().as_bytes());
        if !chunk.invalid().is_empty() {
            out.extend_from_slice("\u{FFFD}".as_bytes());
        }
    }
}

/// Writes the lexical normalisation of `base/rel` (always absolute) into `out`.
pub(crate) fn normalize_into(out: &mut Vec<u8>, base: &[u8], rel: &[u8]) {
    let start = out.len();
    out.push(b'/');
    for part in base.split(|c| *c == b'/').chain(rel.split(|c| *c == b'/')) {
        match part {
            b"" | b"." => {}
            b".." => {
                if out.len() > start + 1 {
                    let cut = out[start..]
                        .iter()
                        .rposition(|c| *c == b'/')
                        .map_or(start + 1, |p| (start + p).max(start + 1));
                    out.truncate(cut);
                }
            }
            p => {
                if out.len() > start + 1 {
                    out.push(b'/');
                }
                out.extend_from_slice(p);
            }
        }
    }
}

fn read_part<T: vigil_bpf::Pod>(body: &[u8], what: &'static str) -> Result<T, DecodeError> {
    vigil_bpf::read(body).ok_or(DecodeError::TooShort {
        what,
        need: std::mem::size_of::<Hdr>() + std::mem::size_of::<T>(),
        have: std::mem::size_of::<Hdr>() + body.len(),
    })
}

fn parse_blobs<'r>(
    body: &'r [u8],
    mut off: usize,
    out: &mut [BlobRef<'r>; MAX_BLOBS],
) -> Result<usize, DecodeError> {
    let mut n = 0;
    let hl = std::mem::size_of::<Blob>();
    while off + hl <= body.len() {
        let b: Blob = vigil_bpf::read(&body[off..]).ok_or(DecodeError::BadBlob {
            offset: off,
            len: 0,
        })?;
        let start = off + hl;
        let end = start + b.len as usize;
        if end > body.len() {
            return Err(DecodeError::BadBlob {
                offset: off + std::mem::size_of::<Hdr>(),
                len: b.len as usize,
            });
        }
        if n == MAX_BLOBS {
            return Err(DecodeError::TooManyBlobs);
        }
        out[n] = BlobRef {
            tag: b.tag,
            arg: b.arg,
            data: &body[start..end],
        };
        n += 1;
        off = end;
    }
    Ok(n)
}

fn find_blob<'a, 'r>(blobs: &'a [BlobRef<'r>], tag: u8, arg: u8) -> Option<&'a BlobRef<'r>> {
    blobs.iter().find(|b| b.tag == tag && b.arg == arg)
}

fn trim_nuls(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && b[end - 1] == 0 {
        end -= 1;
    }
    &b[..end]
}

fn until_nul(b: &[u8]) -> &[u8] {
    &b[..b.iter().position(|c| *c == 0).unwrap_or(b.len())]
}

const S_IFMT: u32 = 0o170000;
const S_IFSOCK: u32 = 0o140000;
const S_IFIFO: u32 = 0o010000;
const S_IFDIR: u32 = 0o040000;
const PIPEFS_MAGIC: u32 = 0x5049_5045;
const ANON_INODE_FS_MAGIC: u32 = 0x0904_1934;
const TMPFS_MAGIC: u32 = 0x0102_1994;
const HUGETLBFS_MAGIC: u32 = 0x9584_58f6;
const AF_UNIX: u16 = 1;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
const AF_NETLINK: u16 = 16;

fn sock_kind(family: u16) -> FdKind {
    match family {
        AF_INET => FdKind::Ipv4,
        AF_INET6 => FdKind::Ipv6,
        AF_UNIX => FdKind::Unix,
        AF_NETLINK => FdKind::Netlink,
        _ => FdKind::Unknown,
    }
}

/// Falco's fd type for a descriptor the kernel described.
pub(crate) fn fd_kind(k: &Fd) -> FdKind {
    let fmt = k.mode & S_IFMT;
    if fmt == S_IFSOCK {
        return sock_kind(k.sock.family);
    }
    if fmt == S_IFIFO || k.magic == PIPEFS_MAGIC {
        return FdKind::Pipe;
    }
    if fmt == S_IFDIR {
        return FdKind::Directory;
    }
    if k.magic == ANON_INODE_FS_MAGIC {
        // Refined by name with `anon_kind` when the name is known.
        return FdKind::Unknown;
    }
    if (k.magic == TMPFS_MAGIC || k.magic == HUGETLBFS_MAGIC) && k.nlink == 0 {
        return FdKind::Memfd;
    }
    FdKind::File
}

/// Refines an anonymous-inode kind by its name (`[eventfd]`, `[eventpoll]`, `bpf-map`, ...).
pub(crate) fn anon_kind(name: &[u8]) -> FdKind {
    let n = name.strip_prefix(b"anon_inode:").unwrap_or(name);
    match n {
        b"[eventfd]" => FdKind::Event,
        b"[signalfd]" => FdKind::Signalfd,
        b"[eventpoll]" => FdKind::Eventpoll,
        b"inotify" => FdKind::Inotify,
        b"[timerfd]" => FdKind::Timerfd,
        b"[userfaultfd]" => FdKind::Userfaultfd,
        b"[io_uring]" => FdKind::IoUring,
        b"[pidfd]" => FdKind::Pidfd,
        n if n.starts_with(b"bpf") => FdKind::Bpf,
        _ => FdKind::Unknown,
    }
}

fn stdio_kind(s: &Stdio) -> FdKind {
    if s.mode == 0 && s.ino == 0 {
        return FdKind::Unknown;
    }
    let fd = Fd {
        mode: s.mode,
        magic: s.magic,
        nlink: 1,
        sock: vigil_bpf::Sock {
            family: s.family,
            ..Default::default()
        },
        ..Default::default()
    };
    fd_kind(&fd)
}

fn is_accept(nr: u16) -> bool {
    matches!(EventType(nr).name(), "accept" | "accept4")
}

fn ip_of(family: u16, b: &[u8; 16]) -> Option<IpAddr> {
    match family {
        AF_INET => Some(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
        AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(*b))),
        _ => None,
    }
}

/// The connection tuple with Falco's orientation: the connecting side is the source.
pub(crate) fn sock_tuple(s: &vigil_bpf::Sock, accepted: bool) -> Option<SockTuple> {
    let l = ip_of(s.family, &s.laddr)?;
    let r = ip_of(s.family, &s.raddr)?;
    if s.lport == 0 && s.rport == 0 && l.is_unspecified() && r.is_unspecified() {
        return None; // a fresh socket: no endpoint yet
    }
    let proto = match (s.protocol, s.type_) {
        (6, _) => L4Proto::Tcp,
        (17, _) => L4Proto::Udp,
        (1, _) | (58, _) => L4Proto::Icmp,
        (_, 3) => L4Proto::Raw,
        (_, 1) => L4Proto::Tcp,
        (_, 2) => L4Proto::Udp,
        _ => L4Proto::Unknown,
    };
    let (src_ip, src_port, dst_ip, dst_port) = if accepted {
        (r, s.rport, l, s.lport)
    } else {
        (l, s.lport, r, s.rport)
    };
    Some(SockTuple {
        proto,
        src_ip,
        src_port,
        dst_ip,
        dst_port,
    })
}

enum ParsedAddr<'r> {
    Inet(IpAddr, u16),
    Unix(bool, &'r [u8]),
    Other(u16),
}

fn parse_sockaddr(b: &[u8]) -> Option<ParsedAddr<'_>> {
    if b.len() < 2 {
        return None;
    }
    let family = u16::from_le_bytes([b[0], b[1]]);
    match family {
        AF_INET if b.len() >= 8 => Some(ParsedAddr::Inet(
            IpAddr::V4(Ipv4Addr::new(b[4], b[5], b[6], b[7])),
            u16::from_be_bytes([b[2], b[3]]),
        )),
        AF_INET6 if b.len() >= 24 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[8..24]);
            Some(ParsedAddr::Inet(
                IpAddr::V6(Ipv6Addr::from(a)),
                u16::from_be_bytes([b[2], b[3]]),
            ))
        }
        AF_UNIX => unix_path(b).map(|(a, p)| ParsedAddr::Unix(a, p)),
        AF_INET | AF_INET6 => None,
        other => Some(ParsedAddr::Other(other)),
    }
}

/// The path of a `sockaddr_un` and whether it is an abstract name (leading NUL, shown by
/// Falco as `@name`).
fn unix_path(b: &[u8]) -> Option<(bool, &[u8])> {
    if b.len() < 2 || u16::from_le_bytes([b[0], b[1]]) != AF_UNIX {
        return None;
    }
    let p = &b[2..];
    match p.first() {
        Some(0) => Some((true, trim_nuls(&p[1..]))),
        _ => Some((false, until_nul(p))),
    }
}

#[cfg(test)]
mod tests;
