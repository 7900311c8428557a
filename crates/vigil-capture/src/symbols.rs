//! Symbolic names for parameter values in text fixtures, and the stable codes the binary
//! format uses for enums of the event model.
//!
//! Fixtures are written by people, so they say `O_RDONLY|O_CREAT`, `SIGKILL`, `ENOENT` and
//! `CAP_SYS_ADMIN` rather than numbers. Values are the Linux x86_64 kernel's (what the sensor
//! reads from syscall arguments), not a remapped table. The binary format numbers enums
//! explicitly here rather than using Rust discriminants, so reordering a variant in
//! `vigil-event` can never silently change the meaning of a stored file.

use vigil_event::{FdKind, FlagSet, L4Proto, ParamName};

/// `(name, value)` pairs of a flag set. A value of 0 is a name for "no bits" (`O_RDONLY`).
pub fn flag_table(set: FlagSet) -> &'static [(&'static str, u64)] {
    match set {
        FlagSet::Open => OPEN,
        FlagSet::Clone | FlagSet::Namespace => CLONE,
        FlagSet::Mount => MOUNT,
        FlagSet::Umount => UMOUNT,
        FlagSet::Memfd => MEMFD,
        FlagSet::Rename => RENAME,
        FlagSet::At => AT,
        FlagSet::Cloexec => CLOEXEC,
        FlagSet::Execveat => AT,
        FlagSet::PtraceRequest => PTRACE,
        FlagSet::BpfCmd => BPF_CMD,
        FlagSet::SocketFamily => SOCKET_FAMILY,
        FlagSet::SocketType => SOCKET_TYPE,
        FlagSet::FileMode => FILE_MODE,
        FlagSet::FinitModule => FINIT_MODULE,
        FlagSet::Userfaultfd => USERFAULTFD,
        FlagSet::Resolve => RESOLVE,
    }
}

/// True for flag sets whose value is one enumerated number, not a bit set.
pub fn is_enumerated(set: FlagSet) -> bool {
    matches!(
        set,
        FlagSet::PtraceRequest | FlagSet::BpfCmd | FlagSet::SocketFamily
    )
}

const OPEN: &[(&str, u64)] = &[
    ("O_RDONLY", 0),
    ("O_WRONLY", 0o1),
    ("O_RDWR", 0o2),
    ("O_CREAT", 0o100),
    ("O_EXCL", 0o200),
    ("O_NOCTTY", 0o400),
    ("O_TRUNC", 0o1000),
    ("O_APPEND", 0o2000),
    ("O_NONBLOCK", 0o4000),
    ("O_DSYNC", 0o10000),
    ("O_ASYNC", 0o20000),
    ("O_DIRECT", 0o40000),
    ("O_LARGEFILE", 0o100000),
    ("O_DIRECTORY", 0o200000),
    ("O_NOFOLLOW", 0o400000),
    ("O_NOATIME", 0o1000000),
    ("O_CLOEXEC", 0o2000000),
    ("O_SYNC", 0o4010000),
    ("O_PATH", 0o10000000),
    ("O_TMPFILE", 0o20200000),
];

const CLONE: &[(&str, u64)] = &[
    ("CLONE_VM", 0x100),
    ("CLONE_FS", 0x200),
    ("CLONE_FILES", 0x400),
    ("CLONE_SIGHAND", 0x800),
    ("CLONE_PIDFD", 0x1000),
    ("CLONE_PTRACE", 0x2000),
    ("CLONE_VFORK", 0x4000),
    ("CLONE_PARENT", 0x8000),
    ("CLONE_THREAD", 0x10000),
    ("CLONE_NEWNS", 0x20000),
    ("CLONE_SYSVSEM", 0x40000),
    ("CLONE_SETTLS", 0x80000),
    ("CLONE_PARENT_SETTID", 0x100000),
    ("CLONE_CHILD_CLEARTID", 0x200000),
    ("CLONE_DETACHED", 0x400000),
    ("CLONE_UNTRACED", 0x800000),
    ("CLONE_CHILD_SETTID", 0x1000000),
    ("CLONE_NEWCGROUP", 0x2000000),
    ("CLONE_NEWUTS", 0x4000000),
    ("CLONE_NEWIPC", 0x8000000),
    ("CLONE_NEWUSER", 0x10000000),
    ("CLONE_NEWPID", 0x20000000),
    ("CLONE_NEWNET", 0x40000000),
    ("CLONE_IO", 0x80000000),
    ("CLONE_NEWTIME", 0x80),
];

