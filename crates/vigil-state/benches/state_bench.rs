//! Figures for the state crate (`cargo bench -p vigil-state`): seeding from the real `/proc`,
//! per-event cost of `before`/`after`, fork-bomb throughput at the entry cap, and container
//! metadata latency through the podman CLI and REST API (when root with podman).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vigil_event::{Dir, Event, EventType, FlagSet, Param, ParamName, Value};
use vigil_state::procfs::clock_ticks;
use vigil_state::runtime::lookup;
use vigil_state::{Limits, ProcFs, ProcessTable, RuntimeConfig, RuntimeKind, TableConfig};

fn ev<'a>(etype: EventType, pid: u32, ts: u64, params: &'a [Param<'a>]) -> Event<'a> {
    Event {
        num: ts,
        ts,
        etype,
        dir: Dir::Exit,
        cpu: 0,
        tid: pid,
        pid,
        res: 0,
        params,
        fd: None,
        latency: 0,
    }
}

fn table(cap: usize) -> ProcessTable {
    let fs = ProcFs::new(Path::new("/proc"), clock_ticks(), Limits::default()).unwrap();
    ProcessTable::new(
        fs,
        TableConfig {
            max_entries: cap,
            ..TableConfig::default()
        },
    )
}

/// CPU time of this thread: the machine is shared, so wall time alone overstates costs.
fn cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

struct Timer(Instant, Duration);

impl Timer {
    fn start() -> Timer {
        Timer(Instant::now(), cpu_now())
    }
    fn per_op(&self, n: u64) -> String {
        let wall = self.0.elapsed().as_nanos() as f64 / n as f64;
        let cpu = (cpu_now() - self.1).as_nanos() as f64 / n as f64;
        format!("{cpu:.0} ns/op CPU ({wall:.0} ns/op wall)")
    }
}

fn main() {
    // Seeding.
    let mut best = Duration::MAX;
    let mut n = 0;
    for _ in 0..5 {
        let mut t = table(65536);
        let t0 = Instant::now();
        n = t.seed().unwrap();
        best = best.min(t0.elapsed());
    }
    println!("seed from /proc: {n} processes in {best:?} (best of 5)");

    // Per-event costs.
    let mut t = table(65536);
    t.seed().unwrap();
    let open = EventType::from_name("openat").unwrap();
    let clone = EventType::from_name("clone").unwrap();
    let execve = EventType::from_name("execve").unwrap();
    let n_ev = 5_000_000u64;
    let e = ev(open, 1, 0, &[]);
    let t0 = Timer::start();
    for _ in 0..n_ev {
        std::hint::black_box(t.before(std::hint::black_box(&e)));
        std::hint::black_box(t.after(std::hint::black_box(&e)));
    }
    println!("before+after, non-lifecycle event: {}", t0.per_op(n_ev));

    let cp = [
        Param::new(ParamName::Res, Value::Res(0)),
        Param::new(ParamName::Exe, Value::Str("/bin/sh")),
        Param::new(ParamName::Args, Value::List("-c\0true")),
        Param::new(ParamName::Ptid, Value::I64(1)),
        Param::new(ParamName::Comm, Value::Str("sh")),
        Param::new(ParamName::Flags, Value::Flags(0x11, FlagSet::Clone)),
        Param::new(ParamName::CgroupId, Value::U64(1)),
    ];
    let ep = [
        Param::new(ParamName::Res, Value::Res(0)),
        Param::new(ParamName::Exe, Value::Str("/usr/bin/curl")),
        Param::new(
            ParamName::Args,
            Value::List("-s\0http://example.com/\0-o\0/dev/null"),
        ),
        Param::new(ParamName::Ptid, Value::I64(1)),
        Param::new(ParamName::Comm, Value::Str("curl")),
        Param::new(ParamName::Cwd, Value::Str("/root")),
        Param::new(ParamName::Env, Value::List("PATH=/usr/bin\0HOME=/root")),
        Param::new(ParamName::TrustedExepath, Value::Str("/usr/bin/curl")),
        Param::new(ParamName::CgroupId, Value::U64(1)),
    ];
    // Prime the cgroup id cache with a real pid so lifecycle events hit the cache.
    let me = std::process::id();
    t.before(&ev(execve, me, 0, &ep));
    let n_life = 200_000u64;
    let t0 = Timer::start();
    for i in 0..n_life {
        let pid = 5_000_000 + i as u32;
        t.before(&ev(clone, pid, i, &cp));
        t.before(&ev(execve, pid, i, &ep));
        t.after(&ev(EventType::PROCEXIT, pid, i, &[]));
    }
    println!(
        "clone+execve+procexit (cached cgroup): {}",
        t0.per_op(n_life)
    );

    drop(t);

    // Fork bomb at the cap.
    let mut t = table(65536);
    t.before(&ev(clone, 1, 0, &cp));
    let n_bomb = 1_000_000u32;
    let t0 = Timer::start();
    for i in 0..n_bomb {
        let parent = if i == 0 { 1 } else { 100 + (i - 1) / 2 };
        let p = [
            Param::new(ParamName::Ptid, Value::I64(parent as i64)),
            Param::new(ParamName::Flags, Value::Flags(0x11, FlagSet::Clone)),
        ];
        t.before(&ev(clone, 100 + i, i as u64, &p));
    }
    let s = t.stats();
    println!(
        "fork bomb: {n_bomb} clones, {}, {} entries, {} evicted",
        t0.per_op(n_bomb as u64),
        t.len(),
        s.evicted_live + s.evicted_exited
    );

    let rss = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = |k: &str| {
        rss.lines()
            .find(|l| l.starts_with(k))
            .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    println!(
        "memory with a full table ({} entries of {} bytes + strings): VmRSS {}, VmHWM {}",
        t.len(),
        std::mem::size_of::<vigil_event::Process>(),
        line("VmRSS:"),
        line("VmHWM:")
    );
    drop(t);

    podman_latency();
}

fn podman_latency() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("podman latency: skipped (not root)");
        return;
    }
    let out = Command::new("podman")
        .args([
            "run",
            "-d",
            "--rm",
            "localhost/vigil-test-debian",
            "sleep",
            "120",
        ])
        .output();
    let Some(out) = out.ok().filter(|o| o.status.success()) else {
        println!("podman latency: skipped (podman or localhost/vigil-test-debian missing)");
        return;
    };
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let measure = |cfg: &RuntimeConfig, what: &str| {
        let mut v: Vec<Duration> = (0..10)
            .map(|_| {
                let t0 = Instant::now();
                let r = lookup(cfg, &id, RuntimeKind::Podman);
                assert!(r.is_ok(), "{what}: {r:?}");
                t0.elapsed()
            })
            .collect();
        v.sort();
        println!(
            "podman {what} lookup: median {:?}, max {:?} (10 runs)",
            v[5], v[9]
        );
    };
    measure(
        &RuntimeConfig {
            podman_socket: "/nonexistent".into(),
            containers_storage: "/nonexistent".into(),
            ..RuntimeConfig::default()
        },
        "CLI",
    );
    measure(
        &RuntimeConfig {
            podman_socket: "/nonexistent".into(),
            podman_cli: None,
            ..RuntimeConfig::default()
        },
        "containers/storage (partial)",
    );
    let sock = std::env::temp_dir().join(format!("vigil-bench-{}.sock", std::process::id()));
    let svc = Command::new("podman")
        .args([
            "system",
            "service",
            "--time=0",
            &format!("unix://{}", sock.display()),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    if let Ok(mut svc) = svc {
        let t0 = Instant::now();
        while !sock.exists() && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        measure(
            &RuntimeConfig {
                podman_socket: sock.clone(),
                podman_cli: None,
                ..RuntimeConfig::default()
            },
            "REST API",
        );
        let _ = svc.kill();
        let _ = svc.wait();
        let _ = std::fs::remove_file(&sock);
    }
    let _ = Command::new("podman")
        .args(["rm", "-f", "-t", "0", &id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
