//! The field registry: every Falco field vigil supports, its type, what argument it takes,
//! and how it is extracted from an [`Event`] plus the [`StateView`].
//!
//! Fields are resolved once at load time to a [`FieldRef`] (an enum id plus a pre-parsed
//! argument), so evaluation is a `match` on a small integer, never a string lookup. Values
//! come back as [`V`], borrowing from the event, the state, or a scratch buffer the caller
//! reuses, so extraction allocates nothing. We rejected a trait-object-per-field design
//! (libsinsp's filterchecks): one `match` is easier to audit and lets the compiler inline.
//!
//! Differences from Falco worth knowing (vigil has no user-space fd table and no DNS):
//! - `fd.*.name` fields (`fd.sip.name`, ...) return the IP address itself, never a host name.
//! - `fd.types` lists the types of fds 0-2 as seen at exec plus the event's own fd.
//! - local/remote (`fd.lip`, `fd.rport`, ...) are decided by the syscall: accept/accept4/
//!   listen/bind are the server side, everything else the client side.
//! - `fd.name_changed` is true for datagram send/receive on an unconnected socket, where the
//!   tuple is taken from the message address.

use crate::render;
use std::cell::{Cell, OnceCell};
use std::fmt::Write;
use std::net::IpAddr;
use vigil_event::{Container, Dir, Event, FdKind, ParamName, Process, StateView, Value};

/// The type of a field's values, which decides the operators it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FType {
    Str,
    Num,
    Bool,
    /// An IP address; compared with addresses or CIDR networks.
    Ip,
    /// Raw bytes (`evt.buffer`); compared with text or, for `b*` operators, hex.
    Bytes,
}

impl FType {
    pub fn as_str(self) -> &'static str {
        match self {
            FType::Str => "string",
            FType::Num => "number",
            FType::Bool => "bool",
            FType::Ip => "ip address",
            FType::Bytes => "bytes",
        }
    }
}

/// A value extracted from an event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum V<'a> {
    /// Not available (`<NA>`): every comparison with it is false.
    Na,
    S(&'a str),
    N(i64),
    B(bool),
    Ip(IpAddr),
    Bytes(&'a [u8]),
}

/// What argument (`field[arg]`) a field takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ArgSpec {
    None,
    /// `[N]`, optional (without it the field is multi-valued).
    IndexOpt,
    /// `[key]` or `.key`, required.
    Key,
    /// `[key]` or `.key`, optional.
    KeyOpt,
    /// A parameter name or index (`evt.arg.flags`, `evt.arg[0]`), required.
    Param,
    /// Mount index or path (`container.mount.dest[/etc]`).
    Mount,
}

macro_rules! fields {
    ($($id:ident = $name:literal : $ty:ident, $arg:ident, $desc:literal;)*) => {
        /// Field identifiers.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum F { $($id),* }

        struct Def { name: &'static str, id: F, ty: FType, arg: ArgSpec, desc: &'static str }

        const DEFS: &[Def] = &[$(Def { name: $name, id: F::$id, ty: FType::$ty, arg: ArgSpec::$arg, desc: $desc }),*];
    };
}

