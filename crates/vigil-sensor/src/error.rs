//! The sensor's error type: one variant per way starting or running the sensor can fail,
//! each with a message that says what to do about it.
//!
//! We rejected passing aya's errors through unchanged: "error loading BPF program" does not tell
//! an operator whether to run as root, mount tracefs or upgrade the kernel.

use std::io;
use std::path::PathBuf;

/// Errors from [`crate::Sensor`].
#[derive(Debug, thiserror::Error)]
pub enum SensorError {
    #[error("kernel {found} is too old: the sensor needs Linux {need} or newer (ring buffers, raw tracepoints, BTF)")]
    KernelTooOld { found: String, need: &'static str },

    #[error("not privileged enough to load eBPF programs: {missing}. Run as root, or grant CAP_BPF and CAP_PERFMON (e.g. `setcap cap_bpf,cap_perfmon+ep vigil`)")]
    NotPrivileged { missing: String },

    #[error("kernel BTF not found at {path}: the kernel must be built with CONFIG_DEBUG_INFO_BTF=y so CO-RE programs can be relocated")]
    NoBtf { path: PathBuf },

    #[error("the kernel refused bpf() while {during} (EPERM): unprivileged BPF is disabled, a seccomp/LSM policy blocks it, or the capabilities are missing in this user namespace")]
    BpfNotPermitted {
        during: String,
        #[source]
        source: io::Error,
    },

    #[error("could not parse kernel BTF at {path}: {detail}")]
    Btf { path: PathBuf, detail: String },

    #[error("could not load the eBPF object: {detail}")]
    Load { detail: String },

    #[error("the verifier rejected program {program}: {detail}")]
    Verifier { program: String, detail: String },

    #[error("could not attach {program} to raw tracepoint {tracepoint}: {detail}")]
    Attach {
        program: String,
        tracepoint: String,
        detail: String,
    },

    #[error("eBPF map {map}: {detail}")]
    Map { map: &'static str, detail: String },

    #[error("invalid sensor configuration: {0}")]
    Config(String),

    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
}

/// Finds an `EPERM` anywhere in an error's source chain.
pub(crate) fn eperm_in(err: &(dyn std::error::Error + 'static)) -> Option<io::Error> {
    errno_in(err, libc::EPERM).then(|| io::Error::from_raw_os_error(libc::EPERM))
}

/// Whether an OS error `code` is anywhere in an error's source chain.
pub(crate) fn errno_in(err: &(dyn std::error::Error + 'static), code: i32) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.raw_os_error() == Some(code))
        {
            return true;
        }
        cur = e.source();
    }
    false
}

/// The error and all its sources, `: `-joined (aya nests the useful part deep).
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut s = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        s.push_str(": ");
        s.push_str(&e.to_string());
        cur = e.source();
    }
    s
}
