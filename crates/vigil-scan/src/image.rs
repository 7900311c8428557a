//! Opening scan targets: OCI image layouts (directory or archive), docker-archive tarballs
//! (`docker save`, `podman save`), root filesystem directories, and local podman images.
//!
//! Archives are indexed once (entry name -> byte range) and each blob is then read straight
//! from the archive file with a seek, so nothing is extracted to disk. Blob names from
//! manifests are validated (`sha256:` + hex, or a normalized relative path) before use, so a
//! hostile manifest cannot point outside the layout. Podman images are exported with
//! `podman save` into a private temporary directory; reading podman's storage directly was
//! rejected because its layout depends on the storage driver and configuration.

use crate::error::ScanError;
use crate::vfs::normalize;
use serde_json::Value;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Largest manifest/index/config JSON accepted.
const MAX_JSON: u64 = 8 << 20;

/// Where blobs come from.
#[derive(Debug)]
enum Store {
    Dir(PathBuf),
    Tar {
        file: PathBuf,
        index: HashMap<String, (u64, u64)>,
    },
}

/// One layer to read.
#[derive(Debug, Clone)]
pub struct LayerRef {
    /// Blob name inside the store (path in the archive or `blobs/sha256/...`).
    pub blob: String,
    /// Digest of the blob when known (OCI), else the diff id from the config.
    pub digest: Option<String>,
}

/// An opened target.
#[derive(Debug)]
pub struct Image {
    /// What the user asked for.
    pub name: String,
    /// `oci`, `docker-archive`, `rootfs`.
    pub format: &'static str,
    /// The image config JSON, if the target has one.
    pub config: Option<Value>,
    pub config_digest: Option<String>,
    pub layers: Vec<LayerRef>,
    /// For a rootfs directory: its path.
    pub rootfs: Option<PathBuf>,
    store: Option<Store>,
    /// Keeps a `podman save` export alive while the image is read.
    _tmp: Option<tempfile::TempDir>,
}

fn terr(target: &str, reason: impl Into<String>) -> ScanError {
    ScanError::Target {
        target: target.to_string(),
        reason: reason.into(),
    }
}

