//! The profile file: a versioned YAML document holding what one recording learned about each
//! workload (one workload = one container, or the replicas merged under one selector).
//!
//! Parsing uses serde with `deny_unknown_fields` and validating newtypes (syscall names,
//! capability names, absolute paths), so every error — syntax or meaning — comes back with
//! the line and column serde_yaml tracked for the node. We rejected a hand-written
//! position-tracking YAML layer (as the rules engine has): the schema is small and fixed, and
//! serde already points at the offending node.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use vigil_event::EventType;

/// The only profile format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Largest profile file accepted (a real one is a few KiB).
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Errors reading a profile file.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: file is {size} bytes, more than the {max} a profile may have")]
    TooLarge { path: String, size: u64, max: u64 },
    #[error("{path}:{line}:{col}: {msg}")]
    Parse {
        path: String,
        line: usize,
        col: usize,
        msg: String,
    },
    #[error("{path}: {msg}")]
    Invalid { path: String, msg: String },
}

/// A whole profile file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Format version ([`FORMAT_VERSION`]).
    pub version: u32,
    /// Tool and version that wrote the file.
    #[serde(default)]
    pub generated_by: String,
    /// When the recording started, RFC 3339 UTC.
    #[serde(default)]
    pub recorded_at: String,
    /// Length of the recording, seconds.
    #[serde(default)]
    pub duration_secs: f64,
    /// Syscall numbering the names were learned on (`x86_64`).
    #[serde(default = "default_arch")]
    pub arch: String,
    /// Events the kernel dropped during the recording (ring buffer full): when non-zero, the
    /// file/network/exec baseline may be incomplete; the syscall sets are not affected.
    #[serde(default)]
    pub lost_events: u64,
    pub workloads: Vec<Workload>,
}

fn default_arch() -> String {
    "x86_64".into()
}

/// Which containers a workload covers, in the shape of the enforcement policy's `scope`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scope {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub k8s_namespaces: Vec<String>,
}

impl Scope {
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
            && self.images.is_empty()
            && self.labels.is_empty()
            && self.k8s_namespaces.is_empty()
    }
}

/// One container instance that contributed to a workload.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Instance {
    pub id: String,
    pub name: String,
    pub image: String,
    /// True when recording started before the container's entrypoint ran (`--wait-for`).
    pub from_start: bool,
    /// Seconds of recording while the container ran.
    pub recorded_secs: f64,
    /// Set when the container's main process exited during the recording.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exited: Option<Exit>,
}

/// How a container's main process ended during the recording.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Exit {
    /// Exit status, or 128 + signal.
    pub status: i64,
    /// Seconds between the first exec and the exit.
    pub after_secs: f64,
}

/// An executable the workload ran, and the process names it ran under (multi-call binaries
/// such as busybox run as many names).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exec {
    pub path: AbsPath,
    #[serde(default)]
    pub names: BTreeSet<String>,
}

/// Files: written paths and sensitive paths read, collapsed to prefixes (a trailing `/` is a
/// directory prefix).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Files {
    pub write: BTreeSet<AbsPath>,
    pub read_sensitive: BTreeSet<AbsPath>,
}

/// Transport protocol of an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// A socket endpoint: address and port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub address: std::net::IpAddr,
    pub port: u16,
    pub protocol: Proto,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.address {
            std::net::IpAddr::V6(a) => write!(f, "[{a}]:{}/{}", self.port, self.protocol.as_str()),
            std::net::IpAddr::V4(a) => write!(f, "{a}:{}/{}", self.port, self.protocol.as_str()),
        }
    }
}

/// Listening sockets and outbound destinations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    pub listen: BTreeSet<Endpoint>,
    pub connect: BTreeSet<Endpoint>,
}

/// A capability the workload appears to need, and the observation it was inferred from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapNeed {
    pub name: CapName,
    pub reason: String,
}

/// Counters of what was observed (to judge whether a recording is complete).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Stats {
    /// Events attributed to the workload (runtime set-up excluded).
    pub events: u64,
    /// Successful execs of the workload.
    pub execs: u64,
}

/// Everything learned about one workload.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub name: String,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default)]
    pub instances: Vec<Instance>,
    /// Syscalls made in the container's cgroup (kernel bitmap), sorted by name.
    #[serde(default)]
    pub syscalls: BTreeSet<SyscallName>,
    #[serde(default)]
    pub exec: Vec<Exec>,
    #[serde(default)]
    pub files: Files,
    #[serde(default)]
    pub network: Network,
    #[serde(default)]
    pub capabilities: Vec<CapNeed>,
    #[serde(default)]
    pub stats: Stats,
}

impl Workload {
    /// True when every instance was recorded from before its entrypoint.
    pub fn from_start(&self) -> bool {
        !self.instances.is_empty() && self.instances.iter().all(|i| i.from_start)
    }