/// `CLONE_THREAD`: a clone that creates a thread, not a process.
pub const CLONE_THREAD: u64 = 0x10000;

const MOUNT: &[(&str, u64)] = &[
    ("MS_RDONLY", 1),
    ("MS_NOSUID", 2),
    ("MS_NODEV", 4),
    ("MS_NOEXEC", 8),
    ("MS_SYNCHRONOUS", 16),
    ("MS_REMOUNT", 32),
    ("MS_MANDLOCK", 64),
    ("MS_DIRSYNC", 128),
    ("MS_NOSYMFOLLOW", 256),
    ("MS_NOATIME", 1024),
    ("MS_NODIRATIME", 2048),
    ("MS_BIND", 4096),
    ("MS_MOVE", 8192),
    ("MS_REC", 16384),
    ("MS_SILENT", 32768),
    ("MS_POSIXACL", 1 << 16),
    ("MS_UNBINDABLE", 1 << 17),
    ("MS_PRIVATE", 1 << 18),
    ("MS_SLAVE", 1 << 19),
    ("MS_SHARED", 1 << 20),
    ("MS_RELATIME", 1 << 21),
    ("MS_KERNMOUNT", 1 << 22),
    ("MS_I_VERSION", 1 << 23),
    ("MS_STRICTATIME", 1 << 24),
    ("MS_LAZYTIME", 1 << 25),
];

const UMOUNT: &[(&str, u64)] = &[
    ("MNT_FORCE", 1),
    ("MNT_DETACH", 2),
    ("MNT_EXPIRE", 4),
    ("UMOUNT_NOFOLLOW", 8),
];

const MEMFD: &[(&str, u64)] = &[
    ("MFD_CLOEXEC", 1),
    ("MFD_ALLOW_SEALING", 2),
    ("MFD_HUGETLB", 4),
    ("MFD_NOEXEC_SEAL", 8),
    ("MFD_EXEC", 0x10),
];

const RENAME: &[(&str, u64)] = &[
    ("RENAME_NOREPLACE", 1),
    ("RENAME_EXCHANGE", 2),
    ("RENAME_WHITEOUT", 4),
];

const AT: &[(&str, u64)] = &[
    ("AT_SYMLINK_NOFOLLOW", 0x100),
    ("AT_REMOVEDIR", 0x200),
    ("AT_SYMLINK_FOLLOW", 0x400),
    ("AT_NO_AUTOMOUNT", 0x800),
    ("AT_EMPTY_PATH", 0x1000),
];

const CLOEXEC: &[(&str, u64)] = &[("O_NONBLOCK", 0o4000), ("O_CLOEXEC", 0o2000000)];

const PTRACE: &[(&str, u64)] = &[
    ("PTRACE_TRACEME", 0),
    ("PTRACE_PEEKTEXT", 1),
    ("PTRACE_PEEKDATA", 2),
    ("PTRACE_PEEKUSR", 3),
    ("PTRACE_POKETEXT", 4),
    ("PTRACE_POKEDATA", 5),
    ("PTRACE_POKEUSR", 6),
    ("PTRACE_CONT", 7),
    ("PTRACE_KILL", 8),
    ("PTRACE_SINGLESTEP", 9),
    ("PTRACE_GETREGS", 12),
    ("PTRACE_SETREGS", 13),
    ("PTRACE_GETFPREGS", 14),
    ("PTRACE_SETFPREGS", 15),
    ("PTRACE_ATTACH", 16),
    ("PTRACE_DETACH", 17),
    ("PTRACE_SYSCALL", 24),
    ("PTRACE_SETOPTIONS", 0x4200),
    ("PTRACE_GETEVENTMSG", 0x4201),
    ("PTRACE_GETSIGINFO", 0x4202),
    ("PTRACE_SETSIGINFO", 0x4203),
    ("PTRACE_GETREGSET", 0x4204),
    ("PTRACE_SETREGSET", 0x4205),
    ("PTRACE_SEIZE", 0x4206),
    ("PTRACE_INTERRUPT", 0x4207),
    ("PTRACE_LISTEN", 0x4208),
];

