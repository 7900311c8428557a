//! Turning the events of one workload into a [`Workload`] profile.
//!
//! The recorder is pure: the CLI feeds it the events of processes in the recorded cgroups
//! (with the acting process's `comm`, which tells runtime set-up apart), then hands it the
//! kernel's per-cgroup syscall set at the end. Allocation happens only when something new is
//! learned (a new path, endpoint or executable), never per repeated event.
//!
//! Runtime set-up (`runc:[0:PARENT]`, `runc:[1:CHILD]`, `runc:[2:INIT]`, crun, conmon) runs in
//! the container's cgroup before the entrypoint; its mounts, writes to `/proc` and `/sys` and
//! identity changes are not the workload's and are not learned as files, endpoints or
//! capabilities. Its syscalls do land in the kernel bitmap, which is what the seccomp profile
//! needs (see [`crate::seccomp`] for why that is the right set).

use crate::caps::{self, CapSet};
use crate::collapse::collapse;
use crate::model::{AbsPath, Endpoint, Exec, Exit, Instance, Proto, Stats, SyscallName, Workload};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use vigil_event::{Event, EventType, FdKind, L4Proto, ParamName, SockAddr, Value};

/// Paths whose reading is worth recording (and alerting on when new).
pub const SENSITIVE: &[&str] = &[
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/sudoers.d/",
    "/etc/ssl/private/",
    "/etc/kubernetes/",
    "/root/",
    "/var/run/secrets/",
    "/run/secrets/",
    "/proc/kcore",
    "/boot/",
];

/// True for a path in [`SENSITIVE`] or any `.ssh` directory.
pub fn is_sensitive(path: &str) -> bool {
    path.contains("/.ssh/")
        || SENSITIVE.iter().any(|s| {
            if s.ends_with('/') {
                path.starts_with(s)
            } else {
                path == *s
            }
        })
}

/// True for a process of the container runtime rather than the workload.
pub fn is_runtime_comm(comm: &str) -> bool {
    comm.starts_with("runc") || comm.starts_with("crun") || comm == "conmon"
}

const O_ACCMODE: u64 = 3;
const O_CREAT: u64 = 0o100;
const O_TRUNC: u64 = 0o1000;
const SOCK_TYPE_MASK: u64 = 0xf;
const SOCK_RAW: u64 = 3;
const AF_PACKET: u64 = 17;
const EINPROGRESS: i64 = -115;

/// What one recorded container did.
#[derive(Debug, Default)]
pub struct Recorder {
    exec: BTreeMap<String, BTreeSet<String>>,
    writes: BTreeSet<String>,
    reads: BTreeSet<String>,
    listen: BTreeSet<Endpoint>,
    connect: BTreeSet<Endpoint>,
    pending_bind: HashMap<(u32, i64), (IpAddr, u16)>,
    caps: CapSet,
    stats: Stats,
    main_pid: Option<u32>,
    first_exec_ts: Option<u64>,
    exit: Option<Exit>,
    /// False when attached to a running container: its main process was never seen starting.
    attached: bool,
}

fn str_param<'a>(ev: &Event<'a>, name: ParamName) -> Option<&'a str> {
    match ev.param(name) {
        Some(Value::Str(s)) => Some(s),
        _ => None,
    }
}

fn num_param(ev: &Event<'_>, name: ParamName) -> Option<u64> {
    match ev.param(name) {
        Some(Value::Flags(v, _)) | Some(Value::U64(v)) => Some(*v),
        Some(Value::I64(v)) | Some(Value::Res(v)) | Some(Value::Fd(v)) => Some(*v as u64),
        _ => None,
    }
}

