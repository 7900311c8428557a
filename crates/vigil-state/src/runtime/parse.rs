//! Pure parsers from container runtime answers to [`Container`] records.
//!
//! Three shapes cover the runtimes vigil supports:
//! - Docker Engine `GET /containers/<id>/json` (also Podman's Docker-compatible API);
//! - Podman's own inspect JSON (`podman container inspect`, libpod REST API);
//! - an OCI runtime bundle `config.json` (containerd and CRI-O write the Kubernetes context
//!   into its annotations).
//!
//! The parsers walk a `serde_json::Value` instead of deriving typed structs: runtime versions
//! add, drop and retype fields all the time, and a missing field must cost that field, not the
//! whole record. Input size is capped by the callers (socket and file readers).

use std::collections::BTreeMap;
use vigil_event::{Container, K8sInfo, Mount};

use serde_json::Value;

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    get(v, path).and_then(Value::as_str).unwrap_or_default()
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn b(v: &Value, path: &[&str]) -> bool {
    get(v, path).and_then(Value::as_bool).unwrap_or(false)
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A JSON document from a runtime, or a message saying why it is not one.
pub fn parse_json(bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))
}

/// An image reference split into repository, tag and digest:
/// `registry:5000/ns/app:1.2@sha256:ab` -> (`registry:5000/ns/app`, `1.2`, `sha256:ab`).
/// A `:` before the last `/` belongs to the registry's port, not to a tag.
pub fn split_image_ref(image: &str) -> (String, String, String) {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, d),
        None => (image, ""),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], &name[last_slash + i + 1..]),
        None => (name, ""),
    };
    (repo.to_string(), tag.to_string(), digest.to_string())
}

/// RFC 3339 time (`2026-11-22T13:03:46.146213278Z`, `...+02:00`) to ns since the epoch.
/// Times before the epoch (`0001-01-01T00:00:00Z`, Go's zero time) give `None`.
pub fn parse_rfc3339(t: &str) -> Option<u64> {
    let t = t.trim();
    let bytes = t.as_bytes();
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { t.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &t[19..];
    let mut nanos: i64 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let mut n: i64 = 0;
        for (i, c) in frac[..digits].bytes().enumerate() {
            if i < 9 {
                n = n * 10 + i64::from(c - b'0');
            }
        }
        for _ in digits..9 {
            n *= 10;
        }
        nanos = n;
        rest = &frac[digits..];
    }
    let offset_s: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    // Days from civil (Howard Hinnant's algorithm).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_s;
    if secs < 0 {
        return None;
    }
    u64::try_from(secs)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(nanos as u64)
}

/// Kubernetes context from labels and annotations: the kubelet's labels
/// (`io.kubernetes.pod.name`, ...) and containerd's CRI annotations
/// (`io.kubernetes.cri.sandbox-name`, ...). `None` if neither names a pod.
pub fn k8s_info(maps: &[&BTreeMap<String, String>]) -> Option<K8sInfo> {
    let find = |keys: &[&str]| -> String {
        for m in maps {
            for k in keys {
                if let Some(v) = m.get(*k).filter(|v| !v.is_empty()) {
                    return v.clone();
                }
            }
        }
        String::new()
    };
    let info = K8sInfo {
        pod_name: find(&["io.kubernetes.pod.name", "io.kubernetes.cri.sandbox-name"]),
        pod_uid: find(&["io.kubernetes.pod.uid", "io.kubernetes.cri.sandbox-uid"]),
        namespace: find(&[
            "io.kubernetes.pod.namespace",
            "io.kubernetes.cri.sandbox-namespace",
        ]),
        container_name: find(&[
            "io.kubernetes.container.name",
            "io.kubernetes.cri.container-name",
        ]),
        pod_labels: BTreeMap::new(),
    };
    (!info.pod_name.is_empty() || !info.namespace.is_empty()).then_some(info)
}

