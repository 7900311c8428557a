//! Inferring the capabilities a workload needs from what it did.
//!
//! Two sources. Attributed events (runtime set-up excluded): a successful `bind` below port
//! 1024 needs `NET_BIND_SERVICE`, `setuid`-family calls `SETUID`, a raw or packet socket
//! `NET_RAW`, `mount`/`unshare`/`setns` `SYS_ADMIN`, and so on. The cgroup's syscall set for
//! calls that only ever succeed with a capability (`chown` → `CHOWN`, `mknod` → `MKNOD`,
//! `chroot` → `SYS_CHROOT`, clock setting → `SYS_TIME`); that set also holds the runtime's own
//! set-up calls, so those entries say so in their reason.
//!
//! The result is an upper bound for a root workload (a root process calling `setuid(0)` does
//! not need `SETUID`), which is the safe direction for a `cap_drop: [ALL]` + `cap_add` list.
//! We rejected reading the kernel's `cap_capable` decisions: no kprobes on the target kernel.

use crate::model::{CapName, CapNeed};
use std::collections::BTreeMap;

/// Every capability name vigil knows (Linux 6.x), without `CAP_`.
pub const ALL: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// Capability implied by a successful call of this syscall, for calls the sensor reports as
/// events (attributed to a workload process).
pub fn for_event_syscall(name: &str) -> Option<&'static str> {
    Some(match name {
        "setuid" | "setreuid" | "setresuid" | "setfsuid" => "SETUID",
        "setgid" | "setregid" | "setresgid" | "setfsgid" | "setgroups" => "SETGID",
        "mount" | "umount2" | "unshare" | "setns" | "pivot_root" | "sethostname" => "SYS_ADMIN",
        "ptrace" => "SYS_PTRACE",
        "init_module" | "finit_module" | "delete_module" => "SYS_MODULE",
        "bpf" => "BPF",
        _ => return None,
    })
}

/// Capability implied by the mere presence of this syscall in the cgroup's syscall set.
pub fn for_bitmap_syscall(name: &str) -> Option<&'static str> {
    Some(match name {
        "chown" | "fchown" | "lchown" | "fchownat" => "CHOWN",
        "mknod" | "mknodat" => "MKNOD",
        "chroot" => "SYS_CHROOT",
        "settimeofday" | "clock_settime" | "adjtimex" | "clock_adjtime" => "SYS_TIME",
        "iopl" | "ioperm" => "SYS_RAWIO",
        "reboot" => "SYS_BOOT",
        "syslog" => "SYSLOG",
        "acct" => "SYS_PACCT",
        _ => return None,
    })
}

/// Accumulates capability needs with the first reason seen for each.
#[derive(Debug, Default, Clone)]
pub struct CapSet {
    needs: BTreeMap<&'static str, String>,
}

impl CapSet {
    pub fn add(&mut self, cap: &'static str, reason: impl FnOnce() -> String) {
        self.needs.entry(cap).or_insert_with(reason);
    }

    pub fn into_needs(self) -> Vec<CapNeed> {
        self.needs
            .into_iter()
            .filter_map(|(n, reason)| {
                CapName::try_from(n.to_string())
                    .ok()
                    .map(|name| CapNeed { name, reason })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inference_tables_use_known_names() {
        for s in [
            "setuid",
            "setgroups",
            "mount",
            "ptrace",
            "bpf",
            "finit_module",
        ] {
            assert!(ALL.contains(&for_event_syscall(s).unwrap()), "{s}");
        }
        for s in ["chown", "mknodat", "chroot", "clock_settime", "iopl"] {
            assert!(ALL.contains(&for_bitmap_syscall(s).unwrap()), "{s}");
        }
        assert_eq!(for_event_syscall("read"), None);
        assert_eq!(for_bitmap_syscall("read"), None);
        let mut c = CapSet::default();
        c.add("CHOWN", || "first".into());
        c.add("CHOWN", || "second".into());
        let n = c.into_needs();
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].reason, "first");
    }
}