fields! {
    EvtNum = "evt.num": Num, None, "event number";
    EvtTime = "evt.time": Str, None, "event time of day (UTC), ns precision";
    EvtTimeS = "evt.time.s": Str, None, "event time of day (UTC), seconds";
    EvtTimeIso = "evt.time.iso8601": Str, None, "event time, RFC 3339";
    EvtDatetime = "evt.datetime": Str, None, "event date and time";
    EvtDatetimeS = "evt.datetime.s": Str, None, "event date and time, seconds";
    EvtRawtime = "evt.rawtime": Num, None, "event time, ns since the epoch";
    EvtRawtimeS = "evt.rawtime.s": Num, None, "seconds part of evt.rawtime";
    EvtRawtimeNs = "evt.rawtime.ns": Num, None, "nanoseconds part of evt.rawtime";
    EvtLatency = "evt.latency": Num, None, "syscall latency, ns";
    EvtLatencyS = "evt.latency.s": Num, None, "seconds part of evt.latency";
    EvtLatencyNs = "evt.latency.ns": Num, None, "nanoseconds part of evt.latency";
    EvtDir = "evt.dir": Str, None, "'>' for entry, '<' for exit events";
    EvtType = "evt.type": Str, None, "event type name";
    EvtCpu = "evt.cpu": Num, None, "CPU the event happened on";
    EvtArgs = "evt.args": Str, None, "all arguments, name=value";
    EvtInfo = "evt.info": Str, None, "all arguments, name=value";
    EvtArg = "evt.arg": Str, Param, "one argument, rendered";
    EvtRawarg = "evt.rawarg": Str, Param, "one argument, raw";
    EvtBuffer = "evt.buffer": Bytes, None, "I/O buffer of read/write events";
    EvtBuflen = "evt.buflen": Num, None, "length of the I/O buffer";
    EvtRes = "evt.res": Str, None, "SUCCESS or the errno name";
    EvtRawres = "evt.rawres": Num, None, "return value";
    EvtFailed = "evt.failed": Bool, None, "the syscall failed";
    EvtIsIo = "evt.is_io": Bool, None, "read or write event";
    EvtIsIoRead = "evt.is_io_read": Bool, None, "read event";
    EvtIsIoWrite = "evt.is_io_write": Bool, None, "write event";
    EvtIsOpenRead = "evt.is_open_read": Bool, None, "open for reading";
    EvtIsOpenWrite = "evt.is_open_write": Bool, None, "open for writing";
    EvtIsOpenExec = "evt.is_open_exec": Bool, None, "open creating an executable file";
    EvtIsOpenCreate = "evt.is_open_create": Bool, None, "open with O_CREAT";
    EvtHostname = "evt.hostname": Str, None, "host name";
    EvtCategory = "evt.category": Str, None, "event category";
    EvtSource = "evt.source": Str, None, "event source (syscall)";
    EvtCount = "evt.count": Num, None, "1 for every event";
    ProcPid = "proc.pid": Num, None, "process id";
    ProcPpid = "proc.ppid": Num, None, "parent process id";
    ProcVpid = "proc.vpid": Num, None, "process id in its pid namespace";
    ProcPvpid = "proc.pvpid": Num, None, "parent's vpid";
    ProcSid = "proc.sid": Num, None, "session id";
    ProcVpgid = "proc.vpgid": Num, None, "process group id in its pid namespace";
    ProcPgid = "proc.pgid": Num, None, "process group id";
    ProcName = "proc.name": Str, None, "comm";
    ProcPname = "proc.pname": Str, None, "parent's comm";
    ProcAname = "proc.aname": Str, IndexOpt, "ancestor's comm ([0] is the process)";
    ProcExe = "proc.exe": Str, None, "argv[0]";
    ProcPexe = "proc.pexe": Str, None, "parent's argv[0]";
    ProcAexe = "proc.aexe": Str, IndexOpt, "ancestor's argv[0]";
    ProcExepath = "proc.exepath": Str, None, "executable path";
    ProcPexepath = "proc.pexepath": Str, None, "parent's executable path";
    ProcAexepath = "proc.aexepath": Str, IndexOpt, "ancestor's executable path";
    ProcApid = "proc.apid": Num, IndexOpt, "ancestor's pid";
    ProcArgs = "proc.args": Str, None, "arguments";
    ProcCmdline = "proc.cmdline": Str, None, "comm and arguments";
    ProcPcmdline = "proc.pcmdline": Str, None, "parent's cmdline";
    ProcAcmdline = "proc.acmdline": Str, IndexOpt, "ancestor's cmdline";
    ProcExeline = "proc.exeline": Str, None, "argv[0] and arguments";
    ProcCmdnargs = "proc.cmdnargs": Num, None, "number of arguments";
    ProcCmdlenargs = "proc.cmdlenargs": Num, None, "total length of the arguments";
    ProcEnv = "proc.env": Str, KeyOpt, "environment, or one variable";
    ProcCwd = "proc.cwd": Str, None, "working directory";
    ProcTty = "proc.tty": Num, None, "controlling terminal (0 if none)";
    ProcDuration = "proc.duration": Num, None, "ns since the process started";
    ProcPpidDuration = "proc.ppid.duration": Num, None, "ns since the parent started";
    ProcSname = "proc.sname": Str, None, "session leader's comm";
    ProcVpgidName = "proc.vpgid.name": Str, None, "process group leader's comm";
    ProcVpgidExe = "proc.vpgid.exe": Str, None, "process group leader's argv[0]";
    ProcVpgidExepath = "proc.vpgid.exepath": Str, None, "process group leader's executable path";
    ProcIsVpgidLeader = "proc.is_vpgid_leader": Bool, None, "process is its group's leader";
    ProcIsSidLeader = "proc.is_sid_leader": Bool, None, "process is its session's leader";
    ProcIsExeUpperLayer = "proc.is_exe_upper_layer": Bool, None, "executable on overlayfs upper layer";
    ProcIsExeFromMemfd = "proc.is_exe_from_memfd": Bool, None, "executable is a memfd";
    ProcIsExeWritable = "proc.is_exe_writable": Bool, None, "executable writable by the user";
    ProcExeIno = "proc.exe_ino": Num, None, "executable inode";
    ProcExeInoCtime = "proc.exe_ino.ctime": Num, None, "executable ctime, ns";
    ProcExeInoMtime = "proc.exe_ino.mtime": Num, None, "executable mtime, ns";
    ProcExeInoCtimeDurProc = "proc.exe_ino.ctime_duration_proc_start": Num, None, "ns between executable ctime and exec";
    ProcExeInoCtimeDurPidns = "proc.exe_ino.ctime_duration_pidns_start": Num, None, "ns between pid namespace start and executable ctime";
    ProcPidnsInitStartTs = "proc.pidns_init_start_ts": Num, None, "start of the pid namespace's init";
    ProcStdinType = "proc.stdin.type": Str, None, "fd 0 type";
    ProcStdoutType = "proc.stdout.type": Str, None, "fd 1 type";
    ProcStderrType = "proc.stderr.type": Str, None, "fd 2 type";
    ProcStdinName = "proc.stdin.name": Str, None, "fd 0 name";
    ProcStdoutName = "proc.stdout.name": Str, None, "fd 1 name";
    ProcStderrName = "proc.stderr.name": Str, None, "fd 2 name";
    ThreadTid = "thread.tid": Num, None, "thread id";
    ThreadVtid = "thread.vtid": Num, None, "thread id in its pid namespace";
    ThreadCapEffective = "thread.cap_effective": Str, None, "effective capabilities";
    ThreadCapPermitted = "thread.cap_permitted": Str, None, "permitted capabilities";
    ThreadCapInheritable = "thread.cap_inheritable": Str, None, "inheritable capabilities";
    UserUid = "user.uid": Num, None, "user id";
    UserName = "user.name": Str, None, "user name";
    UserHomedir = "user.homedir": Str, None, "home directory";
    UserShell = "user.shell": Str, None, "login shell";
    UserLoginuid = "user.loginuid": Num, None, "audit login uid (-1 if unset)";
    UserLoginname = "user.loginname": Str, None, "audit login user name";
    GroupGid = "group.gid": Num, None, "group id";
    GroupName = "group.name": Str, None, "group name";
    FdNum = "fd.num": Num, None, "descriptor number";
    FdType = "fd.type": Str, None, "descriptor type";
    FdTypechar = "fd.typechar": Str, None, "descriptor type letter";
    FdName = "fd.name": Str, None, "path or connection tuple";
    FdNameraw = "fd.nameraw": Str, None, "path as passed";
    FdDirectory = "fd.directory": Str, None, "directory of the file";
    FdFilename = "fd.filename": Str, None, "file name without directory";
    FdNameChanged = "fd.name_changed": Bool, None, "the event changed the fd's name";
    FdIp = "fd.ip": Ip, None, "client or server ip";
    FdCip = "fd.cip": Ip, None, "client ip";
    FdSip = "fd.sip": Ip, None, "server ip";
    FdLip = "fd.lip": Ip, None, "local ip";
    FdRip = "fd.rip": Ip, None, "remote ip";
    FdPort = "fd.port": Num, None, "client or server port";
    FdCport = "fd.cport": Num, None, "client port";
    FdSport = "fd.sport": Num, None, "server port";
    FdLport = "fd.lport": Num, None, "local port";
    FdRport = "fd.rport": Num, None, "remote port";
    FdNet = "fd.net": Ip, None, "client or server ip, for CIDR matches";
    FdCnet = "fd.cnet": Ip, None, "client ip, for CIDR matches";
    FdSnet = "fd.snet": Ip, None, "server ip, for CIDR matches";
    FdLnet = "fd.lnet": Ip, None, "local ip, for CIDR matches";
    FdRnet = "fd.rnet": Ip, None, "remote ip, for CIDR matches";
    FdCipName = "fd.cip.name": Str, None, "client ip (no DNS: the address)";
    FdSipName = "fd.sip.name": Str, None, "server ip (no DNS: the address)";
    FdLipName = "fd.lip.name": Str, None, "local ip (no DNS: the address)";
    FdRipName = "fd.rip.name": Str, None, "remote ip (no DNS: the address)";
    FdL4proto = "fd.l4proto": Str, None, "tcp, udp, icmp or raw";
    FdSockfamily = "fd.sockfamily": Str, None, "ip or unix";
    FdIsServer = "fd.is_server": Bool, None, "server side of the connection";
    FdConnected = "fd.connected": Bool, None, "socket is connected";
    FdTypes = "fd.types": Str, IndexOpt, "types of the process's fds";
    FdDev = "fd.dev": Num, None, "device number";
    FdIno = "fd.ino": Num, None, "inode number";
    FdIsUpperLayer = "fd.is_upper_layer": Bool, None, "file on overlayfs upper layer";
    ContainerId = "container.id": Str, None, "short container id, or host";
    ContainerFullId = "container.full_id": Str, None, "full container id, or host";
    ContainerName = "container.name": Str, None, "container name, or host";
    ContainerImage = "container.image": Str, None, "image reference";
    ContainerImageRepository = "container.image.repository": Str, None, "image repository";
    ContainerImageTag = "container.image.tag": Str, None, "image tag";
    ContainerImageDigest = "container.image.digest": Str, None, "image digest";
    ContainerImageId = "container.image.id": Str, None, "image id";
    ContainerType = "container.type": Str, None, "container runtime";
    ContainerPrivileged = "container.privileged": Bool, None, "privileged container";
    ContainerMounts = "container.mounts": Str, None, "all mounts, source:dest:mode:rw:propagation";
    ContainerMount = "container.mount": Str, Mount, "one mount by index or source";
    ContainerMountSource = "container.mount.source": Str, Mount, "mount source by index or dest";
    ContainerMountDest = "container.mount.dest": Str, Mount, "mount destination by index or source";
    ContainerMountMode = "container.mount.mode": Str, Mount, "mount mode by index or source";
    ContainerMountRdwr = "container.mount.rdwr": Str, Mount, "mount read/write by index or source";
    ContainerMountPropagation = "container.mount.propagation": Str, Mount, "mount propagation by index or source";
    ContainerStartTs = "container.start_ts": Num, None, "container start, ns";
    ContainerDuration = "container.duration": Num, None, "ns since the container started";
    ContainerLabel = "container.label": Str, Key, "one container label";
    ContainerLabels = "container.labels": Str, None, "all container labels";
    K8sPodName = "k8s.pod.name": Str, None, "pod name";
    K8sPodUid = "k8s.pod.uid": Str, None, "pod uid";
    K8sPodId = "k8s.pod.id": Str, None, "pod uid";
    K8sNsName = "k8s.ns.name": Str, None, "namespace";
    K8sPodLabel = "k8s.pod.label": Str, Key, "one pod label";
    K8sPodLabels = "k8s.pod.labels": Str, None, "all pod labels";
    K8sContainerName = "k8s.container.name": Str, None, "container name in the pod spec";
}