const BPF_CMD: &[(&str, u64)] = &[
    ("BPF_MAP_CREATE", 0),
    ("BPF_MAP_LOOKUP_ELEM", 1),
    ("BPF_MAP_UPDATE_ELEM", 2),
    ("BPF_MAP_DELETE_ELEM", 3),
    ("BPF_MAP_GET_NEXT_KEY", 4),
    ("BPF_PROG_LOAD", 5),
    ("BPF_OBJ_PIN", 6),
    ("BPF_OBJ_GET", 7),
    ("BPF_PROG_ATTACH", 8),
    ("BPF_PROG_DETACH", 9),
    ("BPF_PROG_TEST_RUN", 10),
    ("BPF_PROG_GET_NEXT_ID", 11),
    ("BPF_MAP_GET_NEXT_ID", 12),
    ("BPF_PROG_GET_FD_BY_ID", 13),
    ("BPF_MAP_GET_FD_BY_ID", 14),
    ("BPF_OBJ_GET_INFO_BY_FD", 15),
    ("BPF_PROG_QUERY", 16),
    ("BPF_RAW_TRACEPOINT_OPEN", 17),
    ("BPF_BTF_LOAD", 18),
    ("BPF_BTF_GET_FD_BY_ID", 19),
    ("BPF_TASK_FD_QUERY", 20),
    ("BPF_LINK_CREATE", 28),
];

const SOCKET_FAMILY: &[(&str, u64)] = &[
    ("AF_UNSPEC", 0),
    ("AF_UNIX", 1),
    ("AF_INET", 2),
    ("AF_INET6", 10),
    ("AF_NETLINK", 16),
    ("AF_PACKET", 17),
];

const SOCKET_TYPE: &[(&str, u64)] = &[
    ("SOCK_STREAM", 1),
    ("SOCK_DGRAM", 2),
    ("SOCK_RAW", 3),
    ("SOCK_RDM", 4),
    ("SOCK_SEQPACKET", 5),
    ("SOCK_NONBLOCK", 0o4000),
    ("SOCK_CLOEXEC", 0o2000000),
];

const FILE_MODE: &[(&str, u64)] = &[
    ("S_IXOTH", 0o1),
    ("S_IWOTH", 0o2),
    ("S_IROTH", 0o4),
    ("S_IXGRP", 0o10),
    ("S_IWGRP", 0o20),
    ("S_IRGRP", 0o40),
    ("S_IXUSR", 0o100),
    ("S_IWUSR", 0o200),
    ("S_IRUSR", 0o400),
    ("S_ISVTX", 0o1000),
    ("S_ISGID", 0o2000),
    ("S_ISUID", 0o4000),
];

const FINIT_MODULE: &[(&str, u64)] = &[
    ("MODULE_INIT_IGNORE_MODVERSIONS", 1),
    ("MODULE_INIT_IGNORE_VERMAGIC", 2),
    ("MODULE_INIT_COMPRESSED_FILE", 4),
];

const USERFAULTFD: &[(&str, u64)] = &[
    ("O_NONBLOCK", 0o4000),
    ("O_CLOEXEC", 0o2000000),
    ("UFFD_USER_MODE_ONLY", 1),
];

const RESOLVE: &[(&str, u64)] = &[
    ("RESOLVE_NO_XDEV", 0x01),
    ("RESOLVE_NO_MAGICLINKS", 0x02),
    ("RESOLVE_NO_SYMLINKS", 0x04),
    ("RESOLVE_BENEATH", 0x08),
    ("RESOLVE_IN_ROOT", 0x10),
    ("RESOLVE_CACHED", 0x20),
];

/// Names of the `execve` exit `flags` bits (`vigil_event::params::exe_flags`).
pub const EXE_FLAGS: &[(&str, u64)] = &[
    (
        "EXE_UPPER_LAYER",
        vigil_event::params::exe_flags::EXE_UPPER_LAYER,
    ),
    (
        "EXE_FROM_MEMFD",
        vigil_event::params::exe_flags::EXE_FROM_MEMFD,
    ),
    ("EXE_WRITABLE", vigil_event::params::exe_flags::EXE_WRITABLE),
    (
        "EXE_LOWER_LAYER",
        vigil_event::params::exe_flags::EXE_LOWER_LAYER,
    ),
];

