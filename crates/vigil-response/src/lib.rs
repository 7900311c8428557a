//! vigil's real-time response: enforcement policies (exec, file and network control) compiled
//! into kernel maps and enforced by eBPF, plus user-space responses (kill a process or a
//! container's process tree, pause or stop a container, isolate its network).
//!
//! Stages, each its own module: [`policy`] parses and validates YAML (all errors at once,
//! file:line:col) → [`compile`] turns each policy into trie entries and explains overlaps →
//! [`Enforcer`] loads the kernel programs and keeps the maps in step with containers →
//! [`ActionReport`]s come back for every kernel decision and every user-space response.
//! Rule-triggered responses: [`respond`] selects them for an alert (pure), [`runner`]
//! dedupes and queues them to a worker thread, which acts with an [`Executor`] split off the
//! enforcer.
//!
//! We rejected BPF LSM hooks (the natural place to *refuse* an exec or open): they fail with
//! EPERM on this kernel configuration, as do fentry/fmod_ret. The kernel side therefore kills
//! at tracepoints (before the new program or the syscall's caller returns to user space) and
//! refuses connections with cgroup sock_addr programs.

pub mod action;
pub mod cgroup;
pub mod compile;
mod enforcer;
mod error;
pub mod executor;
pub mod kernel;
pub mod policy;
pub mod respond;
pub mod runner;
pub mod runtime;
mod sys;
mod unix_hooks;
mod yaml;

pub use action::{Action, ActionReport, Origin, Outcome, RuleAction, Target};
pub use enforcer::{
    ensure_bpffs, monotonic_ns, remove_pins, Enforcer, Options, Stats, UnixEnforcement, SLOTS,
};
pub use error::Error;
pub use executor::Executor;
pub use policy::{
    load_file, load_files, parse_str, Diagnostic, Diagnostics, Mode, Policy, PolicyFile, Priority,
    ResponseRule,
};
pub use yaml::Pos;

/// Whether this process may load enforcement programs (effective uid 0).
pub fn have_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
