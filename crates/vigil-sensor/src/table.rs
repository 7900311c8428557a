//! The syscall table: for each syscall the sensor understands, what the kernel must capture
//! (a [`Spec`]: which arguments are paths, strings, socket addresses; where the event's
//! descriptor comes from) and how the decoder turns the record into Falco-ordered parameters.
//!
//! One table drives both sides so they cannot disagree. We rejected per-syscall C handlers
//! (Falco's approach): the kernel code would grow with every syscall, and each handler is one
//! more program for the verifier; here the kernel interprets a 16-byte spec instead.
//!
//! Syscalls a rule asks for that are not in the table are still captured generically: the
//! record carries the return value and raw arguments, and the event gets only `res`.

use vigil_bpf::{arg, fd_src, Spec, DIRFD_CWD, NR_SYSCALLS};
use vigil_event::{Category, EventType, FlagSet, ParamName};

/// Category order used for per-category counters (events and drops), kernel and user side.
pub const CATEGORIES: [Category; 8] = [
    Category::File,
    Category::Net,
    Category::Ipc,
    Category::Process,
    Category::User,
    Category::System,
    Category::Internal,
    Category::Other,
];

/// Index of `c` in [`CATEGORIES`].
pub fn category_index(c: Category) -> u8 {
    CATEGORIES.iter().position(|x| *x == c).unwrap_or(7) as u8
}

/// Where a parameter's value comes from in a syscall record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Src {
    /// The return value as `Res`.
    Res,
    /// The return value as a descriptor (`Fd`).
    ResFd,
    /// Argument `i` as a signed integer.
    I64(u8),
    /// Argument `i` as an unsigned integer.
    U64(u8),
    /// Argument `i` as a descriptor number (32-bit, sign-extended; `AT_FDCWD` stays -100).
    Fd(u8),
    /// Argument `i` as flags of the given set.
    Flags(u8, FlagSet),
    /// Argument `i` as a file mode.
    Mode(u8),
    /// Argument `i` as a user / group id.
    Uid(u8),
    Gid(u8),
    /// Argument `i` as a path made absolute against its dirfd or the cwd.
    Path(u8),
    /// Argument `i` as the string the process passed.
    Str(u8),
    /// Argument `i` as a socket address.
    Addr(u8),
    /// The connection tuple of the event's socket.
    Tuple,
    /// Numbers written by pipe/pipe2 (first, second) and the pipe's inode.
    Pipe1,
    Pipe2,
    PipeIno,
    /// Device and inode of the event's file.
    FdDev,
    FdIno,
    /// Argument `i` as a size/length.
    Size(u8),
}

/// One syscall the sensor decodes.
#[derive(Clone, Copy, Debug)]
pub struct SyscallDef {
    pub name: &'static str,
    /// Capture spec (without the `enabled` bit, which comes from the ruleset).
    pub kinds: [u8; 6],
    pub dirfd_of: [u8; 6],
    pub fd_src: u8,
    /// Parameters, in Falco's order for the exit event.
    pub params: &'static [(ParamName, Src)],
}

const I: u8 = arg::INT;
const P: u8 = arg::PATH;
const S: u8 = arg::STR;
const A: u8 = arg::SOCKADDR;
const N: u8 = 0xfe; // no dirfd
const C: u8 = DIRFD_CWD;

macro_rules! def {
    ($name:literal, [$($k:expr),*], [$($d:expr),*], $fd:expr, [$(($pn:ident, $src:expr)),* $(,)?]) => {
        SyscallDef {
            name: $name,
            kinds: [$($k),*],
            dirfd_of: [$($d),*],
            fd_src: $fd,
            params: &[$((ParamName::$pn, $src)),*],
        }
    };
}

use FlagSet as F;
use Src::*;

