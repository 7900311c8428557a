//! Tests on the real machine: seeding from the real `/proc`, and metadata of real podman
//! containers through the container cache (CLI and REST API), including containers that exit
//! at once. They need root and podman with the `localhost/vigil-test-debian` image, and skip
//! loudly otherwise.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vigil_event::StateView;
use vigil_state::runtime::lookup;
use vigil_state::{
    CacheConfig, Limits, LiveState, LookupError, ProcFs, ProcessTable, Readiness, RuntimeConfig,
    RuntimeKind, StateConfig, TableConfig,
};

const IMAGE: &str = "localhost/vigil-test-debian";

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn podman_ready() -> bool {
    if !is_root() {
        eprintln!("SKIP: not root");
        return false;
    }
    let ok = Command::new("podman")
        .args(["image", "exists", IMAGE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIP: podman or the image {IMAGE} is missing (scripts/test-image.sh builds it)");
    }
    ok
}

fn podman(args: &[&str]) -> String {
    let out = Command::new("podman").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "podman {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Removes the named container when dropped.
struct Ctr(String);
impl Drop for Ctr {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["rm", "-f", "-t", "0", &self.0])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn name(tag: &str) -> String {
    format!("vigil-state-{tag}-{}", std::process::id())
}

#[test]
fn seeds_this_process_and_its_ancestry_from_real_proc() {
    if !is_root() {
        eprintln!("SKIP: not root (other users' /proc entries are partly unreadable)");
        return;
    }
    let fs = ProcFs::new(
        std::path::Path::new("/proc"),
        vigil_state::procfs::clock_ticks(),
        Limits::default(),
    )
    .unwrap();
    let mut t = ProcessTable::new(fs, TableConfig::default());
    let t0 = Instant::now();
    let n = t.seed().unwrap();
    eprintln!("seeded {n} processes from /proc in {:?}", t0.elapsed());
    let me = t
        .get(std::process::id())
        .expect("this test process is in the table");
    let exe = std::env::current_exe().unwrap();
    assert_eq!(PathBuf::from(&me.exepath), exe);
    // SAFETY: getppid has no preconditions and cannot fail.
    let ppid = unsafe { libc::getppid() } as u32;
    assert_eq!(me.ppid, ppid);
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert!(me.start_ts <= now_ns && me.start_ts > now_ns - 3600 * 1_000_000_000);
    let chain: Vec<u32> = t.ancestors(me.pid).map(|p| p.pid).collect();
    assert_eq!(chain.first(), Some(&ppid), "parent first: {chain:?}");
    assert_eq!(chain.last(), Some(&1), "ancestry reaches init: {chain:?}");
    assert!(
        !me.in_container(),
        "the VM's /process_api cgroup is not a container"
    );
}

#[test]
fn podman_container_metadata_via_cli() {
    if !podman_ready() {
        return;
    }
    let n = name("cli");
    let id = podman(&[
        "run",
        "-d",
        "--name",
        &n,
        "--label",
        "vigil.test=cli",
        IMAGE,
        "sleep",
        "60",
    ]);
    let _guard = Ctr(n.clone());
    let pid: u32 = podman(&["inspect", "--format", "{{.State.Pid}}", &id])
        .parse()
        .unwrap();

    let mut st = LiveState::new(StateConfig::default()).unwrap();
    let p = st.process(pid).expect("container process seeded").clone();
    assert_eq!(p.container_id, id);
    assert_eq!(st.table().runtime_of(&id), RuntimeKind::Podman);
    assert_eq!(p.vpid, 1, "pid 1 of its namespace");
    let t0 = Instant::now();
    let r = st.wait_container(&id, Duration::from_secs(10));
    eprintln!(
        "podman CLI metadata for a seeded container: {:?} after {:?}",
        r,
        t0.elapsed()
    );
    assert_eq!(r, Readiness::Ready);
    // The first answer may be the fast partial one (containers/storage); the complete one
    // (with labels, from the CLI) follows.
    assert_eq!(st.container(&id).unwrap().name, n);
    let t1 = Instant::now();
    while !st.container(&id).unwrap().metadata_complete && t1.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
        st.poll();
    }
    eprintln!("complete metadata after {:?}", t0.elapsed());
    let c = st.container(&id).unwrap();
    assert!(c.metadata_complete);
    assert_eq!(c.name, n);
    assert_eq!(c.image_repository, IMAGE);
    assert_eq!(c.image_tag, "latest");
    assert_eq!(c.runtime, "podman");
    assert_eq!(c.labels.get("vigil.test").map(String::as_str), Some("cli"));
    assert!(c.start_ts > 0);
    // The container's own passwd, via /proc/<pid>/root.
    assert_eq!(st.user(&p, 0).map(|u| u.name.as_str()), Some("root"));
    assert_eq!(st.user(&p, 65534).map(|u| u.name.as_str()), Some("nobody"));
    let m = st.metrics();
    eprintln!("metrics: {m:?}");
    assert!(m.containers.latency_max_us > 0);
}

#[test]
fn container_that_exits_immediately() {
    if !podman_ready() {
        return;
    }
    // Kept after exit: metadata is still readable.
    let n = name("exited");
    let id = podman(&["run", "--name", &n, IMAGE, "true"]);
    let _guard = Ctr(n.clone());
    let id = if id.is_empty() {
        podman(&["inspect", "--format", "{{.Id}}", &n])
    } else {
        id
    };
    let cfg = RuntimeConfig::default();
    let c = lookup(&cfg, &id, RuntimeKind::Podman).unwrap();
    assert_eq!(c.name, n);

    // Removed at exit (--rm): the lookup ends quickly with a clear NotFound.
    let cidfile = std::env::temp_dir().join(format!("{}.cid", name("rm")));
    let _ = std::fs::remove_file(&cidfile);
    podman(&[
        "run",
        "--rm",
        "--cidfile",
        cidfile.to_str().unwrap(),
        IMAGE,
        "true",
    ]);
    let gone = std::fs::read_to_string(&cidfile)
        .unwrap()
        .trim()
        .to_string();
    let _ = std::fs::remove_file(&cidfile);
    let mut cache = vigil_state::ContainerCache::new(CacheConfig::default());
    cache.request(&gone, RuntimeKind::Podman);
    let t0 = Instant::now();
    match cache.wait_ready(&gone, Instant::now() + Duration::from_secs(5)) {
        Readiness::Failed(e @ LookupError::NotFound { .. }) => {
            eprintln!("exited container: {e} after {:?}", t0.elapsed());
            assert!(e.to_string().contains(&gone));
        }
        other => panic!("{other:?}"),
    }
    assert!(t0.elapsed() < Duration::from_secs(3));
    assert_eq!(cache.get(&gone).unwrap().short_id(), &gone[..12]);
}

struct Service(Child);
impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn podman_container_metadata_via_rest_api() {
    if !podman_ready() {
        return;
    }
    let sock = std::env::temp_dir().join(format!("{}.sock", name("api")));
    let _ = std::fs::remove_file(&sock);
    let svc = Command::new("podman")
        .args([
            "system",
            "service",
            "--time=0",
            &format!("unix://{}", sock.display()),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _svc = Service(svc);
    let t0 = Instant::now();
    while !sock.exists() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        sock.exists(),
        "podman service did not create {}",
        sock.display()
    );
    let n = name("rest");
    let id = podman(&[
        "run",
        "-d",
        "--name",
        &n,
        "--privileged",
        "--net",
        "host",
        IMAGE,
        "sleep",
        "60",
    ]);
    let _guard = Ctr(n.clone());
    let cfg = RuntimeConfig {
        podman_socket: sock.clone(),
        podman_cli: None,
        ..RuntimeConfig::default()
    };
    let mut best = Duration::MAX;
    let mut c = None;
    for _ in 0..5 {
        let t = Instant::now();
        c = Some(lookup(&cfg, &id, RuntimeKind::Podman).unwrap());
        best = best.min(t.elapsed());
    }
    let c = c.unwrap();
    eprintln!("podman REST API lookup: best of 5 {best:?}");
    assert_eq!(c.name, n);
    assert_eq!(c.image_repository, IMAGE);
    assert!(c.privileged && c.host_network);
    let gone = "3".repeat(64);
    assert!(matches!(
        lookup(&cfg, &gone, RuntimeKind::Podman),
        Err(LookupError::NotFound { .. })
    ));
}

/// The monitor's path: a container started after vigil, first seen through an exec event of
/// its process; `before` requests its metadata, and `wait_container_of` waits for it.
#[test]
fn new_container_seen_through_an_exec_event() {
    use vigil_event::{Dir, Event, EventType, Param, ParamName, Value};
    if !podman_ready() {
        return;
    }
    let mut st = LiveState::new(StateConfig {
        container_wait: Duration::from_secs(10),
        ..StateConfig::default()
    })
    .unwrap();
    let n = name("exec");
    let id = podman(&["run", "-d", "--name", &n, IMAGE, "sleep", "60"]);
    let _guard = Ctr(n.clone());
    let pid: u32 = podman(&["inspect", "--format", "{{.State.Pid}}", &id])
        .parse()
        .unwrap();
    assert!(st.container(&id).is_none());
    let params = [
        Param::new(ParamName::Res, Value::Res(0)),
        Param::new(ParamName::Exe, Value::Str("sleep")),
        Param::new(ParamName::Args, Value::List("60")),
        Param::new(ParamName::Comm, Value::Str("sleep")),
        Param::new(ParamName::CgroupId, Value::U64(0xfeed_0001)),
        Param::new(ParamName::Vpid, Value::I64(1)),
    ];
    let ev = Event {
        num: 1,
        ts: 1,
        etype: EventType::from_name("execve").unwrap(),
        dir: Dir::Exit,
        cpu: 0,
        tid: pid,
        pid,
        res: 0,
        params: &params,
        fd: None,
        latency: 0,
    };
    let t0 = Instant::now();
    st.before(&ev);
    assert!(
        t0.elapsed() < Duration::from_millis(50),
        "before() never blocks: {:?}",
        t0.elapsed()
    );
    assert_eq!(st.process(pid).unwrap().container_id, id);
    // Known at once (id only), metadata pending.
    assert_eq!(st.container(&id).unwrap().short_id(), &id[..12]);
    let r = st.wait_container_of(pid);
    eprintln!("first sight -> metadata: {r:?} after {:?}", t0.elapsed());
    assert_eq!(r, Readiness::Ready);
    assert_eq!(st.container(&id).unwrap().name, n);
    // A second alert does not wait.
    let t1 = Instant::now();
    assert_eq!(st.wait_container_of(pid), Readiness::Ready);
    assert!(t1.elapsed() < Duration::from_millis(5));
    // Host processes never wait.
    assert_eq!(st.wait_container_of(std::process::id()), Readiness::Unknown);
}
