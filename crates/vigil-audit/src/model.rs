//! The normalized workload model every input format is translated into.
//!
//! Kubernetes manifests, compose services, OCI `config.json`, `docker inspect` output and live
//! containers all describe the same things (namespaces shared with the host, capabilities,
//! user, mounts, limits), so each format has a small translator into [`Workload`] and the
//! checks are written once against this model. The alternative, one set of checks per
//! format, would make the same rule behave differently depending on where it came from.
//!
//! Every value keeps the place it came from ([`Loc`]: line and path in the source); values
//! that are absent keep the place where they would be written, so "missing" findings still
//! point somewhere useful.

/// Where a value is (or would be) in the source: 1-based line (0 = unknown) and a path in
/// the source's own vocabulary (YAML path, `HostConfig.Privileged`, a run flag).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Loc {
    /// 1-based line, 0 when the source has no lines (live containers).
    pub line: u32,
    /// Path of the field.
    pub path: String,
}

impl Loc {
    /// A location.
    pub fn new(line: u32, path: impl Into<String>) -> Self {
        Self {
            line,
            path: path.into(),
        }
    }

    /// A child location: same line, path extended with `.key`.
    pub fn child(&self, key: &str) -> Loc {
        Loc {
            line: self.line,
            path: join(&self.path, key),
        }
    }
}

/// Joins a parent path and a key with a dot (no dot at the root).
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else if key.starts_with('[') {
        format!("{parent}{key}")
    } else {
        format!("{parent}.{key}")
    }
}

/// A value and where it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct Field<T> {
    /// The value.
    pub value: T,
    /// Its place in the source.
    pub loc: Loc,
}

impl<T> Field<T> {
    /// A located value.
    pub fn new(value: T, loc: Loc) -> Self {
        Self { value, loc }
    }
}

/// Which kind of source a workload was read from; checks that only make sense for some
/// sources (PIDs limits do not exist in a pod spec) look at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Platform {
    /// A Kubernetes object with a pod spec.
    Kubernetes,
    /// A docker-compose service.
    Compose,
    /// An OCI runtime bundle `config.json`.
    Oci,
    /// `docker inspect` / `podman inspect` output or a live container.
    Engine,
}

/// Security settings of a pod or container (the Kubernetes vocabulary; other formats map onto it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecurityContext {
    /// Where this security context is (or would be written).
    pub loc: Loc,
    pub privileged: Option<Field<bool>>,
    /// `allowPrivilegeEscalation`; `Some(false)` also for `no-new-privileges`.
    pub allow_privilege_escalation: Option<Field<bool>>,
    pub run_as_user: Option<Field<i64>>,
    pub run_as_group: Option<Field<i64>>,
    pub run_as_non_root: Option<Field<bool>>,
    pub read_only_root_fs: Option<Field<bool>>,
    /// Capability names, upper case, without `CAP_`.
    pub caps_add: Vec<Field<String>>,
    pub caps_drop: Vec<Field<String>>,
    /// `RuntimeDefault`, `Localhost`, `Unconfined` (engine `seccomp=unconfined` maps here).
    pub seccomp: Option<Field<String>>,
    /// `RuntimeDefault`, `Localhost`, `Unconfined`.
    pub apparmor: Option<Field<String>>,
    pub selinux_type: Option<Field<String>>,
    pub selinux_user: Option<Field<String>>,
    pub selinux_role: Option<Field<String>>,
    /// Engine `label=disable`.
    pub selinux_disabled: Option<Field<bool>>,
    /// `Default` or `Unmasked`.
    pub proc_mount: Option<Field<String>>,
    pub host_process: Option<Field<bool>>,
}

/// A published or host port.
#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    pub container_port: Option<u32>,
    pub host_port: Option<u32>,
    pub host_ip: Option<String>,
    pub loc: Loc,
}

/// What backs a mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// A host path (Kubernetes hostPath, engine bind mount).
    Host,
    /// A named or anonymous engine volume, a PVC.
    Volume,
    /// tmpfs / emptyDir.
    Tmpfs,
    /// Anything else (configMap, secret, ...).
    Other,
}

/// A filesystem mounted into a container.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub kind: MountKind,
    /// Host path for `MountKind::Host`.
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    /// `shared`, `rshared`, `Bidirectional`, ...
    pub propagation: Option<String>,
    pub loc: Loc,
}

/// An environment variable.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvVar {
    pub name: String,
    /// The literal value; `None` when it comes from a reference (valueFrom, `${VAR}`).
    pub value: Option<String>,
    /// True for Kubernetes `valueFrom.secretKeyRef` / `envFrom.secretRef`.
    pub from_secret: bool,
    pub loc: Loc,
}