/// Every syscall with a dedicated decoding.
pub static SYSCALLS: &[SyscallDef] = &[
    def!(
        "open",
        [P, I, I, I, I, I],
        [C, N, N, N, N, N],
        fd_src::RET,
        [
            (Fd, ResFd),
            (Name, Path(0)),
            (Flags, Flags(1, F::Open)),
            (Mode, Mode(2)),
            (Dev, FdDev),
            (Ino, FdIno)
        ]
    ),
    def!(
        "openat",
        [I, P, I, I, I, I],
        [N, 0, N, N, N, N],
        fd_src::RET,
        [
            (Fd, ResFd),
            (Dirfd, Fd(0)),
            (Name, Path(1)),
            (Flags, Flags(2, F::Open)),
            (Mode, Mode(3)),
            (Dev, FdDev),
            (Ino, FdIno)
        ]
    ),
    def!(
        "openat2",
        // `struct open_how` is read by the kernel side into args 2..4.
        [I, P, arg::OPENHOW, I, I, I],
        [N, 0, N, N, N, N],
        fd_src::RET,
        [
            (Fd, ResFd),
            (Dirfd, Fd(0)),
            (Name, Path(1)),
            (Flags, Flags(2, F::Open)),
            (Mode, Mode(3)),
            (Resolve, Flags(4, F::Resolve)),
            (Dev, FdDev),
            (Ino, FdIno)
        ]
    ),
    def!(
        "creat",
        [P, I, I, I, I, I],
        [C, N, N, N, N, N],
        fd_src::RET,
        [
            (Fd, ResFd),
            (Name, Path(0)),
            (Mode, Mode(1)),
            (Dev, FdDev),
            (Ino, FdIno)
        ]
    ),
    def!(
        "close",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::ARG0_ENTER,
        [(Res, Res), (Fd, Fd(0))]
    ),
    def!(
        "unlink",
        [P, I, I, I, I, I],
        [C, N, N, N, N, N],
        fd_src::NONE,
        [(Res, Res), (Path, Path(0))]
    ),
    def!(
        "unlinkat",
        [I, P, I, I, I, I],
        [N, 0, N, N, N, N],
        fd_src::NONE,
        [
            (Res, Res),
            (Dirfd, Fd(0)),
            (Name, Path(1)),
            (Flags, Flags(2, F::At))
        ]
    ),
    def!(
        "rename",
        [P, P, I, I, I, I],
        [C, C, N, N, N, N],
        fd_src::NONE,
        [(Res, Res), (Oldpath, Path(0)), (Newpath, Path(1))]
    ),
    def!(
        "renameat",
        [I, P, I, P, I, I],
        [N, 0, N, 2, N, N],
        fd_src::NONE,
        [
            (Res, Res),
            (Olddirfd, Fd(0)),
            (Oldpath, Path(1)),
            (Newdirfd, Fd(2)),
            (Newpath, Path(3))
        ]
    ),
    def!(
        "renameat2",
        [I, P, I, P, I, I],
        [N, 0, N, 2, N, N],
        fd_src::NONE,
        [
            (Res, Res),
            (Olddirfd, Fd(0)),
            (Oldpath, Path(1)),
            (Newdirfd, Fd(2)),
            (Newpath, Path(3)),
            (Flags, Flags(4, F::Rename))
        ]
    ),
    def!(
        "mkdir",
        [P, I, I, I, I, I],
        [C, N, N, N, N, N],
        fd_src::NONE,
        [(Res, Res), (Path, Path(0)), (Mode, Mode(1))]
    ),
    def!(
        "mkdirat",
        [I, P, I, I, I, I],
        [N, 0, N, N, N, N],
        fd_src::NONE,
        [(Res, Res), (Dirfd, Fd(0)), (Path, Path(1)), (Mode, Mode(2))]
    ),
    def!(
        "rmdir",
        [P, I, I, I, I, I],
        [C, N, N, N, N, N],
        fd_src::NONE,
        [(Res, Res), (Path, Path(0))]
    ),
    def!(
        "chmod",
        [P, I, I, I, I, I],
        [C, N, N, N, N, N],
        fd_src::NONE,
        [(Res, Res), (Filename, Path(0)), (Mode, Mode(1))]
    ),
    def!(
        "fchmod",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::ARG0,
        [(Res, Res), (Fd, Fd(0)), (Mode, Mode(1))]
    ),
    def!(
        "fchmodat",
        [I, P, I, I, I, I],
        [N, 0, N, N, N, N],
        fd_src::NONE,
        [
            (Res, Res),
            (Dirfd, Fd(0)),
            (Filename, Path(1)),
            (Mode, Mode(2))
        ]
    ),
    def!(
        "symlink",
        [S, P, I, I, I, I],
        [N, C, N, N, N, N],
        fd_src::NONE,
        [(Res, Res), (Target, Str(0)), (Linkpath, Path(1))]
    ),
    def!(
        "symlinkat",
        [S, I, P, I, I, I],
        [N, N, 1, N, N, N],
        fd_src::NONE,
        [
            (Res, Res),
            (Target, Str(0)),
            (Linkdirfd, Fd(1)),
            (Linkpath, Path(2))
        ]
    ),
    def!(
        "link",
        [P, P, I, I, I, I],
        [C, C, N, N, N, N],
        fd_src::NONE,
        [(Res, Res), (Oldpath, Path(0)), (Newpath, Path(1))]
    ),
    def!(
        "linkat",
        [I, P, I, P, I, I],
        [N, 0, N, 2, N, N],
        fd_src::NONE,
        [
            (Res, Res),
            (Olddir, Fd(0)),
            (Oldpath, Path(1)),
            (Newdir, Fd(2)),
            (Newpath, Path(3)),
            (Flags, Flags(4, F::At))
        ]
    ),
    def!(
        "dup",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::RET,
        [(Res, ResFd), (Oldfd, Fd(0))]
    ),
    def!(
        "dup2",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::ARG1_RET,
        [(Res, ResFd), (Oldfd, Fd(0)), (Newfd, Fd(1))]
    ),
    def!(
        "dup3",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::ARG1_RET,
        [
            (Res, ResFd),
            (Oldfd, Fd(0)),
            (Newfd, Fd(1)),
            (Flags, Flags(2, F::Cloexec))
        ]
    ),
    def!(
        "pipe",
        [arg::PIPEFDS, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::NONE,
        [(Res, Res), (Fd1, Pipe1), (Fd2, Pipe2), (Ino, PipeIno)]
    ),
    def!(
        "pipe2",
        [arg::PIPEFDS, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::NONE,
        [
            (Res, Res),
            (Fd1, Pipe1),
            (Fd2, Pipe2),
            (Ino, PipeIno),
            (Flags, Flags(1, F::Cloexec))
        ]
    ),
    def!(
        "socket",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::RET,
        [
            (Fd, ResFd),
            (Domain, Flags(0, F::SocketFamily)),
            (Type, Flags(1, F::SocketType)),
            (Proto, I64(2))
        ]
    ),
    def!(
        "connect",
        [I, A, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::ARG0,
        [(Res, Res), (Tuple, Tuple), (Fd, Fd(0)), (Addr, Addr(1))]
    ),
    def!(
        "accept",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::RET,
        [(Fd, ResFd), (Tuple, Tuple)]
    ),
    def!(
        "accept4",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::RET,
        [(Fd, ResFd), (Tuple, Tuple), (Flags, Flags(3, F::Cloexec))]
    ),
    def!(
        "bind",
        [I, A, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::ARG0,
        [(Res, Res), (Addr, Addr(1)), (Fd, Fd(0))]
    ),
    def!(
        "listen",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::ARG0,
        [(Res, Res), (Fd, Fd(0)), (Backlog, I64(1))]
    ),
    def!(
        "sendto",
        [I, I, I, I, A, I],
        [N, N, N, N, N, N],
        fd_src::ARG0,
        [
            (Res, Res),
            (Fd, Fd(0)),
            (Size, Size(2)),
            (Tuple, Tuple),
            (Addr, Addr(4))
        ]
    ),
    def!(
        "sendmsg",
        [I, arg::MSGHDR, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::ARG0,
        [(Res, Res), (Fd, Fd(0)), (Tuple, Tuple), (Addr, Addr(1))]
    ),
    def!(
        "setuid",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::NONE,
        [(Res, Res), (Uid, Uid(0))]
    ),
    def!(
        "setgid",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::NONE,
        [(Res, Res), (Gid, Gid(0))]
    ),
    def!(
        "setresuid",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::NONE,
        [(Res, Res), (Ruid, Uid(0)), (Euid, Uid(1)), (Suid, Uid(2))]
    ),
    def!(
        "setresgid",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::NONE,
        [(Res, Res), (Rgid, Gid(0)), (Egid, Gid(1)), (Sgid, Gid(2))]
    ),
    def!(
        "capset",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::NONE,
        [(Res, Res)]
    ),
    def!(
        "unshare",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::NONE,
        [(Res, Res), (Flags, Flags(0, F::Namespace))]
    ),
    def!(
        "setns",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::ARG0,
        [(Res, Res), (Fd, Fd(0)), (Nstype, Flags(1, F::Namespace))]
    ),
    def!(
        "mount",
        [S, P, S, I, I, I],
        [N, C, N, N, N, N],
        fd_src::NONE,
        [
            (Res, Res),
            (Dev, Str(0)),
            (Dir, Path(1)),
            (Type, Str(2)),
            (Flags, Flags(3, F::Mount))
        ]
    ),
    def!(
        "umount2",
        [P, I, I, I, I, I],
        [C, N, N, N, N, N],
        fd_src::NONE,
        [(Res, Res), (Name, Path(0)), (Flags, Flags(1, F::Umount))]
    ),
    def!(
        "ptrace",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::NONE,
        [
            (Res, Res),
            (Request, Flags(0, F::PtraceRequest)),
            (Pid, I64(1)),
            (Addr, U64(2)),
            (Data, U64(3))
        ]
    ),
    def!(
        "init_module",
        [I, I, S, I, I, I],
        [N, N, N, N, N, N],
        fd_src::NONE,
        [(Res, Res), (Length, Size(1)), (Uargs, Str(2))]
    ),
    def!(
        "finit_module",
        [I, S, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::ARG0,
        [
            (Res, Res),
            (Fd, Fd(0)),
            (Uargs, Str(1)),
            (Flags, Flags(2, F::FinitModule))
        ]
    ),
    def!(
        "bpf",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::NONE,
        [(Res, ResFd), (Cmd, Flags(0, F::BpfCmd))]
    ),
    def!(
        "memfd_create",
        [S, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::RET,
        [(Fd, ResFd), (Name, Str(0)), (Flags, Flags(1, F::Memfd))]
    ),
    def!(
        "userfaultfd",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::RET,
        [(Res, ResFd), (Flags, Flags(0, F::Userfaultfd))]
    ),
    // Failed execs (successful ones become lifecycle records) and the parent side of clones.
    def!(
        "execve",
        [P, I, I, I, I, I],
        [C, N, N, N, N, N],
        fd_src::NONE,
        [(Res, Res), (Filename, Path(0))]
    ),
    def!(
        "execveat",
        [I, P, I, I, I, I],
        [N, 0, N, N, N, N],
        fd_src::NONE,
        [
            (Res, Res),
            (Dirfd, Fd(0)),
            (Filename, Path(1)),
            (Flags, Flags(4, F::Execveat))
        ]
    ),
    def!(
        "clone",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::NONE,
        [(Res, Res), (Flags, Flags(0, F::Clone))]
    ),
    def!(
        "clone3",
        [arg::CLONE3, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::NONE,
        [(Res, Res), (Flags, Flags(0, F::Clone))]
    ),
    def!(
        "fork",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::NONE,
        [(Res, Res)]
    ),
    def!(
        "vfork",
        [I, I, I, I, I, I],
        [N, N, N, N, N, N],
        fd_src::NONE,
        [(Res, Res)]
    ),
];

/// Dense lookup: syscall number -> index into [`SYSCALLS`].
pub struct Table {
    by_nr: [u8; NR_SYSCALLS],
}

const NONE: u8 = u8::MAX;

impl Table {
    /// Builds the index. Names that are not syscalls on this architecture are skipped (the
    /// unit tests check there are none).
    pub fn new() -> Table {
        let mut by_nr = [NONE; NR_SYSCALLS];
        for (i, d) in SYSCALLS.iter().enumerate() {
            if let Some(t) = EventType::from_name(d.name) {
                if (t.0 as usize) < NR_SYSCALLS {
                    by_nr[t.0 as usize] = i as u8;
                }
            }
        }
        Table { by_nr }
    }

    /// The definition for syscall `nr`, if it has a dedicated decoding.
    pub fn get(&self, nr: u16) -> Option<&'static SyscallDef> {
        let i = *self.by_nr.get(nr as usize)?;
        if i == NONE {
            None
        } else {
            SYSCALLS.get(i as usize)
        }
    }

    /// The kernel spec for syscall `nr`, with the `enabled` bit set as given.
    pub fn spec(&self, nr: u16, enabled: bool) -> Spec {
        let mut s = Spec {
            enabled: enabled as u8 | path_cache_flags(EventType(nr).name()),
            category: category_index(EventType(nr).category()),
            ..Spec::default()
        };
        if let Some(d) = self.get(nr) {
            s.kinds_from(d);
        }
        s
    }
}

/// The path cache bits of a syscall's spec, reported or not: calls that can move a dentry
/// or change mounts invalidate the cache, and io_uring (which renames without syscalls)
/// turns it off.
pub fn path_cache_flags(name: &str) -> u8 {
    match name {
        "rename" | "renameat" | "renameat2" | "mount" | "umount" | "umount2" | "pivot_root"
        | "move_mount" => vigil_bpf::spec::PATHGEN,
        "io_uring_setup" => vigil_bpf::spec::NOCACHE,
        _ => 0,
    }
}

impl Default for Table {
    fn default() -> Self {
        Table::new()
    }
}

trait SpecExt {
    fn kinds_from(&mut self, d: &SyscallDef);
}

impl SpecExt for Spec {
    fn kinds_from(&mut self, d: &SyscallDef) {
        self.kind = d.kinds;
        self.dirfd_of = d.dirfd_of;
        self.fd_src = d.fd_src;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_a_syscall_and_unique() {
        let t = Table::new();
        let mut seen = std::collections::HashSet::new();
        for d in SYSCALLS {
            let ty = EventType::from_name(d.name)
                .unwrap_or_else(|| panic!("{} is not a syscall", d.name));
            assert!(seen.insert(ty.0), "{} listed twice", d.name);
            assert_eq!(t.get(ty.0).map(|x| x.name), Some(d.name));
        }
    }

    #[test]
    fn path_arguments_name_a_valid_dirfd() {
        for d in SYSCALLS {
            for i in 0..6 {
                if d.kinds[i] == arg::PATH {
                    let df = d.dirfd_of[i];
                    assert!(df == DIRFD_CWD || (df as usize) < 6, "{} arg {i}", d.name);
                    if df != DIRFD_CWD {
                        assert_eq!(d.kinds[df as usize], arg::INT, "{} dirfd arg", d.name);
                    }
                }
            }
            for (_, src) in d.params {
                if let Src::Path(i) = src {
                    assert_eq!(
                        d.kinds[*i as usize],
                        arg::PATH,
                        "{}: Path({i}) not captured",
                        d.name
                    );
                }
                if let Src::Str(i) = src {
                    assert_eq!(
                        d.kinds[*i as usize],
                        arg::STR,
                        "{}: Str({i}) not captured",
                        d.name
                    );
                }
            }
        }
    }

    #[test]
    fn spec_for_openat() {
        let t = Table::new();
        let s = t.spec(257, true);
        assert_eq!(s.enabled, 1);
        assert_eq!(s.kind[1], arg::PATH);
        assert_eq!(s.dirfd_of[1], 0);
        assert_eq!(s.fd_src, fd_src::RET);
        let g = t.spec(0, true); // read: generic
        assert_eq!(g.kind, [0; 6]);
    }
}