/// Linux capability names by bit number.
pub const CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Signal names by number (index 0 unused).
pub const SIGNALS: &[&str] = &[
    "",
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// errno names by number (index 0 unused), for `res: ENOENT` in fixtures.
pub const ERRNOS: &[&str] = &[
    "",
    "EPERM",
    "ENOENT",
    "ESRCH",
    "EINTR",
    "EIO",
    "ENXIO",
    "E2BIG",
    "ENOEXEC",
    "EBADF",
    "ECHILD",
    "EAGAIN",
    "ENOMEM",
    "EACCES",
    "EFAULT",
    "ENOTBLK",
    "EBUSY",
    "EEXIST",
    "EXDEV",
    "ENODEV",
    "ENOTDIR",
    "EISDIR",
    "EINVAL",
    "ENFILE",
    "EMFILE",
    "ENOTTY",
    "ETXTBSY",
    "EFBIG",
    "ENOSPC",
    "ESPIPE",
    "EROFS",
    "EMLINK",
    "EPIPE",
    "EDOM",
    "ERANGE",
    "EDEADLK",
    "ENAMETOOLONG",
    "ENOLCK",
    "ENOSYS",
    "ENOTEMPTY",
    "ELOOP",
];

/// Extra errno names beyond the dense table (network errors).
const ERRNOS_SPARSE: &[(&str, i64)] = &[
    ("ENOTSOCK", 88),
    ("EOPNOTSUPP", 95),
    ("EADDRINUSE", 98),
    ("EADDRNOTAVAIL", 99),
    ("ENETUNREACH", 101),
    ("ECONNRESET", 104),
    ("EISCONN", 106),
    ("ETIMEDOUT", 110),
    ("ECONNREFUSED", 111),
    ("EHOSTUNREACH", 113),
    ("EALREADY", 114),
    ("EINPROGRESS", 115),
];

/// The errno number of `name` (`ENOENT` -> 2).
pub fn errno_from_name(name: &str) -> Option<i64> {
    if let Some(i) = ERRNOS.iter().position(|n| !n.is_empty() && *n == name) {
        return Some(i as i64);
    }
    ERRNOS_SPARSE
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
}

/// The name of errno `n`, if known.
pub fn errno_name(n: i64) -> Option<&'static str> {
    if n > 0 && (n as usize) < ERRNOS.len() {
        return Some(ERRNOS[n as usize]);
    }
    ERRNOS_SPARSE.iter().find(|(_, v)| *v == n).map(|(k, _)| *k)
}

/// Signal number of `SIGKILL`/`KILL`.
pub fn signal_from_name(name: &str) -> Option<u32> {
    let full = if name.starts_with("SIG") {
        name.to_string()
    } else {
        format!("SIG{name}")
    };
    SIGNALS
        .iter()
        .position(|n| !n.is_empty() && *n == full)
        .map(|i| i as u32)
}

/// Parses `A|B|0x10|8` against `table` (names, decimal, `0x` hex or `0o`/leading-0 octal).
pub fn parse_flags(text: &str, table: &[(&str, u64)]) -> Result<u64, String> {
    let mut v = 0u64;
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    for part in text.split('|') {
        let part = part.trim();
        if let Some(n) = parse_uint(part) {
            v |= n;
        } else if let Some((_, bits)) = table.iter().find(|(n, _)| *n == part) {
            v |= bits;
        } else {
            return Err(format!("unknown flag '{part}'"));
        }
    }
    Ok(v)
}

/// Renders `v` as `A|B` from `table` if every set bit has a name; `None` otherwise.
pub fn format_flags(v: u64, table: &[(&str, u64)], enumerated: bool) -> Option<String> {
    if enumerated {
        return table
            .iter()
            .find(|(_, b)| *b == v)
            .map(|(n, _)| n.to_string());
    }
    if v == 0 {
        return table
            .iter()
            .find(|(_, b)| *b == 0)
            .map(|(n, _)| n.to_string());
    }
    let mut rest = v;
    let mut out = String::new();
    // Multi-bit names first (O_SYNC includes O_DSYNC), then single bits.
    let mut entries: Vec<&(&str, u64)> = table.iter().filter(|(_, b)| *b != 0).collect();
    entries.sort_by_key(|(_, b)| std::cmp::Reverse(b.count_ones()));
    for (name, bits) in entries {
        if rest & bits == *bits {
            if !out.is_empty() {
                out.push('|');
            }
            out.push_str(name);
            rest &= !bits;
        }
    }
    if rest != 0 {
        return None;
    }
    // A zero-valued name (O_RDONLY) is implied when no access bits are set.
    if let Some((zero, _)) = table.iter().find(|(_, b)| *b == 0) {
        if *zero == "O_RDONLY" && v & 0o3 == 0 {
            out = format!("{zero}|{out}");
        }
    }
    Some(out)
}

