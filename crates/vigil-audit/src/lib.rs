//! `vigil-audit`: least-privilege audit of container configurations.
//!
//! Input formats are detected per file and per YAML document — Kubernetes manifests (every
//! workload kind, `List`s, multi-document streams such as `helm template` output),
//! docker-compose files, Dockerfiles, OCI runtime `config.json`, `docker/podman inspect`
//! output — and live containers through the engine APIs ([`live`]). Each format is translated
//! into one [`model::Workload`] shape, the [`checks`] run over it, Kubernetes pod specs are
//! also graded against the Pod Security Standards ([`pss`]), and [`fix`] turns findings into
//! a patch or run flags. [`secrets`] is a small pure API the image scanner reuses.
//!
//! Untrusted input never panics the run and never stops it: each file gets a size cap, a
//! binary/UTF-8 check and YAML alias/depth limits, and a file that fails is reported as an
//! [`report::InputError`] while the rest are audited. The alternative — stop at the first bad
//! file — would make `vigil audit charts/` useless on any real repository.

pub mod checks;
pub mod compose;
pub mod dockerfile;
pub mod engine;
pub mod fix;
pub mod k8s;
pub mod live;
pub mod model;
pub mod pss;
pub mod report;
pub mod secrets;
pub mod yaml;

use model::{Platform, Workload};
use report::{Finding, InputError, Report, Skipped, WorkloadSummary};
use std::path::{Path, PathBuf};

/// Limits and switches for a run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Files larger than this are refused.
    pub max_file_size: u64,
    /// YAML alias/depth limits.
    pub yaml: yaml::YamlLimits,
    /// Compute fix suggestions.
    pub fixes: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_file_size: 16 * 1024 * 1024,
            yaml: yaml::YamlLimits::default(),
            fixes: true,
        }
    }
}

/// What the file name says about the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// `Dockerfile`, `Containerfile`, `*.dockerfile`.
    Dockerfile,
    /// `.yaml`, `.yml`, `.json`.
    Structured,
    /// Unknown (stdin, other names): sniff the content.
    Sniff,
}

/// Classifies a file name.
pub fn hint_for(path: &Path) -> Option<Hint> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    if name == "dockerfile"
        || name == "containerfile"
        || name.starts_with("dockerfile.")
        || name.starts_with("containerfile.")
        || name.ends_with(".dockerfile")
        || name.ends_with(".containerfile")
    {
        return Some(Hint::Dockerfile);
    }
    let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
    matches!(ext.as_str(), "yaml" | "yml" | "json").then_some(Hint::Structured)
}

/// Audits the bytes of one file. `explicit` is true for files named on the command line
/// (an unrecognized document is then an error, not a skip).
pub fn audit_bytes(name: &str, bytes: &[u8], hint: Hint, explicit: bool, opts: &Options) -> Report {
    let mut report = Report {
        files: 1,
        ..Default::default()
    };
    let err = |message: String| InputError {
        file: name.to_string(),
        message,
    };
    if bytes.len() as u64 > opts.max_file_size {
        report.errors.push(err(format!(
            "file is {} bytes, larger than the {} byte limit",
            bytes.len(),
            opts.max_file_size
        )));
        return report;
    }
    if bytes[..bytes.len().min(8192)].contains(&0) {
        report
            .errors
            .push(err("binary file (contains NUL bytes)".into()));
        return report;
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.strip_prefix('\u{feff}').unwrap_or(t),
        Err(e) => {
            report.errors.push(err(format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.valid_up_to()
            )));
            return report;
        }
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut r = Report::default();
        let is_docker = match hint {
            Hint::Dockerfile => true,
            Hint::Structured => false,
            Hint::Sniff => dockerfile::looks_like_dockerfile(text),
        };
        if is_docker {
            audit_dockerfile(name, text, &mut r);
        } else {
            audit_structured(name, text, explicit, opts, &mut r);
        }
        r
    }));
    match result {
        Ok(r) => report.merge(Report { files: 0, ..r }),
        Err(_) => report.errors.push(err(
            "internal error while auditing this file (a bug: please report it)".into(),
        )),
    }
    report
}

