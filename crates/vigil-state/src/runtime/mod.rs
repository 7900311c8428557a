//! Reading a container's metadata from its runtime.
//!
//! [`lookup`] tries the sources that fit the runtime the cgroup path suggested, in order:
//!
//! | runtime | sources |
//! |---|---|
//! | docker | Engine API on `docker.sock`, then containerd's `moby` bundle |
//! | podman | libpod REST API on `podman.sock` (if the service runs); else containers/storage files (fast, no labels) followed by `podman container inspect` |
//! | containerd | OCI bundle `config.json` under `/run/containerd/io.containerd.runtime.v2.task/<ns>/<id>/` |
//! | cri-o | OCI bundle `config.json` under `/run/containers/storage/overlay-containers/<id>/userdata/` |
//! | unknown | all of the above |
//!
//! A source may give *partial* metadata (`metadata_complete == false`): containers/storage's
//! `containers.json` and the bundle name the container and its image in about a millisecond,
//! but not its labels. [`lookup_with`] reports such a result at once, so the monitor's
//! bounded wait ends early with `container.name`/`container.image`, and goes on to a complete
//! source (the podman CLI takes 50-200 ms, more under load) whose result replaces it.
//!
//! Every path is in [`RuntimeConfig`] so tests point sources at fixtures. Each source has a
//! timeout and a response cap; lookups run on the cache's worker threads, never on the event
//! loop. We rejected the CRI gRPC API: it needs a protobuf/gRPC stack for data the bundle's
//! annotations already hold, and the bundle is readable without any daemon answering.

pub mod http;
pub mod parse;

use crate::cgroup::RuntimeKind;
use crate::error::LookupError;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vigil_event::Container;

/// Where the runtimes live and how long to wait for them.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    pub docker_socket: PathBuf,
    pub podman_socket: PathBuf,
    /// The `podman` executable for the CLI fallback; `None` disables it.
    pub podman_cli: Option<PathBuf>,
    /// containerd's v2 task state directory (one subdirectory per namespace).
    pub containerd_tasks: PathBuf,
    /// CRI-O's (containers/storage) per-container runtime directory.
    pub crio_containers: PathBuf,
    /// containers/storage root of Podman (holds `overlay-containers/containers.json`).
    pub containers_storage: PathBuf,
    /// Timeout of one source.
    pub timeout: Duration,
    /// Largest response or file read.
    pub max_bytes: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            docker_socket: "/var/run/docker.sock".into(),
            podman_socket: "/run/podman/podman.sock".into(),
            podman_cli: Some("podman".into()),
            containerd_tasks: "/run/containerd/io.containerd.runtime.v2.task".into(),
            crio_containers: "/run/containers/storage/overlay-containers".into(),
            containers_storage: "/var/lib/containers/storage".into(),
            timeout: Duration::from_secs(2),
            max_bytes: 4 << 20,
        }
    }
}

impl RuntimeConfig {
    /// A configuration with every path under `root` (for fixtures), CLI disabled.
    pub fn under(root: &Path) -> RuntimeConfig {
        let d = RuntimeConfig::default();
        let j = |p: &Path| root.join(p.strip_prefix("/").unwrap_or(p));
        RuntimeConfig {
            docker_socket: j(&d.docker_socket),
            podman_socket: j(&d.podman_socket),
            podman_cli: None,
            containerd_tasks: j(&d.containerd_tasks),
            crio_containers: j(&d.crio_containers),
            containers_storage: j(&d.containers_storage),
            ..d
        }
    }
}

type SourceFn = fn(&RuntimeConfig, &str) -> Result<Container, LookupError>;

fn sources(kind: RuntimeKind) -> &'static [(&'static str, SourceFn)] {
    const DOCKER: (&str, SourceFn) = ("docker API", docker_api);
    const PODMAN_API: (&str, SourceFn) = ("podman API", podman_api);
    const PODMAN_CLI: (&str, SourceFn) = ("podman CLI", podman_cli);
    const CONTAINERD: (&str, SourceFn) = ("containerd bundle", containerd_bundle);
    const CRIO: (&str, SourceFn) = ("cri-o bundle", crio_bundle);
    const PODMAN_STORAGE: (&str, SourceFn) = ("podman storage", podman_storage);
    match kind {
        RuntimeKind::Docker => &[DOCKER, CONTAINERD],
        RuntimeKind::Podman => &[PODMAN_API, PODMAN_STORAGE, PODMAN_CLI],
        RuntimeKind::Containerd => &[CONTAINERD],
        RuntimeKind::CriO => &[CRIO],
        RuntimeKind::Unknown => &[
            DOCKER,
            PODMAN_API,
            PODMAN_STORAGE,
            PODMAN_CLI,
            CONTAINERD,
            CRIO,
        ],
    }
}

