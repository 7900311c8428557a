//! Delivery through the real `vigil monitor` (live sensor, config file, webhook output with an
//! on-disk spill): alerts raised while the webhook receiver is down are spilled; vigil is then
//! killed with SIGKILL in the middle of the outage (no shutdown, no flush), started again on
//! the same configuration, and once the receiver is back every alert arrives.
//!
//! This is the agent-restart half of the fault test with the binary users run; the
//! library-level fault tests (`crates/vigil-output/tests/faults.rs`) cover the 30 s outage of
//! NATS and the webhook under a steady stream. Needs root and BTF for the sensor; skips loudly
//! otherwise.

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

/// A minimal HTTP/1.1 receiver on a fixed port that records POST bodies.
struct Receiver {
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
    run: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start(port: u16) -> Receiver {
        let l = TcpListener::bind(("127.0.0.1", port)).expect("bind receiver");
        l.set_nonblocking(true).unwrap();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let run = Arc::new(AtomicBool::new(true));
        let (b, r) = (bodies.clone(), run.clone());
        let thread = std::thread::spawn(move || {
            while r.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((s, _)) => {
                        let (b, r) = (b.clone(), r.clone());
                        std::thread::spawn(move || serve(s, b, r));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Receiver {
            bodies,
            run,
            thread: Some(thread),
        }
    }

    fn fd_names(&self) -> BTreeSet<String> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .filter_map(|b| serde_json::from_slice::<Value>(b).ok())
            .filter_map(|v| v["output_fields"]["fd.name"].as_str().map(String::from))
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.run.store(false, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(s: TcpStream, bodies: Arc<Mutex<Vec<Vec<u8>>>>, run: Arc<AtomicBool>) {
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    while run.load(Ordering::Relaxed) {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) => {}
            Err(_) if line.is_empty() => continue,
            Err(_) => return,
        }
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        bodies.lock().unwrap().push(body);
        let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
}

/// Starts `vigil monitor -c cfg` and waits until it says it is monitoring.
fn start_vigil(cfg: &Path, tag: &'static str) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["monitor", "--stats-interval", "0", "-c"])
        .arg(cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vigil");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut ready = false;
    for l in lines.by_ref().map_while(Result::ok) {
        eprintln!("[vigil {tag}] {l}");
        if l.contains("monitoring") {
            ready = true;
            break;
        }
    }
    assert!(ready, "vigil monitor ({tag}) did not start");
    std::thread::spawn(move || {
        lines
            .map_while(Result::ok)
            .for_each(|l| eprintln!("[vigil {tag}] {l}"))
    });
    child
}

fn metric(port: u16, prefix: &str) -> u64 {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn sigkill_during_webhook_outage_then_restart_delivers_spilled_alerts() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || !Path::new("/sys/kernel/btf/vmlinux").exists() {
        eprintln!("SKIP: sigkill_during_webhook_outage: needs root and BTF for vigil monitor");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let marks = dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let n = 40;
    let files: Vec<_> = (0..n).map(|i| marks.join(format!("m-{i:03}"))).collect();
    for f in &files {
        std::fs::write(f, b"x").unwrap();
    }
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        format!(
            "- rule: Delivery marker opened\n  desc: d\n  condition: evt.type in (open, openat, openat2) and evt.dir = < and fd.name startswith {}/m-\n  output: opened %fd.name by %proc.name\n  priority: WARNING\n",
            marks.display()
        ),
    )
    .unwrap();
    let hook_port = free_port();
    let metrics_port = free_port();
    let cfg = dir.path().join("vigil.yaml");
    std::fs::write(
        &cfg,
        format!(
            "rules_files: [{}]\nspill: {{dir: {}, fsync: always}}\nmetrics: {{enabled: true, listen: '127.0.0.1:{metrics_port}'}}\noutputs:\n  - webhook: {{url: 'http://127.0.0.1:{hook_port}/alerts', timeout: 1s}}\n    retry: {{initial_backoff: 100ms, max_backoff: 500ms}}\n",
            rules.display(),
            dir.path().join("spill").display()
        ),
    )
    .unwrap();

    // Outage: nothing listens on the webhook port. Raise the alerts, wait until vigil has
    // put every one of them in the spill, then kill it without warning.
    let mut first = start_vigil(&cfg, "1");
    for f in &files {
        let _ = std::fs::read(f);
        std::thread::sleep(Duration::from_millis(20));
    }
    let spilled = "vigil_output_spilled_total{output=\"webhook\"";
    assert!(
        wait_until(Duration::from_secs(30), || metric(metrics_port, spilled)
            >= n as u64),
        "vigil did not spill the alerts: {} of {n}",
        metric(metrics_port, spilled)
    );
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();

    // Restart vigil on the same configuration, then bring the receiver back.
    let mut second = start_vigil(&cfg, "2");
    std::thread::sleep(Duration::from_secs(2));
    let rx = Receiver::start(hook_port);
    let want: BTreeSet<String> = files.iter().map(|f| f.display().to_string()).collect();
    let ok = wait_until(Duration::from_secs(60), || want.is_subset(&rx.fd_names()));
    let got = rx.fd_names();
    assert!(
        ok,
        "after SIGKILL and restart the receiver got {} of {n}; missing {:?}",
        got.intersection(&want).count(),
        want.difference(&got).collect::<Vec<_>>()
    );
    for b in rx.bodies.lock().unwrap().iter() {
        let v: Value = serde_json::from_slice(b).expect("Falco JSON body");
        assert_eq!(v["rule"], "Delivery marker opened", "{v}");
    }
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(second.id() as i32, libc::SIGTERM) };
    assert!(second.wait().unwrap().success());
}
