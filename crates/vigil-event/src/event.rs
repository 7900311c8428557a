//! The event record that flows from a source (live sensor or capture file) to the rules
//! engine.
//!
//! An [`Event`] borrows everything: the sensor decodes a ring-buffer record into a stack array
//! of [`Param`]s and hands the engine a view, so nothing is allocated per event. Process and
//! container context is *not* copied into the event; the engine looks it up by `pid` through a
//! [`StateView`](crate::StateView), which the source keeps current (fork, exec, exit) before it
//! hands the event on.

use crate::params::{Param, ParamName, SockTuple, Value};
use crate::types::EventType;
use std::net::IpAddr;

/// Direction of a syscall event: entry (`>`) or exit (`<`).
///
/// vigil's sensor emits exit events that also carry the entry arguments; entry events are
/// emitted only for the types where a loaded rule asks for `evt.dir = >`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Dir {
    Enter,
    #[default]
    Exit,
}

impl Dir {
    /// `>` or `<`, as Falco prints it.
    pub fn as_char(self) -> char {
        match self {
            Dir::Enter => '>',
            Dir::Exit => '<',
        }
    }
}

/// What a file descriptor refers to (Falco's `fd.type` / `fd.typechar`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FdKind {
    #[default]
    Unknown,
    File,
    Directory,
    Ipv4,
    Ipv6,
    Unix,
    Pipe,
    Event,
    Signalfd,
    Eventpoll,
    Inotify,
    Timerfd,
    Netlink,
    Bpf,
    Userfaultfd,
    IoUring,
    Memfd,
    Pidfd,
}

impl FdKind {
    /// Falco's `fd.type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            FdKind::Unknown => "<NA>",
            FdKind::File | FdKind::Memfd => "file",
            FdKind::Directory => "directory",
            FdKind::Ipv4 => "ipv4",
            FdKind::Ipv6 => "ipv6",
            FdKind::Unix => "unix",
            FdKind::Pipe => "pipe",
            FdKind::Event => "event",
            FdKind::Signalfd => "signalfd",
            FdKind::Eventpoll => "eventpoll",
            FdKind::Inotify => "inotify",
            FdKind::Timerfd => "timerfd",
            FdKind::Netlink => "netlink",
            FdKind::Bpf => "bpf",
            FdKind::Userfaultfd => "userfaultfd",
            FdKind::IoUring => "io_uring",
            FdKind::Pidfd => "pidfd",
        }
    }

    /// Falco's `fd.typechar`.
    pub fn as_char(self) -> char {
        match self {
            FdKind::Unknown => 'o',
            FdKind::File | FdKind::Memfd => 'f',
            FdKind::Directory => 'd',
            FdKind::Ipv4 => '4',
            FdKind::Ipv6 => '6',
            FdKind::Unix => 'u',
            FdKind::Pipe => 'p',
            FdKind::Event => 'e',
            FdKind::Signalfd => 's',
            FdKind::Eventpoll => 'l',
            FdKind::Inotify => 'i',
            FdKind::Timerfd => 't',
            FdKind::Netlink => 'n',
            FdKind::Bpf => 'b',
            FdKind::Userfaultfd => 'u',
            FdKind::IoUring => 'r',
            FdKind::Pidfd => 'P',
        }
    }
}

/// The file descriptor an event is about, as the kernel resolved it (Falco's `fd.*` fields).
///
/// The sensor fills this from the kernel's `struct file` at the syscall, so vigil does not need
/// a user-space shadow of every process's descriptor table: `open` describes the new file,
/// `connect`/`accept` the socket, `dup*` the duplicated file under its new number.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct FdInfo<'a> {
    /// Descriptor number (`fd.num`), `-1` if the call failed.
    pub num: i64,
    pub kind: FdKind,
    /// Absolute path for files and directories, socket path for unix sockets, memfd name for
    /// memfds (`memfd:NAME`); empty for inet sockets (their name is rendered from `tuple`).
    pub name: &'a str,
    /// The path exactly as the process passed it, before resolution (`fd.nameraw`).
    pub nameraw: &'a str,
    /// Connection tuple for inet sockets.
    pub tuple: Option<SockTuple>,
    /// Device and inode of the file, when known.
    pub dev: u32,
    pub ino: u64,
    /// The file lives on an overlayfs upper layer (written inside the container).
    pub is_upper_layer: bool,
}

impl FdInfo<'_> {
    /// Client/server ip of the tuple.
    pub fn cip(&self) -> Option<IpAddr> {
        self.tuple.map(|t| t.src_ip)
    }
}

/// One event from the kernel (or a capture), borrowed.
#[derive(Clone, Copy, Debug)]
pub struct Event<'a> {
    /// Monotonic event number assigned by the source (`evt.num`).
    pub num: u64,
    /// Wall-clock time in nanoseconds since the Unix epoch (`evt.rawtime`).
    pub ts: u64,
    pub etype: EventType,
    pub dir: Dir,
    pub cpu: u16,
    /// Thread id and thread-group id (host pid namespace).
    pub tid: u32,
    pub pid: u32,
    /// Return value for exit events: `>= 0` success, `< 0` is `-errno` (`evt.rawres`).
    pub res: i64,
    /// Parameters in Falco order for this type.
    pub params: &'a [Param<'a>],
    /// The descriptor the event is about, if any.
    pub fd: Option<FdInfo<'a>>,
    /// Syscall latency in ns for exit events, when known (`evt.latency`).
    pub latency: u64,
}

impl<'a> Event<'a> {
    /// The value of the named parameter, or `None` if this event does not carry it.
    pub fn param(&self, name: ParamName) -> Option<&Value<'a>> {
        self.params
            .iter()
            .find(|p| p.name == name)
            .map(|p| &p.value)
    }

    /// True if the syscall failed (`evt.failed`).
    pub fn failed(&self) -> bool {
        self.dir == Dir::Exit && self.res < 0
    }
}