/// Parses an unsigned number: decimal, `0x` hex, `0o` or leading-zero octal.
pub fn parse_uint(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if let Some(o) = s.strip_prefix("0o") {
        u64::from_str_radix(o, 8).ok()
    } else if s.len() > 1 && s.starts_with('0') && s.bytes().all(|c| c.is_ascii_digit()) {
        u64::from_str_radix(&s[1..], 8).ok()
    } else if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Stable code of a flag set in the binary format.
pub fn flagset_code(set: FlagSet) -> u8 {
    match set {
        FlagSet::Open => 0,
        FlagSet::Clone => 1,
        FlagSet::Namespace => 2,
        FlagSet::Mount => 3,
        FlagSet::Umount => 4,
        FlagSet::Memfd => 5,
        FlagSet::Rename => 6,
        FlagSet::At => 7,
        FlagSet::Cloexec => 8,
        FlagSet::Execveat => 9,
        FlagSet::PtraceRequest => 10,
        FlagSet::BpfCmd => 11,
        FlagSet::SocketFamily => 12,
        FlagSet::SocketType => 13,
        FlagSet::FileMode => 14,
        FlagSet::FinitModule => 15,
        FlagSet::Userfaultfd => 16,
        FlagSet::Resolve => 17,
    }
}

/// Flag sets in code order, for decoding and for naming them in text.
pub const FLAGSETS: &[(FlagSet, &str)] = &[
    (FlagSet::Open, "open"),
    (FlagSet::Clone, "clone"),
    (FlagSet::Namespace, "namespace"),
    (FlagSet::Mount, "mount"),
    (FlagSet::Umount, "umount"),
    (FlagSet::Memfd, "memfd"),
    (FlagSet::Rename, "rename"),
    (FlagSet::At, "at"),
    (FlagSet::Cloexec, "cloexec"),
    (FlagSet::Execveat, "execveat"),
    (FlagSet::PtraceRequest, "ptrace_request"),
    (FlagSet::BpfCmd, "bpf_cmd"),
    (FlagSet::SocketFamily, "socket_family"),
    (FlagSet::SocketType, "socket_type"),
    (FlagSet::FileMode, "file_mode"),
    (FlagSet::FinitModule, "finit_module"),
    (FlagSet::Userfaultfd, "userfaultfd"),
    (FlagSet::Resolve, "resolve"),
];

/// The flag set with binary code `c`.
pub fn flagset_from_code(c: u8) -> Option<FlagSet> {
    FLAGSETS.get(c as usize).map(|(s, _)| *s)
}

/// The text name of a flag set (`open`, `clone`, ...).
pub fn flagset_name(set: FlagSet) -> &'static str {
    FLAGSETS[flagset_code(set) as usize].1
}

/// The flag set with text name `name`.
pub fn flagset_from_name(name: &str) -> Option<FlagSet> {
    FLAGSETS.iter().find(|(_, n)| *n == name).map(|(s, _)| *s)
}

/// Descriptor kinds: stable binary code and text name (distinct for every variant, unlike
/// Falco's `fd.type`, which spells memfds `file`).
pub const FD_KINDS: &[(FdKind, &str)] = &[
    (FdKind::Unknown, "unknown"),
    (FdKind::File, "file"),
    (FdKind::Directory, "directory"),
    (FdKind::Ipv4, "ipv4"),
    (FdKind::Ipv6, "ipv6"),
    (FdKind::Unix, "unix"),
    (FdKind::Pipe, "pipe"),
    (FdKind::Event, "event"),
    (FdKind::Signalfd, "signalfd"),
    (FdKind::Eventpoll, "eventpoll"),
    (FdKind::Inotify, "inotify"),
    (FdKind::Timerfd, "timerfd"),
    (FdKind::Netlink, "netlink"),
    (FdKind::Bpf, "bpf"),
    (FdKind::Userfaultfd, "userfaultfd"),
    (FdKind::IoUring, "io_uring"),
    (FdKind::Memfd, "memfd"),
    (FdKind::Pidfd, "pidfd"),
];

