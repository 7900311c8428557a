//! Process, user and container records that give events their context.
//!
//! The live sensor keeps these in a process table (seeded from `/proc`, updated by
//! fork/exec/exit) and a container cache (filled asynchronously from runtime metadata); a
//! capture file carries snapshots of them so a replay sees the same context. The rules engine
//! reads them only through [`StateView`], so it does not care which of the two it runs on.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A process (thread group) as vigil knows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Process {
    /// Thread-group id in the host pid namespace (`proc.pid`).
    pub pid: u32,
    /// Parent's pid (`proc.ppid`); 0 if unknown.
    pub ppid: u32,
    /// Pid inside the process's own pid namespace (`proc.vpid`).
    pub vpid: u32,
    /// Session id and process group id, host namespace (`proc.sid`, `proc.pgid`).
    pub sid: u32,
    pub pgid: u32,
    /// Process group id in its own namespace (`proc.vpgid`).
    pub vpgid: u32,
    /// `comm`: the kernel's task name, at most 15 bytes (`proc.name`).
    pub comm: String,
    /// `argv[0]` as passed to exec (`proc.exe`).
    pub exe: String,
    /// Full path of the executable file (`proc.exepath`).
    pub exepath: String,
    /// `argv[1..]` (`proc.args` joins them with spaces).
    pub args: Vec<String>,
    /// Current working directory (`proc.cwd`), with a trailing `/` as Falco prints it.
    pub cwd: String,
    /// Environment (`proc.env`), `NAME=value` entries; may be empty if not captured.
    pub env: Vec<String>,
    /// Real/effective ids.
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    /// Audit login uid (`user.loginuid`); `u32::MAX` (-1) when unset.
    pub loginuid: u32,
    /// Controlling terminal device number, 0 if none (`proc.tty`).
    pub tty: u32,
    /// Capability sets (`thread.cap_*`).
    pub cap_effective: u64,
    pub cap_permitted: u64,
    pub cap_inheritable: u64,
    /// Time the process was created (clone), ns since epoch; used for `proc.duration`.
    pub start_ts: u64,
    /// Time of the last exec, ns since epoch.
    pub exec_ts: u64,
    /// Executable facts captured at exec.
    pub exe_ino: u64,
    pub exe_ino_ctime: u64,
    pub exe_ino_mtime: u64,
    pub is_exe_upper_layer: bool,
    pub is_exe_from_memfd: bool,
    pub is_exe_writable: bool,
    /// Kind and name of fds 0, 1, 2 at exec (for `proc.stdin.type` and reverse-shell rules).
    pub stdio: [StdioInfo; 3],
    /// cgroup id of the process's cgroup v2 (or v1 memory) cgroup; keys per-cgroup kernel maps.
    pub cgroup_id: u64,
    /// Container id (64 hex) if the process runs in a container; empty on the host.
    pub container_id: String,
    /// The pid-namespace init's start time, for `proc.pidns_init_start_ts`.
    pub pidns_init_start_ts: u64,
}

impl Process {
    /// `proc.cmdline`: `comm` followed by the arguments, space separated (Falco semantics).
    pub fn cmdline(&self) -> String {
        let mut s = self.comm.clone();
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }

    /// True when the process runs inside a container.
    pub fn in_container(&self) -> bool {
        !self.container_id.is_empty()
    }
}

/// What one of the standard descriptors pointed to at exec.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StdioInfo {
    /// `fd.type` spelling (`file`, `ipv4`, `pipe`, `unix`, ...); empty if unknown.
    pub kind: String,
    /// Path, or the `a:p->b:q` tuple for sockets.
    pub name: String,
}

/// A user or group entry resolved from the passwd/group database the process sees.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserInfo {
    pub uid: u32,
    pub name: String,
    pub homedir: String,
    pub shell: String,
}

/// A mount of a container (`container.mounts`, `container.mount.*`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Mount {
    pub source: String,
    pub dest: String,
    pub mode: String,
    pub rw: bool,
    pub propagation: String,
}

/// Kubernetes context of a container, from CRI labels/annotations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct K8sInfo {
    pub pod_name: String,
    pub pod_uid: String,
    pub namespace: String,
    pub container_name: String,
    pub pod_labels: BTreeMap<String, String>,
}

/// A container and the metadata vigil could learn about it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Container {
    /// Full 64-hex id (`container.full_id`); `container.id` is its first 12 characters.
    pub id: String,
    /// `docker`, `podman`, `containerd`, `cri-o`, `runc` (`container.type`).
    pub runtime: String,
    pub name: String,
    /// Image reference as given (`container.image`).
    pub image: String,
    pub image_repository: String,
    pub image_tag: String,
    pub image_digest: String,
    pub image_id: String,
    pub labels: BTreeMap<String, String>,
    pub privileged: bool,
    pub host_network: bool,
    pub host_pid: bool,
    pub host_ipc: bool,
    pub mounts: Vec<Mount>,
    /// Container start, ns since epoch (`container.start_ts`).
    pub start_ts: u64,
    /// Host path of the container's root filesystem, if known (to resolve users).
    pub rootfs: String,
    pub k8s: Option<K8sInfo>,
    /// True once runtime metadata was read; false while only the id is known.
    pub metadata_complete: bool,
}

impl Container {
    /// `container.id`: the first 12 characters of the full id (`host` on the host).
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }
}

/// Read access to the process and container context, for the rules engine.
///
/// Implemented by the live process table and by the replay state built from a capture.
pub trait StateView {
    /// The process with this thread-group id.
    fn process(&self, pid: u32) -> Option<&Process>;
    /// The container with this full id.
    fn container(&self, id: &str) -> Option<&Container>;
    /// The user with this uid as seen by `process` (its container's passwd, or the host's).
    fn user(&self, process: &Process, uid: u32) -> Option<&UserInfo>;
    /// The group name for this gid as seen by `process`.
    fn group_name(&self, process: &Process, gid: u32) -> Option<&str>;
    /// The host name vigil runs on (`evt.hostname`).
    fn hostname(&self) -> &str;
    /// The parent of `process` (`proc.pname`, `proc.aname[N]`). The default looks it up by
    /// `ppid`; the live process table overrides it to refuse a parent pid that was reused by
    /// an unrelated process. Walkers must still cap their depth.
    fn parent(&self, process: &Process) -> Option<&Process> {
        if process.ppid == process.pid {
            return None;
        }
        self.process(process.ppid)
    }
}