    /// Merges another recording of the same workload (a replica) into this one: unions.
    pub fn merge(&mut self, other: &Workload) {
        for n in &other.scope.names {
            if !self.scope.names.contains(n) {
                self.scope.names.push(n.clone());
            }
        }
        for i in &other.scope.images {
            if !self.scope.images.contains(i) {
                self.scope.images.push(i.clone());
            }
        }
        self.instances.extend(other.instances.iter().cloned());
        self.syscalls.extend(other.syscalls.iter().cloned());
        for e in &other.exec {
            match self.exec.iter_mut().find(|x| x.path == e.path) {
                Some(x) => x.names.extend(e.names.iter().cloned()),
                None => self.exec.push(e.clone()),
            }
        }
        self.exec.sort();
        self.files.write.extend(other.files.write.iter().cloned());
        self.files
            .read_sensitive
            .extend(other.files.read_sensitive.iter().cloned());
        self.files.write = crate::collapse::collapse(self.files.write.iter().map(|p| p.as_str()));
        self.network
            .listen
            .extend(other.network.listen.iter().cloned());
        self.network
            .connect
            .extend(other.network.connect.iter().cloned());
        for c in &other.capabilities {
            if !self.capabilities.iter().any(|x| x.name == c.name) {
                self.capabilities.push(c.clone());
            }
        }
        self.capabilities.sort();
        self.stats.events += other.stats.events;
        self.stats.execs += other.stats.execs;
    }
}

/// A syscall name known to this build's (x86_64) table.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SyscallName(String);

impl SyscallName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn event_type(&self) -> EventType {
        EventType::from_name(&self.0).unwrap_or(EventType(0))
    }
}

impl TryFrom<String> for SyscallName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match EventType::from_name(&s) {
            Some(t) if t.is_syscall() => Ok(SyscallName(s)),
            _ => Err(format!("unknown syscall name '{s}'")),
        }
    }
}

impl From<SyscallName> for String {
    fn from(s: SyscallName) -> String {
        s.0
    }
}

impl From<EventType> for SyscallName {
    fn from(t: EventType) -> Self {
        SyscallName(t.name().to_string())
    }
}

/// An absolute path (a trailing `/` marks a directory prefix).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AbsPath(String);

impl AbsPath {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// True for a directory prefix (`/tmp/`).
    pub fn is_prefix(&self) -> bool {
        self.0.ends_with('/')
    }
    /// True if `path` is this path or lies under this prefix.
    pub fn covers(&self, path: &str) -> bool {
        if self.is_prefix() {
            path.starts_with(&self.0) || path == &self.0[..self.0.len() - 1]
        } else {
            path == self.0
        }
    }
}

impl TryFrom<String> for AbsPath {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if !s.starts_with('/') {
            return Err(format!("path '{s}' is not absolute"));
        }
        if s.contains('\0') || s.contains('\n') {
            return Err("path contains a NUL or newline".into());
        }
        Ok(AbsPath(s))
    }
}

impl From<AbsPath> for String {
    fn from(p: AbsPath) -> String {
        p.0
    }
}

impl fmt::Display for AbsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Linux capability name without the `CAP_` prefix (`NET_BIND_SERVICE`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CapName(String);

impl CapName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CapName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let bare = s.strip_prefix("CAP_").unwrap_or(&s);
        if crate::caps::ALL.contains(&bare) {
            Ok(CapName(bare.to_string()))
        } else {
            Err(format!("unknown capability '{s}'"))
        }
    }
}

impl From<CapName> for String {
    fn from(c: CapName) -> String {
        c.0
    }
}

impl Profile {
    /// Parses a profile from text; `path` only names the source in errors.
    pub fn from_yaml(path: &str, text: &str) -> Result<Profile, ProfileError> {
        if text.trim().is_empty() {
            return Err(ProfileError::Invalid {
                path: path.into(),
                msg: "file is empty (expected a profile written by `vigil profile record`)".into(),
            });
        }
        let p: Profile = serde_yaml::from_str(text).map_err(|e| {
            let (line, col) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            // serde_yaml appends " at line X column Y" to the message; we print it up front.
            let msg = e.to_string();
            let msg = match msg.find(" at line ") {
                Some(i) => msg[..i].to_string(),
                None => msg,
            };
            ProfileError::Parse {
                path: path.into(),
                line,
                col,
                msg,
            }
        })?;
        if p.version != FORMAT_VERSION {
            return Err(ProfileError::Invalid {
                path: path.into(),
                msg: format!(
                    "profile format version {} is not supported (this vigil reads version {FORMAT_VERSION})",
                    p.version
                ),
            });
        }
        if p.arch != "x86_64" {
            return Err(ProfileError::Invalid {
                path: path.into(),
                msg: format!(
                    "profile was recorded on '{}'; only x86_64 is supported",
                    p.arch
                ),
            });
        }
        let mut names = BTreeSet::new();
        for w in &p.workloads {
            if w.name.is_empty() {
                return Err(ProfileError::Invalid {
                    path: path.into(),
                    msg: "a workload has an empty name".into(),
                });
            }
            if !names.insert(&w.name) {
                return Err(ProfileError::Invalid {
                    path: path.into(),
                    msg: format!("workload '{}' appears twice", w.name),
                });
            }
        }
        Ok(p)
    }

