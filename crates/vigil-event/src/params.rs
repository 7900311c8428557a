//! Event parameters: the arguments and results of a syscall as the kernel saw them.
//!
//! Parameters are `(name, value)` pairs borrowed from the decoded record, in the order Falco
//! lists them for the event type, so `evt.arg.NAME`, `evt.arg[N]` and `evt.args` work the same
//! way as in Falco. Names are a closed enum ([`ParamName`]) so the rules compiler resolves
//! `evt.arg.flags` to a small integer once and evaluation compares integers, never strings.
//! Values keep their kind ([`Value`]) so they can be rendered the way Falco renders them
//! (`O_RDONLY|O_CLOEXEC`, `127.0.0.1:80`, `ENOENT`) without allocating.

use std::fmt;
use std::net::IpAddr;

macro_rules! param_names {
    ($($variant:ident = $name:literal),* $(,)?) => {
        /// Falco parameter names (the part after `evt.arg.`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum ParamName { $($variant),* }

        impl ParamName {
            /// Every parameter name, in declaration order.
            pub const ALL: &'static [ParamName] = &[$(ParamName::$variant),*];

            /// The Falco spelling of this name.
            pub fn as_str(self) -> &'static str {
                match self { $(ParamName::$variant => $name),* }
            }

            /// Parses a Falco parameter name.
            pub fn from_name(s: &str) -> Option<ParamName> {
                match s { $($name => Some(ParamName::$variant),)* _ => None }
            }
        }
    };
}

param_names! {
    Res = "res",
    Fd = "fd",
    Dirfd = "dirfd",
    Name = "name",
    Path = "path",
    Filename = "filename",
    Flags = "flags",
    Mode = "mode",
    Dev = "dev",
    Ino = "ino",
    Resolve = "resolve",
    Exe = "exe",
    Args = "args",
    Tid = "tid",
    Pid = "pid",
    Ptid = "ptid",
    Cwd = "cwd",
    Comm = "comm",
    Cgroups = "cgroups",
    Env = "env",
    Tty = "tty",
    Pgid = "pgid",
    Loginuid = "loginuid",
    CapInheritable = "cap_inheritable",
    CapPermitted = "cap_permitted",
    CapEffective = "cap_effective",
    Uid = "uid",
    Gid = "gid",
    Euid = "euid",
    Egid = "egid",
    Ruid = "ruid",
    Rgid = "rgid",
    Suid = "suid",
    Sgid = "sgid",
    Vtid = "vtid",
    Vpid = "vpid",
    TrustedExepath = "trusted_exepath",
    Status = "status",
    Sig = "sig",
    Core = "core",
    Tuple = "tuple",
    Addr = "addr",
    Domain = "domain",
    Type = "type",
    Proto = "proto",
    Backlog = "backlog",
    Data = "data",
    Size = "size",
    Oldpath = "oldpath",
    Newpath = "newpath",
    Olddirfd = "olddirfd",
    Newdirfd = "newdirfd",
    Olddir = "olddir",
    Newdir = "newdir",
    Target = "target",
    Linkdirfd = "linkdirfd",
    Linkpath = "linkpath",
    Oldfd = "oldfd",
    Newfd = "newfd",
    Fd1 = "fd1",
    Fd2 = "fd2",
    Nstype = "nstype",
    Dir = "dir",
    Request = "request",
    Img = "img",
    Length = "length",
    Uargs = "uargs",
    Cmd = "cmd",
    Queuepct = "queuepct",
    CgroupId = "cgroup_id",
    Sid = "sid",
    ExeIno = "exe_ino",
    ExeInoCtime = "exe_ino_ctime",
    ExeInoMtime = "exe_ino_mtime",
    Fd0Type = "fd0_type",
    Fd1Type = "fd1_type",
    Fd2Type = "fd2_type",
    Fd0Name = "fd0_name",
    Fd1Name = "fd1_name",
    Fd2Name = "fd2_name",
    // The last components of the process's cgroup path (lifecycle events), as the kernel
    // named them when the event happened.
    Cgroup = "cgroup",
}

/// Bits of the `flags` parameter of a successful `execve`/`execveat` exit event: facts about
/// the executable file that the kernel side determined at exec time.
pub mod exe_flags {
    /// The executable lives on an overlayfs upper layer (written inside the container).
    pub const EXE_UPPER_LAYER: u64 = 1;
    /// The executable is a memfd (fileless execution).
    pub const EXE_FROM_MEMFD: u64 = 2;
    /// The executable file is writable by the executing user.
    pub const EXE_WRITABLE: u64 = 4;
    /// The executable lives on an overlayfs lower layer (came with the image).
    pub const EXE_LOWER_LAYER: u64 = 8;
}

