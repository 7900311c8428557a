//! The scan driver: streams every layer once, keeps the file index, runs the per-file
//! analyzers and the secret scanner on the entries they want, and assembles the inventory.
//!
//! Results are keyed by path and dropped when a later layer deletes or replaces the file, so the
//! inventory describes the final filesystem, while secrets are kept per layer even when a
//! later layer deletes the file: a deleted file is still in the image for anyone who pulls it.

use crate::analyze::{self, FileKind, Outcome};
use crate::config::{self, ConfigFinding};
use crate::error::{ScanError, Warning};
use crate::image::{self, Image};
use crate::layer::{self, EntryKind, LayerStats, Limits, RawEntry};
use crate::os::OsInfo;
use crate::package::Package;
use crate::secrets::{SecretFinding, SecretScanner};
use crate::vfs::{self, Node, NodeKind, Vfs};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// What to look for.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub packages: bool,
    pub secrets: bool,
    pub limits: Limits,
}

impl Default for ScanOptions {
    fn default() -> ScanOptions {
        ScanOptions {
            packages: true,
            secrets: true,
            limits: Limits::default(),
        }
    }
}

/// One layer as reported.
#[derive(Debug, Clone, Serialize)]
pub struct LayerInfo {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(flatten)]
    pub stats: LayerStats,
}

/// Everything found in one target.
#[derive(Debug, Serialize)]
pub struct Inventory {
    pub target: String,
    pub format: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<OsInfo>,
    pub layers: Vec<LayerInfo>,
    pub files: usize,
    pub packages: Vec<Package>,
    pub secrets: Vec<SecretFinding>,
    pub config_findings: Vec<ConfigFinding>,
    pub warnings: Vec<Warning>,
    #[serde(skip)]
    pub config: Option<serde_json::Value>,
}

struct State<'a> {
    opts: &'a ScanOptions,
    vfs: Vfs,
    results: BTreeMap<String, (usize, Outcome)>,
    secrets: Vec<SecretFinding>,
    scanner: Option<&'static SecretScanner>,
    warnings: Vec<Warning>,
    buf: Vec<u8>,
    layer_digest: Option<String>,
}

