//! Unit tests of record decoding with hand-built records (no kernel, no root).
// Records are built field by field to mirror how the kernel fills them.
#![allow(clippy::field_reassign_with_default)]

use super::*;
use vigil_bpf::{bytes_of, Sock};

/// Builds a record: header, fixed part, blobs.
struct Rec {
    buf: Vec<u8>,
}

impl Rec {
    fn new<T: vigil_bpf::Pod>(kind: u8, nr: u16, res: i64, part: &T) -> Rec {
        let hdr = Hdr {
            ts: 1_000,
            latency: 5,
            tid: 100,
            pid: 100,
            res,
            len: 0,
            nr,
            kind,
            cpu: 1,
        };
        let mut buf = bytes_of(&hdr).to_vec();
        buf.extend_from_slice(bytes_of(part));
        Rec { buf }
    }

    fn blob(mut self, tag: u8, arg: u8, data: &[u8]) -> Rec {
        let b = Blob {
            len: data.len() as u16,
            tag,
            arg,
        };
        self.buf.extend_from_slice(bytes_of(&b));
        self.buf.extend_from_slice(data);
        self
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[32..36].copy_from_slice(&len.to_le_bytes());
        self.buf
    }
}

fn nr(name: &str) -> u16 {
    EventType::from_name(name).unwrap().0
}

/// Decodes and renders the event into an owned summary for assertions.
type FdSummary = (i64, FdKind, String, String, Option<SockTuple>, u64, bool);

#[derive(Debug, Default)]
struct Seen {
    etype: String,
    res: i64,
    params: Vec<(String, String)>,
    fd: Option<FdSummary>,
    ts: u64,
}

fn decode(rec: &[u8]) -> Result<Seen, DecodeError> {
    let mut d = Decoder::new(10);
    let mut seen = Seen::default();
    d.decode(rec, |ev| {
        seen.etype = ev.etype.name().to_string();
        seen.res = ev.res;
        seen.ts = ev.ts;
        seen.params = ev
            .params
            .iter()
            .map(|p| (p.name.as_str().to_string(), format!("{:?}", p.value)))
            .collect();
        seen.fd = ev.fd.map(|f| {
            (
                f.num,
                f.kind,
                f.name.to_string(),
                f.nameraw.to_string(),
                f.tuple,
                f.ino,
                f.is_upper_layer,
            )
        });
    })?;
    Ok(seen)
}

fn param<'a>(s: &'a Seen, name: &str) -> &'a str {
    s.params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no param {name} in {:?}", s.params))
}

fn file_fd(num: i64, ino: u64, flags: u32) -> Fd {
    Fd {
        num,
        ino,
        dev: 0x800001,
        mode: 0o100644,
        magic: 0xEF53,
        flags: fdf::VALID | flags,
        nlink: 1,
        open_flags: 0,
        sock: Sock::default(),
    }
}

#[test]
fn openat_relative_path_is_joined_and_normalised() {
    let mut sys = Sys::default();
    sys.args = [(-100i64) as u64, 0, 0o2 | 0o100, 0o644, 0, 0];
    sys.fd = file_fd(3, 42, 0);
    let rec = Rec::new(rec::SYSCALL, nr("openat"), 3, &sys)
        .blob(blob::STR, 1, b"../etc/./shadow")
        .blob(blob::BASEDIR, 1, b"/root/work")
        .blob(blob::FDPATH, 0, b"/root/etc/shadow")
        .finish();
    let s = decode(&rec).unwrap();
    assert_eq!(s.etype, "openat");
    assert_eq!(s.ts, 1_010);
    assert_eq!(param(&s, "fd"), "Fd(3)");
    assert_eq!(param(&s, "dirfd"), "Fd(-100)");
    assert_eq!(param(&s, "name"), "Str(\"/root/etc/shadow\")");
    assert_eq!(param(&s, "flags"), "Flags(66, Open)");
    assert_eq!(param(&s, "mode"), "Mode(420)");
    assert_eq!(param(&s, "ino"), "U64(42)");
    let fd = s.fd.clone().unwrap();
    assert_eq!(fd.0, 3);
    assert_eq!(fd.1, FdKind::File);
    assert_eq!(fd.2, "/root/etc/shadow");
    assert_eq!(fd.3, "../etc/./shadow");
    assert!(!fd.6);
}

