//! End-to-end tests of `vigil monitor`: the real binary, the real eBPF sensor, real podman
//! containers (runc) from the locally built Debian image, and the embedded default rules.
//!
//! Needs root, BTF and podman; without them every test prints `SKIP:` and returns. The image
//! is built by `scripts/test-image.sh` (run by `scripts/test.sh` before `cargo test`).
//! Monitors are serialized by a global lock: two sensors at once would only slow each other.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

const IMAGE: &str = "localhost/vigil-test-debian";
static SERIAL: Mutex<()> = Mutex::new(());
static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why the live tests cannot run here, if they cannot.
fn skip_reason(need_podman: bool) -> Option<String> {
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

macro_rules! require {
    ($podman:expr) => {
        if let Some(why) = skip_reason($podman) {
            eprintln!("SKIP: {}: {why}", module_path!());
            return;
        }
    };
}

fn unique(prefix: &str) -> String {
    format!(
        "vigil-e2e-{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A running `vigil monitor --json` whose alerts are collected in the background.
struct Monitor {
    child: Child,
    alerts: Arc<Mutex<Vec<Value>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Monitor {
    fn start(extra: &[&str]) -> Monitor {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .arg("monitor")
            .args(["--json", "--no-metrics"])
            .args(if extra.contains(&"--stats-interval") {
                &[][..]
            } else {
                &["--stats-interval", "5"][..]
            })
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start vigil monitor");
        let alerts = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let a = alerts.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => a.lock().unwrap().push(v),
                    Err(e) => panic!("monitor printed a non-JSON line ({e}): {line}"),
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
        let m = Monitor {
            child,
            alerts,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if m.stderr
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains("monitoring"))
            {
                return m;
            }
            if let Ok(Some(status)) = Self::try_wait(&m.child) {
                panic!(
                    "vigil monitor exited early: {status}; stderr: {:?}",
                    m.stderr.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "vigil monitor not ready after 60 s; stderr: {:?}",
            m.stderr.lock().unwrap()
        );
    }

    fn try_wait(child: &Child) -> std::io::Result<Option<std::process::ExitStatus>> {
        // `Child::try_wait` needs `&mut`; peek through /proc instead to keep `&self`.
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id()))?;
        if stat.contains(") Z ") {
            return Ok(Some(std::process::ExitStatus::default()));
        }
        Ok(None)
    }

    /// Waits until an alert of `rule` satisfying `pred` arrives; returns it.
    fn expect(&self, rule: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(a) = self
                .alerts
                .lock()
                .unwrap()
                .iter()
                .find(|a| a["rule"] == rule && pred(a))
            {
                return a.clone();
            }
            if Instant::now() > deadline {
                let got: Vec<String> = self
                    .alerts
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|a| format!("{} | {}", a["rule"], a["output"]))
                    .collect();
                panic!(
                    "no alert '{rule}' matching within {timeout:?}; alerts so far:\n{}",
                    got.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn alerts_for_container(&self, name: &str) -> Vec<Value> {
        self.alerts
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a["output_fields"]["container.name"] == name)
            .cloned()
            .collect()
    }

    fn stop(mut self) -> Vec<String> {
        // SAFETY: kill with a valid pid of our own child and a valid signal number.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().expect("wait for vigil");
        assert!(
            status.success(),
            "vigil monitor exit status after SIGTERM: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
        let lines = self.stderr.lock().unwrap().clone();
        assert!(
            lines.iter().any(|l| l.contains("final")),
            "no final counters on shutdown: {lines:?}"
        );
        lines
    }
}

fn podman_run(name: &str, opts: &[&str], cmd: &[&str]) -> std::process::Output {
    let out = Command::new("podman")
        .args(["run", "--rm", "--name", name])
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

fn in_container(a: &Value, name: &str) -> bool {
    a["output_fields"]["container.name"] == name
}

fn assert_container_metadata(a: &Value, name: &str) {
    let f = &a["output_fields"];
    assert_eq!(f["container.name"], name, "{a}");
    assert_eq!(f["container.image.repository"], IMAGE, "{a}");
    let id = f["container.id"].as_str().unwrap_or_default();
    assert!(
        id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "container.id: {a}"
    );
}

#[test]
fn container_threats_raise_default_rule_alerts() {
    require!(true);
    let _g = serial();
    let m = Monitor::start(&[]);
    let t = Duration::from_secs(20);

    let c = unique("shell");
    podman_run(
        &c,
        &["--network=none"],
        &[
            "python3",
            "-c",
            "import subprocess; subprocess.run(['sh', '-c', 'true'])",
        ],
    );
    let a = m.expect("Shell spawned in container", t, |a| in_container(a, &c));
    assert_container_metadata(&a, &c);
    assert_eq!(a["output_fields"]["proc.pname"], "python3", "{a}");

    let c = unique("shadow");
    podman_run(&c, &["--network=none"], &["cat", "/etc/shadow"]);
    let a = m.expect("Password database or sudo configuration read", t, |a| {
        in_container(a, &c)
    });
    assert_eq!(a["output_fields"]["fd.name"], "/etc/shadow", "{a}");
    assert_container_metadata(&a, &c);

    let c = unique("binwrite");
    podman_run(&c, &["--network=none"], &["touch", "/bin/evil"]);
    let a = m.expect("Write below binary directory in container", t, |a| {
        in_container(a, &c)
    });
    // The kernel resolves /bin (a symlink to usr/bin on merged-/usr systems).
    assert!(
        a["output_fields"]["fd.name"]
            .as_str()
            .is_some_and(|n| n.ends_with("/bin/evil")),
        "{a}"
    );

    let c = unique("symlink");
    podman_run(
        &c,
        &["--network=none"],
        &["ln", "-s", "/etc/shadow", "/tmp/innocent"],
    );
    let a = m.expect("Symlink or hardlink over sensitive file", t, |a| {
        in_container(a, &c)
    });
    assert_eq!(a["output_fields"]["evt.arg.target"], "/etc/shadow", "{a}");

    let c = unique("dropped");
    podman_run(
        &c,
        &["--network=none"],
        &["sh", "-c", "cp /bin/true /opt/dropped && /opt/dropped"],
    );
    let a = m.expect("Dropped binary executed in container", t, |a| {
        in_container(a, &c)
    });
    assert_eq!(a["output_fields"]["proc.exepath"], "/opt/dropped", "{a}");

    let c = unique("memfd");
    let memfd = "import os\nfd = os.memfd_create('payload')\nos.write(fd, open('/bin/true', 'rb').read())\nos.execv('/proc/self/fd/%d' % fd, ['payload'])";
    podman_run(&c, &["--network=none"], &["python3", "-c", memfd]);
    m.expect("Fileless execution from memory", t, |a| in_container(a, &c));

    let c = unique("ptrace");
    let ptrace = "import ctypes, os, time\nlibc = ctypes.CDLL(None, use_errno=True)\npid = os.fork()\nif pid == 0:\n    time.sleep(5)\n    os._exit(0)\ntime.sleep(0.2)\nr = libc.ptrace(16, pid, None, None)\nprint('attach', r, ctypes.get_errno())\nos.kill(pid, 9)";
    podman_run(&c, &["--network=none"], &["python3", "-c", ptrace]);
    let a = m.expect("Process attached to another with ptrace", t, |a| {
        in_container(a, &c)
    });
    assert_container_metadata(&a, &c);

    let listener = TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2");
    let port = listener.local_addr().unwrap().port();
    let c = unique("connect");
    let script = format!("exec 3<>/dev/tcp/127.0.0.2/{port}; echo hi >&3");
    podman_run(&c, &["--network=host"], &["bash", "-c", &script]);
    let a = m.expect(
        "Outbound connection by system utility in container",
        t,
        |a| in_container(a, &c),
    );
    assert_eq!(a["output_fields"]["fd.sip"], "127.0.0.2", "{a}");
    assert_eq!(a["output_fields"]["fd.sport"], port as u64, "{a}");
    drop(listener);

    m.stop();
}

#[test]
fn host_threats_raise_alerts() {
    require!(false);
    let _g = serial();
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/host_rules.yaml");
    let m = Monitor::start(&["--with-defaults", "-r", rules]);
    let t = Duration::from_secs(20);
    let dir = tempfile::tempdir().unwrap();
    let tag = dir
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();

    Command::new("cat").arg("/etc/shadow").output().unwrap();
    let a = m.expect("Password database or sudo configuration read", t, |a| {
        a["output_fields"]["proc.name"] == "cat" && a["output_fields"]["container.id"] == "host"
    });
    assert_eq!(a["output_fields"]["fd.name"], "/etc/shadow");

    let link = dir.path().join("sh");
    Command::new("ln")
        .arg("-s")
        .arg("/etc/shadow")
        .arg(&link)
        .output()
        .unwrap();
    m.expect("Symlink or hardlink over sensitive file", t, |a| {
        a["output_fields"]["evt.arg.linkpath"]
            .as_str()
            .is_some_and(|p| p.contains(&tag))
    });

    let bin = format!("/usr/local/bin/vigil-e2e-{tag}");
    Command::new("touch").arg(&bin).output().unwrap();
    m.expect("E2E host write below binary dir", t, |a| {
        a["output_fields"]["fd.name"] == bin.as_str()
    });
    let _ = std::fs::remove_file(&bin);

    let tmpbin = format!("/tmp/vigil-e2e-{tag}");
    std::fs::copy("/bin/true", &tmpbin).unwrap();
    Command::new(&tmpbin).output().unwrap();
    m.expect("Execution from temporary directory", t, |a| {
        a["output_fields"]["proc.exepath"] == tmpbin.as_str()
    });
    let _ = std::fs::remove_file(&tmpbin);

    let memfd = "import os\nfd = os.memfd_create('payload')\nos.write(fd, open('/bin/true', 'rb').read())\nos.execv('/proc/self/fd/%d' % fd, ['payload'])";
    Command::new("python3")
        .arg("-c")
        .arg(memfd)
        .output()
        .unwrap();
    m.expect("Fileless execution from memory", t, |a| {
        a["output_fields"]["container.id"] == "host"
    });

    let ptrace = "import ctypes, os, time\nlibc = ctypes.CDLL(None, use_errno=True)\npid = os.fork()\nif pid == 0:\n    time.sleep(5)\n    os._exit(0)\ntime.sleep(0.2)\nlibc.ptrace(16, pid, None, None)\nos.kill(pid, 9)";
    let child = Command::new("python3")
        .arg("-c")
        .arg(ptrace)
        .output()
        .unwrap();
    assert!(child.status.success());
    m.expect("Process attached to another with ptrace", t, |a| {
        a["output_fields"]["proc.name"] == "python3"
    });

    let listener = TcpListener::bind("127.0.0.3:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!("exec 3<>/dev/tcp/127.0.0.3/{port}");
    Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let a = m.expect("E2E host outbound connect", t, |a| {
        a["output_fields"]["fd.sport"] == port as u64
    });
    assert_eq!(a["output_fields"]["fd.sip"], "127.0.0.3");
    drop(listener);

    m.stop();
}

#[test]
fn benign_container_activity_raises_no_warning() {
    require!(true);
    let _g = serial();
    let m = Monitor::start(&[]);
    let c = unique("benign");
    // A web server serving files, requests to it, listing, reading its own config, and a
    // compiler build: what an ordinary container does.
    let script = "mkdir -p /srv/www && echo hello > /srv/www/index.html && \
        printf 'listen=8080\\n' > /srv/app.conf && cat /srv/app.conf && ls -la /srv && \
        (busybox httpd -f -p 127.0.0.1:18080 -h /srv/www & ) && sleep 0.5 && \
        busybox wget -q -O - http://127.0.0.1:18080/index.html && \
        printf 'int main(void){return 0;}\\n' > /tmp/m.c && gcc -O2 -o /tmp/m /tmp/m.c && \
        echo built";
    let out = podman_run(&c, &["--network=none"], &["sh", "-c", script]);
    assert!(out.status.success(), "benign workload failed");
    std::thread::sleep(Duration::from_secs(3));
    let noisy: Vec<Value> = m
        .alerts_for_container(&c)
        .into_iter()
        .filter(|a| {
            matches!(
                a["priority"].as_str(),
                Some("Emergency" | "Alert" | "Critical" | "Error" | "Warning")
            )
        })
        .collect();
    assert!(
        noisy.is_empty(),
        "benign activity raised alerts: {noisy:#?}"
    );
    m.stop();
}

#[test]
fn upstream_falco_rules_fire_on_live_actions() {
    require!(true);
    let corpus = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/falco-rules"
    );
    if !std::path::Path::new(corpus).exists() {
        panic!("../shared/corpus/falco-rules is missing beside the checkout");
    }
    let _g = serial();
    let files: Vec<String> = [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ]
    .iter()
    .map(|f| format!("{corpus}/{f}"))
    .collect();
    let m = Monitor::start(&[
        "--all-matches",
        "-r",
        &files[0],
        "-r",
        &files[1],
        "-r",
        &files[2],
    ]);
    let t = Duration::from_secs(20);

    let c = unique("up-shadow");
    podman_run(&c, &["--network=none"], &["cat", "/etc/shadow"]);
    let a = m.expect("Read sensitive file untrusted", t, |a| in_container(a, &c));
    assert_eq!(a["output_fields"]["fd.name"], "/etc/shadow", "{a}");
    assert_container_metadata(&a, &c);

    let c = unique("up-symlink");
    podman_run(
        &c,
        &["--network=none"],
        &["ln", "-s", "/etc/shadow", "/tmp/innocent"],
    );
    m.expect("Create Symlink Over Sensitive Files", t, |a| {
        in_container(a, &c)
    });

    let c = unique("up-drop");
    podman_run(
        &c,
        &["--network=none"],
        &["sh", "-c", "cp /bin/true /opt/dropped && /opt/dropped"],
    );
    m.expect("Drop and execute new binary in container", t, |a| {
        in_container(a, &c)
    });

    let c = unique("up-memfd");
    let memfd = "import os\nfd = os.memfd_create('payload')\nos.write(fd, open('/bin/true', 'rb').read())\nos.execv('/proc/self/fd/%d' % fd, ['payload'])";
    podman_run(&c, &["--network=none"], &["python3", "-c", memfd]);
    m.expect("Fileless execution via memfd_create", t, |a| {
        in_container(a, &c)
    });

    let c = unique("up-ptrace");
    let ptrace = "import ctypes, os, time\nlibc = ctypes.CDLL(None, use_errno=True)\npid = os.fork()\nif pid == 0:\n    time.sleep(5)\n    os._exit(0)\ntime.sleep(0.2)\nlibc.ptrace(16, pid, None, None)\nos.kill(pid, 9)";
    podman_run(&c, &["--network=none"], &["python3", "-c", ptrace]);
    m.expect("PTRACE attached to process", t, |a| in_container(a, &c));

    let c = unique("up-shm");
    // podman mounts /dev/shm noexec; give this container an executable one.
    podman_run(
        &c,
        &["--network=none", "--tmpfs", "/dev/shm:rw,exec"],
        &["sh", "-c", "cp /bin/true /dev/shm/x && /dev/shm/x"],
    );
    m.expect("Execution from /dev/shm", t, |a| in_container(a, &c));

    let c = unique("up-keys");
    podman_run(
        &c,
        &["--network=none"],
        &["find", "/root", "-name", "id_rsa"],
    );
    m.expect("Search Private Keys or Passwords", t, |a| {
        in_container(a, &c)
    });

    m.stop();
}

#[test]
fn sighup_reloads_rules_and_keeps_old_ones_on_error() {
    require!(false);
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("reload.yaml");
    let marker_a = dir.path().join("first-marker");
    let marker_b = dir.path().join("second-marker");
    let rule = |name: &str, marker: &std::path::Path| {
        format!(
            "- rule: {name}\n  desc: reload test\n  condition: evt.type in (open, openat, openat2) and fd.name = {}\n  output: opened %fd.name\n  priority: NOTICE\n",
            marker.display()
        )
    };
    std::fs::write(&rules, rule("Reload first", &marker_a)).unwrap();
    let m = Monitor::start(&["-r", rules.to_str().unwrap()]);
    let t = Duration::from_secs(15);
    let _ = std::fs::read(&marker_a);
    std::fs::write(&marker_a, b"x").unwrap();
    let _ = std::fs::read(&marker_a);
    m.expect("Reload first", t, |_| true);

    // A broken file: the reload is refused and the old rule keeps working.
    std::fs::write(&rules, "- rule: broken\n  condition: (evt.type = open\n").unwrap();
    // SAFETY: kill with our child's pid and a valid signal.
    unsafe { libc::kill(m.child.id() as i32, libc::SIGHUP) };
    let deadline = Instant::now() + t;
    while !m
        .stderr
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("reload failed"))
    {
        assert!(Instant::now() < deadline, "no 'reload failed' message");
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = m.alerts.lock().unwrap().len();
    let _ = std::fs::read(&marker_a);
    let deadline = Instant::now() + t;
    while m.alerts.lock().unwrap().len() == before {
        assert!(
            Instant::now() < deadline,
            "old rule stopped working after a failed reload"
        );
        std::thread::sleep(Duration::from_millis(100));
        let _ = std::fs::read(&marker_a);
    }

    // A good file: the new rule replaces the old one.
    std::fs::write(&rules, rule("Reload second", &marker_b)).unwrap();
    std::fs::write(&marker_b, b"x").unwrap();
    // SAFETY: as above.
    unsafe { libc::kill(m.child.id() as i32, libc::SIGHUP) };
    let deadline = Instant::now() + t;
    while !m
        .stderr
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("reloaded"))
    {
        assert!(Instant::now() < deadline, "no 'reloaded' message");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::fs::read(&marker_b);
    m.expect("Reload second", t, |_| true);
    m.stop();
}

#[test]
fn lost_events_are_counted_and_alerted() {
    require!(false);
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("opens.yaml");
    std::fs::write(
        &rules,
        "- rule: Any open\n  desc: every open\n  condition: evt.type in (open, openat, openat2)\n  output: open %fd.name\n  priority: DEBUG\n",
    )
    .unwrap();
    let m = Monitor::start(&[
        "-r",
        rules.to_str().unwrap(),
        "--ring-buffer-mb",
        "1",
        "--stats-interval",
        "1",
        "--min-priority",
        "debug",
    ]);
    // Freeze the monitor so the 1 MiB ring buffer overflows for certain, then let it go.
    // SAFETY: signals to our own child.
    unsafe { libc::kill(m.child.id() as i32, libc::SIGSTOP) };
    let file = dir.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let until = Instant::now() + Duration::from_millis(1500);
    let mut opens = 0u64;
    while Instant::now() < until {
        drop(std::fs::File::open(&file).unwrap());
        opens += 1;
    }
    // SAFETY: as above.
    unsafe { libc::kill(m.child.id() as i32, libc::SIGCONT) };
    assert!(
        opens > 20_000,
        "only {opens} opens: the load is too light to overflow the buffer"
    );
    let a = m.expect(
        "vigil internal: event drop",
        Duration::from_secs(15),
        |_| true,
    );
    assert_eq!(a["source"], "internal", "{a}");
    let lost = a["output_fields"]["n_drops_kernel_syscall"]
        .as_u64()
        .unwrap_or(0);
    assert!(lost > 0, "drop alert without kernel drops: {a}");
    let lines = m.stop();
    let fin = lines
        .iter()
        .find(|l| l.contains("final:"))
        .expect("final line");
    assert!(
        !fin.contains("dropped 0 "),
        "final counters report no drops: {fin}"
    );
}

/// Start-up failures are one clear sentence and a non-zero exit, never a panic.
#[test]
fn startup_failures_are_explained() {
    require!(false);
    let _g = serial();
    // Not root: drop to nobody with no capabilities.
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_vigil"))
        .args(["monitor", "--no-metrics"])
        .output()
        .expect("run setpriv");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "monitor ran without privileges: {err}"
    );
    assert!(
        err.contains("root") || err.contains("CAP_BPF"),
        "unclear message without privileges: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // No BTF: a missing file is named.
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["monitor", "--no-metrics", "--btf", "/nonexistent/vmlinux"])
        .output()
        .expect("run vigil");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "monitor ran without BTF: {err}");
    assert!(
        err.contains("/nonexistent/vmlinux") && err.contains("BTF"),
        "unclear message without BTF: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // A rules file with an error: file, line and column.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "- rule: x\n  desc: d\n  condition: proc.nmae = bash\n  output: o\n  priority: WARNING\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["monitor", "--no-metrics", "-r"])
        .arg(&bad)
        .output()
        .expect("run vigil");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("bad.yaml:3:"), "no location in: {err}");
}

/// `vigil monitor -c vigil.yaml`: alerts reach every configured output, the JSON Lines file
/// byte-for-byte equal to the stdout JSON, and /metrics counts the rule's matches.
#[test]
fn config_file_outputs_and_metrics() {
    require!(false);
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("marker");
    std::fs::write(&marker, b"x").unwrap();
    let rules = dir.path().join("r.yaml");
    std::fs::write(
        &rules,
        format!(
            "- rule: Marker opened\n  desc: d\n  condition: evt.type in (open, openat, openat2) and fd.name = {}\n  output: opened %fd.name by %proc.name\n  priority: WARNING\n",
            marker.display()
        ),
    )
    .unwrap();
    let alerts_file = dir.path().join("alerts.jsonl");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.path().join("vigil.yaml");
    std::fs::write(
        &cfg,
        format!(
            "rules_files: [{}]\noutputs:\n  - stdout: {{format: json}}\n  - file: {{path: {}}}\nmetrics:\n  enabled: true\n  listen: 127.0.0.1:{port}\n",
            rules.display(),
            alerts_file.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["monitor", "--stats-interval", "0", "-c"])
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = BufReader::new(child.stderr.take().unwrap());
    let mut ready = false;
    let mut lines = err.lines();
    for l in lines.by_ref().map_while(Result::ok) {
        eprintln!("[vigil] {l}");
        if l.contains("monitoring") {
            ready = true;
            break;
        }
    }
    assert!(ready, "monitor did not start");
    std::thread::spawn(move || {
        lines
            .map_while(Result::ok)
            .for_each(|l| eprintln!("[vigil] {l}"))
    });
    let _ = std::fs::read(&marker);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["rule"], "Marker opened");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let file = std::fs::read_to_string(&alerts_file).unwrap_or_default();
        if !file.is_empty() {
            assert_eq!(
                file.lines().next().unwrap(),
                line.trim_end(),
                "file and stdout JSON differ"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "alert never reached the file output"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let metrics = http_get(port, "/metrics");
    assert!(
        metrics.contains("falcosecurity_falco_rules_matches_total")
            && metrics.contains("Marker opened"),
        "rule matches not in /metrics"
    );
    let health = http_get(port, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "unhealthy: {health}");
    // SAFETY: signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
}

fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    buf
}

/// `vigil monitor --policy`: policies are applied to a container as it appears, a denied exec
/// is killed in the kernel, and the action reaches the pipeline as an alert.
#[test]
fn monitor_applies_policies_to_new_containers() {
    require!(true);
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let pol = dir.path().join("policy.yaml");
    std::fs::write(
        &pol,
        format!(
            "policies:\n  - name: no-netcat\n    mode: enforce\n    scope:\n      images: [\"{IMAGE}\"]\n    exec:\n      deny: [\"/usr/bin/nc*\", \"/bin/nc*\"]\n"
        ),
    )
    .unwrap();
    let m = Monitor::start(&["--policy", pol.to_str().unwrap()]);
    let c = unique("policy");
    // The first exec makes the container known; the policy is in place a moment later.
    let out = podman_run(
        &c,
        &["--network=none"],
        &[
            "sh",
            "-c",
            "sleep 4; nc -h; echo rc=$?; ls / > /dev/null && echo ls-ok",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("rc=137"), "nc was not killed: {stdout}");
    assert!(
        stdout.contains("ls-ok"),
        "an allowed program did not run: {stdout}"
    );
    let a = m.expect("vigil response", Duration::from_secs(10), |a| {
        a["output_fields"]["container.name"] == c.as_str()
    });
    assert_eq!(a["output_fields"]["action"], "exec_denied", "{a}");
    assert_eq!(a["output_fields"]["policy"], "no-netcat", "{a}");
    m.stop();
}
