//! Event types: which kernel happening an [`Event`](crate::Event) describes.
//!
//! An event type is a `u16`. Values below [`SYSCALL_COUNT`] are x86_64 syscall numbers, so the
//! kernel side passes the raw syscall id through unchanged and the rules engine can index a
//! dense table by type. Non-syscall happenings (process exit, container start, internal
//! notifications) live above [`FIRST_SPECIAL`]. We rejected a Rust enum with one variant per
//! syscall: it would need a 450-arm match for names and could not represent syscalls a newer
//! kernel adds.

use crate::syscalls::{SYSCALL_COUNT, SYSCALL_NAMES};
use std::fmt;

/// A kind of event; see the module documentation for the numbering.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EventType(pub u16);

/// First number used for non-syscall event types.
pub const FIRST_SPECIAL: u16 = 1000;

impl EventType {
    /// Process exit (Falco's `procexit`), from the `sched_process_exit` tracepoint.
    pub const PROCEXIT: EventType = EventType(FIRST_SPECIAL);
    /// A container was seen for the first time (Falco's `container` event).
    pub const CONTAINER: EventType = EventType(FIRST_SPECIAL + 1);
    /// An internal notification from vigil itself (drops, reloads); Falco's `notification`.
    pub const NOTIFICATION: EventType = EventType(FIRST_SPECIAL + 2);
    /// Upper bound (exclusive) of all event type numbers, for dense tables.
    pub const MAX: usize = FIRST_SPECIAL as usize + SPECIAL_NAMES.len();

    /// Resolves a Falco event type name (`openat`, `procexit`, ...). Returns `None` for names
    /// that are neither a syscall on this architecture nor a known special event.
    pub fn from_name(name: &str) -> Option<EventType> {
        if let Some(i) = SPECIAL_NAMES.iter().position(|n| *n == name) {
            return Some(EventType(FIRST_SPECIAL + i as u16));
        }
        // Falco aliases that are not x86_64 syscall names.
        let name = match name {
            "umount" => "umount2",
            "signalfd4" => "signalfd4",
            other => other,
        };
        SYSCALL_NAMES
            .iter()
            .position(|n| !n.is_empty() && *n == name)
            .map(|i| EventType(i as u16))
    }

    /// Looks up a syscall by number (the kernel's `id`).
    pub fn syscall(nr: u16) -> EventType {
        EventType(nr)
    }

    /// The Falco name of this event type (`"<unknown>"` if unassigned).
    pub fn name(self) -> &'static str {
        let v = self.0 as usize;
        if v < SYSCALL_COUNT {
            let n = SYSCALL_NAMES[v];
            if n.is_empty() {
                "<unknown>"
            } else {
                n
            }
        } else if v >= FIRST_SPECIAL as usize && v < EventType::MAX {
            SPECIAL_NAMES[v - FIRST_SPECIAL as usize]
        } else {
            "<unknown>"
        }
    }

    /// True for event types that are syscalls.
    pub fn is_syscall(self) -> bool {
        (self.0 as usize) < SYSCALL_COUNT
    }

    /// Index into dense per-type tables of length [`EventType::MAX`].
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// Falco's `evt.category` for this type.
    pub fn category(self) -> Category {
        use Category::*;
        match self.name() {
            "open" | "openat" | "openat2" | "creat" | "close" | "read" | "write" | "pread64"
            | "pwrite64" | "readv" | "writev" | "sendfile" | "memfd_create" | "dup" | "dup2"
            | "dup3" => File,
            "execve" | "execveat" | "clone" | "clone3" | "fork" | "vfork" | "procexit" | "exit"
            | "exit_group" | "kill" | "tkill" | "tgkill" | "ptrace" | "prctl" => Process,
            "socket" | "connect" | "accept" | "accept4" | "bind" | "listen" | "sendto"
            | "sendmsg" | "recvfrom" | "recvmsg" | "shutdown" | "socketpair" | "setsockopt"
            | "getsockopt" => Net,
            "unlink" | "unlinkat" | "rename" | "renameat" | "renameat2" | "mkdir" | "mkdirat"
            | "rmdir" | "chmod" | "fchmod" | "fchmodat" | "symlink" | "symlinkat" | "link"
            | "linkat" | "mount" | "umount2" | "chdir" | "fchdir" | "chown" | "fchown"
            | "fchownat" | "lchown" | "truncate" | "ftruncate" => File,
            "pipe" | "pipe2" | "eventfd" | "eventfd2" | "signalfd" | "signalfd4" => Ipc,
            "setuid" | "setgid" | "setresuid" | "setresgid" | "setreuid" | "setregid"
            | "capset" => User,
            "unshare" | "setns" => Process,
            "init_module" | "finit_module" | "delete_module" | "bpf" | "userfaultfd" => System,
            "container" | "notification" => Internal,
            _ => Other,
        }
    }
}

impl fmt::Debug for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventType({}={})", self.0, self.name())
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Names of the non-syscall event types, in numbering order from [`FIRST_SPECIAL`].
pub const SPECIAL_NAMES: [&str; 3] = ["procexit", "container", "notification"];

/// Falco's `evt.category` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    File,
    Net,
    Ipc,
    Process,
    User,
    System,
    Internal,
    Other,
}

impl Category {
    /// The lowercase name Falco prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::File => "file",
            Category::Net => "net",
            Category::Ipc => "ipc",
            Category::Process => "process",
            Category::User => "user",
            Category::System => "system",
            Category::Internal => "internal",
            Category::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in [
            "openat",
            "execve",
            "connect",
            "procexit",
            "container",
            "memfd_create",
        ] {
            let t = EventType::from_name(name).unwrap();
            assert_eq!(t.name(), name);
        }
        assert_eq!(EventType::from_name("openat").unwrap().0, 257);
        assert_eq!(EventType::from_name("umount").unwrap().name(), "umount2");
        assert!(EventType::from_name("nope").is_none());
    }
}