#[test]
fn failed_open_has_no_fd() {
    let mut sys = Sys::default();
    sys.args = [(-100i64) as u64, 0, 0, 0, 0, 0];
    sys.fd.num = -2;
    let rec = Rec::new(rec::SYSCALL, nr("openat"), -2, &sys)
        .blob(blob::STR, 1, b"/nope")
        .finish();
    let s = decode(&rec).unwrap();
    assert_eq!(s.res, -2);
    assert_eq!(param(&s, "fd"), "Fd(-2)");
    assert_eq!(param(&s, "name"), "Str(\"/nope\")");
    assert!(s.fd.is_none());
}

#[test]
fn rename_with_two_dirfds() {
    let mut sys = Sys::default();
    sys.args = [5, 0, 6, 0, 1, 0];
    let rec = Rec::new(rec::SYSCALL, nr("renameat2"), 0, &sys)
        .blob(blob::STR, 1, b"a")
        .blob(blob::BASEDIR, 1, b"/tmp/x")
        .blob(blob::STR, 3, b"/abs//b/")
        .finish();
    let s = decode(&rec).unwrap();
    assert_eq!(param(&s, "oldpath"), "Str(\"/tmp/x/a\")");
    assert_eq!(param(&s, "newpath"), "Str(\"/abs/b\")");
    assert_eq!(param(&s, "olddirfd"), "Fd(5)");
    assert_eq!(param(&s, "flags"), "Flags(1, Rename)");
}