fn audit_dockerfile(name: &str, text: &str, r: &mut Report) {
    match dockerfile::parse(text) {
        Err(e) => r.errors.push(InputError {
            file: name.to_string(),
            message: format!("invalid Dockerfile: {e}"),
        }),
        Ok(instrs) => {
            let wname = format!("Dockerfile/{}", short_name(name));
            let mut findings = Vec::new();
            let mut sink = checks::Sink {
                out: &mut findings,
                workload: wname.clone(),
            };
            dockerfile::check(&instrs, &mut sink);
            for f in &mut findings {
                f.file = name.to_string();
            }
            findings.sort_by(|a, b| (a.line, a.check).cmp(&(b.line, b.check)));
            r.workloads.push(WorkloadSummary {
                name: wname,
                file: name.to_string(),
                line: 1,
                platform: "dockerfile".into(),
                pss: None,
                fix: None,
            });
            r.findings.extend(findings);
        }
    }
}

fn short_name(name: &str) -> String {
    let p = Path::new(name);
    let parent = p
        .parent()
        .and_then(|d| d.file_name())
        .map(|d| d.to_string_lossy().to_string());
    let file = p
        .file_name()
        .map_or_else(|| name.to_string(), |f| f.to_string_lossy().to_string());
    match parent {
        Some(d) if !d.is_empty() => format!("{d}/{file}"),
        _ => file,
    }
}

fn audit_structured(name: &str, text: &str, explicit: bool, opts: &Options, r: &mut Report) {
    let docs = match yaml::load_all(text, opts.yaml) {
        Ok(d) => d,
        Err(e) => {
            // The YAML scanner rejects some valid JSON (e.g. tabs); give JSON a chance.
            let trimmed = text.trim_start();
            if trimmed.starts_with('{') || trimmed.starts_with('[') {
                match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(v) => vec![yaml::Node::from_json(&v, 1)],
                    Err(je) => {
                        r.errors.push(InputError {
                            file: name.to_string(),
                            message: format!(
                                "invalid JSON at line {}, column {}: {je}",
                                je.line(),
                                je.column()
                            ),
                        });
                        return;
                    }
                }
            } else {
                r.errors.push(InputError {
                    file: name.to_string(),
                    message: e.to_string(),
                });
                return;
            }
        }
    };
    let mut recognized = 0usize;
    for doc in &docs {
        if doc.is_null() {
            continue;
        }
        let workloads: Vec<Workload> = if k8s::is_k8s(doc) {
            match k8s::workloads(doc) {
                k8s::K8sDoc::Workloads(w) => w,
                k8s::K8sDoc::NotAWorkload(kind) => {
                    recognized += 1;
                    r.skipped.push(Skipped {
                        file: name.to_string(),
                        line: doc.line,
                        reason: format!("{kind}: no pod spec"),
                    });
                    continue;
                }
                k8s::K8sDoc::UnknownKind(kind) => {
                    recognized += 1;
                    r.skipped.push(Skipped {
                        file: name.to_string(),
                        line: doc.line,
                        reason: format!(
                            "unknown kind '{kind}' without a pod template: not audited"
                        ),
                    });
                    continue;
                }
            }
        } else if compose::is_compose(doc) {
            compose::workloads(doc)
        } else if engine::is_inspect(doc) {
            engine::inspect_workloads(doc, false)
        } else if engine::is_oci(doc) {
            vec![engine::oci_workload(doc)]
        } else {
            r.skipped.push(Skipped {
                file: name.to_string(),
                line: doc.line,
                reason: "not a Kubernetes object, compose file, OCI config or inspect output"
                    .into(),
            });
            continue;
        };
        recognized += 1;
        for w in &workloads {
            audit_workload(name, w, opts, r);
        }
    }
    if explicit && recognized == 0 {
        // Named explicitly but nothing in it could be audited: say so loudly.
        r.skipped.retain(|s| s.file != name);
        r.errors.push(InputError {
            file: name.to_string(),
            message: if docs.iter().all(yaml::Node::is_null) {
                "empty document".into()
            } else {
                "not a Kubernetes manifest, compose file, Dockerfile, OCI config.json or docker/podman inspect output".into()
            },
        });
    }
}