/// A resolved field argument.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    None,
    Index(usize),
    Key(Box<str>),
    Param(ParamName),
    /// `evt.arg.NAME` for a name vigil's events never carry: always `<NA>`.
    UnknownParam(Box<str>),
}

/// A field resolved at load time.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldRef {
    pub id: F,
    pub arg: Arg,
    pub ty: FType,
    /// The field yields several values (`proc.aname` without index, `fd.types`, ...).
    pub multi: bool,
    /// For list fields (`fd.types`), `in` means "all values in the set".
    pub list: bool,
}

/// Why a field name could not be resolved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("unknown field '{0}'")]
    Unknown(String),
    #[error("field '{0}' requires an argument, as in {0}[...]")]
    MissingArg(String),
    #[error("field '{0}' does not take an argument")]
    UnexpectedArg(String),
    #[error("invalid argument '{arg}' for field '{field}': {why}")]
    BadArg {
        field: String,
        arg: String,
        why: String,
    },
}

/// Names of all supported fields, for `vigil rules fields`-style listings.
pub fn all_fields() -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
    DEFS.iter().map(|d| (d.name, d.ty.as_str(), d.desc))
}

/// Resolves `name` (and `[arg]`, if written) to a field.
pub fn resolve(name: &str, arg: Option<&str>) -> Result<FieldRef, FieldError> {
    // `evt.arg.flags`, `k8s.pod.label.app`, `proc.env.HOME`: the key is part of the name.
    let (def, arg) = match DEFS.iter().find(|d| d.name == name) {
        Some(d) => (d, arg.map(str::to_string)),
        None => {
            let found = DEFS
                .iter()
                .filter(|d| matches!(d.arg, ArgSpec::Param | ArgSpec::Key | ArgSpec::KeyOpt))
                .find_map(|d| {
                    name.strip_prefix(d.name)
                        .and_then(|rest| rest.strip_prefix('.'))
                        .filter(|k| !k.is_empty())
                        .map(|k| (d, k))
                });
            match found {
                Some((d, key)) if arg.is_none() => (d, Some(key.to_string())),
                Some(_) => return Err(FieldError::UnexpectedArg(name.to_string())),
                None => return Err(FieldError::Unknown(name.to_string())),
            }
        }
    };
    let bad = |why: &str| FieldError::BadArg {
        field: def.name.to_string(),
        arg: arg.clone().unwrap_or_default(),
        why: why.to_string(),
    };
    let mut multi = false;
    let resolved = match (def.arg, arg.as_deref()) {
        (ArgSpec::None, None) => Arg::None,
        (ArgSpec::None, Some(_)) => return Err(FieldError::UnexpectedArg(def.name.to_string())),
        (ArgSpec::IndexOpt, None) => {
            multi = true;
            Arg::None
        }
        (ArgSpec::IndexOpt, Some(a)) => Arg::Index(
            a.trim()
                .parse::<usize>()
                .map_err(|_| bad("expected a non-negative index"))?,
        ),
        (ArgSpec::Key | ArgSpec::Param | ArgSpec::Mount, None) => {
            return Err(FieldError::MissingArg(def.name.to_string()))
        }
        (ArgSpec::Key | ArgSpec::KeyOpt, Some(a)) => Arg::Key(a.into()),
        (ArgSpec::KeyOpt, None) => Arg::None,
        (ArgSpec::Param, Some(a)) => match a.trim().parse::<usize>() {
            Ok(i) => Arg::Index(i),
            Err(_) => match ParamName::from_name(a) {
                Some(p) => Arg::Param(p),
                None if a == "res_or_fd" => Arg::Key(a.into()),
                None if a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') => {
                    Arg::UnknownParam(a.into())
                }
                None => return Err(bad("expected a parameter name or index")),
            },
        },
        (ArgSpec::Mount, Some(a)) => match a.trim().parse::<usize>() {
            Ok(i) => Arg::Index(i),
            Err(_) => Arg::Key(a.into()),
        },
    };
    let ty = match (def.id, &resolved) {
        // Raw arguments are numbers when the parameter is numeric; decided per event.
        (F::EvtRawarg, _) => FType::Str,
        _ => def.ty,
    };
    let list = multi && def.id == F::FdTypes;
    Ok(FieldRef {
        id: def.id,
        arg: resolved,
        ty,
        multi,
        list,
    })
}

/// Ancestors remembered per event (`proc.aname[1..=8]` are looked up at most once).
const ANCESTOR_CACHE: usize = 8;

/// Everything extraction needs for one event. The process, its container and its nearest
/// ancestors are looked up lazily, once per event: many rules are decided by event fields
/// alone, and upstream rules test `proc.aname[N]` for the same N many times.
pub struct Cx<'a, S: StateView + ?Sized> {
    pub ev: &'a Event<'a>,
    pub state: &'a S,
    proc: OnceCell<Option<&'a Process>>,
    cont: OnceCell<Option<&'a Container>>,
    anc: [Cell<Option<Option<&'a Process>>>; ANCESTOR_CACHE],
}

impl<'a, S: StateView + ?Sized> Cx<'a, S> {
    pub fn new(ev: &'a Event<'a>, state: &'a S) -> Self {
        Cx {
            ev,
            state,
            proc: OnceCell::new(),
            cont: OnceCell::new(),
            anc: Default::default(),
        }
    }

    /// The event's process, if the state knows it.
    pub fn proc(&self) -> Option<&'a Process> {
        *self.proc.get_or_init(|| self.state.process(self.ev.pid))
    }

    /// The process's container, if it runs in one the state knows.
    pub fn cont(&self) -> Option<&'a Container> {
        *self.cont.get_or_init(|| {
            self.proc()
                .filter(|p| p.in_container())
                .and_then(|p| self.state.container(&p.container_id))
        })
    }

    fn parent_of(&self, p: &'a Process) -> Option<&'a Process> {
        if p.ppid == 0 || p.ppid == p.pid {
            return None;
        }
        self.state.process(p.ppid)
    }

    /// The n-th ancestor (0 = the process itself), bounded against cycles.
    fn ancestor(&self, n: usize) -> Option<&'a Process> {
        if n == 0 {
            return self.proc();
        }
        if n > MAX_ANCESTORS {
            return None;
        }
        let mut p = self.proc()?;
        for i in 1..=n {
            p = if i <= ANCESTOR_CACHE {
                match self.anc[i - 1].get() {
                    Some(cached) => cached?,
                    None => {
                        let a = self.parent_of(p);
                        self.anc[i - 1].set(Some(a));
                        a?
                    }
                }
            } else {
                self.parent_of(p)?
            };
        }
        Some(p)
    }
}