    /// Reads and parses a profile file (size-capped).
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let name = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| ProfileError::Io {
            path: name.clone(),
            source: e,
        })?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(ProfileError::TooLarge {
                path: name,
                size: meta.len(),
                max: MAX_FILE_BYTES,
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError::Io {
            path: name.clone(),
            source: e,
        })?;
        Profile::from_yaml(&name, &text)
    }

    /// The YAML text of this profile, with a header comment.
    pub fn to_yaml(&self) -> String {
        let body = serde_yaml::to_string(self).unwrap_or_default();
        format!("# vigil behaviour profile (format documented in docs/profiles.md)\n{body}")
    }

    /// The workload called `name`, or the only one when `name` is `None`.
    pub fn workload(&self, name: Option<&str>) -> Result<&Workload, String> {
        match name {
            Some(n) => self.workloads.iter().find(|w| w.name == n).ok_or_else(|| {
                let all: Vec<&str> = self.workloads.iter().map(|w| w.name.as_str()).collect();
                format!(
                    "no workload '{n}' in the profile (it has: {})",
                    all.join(", ")
                )
            }),
            None => match self.workloads.as_slice() {
                [w] => Ok(w),
                [] => Err("the profile has no workloads (nothing was recorded)".into()),
                ws => Err(format!(
                    "the profile has {} workloads ({}); choose one with --workload",
                    ws.len(),
                    ws.iter()
                        .map(|w| w.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "version: 1\nworkloads:\n  - name: web\n    syscalls: [read, write, execve]\n    exec:\n      - path: /usr/bin/busybox\n        names: [httpd]\n    files:\n      write: [/tmp/, /var/log/app.log]\n    network:\n      listen:\n        - {address: 127.0.0.1, port: 80, protocol: tcp}\n    capabilities:\n      - {name: NET_BIND_SERVICE, reason: bind to port 80}\n";

    #[test]
    fn parses_a_profile_and_round_trips() {
        let p = Profile::from_yaml("p.yaml", GOOD).unwrap();
        let w = p.workload(None).unwrap();
        assert_eq!(w.syscalls.len(), 3);
        assert!(w.files.write.iter().any(|p| p.covers("/tmp/x/y")));
        let again = Profile::from_yaml("p.yaml", &p.to_yaml()).unwrap();
        assert_eq!(p, again);
    }

    #[test]
    fn errors_name_the_line() {
        let bad = GOOD.replace("execve]", "execvee]");
        let e = Profile::from_yaml("p.yaml", &bad).unwrap_err().to_string();
        assert!(e.starts_with("p.yaml:4:"), "{e}");
        assert!(e.contains("unknown syscall name 'execvee'"), "{e}");

        let bad = GOOD.replace("      write:", "      wrte:");
        let e = Profile::from_yaml("p.yaml", &bad).unwrap_err().to_string();
        assert!(e.starts_with("p.yaml:9:"), "{e}");
        assert!(e.contains("unknown field `wrte`"), "{e}");

        let bad = GOOD.replace("/var/log/app.log", "var/log/app.log");
        let e = Profile::from_yaml("p.yaml", &bad).unwrap_err().to_string();
        assert!(e.contains("p.yaml:9:") && e.contains("not absolute"), "{e}");

        let bad = GOOD.replace("NET_BIND_SERVICE", "NET_BIND");
        let e = Profile::from_yaml("p.yaml", &bad).unwrap_err().to_string();
        assert!(e.contains("unknown capability"), "{e}");

        let e = Profile::from_yaml("p.yaml", "workloads: [\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("p.yaml:"), "{e}");
        let e = Profile::from_yaml("p.yaml", "version: 2\nworkloads: []\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("version 2 is not supported"), "{e}");
        let e = Profile::from_yaml("p.yaml", "  \n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty"), "{e}");
    }

    /// Randomly mutated profiles: always an error or a profile, never a panic.
    #[test]
    fn mutated_input_never_panics() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = b"[]{}:,-'\"\n #&*!|>/0123456789abcxyz";
        for _ in 0..3000 {
            let mut bytes = GOOD.as_bytes().to_vec();
            for _ in 0..(next() % 6 + 1) {
                let i = (next() as usize) % bytes.len();
                match next() % 3 {
                    0 => bytes[i] = alphabet[(next() as usize) % alphabet.len()],
                    1 => {
                        bytes.remove(i);
                    }
                    _ => bytes.insert(i, alphabet[(next() as usize) % alphabet.len()]),
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            if let Err(e) = Profile::from_yaml("fuzz.yaml", &text) {
                assert!(e.to_string().starts_with("fuzz.yaml"), "{e}");
            }
        }
    }

    #[test]
    fn merge_unions_replicas() {
        let a = Profile::from_yaml("a", GOOD).unwrap().workloads[0].clone();
        let mut b = a.clone();
        b.syscalls
            .insert(SyscallName::try_from("openat".to_string()).unwrap());
        b.exec[0].names.insert("sh".into());
        let mut m = a.clone();
        m.merge(&b);
        assert_eq!(m.syscalls.len(), 4);
        assert_eq!(m.exec.len(), 1);
        assert_eq!(m.exec[0].names.len(), 2);
    }
}