/// Container role inside a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerRole {
    Regular,
    Init,
    Ephemeral,
}

/// One container.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub name: String,
    pub role: ContainerRole,
    /// Path of the container in the source (`spec.containers[0]`).
    pub loc: Loc,
    pub image: Option<Field<String>>,
    pub sc: SecurityContext,
    /// Engine-style user string (`1000`, `app`, `0:0`); Kubernetes uses `sc.run_as_user`.
    pub user: Option<Field<String>>,
    pub memory_limit: Option<Field<String>>,
    pub cpu_limit: Option<Field<String>>,
    pub pids_limit: Option<Field<i64>>,
    /// Where limits are (or would be) written.
    pub limits_loc: Loc,
    pub ports: Vec<Port>,
    pub env: Vec<EnvVar>,
    pub mounts: Vec<Mount>,
    pub devices: Vec<Field<String>>,
    /// Engine-level sysctls (`--sysctl`), per container.
    pub sysctls: Vec<Field<(String, String)>>,
}

impl Container {
    /// An empty container at `loc`.
    pub fn new(name: impl Into<String>, role: ContainerRole, loc: Loc) -> Self {
        Self {
            name: name.into(),
            role,
            sc: SecurityContext {
                loc: loc.child("securityContext"),
                ..Default::default()
            },
            limits_loc: loc.child("resources.limits"),
            loc,
            image: None,
            user: None,
            memory_limit: None,
            cpu_limit: None,
            pids_limit: None,
            ports: Vec::new(),
            env: Vec::new(),
            mounts: Vec::new(),
            devices: Vec::new(),
            sysctls: Vec::new(),
        }
    }
}

/// A pod volume (Kubernetes) — needed for the Pod Security Standards volume controls even
/// when no container mounts it.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    pub name: String,
    /// The volume source key (`hostPath`, `emptyDir`, `configMap`, ...).
    pub source_type: String,
    /// Host path for `hostPath` volumes.
    pub host_path: Option<String>,
    pub loc: Loc,
}

/// Something that runs containers: a pod template, a compose service, a container.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub platform: Platform,
    /// `Deployment`, `Pod`, `service`, `container`, `oci-bundle`.
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    /// Where the object starts.
    pub loc: Loc,
    /// Where the pod spec is (Kubernetes) — the anchor of pod-level fields.
    pub pod_loc: Loc,
    pub host_pid: Option<Field<bool>>,
    pub host_ipc: Option<Field<bool>>,
    pub host_network: Option<Field<bool>>,
    pub host_uts: Option<Field<bool>>,
    /// Kubernetes `hostUsers` (false = own user namespace).
    pub host_users: Option<Field<bool>>,
    /// Engine user-namespace mode (`host`, `keep-id`, `auto`, ...); empty = daemon default.
    pub userns_mode: Option<Field<String>>,
    pub network_mode: Option<Field<String>>,
    pub automount_sa_token: Option<Field<bool>>,
    pub sysctls: Vec<Field<(String, String)>>,
    pub volumes: Vec<Volume>,
    /// Pod-level security context (Kubernetes only).
    pub pod_sc: SecurityContext,
    pub annotations: Vec<Field<(String, String)>>,
    pub containers: Vec<Container>,
}

impl Workload {
    /// An empty workload.
    pub fn new(
        platform: Platform,
        kind: impl Into<String>,
        name: impl Into<String>,
        loc: Loc,
        pod_loc: Loc,
    ) -> Self {
        Self {
            platform,
            kind: kind.into(),
            name: name.into(),
            namespace: None,
            pod_sc: SecurityContext {
                loc: pod_loc.child("securityContext"),
                ..Default::default()
            },
            loc,
            pod_loc,
            host_pid: None,
            host_ipc: None,
            host_network: None,
            host_uts: None,
            host_users: None,
            userns_mode: None,
            network_mode: None,
            automount_sa_token: None,
            sysctls: Vec::new(),
            volumes: Vec::new(),
            annotations: Vec::new(),
            containers: Vec::new(),
        }
    }

    /// A display name, `Kind/name` or `Kind/namespace/name`.
    pub fn display_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{}/{}", self.kind, ns, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// Normalizes a capability name: upper case, without the `CAP_` prefix.
pub fn normalize_cap(s: &str) -> String {
    let up = s.trim().to_ascii_uppercase();
    match up.strip_prefix("CAP_") {
        Some(rest) => rest.to_string(),
        None => up,
    }
}
