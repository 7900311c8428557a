//! Rendering of parameter values the way Falco prints them: flag names (`O_RDONLY|O_CLOEXEC`),
//! errno names (`ENOENT`), capability names, signal names, socket addresses.
//!
//! Every function writes into a caller-provided `String` (a reused scratch buffer), so the
//! evaluator never allocates. Flag values are the raw x86_64 Linux bits the kernel passes; the
//! tables translate them to the names Falco rules test with `contains`. The tables live here
//! rather than in `vigil-event` because only rule evaluation and alert rendering need them.

use std::fmt::Write;
use vigil_event::{FlagSet, SockAddr, Value};

type Table = &'static [(u64, &'static str)];

const OPEN: Table = &[
    (0o1, "O_WRONLY"),
    (0o2, "O_RDWR"),
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o4010000, "O_SYNC"),
    (0o10000, "O_DSYNC"),
    (0o20000, "O_ASYNC"),
    (0o40000, "O_DIRECT"),
    (0o100000, "O_LARGEFILE"),
    (0o20200000, "O_TMPFILE"),
    (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o10000000, "O_PATH"),
];

const CLONE: Table = &[
    (0x100, "CLONE_VM"),
    (0x200, "CLONE_FS"),
    (0x400, "CLONE_FILES"),
    (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"),
    (0x2000, "CLONE_PTRACE"),
    (0x4000, "CLONE_VFORK"),
    (0x8000, "CLONE_PARENT"),
    (0x10000, "CLONE_THREAD"),
    (0x20000, "CLONE_NEWNS"),
    (0x40000, "CLONE_SYSVSEM"),
    (0x80000, "CLONE_SETTLS"),
    (0x100000, "CLONE_PARENT_SETTID"),
    (0x200000, "CLONE_CHILD_CLEARTID"),
    (0x400000, "CLONE_DETACHED"),
    (0x800000, "CLONE_UNTRACED"),
    (0x1000000, "CLONE_CHILD_SETTID"),
    (0x2000000, "CLONE_NEWCGROUP"),
    (0x4000000, "CLONE_NEWUTS"),
    (0x8000000, "CLONE_NEWIPC"),
    (0x10000000, "CLONE_NEWUSER"),
    (0x20000000, "CLONE_NEWPID"),
    (0x40000000, "CLONE_NEWNET"),
    (0x80000000, "CLONE_IO"),
];

const NAMESPACE: Table = &[
    (0x20000, "CLONE_NEWNS"),
    (0x2000000, "CLONE_NEWCGROUP"),
    (0x4000000, "CLONE_NEWUTS"),
    (0x8000000, "CLONE_NEWIPC"),
    (0x10000000, "CLONE_NEWUSER"),
    (0x20000000, "CLONE_NEWPID"),
    (0x40000000, "CLONE_NEWNET"),
    (0x80, "CLONE_NEWTIME"),
];

const MOUNT: Table = &[
    (1, "MS_RDONLY"),
    (2, "MS_NOSUID"),
    (4, "MS_NODEV"),
    (8, "MS_NOEXEC"),
    (16, "MS_SYNCHRONOUS"),
    (32, "MS_REMOUNT"),
    (64, "MS_MANDLOCK"),
    (128, "MS_DIRSYNC"),
    (1024, "MS_NOATIME"),
    (2048, "MS_NODIRATIME"),
    (4096, "MS_BIND"),
    (8192, "MS_MOVE"),
    (16384, "MS_REC"),
    (32768, "MS_SILENT"),
    (1 << 16, "MS_POSIXACL"),
    (1 << 17, "MS_UNBINDABLE"),
    (1 << 18, "MS_PRIVATE"),
    (1 << 19, "MS_SLAVE"),
    (1 << 20, "MS_SHARED"),
    (1 << 21, "MS_RELATIME"),
    (1 << 22, "MS_KERNMOUNT"),
    (1 << 23, "MS_I_VERSION"),
    (1 << 24, "MS_STRICTATIME"),
    (1 << 25, "MS_LAZYTIME"),
];

const UMOUNT: Table = &[
    (1, "MNT_FORCE"),
    (2, "MNT_DETACH"),
    (4, "MNT_EXPIRE"),
    (8, "UMOUNT_NOFOLLOW"),
];
const MEMFD: Table = &[
    (1, "MFD_CLOEXEC"),
    (2, "MFD_ALLOW_SEALING"),
    (4, "MFD_HUGETLB"),
    (8, "MFD_NOEXEC_SEAL"),
    (0x10, "MFD_EXEC"),
];
const RENAME: Table = &[
    (1, "RENAME_NOREPLACE"),
    (2, "RENAME_EXCHANGE"),
    (4, "RENAME_WHITEOUT"),
];
const AT: Table = &[
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x200, "AT_REMOVEDIR"),
    (0x400, "AT_SYMLINK_FOLLOW"),
    (0x800, "AT_NO_AUTOMOUNT"),
    (0x1000, "AT_EMPTY_PATH"),
];
const CLOEXEC: Table = &[(0o4000, "O_NONBLOCK"), (0o2000000, "O_CLOEXEC")];
const EXECVEAT: Table = &[(0x100, "AT_SYMLINK_NOFOLLOW"), (0x1000, "AT_EMPTY_PATH")];
const FILE_MODE: Table = &[
    (0o1, "S_IXOTH"),
    (0o2, "S_IWOTH"),
    (0o4, "S_IROTH"),
    (0o10, "S_IXGRP"),
    (0o20, "S_IWGRP"),
    (0o40, "S_IRGRP"),
    (0o100, "S_IXUSR"),
    (0o200, "S_IWUSR"),
    (0o400, "S_IRUSR"),
    (0o1000, "S_ISVTX"),
    (0o2000, "S_ISGID"),
    (0o4000, "S_ISUID"),
];
const FINIT: Table = &[
    (1, "MODULE_INIT_IGNORE_MODVERSIONS"),
    (2, "MODULE_INIT_IGNORE_VERMAGIC"),
    (4, "MODULE_INIT_COMPRESSED_FILE"),
];
const UFFD: Table = &[
    (1, "UFFD_USER_MODE_ONLY"),
    (0o4000, "O_NONBLOCK"),
    (0o2000000, "O_CLOEXEC"),
];
const RESOLVE: Table = &[
    (1, "RESOLVE_NO_XDEV"),
    (2, "RESOLVE_NO_MAGICLINKS"),
    (4, "RESOLVE_NO_SYMLINKS"),
    (8, "RESOLVE_BENEATH"),
    (0x10, "RESOLVE_IN_ROOT"),
    (0x20, "RESOLVE_CACHED"),
];
const SOCK_TYPE_FLAGS: Table = &[(0o4000, "SOCK_NONBLOCK"), (0o2000000, "SOCK_CLOEXEC")];
/// Bits of the execve exit `flags` parameter (see `vigil_event::params::exe_flags`).
const EXE: Table = &[
    (1, "EXE_UPPER_LAYER"),
    (2, "EXE_FROM_MEMFD"),
    (4, "EXE_WRITABLE"),
    (8, "EXE_LOWER_LAYER"),
];