/// Reads the metadata of container `id` (64 hex) from the sources for `kind`.
///
/// Returns the first complete result, else the last partial one. Otherwise: a timeout or
/// protocol error if any source had one (worth retrying), else `NotFound` if a source that
/// was there did not know the id, else `Unavailable` naming every source tried.
pub fn lookup(cfg: &RuntimeConfig, id: &str, kind: RuntimeKind) -> Result<Container, LookupError> {
    let mut last = None;
    lookup_with(cfg, id, kind, |r, _| last = Some(r));
    let Some(Ok(c)) = last.as_ref() else {
        return last.unwrap_or_else(|| {
            Err(unavailable(
                "container runtimes",
                "no source for this runtime",
            ))
        });
    };
    Ok(c.clone())
}

/// Like [`lookup`], reporting every useful result as it comes: a partial result (if a fast
/// source gives one) at once, and then the final result, which is the complete metadata, the
/// partial one again, or the error that prevented any. `emit(result, is_final)` is called at
/// least once, and exactly once with `is_final == true`, last.
///
/// When the runtime is known, a source that answers "no such container" ends the lookup: the
/// runtime's own record is authoritative, and a container that exited and was removed must
/// not cost a CLI run.
pub fn lookup_with(
    cfg: &RuntimeConfig,
    id: &str,
    kind: RuntimeKind,
    mut emit: impl FnMut(Result<Container, LookupError>, bool),
) {
    let mut not_found = None;
    let mut hard = None;
    let mut unavailable_msgs = Vec::new();
    let mut partial: Option<Container> = None;
    for (name, f) in sources(kind) {
        match f(cfg, id) {
            Ok(mut c) => {
                if c.runtime.is_empty() {
                    c.runtime = kind.as_str().to_string();
                }
                if c.metadata_complete {
                    emit(Ok(c), true);
                    return;
                }
                emit(Ok(c.clone()), false);
                partial = Some(c);
            }
            Err(e @ LookupError::NotFound { .. }) => {
                log::debug!("container {id}: {e}");
                if kind != RuntimeKind::Unknown && partial.is_none() {
                    emit(Err(e), true);
                    return;
                }
                not_found.get_or_insert(e);
            }
            Err(LookupError::Unavailable { msg, .. }) => {
                unavailable_msgs.push(format!("{name} ({msg})"));
            }
            Err(e) => {
                log::debug!("container {id}: {e}");
                hard.get_or_insert(e);
            }
        }
    }
    if let Some(p) = partial {
        let why = hard
            .or(not_found)
            .map(|e| e.to_string())
            .unwrap_or_else(|| unavailable_msgs.join("; "));
        log::debug!("container {id}: only partial metadata (no labels): {why}");
        emit(Ok(p), true);
        return;
    }
    if let Some(e) = hard.or(not_found) {
        emit(Err(e), true);
        return;
    }
    emit(
        Err(LookupError::Unavailable {
            source_name: "container runtimes".into(),
            msg: format!("none reachable for {id}: {}", unavailable_msgs.join("; ")),
        }),
        true,
    );
}

fn unavailable(source: &str, msg: impl Into<String>) -> LookupError {
    LookupError::Unavailable {
        source_name: source.into(),
        msg: msg.into(),
    }
}

fn protocol(source: &str, msg: impl Into<String>) -> LookupError {
    LookupError::Protocol {
        source_name: source.into(),
        msg: msg.into(),
    }
}

fn http_json(
    cfg: &RuntimeConfig,
    socket: &Path,
    source: &str,
    id: &str,
    path: &str,
) -> Result<serde_json::Value, LookupError> {
    if !socket.exists() {
        return Err(unavailable(
            source,
            format!("{} does not exist", socket.display()),
        ));
    }
    let r = http::get(socket, path, cfg.timeout, cfg.max_bytes).map_err(|e| match e {
        http::HttpError::Timeout => LookupError::Timeout {
            source_name: source.into(),
            timeout: cfg.timeout,
        },
        http::HttpError::Connect { .. } => unavailable(source, e.to_string()),
        other => protocol(source, format!("GET {path}: {other}")),
    })?;
    match r.status {
        200 => parse::parse_json(&r.body).map_err(|m| protocol(source, format!("GET {path}: {m}"))),
        404 => Err(LookupError::NotFound {
            id: id.into(),
            source_name: source.into(),
        }),
        s => Err(protocol(
            source,
            format!(
                "GET {path}: HTTP {s}: {}",
                String::from_utf8_lossy(&r.body[..r.body.len().min(200)])
            ),
        )),
    }
}