impl State<'_> {
    fn forget(&mut self, paths: &[String]) {
        for p in paths {
            self.results.remove(p);
        }
    }

    /// Apply one entry of layer `layer` to the index and analyze it if wanted.
    fn entry(&mut self, layer: usize, e: RawEntry, data: &mut dyn Read) -> Result<(), ScanError> {
        let path = match vfs::normalize(&e.path) {
            Ok(p) => p,
            Err(vfs::PathError::Empty) => return Ok(()),
            Err(err) => {
                self.warnings.push(Warning::new(
                    format!("layer {layer}: {}", e.path),
                    format!("entry skipped: {err}"),
                ));
                return Ok(());
            }
        };
        let (dir, name) = match path.rsplit_once('/') {
            Some((d, n)) => (d, n),
            None => ("", path.as_str()),
        };
        if name == ".wh..wh..opq" {
            let gone = self.vfs.make_opaque(dir, layer);
            self.forget(&gone);
            return Ok(());
        }
        if let Some(hidden) = name.strip_prefix(".wh.") {
            let target = if dir.is_empty() {
                hidden.to_string()
            } else {
                format!("{dir}/{hidden}")
            };
            let gone = self.vfs.remove_subtree(&target, layer);
            self.forget(&gone);
            return Ok(());
        }
        let kind = match e.kind {
            EntryKind::File => NodeKind::File,
            EntryKind::Dir => NodeKind::Dir,
            EntryKind::Symlink(t) => NodeKind::Symlink(t),
            EntryKind::Hardlink(t) => match vfs::normalize(&t) {
                Ok(t) => NodeKind::Hardlink(t),
                Err(err) => {
                    self.warnings.push(Warning::new(
                        format!("layer {layer}: {}", e.path),
                        format!("hard link to '{t}' skipped: {err}"),
                    ));
                    return Ok(());
                }
            },
            EntryKind::Other => NodeKind::Other,
        };
        let is_file = kind == NodeKind::File;
        let link_src = match &kind {
            NodeKind::Hardlink(t) => Some(t.clone()),
            _ => None,
        };
        let gone = self.vfs.insert(
            path.clone(),
            Node {
                layer,
                size: e.size,
                mode: e.mode,
                kind,
            },
        );
        self.forget(&gone);
        self.results.remove(&path);
        if let Some(src) = link_src {
            if let Some((_, outcome)) = self.results.get(&src).cloned() {
                self.results.insert(path, (layer, outcome));
            }
            return Ok(());
        }
        if !is_file {
            return Ok(());
        }
        let wanted = if self.opts.packages {
            analyze::classify(&path, e.mode, e.size)
        } else {
            None
        };
        let secret = self
            .scanner
            .as_ref()
            .is_some_and(|s| s.wants(&path, e.size));
        if wanted.is_none() && !secret {
            return Ok(());
        }
        let cap = wanted
            .map(analyze::max_size)
            .unwrap_or(0)
            .max(if secret { crate::secrets::MAX_FILE } else { 0 })
            .min(self.opts.limits.max_file_bytes);
        if e.size > cap {
            if wanted.is_some() && wanted != Some(FileKind::Executable) {
                self.warnings.push(Warning::new(
                    path.clone(),
                    format!(
                        "not analyzed: {} bytes is above the {cap}-byte limit",
                        e.size
                    ),
                ));
            }
            return Ok(());
        }
        self.buf.clear();
        // An executable is only worth reading whole if it is ELF.
        if wanted == Some(FileKind::Executable) && !secret {
            let mut magic = [0u8; 4];
            let n = read_full(data, &mut magic).map_err(|source| ScanError::Io {
                path: path.clone().into(),
                source,
            })?;
            if n < 4 || &magic != b"\x7fELF" {
                return Ok(());
            }
            self.buf.extend_from_slice(&magic);
        }
        data.take(cap + 1 - self.buf.len() as u64)
            .read_to_end(&mut self.buf)
            .map_err(|source| ScanError::Io {
                path: path.clone().into(),
                source,
            })?;
        if let Some(kind) = wanted {
            let mut outcome = analyze::analyze(kind, &path, &self.buf);
            for p in &mut outcome.packages {
                p.layer = layer;
                p.layer_digest = self.layer_digest.clone();
            }
            if !outcome.packages.is_empty() || outcome.os.is_some() || !outcome.warnings.is_empty()
            {
                self.results.insert(path.clone(), (layer, outcome));
            }
        }
        if secret {
            if let Some(s) = self.scanner {
                let found = s.scan(&path, &self.buf);
                self.secrets.extend(found.into_iter().map(|mut f| {
                    f.layer = Some(layer);
                    f
                }));
            }
        }
        Ok(())
    }
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// A file opened only when an analyzer first reads it (most files are never read).
struct LazyFile {
    path: std::path::PathBuf,
    file: Option<std::fs::File>,
}

impl Read for LazyFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::OpenOptionsExt;
        if self.file.is_none() {
            // O_NOFOLLOW: if the file was swapped for a symlink since it was listed, refuse.
            self.file = Some(
                std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                    .open(&self.path)?,
            );
        }
        match self.file.as_mut() {
            Some(f) => f.read(buf),
            None => Ok(0),
        }
    }
}

/// Walk a root filesystem directory as a single layer, never following symlinks.
fn walk_rootfs(
    root: &Path,
    visit: &mut dyn FnMut(RawEntry, &mut dyn Read) -> Result<(), ScanError>,
) -> Result<LayerStats, ScanError> {
    use std::os::unix::fs::MetadataExt;
    let mut stats = LayerStats {
        compression: "none".into(),
        ..Default::default()
    };
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(r) => r,
            Err(e) if dir == root => {
                return Err(ScanError::Io {
                    path: dir,
                    source: e,
                })
            }
            Err(_) => continue,
        };
        let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for de in entries {
            let name = de.file_name().to_string_lossy().into_owned();
            let relp = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let Ok(md) = std::fs::symlink_metadata(de.path()) else {
                continue;
            };
            stats.entries += 1;
            let ft = md.file_type();
            let kind = if ft.is_symlink() {
                let t = std::fs::read_link(de.path())
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                EntryKind::Symlink(t)
            } else if ft.is_dir() {
                stack.push((de.path(), relp.clone()));
                EntryKind::Dir
            } else if ft.is_file() {
                EntryKind::File
            } else {
                EntryKind::Other
            };
            let is_file = kind == EntryKind::File;
            let entry = RawEntry {
                path: relp,
                kind,
                size: md.len(),
                mode: md.mode() & 0o7777,
            };
            if is_file {
                let mut lazy = LazyFile {
                    path: de.path(),
                    file: None,
                };
                visit(entry, &mut lazy)?;
            } else {
                visit(entry, &mut std::io::empty())?;
            }
        }
    }
    Ok(stats)
}

