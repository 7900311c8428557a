//! Evaluation throughput of the full upstream stable ruleset on a realistic event mix.
//!
//! Loads `../shared/corpus/falco-rules/falco_rules.yaml` and then vigil's own default ruleset
//! (`rules/default_rules.yaml`), builds a process table (a third of
//! the processes in containers), and replays a pre-built mix of mostly non-matching `openat`,
//! `execve` and `connect` events (about 0.06% are reads of /etc/shadow, which the stable rules
//! flag) through `Ruleset::evaluate` on one thread, for a hot and a cold working set. Prints
//! events/s, ns/event, how many events matched, and how many heap allocations happened during
//! the timed loop (a counting global allocator: the hot path must not allocate).
//!
//! Wall time and the thread's own on-CPU time (from `/proc/thread-self/schedstat`) are both
//! printed: on a shared, oversubscribed machine the wall figure mostly measures the scheduler.
//!
//! Run: `cargo bench -p vigil-rules --bench eval`

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use vigil_event::{
    Container, Dir, Event, EventType, FdInfo, FdKind, FlagSet, L4Proto, Param, ParamName, Process,
    SockTuple, StateView, UserInfo, Value,
};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A minimal state: a process map, containers and one user.
struct BenchState {
    procs: HashMap<u32, Process>,
    containers: HashMap<String, Container>,
    root: UserInfo,
}

impl StateView for BenchState {
    fn process(&self, pid: u32) -> Option<&Process> {
        self.procs.get(&pid)
    }
    fn container(&self, id: &str) -> Option<&Container> {
        self.containers.get(id)
    }
    fn user(&self, _p: &Process, _uid: u32) -> Option<&UserInfo> {
        Some(&self.root)
    }
    fn group_name(&self, _p: &Process, _gid: u32) -> Option<&str> {
        Some("root")
    }
    fn hostname(&self) -> &str {
        "bench"
    }
}

/// Deterministic xorshift so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[(self.next() % v.len() as u64) as usize]
    }
}

/// Nanoseconds this thread has spent on a CPU (first field of schedstat).
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

const NAMES: &[(&str, &str)] = &[
    ("nginx", "/usr/sbin/nginx"),
    ("python3", "/usr/bin/python3"),
    ("java", "/usr/lib/jvm/bin/java"),
    ("postgres", "/usr/lib/postgresql/bin/postgres"),
    ("node", "/usr/bin/node"),
    ("redis-server", "/usr/bin/redis-server"),
    ("containerd", "/usr/bin/containerd"),
    ("kubelet", "/usr/bin/kubelet"),
    ("systemd-journal", "/lib/systemd/systemd-journald"),
    ("sshd", "/usr/sbin/sshd"),
    ("cron", "/usr/sbin/cron"),
    ("ls", "/usr/bin/ls"),
    ("gzip", "/usr/bin/gzip"),
    ("php-fpm", "/usr/sbin/php-fpm"),
];

const PATHS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/proc/self/stat",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/var/log/nginx/access.log",
    "/tmp/tmp.12345",
    "/usr/share/zoneinfo/UTC",
    "/srv/app/static/index.html",
    "/var/lib/postgresql/data/base/1/1259",
    "/dev/null",
    "/sys/fs/cgroup/memory.max",
    "/etc/ld.so.cache",
];

fn main() {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let sets = [
        (
            "upstream stable",
            here.join("../../../shared/corpus/falco-rules/falco_rules.yaml"),
        ),
        ("vigil default", here.join("../../rules/default_rules.yaml")),
    ];
    for (label, path) in sets {
        let loaded = match vigil_rules::load_files(
            std::slice::from_ref(&path),
            &vigil_rules::LoadOptions::default(),
        ) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("cannot load {}: {e}", path.display());
                std::process::exit(1);
            }
        };
        let rs = &loaded.ruleset;
        let c = rs.counts();
        println!(
            "\n=== {label} ruleset ({}): {} rules ({} enabled), {} macros, {} lists, {} event types",
            path.display(),
            c.rules,
            c.enabled_rules,
            c.macros,
            c.lists,
            rs.event_types().len()
        );
        // A hot working set (what a busy node's recent processes look like) and a cold one
        // that does not fit in cache.
        run(rs, "hot", 200, 512);
        run(rs, "cold", 2000, 16_384);
    }
}