/// Sets `image` and its repository/tag/digest split from an image reference.
pub fn set_image(c: &mut Container, reference: &str) {
    c.image = reference.to_string();
    let (repo, tag, digest) = split_image_ref(reference);
    c.image_repository = repo;
    c.image_tag = tag;
    if !digest.is_empty() {
        c.image_digest = digest;
    }
}

fn docker_mounts(v: &Value) -> Vec<Mount> {
    get(v, &["Mounts"])
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|m| Mount {
                    source: s(m, &["Source"]).to_string(),
                    dest: s(m, &["Destination"]).to_string(),
                    mode: s(m, &["Mode"]).to_string(),
                    rw: b(m, &["RW"]),
                    propagation: s(m, &["Propagation"]).to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn host_modes(c: &mut Container, v: &Value) {
    c.privileged = b(v, &["HostConfig", "Privileged"]);
    c.host_network = s(v, &["HostConfig", "NetworkMode"]) == "host";
    c.host_pid = s(v, &["HostConfig", "PidMode"]) == "host";
    c.host_ipc = s(v, &["HostConfig", "IpcMode"]) == "host";
}

fn finish_k8s(c: &mut Container, annotations: &BTreeMap<String, String>) {
    c.k8s = k8s_info(&[&c.labels, annotations]);
    if let Some(k) = c.k8s.as_mut() {
        k.pod_labels = c
            .labels
            .iter()
            .filter(|(k, _)| !k.starts_with("io.kubernetes."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    }
}

fn check_object(v: &Value, what: &str) -> Result<(), String> {
    if v.is_object() {
        Ok(())
    } else {
        Err(format!("{what}: expected a JSON object"))
    }
}

/// Docker Engine API `GET /containers/<id>/json` (and Podman's compatible endpoint).
pub fn parse_docker_inspect(v: &Value, runtime: &str) -> Result<Container, String> {
    check_object(v, "docker inspect")?;
    let id = s(v, &["Id"]);
    if id.is_empty() {
        return Err("docker inspect: no Id".into());
    }
    let mut c = Container {
        id: id.to_string(),
        runtime: runtime.to_string(),
        name: s(v, &["Name"]).trim_start_matches('/').to_string(),
        image_id: s(v, &["Image"]).to_string(),
        labels: string_map(get(v, &["Config", "Labels"])),
        mounts: docker_mounts(v),
        start_ts: parse_rfc3339(s(v, &["State", "StartedAt"]))
            .or_else(|| parse_rfc3339(s(v, &["Created"])))
            .unwrap_or(0),
        rootfs: s(v, &["GraphDriver", "Data", "MergedDir"]).to_string(),
        metadata_complete: true,
        ..Container::default()
    };
    let image = s(v, &["Config", "Image"]);
    set_image(&mut c, image);
    host_modes(&mut c, v);
    finish_k8s(&mut c, &BTreeMap::new());
    Ok(c)
}

/// The digest of an image from Docker's `GET /images/<id>/json` (`RepoDigests[0]`).
pub fn docker_image_digest(v: &Value) -> Option<String> {
    let first = get(v, &["RepoDigests"])?.as_array()?.first()?.as_str()?;
    first.split_once('@').map(|(_, d)| d.to_string())
}

/// Podman's inspect JSON: one object (REST API) or a one-element array (CLI).
pub fn parse_podman_inspect(v: &Value) -> Result<Container, String> {
    let v = match v {
        Value::Array(a) => a.first().ok_or("podman inspect: empty array")?,
        other => other,
    };
    check_object(v, "podman inspect")?;
    let id = s(v, &["Id"]);
    if id.is_empty() {
        return Err("podman inspect: no Id".into());
    }
    let annotations = string_map(get(v, &["Config", "Annotations"]));
    let mut c = Container {
        id: id.to_string(),
        runtime: "podman".into(),
        name: s(v, &["Name"]).to_string(),
        image_id: s(v, &["Image"]).to_string(),
        image_digest: s(v, &["ImageDigest"]).to_string(),
        labels: string_map(get(v, &["Config", "Labels"])),
        mounts: docker_mounts(v),
        start_ts: parse_rfc3339(s(v, &["State", "StartedAt"]))
            .or_else(|| parse_rfc3339(s(v, &["Created"])))
            .unwrap_or(0),
        rootfs: s(v, &["GraphDriver", "Data", "MergedDir"]).to_string(),
        metadata_complete: true,
        ..Container::default()
    };
    let image = match s(v, &["ImageName"]) {
        "" => s(v, &["Config", "Image"]),
        n => n,
    };
    set_image(&mut c, image);
    host_modes(&mut c, v);
    finish_k8s(&mut c, &annotations);
    Ok(c)
}

/// An OCI bundle `config.json` as containerd (CRI) and CRI-O write it. `id` is the container
/// id (the bundle directory's name); `runtime` is `containerd` or `cri-o`.
pub fn parse_oci_config(v: &Value, id: &str, runtime: &str) -> Result<Container, String> {
    check_object(v, "OCI config.json")?;
    if get(v, &["ociVersion"]).is_none() && get(v, &["process"]).is_none() {
        return Err("OCI config.json: neither ociVersion nor process present".into());
    }
    let ann = string_map(get(v, &["annotations"]));
    let a = |k: &str| ann.get(k).cloned().unwrap_or_default();
    // CRI-O keeps the kubelet's labels as a JSON string annotation.
    let mut labels: BTreeMap<String, String> = ann
        .get("io.kubernetes.cri-o.Labels")
        .and_then(|j| serde_json::from_str::<Value>(j).ok())
        .map(|j| string_map(Some(&j)))
        .unwrap_or_default();
    for k in [
        "io.kubernetes.pod.name",
        "io.kubernetes.pod.namespace",
        "io.kubernetes.pod.uid",
        "io.kubernetes.container.name",
    ] {
        if let Some(v) = ann.get(k) {
            labels.entry(k.to_string()).or_insert_with(|| v.clone());
        }
    }
    let mut c = Container {
        id: id.to_string(),
        runtime: runtime.to_string(),
        labels,
        metadata_complete: true,
        ..Container::default()
    };
    let image = [
        "io.kubernetes.cri.image-name",
        "io.kubernetes.cri-o.ImageName",
    ]
    .iter()
    .map(|k| a(k))
    .find(|s| !s.is_empty())
    .unwrap_or_default();
    set_image(&mut c, &image);
    c.image_id = a("io.kubernetes.cri-o.Image");
    if c.image_digest.is_empty() {
        let r = a("io.kubernetes.cri-o.ImageRef");
        if let Some((_, d)) = r.split_once('@') {
            c.image_digest = d.to_string();
        }
    }
    c.start_ts = parse_rfc3339(&a("io.kubernetes.cri-o.Created")).unwrap_or(0);
    c.rootfs = s(v, &["root", "path"]).to_string();
    c.mounts = get(v, &["mounts"])
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .map(|m| {
                    let opts: Vec<&str> = get(m, &["options"])
                        .and_then(Value::as_array)
                        .map(|o| o.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    Mount {
                        source: s(m, &["source"]).to_string(),
                        dest: s(m, &["destination"]).to_string(),
                        mode: opts.join(","),
                        rw: !opts.contains(&"ro"),
                        propagation: opts
                            .iter()
                            .find(|o| {
                                matches!(
                                    **o,
                                    "rprivate"
                                        | "private"
                                        | "rshared"
                                        | "shared"
                                        | "rslave"
                                        | "slave"
                                )
                            })
                            .map(|o| o.to_string())
                            .unwrap_or_default(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    // Host namespaces: the spec lists the namespaces the container gets; one left out is
    // shared with the host.
    let ns: Vec<&str> = get(v, &["linux", "namespaces"])
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|n| s(n, &["type"])).collect())
        .unwrap_or_default();
    if get(v, &["linux", "namespaces"]).is_some() {
        c.host_network = !ns.contains(&"network");
        c.host_pid = !ns.contains(&"pid");
        c.host_ipc = !ns.contains(&"ipc");
    }
    // Privileged: CRI does not record the flag in the bundle; a privileged container is
    // the one with CAP_SYS_ADMIN in its bounding set and no masked paths.
    let has_sys_admin = get(v, &["process", "capabilities", "bounding"])
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|c| c.as_str() == Some("CAP_SYS_ADMIN")));
    let masked = get(v, &["linux", "maskedPaths"])
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    c.privileged = has_sys_admin && !masked;
    c.k8s = k8s_info(&[&c.labels, &ann]);
    if let Some(k) = c.k8s.as_mut() {
        k.pod_labels = c
            .labels
            .iter()
            .filter(|(k, _)| !k.starts_with("io.kubernetes."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    }
    // The container's own name: the Kubernetes container name, else CRI-O's `Name`.
    c.name = c
        .k8s
        .as_ref()
        .map(|k| k.container_name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| a("io.kubernetes.cri-o.Name"));
    if a("io.kubernetes.cri.container-type") == "sandbox"
        || a("io.kubernetes.cri-o.ContainerType") == "sandbox"
    {
        // The pause container of a pod, as Kubernetes names it.
        c.name = "POD".into();
    }
    Ok(c)
}

/// A container's record in containers/storage's `containers.json` (Podman and CRI-O).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageEntry {
    pub name: String,
    pub image_name: String,
    pub image_id: String,
    /// Creation time, ns since the epoch (0 if unknown).
    pub created_ts: u64,
}

/// Finds container `id` in a parsed `containers.json` (an array of records whose `metadata`
/// is itself a JSON string). `Err` if the document is not such an array.
pub fn storage_entry(v: &Value, id: &str) -> Result<Option<StorageEntry>, String> {
    let arr = v
        .as_array()
        .ok_or("containers.json: expected a JSON array")?;
    let Some(rec) = arr.iter().find(|r| s(r, &["id"]) == id) else {
        return Ok(None);
    };
    let meta: Value = get(rec, &["metadata"])
        .and_then(Value::as_str)
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or(Value::Null);
    let name = match s(&meta, &["name"]) {
        "" => get(rec, &["names"])
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .unwrap_or_default(),
        n => n,
    };
    Ok(Some(StorageEntry {
        name: name.to_string(),
        image_name: s(&meta, &["image-name"]).to_string(),
        image_id: match s(&meta, &["image-id"]) {
            "" => s(rec, &["image"]),
            i => i,
        }
        .to_string(),
        created_ts: parse_rfc3339(s(rec, &["created"])).unwrap_or(0),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_refs() {
        let t = |r: &str| split_image_ref(r);
        assert_eq!(
            t("docker.io/library/nginx:1.25"),
            ("docker.io/library/nginx".into(), "1.25".into(), "".into())
        );
        assert_eq!(
            t("localhost:5000/app"),
            ("localhost:5000/app".into(), "".into(), "".into())
        );
        assert_eq!(
            t("localhost:5000/ns/app:v2@sha256:abcd"),
            (
                "localhost:5000/ns/app".into(),
                "v2".into(),
                "sha256:abcd".into()
            )
        );
        assert_eq!(t("alpine"), ("alpine".into(), "".into(), "".into()));
        assert_eq!(t(""), ("".into(), "".into(), "".into()));
    }

    #[test]
    fn times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-11-22T13:03:46.146213278Z"),
            Some(1_795_352_626_146_213_278)
        );
        assert_eq!(
            parse_rfc3339("2026-11-22T14:03:46.5+01:00"),
            Some(1_795_352_626_500_000_000)
        );
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("garbage"), None);
        assert_eq!(parse_rfc3339("2026-13-22T13:03:46Z"), None);
        assert_eq!(parse_rfc3339("2026-11-22T13:03:46+0100"), None);
    }
}
