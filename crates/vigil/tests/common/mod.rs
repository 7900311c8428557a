//! The harness shared by the live end-to-end tests (`monitor_e2e`, `response_e2e`,
//! `rules_live_e2e`, `capture_e2e`): the real `vigil` binary started in the background with its JSON alerts
//! collected, real podman containers (runc) from the locally built Debian test image, the
//! root/BTF/podman checks that make a test print `SKIP:` instead of failing, and the attack
//! scripts more than one test runs.
//!
//! Every test binary compiles this module on its own and uses only part of it, hence the
//! `dead_code` allowance. A dev-only helper crate was the alternative; for a handful of helpers
//! used by this crate's tests alone, a shared module is less machinery.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The test image built by `scripts/test-image.sh`.
pub const IMAGE: &str = "localhost/vigil-test-debian";

static SERIAL: Mutex<()> = Mutex::new(());
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Serializes the live tests of one test binary: two sensors at once only slow each other.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why the live tests cannot run here, if they cannot.
pub fn skip_reason(need_podman: bool) -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Some("no kernel BTF".into());
    }
    if need_podman {
        let ok = Command::new("podman")
            .args(["image", "exists", IMAGE])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            return Some(format!(
                "podman or image {IMAGE} missing (run scripts/test-image.sh)"
            ));
        }
    }
    None
}

/// Returns from the test, loudly, when it cannot run here (`require!(true)` also needs podman).
macro_rules! require {
    ($podman:expr) => {
        if let Some(why) = common::skip_reason($podman) {
            eprintln!("SKIP: {}: {why}", module_path!());
            return;
        }
    };
}
pub(crate) use require;