/// Deepest ancestor `proc.aname` and friends look at.
pub const MAX_ANCESTORS: usize = 64;

fn s_or_na(s: &str) -> V<'_> {
    if s.is_empty() {
        V::Na
    } else {
        V::S(s)
    }
}

fn join_args<'b>(buf: &'b mut String, head: Option<&str>, args: &[String]) -> V<'b> {
    buf.clear();
    if let Some(h) = head {
        buf.push_str(h);
    }
    for a in args {
        if !buf.is_empty() {
            buf.push(' ');
        }
        buf.push_str(a);
    }
    V::S(buf)
}

fn dirname(path: &str) -> &str {
    // memrchr: a byte search, much faster than `rfind(char)`'s generic searcher.
    match memchr::memrchr(b'/', path.as_bytes()) {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => path,
    }
}

fn basename(path: &str) -> &str {
    match memchr::memrchr(b'/', path.as_bytes()) {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// x86_64 syscall numbers the extractors test (checked against the name table in tests), so
/// the hot path compares integers instead of names.
mod nr {
    pub const OPEN: u16 = 2;
    pub const CREAT: u16 = 85;
    pub const OPENAT: u16 = 257;
    pub const OPEN_BY_HANDLE_AT: u16 = 304;
    pub const OPENAT2: u16 = 437;
    pub const ACCEPT: u16 = 43;
    pub const ACCEPT4: u16 = 288;
    pub const LISTEN: u16 = 50;
    pub const BIND: u16 = 49;
    pub const SENDTO: u16 = 44;
    pub const RECVFROM: u16 = 45;
    pub const SENDMSG: u16 = 46;
    pub const RECVMSG: u16 = 47;
    pub const EXECVE: u16 = 59;
    pub const EXECVEAT: u16 = 322;
    pub const READ: u16 = 0;
    pub const WRITE: u16 = 1;
    pub const PREAD64: u16 = 17;
    pub const PWRITE64: u16 = 18;
    pub const READV: u16 = 19;
    pub const WRITEV: u16 = 20;
    pub const SENDFILE: u16 = 40;
    pub const PREADV: u16 = 295;
    pub const PWRITEV: u16 = 296;
    pub const RECVMMSG: u16 = 299;
    pub const SENDMMSG: u16 = 307;
}

fn is_server_event(ev: &Event<'_>) -> bool {
    matches!(ev.etype.0, nr::ACCEPT | nr::ACCEPT4 | nr::LISTEN | nr::BIND)
}

fn is_datagram_io(ev: &Event<'_>) -> bool {
    matches!(
        ev.etype.0,
        nr::SENDTO | nr::SENDMSG | nr::RECVFROM | nr::RECVMSG
    )
}

fn fmt_num(buf: &mut String, n: impl std::fmt::Display) -> V<'_> {
    buf.clear();
    let _ = write!(buf, "{n}");
    V::S(buf)
}

fn param_by_index<'a>(ev: &'a Event<'a>, i: usize) -> Option<&'a Value<'a>> {
    ev.params.get(i).map(|p| &p.value)
}

fn is_open(ev: &Event<'_>) -> bool {
    matches!(
        ev.etype.0,
        nr::OPEN | nr::OPENAT | nr::OPENAT2 | nr::CREAT | nr::OPEN_BY_HANDLE_AT
    )
}

fn open_flags(ev: &Event<'_>) -> Option<u64> {
    match ev.param(ParamName::Flags)? {
        Value::Flags(f, _) | Value::U64(f) => Some(*f),
        Value::I64(f) => Some(*f as u64),
        _ => None,
    }
}

fn mount_matches(pattern: &str, path: &str) -> bool {
    crate::compile::glob_match(pattern.as_bytes(), path.as_bytes(), false)
}

/// Extracts the `idx`-th value of a field (single-valued fields have only index 0).
/// `None` means there are no more values.
pub fn extract<'a: 'b, 'b, S: StateView + ?Sized>(
    f: &FieldRef,
    cx: &'b Cx<'a, S>,
    idx: usize,
    buf: &'b mut String,
) -> Option<V<'b>> {
    if f.multi {
        return extract_multi(f, cx, idx, buf);
    }
    if idx > 0 {
        return None;
    }
    Some(extract_one(f, cx, buf))
}

/// The value of a single-valued field (`!f.multi`).
#[inline]
pub(crate) fn extract_single<'a: 'b, 'b, S: StateView + ?Sized>(
    f: &FieldRef,
    cx: &'b Cx<'a, S>,
    buf: &'b mut String,
) -> V<'b> {
    debug_assert!(!f.multi);
    extract_one(f, cx, buf)
}

fn extract_multi<'a: 'b, 'b, S: StateView + ?Sized>(
    f: &FieldRef,
    cx: &'b Cx<'a, S>,
    idx: usize,
    buf: &'b mut String,
) -> Option<V<'b>> {
    match f.id {
        // Without an index: every ancestor, starting at the parent.
        F::ProcAname => cx.ancestor(idx + 1).map(|p| s_or_na(&p.comm)),
        F::ProcAexe => cx.ancestor(idx + 1).map(|p| s_or_na(&p.exe)),
        F::ProcAexepath => cx.ancestor(idx + 1).map(|p| s_or_na(&p.exepath)),
        F::ProcApid => cx.ancestor(idx + 1).map(|p| V::N(p.pid as i64)),
        F::ProcAcmdline => {
            let p = cx.ancestor(idx + 1)?;
            Some(join_args(buf, Some(&p.comm), &p.args))
        }
        F::FdTypes => {
            let p = cx.proc();
            if idx < 3 {
                let from_event = cx
                    .ev
                    .fd
                    .filter(|fd| fd.num == idx as i64)
                    .map(|fd| fd.kind.as_str());
                let kind = from_event.or_else(|| {
                    p.map(|p| p.stdio[idx].kind.as_str())
                        .filter(|k| !k.is_empty())
                });
                Some(kind.map_or(V::Na, V::S))
            } else if idx == 3 {
                match cx.ev.fd {
                    Some(fd) if fd.num > 2 => Some(V::S(fd.kind.as_str())),
                    _ => None,
                }
            } else {
                None
            }
        }
        _ => {
            if idx == 0 {
                Some(extract_one(f, cx, buf))
            } else {
                None
            }
        }
    }
}

fn with_proc<'b>(p: Option<&'b Process>, f: impl FnOnce(&'b Process) -> V<'b>) -> V<'b> {
    p.map_or(V::Na, f)
}