fn io_err(path: &Path, e: std::io::Error) -> ScanError {
    ScanError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// `sha256:HEX` -> `blobs/sha256/HEX`, refusing anything else.
fn blob_path(digest: &str) -> Option<String> {
    let (alg, hex) = digest.split_once(':')?;
    let ok_alg = !alg.is_empty()
        && alg
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let ok_hex = hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    (ok_alg && ok_hex).then(|| format!("blobs/{alg}/{hex}"))
}

impl Store {
    fn open(&self, name: &str) -> Result<Box<dyn Read + Send>, ScanError> {
        match self {
            Store::Dir(root) => {
                let p = root.join(name);
                let f = File::open(&p).map_err(|e| io_err(&p, e))?;
                Ok(Box::new(f))
            }
            Store::Tar { file, index } => {
                let &(off, size) = index.get(name).ok_or_else(|| ScanError::Metadata {
                    file: file.display().to_string(),
                    reason: format!("archive has no entry '{name}'"),
                })?;
                let mut f = File::open(file).map_err(|e| io_err(file, e))?;
                f.seek(SeekFrom::Start(off)).map_err(|e| io_err(file, e))?;
                Ok(Box::new(f.take(size)))
            }
        }
    }

    fn exists(&self, name: &str) -> bool {
        match self {
            Store::Dir(root) => root.join(name).is_file(),
            Store::Tar { index, .. } => index.contains_key(name),
        }
    }

    fn label(&self, name: &str) -> String {
        match self {
            Store::Dir(root) => root.join(name).display().to_string(),
            Store::Tar { file, .. } => format!("{}!{name}", file.display()),
        }
    }

    fn json(&self, name: &str) -> Result<Value, ScanError> {
        let mut buf = Vec::new();
        self.open(name)?
            .take(MAX_JSON + 1)
            .read_to_end(&mut buf)
            .map_err(|e| ScanError::Metadata {
                file: self.label(name),
                reason: e.to_string(),
            })?;
        if buf.len() as u64 > MAX_JSON {
            return Err(ScanError::Metadata {
                file: self.label(name),
                reason: format!("larger than {MAX_JSON} bytes"),
            });
        }
        serde_json::from_slice(&buf).map_err(|e| ScanError::Metadata {
            file: self.label(name),
            reason: format!("invalid JSON: {e}"),
        })
    }
}

/// Index a tar archive: entry name -> (data offset, size). Only regular files are indexed.
fn index_tar(path: &Path) -> Result<HashMap<String, (u64, u64)>, ScanError> {
    let f = File::open(path).map_err(|e| io_err(path, e))?;
    let mut ar = tar::Archive::new(f);
    let mut index = HashMap::new();
    let bad = |e: std::io::Error| ScanError::Target {
        target: path.display().to_string(),
        reason: format!("not a readable tar archive: {e}"),
    };
    for entry in ar.entries().map_err(bad)? {
        let entry = entry.map_err(bad)?;
        if index.len() > 1_000_000 {
            return Err(terr(
                &path.display().to_string(),
                "more than 1000000 entries",
            ));
        }
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if let Ok(n) = normalize(&name) {
            index.insert(n, (entry.raw_file_position(), entry.size()));
        }
    }
    Ok(index)
}

/// Open whatever `target` names.
///
/// Forms: `DIR` (OCI layout if it has an `oci-layout` file, else a root filesystem),
/// `DIR:TAG` and `DIR@sha256:...` (OCI layout), `FILE.tar` (docker-archive or OCI archive),
/// `podman:NAME` or a name that is not a path (a local podman image).
pub fn open(target: &str) -> Result<Image, ScanError> {
    if let Some(name) = target.strip_prefix("podman:") {
        return open_podman(target, name);
    }
    let p = Path::new(target);
    if p.is_dir() {
        if p.join("oci-layout").is_file() {
            return open_oci(target, Store::Dir(p.to_path_buf()), None);
        }
        return Ok(Image {
            name: target.to_string(),
            format: "rootfs",
            config: None,
            config_digest: None,
            layers: Vec::new(),
            rootfs: Some(p.to_path_buf()),
            store: None,
            _tmp: None,
        });
    }
    if p.is_file() {
        return open_archive(target, p, None);
    }
    // DIR@digest or DIR:tag / FILE:tag
    let split = target
        .rfind('@')
        .map(|i| (&target[..i], &target[i + 1..]))
        .or_else(|| target.rfind(':').map(|i| (&target[..i], &target[i + 1..])));
    if let Some((base, reference)) = split {
        let bp = Path::new(base);
        if bp.is_dir() && bp.join("oci-layout").is_file() {
            return open_oci(target, Store::Dir(bp.to_path_buf()), Some(reference));
        }
        if bp.is_file() {
            return open_archive(target, bp, Some(reference));
        }
    }
    if target.contains('/') && !target.contains(':') && target.starts_with(['.', '/']) {
        return Err(terr(target, "no such file or directory"));
    }
    open_podman(target, target)
}

fn open_archive(target: &str, p: &Path, reference: Option<&str>) -> Result<Image, ScanError> {
    let mut head = [0u8; 4];
    if let Ok(mut f) = File::open(p) {
        let _ = f.read(&mut head);
    }
    if head[..2] == [0x1f, 0x8b] || head == [0x28, 0xb5, 0x2f, 0xfd] {
        return Err(terr(
            target,
            "compressed image archive: decompress it first (vigil seeks inside the tar)",
        ));
    }
    let index = index_tar(p)?;
    let store = Store::Tar {
        file: p.to_path_buf(),
        index,
    };
    if store.exists("manifest.json") {
        return open_docker(target, store, reference);
    }
    if store.exists("index.json") {
        return open_oci(target, store, reference);
    }
    Err(terr(
        target,
        "tar archive has neither manifest.json (docker-archive) nor index.json (OCI)",
    ))
}

fn open_docker(target: &str, store: Store, reference: Option<&str>) -> Result<Image, ScanError> {
    let manifest = store.json("manifest.json")?;
    let meta = |reason: &str| ScanError::Metadata {
        file: store.label("manifest.json"),
        reason: reason.to_string(),
    };
    let entries = manifest
        .as_array()
        .ok_or_else(|| meta("expected an array"))?;
    let entry = match reference {
        Some(r) => entries.iter().find(|e| {
            e["RepoTags"].as_array().is_some_and(|tags| {
                tags.iter()
                    .filter_map(|t| t.as_str())
                    .any(|t| t == r || t.ends_with(&format!(":{r}")))
            })
        }),
        None => entries.first(),
    }
    .ok_or_else(|| meta("no matching image in manifest.json"))?;
    let name_of = |v: &Value| -> Result<String, ScanError> {
        let s = v
            .as_str()
            .ok_or_else(|| meta("blob name is not a string"))?;
        normalize(s).map_err(|e| meta(&format!("blob name '{s}': {e}")))
    };
    let config_name = name_of(&entry["Config"])?;
    let config = store.json(&config_name)?;
    let diff_ids: Vec<String> = config["rootfs"]["diff_ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| d.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let layers = entry["Layers"]
        .as_array()
        .ok_or_else(|| meta("no Layers array"))?
        .iter()
        .enumerate()
        .map(|(i, l)| {
            Ok(LayerRef {
                blob: name_of(l)?,
                digest: diff_ids.get(i).cloned(),
            })
        })
        .collect::<Result<Vec<_>, ScanError>>()?;
    let config_digest = config_name
        .strip_prefix("blobs/sha256/")
        .map(|h| format!("sha256:{h}"))
        .or_else(|| {
            config_name
                .strip_suffix(".json")
                .map(|h| format!("sha256:{h}"))
        });
    Ok(Image {
        name: target.to_string(),
        format: "docker-archive",
        config: Some(config),
        config_digest,
        layers,
        rootfs: None,
        store: Some(store),
        _tmp: None,
    })
}

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

fn open_oci(target: &str, store: Store, reference: Option<&str>) -> Result<Image, ScanError> {
    let index = store.json("index.json")?;
    let meta = |file: &str, reason: String| ScanError::Metadata {
        file: store.label(file),
        reason,
    };
    let manifests = index["manifests"]
        .as_array()
        .ok_or_else(|| meta("index.json", "no manifests array".into()))?;
    let ref_name = |m: &Value| {
        m["annotations"]["org.opencontainers.image.ref.name"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let chosen = match reference {
        Some(r) if r.starts_with("sha256:") => manifests
            .iter()
            .find(|m| m["digest"].as_str() == Some(r))
            .cloned()
            .or_else(|| Some(serde_json::json!({"digest": r}))),
        Some(r) => manifests
            .iter()
            .find(|m| {
                let n = ref_name(m);
                n == r || n.ends_with(&format!(":{r}"))
            })
            .cloned(),
        None if manifests.len() == 1 => manifests.first().cloned(),
        None => None,
    };
    let Some(mut desc) = chosen else {
        let names: Vec<String> = manifests.iter().map(ref_name).collect();
        return Err(terr(
            target,
            format!(
                "choose an image with DIR:TAG or DIR@DIGEST; available: {}",
                names.join(", ")
            ),
        ));
    };
    // Follow nested indexes to a single-platform manifest (prefer linux/amd64).
    let mut manifest;
    let mut depth = 0;
    loop {
        let digest = desc["digest"].as_str().unwrap_or("").to_string();
        let path = blob_path(&digest)
            .ok_or_else(|| meta("index.json", format!("invalid digest '{digest}'")))?;
        manifest = store.json(&path)?;
        let mt = manifest["mediaType"]
            .as_str()
            .or(desc["mediaType"].as_str())
            .unwrap_or("");
        if !INDEX_TYPES.contains(&mt) && manifest.get("manifests").is_none() {
            break;
        }
        depth += 1;
        if depth > 4 {
            return Err(meta(&path, "image indexes nested too deeply".into()));
        }
        let list = manifest["manifests"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        desc = list
            .iter()
            .find(|m| m["platform"]["os"] == "linux" && m["platform"]["architecture"] == "amd64")
            .or(list.first())
            .cloned()
            .ok_or_else(|| meta(&path, "empty image index".into()))?;
    }
    let cdigest = manifest["config"]["digest"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let cpath = blob_path(&cdigest)
        .ok_or_else(|| meta("manifest", format!("invalid config digest '{cdigest}'")))?;
    let config = store.json(&cpath)?;
    let layers = manifest["layers"]
        .as_array()
        .ok_or_else(|| meta("manifest", "no layers array".into()))?
        .iter()
        .map(|l| {
            let d = l["digest"].as_str().unwrap_or("");
            Ok(LayerRef {
                blob: blob_path(d)
                    .ok_or_else(|| meta("manifest", format!("invalid layer digest '{d}'")))?,
                digest: Some(d.to_string()),
            })
        })
        .collect::<Result<Vec<_>, ScanError>>()?;
    Ok(Image {
        name: target.to_string(),
        format: "oci",
        config: Some(config),
        config_digest: Some(cdigest),
        layers,
        rootfs: None,
        store: Some(store),
        _tmp: None,
    })
}

fn open_podman(target: &str, name: &str) -> Result<Image, ScanError> {
    let tmp = tempfile::Builder::new()
        .prefix("vigil-scan-")
        .tempdir()
        .map_err(|e| io_err(Path::new("/tmp"), e))?;
    let out = tmp.path().join("image.tar");
    let cmd = format!("podman save --format docker-archive {name}");
    let res = std::process::Command::new("podman")
        .args(["save", "--format", "docker-archive", "-o"])
        .arg(&out)
        .arg(name)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| ScanError::Command {
            command: cmd.clone(),
            reason: format!("cannot run podman: {e} (is '{target}' a path? it does not exist)"),
        })?;
    if !res.status.success() {
        return Err(ScanError::Command {
            command: cmd,
            reason: String::from_utf8_lossy(&res.stderr).trim().to_string(),
        });
    }
    let mut img = open_archive(target, &out, None)?;
    img.format = "podman";
    img._tmp = Some(tmp);
    Ok(img)
}

impl Image {
    /// A reader of layer `i`'s raw (possibly compressed) blob.
    pub fn open_layer(&self, i: usize) -> Result<Box<dyn Read + Send>, ScanError> {
        let store = self
            .store
            .as_ref()
            .ok_or_else(|| terr(&self.name, "target has no layers"))?;
        let l = self
            .layers
            .get(i)
            .ok_or_else(|| terr(&self.name, format!("no layer {i}")))?;
        store.open(&l.blob)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_paths_are_validated() {
        let h = "a".repeat(64);
        assert_eq!(
            blob_path(&format!("sha256:{h}")),
            Some(format!("blobs/sha256/{h}"))
        );
        assert_eq!(blob_path("sha256:../../etc/passwd"), None);
        assert_eq!(blob_path("../x:abc"), None);
    }
}
