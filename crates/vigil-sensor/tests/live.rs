//! Live tests: load the real sensor into the running kernel, run real commands, and check the
//! events that come back. They need root (CAP_BPF + CAP_PERFMON) and skip loudly otherwise.
//!
//! Each test opens its own sensor; tests run in parallel, so each one matches only events of
//! the processes it started (by pid, or by a unique path).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vigil_event::params::exe_flags;
use vigil_event::{Event, EventType, FdKind, ParamName, SockAddr, Value};
use vigil_sensor::sensor::KernelReads;
use vigil_sensor::{Sensor, SensorConfig};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn open(types: &[&str], ignore_self: bool) -> Option<Sensor> {
    open_with(types, ignore_self, true)
}

/// A sensor reporting `types`; `kfuncs` false loads the helpers-only object (the one for
/// kernels without `bpf_rdonly_cast`), so both objects run the tests that call this.
fn open_with(types: &[&str], ignore_self: bool, kfuncs: bool) -> Option<Sensor> {
    if !is_root() {
        eprintln!("SKIP: live sensor tests need root (CAP_BPF+CAP_PERFMON)");
        return None;
    }
    let mut s = Sensor::open(SensorConfig {
        ignore_self,
        kfuncs,
        ..SensorConfig::default()
    })
    .unwrap_or_else(|e| panic!("running as root but the sensor failed to open: {e}"));
    let reads = s.kernel_reads();
    assert_eq!(
        reads == KernelReads::HelpersByConfig,
        !kfuncs,
        "kfuncs {kfuncs} but {reads}"
    );
    let t: Vec<EventType> = types
        .iter()
        .map(|n| EventType::from_name(n).unwrap_or_else(|| panic!("unknown type {n}")))
        .collect();
    s.set_event_types(t).expect("set_event_types");
    Some(s)
}

/// An owned copy of an event, for assertions after the borrow ends.
#[derive(Debug, Clone)]
struct Ev {
    etype: String,
    pid: u32,
    tid: u32,
    res: i64,
    params: HashMap<ParamName, String>,
    raw: Vec<(ParamName, OwnedValue)>,
    fd: Option<OwnedFd>,
}

#[derive(Debug, Clone, PartialEq)]
enum OwnedValue {
    Int(i64),
    Str(String),
    Addr(String),
    Other(String),
}

#[derive(Debug, Clone)]
struct OwnedFd {
    num: i64,
    kind: FdKind,
    name: String,
    nameraw: String,
    tuple: Option<String>,
    ino: u64,
    upper: bool,
}

impl Ev {
    fn from(ev: &Event<'_>) -> Ev {
        let mut params = HashMap::new();
        let mut raw = Vec::new();
        for p in ev.params {
            let v = match p.value {
                Value::I64(i) | Value::Res(i) | Value::Fd(i) => OwnedValue::Int(i),
                Value::U64(u) => OwnedValue::Int(u as i64),
                Value::Flags(u, _) | Value::Caps(u) => OwnedValue::Int(u as i64),
                Value::Mode(m) | Value::Uid(m) | Value::Gid(m) | Value::Signal(m) => {
                    OwnedValue::Int(m as i64)
                }
                Value::Str(s) | Value::List(s) => OwnedValue::Str(s.to_string()),
                Value::Addr(SockAddr::Inet { ip, port }) => {
                    OwnedValue::Addr(format!("{ip}:{port}"))
                }
                Value::Addr(SockAddr::Unix(p)) => OwnedValue::Addr(p.to_string()),
                other => OwnedValue::Other(format!("{other:?}")),
            };
            params.insert(p.name, format!("{:?}", p.value));
            raw.push((p.name, v));
        }
        Ev {
            etype: ev.etype.name().to_string(),
            pid: ev.pid,
            tid: ev.tid,
            res: ev.res,
            params,
            raw,
            fd: ev.fd.map(|f| OwnedFd {
                num: f.num,
                kind: f.kind,
                name: f.name.to_string(),
                nameraw: f.nameraw.to_string(),
                tuple: f.tuple.map(|t| t.to_string()),
                ino: f.ino,
                upper: f.is_upper_layer,
            }),
        }
    }

    fn int(&self, n: ParamName) -> i64 {
        match self.raw.iter().find(|(k, _)| *k == n) {
            Some((_, OwnedValue::Int(i))) => *i,
            other => panic!("{n:?} is not an integer in {self:#?}: {other:?}"),
        }
    }

    fn str(&self, n: ParamName) -> String {
        match self.raw.iter().find(|(k, _)| *k == n) {
            Some((_, OwnedValue::Str(s))) | Some((_, OwnedValue::Addr(s))) => s.clone(),
            other => panic!("{n:?} is not a string in {self:#?}: {other:?}"),
        }
    }
}

