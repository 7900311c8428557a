//! Runtime metadata: parsers on fixture JSONs (real podman output captured on this machine,
//! hand-written Docker/containerd/CRI-O documents), source selection over a fixture runtime
//! tree, and the asynchronous cache against real Unix-socket servers (a Docker-API server that
//! answers from fixtures, one that never answers).

mod common;

use common::fixtures;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil_state::runtime::{lookup, parse};
use vigil_state::{
    CacheConfig, ContainerCache, LookupError, Readiness, RuntimeConfig, RuntimeKind, Status,
};

const DOCKER_ID: &str = "56ed1d7e9e04b8ef95c74dae73303baab8712264f60cba57ebe45456ce0a8f87";
const CONTAINERD_ID: &str = "c132a8f2f988341fac82383b4dc3c3c46630cae665f0fbf1cfd69d7687f34814";
const CRIO_ID: &str = "a574832997c35e1a6a01d6f22b32835a48a61696b6c386b06ffda3fddc103040";
const PODMAN_ID: &str = "214c6c401ef13712741875d7e8804cac11cb0f3cd80b0b4277530c5e4c4d59ad";
const STORAGE_ID: &str = "033710eeee9803add9572fb58ee9574f62a6d18981816e8a9b2aa48650cdf6f6";

fn json(name: &str) -> serde_json::Value {
    let bytes = std::fs::read(fixtures().join("runtime").join(name)).unwrap();
    parse::parse_json(&bytes).unwrap()
}

#[test]
fn podman_cli_inspect() {
    let c = parse::parse_podman_inspect(&json("podman-inspect-basic.json")).unwrap();
    assert_eq!(c.id, PODMAN_ID);
    assert_eq!(c.runtime, "podman");
    assert_eq!(c.name, "vstate-probe");
    assert_eq!(c.image, "localhost/vigil-test-debian:latest");
    assert_eq!(c.image_repository, "localhost/vigil-test-debian");
    assert_eq!(c.image_tag, "latest");
    assert_eq!(
        c.image_digest,
        "sha256:2d27d609d9e44785bc2dba92a0d3eec619dd2afcac54ca98dea8b09e777d1646"
    );
    assert!(c.image_id.starts_with("974d953a6f67"));
    assert_eq!(c.labels.get("app").map(String::as_str), Some("probe"));
    assert!(!c.privileged && !c.host_network && !c.host_pid && !c.host_ipc);
    assert_eq!(c.start_ts, 1_795_352_626_359_856_856);
    assert!(c.rootfs.ends_with("/merged"));
    assert!(c.k8s.is_none());
    assert!(c.metadata_complete);
    // The REST API returns the same document as an object.
    let api = parse::parse_podman_inspect(&json("libpod-api-basic.json")).unwrap();
    assert_eq!(api, c);
}

#[test]
fn podman_privileged_host_namespaces_and_mounts() {
    let c = parse::parse_podman_inspect(&json("podman-inspect-privileged.json")).unwrap();
    assert_eq!(c.name, "vstate-priv");
    assert!(c.privileged && c.host_network && c.host_pid);
    assert!(!c.host_ipc, "IpcMode is shareable");
    assert_eq!(c.mounts.len(), 1);
    let m = &c.mounts[0];
    assert_eq!((m.source.as_str(), m.dest.as_str()), ("/tmp", "/hosttmp"));
    assert!(!m.rw);
    assert_eq!(m.propagation, "rprivate");
    // Podman's Docker-compatible endpoint, through the Docker parser.
    let d = parse::parse_docker_inspect(&json("compat-inspect-privileged.json"), "podman").unwrap();
    assert_eq!(d.name, "vstate-priv");
    assert_eq!(d.image, "localhost/vigil-test-debian:latest");
    assert!(d.privileged && d.host_network && d.host_pid);
    assert_eq!(d.mounts, c.mounts);
}