/// Runs the checks (and PSS, fixes) on one workload and appends to the report.
pub fn audit_workload(file: &str, w: &Workload, opts: &Options, r: &mut Report) {
    let wname = w.display_name();
    let mut findings: Vec<Finding> = Vec::new();
    let mut sink = checks::Sink {
        out: &mut findings,
        workload: wname.clone(),
    };
    checks::check_workload(w, &mut sink);
    for f in &mut findings {
        f.file = file.to_string();
    }
    findings.sort_by(|a, b| (a.line, a.check).cmp(&(b.line, b.check)));
    let pss = (w.platform == Platform::Kubernetes).then(|| pss::evaluate(w));
    let fix = if opts.fixes {
        let refs: Vec<&Finding> = findings.iter().collect();
        fix::suggest(w, &refs)
    } else {
        None
    };
    r.workloads.push(WorkloadSummary {
        name: wname,
        file: file.to_string(),
        line: w.loc.line,
        platform: match w.platform {
            Platform::Kubernetes => "kubernetes",
            Platform::Compose => "compose",
            Platform::Oci => "oci",
            Platform::Engine => "engine",
        }
        .into(),
        pss,
        fix,
    });
    r.findings.extend(findings);
}

/// Lists auditable files under `root` (sorted, hidden directories skipped, symlinked
/// directories not followed). A plain file is returned as is.
pub fn collect_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(root)?;
    if !meta.is_dir() {
        return Ok(vec![root.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)?.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries.into_iter().rev() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if !name.starts_with('.') && name != "node_modules" && depth < 64 {
                    stack.push((p, depth + 1));
                }
            } else if hint_for(&p).is_some() {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Audits a file or a directory tree.
pub fn audit_path(path: &Path, opts: &Options) -> Report {
    let mut report = Report::default();
    let explicit_file = !path.is_dir();
    let files = match collect_files(path) {
        Ok(f) => f,
        Err(e) => {
            report.errors.push(InputError {
                file: path.display().to_string(),
                message: format!("cannot read: {e}"),
            });
            return report;
        }
    };
    for f in files {
        let name = f.display().to_string();
        let hint = hint_for(&f).unwrap_or(Hint::Sniff);
        match read_capped(&f, opts.max_file_size) {
            Ok(bytes) => report.merge(audit_bytes(&name, &bytes, hint, explicit_file, opts)),
            Err(message) => {
                report.files += 1;
                report.errors.push(InputError {
                    file: name,
                    message,
                });
            }
        }
    }
    report
}

/// Reads at most `cap + 1` bytes so a huge file is refused without reading it whole.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut buf = Vec::new();
    f.take(cap.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read: {e}"))?;
    Ok(buf)
}

/// Audits `docker/podman inspect` JSON of live containers (lines are meaningless there).
pub fn audit_live_inspect(source: &str, json: &str, opts: &Options) -> Report {
    let mut r = Report {
        files: 0,
        ..Default::default()
    };
    let doc = match yaml::load_all(json, opts.yaml) {
        Ok(mut d) if !d.is_empty() => d.swap_remove(0),
        _ => match serde_json::from_str::<serde_json::Value>(json) {
            Ok(v) => yaml::Node::from_json(&v, 0),
            Err(e) => {
                r.errors.push(InputError {
                    file: source.to_string(),
                    message: format!("invalid inspect JSON from the engine: {e}"),
                });
                return r;
            }
        },
    };
    for w in engine::inspect_workloads(&doc, true) {
        audit_workload(source, &w, opts, &mut r);
    }
    r
}
