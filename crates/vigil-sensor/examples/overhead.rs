//! Measures what the sensor costs the workloads it watches.
//!
//! `cargo run --release -p vigil-sensor --example overhead -- [SECONDS] [ROUNDS]` (as root).
//!
//! Three workloads, each run by two worker processes (one per core on the reference VM):
//! open/close of a file, fork+exec of `/bin/true`, and TCP connect/close to a loopback
//! listener. Each runs without the sensor, with the sensor attached but no syscall type
//! enabled (lifecycle events only), and with every syscall type enabled (the callback counts
//! events). Printed per mode (median over rounds): operations per second, throughput ratio
//! against the baseline, the sensor process's CPU (user+sys, % of one core), events delivered
//! per second and events lost (summed over rounds).
//!
//! Arguments: `[SECONDS_PER_RUN (3)] [ROUNDS (3)]`.
//!
//! Workers are child processes (this binary re-executed with `--worker`), so the sensor's
//! own-process filter does not hide them and their cost is separate from the drain loop's.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vigil_sensor::{Sensor, SensorConfig};

const WORKERS: usize = 2;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(|s| s.as_str()) == Some("--worker") {
        let kind = args.get(2).cloned().unwrap_or_default();
        let secs: f64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3.0);
        let n = worker(&kind, Duration::from_secs_f64(secs));
        println!("{n}");
        return;
    }
    let secs: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let rounds: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    println!(
        "overhead: {WORKERS} workers per run, {secs} s per run, {rounds} rounds (medians; runs interleaved so background load hits all modes alike)"
    );
    println!(
        "{:<12} {:<16} {:>12} {:>7} {:>10} {:>12} {:>10}",
        "workload", "sensor", "ops/s", "ratio", "sensor%", "events/s", "lost"
    );
    for kind in ["open-close", "fork-exec", "connect"] {
        let mut off = Vec::new();
        let mut on: [Vec<(f64, f64, f64, u64)>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..rounds {
            off.push(run_workers(kind, secs));
            for (i, mode) in [Mode::LifecycleOnly, Mode::AllSyscalls]
                .into_iter()
                .enumerate()
            {
                let mut sensor = match Sensor::open(SensorConfig::default()) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("error: {e}");
                        std::process::exit(1);
                    }
                };
                if mode == Mode::AllSyscalls {
                    sensor.enable_all_syscalls().expect("enable");
                }
                let (ops, cpu, events) = with_sensor(&mut sensor, kind, secs);
                on[i].push((ops, cpu, events as f64 / secs, sensor.stats().lost()));
            }
        }
        let base = median(off.clone());
        print_row(kind, "off", base, base, None);
        for (i, mode) in [Mode::LifecycleOnly, Mode::AllSyscalls]
            .into_iter()
            .enumerate()
        {
            let ops = median(on[i].iter().map(|r| r.0).collect());
            let cpu = median(on[i].iter().map(|r| r.1).collect());
            let evs = median(on[i].iter().map(|r| r.2).collect());
            let lost: u64 = on[i].iter().map(|r| r.3).sum();
            print_row(kind, mode.name(), ops, base, Some((cpu, evs as u64, lost)));
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        0.0
    } else {
        v[v.len() / 2]
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    LifecycleOnly,
    AllSyscalls,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::LifecycleOnly => "lifecycle-only",
            Mode::AllSyscalls => "all-syscalls",
        }
    }
}

fn print_row(kind: &str, mode: &str, ops: f64, base: f64, s: Option<(f64, u64, u64)>) {
    let (cpu, ev, lost) = match s {
        Some((c, e, l)) => (format!("{:.1}", c * 100.0), e.to_string(), l.to_string()),
        None => ("-".into(), "-".into(), "-".into()),
    };
    println!(
        "{:<12} {:<16} {:>12.0} {:>6.2}x {:>10} {:>12} {:>10}",
        kind,
        mode,
        ops,
        ops / base,
        cpu,
        ev,
        lost
    );
}

fn spawn_workers(kind: &str, secs: f64) -> Vec<std::process::Child> {
    let exe = std::env::current_exe().expect("current_exe");
    (0..WORKERS)
        .map(|_| {
            Command::new(&exe)
                .args(["--worker", kind, &secs.to_string()])
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn worker")
        })
        .collect()
}

fn collect_ops(children: Vec<std::process::Child>, secs: f64) -> f64 {
    let mut total = 0u64;
    for c in children {
        let out = c.wait_with_output().expect("worker");
        total += String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<u64>()
            .unwrap_or(0);
    }
    total as f64 / secs
}

fn run_workers(kind: &str, secs: f64) -> f64 {
    collect_ops(spawn_workers(kind, secs), secs)
}

fn cpu_time() -> f64 {
    let mut ru: libc::rusage = unsafe_zeroed_rusage();
    // SAFETY: ru is a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

fn unsafe_zeroed_rusage() -> libc::rusage {
    // SAFETY: rusage is a plain C struct of integers, for which all-zero is valid.
    unsafe { std::mem::zeroed() }
}

fn with_sensor(sensor: &mut Sensor, kind: &str, secs: f64) -> (f64, f64, u64) {
    // Drain whatever the setup produced, then measure.
    let _ = sensor.poll(Duration::from_millis(10), |_| {});
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let mut children = spawn_workers(kind, secs);
    let mut events = 0u64;
    loop {
        sensor
            .poll(Duration::from_millis(20), |ev| {
                events += 1;
                std::hint::black_box(ev);
            })
            .expect("poll");
        if children
            .iter_mut()
            .all(|c| matches!(c.try_wait(), Ok(Some(_))))
        {
            break;
        }
    }
    let _ = sensor.poll(Duration::from_millis(10), |_| events += 1);
    let wall = t0.elapsed().as_secs_f64();
    let cpu = (cpu_time() - cpu0) / wall;
    let ops = collect_ops(children, secs);
    (ops, cpu, events)
}

fn worker(kind: &str, d: Duration) -> u64 {
    let end = Instant::now() + d;
    let mut n = 0u64;
    match kind {
        "open-close" => {
            let path = c"/etc/hostname";
            while Instant::now() < end {
                for _ in 0..256 {
                    // SAFETY: path is a valid NUL-terminated string; the fd is closed at once.
                    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) };
                    if fd >= 0 {
                        // SAFETY: fd was just returned by open.
                        unsafe { libc::close(fd) };
                    }
                    n += 1;
                }
            }
        }
        "fork-exec" => {
            while Instant::now() < end {
                if Command::new("/bin/true").status().is_ok() {
                    n += 1;
                }
            }
        }
        "connect" => {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind");
            let addr = l.local_addr().expect("addr");
            std::thread::spawn(move || {
                for s in l.incoming().flatten() {
                    drop(s);
                }
            });
            while Instant::now() < end {
                if let Ok(mut s) = TcpStream::connect(addr) {
                    let _ = s.write_all(b"x");
                    let mut b = [0u8; 1];
                    let _ = s.read(&mut b);
                    n += 1;
                }
            }
        }
        other => {
            eprintln!("unknown worker {other}");
        }
    }
    n
}
