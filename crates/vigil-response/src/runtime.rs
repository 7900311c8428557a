//! Container metadata from podman (`podman inspect`), for callers that know a container by
//! name or id rather than from the sensor's container cache (the CLI and the tests).
//!
//! We rejected podman's REST socket for this: it is not always enabled, while the CLI is.

use std::process::Command;

use crate::Error;

/// What enforcement needs to know about a podman container.
#[derive(Debug, Clone)]
pub struct PodmanContainer {
    /// Pid of the container's init process (runc init before `podman start`), 0 if stopped.
    pub pid: u32,
    pub status: String,
    pub container: vigil_event::Container,
}

/// `podman inspect NAME_OR_ID`.
pub fn inspect(name: &str) -> Result<PodmanContainer, Error> {
    let err = |m: String| Error::Container {
        what: name.to_string(),
        message: m,
    };
    let out = Command::new("podman")
        .args(["container", "inspect", "--format", "json", name])
        .output()
        .map_err(|e| err(format!("running podman: {e}")))?;
    if !out.status.success() {
        return Err(err(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| err(format!("podman inspect output: {e}")))?;
    let c = v
        .get(0)
        .ok_or_else(|| err("podman inspect returned nothing".into()))?;
    let s = |p: &str| {
        c.pointer(p)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let image = s("/ImageName");
    let (repo, tag) = match image.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r.to_string(), t.to_string()),
        _ => (image.clone(), String::new()),
    };
    let labels = c
        .pointer("/Config/Labels")
        .and_then(|l| l.as_object())
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    Ok(PodmanContainer {
        pid: c
            .pointer("/State/Pid")
            .and_then(|p| p.as_u64())
            .unwrap_or(0) as u32,
        status: s("/State/Status"),
        container: vigil_event::Container {
            id: s("/Id"),
            runtime: "podman".into(),
            name: s("/Name").trim_start_matches('/').to_string(),
            image,
            image_repository: repo,
            image_tag: tag,
            image_id: s("/Image"),
            labels,
            metadata_complete: true,
            ..Default::default()
        },
    })
}