fn docker_api(cfg: &RuntimeConfig, id: &str) -> Result<Container, LookupError> {
    const SRC: &str = "docker API";
    let v = http_json(
        cfg,
        &cfg.docker_socket,
        SRC,
        id,
        &format!("/containers/{id}/json"),
    )?;
    let mut c = parse::parse_docker_inspect(&v, "docker").map_err(|m| protocol(SRC, m))?;
    if c.image_digest.is_empty() && !c.image_id.is_empty() {
        // The digest is a property of the image, one more request; optional.
        let path = format!("/images/{}/json", c.image_id);
        match http_json(cfg, &cfg.docker_socket, SRC, id, &path) {
            Ok(img) => c.image_digest = parse::docker_image_digest(&img).unwrap_or_default(),
            Err(e) => log::debug!("container {id}: image digest: {e}"),
        }
    }
    Ok(c)
}

fn podman_api(cfg: &RuntimeConfig, id: &str) -> Result<Container, LookupError> {
    const SRC: &str = "podman API";
    let v = http_json(
        cfg,
        &cfg.podman_socket,
        SRC,
        id,
        &format!("/v4.0.0/libpod/containers/{id}/json"),
    )?;
    parse::parse_podman_inspect(&v).map_err(|m| protocol(SRC, m))
}

/// Runs `podman container inspect <id>` with the source timeout; the child is killed when
/// the timeout passes.
fn podman_cli(cfg: &RuntimeConfig, id: &str) -> Result<Container, LookupError> {
    const SRC: &str = "podman CLI";
    let Some(exe) = &cfg.podman_cli else {
        return Err(unavailable(SRC, "disabled"));
    };
    let mut child = Command::new(exe)
        .args(["container", "inspect", "--", id])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| unavailable(SRC, format!("spawn {}: {e}", exe.display())))?;
    let deadline = Instant::now() + cfg.timeout;
    let max = cfg.max_bytes as u64;
    let out = child.stdout.take().map(|o| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = o.take(max).read_to_end(&mut buf);
            buf
        })
    });
    let err = child.stderr.take().map(|e| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = e.take(64 * 1024).read_to_end(&mut buf);
            buf
        })
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(LookupError::Timeout {
                    source_name: SRC.into(),
                    timeout: cfg.timeout,
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(protocol(SRC, format!("wait: {e}"))),
        }
    };
    let stdout = out.and_then(|h| h.join().ok()).unwrap_or_default();
    let stderr = err.and_then(|h| h.join().ok()).unwrap_or_default();
    if !status.success() {
        let msg = String::from_utf8_lossy(&stderr).trim().to_string();
        if msg.contains("no such container") || msg.contains("no such object") {
            return Err(LookupError::NotFound {
                id: id.into(),
                source_name: SRC.into(),
            });
        }
        return Err(protocol(SRC, format!("exit {status}: {msg}")));
    }
    let v = parse::parse_json(&stdout).map_err(|m| protocol(SRC, m))?;
    parse::parse_podman_inspect(&v).map_err(|m| protocol(SRC, m))
}

fn read_capped(path: &Path, max: usize) -> std::io::Result<Vec<u8>> {
    let f = std::fs::File::open(path)?;
    let mut buf = Vec::new();
    f.take(max as u64 + 1).read_to_end(&mut buf)?;
    if buf.len() > max {
        return Err(std::io::Error::other(format!("larger than {max} bytes")));
    }
    Ok(buf)
}

