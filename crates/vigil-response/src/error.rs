//! Errors of the response crate: one enum, each variant naming what was being done.
//!
//! We rejected `anyhow` here (a library): callers (the CLI, the monitor) match on
//! `Policy` vs `Kernel` to decide between "fix your file" and "check your kernel".

use crate::policy::Diagnostics;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The policy files are invalid (every problem, with file:line:col).
    #[error("invalid policy:\n{0}")]
    Policy(#[from] Diagnostics),
    /// A policy cannot be represented in the kernel tables.
    #[error("policy cannot be compiled:\n{0}")]
    Compile(String),
    /// Loading or attaching the eBPF programs failed.
    #[error("{during}: {message}")]
    Kernel { during: String, message: String },
    /// Not permitted (needs root / CAP_BPF + CAP_SYS_ADMIN + CAP_PERFMON).
    #[error("{during}: permission denied (enforcement needs root)")]
    Permission { during: String },
    /// A kernel map reached its capacity.
    #[error("policy map `{map}` is full ({capacity} entries) while {during}; raise the capacity (Options) or apply fewer policies")]
    MapFull {
        map: &'static str,
        capacity: u32,
        during: String,
    },
    /// Too many policies select one container.
    #[error("container {cgroup_id:#x}: {count} policies select it, the kernel evaluates at most {max}: {names}")]
    TooManyPolicies {
        cgroup_id: u64,
        count: usize,
        max: usize,
        names: String,
    },
    /// set_mode on a policy that is not loaded.
    #[error("no loaded policy is named `{0}`")]
    UnknownPolicy(String),
    /// A container could not be found or has gone.
    #[error("container {what}: {message}")]
    Container { what: String, message: String },
}