fn extract_one<'a: 'b, 'b, S: StateView + ?Sized>(
    f: &FieldRef,
    cx: &'b Cx<'a, S>,
    buf: &'b mut String,
) -> V<'b> {
    let ev = cx.ev;
    let fd = ev.fd.as_ref();
    // Fields are declared grouped: event, process (incl. thread/user/group), fd, container.
    let d = f.id as u16;
    if d < F::ProcPid as u16 || (d >= F::FdNum as u16 && d < F::ContainerId as u16) {
        return extract_evt_fd(f, ev, fd, cx, buf).unwrap_or(V::Na);
    }
    let p = cx.proc();
    if d < F::FdNum as u16 {
        return extract_proc(f, p, cx, buf).unwrap_or(V::Na);
    }
    let c = cx.cont();
    match f.id {
        F::ContainerId => match p {
            None => V::Na,
            Some(p) if !p.in_container() => V::S("host"),
            Some(p) => V::S(&p.container_id[..p.container_id.len().min(12)]),
        },
        F::ContainerFullId => match p {
            None => V::Na,
            Some(p) if !p.in_container() => V::S("host"),
            Some(p) => V::S(&p.container_id),
        },
        F::ContainerName => match p {
            None => V::Na,
            Some(p) if !p.in_container() => V::S("host"),
            Some(_) => c.map_or(V::Na, |c| s_or_na(&c.name)),
        },
        F::ContainerType => match p {
            None => V::Na,
            Some(p) if !p.in_container() => V::S("host"),
            Some(_) => c.map_or(V::Na, |c| s_or_na(&c.runtime)),
        },
        F::ContainerImage => c.map_or(V::Na, |c| s_or_na(&c.image)),
        F::ContainerImageRepository => c.map_or(V::Na, |c| s_or_na(&c.image_repository)),
        F::ContainerImageTag => c.map_or(V::Na, |c| s_or_na(&c.image_tag)),
        F::ContainerImageDigest => c.map_or(V::Na, |c| s_or_na(&c.image_digest)),
        F::ContainerImageId => c.map_or(V::Na, |c| s_or_na(&c.image_id)),
        F::ContainerPrivileged => c.map_or(V::Na, |c| V::B(c.privileged)),
        F::ContainerMounts => c.map_or(V::Na, |c| {
            buf.clear();
            for (i, m) in c.mounts.iter().enumerate() {
                if i > 0 {
                    buf.push(',');
                }
                let _ = write!(
                    buf,
                    "{}:{}:{}:{}:{}",
                    m.source, m.dest, m.mode, m.rw, m.propagation
                );
            }
            V::S(buf)
        }),
        F::ContainerMount
        | F::ContainerMountSource
        | F::ContainerMountDest
        | F::ContainerMountMode
        | F::ContainerMountRdwr
        | F::ContainerMountPropagation => {
            let Some(c) = c else { return V::Na };
            let m = match &f.arg {
                Arg::Index(i) => c.mounts.get(*i),
                // `.source[X]` looks the mount up by destination; the others by source.
                Arg::Key(k) if f.id == F::ContainerMountSource => {
                    c.mounts.iter().find(|m| mount_matches(k, &m.dest))
                }
                Arg::Key(k) => c.mounts.iter().find(|m| mount_matches(k, &m.source)),
                _ => None,
            };
            let Some(m) = m else { return V::Na };
            match f.id {
                F::ContainerMount => {
                    buf.clear();
                    let _ = write!(
                        buf,
                        "{}:{}:{}:{}:{}",
                        m.source, m.dest, m.mode, m.rw, m.propagation
                    );
                    V::S(buf)
                }
                F::ContainerMountSource => V::S(&m.source),
                F::ContainerMountDest => V::S(&m.dest),
                F::ContainerMountMode => V::S(&m.mode),
                F::ContainerMountRdwr => V::S(if m.rw { "true" } else { "false" }),
                _ => V::S(&m.propagation),
            }
        }
        F::ContainerStartTs => c.map_or(V::Na, |c| nonzero(c.start_ts)),
        F::ContainerDuration => c.map_or(V::Na, |c| duration(ev.ts, c.start_ts)),
        F::ContainerLabel => match (&f.arg, c) {
            (Arg::Key(k), Some(c)) => c.labels.get(&**k).map_or(V::Na, |v| V::S(v)),
            _ => V::Na,
        },
        F::ContainerLabels => c.map_or(V::Na, |c| {
            buf.clear();
            for (i, (k, v)) in c.labels.iter().enumerate() {
                if i > 0 {
                    buf.push_str(", ");
                }
                let _ = write!(buf, "{k}:{v}");
            }
            V::S(buf)
        }),
        F::K8sPodName | F::K8sPodUid | F::K8sPodId | F::K8sNsName | F::K8sContainerName => {
            match c.and_then(|c| c.k8s.as_ref()) {
                None => V::Na,
                Some(k) => s_or_na(match f.id {
                    F::K8sPodName => &k.pod_name,
                    F::K8sNsName => &k.namespace,
                    F::K8sContainerName => &k.container_name,
                    _ => &k.pod_uid,
                }),
            }
        }
        F::K8sPodLabel => match (&f.arg, c.and_then(|c| c.k8s.as_ref())) {
            (Arg::Key(key), Some(k)) => k.pod_labels.get(&**key).map_or(V::Na, |v| V::S(v)),
            _ => V::Na,
        },
        F::K8sPodLabels => match c.and_then(|c| c.k8s.as_ref()) {
            None => V::Na,
            Some(k) => {
                buf.clear();
                for (i, (key, v)) in k.pod_labels.iter().enumerate() {
                    if i > 0 {
                        buf.push_str(", ");
                    }
                    let _ = write!(buf, "{key}:{v}");
                }
                V::S(buf)
            }
        },
        // Event, fd and process fields were handled above.
        _ => V::Na,
    }
}