const PTRACE: Table = &[
    (0, "PTRACE_TRACEME"),
    (1, "PTRACE_PEEKTEXT"),
    (2, "PTRACE_PEEKDATA"),
    (3, "PTRACE_PEEKUSR"),
    (4, "PTRACE_POKETEXT"),
    (5, "PTRACE_POKEDATA"),
    (6, "PTRACE_POKEUSR"),
    (7, "PTRACE_CONT"),
    (8, "PTRACE_KILL"),
    (9, "PTRACE_SINGLESTEP"),
    (12, "PTRACE_GETREGS"),
    (13, "PTRACE_SETREGS"),
    (14, "PTRACE_GETFPREGS"),
    (15, "PTRACE_SETFPREGS"),
    (16, "PTRACE_ATTACH"),
    (17, "PTRACE_DETACH"),
    (18, "PTRACE_GETFPXREGS"),
    (19, "PTRACE_SETFPXREGS"),
    (24, "PTRACE_SYSCALL"),
    (31, "PTRACE_SYSEMU"),
    (32, "PTRACE_SYSEMU_SINGLESTEP"),
    (0x4200, "PTRACE_SETOPTIONS"),
    (0x4201, "PTRACE_GETEVENTMSG"),
    (0x4202, "PTRACE_GETSIGINFO"),
    (0x4203, "PTRACE_SETSIGINFO"),
    (0x4204, "PTRACE_GETREGSET"),
    (0x4205, "PTRACE_SETREGSET"),
    (0x4206, "PTRACE_SEIZE"),
    (0x4207, "PTRACE_INTERRUPT"),
    (0x4208, "PTRACE_LISTEN"),
    (0x4209, "PTRACE_PEEKSIGINFO"),
];

