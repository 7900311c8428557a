//! Seccomp profiles (OCI/Docker JSON) from a recorded workload, and the checks that refuse to
//! generate one from a recording that would break the container.
//!
//! ## Which syscalls belong in the profile
//! runc installs the filter in `runc:[2:INIT]` before it drops privileges and execs the
//! entrypoint (when `no_new_privileges` is off, which is podman's and Docker's default;
//! with it on, just before `execve`). Everything the init does *after* that point is filtered
//! too: `setgroups`/`setresuid`/`setresgid`, `capset`/`prctl`, opening and writing the exec
//! fifo, Go runtime housekeeping (`futex`, signals, `nanosleep`) and finally `execve`. Two
//! known approaches: `oci-seccomp-bpf-hook` starts tracing in an OCI prestart hook, i.e.
//! before the init reaches that point, and Inspektor Gadget's `advise seccomp-profile`
//! records by mount namespace from container creation; both therefore include the runtime's
//! tail. vigil does the same: `--wait-for` switches the kernel bitmap on at the first process
//! in the new cgroup (`runc:[1:CHILD]`), so the bitmap holds the init's calls; and because
//! that switch happens a few milliseconds after the event, [`RUNTIME_TAIL`] — the calls runc's
//! init makes after installing the filter — is always added, so a late start cannot drop
//! them. The syscalls runc makes *before* the filter (mount, pivot_root, unshare ...) are in
//! the bitmap too when recording started early; they are kept (a recording cannot tell them
//! apart) except the namespace/mount calls in [`SETUP_ONLY`], which only the runtime makes
//! before the filter and which are exactly what a profile should deny, unless the workload
//! itself was seen making them (they then appear as capability needs).
//!
//! Architectures: only `SCMP_ARCH_X86_64`. The bitmap is indexed by x86_64 numbers; 32-bit
//! (ia32/x32) calls were not learned and are denied, which is the safe direction.

use crate::model::Workload;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Fewer syscalls than this cannot be a real recording (a shell `true` makes ~30).
pub const MIN_SYSCALLS: usize = 30;

/// Syscalls runc's init (Go) makes after installing the seccomp filter; always allowed.
pub const RUNTIME_TAIL: &[&str] = &[
    "arch_prctl",
    "brk",
    "capget",
    "capset",
    "close",
    "epoll_ctl",
    "epoll_pwait",
    "execve",
    "exit",
    "exit_group",
    "fcntl",
    "fstat",
    "futex",
    "getdents64",
    "getpid",
    "getppid",
    "gettid",
    "madvise",
    "mmap",
    "mprotect",
    "munmap",
    "nanosleep",
    "newfstatat",
    "openat",
    "prctl",
    "read",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sched_yield",
    "setgid",
    "setgroups",
    "setresgid",
    "setresuid",
    "setuid",
    "sigaltstack",
    "tgkill",
    "write",
];

/// Syscalls only the runtime's pre-filter set-up makes; dropped unless the workload itself was
/// seen making them.
pub const SETUP_ONLY: &[&str] = &[
    "mount",
    "umount2",
    "pivot_root",
    "unshare",
    "setns",
    "sethostname",
];

/// Why a recording cannot become a seccomp profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reasons: Vec<String>,
    /// True when `--allow-partial` may override every reason.
    pub overridable: bool,
}

/// Checks that a workload's recording is complete enough for a seccomp profile.
pub fn check(w: &Workload) -> Result<(), Refusal> {
    let mut hard = Vec::new();
    let mut soft = Vec::new();
    if w.syscalls.is_empty() {
        hard.push(
            "the recording is empty: no syscall was seen in the container's cgroup".to_string(),
        );
    } else {
        if !w
            .syscalls
            .iter()
            .any(|s| matches!(s.as_str(), "execve" | "execveat"))
        {
            hard.push(
                "no execve was recorded: the recording did not see the container start its program"
                    .into(),
            );
        }
        if w.syscalls.len() < MIN_SYSCALLS {
            hard.push(format!(
                "only {} syscalls were recorded (fewer than {MIN_SYSCALLS}): too few for any real program",
                w.syscalls.len()
            ));
        }
    }
    if w.stats.execs == 0 {
        hard.push(
            "no program of the workload was seen starting (no successful exec outside the runtime)"
                .into(),
        );
    }
    for i in &w.instances {
        let who = if i.name.is_empty() { &i.id } else { &i.name };
        if !i.from_start {
            soft.push(format!(
                "container {who} was already running when recording started: its start-up syscalls were not seen (record with --wait-for NAME)"
            ));
        }
        if let Some(e) = &i.exited {
            if e.status != 0 {
                soft.push(format!(
                    "container {who} exited with status {} after {:.1} s: this is a recording of a failing run",
                    e.status, e.after_secs
                ));
            }
        }
    }
    if hard.is_empty() && soft.is_empty() {
        return Ok(());
    }
    let overridable = hard.is_empty();
    hard.extend(soft);
    Err(Refusal {
        reasons: hard,
        overridable,
    })
}