/// A name no other test run uses (container names, markers).
pub fn unique(prefix: &str) -> String {
    format!(
        "vigil-e2e-{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A `vigil` command running in the background: JSON lines on its stdout are collected as
/// alerts, its stderr lines are echoed (prefixed `[vigil]`) and kept.
pub struct Vigil {
    child: Child,
    alerts: Arc<Mutex<Vec<Value>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Vigil {
    /// `vigil monitor --json --no-metrics` with `extra` arguments (stats every 5 s unless
    /// `extra` sets `--stats-interval`), once it is monitoring.
    pub fn monitor(extra: &[&str]) -> Vigil {
        let mut args = vec!["monitor", "--json", "--no-metrics"];
        if !extra.contains(&"--stats-interval") {
            args.extend(["--stats-interval", "5"]);
        }
        args.extend(extra);
        Vigil::start(&args, "monitoring")
    }

    /// `vigil ARGS`, once a stderr line contains `ready` (panics after 60 s or if it exits).
    pub fn start(args: &[&str], ready: &str) -> Vigil {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start vigil");
        let alerts = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let a = alerts.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => a.lock().unwrap().push(v),
                    Err(e) => panic!("vigil printed a non-JSON line ({e}): {line}"),
                }
            }
        });
        let err = child.stderr.take().unwrap();
        let s = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("[vigil] {line}");
                s.lock().unwrap().push(line);
            }
        });
        let v = Vigil {
            child,
            alerts,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if v.stderr.lock().unwrap().iter().any(|l| l.contains(ready)) {
                return v;
            }
            if v.exited() {
                panic!(
                    "vigil {args:?} exited early; stderr: {:?}",
                    v.stderr.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "vigil {args:?} not ready after 60 s; stderr: {:?}",
            v.stderr.lock().unwrap()
        );
    }

    /// True once the process has exited (`Child::try_wait` would need `&mut self`; a zombie
    /// shows in /proc).
    fn exited(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .map_or(true, |stat| stat.contains(") Z "))
    }

    /// Sends `sig` to the process.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill with the pid of our own child and a signal number from libc.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// A copy of the alerts received so far.
    pub fn alerts(&self) -> Vec<Value> {
        self.alerts.lock().unwrap().clone()
    }

    pub fn alert_count(&self) -> usize {
        self.alerts.lock().unwrap().len()
    }

    /// The alerts received so far from container `name`.
    pub fn alerts_for_container(&self, name: &str) -> Vec<Value> {
        self.alerts
            .lock()
            .unwrap()
            .iter()
            .filter(|a| in_container(a, name))
            .cloned()
            .collect()
    }

    /// Waits until an alert of `rule` satisfying `pred` arrives; `None` after `timeout`.
    pub fn wait_for(
        &self,
        rule: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(a) = self
                .alerts
                .lock()
                .unwrap()
                .iter()
                .find(|a| a["rule"] == rule && pred(a))
            {
                return Some(a.clone());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until an alert of `rule` satisfying `pred` arrives and returns it; panics with
    /// every alert received after `timeout`.
    pub fn expect(&self, rule: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(a) = self.wait_for(rule, timeout, pred) {
            return a;
        }
        panic!(
            "no alert '{rule}' matching within {timeout:?}; alerts so far:\n{}",
            summary(&self.alerts())
        );
    }

    /// Waits until a stderr line contains `needle`; panics after `timeout`.
    pub fn expect_stderr(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self
            .stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(needle))
        {
            assert!(Instant::now() < deadline, "vigil never printed '{needle}'");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the process with SIGTERM; it must exit successfully and print its final counters.
    /// Returns its stderr lines.
    pub fn stop(mut self) -> Vec<String> {
        self.signal(libc::SIGTERM);
        let status = self.child.wait().expect("wait for vigil");
        assert!(
            status.success(),
            "vigil exit status after SIGTERM: {status}"
        );
        // The reader thread may still hold the last lines.
        std::thread::sleep(Duration::from_millis(200));
        let lines = self.stderr.lock().unwrap().clone();
        assert!(
            lines.iter().any(|l| l.contains("final")),
            "no final counters on shutdown: {lines:?}"
        );
        lines
    }
}

/// A test that fails before [`Vigil::stop`] must not leave a sensor running behind it (it
/// would load the machine and see the next tests' events).
impl Drop for Vigil {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `vigil ARGS` to completion; it must succeed.
pub fn run_vigil(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .output()
        .expect("run vigil");
    assert!(
        out.status.success(),
        "vigil {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The JSON alerts a command printed, one per line.
pub fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// An output field as text (`""` when absent or not a string).
pub fn field<'a>(a: &'a Value, name: &str) -> &'a str {
    a["output_fields"][name].as_str().unwrap_or_default()
}

/// One line per alert: rule and output.
pub fn summary(alerts: &[Value]) -> String {
    alerts
        .iter()
        .map(|a| format!("{} | {}", a["rule"], a["output"]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `podman run --rm --name NAME OPTS IMAGE CMD`, waiting for it to finish; its output is
/// printed for the test log.
pub fn podman_run(name: &str, opts: &[&str], cmd: &[&str]) -> Output {
    podman(&["--rm"], name, opts, cmd)
}

fn podman(run_opts: &[&str], name: &str, opts: &[&str], cmd: &[&str]) -> Output {
    let out = Command::new("podman")
        .arg("run")
        .args(run_opts)
        .args(["--name", name])
        .args(opts)
        .arg(IMAGE)
        .args(cmd)
        .output()
        .expect("run podman");
    eprintln!(
        "podman {name}: {} {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Containers a test runs to completion and keeps until this is dropped (also when the test
/// fails): a container removed at once (`--rm`) can be gone before a monitor that lags behind
/// on a busy machine looks its metadata up, and its alerts then carry no name or image.
#[derive(Default)]
pub struct Containers(Vec<String>);

impl Containers {
    /// `podman run --name NAME OPTS IMAGE CMD`, waiting for it to finish.
    pub fn run(&mut self, name: &str, opts: &[&str], cmd: &[&str]) -> Output {
        self.0.push(name.to_string());
        podman(&[], name, opts, cmd)
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let _ = Command::new("podman")
                .args(["rm", "-f"])
                .args(&self.0)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

pub fn in_container(a: &Value, name: &str) -> bool {
    a["output_fields"]["container.name"] == name
}

/// The container fields every alert from a container carries: its name, the test image and a
/// 12-hex-digit id.
pub fn assert_container_metadata(a: &Value, name: &str) {
    let f = &a["output_fields"];
    assert_eq!(f["container.name"], name, "{a}");
    assert_eq!(f["container.image.repository"], IMAGE, "{a}");
    let id = f["container.id"].as_str().unwrap_or_default();
    assert!(
        id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "container.id: {a}"
    );
}

/// A TCP listener on `ip` (loopback) at a port below the ephemeral range, which answers the
/// first connection with `exit` so a reverse shell ends. The reverse-shell rule tells the
/// client end of a connection by its higher (ephemeral) port, so the server's must be lower.
pub fn reverse_shell_listener(ip: &str) -> u16 {
    let l = (20000..32000)
        .find_map(|p| std::net::TcpListener::bind((ip, p)).ok())
        .unwrap_or_else(|| panic!("no free port on {ip} below 32000"));
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut conn, _)) = l.accept() {
            use std::io::Write;
            let _ = conn.write_all(b"exit\n");
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    port
}

/// Python: writes /bin/true into a memfd and executes it (fileless execution).
pub const MEMFD_EXEC_PY: &str = "import os\nfd = os.memfd_create('payload')\nos.write(fd, open('/bin/true', 'rb').read())\nos.execv('/proc/self/fd/%d' % fd, ['payload'])";

/// Python: forks a child and attaches to it with PTRACE_ATTACH, then kills it.
pub const PTRACE_ATTACH_PY: &str = "import ctypes, os, time\nlibc = ctypes.CDLL(None, use_errno=True)\npid = os.fork()\nif pid == 0:\n    time.sleep(5)\n    os._exit(0)\ntime.sleep(0.2)\nr = libc.ptrace(16, pid, None, None)\nprint('attach', r, ctypes.get_errno())\nos.kill(pid, 9)";

/// A plain HTTP GET on loopback (`addr` like `127.0.0.1:9376`); the whole response as text.
pub fn http_get(addr: impl std::net::ToSocketAddrs, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    buf
}