fn extract_evt_fd<'a: 'b, 'b, S: StateView + ?Sized>(
    f: &FieldRef,
    ev: &'b Event<'b>,
    fd: Option<&'b vigil_event::FdInfo<'b>>,
    cx: &'b Cx<'a, S>,
    buf: &'b mut String,
) -> Option<V<'b>> {
    // Built only by the network fields: copying it for every field costs.
    let tuple = || fd.and_then(|fd| fd.tuple);
    Some(match f.id {
        F::EvtNum => V::N(ev.num as i64),
        F::EvtTime => {
            buf.clear();
            let _ = buf.write_str(&vigil_event::alert::format_time_of_day(ev.ts));
            V::S(buf)
        }
        F::EvtTimeS => {
            let secs = (ev.ts / 1_000_000_000) % 86_400;
            buf.clear();
            let _ = write!(
                buf,
                "{:02}:{:02}:{:02}",
                secs / 3600,
                (secs / 60) % 60,
                secs % 60
            );
            V::S(buf)
        }
        F::EvtTimeIso => {
            buf.clear();
            buf.push_str(&vigil_event::alert::format_rfc3339(ev.ts));
            V::S(buf)
        }
        F::EvtDatetime | F::EvtDatetimeS => {
            buf.clear();
            let s = vigil_event::alert::format_rfc3339(ev.ts);
            // "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" -> "YYYY-MM-DD HH:MM:SS[.nnnnnnnnn]"
            let end = if f.id == F::EvtDatetimeS {
                19
            } else {
                s.len() - 1
            };
            buf.push_str(&s[..10]);
            buf.push(' ');
            buf.push_str(&s[11..end]);
            V::S(buf)
        }
        F::EvtRawtime => V::N(ev.ts as i64),
        F::EvtRawtimeS => V::N((ev.ts / 1_000_000_000) as i64),
        F::EvtRawtimeNs => V::N((ev.ts % 1_000_000_000) as i64),
        F::EvtLatency => V::N(ev.latency as i64),
        F::EvtLatencyS => V::N((ev.latency / 1_000_000_000) as i64),
        F::EvtLatencyNs => V::N((ev.latency % 1_000_000_000) as i64),
        F::EvtDir => V::S(if ev.dir == Dir::Enter { ">" } else { "<" }),
        F::EvtType => V::S(ev.etype.name()),
        F::EvtCpu => V::N(ev.cpu as i64),
        F::EvtArgs | F::EvtInfo => {
            buf.clear();
            let exe = is_exec(ev);
            for (i, prm) in ev.params.iter().enumerate() {
                if i > 0 {
                    buf.push(' ');
                }
                buf.push_str(prm.name.as_str());
                buf.push('=');
                if let Some(n) = flag_number(&prm.value) {
                    let _ = write!(buf, "{n}(");
                    render::write_value(buf, &prm.value, exe && prm.name == ParamName::Flags);
                    buf.push(')');
                } else {
                    render::write_value(buf, &prm.value, exe && prm.name == ParamName::Flags);
                }
            }
            V::S(buf)
        }
        F::EvtArg | F::EvtRawarg => {
            let v = match &f.arg {
                Arg::Index(i) => param_by_index(ev, *i),
                Arg::Param(pn) => ev.param(*pn),
                Arg::Key(k) if &**k == "res_or_fd" => {
                    ev.param(ParamName::Fd).or_else(|| ev.param(ParamName::Res))
                }
                _ => None,
            };
            let Some(v) = v else { return Some(V::Na) };
            if matches!(v, Value::None) {
                return Some(V::Na);
            }
            // Falco renders uid/gid arguments as names when the user is known.
            if f.id == F::EvtArg {
                let named = match v {
                    Value::Uid(u) => cx
                        .proc()
                        .and_then(|p| cx.state.user(p, *u))
                        .map(|u| u.name.as_str()),
                    Value::Gid(g) => cx.proc().and_then(|p| cx.state.group_name(p, *g)),
                    _ => None,
                };
                if let Some(n) = named.filter(|n| !n.is_empty()) {
                    return Some(V::S(n));
                }
            }
            if f.id == F::EvtRawarg {
                match render::raw_number(v) {
                    Some(n) => fmt_num(buf, n),
                    None => {
                        buf.clear();
                        render::write_value(buf, v, false);
                        V::S(buf)
                    }
                }
            } else {
                buf.clear();
                let exe = is_exec(ev) && matches!(f.arg, Arg::Param(ParamName::Flags));
                render::write_value(buf, v, exe);
                V::S(buf)
            }
        }
        F::EvtBuffer => match ev.param(ParamName::Data) {
            Some(Value::Bytes(b)) => V::Bytes(b),
            Some(Value::Str(s)) => V::Bytes(s.as_bytes()),
            _ => V::Na,
        },
        F::EvtBuflen => match ev.param(ParamName::Data) {
            Some(Value::Bytes(b)) => V::N(b.len() as i64),
            Some(Value::Str(s)) => V::N(s.len() as i64),
            _ => match ev.param(ParamName::Size) {
                Some(v) => render::raw_number(v).map_or(V::Na, V::N),
                None => V::Na,
            },
        },
        F::EvtRes => {
            if ev.dir == Dir::Enter {
                return Some(V::Na);
            }
            buf.clear();
            render::write_res(buf, ev.res);
            V::S(buf)
        }
        F::EvtRawres => {
            if ev.dir == Dir::Enter {
                V::Na
            } else {
                V::N(ev.res)
            }
        }
        F::EvtFailed => V::B(ev.failed()),
        F::EvtIsIo | F::EvtIsIoRead | F::EvtIsIoWrite => {
            let n = ev.etype.0;
            let read = matches!(
                n,
                nr::READ
                    | nr::READV
                    | nr::PREAD64
                    | nr::PREADV
                    | nr::RECVFROM
                    | nr::RECVMSG
                    | nr::RECVMMSG
            );
            let write = matches!(
                n,
                nr::WRITE
                    | nr::WRITEV
                    | nr::PWRITE64
                    | nr::PWRITEV
                    | nr::SENDTO
                    | nr::SENDMSG
                    | nr::SENDMMSG
                    | nr::SENDFILE
            );
            V::B(match f.id {
                F::EvtIsIoRead => read,
                F::EvtIsIoWrite => write,
                _ => read || write,
            })
        }
        F::EvtIsOpenRead | F::EvtIsOpenWrite | F::EvtIsOpenExec | F::EvtIsOpenCreate => {
            if !is_open(ev) {
                return Some(V::B(false));
            }
            let creat = ev.etype.0 == nr::CREAT;
            let flags = open_flags(ev).unwrap_or(if creat { 0o101 } else { 0 });
            let acc = flags & 0o3;
            V::B(match f.id {
                F::EvtIsOpenRead => acc == 0 || acc == 2,
                F::EvtIsOpenWrite => acc == 1 || acc == 2,
                F::EvtIsOpenCreate => flags & 0o100 != 0,
                _ => {
                    let mode = match ev.param(ParamName::Mode) {
                        Some(Value::Mode(m)) => *m as u64,
                        Some(v) => render::raw_number(v).unwrap_or(0) as u64,
                        None => 0,
                    };
                    (flags & 0o100 != 0 || creat) && mode & 0o111 != 0
                }
            })
        }
        F::EvtHostname => V::S(cx.state.hostname()),
        F::EvtCategory => V::S(ev.etype.category().as_str()),
        F::EvtSource => V::S("syscall"),
        F::EvtCount => V::N(1),
        F::FdNum => fd.map_or(V::Na, |fd| V::N(fd.num)),
        F::FdType => fd.map_or(V::Na, |fd| V::S(fd.kind.as_str())),
        F::FdTypechar => fd.map_or(V::Na, |fd| {
            V::S(match fd.kind.as_char() {
                'f' => "f",
                'd' => "d",
                '4' => "4",
                '6' => "6",
                'u' => "u",
                'p' => "p",
                'e' => "e",
                's' => "s",
                'l' => "l",
                'i' => "i",
                't' => "t",
                'n' => "n",
                'b' => "b",
                'r' => "r",
                'P' => "P",
                _ => "o",
            })
        }),
        F::FdName => match fd {
            None => V::Na,
            Some(fd) => match (fd.tuple, fd.kind) {
                (Some(t), FdKind::Ipv4 | FdKind::Ipv6) => {
                    buf.clear();
                    let _ = write!(buf, "{t}");
                    V::S(buf)
                }
                _ => s_or_na(fd.name),
            },
        },
        F::FdNameraw => fd.map_or(V::Na, |fd| {
            s_or_na(if fd.nameraw.is_empty() {
                fd.name
            } else {
                fd.nameraw
            })
        }),
        F::FdDirectory => fd.map_or(V::Na, |fd| match fd.kind {
            FdKind::Directory => s_or_na(fd.name),
            FdKind::File | FdKind::Memfd if fd.name.starts_with('/') => V::S(dirname(fd.name)),
            _ => V::Na,
        }),
        F::FdFilename => fd.map_or(V::Na, |fd| match fd.kind {
            FdKind::File | FdKind::Directory | FdKind::Memfd if !fd.name.is_empty() => {
                V::S(basename(fd.name))
            }
            _ => V::Na,
        }),
        F::FdNameChanged => V::B(
            is_datagram_io(ev)
                && tuple().is_some()
                && fd.is_some_and(|fd| fd.kind == FdKind::Ipv4 || fd.kind == FdKind::Ipv6)
                && !connected(ev),
        ),
        F::FdIp | F::FdNet => tuple().map_or(V::Na, |t| V::Ip(t.src_ip)),
        F::FdCip | F::FdCnet => tuple().map_or(V::Na, |t| V::Ip(t.src_ip)),
        F::FdSip | F::FdSnet => tuple().map_or(V::Na, |t| V::Ip(t.dst_ip)),
        F::FdLip | F::FdLnet => tuple().map_or(V::Na, |t| {
            V::Ip(if is_server_event(ev) {
                t.dst_ip
            } else {
                t.src_ip
            })
        }),
        F::FdRip | F::FdRnet => tuple().map_or(V::Na, |t| {
            V::Ip(if is_server_event(ev) {
                t.src_ip
            } else {
                t.dst_ip
            })
        }),
        F::FdPort | F::FdCport => tuple().map_or(V::Na, |t| V::N(t.src_port as i64)),
        F::FdSport => tuple().map_or(V::Na, |t| V::N(t.dst_port as i64)),
        F::FdLport => tuple().map_or(V::Na, |t| {
            V::N(if is_server_event(ev) {
                t.dst_port
            } else {
                t.src_port
            } as i64)
        }),
        F::FdRport => tuple().map_or(V::Na, |t| {
            V::N(if is_server_event(ev) {
                t.src_port
            } else {
                t.dst_port
            } as i64)
        }),
        F::FdCipName | F::FdSipName | F::FdLipName | F::FdRipName => match tuple() {
            None => V::Na,
            Some(t) => {
                let ip = match f.id {
                    F::FdCipName => t.src_ip,
                    F::FdSipName => t.dst_ip,
                    F::FdLipName => {
                        if is_server_event(ev) {
                            t.dst_ip
                        } else {
                            t.src_ip
                        }
                    }
                    _ => {
                        if is_server_event(ev) {
                            t.src_ip
                        } else {
                            t.dst_ip
                        }
                    }
                };
                fmt_num(buf, ip)
            }
        },
        F::FdL4proto => match tuple() {
            Some(t) => match t.proto.as_str() {
                "<NA>" => V::Na,
                s => V::S(s),
            },
            None => V::Na,
        },
        F::FdSockfamily => fd.map_or(V::Na, |fd| match fd.kind {
            FdKind::Ipv4 | FdKind::Ipv6 => V::S("ip"),
            FdKind::Unix => V::S("unix"),
            _ => V::Na,
        }),
        F::FdIsServer => fd.map_or(V::Na, |_| V::B(is_server_event(ev))),
        F::FdConnected => fd.map_or(V::Na, |_| V::B(connected(ev))),
        F::FdTypes => {
            let Arg::Index(n) = f.arg else {
                return Some(V::Na);
            };
            let from_event = fd
                .filter(|fd| fd.num == n as i64)
                .map(|fd| fd.kind.as_str());
            let kind = from_event.or_else(|| {
                if n < 3 {
                    cx.proc()
                        .map(|p| p.stdio[n].kind.as_str())
                        .filter(|k| !k.is_empty())
                } else {
                    None
                }
            });
            kind.map_or(V::Na, V::S)
        }
        F::FdDev => fd.map_or(V::Na, |fd| V::N(fd.dev as i64)),
        F::FdIno => fd.map_or(V::Na, |fd| V::N(fd.ino as i64)),
        F::FdIsUpperLayer => fd.map_or(V::Na, |fd| V::B(fd.is_upper_layer)),
        _ => return None,
    })
}