const BPF_CMD: Table = &[
    (0, "BPF_MAP_CREATE"),
    (1, "BPF_MAP_LOOKUP_ELEM"),
    (2, "BPF_MAP_UPDATE_ELEM"),
    (3, "BPF_MAP_DELETE_ELEM"),
    (4, "BPF_MAP_GET_NEXT_KEY"),
    (5, "BPF_PROG_LOAD"),
    (6, "BPF_OBJ_PIN"),
    (7, "BPF_OBJ_GET"),
    (8, "BPF_PROG_ATTACH"),
    (9, "BPF_PROG_DETACH"),
    (10, "BPF_PROG_TEST_RUN"),
    (11, "BPF_PROG_GET_NEXT_ID"),
    (12, "BPF_MAP_GET_NEXT_ID"),
    (13, "BPF_PROG_GET_FD_BY_ID"),
    (14, "BPF_MAP_GET_FD_BY_ID"),
    (15, "BPF_OBJ_GET_INFO_BY_FD"),
    (16, "BPF_PROG_QUERY"),
    (17, "BPF_RAW_TRACEPOINT_OPEN"),
    (18, "BPF_BTF_LOAD"),
];

const FAMILY: Table = &[
    (0, "AF_UNSPEC"),
    (1, "AF_UNIX"),
    (2, "AF_INET"),
    (3, "AF_AX25"),
    (4, "AF_IPX"),
    (5, "AF_APPLETALK"),
    (6, "AF_NETROM"),
    (7, "AF_BRIDGE"),
    (8, "AF_ATMPVC"),
    (9, "AF_X25"),
    (10, "AF_INET6"),
    (16, "AF_NETLINK"),
    (17, "AF_PACKET"),
    (38, "AF_ALG"),
    (40, "AF_VSOCK"),
    (44, "AF_XDP"),
];

const SOCK_TYPE: Table = &[
    (1, "SOCK_STREAM"),
    (2, "SOCK_DGRAM"),
    (3, "SOCK_RAW"),
    (4, "SOCK_RDM"),
    (5, "SOCK_SEQPACKET"),
    (6, "SOCK_DCCP"),
    (10, "SOCK_PACKET"),
];