#[test]
fn connect_tuple_and_addr() {
    let mut sys = Sys::default();
    sys.args = [4, 0, 16, 0, 0, 0];
    sys.fd = Fd {
        num: 4,
        ino: 9,
        mode: 0o140777,
        magic: 0x534F434B,
        flags: fdf::VALID | fdf::SOCK,
        sock: Sock {
            family: 2,
            type_: 1,
            protocol: 6,
            lport: 40000,
            rport: 8080,
            laddr: [127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            raddr: [127, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ..Default::default()
        },
        ..Default::default()
    };
    let mut sa = vec![2u8, 0];
    sa.extend_from_slice(&8080u16.to_be_bytes());
    sa.extend_from_slice(&[127, 0, 0, 2]);
    sa.extend_from_slice(&[0; 8]);
    let rec = Rec::new(rec::SYSCALL, nr("connect"), 0, &sys)
        .blob(blob::SOCKADDR, 1, &sa)
        .finish();
    let s = decode(&rec).unwrap();
    let fd = s.fd.clone().unwrap();
    assert_eq!(fd.1, FdKind::Ipv4);
    let t = fd.4.unwrap();
    assert_eq!(t.to_string(), "127.0.0.1:40000->127.0.0.2:8080");
    assert_eq!(t.proto, L4Proto::Tcp);
    assert!(param(&s, "addr").contains("127.0.0.2") && param(&s, "addr").contains("8080"));
    assert!(param(&s, "tuple").starts_with("Tuple("));

    // accept: the remote end is the client (source).
    let rec = Rec::new(rec::SYSCALL, nr("accept4"), 4, &sys).finish();
    let s = decode(&rec).unwrap();
    assert_eq!(
        s.fd.unwrap().4.unwrap().to_string(),
        "127.0.0.2:8080->127.0.0.1:40000"
    );
}

#[test]
fn unix_connect_names_fd_by_address() {
    let mut sys = Sys::default();
    sys.args = [4, 0, 20, 0, 0, 0];
    sys.fd = Fd {
        num: 4,
        mode: 0o140777,
        flags: fdf::VALID | fdf::SOCK,
        sock: Sock {
            family: 1,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut sa = vec![1u8, 0];
    sa.extend_from_slice(b"/run/x.sock\0\0\0");
    let rec = Rec::new(rec::SYSCALL, nr("connect"), 0, &sys)
        .blob(blob::SOCKADDR, 1, &sa)
        .finish();
    let s = decode(&rec).unwrap();
    let fd = s.fd.clone().unwrap();
    assert_eq!(fd.1, FdKind::Unix);
    assert_eq!(fd.2, "/run/x.sock");
    assert_eq!(param(&s, "addr"), "Addr(Unix(\"/run/x.sock\"))");
    // Abstract names render with '@'.
    let mut sa = vec![1u8, 0, 0];
    sa.extend_from_slice(b"abs");
    let rec = Rec::new(rec::SYSCALL, nr("connect"), 0, &sys)
        .blob(blob::SOCKADDR, 1, &sa)
        .finish();
    assert_eq!(decode(&rec).unwrap().fd.unwrap().2, "@abs");
}

fn proc_part() -> Proc {
    Proc {
        ptid: 1,
        vtid: 7,
        vpid: 7,
        pgid: 100,
        sid: 90,
        uid: 1000,
        gid: 1000,
        euid: 0,
        egid: 0,
        loginuid: u32::MAX,
        tty: (136 << 20) | 2,
        exe_flags: 1 | 4,
        clone_flags: 0x11,
        cap_inheritable: 0,
        cap_permitted: 0x1ff,
        cap_effective: 0x1ff,
        cgroup_id: 4242,
        exe_ino: 77,
        exe_ctime: 5,
        exe_mtime: 6,
        exe_dev: 1,
        stdio: [
            Stdio {
                ino: 3,
                mode: 0o020620,
                magic: 0x1cd1,
                ..Default::default()
            },
            Stdio {
                ino: 55,
                mode: 0o010600,
                magic: 0x50495045,
                ..Default::default()
            },
            Stdio {
                ino: 66,
                mode: 0o140777,
                magic: 0x534F434B,
                family: 2,
                ..Default::default()
            },
        ],
        comm: *b"bash\0\0\0\0\0\0\0\0\0\0\0\0",
    }
}

#[test]
fn exec_record_follows_the_contract() {
    let rec = Rec::new(rec::PROC, nr("execve"), 0, &proc_part())
        .blob(blob::ARGV, 0, b"bash\0-c\0echo hi\0")
        .blob(blob::ENV, 0, b"A=1\0B=2\0")
        .blob(blob::CWD, 0, b"/root")
        .blob(blob::EXEPATH, 0, b"/usr/bin/bash")
        .blob(blob::STDIO, 0, b"/dev/pts/2")
        // The cgroup path's components, the last first.
        .blob(blob::CGROUP, 0, b"libpod-abc")
        .blob(blob::CGROUP, 1, b"libpod_parent")
        .finish();
    let s = decode(&rec).unwrap();
    assert_eq!(s.etype, "execve");
    assert_eq!(s.res, 0);
    let names: Vec<&str> = s.params.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "res",
        "exe",
        "args",
        "tid",
        "pid",
        "ptid",
        "cwd",
        "comm",
        "env",
        "tty",
        "pgid",
        "sid",
        "vpid",
        "loginuid",
        "flags",
        "cap_inheritable",
        "cap_permitted",
        "cap_effective",
        "uid",
        "gid",
        "euid",
        "egid",
        "trusted_exepath",
        "cgroup_id",
        "cgroup",
        "exe_ino",
        "exe_ino_ctime",
        "exe_ino_mtime",
        "fd0_type",
        "fd1_type",
        "fd2_type",
        "fd0_name",
        "fd1_name",
        "fd2_name",
    ] {
        assert!(names.contains(&want), "missing {want}");
    }
    assert_eq!(param(&s, "exe"), "Str(\"bash\")");
    assert_eq!(param(&s, "args"), "List(\"-c\\0echo hi\")");
    assert_eq!(param(&s, "env"), "List(\"A=1\\0B=2\")");
    assert_eq!(param(&s, "cwd"), "Str(\"/root/\")");
    assert_eq!(param(&s, "comm"), "Str(\"bash\")");
    assert_eq!(param(&s, "trusted_exepath"), "Str(\"/usr/bin/bash\")");
    assert_eq!(param(&s, "flags"), "U64(5)");
    assert_eq!(param(&s, "cgroup_id"), "U64(4242)");
    assert_eq!(param(&s, "cgroup"), "Str(\"/libpod_parent/libpod-abc\")");
    assert_eq!(param(&s, "fd0_type"), "Str(\"file\")");
    assert_eq!(param(&s, "fd0_name"), "Str(\"/dev/pts/2\")");
    assert_eq!(param(&s, "fd1_type"), "Str(\"pipe\")");
    assert_eq!(param(&s, "fd1_name"), "Str(\"pipe:[55]\")");
    assert_eq!(param(&s, "fd2_type"), "Str(\"ipv4\")");
    assert_eq!(param(&s, "loginuid"), format!("Uid({})", u32::MAX));
}

#[test]
fn clone_child_record_follows_the_contract() {
    let rec = Rec::new(rec::PROC, nr("clone"), 0, &proc_part())
        .blob(blob::ARGV, 0, b"sleep\x001\0")
        .blob(blob::CWD, 0, b"/")
        .finish();
    let s = decode(&rec).unwrap();
    let names: Vec<&str> = s.params.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "res",
            "exe",
            "args",
            "tid",
            "pid",
            "ptid",
            "cwd",
            "comm",
            "flags",
            "uid",
            "gid",
            "vtid",
            "vpid",
            "cgroup_id",
            "cgroup",
            "loginuid",
            "tty",
            "cap_effective",
            "cap_permitted",
            "cap_inheritable",
            "pgid",
            "sid"
        ]
    );
    assert_eq!(param(&s, "cwd"), "Str(\"/\")");
    assert_eq!(param(&s, "flags"), "Flags(17, Clone)");
    assert_eq!(param(&s, "args"), "List(\"1\")");
}

#[test]
fn procexit() {
    let e = Exit {
        status: 3,
        sig: 0,
        core: 0,
    };
    let rec = Rec::new(rec::EXIT, 0, 0x300, &e).finish();
    let s = decode(&rec).unwrap();
    assert_eq!(s.etype, "procexit");
    assert_eq!(param(&s, "status"), "I64(3)");
    assert_eq!(param(&s, "sig"), "Signal(0)");
}

#[test]
fn memfd_and_pipe_fds() {
    let mut sys = Sys::default();
    sys.args = [0, 1, 0, 0, 0, 0];
    sys.fd = Fd {
        num: 3,
        ino: 11,
        mode: 0o100777,
        magic: 0x01021994,
        flags: fdf::VALID,
        nlink: 0,
        ..Default::default()
    };
    let rec = Rec::new(rec::SYSCALL, nr("memfd_create"), 3, &sys)
        .blob(blob::STR, 0, b"payload")
        .blob(blob::FDPATH, 0, b"/memfd:payload")
        .finish();
    let s = decode(&rec).unwrap();
    let fd = s.fd.clone().unwrap();
    assert_eq!(fd.1, FdKind::Memfd);
    assert_eq!(fd.2, "memfd:payload");
    assert_eq!(param(&s, "name"), "Str(\"payload\")");

    let mut pipe = [0u8; 8];
    pipe[..4].copy_from_slice(&3i32.to_le_bytes());
    pipe[4..].copy_from_slice(&4i32.to_le_bytes());
    let rec = Rec::new(rec::SYSCALL, nr("pipe2"), 0, &Sys::default())
        .blob(blob::PIPEFDS, 0, &pipe)
        .finish();
    let s = decode(&rec).unwrap();
    assert_eq!(param(&s, "fd1"), "Fd(3)");
    assert_eq!(param(&s, "fd2"), "Fd(4)");
}

#[test]
fn upper_layer_flag_and_invalid_utf8() {
    let mut sys = Sys::default();
    sys.args = [(-100i64) as u64, 0, 0, 0, 0, 0];
    sys.fd = file_fd(3, 1, fdf::OVERLAY | fdf::UPPER);
    let rec = Rec::new(rec::SYSCALL, nr("openat"), 3, &sys)
        .blob(blob::STR, 1, b"/tmp/\xff")
        .blob(blob::FDPATH, 0, b"/tmp/\xff")
        .finish();
    let s = decode(&rec).unwrap();
    let fd = s.fd.clone().unwrap();
    assert!(fd.6);
    assert_eq!(fd.2, "/tmp/\u{FFFD}");
    assert_eq!(param(&s, "name"), "Str(\"/tmp/\u{FFFD}\")");
}

#[test]
fn generic_syscall_has_res_only() {
    let rec = Rec::new(rec::SYSCALL, 0, 12, &Sys::default()).finish();
    let s = decode(&rec).unwrap();
    assert_eq!(s.etype, "read");
    assert_eq!(s.params.len(), 1);
    assert_eq!(param(&s, "res"), "Res(12)");
}

#[test]
fn malformed_records_are_errors_not_panics() {
    assert!(matches!(
        decode(&[0u8; 10]),
        Err(DecodeError::TooShort { .. })
    ));
    let rec = Rec::new(9, 0, 0, &Sys::default()).finish();
    assert_eq!(decode(&rec).unwrap_err(), DecodeError::UnknownKind(9));
    let mut rec = Rec::new(rec::SYSCALL, nr("openat"), 0, &Sys::default())
        .blob(blob::STR, 1, b"/x")
        .finish();
    // Announce a blob longer than the record.
    let at = rec.len() - 2 - 4;
    rec[at..at + 2].copy_from_slice(&500u16.to_le_bytes());
    assert!(matches!(decode(&rec), Err(DecodeError::BadBlob { .. })));
    // Header says the record is shorter than its fixed part.
    let mut rec = Rec::new(rec::PROC, nr("execve"), 0, &proc_part()).finish();
    rec[32..36].copy_from_slice(&60u32.to_le_bytes());
    assert!(matches!(decode(&rec), Err(DecodeError::TooShort { .. })));
}

/// Randomised robustness: arbitrary mutations of valid records never panic.
#[test]
fn random_mutations_never_panic() {
    let mut seeds = Vec::new();
    let mut sys = Sys::default();
    sys.fd = file_fd(3, 1, 0);
    seeds.push(
        Rec::new(rec::SYSCALL, nr("openat"), 3, &sys)
            .blob(blob::STR, 1, b"rel/x")
            .blob(blob::BASEDIR, 1, b"/a")
            .finish(),
    );
    seeds.push(
        Rec::new(rec::PROC, nr("execve"), 0, &proc_part())
            .blob(blob::ARGV, 0, b"a\0b\0")
            .finish(),
    );
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut d = Decoder::new(0);
    for i in 0..20_000 {
        let mut r = seeds[i % seeds.len()].clone();
        for _ in 0..(next() % 8) {
            let at = (next() as usize) % r.len();
            r[at] = next() as u8;
        }
        let cut = (next() as usize) % (r.len() + 1);
        r.truncate(if next() % 4 == 0 { cut } else { r.len() });
        let _ = d.decode(&r, |ev| {
            for p in ev.params {
                let _ = format!("{:?}", p.value);
            }
        });
    }
}

#[test]
fn normalisation() {
    let cases: &[(&[u8], &[u8], &str)] = &[
        (b"/", b"a", "/a"),
        (b"/a/b", b"../../../c", "/c"),
        (b"/a", b"./b//c/", "/a/b/c"),
        (b"", b"/", "/"),
        (b"/x", b"", "/x"),
        (b"/x", b"..", "/"),
    ];
    for (base, rel, want) in cases {
        let mut out = Vec::new();
        normalize_into(&mut out, base, rel);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            *want,
            "{base:?} + {rel:?}"
        );
    }
}