fn extract_proc<'a: 'b, 'b, S: StateView + ?Sized>(
    f: &FieldRef,
    p: Option<&'b Process>,
    cx: &'b Cx<'a, S>,
    buf: &'b mut String,
) -> Option<V<'b>> {
    let ev = cx.ev;
    Some(match f.id {
        F::ProcPid => with_proc(p, |p| V::N(p.pid as i64)),
        F::ProcPpid => with_proc(p, |p| V::N(p.ppid as i64)),
        F::ProcVpid => with_proc(p, |p| V::N(p.vpid as i64)),
        F::ProcPvpid => with_proc(cx.ancestor(1), |p| V::N(p.vpid as i64)),
        F::ProcSid => with_proc(p, |p| V::N(p.sid as i64)),
        F::ProcVpgid => with_proc(p, |p| V::N(p.vpgid as i64)),
        F::ProcPgid => with_proc(p, |p| V::N(p.pgid as i64)),
        F::ProcName => with_proc(p, |p| s_or_na(&p.comm)),
        F::ProcPname => with_proc(cx.ancestor(1), |p| s_or_na(&p.comm)),
        F::ProcExe => with_proc(p, |p| s_or_na(&p.exe)),
        F::ProcPexe => with_proc(cx.ancestor(1), |p| s_or_na(&p.exe)),
        F::ProcExepath => with_proc(p, |p| s_or_na(&p.exepath)),
        F::ProcPexepath => with_proc(cx.ancestor(1), |p| s_or_na(&p.exepath)),
        F::ProcAname | F::ProcAexe | F::ProcAexepath | F::ProcApid | F::ProcAcmdline => {
            let Arg::Index(n) = f.arg else {
                return Some(V::Na);
            };
            let Some(a) = cx.ancestor(n) else {
                return Some(V::Na);
            };
            match f.id {
                F::ProcAname => s_or_na(&a.comm),
                F::ProcAexe => s_or_na(&a.exe),
                F::ProcAexepath => s_or_na(&a.exepath),
                F::ProcApid => V::N(a.pid as i64),
                _ => join_args(buf, Some(&a.comm), &a.args),
            }
        }
        F::ProcArgs => with_proc(p, |p| join_args(buf, None, &p.args)),
        F::ProcCmdline => with_proc(p, |p| join_args(buf, Some(&p.comm), &p.args)),
        F::ProcPcmdline => with_proc(cx.ancestor(1), |p| join_args(buf, Some(&p.comm), &p.args)),
        F::ProcExeline => with_proc(p, |p| join_args(buf, Some(&p.exe), &p.args)),
        F::ProcCmdnargs => with_proc(p, |p| V::N(p.args.len() as i64)),
        F::ProcCmdlenargs => with_proc(p, |p| {
            V::N(
                p.args.iter().map(|a| a.len() as i64).sum::<i64>()
                    + (p.args.len() as i64 - 1).max(0),
            )
        }),
        F::ProcEnv => with_proc(p, |p| match &f.arg {
            Arg::Key(k) => p
                .env
                .iter()
                .find_map(|e| e.strip_prefix(&**k).and_then(|r| r.strip_prefix('=')))
                .map_or(V::Na, V::S),
            _ => join_args(buf, None, &p.env),
        }),
        F::ProcCwd => with_proc(p, |p| s_or_na(&p.cwd)),
        F::ProcTty => with_proc(p, |p| V::N(p.tty as i64)),
        F::ProcDuration => with_proc(p, |p| duration(ev.ts, p.start_ts)),
        F::ProcPpidDuration => with_proc(cx.ancestor(1), |p| duration(ev.ts, p.start_ts)),
        F::ProcSname => with_proc(p.and_then(|p| cx.state.process(p.sid)), |s| {
            s_or_na(&s.comm)
        }),
        F::ProcVpgidName | F::ProcVpgidExe | F::ProcVpgidExepath => {
            with_proc(p.and_then(|p| cx.state.process(p.pgid)), |g| match f.id {
                F::ProcVpgidName => s_or_na(&g.comm),
                F::ProcVpgidExe => s_or_na(&g.exe),
                _ => s_or_na(&g.exepath),
            })
        }
        F::ProcIsVpgidLeader => with_proc(p, |p| {
            V::B(if p.vpgid != 0 && p.vpid != 0 {
                p.vpid == p.vpgid
            } else {
                p.pid == p.pgid
            })
        }),
        F::ProcIsSidLeader => with_proc(p, |p| V::B(p.pid == p.sid)),
        F::ProcIsExeUpperLayer => with_proc(p, |p| V::B(p.is_exe_upper_layer)),
        F::ProcIsExeFromMemfd => with_proc(p, |p| V::B(p.is_exe_from_memfd)),
        F::ProcIsExeWritable => with_proc(p, |p| V::B(p.is_exe_writable)),
        F::ProcExeIno => with_proc(p, |p| nonzero(p.exe_ino)),
        F::ProcExeInoCtime => with_proc(p, |p| nonzero(p.exe_ino_ctime)),
        F::ProcExeInoMtime => with_proc(p, |p| nonzero(p.exe_ino_mtime)),
        F::ProcExeInoCtimeDurProc => with_proc(p, |p| {
            let start = if p.exec_ts != 0 {
                p.exec_ts
            } else {
                p.start_ts
            };
            if p.exe_ino_ctime == 0 || start == 0 {
                V::Na
            } else {
                V::N(start as i64 - p.exe_ino_ctime as i64)
            }
        }),
        F::ProcExeInoCtimeDurPidns => with_proc(p, |p| {
            if p.exe_ino_ctime == 0 || p.pidns_init_start_ts == 0 {
                V::Na
            } else {
                V::N(p.exe_ino_ctime as i64 - p.pidns_init_start_ts as i64)
            }
        }),
        F::ProcPidnsInitStartTs => with_proc(p, |p| nonzero(p.pidns_init_start_ts)),
        F::ProcStdinType | F::ProcStdoutType | F::ProcStderrType => with_proc(p, |p| {
            let i = match f.id {
                F::ProcStdinType => 0,
                F::ProcStdoutType => 1,
                _ => 2,
            };
            s_or_na(&p.stdio[i].kind)
        }),
        F::ProcStdinName | F::ProcStdoutName | F::ProcStderrName => with_proc(p, |p| {
            let i = match f.id {
                F::ProcStdinName => 0,
                F::ProcStdoutName => 1,
                _ => 2,
            };
            s_or_na(&p.stdio[i].name)
        }),
        F::ThreadTid => V::N(ev.tid as i64),
        F::ThreadVtid => match ev.param(ParamName::Vtid) {
            Some(v) => render::raw_number(v).map_or(V::Na, V::N),
            None => V::Na,
        },
        F::ThreadCapEffective | F::ThreadCapPermitted | F::ThreadCapInheritable => {
            with_proc(p, |p| {
                let caps = match f.id {
                    F::ThreadCapEffective => p.cap_effective,
                    F::ThreadCapPermitted => p.cap_permitted,
                    _ => p.cap_inheritable,
                };
                buf.clear();
                render::write_caps(buf, caps);
                V::S(buf)
            })
        }
        F::UserUid => with_proc(p, |p| V::N(p.uid as i64)),
        F::UserName | F::UserHomedir | F::UserShell => {
            with_proc(p, |p| match cx.state.user(p, p.uid) {
                Some(u) => s_or_na(match f.id {
                    F::UserName => &u.name,
                    F::UserHomedir => &u.homedir,
                    _ => &u.shell,
                }),
                None => V::Na,
            })
        }
        F::UserLoginuid => with_proc(p, |p| {
            V::N(if p.loginuid == u32::MAX {
                -1
            } else {
                p.loginuid as i64
            })
        }),
        F::UserLoginname => with_proc(p, |p| {
            if p.loginuid == u32::MAX {
                return V::Na;
            }
            cx.state
                .user(p, p.loginuid)
                .map_or(V::Na, |u| s_or_na(&u.name))
        }),
        F::GroupGid => with_proc(p, |p| V::N(p.gid as i64)),
        F::GroupName => with_proc(p, |p| cx.state.group_name(p, p.gid).map_or(V::Na, s_or_na)),
        _ => return None,
    })
}