/// Binary code of a descriptor kind.
pub fn fdkind_code(k: FdKind) -> u8 {
    match k {
        FdKind::Unknown => 0,
        FdKind::File => 1,
        FdKind::Directory => 2,
        FdKind::Ipv4 => 3,
        FdKind::Ipv6 => 4,
        FdKind::Unix => 5,
        FdKind::Pipe => 6,
        FdKind::Event => 7,
        FdKind::Signalfd => 8,
        FdKind::Eventpoll => 9,
        FdKind::Inotify => 10,
        FdKind::Timerfd => 11,
        FdKind::Netlink => 12,
        FdKind::Bpf => 13,
        FdKind::Userfaultfd => 14,
        FdKind::IoUring => 15,
        FdKind::Memfd => 16,
        FdKind::Pidfd => 17,
    }
}

/// Text name of a descriptor kind.
pub fn fdkind_name(k: FdKind) -> &'static str {
    FD_KINDS[fdkind_code(k) as usize].1
}

/// Descriptor kind from its text name (also accepts `<NA>` and `memfd`).
pub fn fdkind_from_name(s: &str) -> Option<FdKind> {
    if s == "<NA>" {
        return Some(FdKind::Unknown);
    }
    FD_KINDS.iter().find(|(_, n)| *n == s).map(|(k, _)| *k)
}

/// Binary code of a transport protocol.
pub fn l4_code(p: L4Proto) -> u8 {
    match p {
        L4Proto::Unknown => 0,
        L4Proto::Tcp => 1,
        L4Proto::Udp => 2,
        L4Proto::Icmp => 3,
        L4Proto::Raw => 4,
    }
}

/// Transport protocol from its binary code.
pub fn l4_from_code(c: u8) -> Option<L4Proto> {
    Some(match c {
        0 => L4Proto::Unknown,
        1 => L4Proto::Tcp,
        2 => L4Proto::Udp,
        3 => L4Proto::Icmp,
        4 => L4Proto::Raw,
        _ => return None,
    })
}

/// The kind of value a parameter takes in a text fixture, so `"flags": "O_RDONLY"` becomes
/// `Value::Flags(0, FlagSet::Open)` on `openat` and `"uid": 0` a `Value::Uid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    I64,
    U64,
    Res,
    Fd,
    Str,
    Bytes,
    List,
    Flags(FlagSet),
    /// `execve` exit flags: a `U64` with `EXE_*` names.
    ExeFlags,
    Mode,
    Uid,
    Gid,
    Caps,
    Addr,
    Tuple,
    Signal,
}