/// Capability names by bit number.
pub const CAPS: [&str; 41] = [
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

const ERRNO: [&str; 134] = [
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
    "",
    "ENOMSG",
    "EIDRM",
    "ECHRNG",
    "EL2NSYNC",
    "EL3HLT",
    "EL3RST",
    "ELNRNG",
    "EUNATCH",
    "ENOCSI",
    "EL2HLT",
    "EBADE",
    "EBADR",
    "EXFULL",
    "ENOANO",
    "EBADRQC",
    "EBADSLT",
    "",
    "EBFONT",
    "ENOSTR",
    "ENODATA",
    "ETIME",
    "ENOSR",
    "ENONET",
    "ENOPKG",
    "EREMOTE",
    "ENOLINK",
    "EADV",
    "ESRMNT",
    "ECOMM",
    "EPROTO",
    "EMULTIHOP",
    "EDOTDOT",
    "EBADMSG",
    "EOVERFLOW",
    "ENOTUNIQ",
    "EBADFD",
    "EREMCHG",
    "ELIBACC",
    "ELIBBAD",
    "ELIBSCN",
    "ELIBMAX",
    "ELIBEXEC",
    "EILSEQ",
    "ERESTART",
    "ESTRPIPE",
    "EUSERS",
    "ENOTSOCK",
    "EDESTADDRREQ",
    "EMSGSIZE",
    "EPROTOTYPE",
    "ENOPROTOOPT",
    "EPROTONOSUPPORT",
    "ESOCKTNOSUPPORT",
    "EOPNOTSUPP",
    "EPFNOSUPPORT",
    "EAFNOSUPPORT",
    "EADDRINUSE",
    "EADDRNOTAVAIL",
    "ENETDOWN",
    "ENETUNREACH",
    "ENETRESET",
    "ECONNABORTED",
    "ECONNRESET",
    "ENOBUFS",
    "EISCONN",
    "ENOTCONN",
    "ESHUTDOWN",
    "ETOOMANYREFS",
    "ETIMEDOUT",
    "ECONNREFUSED",
    "EHOSTDOWN",
    "EHOSTUNREACH",
    "EALREADY",
    "EINPROGRESS",
    "ESTALE",
    "EUCLEAN",
    "ENOTNAM",
    "ENAVAIL",
    "EISNAM",
    "EREMOTEIO",
    "EDQUOT",
    "ENOMEDIUM",
    "EMEDIUMTYPE",
    "ECANCELED",
    "ENOKEY",
    "EKEYEXPIRED",
    "EKEYREVOKED",
    "EKEYREJECTED",
    "EOWNERDEAD",
    "ENOTRECOVERABLE",
    "ERFKILL",
    "EHWPOISON",
];

const SIGNALS: [&str; 32] = [
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

/// The errno name for a positive errno (`2` -> `ENOENT`).
pub fn errno_name(errno: i64) -> Option<&'static str> {
    usize::try_from(errno)
        .ok()
        .and_then(|i| ERRNO.get(i))
        .copied()
        .filter(|s| !s.is_empty())
}

/// Writes Falco's `evt.res`: `SUCCESS` for `res >= 0`, else the errno name (or the number).
pub fn write_res(out: &mut String, res: i64) {
    if res >= 0 {
        out.push_str("SUCCESS");
    } else {
        match errno_name(-res) {
            Some(n) => out.push_str(n),
            None => {
                let _ = write!(out, "{res}");
            }
        }
    }
}

fn write_bits(out: &mut String, v: u64, table: Table) {
    let mut first = true;
    let mut rest = v;
    for &(bits, name) in table {
        if bits != 0 && v & bits == bits && rest & bits != 0 {
            if !first {
                out.push('|');
            }
            out.push_str(name);
            first = false;
            rest &= !bits;
        }
    }
    if first {
        let _ = write!(out, "{v}");
    }
}

fn write_enum(out: &mut String, v: u64, table: Table) {
    match table.iter().find(|(n, _)| *n == v) {
        Some((_, name)) => out.push_str(name),
        None => {
            let _ = write!(out, "{v}");
        }
    }
}

/// Writes flag names for `v` (`O_RDONLY|O_CLOEXEC`).
pub fn write_flags(out: &mut String, v: u64, set: FlagSet) {
    match set {
        FlagSet::Open => {
            if v & 0o3 == 0 {
                out.push_str("O_RDONLY");
                if v != 0 {
                    out.push('|');
                    write_bits(out, v, OPEN);
                }
            } else {
                write_bits(out, v, OPEN);
            }
        }
        FlagSet::Clone => write_bits(out, v, CLONE),
        FlagSet::Namespace => write_bits(out, v, NAMESPACE),
        FlagSet::Mount => write_bits(out, v, MOUNT),
        FlagSet::Umount => write_bits(out, v, UMOUNT),
        FlagSet::Memfd => write_bits(out, v, MEMFD),
        FlagSet::Rename => write_bits(out, v, RENAME),
        FlagSet::At => write_bits(out, v, AT),
        FlagSet::Cloexec => write_bits(out, v, CLOEXEC),
        FlagSet::Execveat => write_bits(out, v, EXECVEAT),
        FlagSet::PtraceRequest => write_enum(out, v, PTRACE),
        FlagSet::BpfCmd => write_enum(out, v, BPF_CMD),
        FlagSet::SocketFamily => write_enum(out, v, FAMILY),
        FlagSet::SocketType => {
            write_enum(out, v & 0xf, SOCK_TYPE);
            if v & !0xf != 0 {
                out.push('|');
                write_bits(out, v & !0xf, SOCK_TYPE_FLAGS);
            }
        }
        FlagSet::FileMode => write_bits(out, v, FILE_MODE),
        FlagSet::FinitModule => write_bits(out, v, FINIT),
        FlagSet::Userfaultfd => write_bits(out, v, UFFD),
        FlagSet::Resolve => write_bits(out, v, RESOLVE),
    }
}

/// Writes the execve exit `flags` bits (`EXE_WRITABLE|EXE_UPPER_LAYER`).
pub fn write_exe_flags(out: &mut String, v: u64) {
    if v == 0 {
        out.push('0');
    } else {
        write_bits(out, v, EXE);
    }
}

/// Writes capability names separated by spaces (Falco's `thread.cap_*`).
pub fn write_caps(out: &mut String, caps: u64) {
    let mut first = true;
    for (i, name) in CAPS.iter().enumerate() {
        if caps & (1 << i) != 0 {
            if !first {
                out.push(' ');
            }
            out.push_str(name);
            first = false;
        }
    }
}

/// Writes a value as `evt.arg.NAME` renders it.
pub fn write_value(out: &mut String, v: &Value<'_>, exe_flags: bool) {
    match *v {
        Value::None => out.push_str("<NA>"),
        Value::I64(n) | Value::Fd(n) => {
            let _ = write!(out, "{n}");
        }
        Value::U64(n) if exe_flags => write_exe_flags(out, n),
        Value::U64(n) | Value::Caps(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Res(r) => write_res(out, r),
        Value::Str(s) => out.push_str(s),
        Value::Bytes(b) => write_printable(out, b),
        Value::List(s) => {
            for (i, part) in s.split('\0').filter(|p| !p.is_empty()).enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(part);
            }
        }
        Value::Flags(f, set) => write_flags(out, f, set),
        Value::Mode(m) => write_bits(out, m as u64, FILE_MODE),
        Value::Uid(u) | Value::Gid(u) => {
            let _ = write!(out, "{u}");
        }
        Value::Addr(a) => write_addr(out, &a),
        Value::Tuple(t) => {
            let _ = write!(out, "{t}");
        }
        Value::Signal(s) => match SIGNALS.get(s as usize).filter(|n| !n.is_empty()) {
            Some(n) => out.push_str(n),
            None => {
                let _ = write!(out, "{s}");
            }
        },
    }
}

/// Writes a socket address (`1.2.3.4:80`, `/run/x.sock`).
pub fn write_addr(out: &mut String, a: &SockAddr<'_>) {
    match a {
        SockAddr::Inet { ip, port } => {
            let _ = write!(out, "{ip}:{port}");
        }
        SockAddr::Unix(p) => out.push_str(p),
        SockAddr::Other(f) => write_enum(out, *f as u64, FAMILY),
    }
}

/// Bytes as Falco prints buffers: printable ASCII kept, everything else as `.`.
pub fn write_printable(out: &mut String, b: &[u8]) {
    for &c in b {
        out.push(if (0x20..0x7f).contains(&c) {
            c as char
        } else {
            '.'
        });
    }
}

/// The numeric value of a parameter (`evt.rawarg.NAME`), if it has one.
pub fn raw_number(v: &Value<'_>) -> Option<i64> {
    Some(match *v {
        Value::I64(n) | Value::Res(n) | Value::Fd(n) => n,
        Value::U64(n) | Value::Flags(n, _) | Value::Caps(n) => n as i64,
        Value::Mode(m) | Value::Uid(m) | Value::Gid(m) | Value::Signal(m) => m as i64,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(v: u64, set: FlagSet) -> String {
        let mut s = String::new();
        write_flags(&mut s, v, set);
        s
    }

    #[test]
    fn open_flags_like_falco() {
        assert_eq!(flags(0, FlagSet::Open), "O_RDONLY");
        assert_eq!(flags(0o2000000, FlagSet::Open), "O_RDONLY|O_CLOEXEC");
        assert_eq!(flags(0o1101, FlagSet::Open), "O_WRONLY|O_CREAT|O_TRUNC");
        assert_eq!(flags(0o4010002, FlagSet::Open), "O_RDWR|O_SYNC");
        assert_eq!(flags(0o20200000, FlagSet::Open), "O_RDONLY|O_TMPFILE");
    }

    #[test]
    fn other_tables() {
        assert_eq!(flags(16, FlagSet::PtraceRequest), "PTRACE_ATTACH");
        assert_eq!(
            flags(0x20000000 | 0x40000000, FlagSet::Namespace),
            "CLONE_NEWPID|CLONE_NEWNET"
        );
        assert_eq!(
            flags(0o4755, FlagSet::FileMode).split('|').next_back(),
            Some("S_ISUID")
        );
        assert_eq!(
            flags(0o2000001, FlagSet::SocketType),
            "SOCK_STREAM|SOCK_CLOEXEC"
        );
        let mut s = String::new();
        write_res(&mut s, -2);
        assert_eq!(s, "ENOENT");
        s.clear();
        write_res(&mut s, 3);
        assert_eq!(s, "SUCCESS");
        s.clear();
        write_caps(&mut s, (1 << 21) | 1);
        assert_eq!(s, "CAP_CHOWN CAP_SYS_ADMIN");
    }
}