fn nonzero(v: u64) -> V<'static> {
    if v == 0 {
        V::Na
    } else {
        V::N(v as i64)
    }
}

fn duration(now: u64, start: u64) -> V<'static> {
    if start == 0 || now < start {
        V::Na
    } else {
        V::N((now - start) as i64)
    }
}

fn is_exec(ev: &Event<'_>) -> bool {
    matches!(ev.etype.0, nr::EXECVE | nr::EXECVEAT)
}

fn flag_number(v: &Value<'_>) -> Option<u64> {
    match v {
        Value::Flags(n, _) => Some(*n),
        _ => None,
    }
}

/// A socket is connected when the event carries a full tuple with a server port.
fn connected(ev: &Event<'_>) -> bool {
    match ev.fd.and_then(|fd| fd.tuple) {
        Some(t) => t.dst_port != 0 && !is_datagram_io(ev) || t.proto == vigil_event::L4Proto::Tcp,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_forms() {
        let f = resolve("proc.aname", Some("2")).unwrap();
        assert_eq!((f.id, f.arg, f.multi), (F::ProcAname, Arg::Index(2), false));
        assert!(resolve("proc.aname", None).unwrap().multi);
        assert_eq!(
            resolve("evt.arg.flags", None).unwrap().arg,
            Arg::Param(ParamName::Flags)
        );
        assert_eq!(resolve("evt.arg", Some("0")).unwrap().arg, Arg::Index(0));
        assert_eq!(
            resolve("k8s.pod.label.app", None).unwrap().arg,
            Arg::Key("app".into())
        );
        assert_eq!(
            resolve("container.mount.dest", Some("/etc")).unwrap().arg,
            Arg::Key("/etc".into())
        );
        assert!(matches!(
            resolve("proc.nope", None),
            Err(FieldError::Unknown(_))
        ));
        assert!(matches!(
            resolve("proc.name", Some("1")),
            Err(FieldError::UnexpectedArg(_))
        ));
        assert!(matches!(
            resolve("evt.arg", None),
            Err(FieldError::MissingArg(_))
        ));
        assert!(matches!(
            resolve("proc.aname", Some("x")),
            Err(FieldError::BadArg { .. })
        ));
    }

    #[test]
    fn syscall_numbers_match_names() {
        for (n, name) in [
            (nr::OPEN, "open"),
            (nr::CREAT, "creat"),
            (nr::OPENAT, "openat"),
            (nr::OPEN_BY_HANDLE_AT, "open_by_handle_at"),
            (nr::OPENAT2, "openat2"),
            (nr::ACCEPT, "accept"),
            (nr::ACCEPT4, "accept4"),
            (nr::LISTEN, "listen"),
            (nr::BIND, "bind"),
            (nr::SENDTO, "sendto"),
            (nr::RECVFROM, "recvfrom"),
            (nr::SENDMSG, "sendmsg"),
            (nr::RECVMSG, "recvmsg"),
            (nr::EXECVE, "execve"),
            (nr::EXECVEAT, "execveat"),
            (nr::READ, "read"),
            (nr::WRITE, "write"),
            (nr::PREAD64, "pread64"),
            (nr::PWRITE64, "pwrite64"),
            (nr::READV, "readv"),
            (nr::WRITEV, "writev"),
            (nr::SENDFILE, "sendfile"),
            (nr::PREADV, "preadv"),
            (nr::PWRITEV, "pwritev"),
            (nr::RECVMMSG, "recvmmsg"),
            (nr::SENDMMSG, "sendmmsg"),
        ] {
            assert_eq!(vigil_event::EventType(n).name(), name);
        }
    }

    #[test]
    fn fields_are_declared_in_groups() {
        // extract_one dispatches on declaration order; keep each group contiguous.
        for d in DEFS {
            let i = d.id as u16;
            let group = if i < F::ProcPid as u16 {
                "evt."
            } else if i < F::FdNum as u16 {
                "proc|thread|user|group"
            } else if i < F::ContainerId as u16 {
                "fd."
            } else {
                "container|k8s"
            };
            let ok = group
                .split('|')
                .any(|g| d.name.starts_with(g.trim_end_matches('.')));
            assert!(ok, "{} is declared in the {group} group", d.name);
        }
    }

    #[test]
    fn path_helpers() {
        assert_eq!(dirname("/etc/shadow"), "/etc");
        assert_eq!(dirname("/shadow"), "/");
        assert_eq!(basename("/etc/shadow"), "shadow");
    }
}