fn proto_of(p: L4Proto) -> Option<Proto> {
    match p {
        L4Proto::Tcp => Some(Proto::Tcp),
        L4Proto::Udp => Some(Proto::Udp),
        _ => None,
    }
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// A recorder for a container that was already running: the first exec seen is not its
    /// main process, so no exit status is attributed to the container.
    pub fn attached() -> Recorder {
        Recorder {
            attached: true,
            ..Recorder::default()
        }
    }

    /// The workload's main process (first exec that was not the runtime), if seen.
    pub fn main_pid(&self) -> Option<u32> {
        self.main_pid
    }

    /// How the main process exited, if it did.
    pub fn exit(&self) -> Option<&Exit> {
        self.exit.as_ref()
    }

    /// Successful execs seen so far.
    pub fn execs(&self) -> u64 {
        self.stats.execs
    }

    /// Learns from one event of a process in the recorded container. `comm` is the acting
    /// process's name after the state applied the event (the new program's name on exec).
    pub fn observe(&mut self, ev: &Event<'_>, comm: &str) {
        if is_runtime_comm(comm) {
            return;
        }
        let name = ev.etype.name();
        if ev.etype == EventType::PROCEXIT {
            if Some(ev.pid) == self.main_pid && self.exit.is_none() {
                let status = match ev.param(ParamName::Status) {
                    Some(Value::I64(s)) => *s,
                    _ => 0,
                };
                let sig = match ev.param(ParamName::Sig) {
                    Some(Value::Signal(s)) => *s as i64,
                    _ => 0,
                };
                let after = ev.ts.saturating_sub(self.first_exec_ts.unwrap_or(ev.ts));
                self.exit = Some(Exit {
                    status: if sig != 0 { 128 + sig } else { status },
                    after_secs: after as f64 / 1e9,
                });
            }
            return;
        }
        self.stats.events += 1;
        if ev.res < 0 && !(name == "connect" && ev.res == EINPROGRESS) {
            return;
        }
        match name {
            "execve" | "execveat" => {
                let path = str_param(ev, ParamName::TrustedExepath)
                    .or_else(|| str_param(ev, ParamName::Exe))
                    .unwrap_or("");
                if !path.starts_with('/') || path.ends_with("/runc") || path.ends_with("/crun") {
                    return;
                }
                self.stats.execs += 1;
                if self.main_pid.is_none() && !self.attached {
                    self.main_pid = Some(ev.pid);
                    self.first_exec_ts = Some(ev.ts);
                }
                let set = match self.exec.get_mut(path) {
                    Some(s) => s,
                    None => self.exec.entry(path.to_string()).or_default(),
                };
                if !set.contains(comm) {
                    set.insert(comm.to_string());
                }
            }
            "open" | "openat" | "openat2" | "creat" => {
                let path = match ev.fd {
                    Some(fd) if fd.name.starts_with('/') => fd.name,
                    _ => str_param(ev, ParamName::Name).unwrap_or(""),
                };
                if path.is_empty() {
                    return;
                }
                let flags = num_param(ev, ParamName::Flags).unwrap_or(0);
                let write =
                    name == "creat" || flags & O_ACCMODE != 0 || flags & (O_CREAT | O_TRUNC) != 0;
                if write {
                    self.learn_write(path);
                }
                if flags & O_ACCMODE != 1 && is_sensitive(path) && !self.reads.contains(path) {
                    self.reads.insert(path.to_string());
                }
            }
            "unlink" | "unlinkat" | "rename" | "renameat" | "renameat2" | "mkdir" | "mkdirat"
            | "rmdir" | "chmod" | "fchmodat" | "symlink" | "symlinkat" | "link" | "linkat" => {
                for p in ev.params {
                    if matches!(
                        p.name,
                        ParamName::Path
                            | ParamName::Name
                            | ParamName::Oldpath
                            | ParamName::Newpath
                            | ParamName::Linkpath
                            | ParamName::Filename
                    ) {
                        if let Value::Str(s) = p.value {
                            if s.starts_with('/') && matches!(name, "mkdir" | "mkdirat") {
                                // A directory the workload created: what it puts there is its own.
                                self.learn_write(&format!("{}/", s.trim_end_matches('/')));
                            } else if s.starts_with('/') {
                                self.learn_write(s);
                            }
                        }
                    }
                }
            }
            "socket" => {
                let ty = num_param(ev, ParamName::Type).unwrap_or(0);
                let dom = num_param(ev, ParamName::Domain).unwrap_or(0);
                if ty & SOCK_TYPE_MASK == SOCK_RAW || dom == AF_PACKET {
                    self.caps
                        .add("NET_RAW", || format!("{comm} opened a raw/packet socket"));
                }
            }
            "bind" => {
                let Some(Value::Addr(SockAddr::Inet { ip, port })) = ev.param(ParamName::Addr)
                else {
                    return;
                };
                let (ip, port) = (*ip, *port);
                if port != 0 && port < 1024 {
                    self.caps
                        .add("NET_BIND_SERVICE", || format!("{comm} bound port {port}"));
                }
                let fdnum = num_param(ev, ParamName::Fd).map(|v| v as i64).unwrap_or(-1);
                match ev.fd.and_then(|f| f.tuple).and_then(|t| proto_of(t.proto)) {
                    Some(Proto::Udp) if port != 0 => {
                        self.listen.insert(Endpoint {
                            address: ip,
                            port,
                            protocol: Proto::Udp,
                        });
                    }
                    _ => {
                        self.pending_bind.insert((ev.pid, fdnum), (ip, port));
                    }
                }
            }
            "listen" => {
                let fdnum = num_param(ev, ParamName::Fd).map(|v| v as i64).unwrap_or(-1);
                let local = self
                    .pending_bind
                    .remove(&(ev.pid, fdnum))
                    .or_else(|| ev.fd.and_then(|f| f.tuple).map(|t| (t.src_ip, t.src_port)));
                if let Some((ip, port)) = local.filter(|(_, p)| *p != 0) {
                    self.listen.insert(Endpoint {
                        address: ip,
                        port,
                        protocol: Proto::Tcp,
                    });
                }
            }
            "connect" => {
                let Some(fd) = ev.fd else { return };
                if !matches!(fd.kind, FdKind::Ipv4 | FdKind::Ipv6) {
                    return;
                }
                let (ip, port, proto) = match (fd.tuple, ev.param(ParamName::Addr)) {
                    (Some(t), _) if t.dst_port != 0 => (t.dst_ip, t.dst_port, proto_of(t.proto)),
                    (t, Some(Value::Addr(SockAddr::Inet { ip, port }))) => {
                        (*ip, *port, t.and_then(|t| proto_of(t.proto)))
                    }
                    _ => return,
                };
                if port == 0 || ip.is_unspecified() {
                    return;
                }
                self.connect.insert(Endpoint {
                    address: ip,
                    port,
                    protocol: proto.unwrap_or(Proto::Tcp),
                });
            }
            other => {
                if let Some(cap) = caps::for_event_syscall(other) {
                    self.caps.add(cap, || format!("{comm} called {other}"));
                }
            }
        }
    }

    fn learn_write(&mut self, path: &str) {
        if !self.writes.contains(path) {
            self.writes.insert(path.to_string());
        }
    }

    /// Builds the workload entry from what was observed and the cgroup's syscall set.
    pub fn finish(self, name: &str, instance: Instance, syscalls: &[EventType]) -> Workload {
        let mut caps = self.caps;
        let names: BTreeSet<SyscallName> = syscalls
            .iter()
            .filter(|t| t.is_syscall())
            .map(|t| SyscallName::from(*t))
            .collect();
        for s in &names {
            if let Some(cap) = caps::for_bitmap_syscall(s.as_str()) {
                caps.add(cap, || {
                    format!(
                        "{} in the cgroup's syscall set (may be the runtime's set-up)",
                        s.as_str()
                    )
                });
            }
        }
        let mut instance = instance;
        if instance.exited.is_none() {
            instance.exited = self.exit;
        }
        let mut scope = crate::model::Scope::default();
        if !instance.name.is_empty() {
            scope.names.push(instance.name.clone());
        }
        if !instance.image.is_empty() {
            scope.images.push(instance.image.clone());
        }
        let listen = self.listen;
        Workload {
            name: name.to_string(),
            scope,
            instances: vec![instance],
            syscalls: names,
            exec: self
                .exec
                .into_iter()
                .filter_map(|(p, names)| AbsPath::try_from(p).ok().map(|path| Exec { path, names }))
                .collect(),
            files: crate::model::Files {
                write: collapse(self.writes.iter().map(String::as_str)),
                read_sensitive: self
                    .reads
                    .into_iter()
                    .filter_map(|p| AbsPath::try_from(p).ok())
                    .collect(),
            },
            network: crate::model::Network {
                listen,
                connect: self.connect,
            },
            capabilities: caps.into_needs(),
            stats: self.stats,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use vigil_event::{Dir, FdInfo, FlagSet, Param, SockTuple};

    fn ev<'a>(
        etype: &str,
        pid: u32,
        res: i64,
        params: &'a [Param<'a>],
        fd: Option<FdInfo<'a>>,
    ) -> Event<'a> {
        Event {
            num: 0,
            ts: 1_000_000_000,
            etype: EventType::from_name(etype).unwrap(),
            dir: Dir::Exit,
            cpu: 0,
            tid: pid,
            pid,
            res,
            params,
            fd,
            latency: 0,
        }
    }

    fn file(name: &str) -> FdInfo<'_> {
        FdInfo {
            num: 3,
            kind: FdKind::File,
            name,
            nameraw: name,
            tuple: None,
            dev: 0,
            ino: 0,
            is_upper_layer: false,
        }
    }

    #[test]
    fn learns_exec_files_network_and_caps() {
        let mut r = Recorder::new();
        let p = [Param::new(
            ParamName::TrustedExepath,
            Value::Str("/usr/bin/busybox"),
        )];
        r.observe(&ev("execve", 10, 0, &p, None), "httpd");
        r.observe(&ev("execve", 11, 0, &p, None), "wget");
        // runtime set-up is ignored
        let p2 = [Param::new(ParamName::Flags, Value::Flags(1, FlagSet::Open))];
        r.observe(
            &ev("openat", 9, 3, &p2, Some(file("/proc/self/attr/exec"))),
            "runc:[2:INIT]",
        );
        r.observe(
            &ev("openat", 10, 3, &p2, Some(file("/var/log/x.log"))),
            "httpd",
        );
        let p3 = [Param::new(ParamName::Flags, Value::Flags(0, FlagSet::Open))];
        r.observe(
            &ev("openat", 10, 3, &p3, Some(file("/etc/shadow"))),
            "httpd",
        );
        r.observe(
            &ev("openat", 10, 3, &p3, Some(file("/etc/passwd"))),
            "httpd",
        );
        r.observe(
            &ev("openat", 10, -2, &p2, Some(file("/etc/nowrite"))),
            "httpd",
        );
        let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 7));
        let pb = [
            Param::new(ParamName::Res, Value::Res(0)),
            Param::new(
                ParamName::Addr,
                Value::Addr(SockAddr::Inet { ip, port: 80 }),
            ),
            Param::new(ParamName::Fd, Value::Fd(4)),
        ];
        r.observe(&ev("bind", 10, 0, &pb, None), "httpd");
        let pl = [
            Param::new(ParamName::Res, Value::Res(0)),
            Param::new(ParamName::Fd, Value::Fd(4)),
        ];
        r.observe(&ev("listen", 10, 0, &pl, None), "httpd");
        let t = SockTuple {
            proto: L4Proto::Tcp,
            src_ip: ip,
            src_port: 40000,
            dst_ip: ip,
            dst_port: 80,
        };
        let fd = FdInfo {
            num: 5,
            kind: FdKind::Ipv4,
            name: "",
            nameraw: "",
            tuple: Some(t),
            dev: 0,
            ino: 0,
            is_upper_layer: false,
        };
        r.observe(&ev("connect", 11, EINPROGRESS, &[], Some(fd)), "wget");
        r.observe(&ev("setuid", 10, 0, &[], None), "httpd");
        let exit = [Param::new(ParamName::Status, Value::I64(3))];
        r.observe(&ev("procexit", 10, 0, &exit, None), "httpd");
        assert_eq!(r.exit().map(|e| e.status), Some(3));

        let calls: Vec<EventType> = ["execve", "read", "chown"]
            .iter()
            .map(|n| EventType::from_name(n).unwrap())
            .collect();
        let w = r.finish(
            "web",
            Instance {
                name: "web".into(),
                ..Instance::default()
            },
            &calls,
        );
        assert_eq!(w.exec.len(), 1);
        assert_eq!(
            w.exec[0]
                .names
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["httpd", "wget"]
        );
        assert_eq!(
            w.files.write.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            ["/var/log/x.log"]
        );
        assert_eq!(
            w.files
                .read_sensitive
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>(),
            ["/etc/shadow"]
        );
        assert_eq!(
            w.network
                .listen
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>(),
            ["127.0.0.7:80/tcp"]
        );
        assert_eq!(
            w.network
                .connect
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>(),
            ["127.0.0.7:80/tcp"]
        );
        let caps: Vec<&str> = w.capabilities.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(caps, ["CHOWN", "NET_BIND_SERVICE", "SETUID"]);
        assert_eq!(w.syscalls.len(), 3);
        assert_eq!(w.instances[0].exited.as_ref().map(|e| e.status), Some(3));
        assert_eq!(w.stats.execs, 2);
    }

    #[test]
    fn sensitive_paths() {
        assert!(is_sensitive("/etc/shadow"));
        assert!(is_sensitive("/root/.bashrc"));
        assert!(is_sensitive("/home/u/.ssh/id_rsa"));
        assert!(!is_sensitive("/etc/shadow.bak"));
        assert!(!is_sensitive("/etc/passwd"));
    }
}
