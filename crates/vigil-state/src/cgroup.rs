//! Container ids from cgroup paths.
//!
//! Every container runtime puts a container's processes in a cgroup whose path embeds the
//! container id, each with its own spelling (`docker-<id>.scope`, `cri-containerd-<id>.scope`,
//! `crio-<id>.scope`, `libpod-<id>`, `/docker/<id>`, a bare `/<id>` under kubepods or a runc
//! parent). [`container_of_path`] recognises them with a right-to-left walk over the path
//! components, which is a pure function tested on a table of real paths.
//!
//! Only 64-hex ids are accepted. A looser rule (any long hex component) would make host
//! cgroups such as `/process_api/<32 hex>` (every process on the VM vigil is developed on) look
//! like containers; runtimes that name containers freely (`ctr run NAME`) are not recognised,
//! which we accept: Falco draws the same line. We rejected asking each runtime "whose pid is
//! this?": it costs a socket round trip per process and does not work for exited processes.

use std::fmt;

/// Which runtime created a container, as far as the cgroup path tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum RuntimeKind {
    Docker,
    Podman,
    /// containerd through its CRI plugin (Kubernetes).
    Containerd,
    CriO,
    /// A bare 64-hex cgroup (runc directly, or Kubernetes with the cgroupfs driver where the
    /// path does not say which runtime): every source is tried.
    #[default]
    Unknown,
}

impl RuntimeKind {
    /// The `container.type` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::Docker => "docker",
            RuntimeKind::Podman => "podman",
            RuntimeKind::Containerd => "containerd",
            RuntimeKind::CriO => "cri-o",
            RuntimeKind::Unknown => "runc",
        }
    }
}

impl fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A container id found in a cgroup path, with the runtime the path suggests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupContainer {
    /// Full 64-hex container id.
    pub id: String,
    pub runtime: RuntimeKind,
}

/// True for exactly 64 lowercase hex digits (the id format of docker, podman, containerd's
/// CRI plugin and CRI-O).
pub fn is_container_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Strips `prefix` and an optional `suffix` and returns the rest if it is a container id.
fn strip_id<'a>(component: &'a str, prefix: &str, suffix: &str) -> Option<&'a str> {
    let rest = component.strip_prefix(prefix)?;
    let rest = rest.strip_suffix(suffix).unwrap_or(rest);
    is_container_id(rest).then_some(rest)
}

/// The container a single cgroup path (the third field of a `/proc/<pid>/cgroup` line) belongs
/// to, or `None` for host cgroups.
///
/// Monitor processes that live beside a container (`crio-conmon-<id>.scope`,
/// `libpod-conmon-<id>.scope`) are host processes and give `None`.
pub fn container_of_path(path: &str) -> Option<CgroupContainer> {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    for (i, comp) in comps.iter().enumerate().rev() {
        if comp.starts_with("crio-conmon-") || comp.starts_with("libpod-conmon-") {
            return None;
        }
        let found = if let Some(id) = strip_id(comp, "docker-", ".scope") {
            Some((id, RuntimeKind::Docker))
        } else if let Some(id) = strip_id(comp, "cri-containerd-", ".scope") {
            Some((id, RuntimeKind::Containerd))
        } else if let Some(id) = strip_id(comp, "crio-", ".scope") {
            Some((id, RuntimeKind::CriO))
        } else if let Some(id) = strip_id(comp, "libpod-", ".scope") {
            Some((id, RuntimeKind::Podman))
        } else if is_container_id(comp) {
            Some((*comp, bare_id_runtime(&comps[..i])))
        } else {
            None
        };
        if let Some((id, runtime)) = found {
            return Some(CgroupContainer {
                id: id.to_string(),
                runtime,
            });
        }
    }
    None
}

/// The runtime a bare `/<64hex>` component belongs to, judged by its ancestors.
fn bare_id_runtime(ancestors: &[&str]) -> RuntimeKind {
    match ancestors.last() {
        Some(&"docker") => RuntimeKind::Docker,
        Some(p) if p.starts_with("libpod") => RuntimeKind::Podman,
        _ => RuntimeKind::Unknown,
    }
}