/// How an integer parameter is rendered and which symbolic names it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagSet {
    /// `open`/`openat` flags (`O_RDONLY|O_CREAT`), as Falco's `PPM_O_*` names.
    Open,
    /// `clone` flags (`CLONE_NEWPID|...`).
    Clone,
    /// `unshare`/`setns` namespace flags (`CLONE_NEWNS|...`).
    Namespace,
    /// `mount` flags (`MS_RDONLY|...`).
    Mount,
    /// `umount2` flags (`MNT_FORCE|...`).
    Umount,
    /// `memfd_create` flags (`MFD_CLOEXEC|...`).
    Memfd,
    /// `renameat2` flags.
    Rename,
    /// `linkat`/`unlinkat` `AT_*` flags.
    At,
    /// `dup3`/`pipe2`/`accept4` `O_CLOEXEC`-style flags.
    Cloexec,
    /// `execveat` flags.
    Execveat,
    /// `ptrace` request (`PTRACE_ATTACH`, ...).
    PtraceRequest,
    /// `bpf` command (`BPF_PROG_LOAD`, ...).
    BpfCmd,
    /// Socket address family (`AF_INET`, ...).
    SocketFamily,
    /// Socket type (`SOCK_STREAM`, ...).
    SocketType,
    /// File mode bits (`S_ISUID|S_IRWXU` style, rendered octal by Falco).
    FileMode,
    /// `finit_module` flags.
    FinitModule,
    /// `userfaultfd` flags.
    Userfaultfd,
    /// `openat2` resolve flags.
    Resolve,
}

/// A socket address as passed to or returned from a socket syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockAddr<'a> {
    /// IPv4 or IPv6 address and port.
    Inet { ip: IpAddr, port: u16 },
    /// A unix socket path (abstract names start with `@`).
    Unix(&'a str),
    /// Any other family, by number.
    Other(u16),
}

/// Transport protocol of a socket tuple (`fd.l4proto`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum L4Proto {
    #[default]
    Unknown,
    Tcp,
    Udp,
    Icmp,
    Raw,
}

impl L4Proto {
    /// Falco's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            L4Proto::Unknown => "<NA>",
            L4Proto::Tcp => "tcp",
            L4Proto::Udp => "udp",
            L4Proto::Icmp => "icmp",
            L4Proto::Raw => "raw",
        }
    }
}

/// A connection tuple: client (source) side and server (destination) side.
///
/// For `connect` the local end is the client; for `accept` the remote end is the client, as in
/// Falco, where `fd.cip` is always the connecting side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockTuple {
    pub proto: L4Proto,
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub dst_ip: IpAddr,
    pub dst_port: u16,
}

impl fmt::Display for SockTuple {
    /// Falco's `fd.name` for an inet socket: `1.2.3.4:5678->5.6.7.8:80`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn ip(f: &mut fmt::Formatter<'_>, ip: &IpAddr) -> fmt::Result {
            match ip {
                IpAddr::V4(v) => write!(f, "{v}"),
                IpAddr::V6(v) => write!(f, "{v}"),
            }
        }
        ip(f, &self.src_ip)?;
        write!(f, ":{}->", self.src_port)?;
        ip(f, &self.dst_ip)?;
        write!(f, ":{}", self.dst_port)
    }
}

/// A parameter value, borrowed from the record it was decoded from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// Parameter not captured (rendered `<NA>`).
    None,
    /// Signed integer (pids, sizes, generic numbers).
    I64(i64),
    /// Unsigned integer (inode numbers, device numbers, counts).
    U64(u64),
    /// A syscall return value: `>= 0` success, `< 0` is `-errno`.
    Res(i64),
    /// A file descriptor number (`-1` if none).
    Fd(i64),
    /// A string (path, name, ...), already made absolute where it is a path.
    Str(&'a str),
    /// Raw bytes (buffers, module images): rendered printable, compared bytewise.
    Bytes(&'a [u8]),
    /// A NUL-separated list (argv, env); rendered space-separated like Falco.
    List(&'a str),
    /// Integer flags with their symbolic table.
    Flags(u64, FlagSet),
    /// File mode (permission bits plus setuid/setgid/sticky); rendered octal.
    Mode(u32),
    /// A user id.
    Uid(u32),
    /// A group id.
    Gid(u32),
    /// A capability set bitmask.
    Caps(u64),
    /// A socket address.
    Addr(SockAddr<'a>),
    /// A connection tuple.
    Tuple(SockTuple),
    /// A signal number.
    Signal(u32),
}

/// One parameter of an event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Param<'a> {
    pub name: ParamName,
    pub value: Value<'a>,
}

impl<'a> Param<'a> {
    /// Shorthand constructor.
    pub const fn new(name: ParamName, value: Value<'a>) -> Self {
        Param { name, value }
    }
}