#[test]
fn docker_engine_inspect_with_kubelet_labels() {
    let c = parse::parse_docker_inspect(&json("docker-inspect-k8s.json"), "docker").unwrap();
    assert_eq!(c.id, DOCKER_ID);
    assert_eq!(
        c.name,
        "k8s_web_frontend-7d9c5b8f6-x2x9q_shop_1b4e28ba-2fa1-11d2-883f-0016d3cca427_0"
    );
    assert_eq!(c.image_repository, "registry.example.com:5000/shop/nginx");
    assert_eq!(c.image_tag, "1.25.3");
    assert_eq!(c.image_digest, "", "digest comes from the image endpoint");
    assert!(c.host_ipc && !c.host_network && !c.host_pid && !c.privileged);
    assert_eq!(c.start_ts, 1_795_162_503_500_000_000);
    assert_eq!(c.mounts.len(), 2);
    assert!(c.mounts[1].rw && !c.mounts[0].rw);
    let k = c.k8s.as_ref().unwrap();
    assert_eq!(k.pod_name, "frontend-7d9c5b8f6-x2x9q");
    assert_eq!(k.namespace, "shop");
    assert_eq!(k.pod_uid, "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
    assert_eq!(k.container_name, "web");
    assert_eq!(
        parse::docker_image_digest(&json("docker-image.json")).as_deref(),
        Some("sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac")
    );
}

fn runtime_root() -> PathBuf {
    fixtures().join("runtime-root")
}

#[test]
fn containerd_bundle_with_cri_annotations() {
    let cfg = RuntimeConfig::under(&runtime_root());
    let c = lookup(&cfg, CONTAINERD_ID, RuntimeKind::Containerd).unwrap();
    assert_eq!(c.runtime, "containerd");
    assert_eq!(c.name, "tools");
    assert_eq!(c.image, "docker.io/library/busybox:1.36");
    assert_eq!(c.image_repository, "docker.io/library/busybox");
    let k = c.k8s.as_ref().unwrap();
    assert_eq!(
        (
            k.pod_name.as_str(),
            k.namespace.as_str(),
            k.container_name.as_str()
        ),
        ("debug-tools", "kube-system", "tools")
    );
    assert_eq!(k.pod_uid, "5f0c9a2e-8b1d-4c3e-9f2a-1d2e3f4a5b6c");
    assert!(c.host_network, "no network namespace in the spec");
    assert!(!c.host_pid && !c.host_ipc);
    assert!(c.privileged, "CAP_SYS_ADMIN and no masked paths");
    assert!(c.rootfs.starts_with(runtime_root().to_str().unwrap()));
    assert!(c.rootfs.ends_with(&format!("{CONTAINERD_ID}/rootfs")));
    let host = c.mounts.iter().find(|m| m.dest == "/host").unwrap();
    assert_eq!(
        (host.source.as_str(), host.rw, host.propagation.as_str()),
        ("/", false, "rslave")
    );
    assert!(c.start_ts > 0, "bundle mtime");
    // An unknown runtime hint finds it too, after the sockets that are not there.
    let u = lookup(&cfg, CONTAINERD_ID, RuntimeKind::Unknown).unwrap();
    assert_eq!(u.name, "tools");
}

#[test]
fn crio_bundle_with_labels_json() {
    let cfg = RuntimeConfig::under(&runtime_root());
    let c = lookup(&cfg, CRIO_ID, RuntimeKind::CriO).unwrap();
    assert_eq!(c.runtime, "cri-o");
    assert_eq!(c.name, "api");
    assert_eq!(c.image, "quay.io/acme/api:2.4.1");
    assert_eq!(
        c.image_digest,
        "sha256:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"
    );
    assert_eq!(c.labels.get("tier").map(String::as_str), Some("backend"));
    let k = c.k8s.as_ref().unwrap();
    assert_eq!(
        (k.pod_name.as_str(), k.namespace.as_str()),
        ("api-5c7d8f9b4-kq2lm", "prod")
    );
    assert_eq!(k.pod_labels.get("app").map(String::as_str), Some("api"));
    assert!(!k.pod_labels.contains_key("io.kubernetes.pod.name"));
    assert!(!c.privileged && !c.host_network && !c.host_pid && !c.host_ipc);
    assert_eq!(c.start_ts, 1_795_282_930_987_654_321);
    assert_eq!(
        c.mounts.iter().find(|m| m.dest == "/data").map(|m| m.rw),
        Some(true)
    );
}

#[test]
fn missing_and_unreachable() {
    let cfg = RuntimeConfig::under(&runtime_root());
    let gone = "0".repeat(64);
    match lookup(&cfg, &gone, RuntimeKind::Unknown) {
        Err(e @ LookupError::NotFound { .. }) => {
            assert!(!e.retryable());
            assert!(e.to_string().contains("exited and was removed"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    let empty = RuntimeConfig::under(&fixtures().join("no-runtimes-here"));
    match lookup(&empty, &gone, RuntimeKind::Podman) {
        Err(LookupError::Unavailable { msg, .. }) => {
            assert!(
                msg.contains("podman API") && msg.contains("podman CLI (disabled)"),
                "{msg}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_documents() {
    let e = parse::parse_json(&std::fs::read(fixtures().join("runtime/truncated.json")).unwrap())
        .unwrap_err();
    assert!(e.contains("invalid JSON"), "{e}");
    assert!(parse::parse_docker_inspect(&serde_json::json!([1, 2]), "docker").is_err());
    assert!(
        parse::parse_docker_inspect(&serde_json::json!({"Name": "x"}), "docker")
            .unwrap_err()
            .contains("no Id")
    );
    assert!(parse::parse_podman_inspect(&serde_json::json!([])).is_err());
    assert!(parse::parse_oci_config(&serde_json::json!({"a": 1}), "x", "cri-o").is_err());
    // Wrongly typed fields cost only those fields.
    let c = parse::parse_oci_config(&json("oci-config-odd.json"), "abc", "containerd").unwrap();
    assert!(c.mounts.is_empty() && c.labels.is_empty() && c.k8s.is_none());
}

/// A Unix-socket HTTP server answering `GET` from a path -> (status, body) function, with
/// chunked bodies for paths ending in `?chunked`. `delay` holds every answer back.
fn serve(
    dir: &Path,
    delay: Duration,
    answer: impl Fn(&str) -> (u16, Vec<u8>) + Send + 'static,
) -> (PathBuf, Arc<AtomicUsize>) {
    let sock = dir.join("api.sock");
    let _ = std::fs::remove_file(&sock);
    let l = UnixListener::bind(&sock).unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { return };
            h.fetch_add(1, Ordering::SeqCst);
            let mut line = String::new();
            let mut rd = BufReader::new(conn.try_clone().unwrap());
            if rd.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut l = String::new();
                if rd.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                    break;
                }
            }
            let path = line.split(' ').nth(1).unwrap_or("").to_string();
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
            let (status, body) = answer(&path);
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            );
            for chunk in body.chunks(1000) {
                let _ = write!(conn, "{:x}\r\n", chunk.len());
                let _ = conn.write_all(chunk);
                let _ = conn.write_all(b"\r\n");
            }
            let _ = conn.write_all(b"0\r\n\r\n");
        }
    });
    (sock, hits)
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vigil-state-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn docker_answer(path: &str) -> (u16, Vec<u8>) {
    let fx = fixtures().join("runtime");
    if path == format!("/containers/{DOCKER_ID}/json") {
        (
            200,
            std::fs::read(fx.join("docker-inspect-k8s.json")).unwrap(),
        )
    } else if path.starts_with("/images/sha256:3b25b682") {
        (200, std::fs::read(fx.join("docker-image.json")).unwrap())
    } else {
        (404, br#"{"message":"No such container"}"#.to_vec())
    }
}

#[test]
fn docker_api_over_a_real_socket() {
    let dir = tempdir("docker");
    let (sock, _) = serve(&dir, Duration::ZERO, docker_answer);
    let cfg = RuntimeConfig {
        docker_socket: sock,
        ..RuntimeConfig::under(&dir)
    };
    let c = lookup(&cfg, DOCKER_ID, RuntimeKind::Docker).unwrap();
    assert_eq!(c.k8s.as_ref().unwrap().container_name, "web");
    assert_eq!(
        c.image_digest,
        "sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac"
    );
    let gone = "1".repeat(64);
    assert!(matches!(
        lookup(&cfg, &gone, RuntimeKind::Docker),
        Err(LookupError::NotFound { .. })
    ));
}

#[test]
fn cache_resolves_asynchronously_and_waits_bounded() {
    let dir = tempdir("cache");
    let (sock, _) = serve(&dir, Duration::from_millis(50), docker_answer);
    let mut cache = ContainerCache::new(CacheConfig {
        runtime: RuntimeConfig {
            docker_socket: sock,
            ..RuntimeConfig::under(&dir)
        },
        ..CacheConfig::default()
    });
    let t0 = Instant::now();
    cache.request(DOCKER_ID, RuntimeKind::Docker);
    assert!(
        t0.elapsed() < Duration::from_millis(20),
        "request never blocks"
    );
    // Known at once with its id; metadata pending.
    assert_eq!(cache.status(DOCKER_ID), Some(&Status::Pending));
    assert!(!cache.get(DOCKER_ID).unwrap().metadata_complete);
    assert_eq!(cache.get(DOCKER_ID).unwrap().short_id(), &DOCKER_ID[..12]);
    assert_eq!(
        cache.wait_ready(DOCKER_ID, Instant::now() + Duration::from_millis(300)),
        Readiness::Ready
    );
    let c = cache.get(DOCKER_ID).unwrap();
    assert!(c.metadata_complete);
    assert_eq!(c.image_tag, "1.25.3");
    // Requesting again does not look up again.
    cache.request(DOCKER_ID, RuntimeKind::Docker);
    assert_eq!(cache.stats().requests, 1);
    // A container that is gone: clear failure, no retry.
    let gone = "2".repeat(64);
    cache.request(&gone, RuntimeKind::Docker);
    match cache.wait_ready(&gone, Instant::now() + Duration::from_secs(2)) {
        Readiness::Failed(e @ LookupError::NotFound { .. }) => assert!(!e.retryable()),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        cache.wait_ready("unknown", Instant::now()),
        Readiness::Unknown
    );
    let s = cache.stats();
    assert_eq!((s.lookups_ok, s.lookups_not_found, s.containers), (1, 1, 2));
    assert!(s.latency_max_us >= 50_000, "{s:?}");
}

#[test]
fn slow_runtime_times_out_without_hanging_the_loop() {
    let dir = tempdir("slow");
    let (sock, _) = serve(&dir, Duration::from_secs(3), docker_answer);
    let mut cache = ContainerCache::new(CacheConfig {
        workers: 1,
        queue: 2,
        runtime: RuntimeConfig {
            docker_socket: sock,
            timeout: Duration::from_millis(400),
            ..RuntimeConfig::under(&dir)
        },
        ..CacheConfig::default()
    });
    cache.request(DOCKER_ID, RuntimeKind::Docker);
    let t0 = Instant::now();
    let r = cache.wait_ready(DOCKER_ID, Instant::now() + Duration::from_millis(100));
    let waited = t0.elapsed();
    assert_eq!(r, Readiness::TimedOut);
    assert!(
        waited >= Duration::from_millis(100) && waited < Duration::from_millis(250),
        "{waited:?}"
    );
    assert_eq!(cache.stats().wait_timeouts, 1);
    // More requests than the one worker and the queue hold: refused and counted, not blocking.
    let t1 = Instant::now();
    for i in 0..6u8 {
        cache.request(&format!("{:064x}", i + 10), RuntimeKind::Docker);
    }
    assert!(t1.elapsed() < Duration::from_millis(20));
    assert!(cache.stats().queue_full >= 3, "{:?}", cache.stats());
    // The slow lookup ends with a clear timeout error after the source timeout.
    match cache.wait_ready(DOCKER_ID, Instant::now() + Duration::from_secs(2)) {
        Readiness::Failed(e @ LookupError::Timeout { .. }) => {
            assert!(e.retryable());
            assert!(e.to_string().contains("did not answer within 400ms"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

/// Podman without its service: containers/storage files captured from a real container
/// (`podman run --privileged -v /tmp:/hosttmp:ro`) give a fast partial record.
#[test]
fn podman_storage_gives_partial_metadata() {
    let cfg = RuntimeConfig::under(&runtime_root());
    let mut results = Vec::new();
    vigil_state::runtime::lookup_with(&cfg, STORAGE_ID, RuntimeKind::Podman, |r, last| {
        results.push((r, last))
    });
    // One partial result, then the same again as final (the CLI is disabled here).
    assert_eq!(results.len(), 2, "{results:?}");
    let (c, last) = results.pop().unwrap();
    let c = c.unwrap();
    assert!(last);
    let (first, last) = results.pop().unwrap();
    assert_eq!((first.unwrap(), last), (c.clone(), false));
    assert!(!c.metadata_complete, "no labels from storage");
    assert_eq!(c.runtime, "podman");
    assert_eq!(c.name, "vstate-storage");
    assert_eq!(c.image, "localhost/vigil-test-debian:latest");
    assert_eq!(c.image_repository, "localhost/vigil-test-debian");
    assert!(c.image_id.starts_with("974d953a6f67"));
    assert!(c.privileged, "io.podman.annotations.privileged");
    assert!(!c.host_network && !c.host_pid);
    let m = c.mounts.iter().find(|m| m.dest == "/hosttmp").unwrap();
    assert_eq!((m.source.as_str(), m.rw), ("/tmp", false));
    assert_eq!(c.start_ts, 1_795_353_623_067_859_099);
    assert!(c.rootfs.ends_with("/merged"));
    assert!(c.labels.is_empty());
    // The synchronous API returns the partial record.
    assert_eq!(lookup(&cfg, STORAGE_ID, RuntimeKind::Podman).unwrap(), c);
    // Unknown to storage: not found.
    assert!(matches!(
        lookup(&cfg, &"4".repeat(64), RuntimeKind::Podman),
        Err(LookupError::NotFound { .. })
    ));
    // Through the cache: Ready with name and image, counted as partial.
    let mut cache = ContainerCache::new(CacheConfig {
        runtime: cfg,
        ..CacheConfig::default()
    });
    cache.request(STORAGE_ID, RuntimeKind::Podman);
    assert_eq!(
        cache.wait_ready(STORAGE_ID, Instant::now() + Duration::from_secs(2)),
        Readiness::Ready
    );
    assert_eq!(cache.get(STORAGE_ID).unwrap().name, "vstate-storage");
    std::thread::sleep(Duration::from_millis(50));
    cache.poll();
    let s = cache.stats();
    assert_eq!(
        (s.partial_results, s.lookups_partial_only, s.lookups_ok),
        (1, 1, 1),
        "{s:?}"
    );
}

/// A partial-only result is retried (for the labels) once `retry_after` passed, while the
/// partial record stays visible and `wait_ready` does not block.
#[test]
fn partial_metadata_is_retried_without_hiding_it() {
    let mut cache = ContainerCache::new(CacheConfig {
        runtime: RuntimeConfig::under(&runtime_root()),
        retry_after: Duration::from_millis(20),
        max_attempts: 2,
        ..CacheConfig::default()
    });
    cache.request(STORAGE_ID, RuntimeKind::Podman);
    let deadline = Instant::now() + Duration::from_secs(2);
    assert_eq!(cache.wait_ready(STORAGE_ID, deadline), Readiness::Ready);
    let wait_ok = |cache: &mut ContainerCache, n: u64| {
        let t0 = Instant::now();
        while cache.stats().lookups_ok < n && t0.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(5));
            cache.poll();
        }
        assert_eq!(cache.stats().lookups_ok, n);
    };
    wait_ok(&mut cache, 1);
    std::thread::sleep(Duration::from_millis(30));
    assert!(
        cache.needs_request(STORAGE_ID),
        "partial-only is due for a retry"
    );
    cache.request(STORAGE_ID, RuntimeKind::Podman);
    assert_eq!(cache.stats().retries, 1);
    assert_eq!(
        cache.status(STORAGE_ID),
        Some(&Status::Ready),
        "partial stays visible"
    );
    assert_eq!(
        cache.wait_ready(STORAGE_ID, Instant::now()),
        Readiness::Ready
    );
    wait_ok(&mut cache, 2);
    std::thread::sleep(Duration::from_millis(30));
    assert!(!cache.needs_request(STORAGE_ID), "max_attempts reached");
}

#[test]
fn runtime_name_hints_survive_a_failed_lookup() {
    let dir = tempdir("hints");
    let (sock, _) = serve(&dir, Duration::from_millis(20), docker_answer);
    let mut cache = ContainerCache::new(CacheConfig {
        runtime: RuntimeConfig {
            docker_socket: sock,
            ..RuntimeConfig::under(&dir)
        },
        ..CacheConfig::default()
    });
    // Hint before the container is seen: the record starts with the name, and a container
    // removed before its lookup keeps it.
    let gone = "3".repeat(64);
    cache.hint(&gone, "failed-at-once");
    cache.request(&gone, RuntimeKind::Docker);
    assert_eq!(cache.get(&gone).unwrap().name, "failed-at-once");
    assert!(
        !cache.settled(&gone),
        "a hinted name alone does not settle the record"
    );
    assert!(matches!(
        cache.wait_ready(&gone, Instant::now() + Duration::from_secs(2)),
        Readiness::Failed(LookupError::NotFound { .. })
    ));
    assert_eq!(cache.get(&gone).unwrap().name, "failed-at-once");
    assert!(cache.settled(&gone), "a failed lookup settles it");
    assert!(!cache.get(&gone).unwrap().metadata_complete);
    // Hint after the request: fills a record that has no name yet; a lookup that answers
    // with a name wins over the hint.
    cache.request(DOCKER_ID, RuntimeKind::Docker);
    cache.hint(DOCKER_ID, "announced");
    assert_eq!(cache.get(DOCKER_ID).unwrap().name, "announced");
    assert_eq!(
        cache.wait_ready(DOCKER_ID, Instant::now() + Duration::from_secs(2)),
        Readiness::Ready
    );
    let c = cache.get(DOCKER_ID).unwrap();
    assert!(c.metadata_complete);
    assert_ne!(c.name, "announced");
    assert!(!c.name.is_empty());
    assert_eq!(cache.stats().name_hints, 2);
}