/// The container of a process from the text of its `/proc/<pid>/cgroup` file: the first line
/// (cgroup v2 `0::` or any v1 hierarchy) whose path names a container.
///
/// Lines that are not `hierarchy:controllers:path` are skipped: the file comes from the
/// kernel, but a hostile process cannot alter it, so a malformed line means an unknown kernel
/// format rather than an attack, and the other lines still tell the truth.
pub fn container_of_cgroup_file(text: &str) -> Option<CgroupContainer> {
    text.lines()
        .filter_map(|line| line.splitn(3, ':').nth(2))
        .find_map(container_of_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "923e2f6db7f560134c3fa289fbb6726f33744a6615f49bc26d78b0535a8f4a4f";

    #[test]
    fn table_of_paths() {
        use RuntimeKind::*;
        let cases: Vec<(String, Option<RuntimeKind>)> = vec![
            // docker, cgroupfs and systemd drivers
            (format!("/docker/{ID}"), Some(Docker)),
            (format!("/system.slice/docker-{ID}.scope"), Some(Docker)),
            (
                format!("/kubepods.slice/kubepods-pod1234.slice/docker-{ID}.scope"),
                Some(Docker),
            ),
            // containerd CRI
            (
                format!(
                    "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0f5d3b2a_9a4e_4f6e_8d21_5c3f0e2b9d11.slice/cri-containerd-{ID}.scope"
                ),
                Some(Containerd),
            ),
            (
                format!("/kubepods/besteffort/pod0f5d3b2a-9a4e-4f6e-8d21-5c3f0e2b9d11/{ID}"),
                Some(Unknown),
            ),
            (format!("/kubepods/burstable/podabc/{ID}"), Some(Unknown)),
            // CRI-O
            (
                format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podx.slice/crio-{ID}.scope"),
                Some(CriO),
            ),
            (format!("/kubepods.slice/kubepods-podx.slice/crio-conmon-{ID}.scope"), None),
            // podman: cgroupfs (this VM), systemd, rootless
            (format!("/libpod_parent/libpod-{ID}"), Some(Podman)),
            (format!("/machine.slice/libpod-{ID}.scope/container"), Some(Podman)),
            (format!("/machine.slice/libpod-{ID}.scope"), Some(Podman)),
            (
                format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container"),
                Some(Podman),
            ),
            (format!("/machine.slice/libpod-conmon-{ID}.scope"), None),
            ("/libpod_parent/conmon".to_string(), None),
            // plain runc
            (format!("/{ID}"), Some(Unknown)),
            (format!("/runc/{ID}"), Some(Unknown)),
            // host cgroups
            ("/".to_string(), None),
            ("/process_api/0f5fed77efa5f29a39f50119eb08b955".to_string(), None),
            ("/user.slice/user-0.slice/session-3.scope".to_string(), None),
            ("/system.slice/docker.service".to_string(), None),
            ("/system.slice/containerd.service".to_string(), None),
            // near misses: wrong length, uppercase, trailing junk
            (format!("/docker/{}", &ID[..63]), None),
            (format!("/docker/{}", ID.to_uppercase()), None),
            (format!("/system.slice/docker-{ID}x.scope"), None),
            (format!("/docker/{ID}0"), None),
        ];
        for (path, want) in cases {
            let got = container_of_path(&path);
            match want {
                Some(rt) => {
                    let got = got.unwrap_or_else(|| panic!("no container in {path}"));
                    assert_eq!(got.id, ID, "{path}");
                    assert_eq!(got.runtime, rt, "{path}");
                }
                None => assert_eq!(got, None, "{path}"),
            }
        }
    }

    #[test]
    fn cgroup_file_v1_picks_the_container_line() {
        // The memory hierarchy of this VM says /process_api; the others name the container.
        let text = format!(
            "9:name=systemd:/libpod_parent/libpod-{ID}\n4:memory:/process_api/0f5fed77efa5f29a39f50119eb08b955\n0::/libpod_parent/libpod-{ID}\n"
        );
        let c = container_of_cgroup_file(&text).unwrap();
        assert_eq!((c.id.as_str(), c.runtime), (ID, RuntimeKind::Podman));
        let host =
            "9:name=systemd:/\n4:memory:/process_api/0f5fed77efa5f29a39f50119eb08b955\n0::/\n";
        assert_eq!(container_of_cgroup_file(host), None);
        assert_eq!(container_of_cgroup_file("garbage\n\n::\n"), None);
    }
}