/// The allowed syscall names for a workload: recorded set + runtime tail − set-up only.
pub fn allowed_syscalls(w: &Workload) -> BTreeSet<String> {
    let workload_caps: BTreeSet<&str> = w.capabilities.iter().map(|c| c.reason.as_str()).collect();
    let mut set: BTreeSet<String> = w
        .syscalls
        .iter()
        .map(|s| s.as_str())
        .filter(|s| {
            !SETUP_ONLY.contains(s)
                || workload_caps
                    .iter()
                    .any(|r| r.ends_with(&format!("called {s}")))
        })
        .map(str::to_string)
        .collect();
    set.extend(RUNTIME_TAIL.iter().map(|s| s.to_string()));
    set
}

/// The OCI/Docker seccomp profile JSON for these allowed names.
pub fn profile_json(allowed: &BTreeSet<String>, workload: &str) -> Value {
    let names: Vec<&str> = allowed.iter().map(String::as_str).collect();
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{
            "names": names,
            "action": "SCMP_ACT_ALLOW",
            "comment": format!("recorded by vigil profile for workload {workload}"),
        }],
    })
}

/// Allowed-syscall counts of a runtime's default profile (podman's
/// `/usr/share/containers/seccomp.json`, Docker's `default.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultCounts {
    /// Distinct names allowed by some rule (possibly conditional on arguments or capabilities).
    pub allowed: usize,
    /// Distinct names allowed by a rule with no argument or capability condition.
    pub unconditional: usize,
}

/// Counts a runtime default profile's allowed syscalls.
pub fn count_default(text: &str) -> Result<DefaultCounts, String> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| format!("not a seccomp JSON profile: {e}"))?;
    let rules = v
        .get("syscalls")
        .and_then(Value::as_array)
        .ok_or("no `syscalls` array")?;
    let mut all = BTreeSet::new();
    let mut uncond = BTreeSet::new();
    for r in rules {
        if r.get("action").and_then(Value::as_str) != Some("SCMP_ACT_ALLOW") {
            continue;
        }
        let names: Vec<&str> = r
            .get("names")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let conditional = r
            .get("args")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
            || r.get("includes")
                .and_then(Value::as_object)
                .is_some_and(|o| o.contains_key("caps"))
            || r.get("excludes")
                .and_then(Value::as_object)
                .is_some_and(|o| !o.is_empty());
        for n in names {
            all.insert(n.to_string());
            if !conditional {
                uncond.insert(n.to_string());
            }
        }
    }
    Ok(DefaultCounts {
        allowed: all.len(),
        unconditional: uncond.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Instance, SyscallName};

    fn workload(names: &[&str]) -> Workload {
        Workload {
            name: "w".into(),
            instances: vec![Instance {
                name: "w".into(),
                from_start: true,
                ..Instance::default()
            }],
            syscalls: names
                .iter()
                .map(|n| SyscallName::try_from(n.to_string()).unwrap())
                .collect(),
            stats: crate::model::Stats {
                events: 10,
                execs: 1,
            },
            ..Workload::default()
        }
    }

    fn many() -> Vec<&'static str> {
        vigil_event::EventType::from_name("read")
            .map(|_| ())
            .unwrap();
        (0u16..60)
            .map(|i| vigil_event::EventType(i).name())
            .chain(["execve", "mount"])
            .collect()
    }

    #[test]
    fn complete_recording_passes_and_generates() {
        let w = workload(&many());
        check(&w).unwrap();
        let allowed = allowed_syscalls(&w);
        assert!(allowed.contains("execve") && allowed.contains("capset"));
        assert!(!allowed.contains("mount"), "runtime-only set-up call kept");
        let j = profile_json(&allowed, "w");
        assert_eq!(j["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(j["defaultErrnoRet"], 1);
        assert_eq!(
            j["syscalls"][0]["names"].as_array().unwrap().len(),
            allowed.len()
        );
    }

    #[test]
    fn refusals() {
        let e = check(&workload(&[])).unwrap_err();
        assert!(!e.overridable);
        assert!(e.reasons[0].contains("empty"));
        let e = check(&workload(&["read", "write"])).unwrap_err();
        assert!(e.reasons.iter().any(|r| r.contains("no execve")));
        assert!(e.reasons.iter().any(|r| r.contains("only 2 syscalls")));
        let mut w = workload(&many());
        w.instances[0].from_start = false;
        let e = check(&w).unwrap_err();
        assert!(
            e.overridable && e.reasons[0].contains("--wait-for"),
            "{e:?}"
        );
        let mut w = workload(&many());
        w.instances[0].exited = Some(crate::model::Exit {
            status: 127,
            after_secs: 0.01,
        });
        let e = check(&w).unwrap_err();
        assert!(e.reasons[0].contains("status 127"), "{e:?}");
        let mut w = workload(&many());
        w.stats.execs = 0;
        assert!(!check(&w).unwrap_err().overridable);
    }

    #[test]
    fn counts_a_default_profile() {
        let text = r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["read","write"],"action":"SCMP_ACT_ALLOW"},
            {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_MASKED_EQ"}]},
            {"names":["mount"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}},
            {"names":["kexec_load"],"action":"SCMP_ACT_ERRNO"}]}"#;
        assert_eq!(
            count_default(text).unwrap(),
            DefaultCounts {
                allowed: 4,
                unconditional: 2
            }
        );
        assert!(count_default("{").is_err());
    }
}