fn run(rs: &vigil_rules::Ruleset, label: &str, n_procs: u32, n_events: usize) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut st = BenchState {
        procs: HashMap::new(),
        containers: HashMap::new(),
        root: UserInfo {
            uid: 0,
            name: "root".into(),
            homedir: "/root".into(),
            shell: "/bin/bash".into(),
        },
    };
    for i in 0..20 {
        let id = format!("{:064x}", 0xc0ffee_u64 + i);
        st.containers.insert(
            id.clone(),
            Container {
                id,
                runtime: "containerd".into(),
                name: format!("app-{i}"),
                image: "registry.local/app:1".into(),
                image_repository: "registry.local/app".into(),
                image_tag: "1".into(),
                metadata_complete: true,
                ..Container::default()
            },
        );
    }
    st.procs.insert(
        1,
        Process {
            pid: 1,
            comm: "systemd".into(),
            exe: "/sbin/init".into(),
            exepath: "/sbin/init".into(),
            loginuid: u32::MAX,
            ..Process::default()
        },
    );
    for pid in 2..n_procs + 2 {
        let (comm, exe) = *rng.pick(NAMES);
        let ppid = if pid < 50 {
            1
        } else {
            2 + (rng.next() % 48) as u32
        };
        let container_id = if pid % 3 == 0 {
            format!("{:064x}", 0xc0ffee_u64 + (pid as u64 % 20))
        } else {
            String::new()
        };
        st.procs.insert(
            pid,
            Process {
                pid,
                ppid,
                vpid: pid,
                comm: comm.into(),
                exe: exe.into(),
                exepath: exe.into(),
                args: vec!["--config".into(), format!("/etc/{comm}/conf")],
                cwd: "/".into(),
                loginuid: u32::MAX,
                start_ts: 1_000_000_000,
                container_id,
                ..Process::default()
            },
        );
    }

    // Pre-built events: 60% openat, 25% execve, 15% connect.
    struct Owned {
        etype: EventType,
        pid: u32,
        params: Vec<Param<'static>>,
        fd: Option<FdInfo<'static>>,
    }
    let openat = EventType::from_name("openat").unwrap();
    let execve = EventType::from_name("execve").unwrap();
    let connect = EventType::from_name("connect").unwrap();
    let mut owned = Vec::new();
    for _ in 0..n_events {
        let pid = 2 + (rng.next() % n_procs as u64) as u32;
        let r = rng.next() % 100;
        if r < 60 {
            // About one event in a thousand is a real detection: a read of /etc/shadow.
            let name = if rng.next() % 1000 < 1 {
                "/etc/shadow"
            } else {
                *rng.pick(PATHS)
            };
            let write = rng.next() & 3 == 0;
            let flags = if write { 0o1101 } else { 0o2000000 };
            owned.push(Owned {
                etype: openat,
                pid,
                params: vec![
                    Param::new(ParamName::Fd, Value::Fd(5)),
                    Param::new(ParamName::Dirfd, Value::Fd(-100)),
                    Param::new(ParamName::Name, Value::Str(name)),
                    Param::new(ParamName::Flags, Value::Flags(flags, FlagSet::Open)),
                    Param::new(ParamName::Mode, Value::Mode(0o644)),
                ],
                fd: Some(FdInfo {
                    num: 5,
                    kind: FdKind::File,
                    name,
                    nameraw: name,
                    ..FdInfo::default()
                }),
            });
        } else if r < 85 {
            let p = &st.procs[&pid];
            owned.push(Owned {
                etype: execve,
                pid,
                params: vec![
                    Param::new(ParamName::Res, Value::Res(0)),
                    Param::new(ParamName::Exe, Value::Str(leak(p.exe.clone()))),
                    Param::new(ParamName::Args, Value::List(leak(p.args.join("\0")))),
                    Param::new(ParamName::Flags, Value::U64(0)),
                ],
                fd: None,
            });
        } else {
            let tuple = SockTuple {
                proto: L4Proto::Tcp,
                src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)),
                src_port: 40000 + (rng.next() % 1000) as u16,
                dst_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 1, (rng.next() % 250) as u8)),
                dst_port: *rng.pick(&[80u16, 443, 5432, 6379]),
            };
            owned.push(Owned {
                etype: connect,
                pid,
                params: vec![
                    Param::new(ParamName::Res, Value::Res(0)),
                    Param::new(ParamName::Tuple, Value::Tuple(tuple)),
                ],
                fd: Some(FdInfo {
                    num: 7,
                    kind: FdKind::Ipv4,
                    tuple: Some(tuple),
                    ..FdInfo::default()
                }),
            });
        }
    }
    let events: Vec<Event<'_>> = owned
        .iter()
        .enumerate()
        .map(|(i, o)| Event {
            num: i as u64,
            ts: 2_000_000_000 + i as u64,
            etype: o.etype,
            dir: Dir::Exit,
            cpu: 0,
            tid: o.pid,
            pid: o.pid,
            res: 5,
            params: &o.params,
            fd: o.fd,
            latency: 1000,
        })
        .collect();

    let mut scratch = rs.new_scratch();
    let mut matched = Vec::with_capacity(16);
    let mut total_matches = 0u64;
    // Warm-up: grows scratch buffers to their steady-state size.
    for ev in &events {
        matched.clear();
        rs.evaluate(ev, &st, &mut scratch, &mut matched);
    }
    // VIGIL_BENCH_EVENTS scales the run down (e.g. for an instruction count under callgrind).
    let total: usize = std::env::var("VIGIL_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000_000);
    let rounds = (total / events.len()).max(1);
    let cpu_start = thread_cpu_ns();
    let allocs_before = ALLOCS.load(Ordering::Relaxed);
    let start = Instant::now();
    for _ in 0..rounds {
        for ev in &events {
            matched.clear();
            rs.evaluate(ev, &st, &mut scratch, &mut matched);
            total_matches += matched.len() as u64;
        }
    }
    let elapsed = start.elapsed();
    let allocs = ALLOCS.load(Ordering::Relaxed) - allocs_before;
    let cpu = thread_cpu_ns()
        .zip(cpu_start)
        .map(|(b, a)| b.saturating_sub(a));
    let n = (rounds * events.len()) as f64;
    println!("\n[{label}] {n_procs} processes, {} distinct events (60% openat / 25% execve / 15% connect, 1/3 in containers), {} evaluated", events.len(), n as u64);
    println!(
        "wall time: {:.3} s ({:.0} events/s, {:.1} ns/event)",
        elapsed.as_secs_f64(),
        n / elapsed.as_secs_f64(),
        elapsed.as_nanos() as f64 / n
    );
    match cpu {
        // On a shared machine the thread is often descheduled; its own CPU time is the
        // single-core cost.
        Some(cpu) => println!(
            "on-CPU time: {:.3} s -> throughput {:.0} events/s on one core, {:.1} ns/event",
            cpu as f64 / 1e9,
            n / (cpu as f64 / 1e9),
            cpu as f64 / n
        ),
        None => println!("on-CPU time: unavailable (/proc/thread-self/schedstat unreadable)"),
    }
    println!(
        "matches: {total_matches} ({:.3}% of events)",
        100.0 * total_matches as f64 / n
    );
    println!("heap allocations during the timed loop: {allocs}");
}
