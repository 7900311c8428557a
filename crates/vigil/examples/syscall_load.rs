//! A syscall-heavy workload for overhead measurements: runs one loop kind on N threads for a
//! fixed time and prints operations per second. Used by `bench/monitor-overhead.sh`, which
//! runs it with and without `vigil monitor` and reports the ratio.
//!
//! Loops: `open` (open+close of a file), `exec` (fork+exec of /bin/true), `connect` (TCP
//! connect to a loopback listener, then close).
//!
//! Usage: `syscall_load KIND [WORKERS] [SECONDS] [procs|threads]`. Workers are processes by
//! default: threads of one process share its descriptor table, and two threads opening and
//! closing files contend on the table's lock, so the lock (how often the two collide) rather
//! than the syscalls sets the pace, and that varies by tens of percent between runs.

use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kind = args
        .get(1)
        .map(String::as_str)
        .unwrap_or("open")
        .to_string();
    let threads: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2);
    let secs: f64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    if !matches!(kind.as_str(), "open" | "exec" | "connect") {
        eprintln!("unknown loop '{kind}' (open, exec, connect)");
        std::process::exit(2);
    }
    let mode = args.get(4).map(String::as_str).unwrap_or("procs");
    if !matches!(mode, "procs" | "threads") {
        eprintln!("unknown worker kind '{mode}' (procs, threads)");
        std::process::exit(2);
    }
    if mode == "procs" && threads > 1 {
        // One single-threaded copy of this program per worker; the rates add up.
        let me = std::env::current_exe().expect("own path");
        let children: Vec<_> = (0..threads)
            .map(|_| {
                Command::new(&me)
                    .args([kind.as_str(), "1", &secs.to_string(), "procs"])
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .expect("start a worker process")
            })
            .collect();
        let mut total = 0.0;
        for c in children {
            let out = c.wait_with_output().expect("worker output");
            let text = String::from_utf8_lossy(&out.stdout);
            let rate: f64 = text
                .split_whitespace()
                .nth(2)
                .and_then(|r| r.parse().ok())
                .unwrap_or_else(|| panic!("worker printed {text:?}"));
            total += rate;
        }
        println!("{kind} {threads} {total:.0}");
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let listener = if kind == "connect" {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = l.local_addr().expect("listener address");
        let stop2 = stop.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                drop(s);
                if stop2.load(Ordering::Relaxed) {
                    break;
                }
            }
        });
        Some(addr)
    } else {
        None
    };
    let path = std::env::temp_dir().join(format!("vigil-load-{}", std::process::id()));
    std::fs::write(&path, b"x").expect("create load file");
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..threads {
        let (stop, ops, kind, path) = (stop.clone(), ops.clone(), kind.clone(), path.clone());
        handles.push(std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                match kind.as_str() {
                    "open" => {
                        for _ in 0..64 {
                            drop(std::fs::File::open(&path).expect("open"));
                        }
                        n += 64;
                    }
                    "exec" => {
                        Command::new("/bin/true").status().expect("exec /bin/true");
                        n += 1;
                    }
                    _ => {
                        // The server closes first (the client waits for its EOF), so the
                        // TIME_WAIT state stays on the server side and the client does not
                        // run out of ephemeral ports. Refused connects are not counted.
                        let addr = listener.expect("listener");
                        for _ in 0..16 {
                            if let Ok(mut s) = TcpStream::connect(addr) {
                                let mut b = [0u8; 1];
                                let _ = std::io::Read::read(&mut s, &mut b);
                                n += 1;
                            }
                        }
                    }
                }
            }
            ops.fetch_add(n, Ordering::Relaxed);
        }));
    }
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    if let Some(addr) = listener {
        let _ = TcpStream::connect(addr);
    }
    for h in handles {
        h.join().expect("worker");
    }
    let el = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    println!(
        "{kind} {threads} {:.0}",
        ops.load(Ordering::Relaxed) as f64 / el
    );
}