/// Polls until `done` says every wanted event was seen, or the deadline passes; returns all
/// events accepted by `keep`.
fn collect(
    s: &mut Sensor,
    secs: u64,
    mut keep: impl FnMut(&Event<'_>) -> bool,
    mut done: impl FnMut(&[Ev]) -> bool,
) -> Vec<Ev> {
    let end = Instant::now() + Duration::from_secs(secs);
    let mut out = Vec::new();
    while Instant::now() < end {
        s.poll(Duration::from_millis(50), |ev| {
            if keep(ev) {
                out.push(Ev::from(ev));
            }
        })
        .expect("poll");
        if done(&out) {
            break;
        }
    }
    out
}

fn run(cmd: &mut Command) -> u32 {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{cmd:?} failed: {:?}", out.status);
    pid
}

/// Runs a live test body on both eBPF objects: `$kfunc` loads the kfunc object (the one this
/// kernel gets), `$helpers` the helpers-only one (kernels without `bpf_rdonly_cast`). Doc
/// comments before the invocation document the first test.
macro_rules! on_both_objects {
    ($(#[$doc:meta])* $kfunc:ident, $helpers:ident, $body:ident) => {
        $(#[$doc])*
        #[test]
        fn $kfunc() {
            $body(true);
        }

        /// The same with the helpers-only object.
        #[test]
        fn $helpers() {
            $body(false);
        }
    };
}

/// A fresh directory, distinct for every call (tests run in parallel, some twice: once per
/// eBPF object).
fn tempdir(tag: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("vigil-live-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

on_both_objects!(
    cat_etc_shadow_full_lifecycle,
    cat_etc_shadow_full_lifecycle_helpers_only,
    cat_etc_shadow_full_lifecycle_with
);

fn cat_etc_shadow_full_lifecycle_with(kfuncs: bool) {
    let Some(mut s) = open_with(&["openat", "open"], true, kfuncs) else {
        return;
    };
    let pid = run(Command::new("cat").arg("/etc/shadow").current_dir("/tmp"));
    let evs = collect(
        &mut s,
        10,
        |ev| ev.pid == pid,
        |evs| evs.iter().any(|e| e.etype == "procexit"),
    );
    let clone = evs
        .iter()
        .find(|e| matches!(e.etype.as_str(), "clone" | "clone3" | "fork" | "vfork"))
        .unwrap_or_else(|| panic!("no clone child event for {pid}: {evs:#?}"));
    assert_eq!((clone.pid, clone.tid, clone.res), (pid, pid, 0));
    assert_eq!(clone.int(ParamName::Ptid), std::process::id() as i64);

    let exec = evs
        .iter()
        .find(|e| e.etype == "execve")
        .expect("execve event");
    assert_eq!(exec.res, 0);
    assert_eq!(exec.str(ParamName::Exe), "cat");
    assert_eq!(exec.str(ParamName::Args), "/etc/shadow");
    assert_eq!(exec.str(ParamName::Cwd), "/tmp/");
    assert_eq!(exec.str(ParamName::Comm), "cat");
    let exepath = exec.str(ParamName::TrustedExepath);
    assert!(
        exepath == "/usr/bin/cat" || exepath == "/bin/cat",
        "{exepath}"
    );
    assert_eq!(exec.int(ParamName::Ptid), std::process::id() as i64);
    assert_eq!(exec.int(ParamName::Uid), 0);
    let md = std::fs::metadata(&exepath).unwrap();
    assert_eq!(exec.int(ParamName::ExeIno) as u64, md.ino());
    assert_eq!(
        exec.int(ParamName::ExeInoMtime),
        md.mtime() * 1_000_000_000 + md.mtime_nsec()
    );
    assert_eq!(
        exec.int(ParamName::Flags) as u64 & exe_flags::EXE_FROM_MEMFD,
        0
    );
    // stdin is /dev/null (a character device: Falco's "file"), stdout a pipe.
    assert_eq!(exec.str(ParamName::Fd0Type), "file");
    assert_eq!(exec.str(ParamName::Fd0Name), "/dev/null");
    assert_eq!(exec.str(ParamName::Fd1Type), "pipe");
    assert!(exec.str(ParamName::Fd1Name).starts_with("pipe:["));
    assert!(exec.str(ParamName::Env).contains("PATH="));

    let open = evs
        .iter()
        .find(|e| {
            e.etype.starts_with("open") && e.fd.as_ref().is_some_and(|f| f.name == "/etc/shadow")
        })
        .unwrap_or_else(|| panic!("no open of /etc/shadow: {evs:#?}"));
    assert!(open.res >= 0);
    assert_eq!(open.str(ParamName::Name), "/etc/shadow");
    assert_eq!(open.int(ParamName::Flags) & 3, 0, "O_RDONLY");
    let fd = open.fd.as_ref().unwrap();
    assert_eq!(fd.kind, FdKind::File);
    assert_eq!(fd.num, open.res);
    assert_eq!(fd.ino, std::fs::metadata("/etc/shadow").unwrap().ino());
    assert!(!fd.upper);

    let exit = evs
        .iter()
        .find(|e| e.etype == "procexit")
        .expect("procexit");
    assert_eq!(exit.int(ParamName::Status), 0);
    assert_eq!(exit.int(ParamName::Sig), 0);
}

on_both_objects!(
    relative_paths_become_absolute,
    relative_paths_become_absolute_helpers_only,
    relative_paths_become_absolute_with
);

fn relative_paths_become_absolute_with(kfuncs: bool) {
    let Some(mut s) = open_with(
        &[
            "symlink",
            "symlinkat",
            "mkdir",
            "mkdirat",
            "rename",
            "renameat",
            "renameat2",
            "unlink",
            "unlinkat",
            "rmdir",
            "chmod",
            "fchmodat",
            "link",
            "linkat",
            "openat",
        ],
        true,
        kfuncs,
    ) else {
        return;
    };
    let dir = tempdir("paths");
    std::fs::create_dir(dir.join("sub")).unwrap();
    let script = "cd sub && ln -s ../target link && mkdir d && mv d e && chmod 700 e && ln ../f hard && cat ../sub/./hard && rm link hard && rmdir e";
    std::fs::write(dir.join("f"), "x").unwrap();
    let pid = run(Command::new("sh").arg("-c").arg(script).current_dir(&dir));
    let sub = dir.join("sub");
    let sub = sub.to_str().unwrap();
    let d = dir.to_str().unwrap().to_string();
    let evs = collect(
        &mut s,
        10,
        |ev| ev.etype.name() != "openat" || ev.fd.is_some_and(|f| f.name.starts_with(d.as_str())),
        |evs| {
            evs.iter().any(|e| {
                e.etype == "rmdir" || (e.etype == "unlinkat" && e.int(ParamName::Flags) == 0x200)
            })
        },
    );
    let mine: Vec<&Ev> = evs
        .iter()
        .filter(|e| e.params.values().any(|v| v.contains(&d)))
        .collect();
    let find = |t: &[&str], n: ParamName, want: String| {
        mine.iter()
            .find(|e| {
                t.contains(&e.etype.as_str())
                    && e.raw
                        .iter()
                        .any(|(k, v)| *k == n && *v == OwnedValue::Str(want.clone()))
            })
            .unwrap_or_else(|| panic!("no {t:?} with {n:?}={want} among {mine:#?}"))
    };
    let sl = find(
        &["symlink", "symlinkat"],
        ParamName::Linkpath,
        format!("{sub}/link"),
    );
    assert_eq!(
        sl.str(ParamName::Target),
        "../target",
        "symlink target is kept as written"
    );
    assert_eq!(sl.res, 0);
    find(&["mkdir", "mkdirat"], ParamName::Path, format!("{sub}/d"));
    let mv = find(
        &["rename", "renameat", "renameat2"],
        ParamName::Oldpath,
        format!("{sub}/d"),
    );
    assert_eq!(mv.str(ParamName::Newpath), format!("{sub}/e"));
    let ch = find(
        &["chmod", "fchmodat"],
        ParamName::Filename,
        format!("{sub}/e"),
    );
    assert_eq!(ch.int(ParamName::Mode), 0o700);
    let ln = find(&["link", "linkat"], ParamName::Oldpath, format!("{d}/f"));
    assert_eq!(ln.str(ParamName::Newpath), format!("{sub}/hard"));
    let op = mine
        .iter()
        .find(|e| {
            e.etype == "openat"
                && e.fd
                    .as_ref()
                    .is_some_and(|f| f.name == format!("{sub}/hard"))
        })
        .unwrap_or_else(|| panic!("no openat of hard link: {mine:#?}"));
    assert_eq!(
        op.str(ParamName::Name),
        format!("{sub}/hard"),
        "../sub/./hard normalised"
    );
    assert_eq!(op.fd.as_ref().unwrap().nameraw, "../sub/./hard");
    find(
        &["unlink", "unlinkat"],
        ParamName::Name,
        format!("{sub}/link"),
    );
    assert!(mine.iter().any(|e| e.pid == pid));
    let _ = std::fs::remove_dir_all(&dir);
}

fn is_inet_connect(e: &Ev) -> bool {
    e.etype == "connect" && e.fd.as_ref().is_some_and(|f| f.kind == FdKind::Ipv4)
}

#[test]
fn tcp_connect_and_accept_tuples() {
    let Some(mut s) = open(&["connect", "accept", "accept4", "socket"], false) else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = std::thread::spawn(move || {
        let (mut c, peer) = listener.accept().unwrap();
        let mut b = Vec::new();
        let _ = c.read_to_end(&mut b);
        peer.port()
    });
    let pid = run(Command::new("bash")
        .arg("-c")
        .arg(format!("exec 3<>/dev/tcp/127.0.0.1/{port}; echo hi >&3")));
    let client_port = acceptor.join().unwrap();
    let me = std::process::id();
    let evs = collect(
        &mut s,
        10,
        |ev| ev.pid == pid || (ev.pid == me && ev.etype.name().starts_with("accept")),
        |evs| evs.iter().any(is_inet_connect) && evs.iter().any(|e| e.etype.starts_with("accept")),
    );
    // glibc may first try a unix-socket connect (nscd) that fails with ENOENT: the test is
    // about the TCP connect, so pick the one on an IPv4 socket.
    let ci = evs
        .iter()
        .position(is_inet_connect)
        .unwrap_or_else(|| panic!("no IPv4 connect: {evs:#?}"));
    let c = &evs[ci];
    assert_eq!(c.res, 0);
    assert_eq!(c.str(ParamName::Addr), format!("127.0.0.1:{port}"));
    let fd = c.fd.as_ref().unwrap();
    assert_eq!(fd.kind, FdKind::Ipv4);
    assert_eq!(
        fd.tuple.as_deref(),
        Some(format!("127.0.0.1:{client_port}->127.0.0.1:{port}").as_str())
    );
    // The socket that was connected is the last one created before the connect with the
    // connect's descriptor number (glibc's nscd probe may have used the same number first).
    let sock = evs[..ci]
        .iter()
        .rfind(|e| e.etype == "socket" && e.pid == pid && e.res == fd.num)
        .unwrap_or_else(|| panic!("no socket event for fd {}: {evs:#?}", fd.num));
    assert_eq!(sock.int(ParamName::Domain), 2);
    assert_eq!(sock.fd.as_ref().unwrap().kind, FdKind::Ipv4);

    let a = evs.iter().find(|e| e.etype.starts_with("accept")).unwrap();
    let fd = a.fd.as_ref().unwrap();
    assert_eq!(fd.num, a.res);
    assert_eq!(
        fd.tuple.as_deref(),
        Some(format!("127.0.0.1:{client_port}->127.0.0.1:{port}").as_str()),
        "accept: client is the source"
    );
}

#[test]
fn memfd_exec_is_flagged() {
    let Some(mut s) = open(&["memfd_create"], true) else {
        return;
    };
    let py = "import os\nfd = os.memfd_create('vigiltest', 0)\nos.write(fd, open('/bin/true', 'rb').read())\nos.execv('/proc/self/fd/%d' % fd, ['fileless'])\n";
    let pid = run(Command::new("python3").arg("-c").arg(py));
    let evs = collect(
        &mut s,
        10,
        |ev| ev.pid == pid,
        |evs| evs.iter().filter(|e| e.etype == "execve").count() >= 2,
    );
    let m = evs
        .iter()
        .find(|e| e.etype == "memfd_create")
        .unwrap_or_else(|| panic!("no memfd_create: {evs:#?}"));
    assert_eq!(m.str(ParamName::Name), "vigiltest");
    let fd = m.fd.as_ref().unwrap();
    assert_eq!(fd.kind, FdKind::Memfd);
    assert_eq!(fd.name, "memfd:vigiltest");
    let exec = evs
        .iter()
        .find(|e| e.etype == "execve" && e.str(ParamName::Exe) == "fileless")
        .unwrap_or_else(|| panic!("no exec of the memfd: {evs:#?}"));
    let flags = exec.int(ParamName::Flags) as u64;
    assert_ne!(flags & exe_flags::EXE_FROM_MEMFD, 0, "flags {flags:#x}");
    assert!(
        exec.str(ParamName::TrustedExepath)
            .contains("memfd:vigiltest"),
        "{exec:#?}"
    );
    // The python interpreter itself was not from a memfd.
    let first = evs.iter().find(|e| e.etype == "execve").unwrap();
    assert_eq!(
        first.int(ParamName::Flags) as u64 & exe_flags::EXE_FROM_MEMFD,
        0
    );
}

#[test]
fn ptrace_attach_is_seen() {
    let Some(mut s) = open(&["ptrace"], true) else {
        return;
    };
    // PTRACE_ATTACH (16) a sleeping child from python via ctypes, then detach (17).
    let py = "import ctypes, os, subprocess\n\
              p = subprocess.Popen(['sleep', '5'])\n\
              libc = ctypes.CDLL(None, use_errno=True)\n\
              assert libc.ptrace(16, p.pid, None, None) == 0\n\
              os.waitpid(p.pid, 0)\n\
              libc.ptrace(17, p.pid, None, None)\n\
              p.kill()\n\
              print(p.pid)\n";
    let out = Command::new("python3")
        .arg("-c")
        .arg(py)
        .stderr(Stdio::inherit())
        .output()
        .expect("python3");
    assert!(out.status.success(), "python ptrace helper failed");
    let target: i64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("target pid");
    let evs = collect(
        &mut s,
        10,
        |ev| ev.etype.name() == "ptrace",
        |evs| {
            evs.iter()
                .filter(|e| e.int(ParamName::Pid) == target)
                .count()
                >= 2
        },
    );
    let attach = evs
        .iter()
        .find(|e| e.int(ParamName::Pid) == target && e.int(ParamName::Request) == 16)
        .unwrap_or_else(|| panic!("no PTRACE_ATTACH of {target}: {evs:#?}"));
    assert_eq!(attach.res, 0);
    assert!(evs
        .iter()
        .any(|e| e.int(ParamName::Pid) == target && e.int(ParamName::Request) == 17));
}

#[test]
fn dup_and_pipe_describe_descriptors() {
    let Some(mut s) = open(&["dup2", "dup3", "pipe", "pipe2", "close"], true) else {
        return;
    };
    let pid = run(Command::new("bash")
        .arg("-c")
        .arg("exec 5</etc/hostname; exec 7<&5; exec 5<&-; echo x | cat >/dev/null"));
    let evs = collect(
        &mut s,
        10,
        |ev| ev.pid == pid,
        |evs| evs.iter().any(|e| e.etype.starts_with("pipe")),
    );
    let d = evs
        .iter()
        .find(|e| e.etype.starts_with("dup") && e.fd.as_ref().is_some_and(|f| f.num == 7))
        .unwrap_or_else(|| panic!("no dup to fd 7: {evs:#?}"));
    assert_eq!(d.fd.as_ref().unwrap().name, "/etc/hostname");
    assert_eq!(d.int(ParamName::Oldfd), 5);
    let c = evs
        .iter()
        .find(|e| {
            e.etype == "close"
                && e.fd
                    .as_ref()
                    .is_some_and(|f| f.num == 5 && f.name == "/etc/hostname")
        })
        .unwrap_or_else(|| panic!("no close of fd 5 naming the file: {evs:#?}"));
    assert_eq!(c.res, 0);
    let p = evs.iter().find(|e| e.etype.starts_with("pipe")).unwrap();
    assert_eq!(p.res, 0);
    assert!(p.int(ParamName::Fd1) >= 0 && p.int(ParamName::Fd2) > p.int(ParamName::Fd1));
}

#[test]
fn kernel_filter_reports_only_enabled_types() {
    let Some(mut s) = open(&["mkdirat", "mkdir"], true) else {
        return;
    };
    let dir = tempdir("filter");
    let pid = run(Command::new("sh")
        .arg("-c")
        .arg("mkdir a && cat /etc/hostname >/dev/null && mkdir b")
        .current_dir(&dir));
    let evs = collect(
        &mut s,
        5,
        |ev| ev.pid > 0,
        |evs| {
            evs.iter()
                .filter(|e| {
                    e.etype.starts_with("mkdir")
                        && e.params.values().any(|v| v.contains("vigil-live-filter"))
                })
                .count()
                >= 2
        },
    );
    assert!(
        evs.iter().any(|e| e.pid == pid),
        "the shell's own lifecycle events arrive"
    );
    let types: std::collections::BTreeSet<&str> = evs.iter().map(|e| e.etype.as_str()).collect();
    for t in &types {
        assert!(
            matches!(
                *t,
                "mkdir"
                    | "mkdirat"
                    | "procexit"
                    | "execve"
                    | "execveat"
                    | "clone"
                    | "clone3"
                    | "fork"
                    | "vfork"
            ),
            "unexpected event type {t} with only mkdir enabled: {types:?}"
        );
    }
    // Switching the set off stops them.
    s.set_event_types(std::iter::empty()).unwrap();
    let _ = s.poll(Duration::from_millis(100), |_| {});
    run(Command::new("mkdir").arg(dir.join("c")));
    let later = collect(
        &mut s,
        1,
        |ev| ev.etype.name().starts_with("mkdir"),
        |_| false,
    );
    assert!(later.is_empty(), "{later:#?}");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(s.stats().decode_errors, 0);
}

#[test]
fn stats_count_events_and_nothing_is_lost_at_low_rate() {
    let Some(mut s) = open(&["openat"], true) else {
        return;
    };
    let mut evs = Vec::new();
    for _ in 0..20 {
        run(Command::new("cat").arg("/etc/hostname"));
        // Keep draining: the rest of the machine opens files too.
        evs.extend(collect(&mut s, 0, |_| true, |_| false));
        s.poll(Duration::from_millis(1), |ev| evs.push(Ev::from(ev)))
            .unwrap();
    }
    evs.extend(collect(&mut s, 2, |_| true, |_| false));
    let st = s.stats();
    assert!(st.events() as usize >= evs.len() && !evs.is_empty());
    assert!(st.lifecycle_events >= 40, "{st:?}");
    assert!(st.by_category[0] > 0, "file events counted: {st:?}");
    assert_eq!(st.lost(), 0, "{st:?}");
}

#[test]
fn dropping_the_sensor_unloads_everything() {
    let Some(s) = open(&["openat"], true) else {
        return;
    };
    let ids = s.program_ids();
    assert_eq!(ids.len(), 3);
    let loaded = vigil_sensor::loaded_program_ids();
    assert!(ids.iter().all(|i| loaded.contains(i)));
    drop(s);
    // Links and programs are freed after an RCU grace period / deferred work: poll briefly.
    let end = Instant::now() + Duration::from_secs(5);
    let mut loaded = vigil_sensor::loaded_program_ids();
    while Instant::now() < end && ids.iter().any(|i| loaded.contains(i)) {
        std::thread::sleep(Duration::from_millis(50));
        loaded = vigil_sensor::loaded_program_ids();
    }
    assert!(
        ids.iter().all(|i| !loaded.contains(i)),
        "still loaded: {ids:?}"
    );
}

fn podman_ready() -> bool {
    let ok = Command::new("podman")
        .args(["image", "exists", "localhost/vigil-test-debian"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIP: podman or image localhost/vigil-test-debian missing (scripts/test-image.sh builds it)");
    }
    ok
}

/// cgroup id the sensor should report for `pid`: the v2 cgroup when it is not the root, else
/// the v1 memory controller's cgroup (inode number of the cgroup directory).
fn expected_cgroup(pid: u32) -> Option<(u64, String)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let mut v2 = None;
    let mut mem = None;
    for l in text.lines() {
        let mut it = l.splitn(3, ':');
        let (_, ctrl, path) = (it.next()?, it.next()?, it.next()?);
        if ctrl.is_empty() {
            v2 = Some(path.to_string());
        } else if ctrl.split(',').any(|c| c == "memory") {
            mem = Some(path.to_string());
        }
    }
    if let Some(p) = v2.filter(|p| p != "/") {
        for root in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
            if let Ok(m) = std::fs::metadata(format!("{root}{p}")) {
                return Some((m.ino(), p));
            }
        }
    }
    let p = mem?;
    let m = std::fs::metadata(format!("/sys/fs/cgroup/memory{p}")).ok()?;
    Some((m.ino(), p))
}

on_both_objects!(
    container_upper_layer_and_cgroup,
    container_upper_layer_and_cgroup_helpers_only,
    container_upper_layer_and_cgroup_with
);

fn container_upper_layer_and_cgroup_with(kfuncs: bool) {
    if !is_root() {
        eprintln!("SKIP: container test needs root");
        return;
    }
    if !podman_ready() {
        return;
    }
    let Some(mut s) = open_with(&["openat"], true, kfuncs) else {
        return;
    };
    let name = format!("vigil-sensor-live-{}", std::process::id());
    let mut child = Command::new("podman")
        .args(["run", "--rm", "--network=none", "--name", &name, "localhost/vigil-test-debian", "sh", "-c"])
        .arg("cp /bin/ls /tmp/vigil-ls && /tmp/vigil-ls / >/dev/null && /bin/ls / >/dev/null && echo ready && exec sleep 33.3")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("podman run");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut evs = Vec::new();
    let mut sleep_pid = None;
    let end = Instant::now() + Duration::from_secs(90);
    while Instant::now() < end && sleep_pid.is_none() {
        s.poll(Duration::from_millis(100), |ev| {
            if ev.etype.name() == "execve" {
                let e = Ev::from(ev);
                let path = e.str(ParamName::TrustedExepath);
                let marker_sleep = path.ends_with("/sleep") && e.str(ParamName::Args) == "33.3";
                if path == "/tmp/vigil-ls" || path.ends_with("/ls") || marker_sleep {
                    evs.push(e);
                }
            }
        })
        .unwrap();
        sleep_pid = evs
            .iter()
            .find(|e| e.str(ParamName::TrustedExepath).ends_with("/sleep"))
            .map(|e| e.pid);
    }
    let mut line = String::new();
    let _ = out.read_line(&mut line);
    let sleep_pid = sleep_pid.unwrap_or_else(|| panic!("container never reached sleep: {evs:#?}"));
    let expected = expected_cgroup(sleep_pid);
    let _ = Command::new("podman")
        .args(["kill", &name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();

    let upper = evs
        .iter()
        .find(|e| e.str(ParamName::TrustedExepath) == "/tmp/vigil-ls")
        .unwrap_or_else(|| panic!("no exec of the copied binary: {evs:#?}"));
    let f = upper.int(ParamName::Flags) as u64;
    assert_ne!(
        f & exe_flags::EXE_UPPER_LAYER,
        0,
        "copied binary must be on the upper layer: {f:#x}"
    );
    let lower = evs
        .iter()
        .find(|e| {
            e.pid != upper.pid
                && e.str(ParamName::TrustedExepath).ends_with("/ls")
                && e.str(ParamName::TrustedExepath) != "/tmp/vigil-ls"
        })
        .unwrap_or_else(|| panic!("no exec of the image's ls: {evs:#?}"));
    let f = lower.int(ParamName::Flags) as u64;
    assert_eq!(
        f & exe_flags::EXE_UPPER_LAYER,
        0,
        "image binary is not upper: {f:#x}"
    );
    assert_ne!(
        f & exe_flags::EXE_LOWER_LAYER,
        0,
        "image binary is lower: {f:#x}"
    );

    let (id, path) = expected.expect("read the container process's cgroup while it ran");
    assert!(path.contains("libpod"), "container cgroup path {path}");
    for e in &evs {
        assert_eq!(
            e.int(ParamName::CgroupId) as u64,
            id,
            "cgroup id of {} (cgroup {path})",
            e.str(ParamName::TrustedExepath)
        );
    }
    let host = expected_cgroup(std::process::id()).map(|x| x.0);
    assert_ne!(
        host,
        Some(id),
        "the container's cgroup differs from the test's"
    );
}

#[test]
fn cgroup_record_learns_syscalls() {
    let Some(mut s) = open(&[], true) else { return };
    let mut child = Command::new("sleep").arg("0.5").spawn().unwrap();
    let Some((cg, _)) = expected_cgroup(child.id()) else {
        panic!("cannot read cgroup of {}", child.id());
    };
    s.record_cgroup(cg).unwrap();
    run(Command::new("cat").arg("/etc/hostname"));
    let _ = child.wait();
    let seen = s.cgroup_syscalls(cg).unwrap();
    let names: Vec<&str> = seen.iter().map(|t| t.name()).collect();
    for want in ["openat", "read", "close", "execve"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
}

#[test]
fn full_ring_buffer_losses_are_counted() {
    if !is_root() {
        eprintln!("SKIP: live sensor tests need root (CAP_BPF+CAP_PERFMON)");
        return;
    }
    // One page of ring buffer holds only a handful of records.
    let mut s = Sensor::open(SensorConfig {
        ring_bytes: 4096,
        ..SensorConfig::default()
    })
    .expect("open");
    s.set_event_types([EventType::from_name("openat").unwrap()])
        .unwrap();
    let py = "for _ in range(300):\n    open('/etc/hostname').close()\n";
    let pid = run(Command::new("python3").arg("-c").arg(py));
    let mut ours = 0u64;
    let end = Instant::now() + Duration::from_secs(2);
    while Instant::now() < end {
        s.poll(Duration::from_millis(50), |ev| {
            if ev.pid == pid && ev.fd.is_some_and(|f| f.name == "/etc/hostname") {
                ours += 1;
            }
        })
        .unwrap();
    }
    let st = s.stats();
    let file = vigil_sensor::CATEGORIES
        .iter()
        .position(|c| *c == vigil_event::Category::File)
        .unwrap();
    assert!(st.kernel.syscall > 0, "expected ring-buffer drops: {st:?}");
    assert!(st.dropped_by_category[file] > 0, "{st:?}");
    assert!(
        ours < 300,
        "a 4 KiB ring cannot have held every event: {ours}"
    );
    assert!(
        ours + st.dropped_by_category[file] >= 300,
        "every openat was either delivered or counted as lost: delivered {ours}, {st:?}"
    );
    assert!(st.lost() >= st.kernel.syscall);
}

/// Component names of every length around the kernel's inline-name limit (39 bytes in the
/// dentry, longer ones stored outside it), around word boundaries, and up to NAME_MAX are all
/// resolved exactly by the kernel-side path walk.
#[test]
fn names_of_every_length_resolve_exactly() {
    let Some(mut s) = open(&["openat"], true) else {
        return;
    };
    let base = tempdir("names");
    let mut files = Vec::new();
    for len in [
        1usize, 2, 7, 8, 9, 15, 16, 31, 38, 39, 40, 41, 63, 64, 200, 255,
    ] {
        // A directory and a file whose names have this length, distinct per length.
        let name = |c: char| {
            format!("{len}{c}")
                .chars()
                .chain(std::iter::repeat(c))
                .take(len)
                .collect::<String>()
        };
        let dir = base.join(name('d'));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(name('f'));
        std::fs::write(&file, "x").unwrap();
        files.push(file.to_str().unwrap().to_string());
    }
    let pid = run(Command::new("cat").args(&files));
    let evs = collect(
        &mut s,
        10,
        |ev| ev.pid == pid && ev.etype.name() == "openat",
        |evs| {
            files.iter().all(|f| {
                evs.iter()
                    .any(|e| e.fd.as_ref().is_some_and(|d| d.name == *f))
            })
        },
    );
    for f in &files {
        assert!(
            evs.iter()
                .any(|e| e.fd.as_ref().is_some_and(|d| d.name == *f)),
            "{f} not resolved exactly: {:#?}",
            evs.iter()
                .filter_map(|e| e.fd.as_ref().map(|d| &d.name))
                .collect::<Vec<_>>()
        );
    }
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn deep_paths_resolve_fully() {
    let Some(mut s) = open(&["openat"], true) else {
        return;
    };
    // 100 nested directories: deeper than most tools go, within the sensor's walk budget.
    let base = tempdir("deep");
    let mut p = base.clone();
    for i in 0..100 {
        p.push(format!("d{i}"));
    }
    std::fs::create_dir_all(&p).unwrap();
    let file = p.join("leaf");
    std::fs::write(&file, "x").unwrap();
    let want = file.to_str().unwrap().to_string();
    let pid = run(Command::new("cat").arg(&file));
    let evs = collect(
        &mut s,
        10,
        |ev| ev.pid == pid && ev.etype.name() == "openat",
        |evs| {
            evs.iter()
                .any(|e| e.fd.as_ref().is_some_and(|f| f.name.ends_with("/leaf")))
        },
    );
    let e = evs
        .iter()
        .find(|e| e.fd.as_ref().is_some_and(|f| f.name.ends_with("/leaf")))
        .unwrap_or_else(|| panic!("no open of the deep file: {evs:#?}"));
    assert_eq!(e.fd.as_ref().unwrap().name, want);
    assert_eq!(e.str(ParamName::Name), want);
    assert_eq!(s.stats().kernel.path_truncated, 0);

    // Beyond the walk budget the path is cut, and the cut is counted, not silent.
    for i in 100..160 {
        p.push(format!("d{i}"));
    }
    std::fs::create_dir_all(&p).unwrap();
    let file = p.join("leaf2");
    std::fs::write(&file, "x").unwrap();
    let pid = run(Command::new("cat").arg(&file));
    let _ = collect(
        &mut s,
        10,
        |ev| ev.pid == pid,
        |evs| evs.iter().any(|e| e.etype == "procexit"),
    );
    assert!(s.stats().kernel.path_truncated > 0, "{:?}", s.stats());
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn ignored_cgroup_reports_lifecycle_but_no_syscalls() {
    if !is_root() {
        eprintln!("SKIP: live sensor tests need root (CAP_BPF+CAP_PERFMON)");
        return;
    }
    let (own, _) = expected_cgroup(std::process::id()).expect("own cgroup");
    let mut s = Sensor::open(SensorConfig {
        ignore_cgroup: Some(own),
        ..SensorConfig::default()
    })
    .expect("open");
    s.set_event_types([EventType::from_name("openat").unwrap()])
        .unwrap();
    let pid = run(Command::new("cat").arg("/etc/hostname"));
    let evs = collect(
        &mut s,
        10,
        |ev| ev.pid == pid,
        |evs| evs.iter().any(|e| e.etype == "procexit"),
    );
    assert!(
        evs.iter().any(|e| e.etype == "execve"),
        "lifecycle still reported: {evs:#?}"
    );
    assert!(
        !evs.iter().any(|e| e.etype == "openat"),
        "syscalls of the ignored cgroup: {evs:#?}"
    );
}

on_both_objects!(
    /// The rule-derived open prefilter runs in the kernel: opens it rejects never arrive and are
    /// counted as filtered, opens it accepts arrive intact, and removing it lets everything
    /// through again.
    open_prefilter_drops_in_the_kernel_what_no_rule_needs,
    open_prefilter_drops_in_the_kernel_what_no_rule_needs_helpers_only,
    open_prefilter_drops_in_the_kernel_what_no_rule_needs_with
);

fn open_prefilter_drops_in_the_kernel_what_no_rule_needs_with(kfuncs: bool) {
    use vigil_event::prefilter::{OpenClause, OpenFilter, PathSet};
    let Some(mut s) = open_with(&["openat", "open"], true, kfuncs) else {
        return;
    };
    let dir = tempdir("prefilter");
    let d = dir.display().to_string();
    std::fs::write(dir.join("boring"), "x").unwrap();
    std::fs::write(dir.join("secret"), "x").unwrap();
    std::fs::create_dir_all(dir.join("watched")).unwrap();
    std::fs::write(dir.join("watched/f"), "x").unwrap();
    std::fs::write(dir.join("credentials"), "x").unwrap();
    // Reads of `secret` or of a file named `credentials`; writes below `watched/`;
    // reads of `boring` through `../`.
    std::fs::write(dir.join("other"), "x").unwrap();
    let f = OpenFilter {
        clauses: vec![
            OpenClause {
                read: Some(true),
                ok: Some(true),
                paths: vec![PathSet {
                    exact: vec![format!("{d}/secret")],
                    names: vec!["credentials".into()],
                    ..PathSet::default()
                }],
                ..OpenClause::default()
            },
            OpenClause {
                write: Some(true),
                paths: vec![PathSet {
                    prefixes: vec![format!("{d}/watched/")],
                    ..PathSet::default()
                }],
                ..OpenClause::default()
            },
            OpenClause {
                dotdot: Some(true),
                paths: vec![PathSet {
                    exact: vec![format!("{d}/boring")],
                    ..PathSet::default()
                }],
                ..OpenClause::default()
            },
        ],
    };
    let openat = EventType::from_name("openat").unwrap();
    s.set_open_filters(&[(openat, Some(f))])
        .expect("install filter");
    assert_eq!(s.filtered_syscalls(), vec![openat]);
    let before = s.stats().kernel.filtered;
    let script = "cat boring secret credentials watched/f >/dev/null && echo x >> watched/f \
                  && echo y >> boring && cat watched/../other watched/../boring >/dev/null";
    let pid = run(Command::new("sh").arg("-c").arg(script).current_dir(&dir));
    let evs = collect(
        &mut s,
        10,
        |ev| {
            ev.etype == openat
                && ev
                    .fd
                    .is_some_and(|f| f.name.contains("vigil-live-prefilter"))
        },
        |evs| evs.len() >= 4,
    );
    let names: Vec<(String, bool)> = evs
        .iter()
        .map(|e| {
            let fd = e.fd.as_ref().unwrap();
            let write = e.int(ParamName::Flags) & 3 != 0;
            (fd.name.trim_start_matches(&d).to_string(), write)
        })
        .collect();
    assert!(names.contains(&("/secret".into(), false)), "{names:?}");
    assert!(names.contains(&("/credentials".into(), false)), "{names:?}");
    assert!(names.contains(&("/watched/f".into(), true)), "{names:?}");
    // Reached through `../`: the resolved path is `boring`, the argument had `../`.
    assert!(
        evs.iter()
            .any(|e| e.fd.as_ref().unwrap().nameraw.contains("../")),
        "{names:?}"
    );
    // Plain reads of `boring` and `watched/f`, and the append to `boring`, were stopped.
    assert_eq!(
        names.iter().filter(|(n, _)| n == "/boring").count(),
        1,
        "only the ../ read of boring passes: {names:?}"
    );
    assert!(!names.contains(&("/watched/f".into(), false)), "{names:?}");
    // `../` alone is not enough: the path must be in the clause's set.
    assert!(!names.iter().any(|(n, _)| n == "/other"), "{names:?}");
    let stopped = s.stats().kernel.filtered - before;
    assert!(
        stopped >= 4,
        "filtered counter moved by {stopped} (pid {pid})"
    );

    // Without the filter, the boring read arrives again.
    s.set_open_filters(&[]).expect("remove filter");
    assert!(s.filtered_syscalls().is_empty());
    run(Command::new("cat").arg("boring").current_dir(&dir));
    let evs = collect(
        &mut s,
        10,
        |ev| {
            ev.etype == openat
                && ev.fd.is_some_and(|f| {
                    f.name.contains("vigil-live-prefilter") && f.name.ends_with("/boring")
                })
        },
        |evs| !evs.is_empty(),
    );
    assert!(!evs.is_empty(), "unfiltered read of boring did not arrive");
    let _ = std::fs::remove_dir_all(&dir);
}

/// sys_enter costs every syscall of the machine a program call: it is attached only while a
/// reported syscall needs its entry state (close) or a cgroup is being recorded, and close
/// events still describe the descriptor they closed.
#[test]
fn sys_enter_is_attached_only_while_needed() {
    let Some(mut s) = open(&["openat"], true) else {
        return;
    };
    assert!(!s.enter_attached(), "openat alone needs no sys_enter");
    let close = EventType::from_name("close").unwrap();
    let openat = EventType::from_name("openat").unwrap();
    s.set_event_types([openat, close]).unwrap();
    assert!(
        s.enter_attached(),
        "close needs its descriptor from sys_enter"
    );
    let dir = tempdir("enter");
    std::fs::write(dir.join("f"), "x").unwrap();
    let pid = run(Command::new("cat").arg(dir.join("f")));
    let evs = collect(
        &mut s,
        10,
        |ev| ev.pid == pid && ev.etype == close,
        |evs| {
            evs.iter()
                .any(|e| e.fd.as_ref().is_some_and(|f| f.name.ends_with("/f")))
        },
    );
    assert!(
        evs.iter()
            .any(|e| e.fd.as_ref().is_some_and(|f| f.name.ends_with("/f"))),
        "no close of the file with its name: {evs:#?}"
    );
    s.set_event_types([openat]).unwrap();
    assert!(!s.enter_attached(), "detached again");
    let _ = std::fs::remove_dir_all(&dir);
}

on_both_objects!(
    /// The path cache gives a reopened file its verdict without a walk, and a rename of the
    /// file's directory (which changes its path but not its dentry) retires the cached verdict
    /// both ways: a file moved into a watched directory is reported, one moved out is not. An
    /// io_uring instance turns the cache off.
    path_cache_follows_renames_and_yields_to_io_uring,
    path_cache_follows_renames_and_yields_to_io_uring_helpers_only,
    path_cache_follows_renames_and_yields_to_io_uring_with
);

fn path_cache_follows_renames_and_yields_to_io_uring_with(kfuncs: bool) {
    use vigil_event::prefilter::{OpenClause, OpenFilter, PathSet};
    let Some(mut s) = open_with(&["openat"], true, kfuncs) else {
        return;
    };
    let dir = tempdir("pathcache");
    let d = dir.display().to_string();
    std::fs::create_dir_all(dir.join("plain")).unwrap();
    std::fs::write(dir.join("plain/f"), "x").unwrap();
    std::fs::create_dir_all(dir.join("other")).unwrap();
    std::fs::write(dir.join("other/g"), "x").unwrap();
    let f = OpenFilter {
        clauses: vec![OpenClause {
            read: Some(true),
            ok: Some(true),
            paths: vec![PathSet {
                prefixes: vec![format!("{d}/watched/")],
                ..PathSet::default()
            }],
            ..OpenClause::default()
        }],
    };
    let openat = EventType::from_name("openat").unwrap();
    s.set_open_filters(&[(openat, Some(f))])
        .expect("install filter");
    let start = s.path_cache_stats();
    let machine_has_uring = start.off.is_some();
    if machine_has_uring {
        eprintln!(
            "NOTE: path cache off at start ({:?}): hit counts are not checked",
            start.off
        );
    }
    let reported = |s: &mut Sensor, pid: u32| -> Vec<String> {
        collect(
            s,
            3,
            |ev| ev.pid == pid && ev.etype == openat,
            |evs| !evs.is_empty(),
        )
        .iter()
        .filter_map(|e| {
            e.fd.as_ref()
                .map(|f| f.name.trim_start_matches(&d).to_string())
        })
        .collect()
    };
    // Read three times while unwatched: nothing arrives, the verdict is cached. A rename
    // anywhere on the machine between the reads retires the entry, so try a few times.
    for attempt in 0.. {
        let before = s.path_cache_stats();
        let pid = run(Command::new("sh")
            .arg("-c")
            .arg("cat plain/f plain/f plain/f other/g >/dev/null")
            .current_dir(&dir));
        assert!(reported(&mut s, pid).is_empty());
        if machine_has_uring {
            break;
        }
        let now = s.path_cache_stats();
        assert!(now.inserts > start.inserts, "{now:?}");
        if now.hits >= before.hits + 2 {
            break;
        }
        assert!(attempt < 5, "the rereads never hit: {before:?} -> {now:?}");
    }
    // The directory moves into the watched place: the same dentry now has a watched path.
    std::fs::rename(dir.join("plain"), dir.join("watched")).unwrap();
    let pid = run(Command::new("cat").arg("watched/f").current_dir(&dir));
    assert_eq!(reported(&mut s, pid), vec!["/watched/f".to_string()]);
    // And back out: the cached "watched" verdict must not report it either.
    let pid = run(Command::new("cat").arg("watched/f").current_dir(&dir));
    assert_eq!(reported(&mut s, pid), vec!["/watched/f".to_string()]);
    std::fs::rename(dir.join("watched"), dir.join("moved")).unwrap();
    let pid = run(Command::new("cat").arg("moved/f").current_dir(&dir));
    assert!(reported(&mut s, pid).is_empty());

    // io_uring renames without a syscall: setting up an instance turns the cache off.
    let mut params = [0u8; 120];
    // SAFETY: io_uring_setup(2) with a zeroed struct io_uring_params of the kernel's size.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 1u32, params.as_mut_ptr()) };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        eprintln!("NOTE: io_uring_setup failed ({err}): the off switch is not checked");
    } else {
        // SAFETY: fd is the descriptor io_uring_setup returned, closed once.
        unsafe { libc::close(fd as i32) };
        let after = s.path_cache_stats();
        assert!(!after.enabled(), "{after:?}");
        assert!(after.off.is_some());
        // Off means every open is walked again, and still judged right.
        let hits = after.hits;
        let pid = run(Command::new("cat").arg("other/g").current_dir(&dir));
        assert!(reported(&mut s, pid).is_empty());
        assert_eq!(s.path_cache_stats().hits, hits);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The start-up probe that picks the object: the kernel's `bpf_rdonly_cast` passes, and a
/// function that is no kfunc is refused with the verifier's reason (the sensor then loads the
/// helpers-only object instead of failing).
#[test]
fn kfunc_probe_tells_a_usable_kfunc_from_a_refused_one() {
    if !is_root() {
        eprintln!("SKIP: the kfunc probe loads a program (root)");
        return;
    }
    use aya_obj::btf::BtfKind;
    let btf = aya::Btf::from_sys_fs().expect("kernel BTF");
    let id = btf
        .id_by_type_name_kind("bpf_rdonly_cast", BtfKind::Func)
        .expect("bpf_rdonly_cast in this kernel's BTF (6.2+)");
    vigil_sensor::sensor::kfunc_probe(&btf, id).expect("the kernel accepts bpf_rdonly_cast");
    let not_kfunc = btf
        .id_by_type_name_kind("vfs_read", BtfKind::Func)
        .expect("vfs_read in the kernel's BTF");
    let err = vigil_sensor::sensor::kfunc_probe(&btf, not_kfunc).unwrap_err();
    assert!(err.contains("vfs_read"), "{err}");
}