/// Open and scan a target.
pub fn scan_target(target: &str, opts: &ScanOptions) -> Result<Inventory, ScanError> {
    let img = image::open(target)?;
    scan_image(&img, opts)
}

/// Scan layers held in memory (tar streams, compressed or not), bottom layer first. Used by
/// the fuzz targets and by callers that already have the blobs.
pub fn scan_layers(
    name: &str,
    layers: &[&[u8]],
    opts: &ScanOptions,
) -> Result<Inventory, ScanError> {
    let mut st = State::new(opts);
    let mut infos = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let stats = layer::walk(i, &format!("layer {i}"), *l, &opts.limits, &mut |e, r| {
            st.entry(i, e, r)
        })?;
        infos.push(LayerInfo {
            index: i,
            digest: None,
            stats,
        });
    }
    Ok(st.finish(name, "layers", None, None, infos))
}

impl<'a> State<'a> {
    fn new(opts: &'a ScanOptions) -> State<'a> {
        State {
            opts,
            vfs: Vfs::new(),
            results: BTreeMap::new(),
            secrets: Vec::new(),
            scanner: opts.secrets.then(SecretScanner::shared),
            warnings: Vec::new(),
            buf: Vec::new(),
            layer_digest: None,
        }
    }
}

/// Scan an opened image.
pub fn scan_image(img: &Image, opts: &ScanOptions) -> Result<Inventory, ScanError> {
    let mut st = State::new(opts);
    let mut layers = Vec::new();
    if let Some(root) = &img.rootfs {
        let stats = walk_rootfs(root, &mut |e, r| st.entry(0, e, r))?;
        layers.push(LayerInfo {
            index: 0,
            digest: None,
            stats,
        });
    }
    for (i, l) in img.layers.iter().enumerate() {
        st.layer_digest = l.digest.clone();
        let raw = img.open_layer(i)?;
        let stats = layer::walk(i, &l.blob, raw, &opts.limits, &mut |e, r| st.entry(i, e, r))?;
        layers.push(LayerInfo {
            index: i,
            digest: l.digest.clone(),
            stats,
        });
    }
    Ok(st.finish(
        &img.name,
        img.format,
        img.config.as_ref(),
        img.config_digest.clone(),
        layers,
    ))
}

impl State<'_> {
    /// Assemble the inventory from the final file index and the kept results.
    fn finish(
        mut self,
        name: &str,
        format: &str,
        config: Option<&serde_json::Value>,
        config_digest: Option<String>,
        layers: Vec<LayerInfo>,
    ) -> Inventory {
        let st = &mut self;
        // Secrets in files that no longer exist are still in the image: mark them.
        for s in &mut st.secrets {
            let present = st
                .vfs
                .get(&s.file)
                .is_some_and(|n| Some(n.layer) == s.layer);
            s.deleted_later = !present;
        }
        // os-release: /etc/os-release wins over /usr/lib/os-release, following links inside.
        let mut os = None;
        for p in ["etc/os-release", "usr/lib/os-release"] {
            if let Some(real) = st.vfs.resolve(p) {
                if let Some((_, o)) = st.results.get(&real) {
                    if o.os.is_some() {
                        os = o.os.clone();
                        break;
                    }
                }
            }
        }
        let mut packages = Vec::new();
        let mut warnings = std::mem::take(&mut st.warnings);
        for (_, (_, outcome)) in std::mem::take(&mut st.results) {
            warnings.extend(outcome.warnings);
            packages.extend(outcome.packages);
        }
        for p in &mut packages {
            p.finish(os.as_ref());
        }
        packages.sort_by(|a, b| {
            (a.kind, &a.name, &a.version, &a.files).cmp(&(b.kind, &b.name, &b.version, &b.files))
        });
        let config_findings = config
            .map(|cfg| config::check(cfg, st.scanner))
            .unwrap_or_default();
        Inventory {
            target: name.to_string(),
            format: format.to_string(),
            config_digest,
            os,
            layers,
            files: st.vfs.len(),
            packages,
            secrets: std::mem::take(&mut st.secrets),
            config_findings,
            warnings,
            config: config.cloned(),
        }
    }
}
