//! Least privilege from observation: behaviour profiles of container workloads.
//!
//! `vigil profile record` watches a container (from before its entrypoint with `--wait-for`)
//! and writes a [`Profile`]: the syscalls its cgroup made (a 512-bit bitmap kept per cgroup in
//! the kernel, so recording costs one map update per syscall), the executables it ran, the
//! files it wrote and the sensitive files it read (collapsed into prefixes), its listening
//! ports and outbound destinations, and the capabilities those imply. From a profile:
//! - [`seccomp`]: an OCI/Docker seccomp profile (deny by default with EPERM), refused with
//!   reasons when the recording is empty or incomplete;
//! - [`rules`]: Falco-language drift rules (exec, write, connect, listen, sensitive read);
//! - [`policy`]: an enforcement policy for `vigil-response`;
//! - [`diff`]: what changed between two recordings.
//!
//! Everything here is pure (no kernel, no runtime): the CLI owns the sensor loop and feeds a
//! [`Recorder`] per container. The format is documented in `docs/profiles.md`.

pub mod caps;
pub mod collapse;
pub mod diff;
pub mod model;
pub mod policy;
pub mod recorder;
pub mod rules;
pub mod seccomp;

pub use model::{Profile, ProfileError, Workload, FORMAT_VERSION};
pub use recorder::Recorder;