fn bundle(
    cfg: &RuntimeConfig,
    source: &str,
    id: &str,
    dir: &Path,
    runtime: &str,
) -> Result<Container, LookupError> {
    let path = dir.join("config.json");
    let bytes = read_capped(&path, cfg.max_bytes).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            LookupError::NotFound {
                id: id.into(),
                source_name: source.into(),
            }
        } else {
            protocol(source, format!("{}: {e}", path.display()))
        }
    })?;
    let v = parse::parse_json(&bytes)
        .map_err(|m| protocol(source, format!("{}: {m}", path.display())))?;
    let mut c = parse::parse_oci_config(&v, id, runtime)
        .map_err(|m| protocol(source, format!("{}: {m}", path.display())))?;
    if !c.rootfs.is_empty() && !c.rootfs.starts_with('/') {
        c.rootfs = dir.join(&c.rootfs).to_string_lossy().into_owned();
    }
    if c.start_ts == 0 {
        // The bundle is written when the container is created.
        c.start_ts = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
    }
    Ok(c)
}

/// Podman without its service: the container's record in containers/storage plus its OCI
/// bundle. Partial (no labels); see the module documentation.
fn podman_storage(cfg: &RuntimeConfig, id: &str) -> Result<Container, LookupError> {
    const SRC: &str = "podman storage";
    // `<driver>-containers/` (overlay normally; vfs, btrfs, zfs elsewhere).
    let dir = ["overlay", "vfs", "btrfs", "zfs", "devmapper", "aufs"]
        .iter()
        .map(|d| cfg.containers_storage.join(format!("{d}-containers")))
        .find(|d| d.join("containers.json").is_file())
        .unwrap_or_else(|| cfg.containers_storage.join("overlay-containers"));
    let index = dir.join("containers.json");
    let bytes = read_capped(&index, cfg.max_bytes).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            unavailable(SRC, format!("{}: {e}", index.display()))
        } else {
            protocol(SRC, format!("{}: {e}", index.display()))
        }
    })?;
    let v = parse::parse_json(&bytes)
        .map_err(|m| protocol(SRC, format!("{}: {m}", index.display())))?;
    let entry = parse::storage_entry(&v, id)
        .map_err(|m| protocol(SRC, format!("{}: {m}", index.display())))?
        .ok_or_else(|| LookupError::NotFound {
            id: id.into(),
            source_name: SRC.into(),
        })?;
    let bundle_dir = dir.join(id).join("userdata");
    let mut c = match bundle(cfg, SRC, id, &bundle_dir, "podman") {
        Ok(c) => c,
        Err(e) => {
            log::debug!("container {id}: {e}; using containers.json only");
            Container {
                id: id.to_string(),
                runtime: "podman".into(),
                ..Container::default()
            }
        }
    };
    c.name = entry.name;
    parse::set_image(&mut c, &entry.image_name);
    c.image_id = entry.image_id;
    if entry.created_ts != 0 && c.start_ts == 0 {
        c.start_ts = entry.created_ts;
    }
    // Podman records the flag; the capability heuristic is only for CRI bundles.
    let ann = std::fs::read(bundle_dir.join("config.json"))
        .ok()
        .and_then(|b| parse::parse_json(&b).ok());
    if let Some(p) = ann
        .as_ref()
        .and_then(|v| v.get("annotations"))
        .and_then(|a| a.get("io.podman.annotations.privileged"))
        .and_then(|p| p.as_str())
    {
        c.privileged = p.eq_ignore_ascii_case("true");
    }
    c.metadata_complete = false;
    Ok(c)
}

fn containerd_bundle(cfg: &RuntimeConfig, id: &str) -> Result<Container, LookupError> {
    const SRC: &str = "containerd bundle";
    let rd = std::fs::read_dir(&cfg.containerd_tasks)
        .map_err(|e| unavailable(SRC, format!("{}: {e}", cfg.containerd_tasks.display())))?;
    for ns in rd.filter_map(|e| e.ok()) {
        let dir = ns.path().join(id);
        if dir.is_dir() {
            let runtime = if ns.file_name() == "moby" {
                "docker"
            } else {
                "containerd"
            };
            return bundle(cfg, SRC, id, &dir, runtime);
        }
    }
    Err(LookupError::NotFound {
        id: id.into(),
        source_name: SRC.into(),
    })
}

fn crio_bundle(cfg: &RuntimeConfig, id: &str) -> Result<Container, LookupError> {
    const SRC: &str = "cri-o bundle";
    if !cfg.crio_containers.is_dir() {
        return Err(unavailable(
            SRC,
            format!("{} does not exist", cfg.crio_containers.display()),
        ));
    }
    bundle(
        cfg,
        SRC,
        id,
        &cfg.crio_containers.join(id).join("userdata"),
        "cri-o",
    )
}