/// The natural kind of parameter `p` on event type `etype` (by Falco name).
pub fn param_kind(etype: &str, p: ParamName) -> Kind {
    use ParamName as P;
    match p {
        P::Res => Kind::Res,
        P::Fd
        | P::Dirfd
        | P::Olddirfd
        | P::Newdirfd
        | P::Linkdirfd
        | P::Oldfd
        | P::Newfd
        | P::Fd1
        | P::Fd2
        | P::Olddir
        | P::Newdir => Kind::Fd,
        P::Name
        | P::Path
        | P::Filename
        | P::Exe
        | P::Cwd
        | P::Comm
        | P::TrustedExepath
        | P::Oldpath
        | P::Newpath
        | P::Target
        | P::Linkpath
        | P::Dir
        | P::Uargs
        | P::Fd0Type
        | P::Fd1Type
        | P::Fd2Type
        | P::Fd0Name
        | P::Fd1Name
        | P::Fd2Name => Kind::Str,
        // mount(2): device, filesystem type and data are strings, not numbers.
        P::Dev | P::Type | P::Data if etype == "mount" => Kind::Str,
        P::Args | P::Env | P::Cgroups => Kind::List,
        P::Data | P::Img => Kind::Bytes,
        P::Mode => Kind::Mode,
        P::Uid | P::Euid | P::Ruid | P::Suid | P::Loginuid => Kind::Uid,
        P::Gid | P::Egid | P::Rgid | P::Sgid => Kind::Gid,
        P::CapInheritable | P::CapPermitted | P::CapEffective => Kind::Caps,
        P::Tuple => Kind::Tuple,
        P::Addr => Kind::Addr,
        P::Sig => Kind::Signal,
        P::Domain => Kind::Flags(FlagSet::SocketFamily),
        P::Type if matches!(etype, "socket" | "socketpair") => Kind::Flags(FlagSet::SocketType),
        P::Request => Kind::Flags(FlagSet::PtraceRequest),
        P::Cmd if etype == "bpf" => Kind::Flags(FlagSet::BpfCmd),
        P::Nstype => Kind::Flags(FlagSet::Namespace),
        P::Resolve => Kind::Flags(FlagSet::Resolve),
        P::Flags => match etype {
            "open" | "openat" | "openat2" | "creat" => Kind::Flags(FlagSet::Open),
            "clone" | "clone3" | "fork" | "vfork" => Kind::Flags(FlagSet::Clone),
            "unshare" | "setns" => Kind::Flags(FlagSet::Namespace),
            "mount" => Kind::Flags(FlagSet::Mount),
            "umount2" | "umount" => Kind::Flags(FlagSet::Umount),
            "memfd_create" => Kind::Flags(FlagSet::Memfd),
            "renameat2" => Kind::Flags(FlagSet::Rename),
            "linkat" | "unlinkat" => Kind::Flags(FlagSet::At),
            "dup3" | "pipe2" | "accept4" | "eventfd2" | "signalfd4" | "inotify_init1"
            | "epoll_create1" => Kind::Flags(FlagSet::Cloexec),
            "execve" | "execveat" => Kind::ExeFlags,
            "finit_module" => Kind::Flags(FlagSet::FinitModule),
            "userfaultfd" => Kind::Flags(FlagSet::Userfaultfd),
            _ => Kind::U64,
        },
        P::Dev
        | P::Ino
        | P::Size
        | P::Length
        | P::Tty
        | P::CgroupId
        | P::ExeIno
        | P::ExeInoCtime
        | P::ExeInoMtime
        | P::Queuepct => Kind::U64,
        _ => Kind::I64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip() {
        let t = flag_table(FlagSet::Open);
        let v = parse_flags("O_WRONLY|O_CREAT|O_TRUNC", t).unwrap();
        assert_eq!(v, 0o1101);
        assert_eq!(
            format_flags(v, t, false).unwrap(),
            "O_WRONLY|O_CREAT|O_TRUNC"
        );
        assert_eq!(parse_flags("O_RDONLY", t).unwrap(), 0);
        assert_eq!(format_flags(0, t, false).unwrap(), "O_RDONLY");
        assert_eq!(
            parse_flags("O_FOO", t).unwrap_err(),
            "unknown flag 'O_FOO'".to_string()
        );
        assert_eq!(parse_flags("0x41|O_RDWR", t).unwrap(), 0x43);
        // O_SYNC contains O_DSYNC's bit: rendered once, as O_SYNC.
        assert_eq!(
            format_flags(0o4010000, t, false).unwrap(),
            "O_RDONLY|O_SYNC"
        );
        // An unnamed bit cannot be rendered symbolically.
        assert_eq!(format_flags(1 << 40, t, false), None);
    }

    #[test]
    fn names() {
        assert_eq!(errno_from_name("ENOENT"), Some(2));
        assert_eq!(errno_from_name("ECONNREFUSED"), Some(111));
        assert_eq!(errno_name(13), Some("EACCES"));
        assert_eq!(signal_from_name("SIGKILL"), Some(9));
        assert_eq!(signal_from_name("TERM"), Some(15));
        for (i, (k, _)) in FD_KINDS.iter().enumerate() {
            assert_eq!(fdkind_code(*k) as usize, i);
        }
        for (i, (s, _)) in FLAGSETS.iter().enumerate() {
            assert_eq!(flagset_code(*s) as usize, i);
        }
        assert_eq!(parse_uint("0644"), Some(0o644));
        assert_eq!(parse_uint("12"), Some(12));
        assert_eq!(parse_uint("0"), Some(0));
    }
}