mod alloc_count {
    //! A counting allocator for this test binary: counts allocations made by the current
    //! thread, so parallel tests do not disturb the count.
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        pub static COUNT: Cell<usize> = const { Cell::new(0) };
    }

    pub struct Counting;

    // SAFETY: delegates to the system allocator; the counter is a const-initialised
    // thread-local Cell, which never allocates.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
            // SAFETY: same contract as our caller's.
            unsafe { System.alloc(l) }
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            // SAFETY: same contract as our caller's.
            unsafe { System.dealloc(p, l) }
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
            // SAFETY: same contract as our caller's.
            unsafe { System.realloc(p, l, n) }
        }
    }

    #[global_allocator]
    static A: Counting = Counting;
}

#[test]
fn decoding_does_not_allocate_per_event() {
    let mut sys = Sys::default();
    sys.args = [(-100i64) as u64, 0, 0, 0, 0, 0];
    sys.fd = file_fd(3, 42, 0);
    let open = Rec::new(rec::SYSCALL, nr("openat"), 3, &sys)
        .blob(blob::STR, 1, b"../x/./y")
        .blob(blob::BASEDIR, 1, b"/a/b")
        .blob(blob::FDPATH, 0, b"/a/x/y")
        .finish();
    let exec = Rec::new(rec::PROC, nr("execve"), 0, &proc_part())
        .blob(blob::ARGV, 0, b"bash\0-c\0true\0")
        .blob(blob::ENV, 0, b"A=1\0")
        .blob(blob::CWD, 0, b"/root")
        .blob(blob::EXEPATH, 0, b"/usr/bin/bash")
        .blob(blob::STDIO, 0, b"/dev/null")
        .finish();
    let mut d = Decoder::new(0);
    let mut seen = 0usize;
    // Warm up (the arena is allocated once, up front).
    d.decode(&open, |_| {}).unwrap();
    d.decode(&exec, |_| {}).unwrap();
    let before = alloc_count::COUNT.with(|c| c.get());
    for _ in 0..1000 {
        d.decode(&open, |ev| seen += ev.params.len()).unwrap();
        d.decode(&exec, |ev| seen += ev.params.len()).unwrap();
    }
    let after = alloc_count::COUNT.with(|c| c.get());
    assert!(seen > 0);
    assert_eq!(after - before, 0, "decoding allocated");
}

#[test]
fn unconnected_udp_sendto_takes_destination_from_the_address() {
    let mut sys = Sys::default();
    sys.args = [3, 0, 1, 0, 0, 16];
    sys.fd = Fd {
        num: 3,
        mode: 0o140777,
        flags: fdf::VALID | fdf::SOCK,
        sock: Sock {
            family: 2,
            type_: 2,
            protocol: 17,
            lport: 55488,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut sa = vec![2u8, 0];
    sa.extend_from_slice(&9999u16.to_be_bytes());
    sa.extend_from_slice(&[127, 0, 0, 1]);
    let rec = Rec::new(rec::SYSCALL, nr("sendto"), 1, &sys)
        .blob(blob::SOCKADDR, 4, &sa)
        .finish();
    let s = decode(&rec).unwrap();
    let t = s.fd.unwrap().4.unwrap();
    assert_eq!(t.to_string(), "0.0.0.0:55488->127.0.0.1:9999");
    assert_eq!(t.proto, L4Proto::Udp);
}
