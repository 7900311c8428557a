//! End-to-end tests of enforcement (issue 8): the real `vigil policy enforce` binary and the
//! `vigil_response` library against real podman containers (`localhost/vigil-test-debian`,
//! built by scripts/test-image.sh), real loopback servers and real unix sockets.
//!
//! Containers are created, then `podman init` (runc's init waits on its exec fifo inside the
//! container's cgroups), then policies are applied to that cgroup, then `podman start`: the
//! entrypoint's first exec is already under the policy. Root, podman and the image are
//! required; without them every test prints SKIP and returns.
//!
//! The `monitor_policy_*` tests run `vigil monitor --json --policy FILE` (the shared harness
//! in `common/mod.rs`) with rule-triggered responses on default rules, and read the response
//! reports from the monitor's own output.

mod common;

use common::{field, require};
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const IMAGE: &str = "localhost/vigil-test-debian";
static SERIAL: Mutex<()> = Mutex::new(());

fn skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: {test}: needs root (eBPF + podman)");
        return true;
    }
    let ok = Command::new("podman")
        .args(["image", "exists", IMAGE])
        .status()
        .map(|s| s.success());
    if !matches!(ok, Ok(true)) {
        eprintln!("SKIP: {test}: podman or image {IMAGE} missing (run scripts/test-image.sh)");
        return true;
    }
    false
}

/// A podman container removed on drop.
struct Ctr(String);

impl Ctr {
    /// `podman create` + `podman init`: cgroup exists, entrypoint not yet run.
    fn init(name: &str, extra: &[&str], cmd: &[&str]) -> Ctr {
        let _ = Command::new("podman").args(["rm", "-f", name]).output();
        let mut args = vec!["create", "--name", name, "--network=host"];
        args.extend_from_slice(extra);
        args.push(IMAGE);
        args.extend_from_slice(cmd);
        let out = Command::new("podman").args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "podman create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new("podman")
            .args(["init", name])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "podman init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ctr(name.to_string())
    }

    /// `podman start -a`: the entrypoint's output and exit code.
    fn start(&self) -> (String, i32) {
        let out = Command::new("podman")
            .args(["start", "-a", &self.0])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        let code = Command::new("podman")
            .args(["inspect", "--format", "{{.State.ExitCode}}", &self.0])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .parse()
                    .unwrap_or(-1)
            })
            .unwrap_or(-1);
        (text, code)
    }

    fn exec(&self, script: &str) -> Output {
        Command::new("podman")
            .args(["exec", &self.0, "bash", "-c", script])
            .output()
            .unwrap()
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["rm", "-f", "-t", "0", &self.0])
            .output();
    }
}

/// `vigil policy enforce` running in the background; reports collected on stop.
struct Enforce {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    /// Lines read while waiting for the policies to be applied.
    head: Vec<String>,
}

impl Enforce {
    fn start(policy: &Path, containers: &[&str], mode: Option<&str>) -> Enforce {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
        cmd.args(["policy", "enforce"]).arg(policy);
        for c in containers {
            cmd.args(["--container", c]);
        }
        if let Some(m) = mode {
            cmd.args(["--mode", m]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut e = Enforce {
            child,
            lines: rx,
            head: Vec::new(),
        };
        // Wait until every container has its policies applied.
        let mut applied = 0;
        let t0 = Instant::now();
        while applied < containers.len() {
            match e.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(l) => {
                    if l.contains("\"applied\"") {
                        applied += 1;
                    }
                    e.head.push(l);
                }
                Err(_) => {
                    let _ = e.child.kill();
                    let mut err = String::new();
                    let _ = e.child.stderr.take().unwrap().read_to_string(&mut err);
                    panic!("enforcer did not apply within {:?}: {err}", t0.elapsed());
                }
            }
        }
        e
    }

    /// SIGTERM, wait, return every report line as JSON.
    fn stop(mut self) -> Vec<serde_json::Value> {
        std::thread::sleep(Duration::from_millis(300)); // let the last reports drain
                                                        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let st = self.child.wait().unwrap();
        assert!(st.success(), "vigil policy enforce exited with {st}");
        let head = std::mem::take(&mut self.head);
        head.into_iter()
            .chain(self.lines.iter())
            .filter_map(|l| serde_json::from_str(&l).ok())
            .collect()
    }
}

fn write_policy(dir: &Path, yaml: &str) -> std::path::PathBuf {
    let p = dir.join("policy.yaml");
    std::fs::write(&p, yaml).unwrap();
    p
}

/// Are any enforcement programs still loaded? Programs are freed asynchronously after the
/// last descriptor closes, so allow a few seconds.
fn ours_loaded() -> bool {
    let t0 = Instant::now();
    loop {
        let out = Command::new("bpftool").args(["prog", "show"]).output();
        let loaded = out
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("vigil_resp_"))
            .unwrap_or(false);
        if !loaded || t0.elapsed() > Duration::from_secs(5) {
            return loaded;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn find<'a>(reports: &'a [serde_json::Value], action: &str) -> Vec<&'a serde_json::Value> {
    reports.iter().filter(|r| r["action"] == action).collect()
}

#[test]
fn denied_exec_is_killed_before_it_runs_and_allowed_exec_runs() {
    if skip("denied_exec_is_killed_before_it_runs_and_allowed_exec_runs") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(
        dir.path(),
        "policies:\n- name: no-netcat\n  mode: enforce\n  scope: {names: ['vr-e2e-exec*']}\n  exec:\n    deny: ['/usr/bin/nc*', '/bin/nc*']\n",
    );
    // The entrypoint itself is the denied program: it must not print a single byte.
    let direct = Ctr::init("vr-e2e-exec-direct", &[], &["nc", "-h"]);
    let shell = Ctr::init(
        "vr-e2e-exec-shell",
        &[],
        &[
            "bash",
            "-c",
            "nc -h 2>&1; echo nc=$?; ls /usr >/dev/null; echo ls=$?",
        ],
    );
    let enf = Enforce::start(&policy, &[&direct.0, &shell.0], None);
    let (out, code) = direct.start();
    assert_eq!(code, 137, "entrypoint nc must die by SIGKILL: {out}");
    assert!(!out.contains("usage"), "nc ran: {out}");
    let (out, code) = shell.start();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nc=137"), "{out}");
    assert!(out.contains("ls=0"), "{out}");
    assert!(
        !out.contains("usage"),
        "nc printed its usage, so it ran: {out}"
    );
    let reports = enf.stop();
    let execs = find(&reports, "exec_denied");
    assert_eq!(execs.len(), 2, "{reports:#?}");
    for r in execs {
        assert_eq!(r["policy"], "no-netcat");
        assert_eq!(r["outcome"], "done");
        assert_eq!(r["origin"], "kernel");
        assert!(r["object"].as_str().unwrap().contains("/nc"), "{r}");
    }
    assert!(
        !ours_loaded(),
        "enforcement programs left in the kernel after exit"
    );
}

#[test]
fn reading_shadow_kills_before_output_and_benign_files_work() {
    if skip("reading_shadow_kills_before_output_and_benign_files_work") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(
        dir.path(),
        "policies:\n- name: secrets\n  mode: enforce\n  files:\n    deny_read: [/etc/shadow, /root/.ssh/]\n    deny_write: [/usr/bin/]\n",
    );
    let c = Ctr::init(
        "vr-e2e-file",
        &[],
        &["bash", "-c", "cat /etc/shadow; echo cat=$?; cd /etc && cat ../etc/./shadow; echo rel=$?; head -c 4 /etc/passwd; echo; echo passwd=$?; echo x > /tmp/ok; echo tmp=$?; (echo x > /usr/bin/evil); echo w=$?"],
    );
    let enf = Enforce::start(&policy, &[&c.0], None);
    let (out, code) = c.start();
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("root:"), "shadow content leaked: {out}");
    assert!(out.contains("cat=137"), "{out}");
    assert!(
        out.contains("rel=137"),
        "relative path must resolve to /etc/shadow: {out}"
    );
    assert!(out.contains("root\npasswd=0"), "{out}");
    assert!(out.contains("tmp=0"), "{out}");
    assert!(out.contains("w=137"), "{out}");
    let reports = enf.stop();
    let reads = find(&reports, "read_denied");
    assert_eq!(reads.len(), 2, "{reports:#?}");
    assert!(
        reads.iter().all(|r| r["object"] == "/etc/shadow"),
        "{reads:#?}"
    );
    let writes = find(&reports, "write_denied");
    assert_eq!(writes.len(), 1, "{reports:#?}");
    assert_eq!(writes[0]["object"], "/usr/bin/evil");
}

#[test]
fn denied_connect_fails_with_eperm_allowed_connect_works() {
    if skip("denied_connect_fails_with_eperm_allowed_connect_works") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let allowed = TcpListener::bind("127.0.0.7:0").unwrap();
    let denied = TcpListener::bind("127.0.0.7:0").unwrap();
    let (pa, pd) = (
        allowed.local_addr().unwrap().port(),
        denied.local_addr().unwrap().port(),
    );
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(
        dir.path(),
        &format!("policies:\n- name: egress\n  mode: enforce\n  network:\n    egress:\n      default: deny\n      allow: [{{cidr: 127.0.0.0/8, ports: [{pa}], protocol: tcp}}]\n"),
    );
    let c = Ctr::init(
        "vr-e2e-net",
        &[],
        &["bash", "-c", &format!("echo hi > /dev/tcp/127.0.0.7/{pa}; echo a=$?; echo hi > /dev/tcp/127.0.0.7/{pd}; echo d=$?")],
    );
    let enf = Enforce::start(&policy, &[&c.0], None);
    let (out, _) = c.start();
    assert!(out.contains("a=0"), "{out}");
    assert!(out.contains("d=1"), "{out}");
    assert!(out.contains("Operation not permitted"), "{out}");
    // The allowed server really got a connection; the denied one none.
    allowed.set_nonblocking(true).unwrap();
    denied.set_nonblocking(true).unwrap();
    assert!(allowed.accept().is_ok());
    assert!(denied.accept().is_err());
    let reports = enf.stop();
    let nets = find(&reports, "connect_denied");
    assert_eq!(nets.len(), 1, "{reports:#?}");
    assert_eq!(nets[0]["object"], format!("127.0.0.7:{pd}/tcp"));
    assert_eq!(nets[0]["reason"], "not-allow-listed");
}

#[test]
fn connect_to_bind_mounted_runtime_socket_fails_with_eperm() {
    if skip("connect_to_bind_mounted_runtime_socket_fails_with_eperm") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let sockdir = dir.path().join("rt");
    std::fs::create_dir(&sockdir).unwrap();
    let rt = UnixListener::bind(sockdir.join("runtime.sock")).unwrap();
    let ok = UnixListener::bind(sockdir.join("ok.sock")).unwrap();
    // Accept and close, so the allowed client sees EOF and exits.
    let acceptor = ok.try_clone().unwrap();
    std::thread::spawn(move || {
        for s in acceptor.incoming() {
            drop(s);
        }
    });
    let policy = write_policy(
        dir.path(),
        "policies:\n- name: no-runtime\n  mode: enforce\n  network:\n    unix_deny: [/run/rt/runtime.sock]\n",
    );
    let vol = format!("{}:/run/rt", sockdir.display());
    // Stream connect (nc -U) and datagram sendto (python) to the denied socket; the allowed
    // socket still works; the shell goes on after each failure.
    let c = Ctr::init(
        "vr-e2e-unix",
        &["-v", &vol],
        &["bash", "-c", "nc -U -N -w 5 /run/rt/ok.sock </dev/null; echo ok=$?; nc -U -N -w 5 /run/rt/runtime.sock </dev/null; echo rt=$?; python3 -c \"import socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b'x', '/run/rt/runtime.sock')\" 2>&1 | tail -1; echo dg=${PIPESTATUS[0]}"],
    );
    let enf = Enforce::start(&policy, &[&c.0], None);
    let (out, _) = c.start();
    assert!(out.contains("ok=0"), "{out}");
    assert!(out.contains("rt=1"), "nc must fail, not be killed: {out}");
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(out.contains("PermissionError"), "datagram sendto: {out}");
    assert!(out.contains("dg=1"), "{out}");
    // The runtime socket never saw a connection.
    rt.set_nonblocking(true).unwrap();
    assert!(
        matches!(rt.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the denied socket was connected to"
    );
    drop((rt, ok));
    let reports = enf.stop();
    let u = find(&reports, "unix_connect_denied");
    assert_eq!(u.len(), 2, "{reports:#?}");
    for r in &u {
        assert_eq!(r["object"], "/run/rt/runtime.sock");
        assert_eq!(r["outcome"], "done");
        assert_eq!(r["syscall_ret"], -1, "refused, not killed: {r}");
    }
    assert_eq!(u[0]["syscall"], 42, "connect");
    assert_eq!(u[1]["syscall"], 46, "sendmsg");
    let kernel = reports
        .iter()
        .find(|r| r.get("unix_sockets").is_some())
        .expect("the enforcer reports how unix sockets are enforced");
    assert!(
        kernel["unix_sockets"]
            .as_str()
            .unwrap()
            .contains("connect_unix"),
        "{kernel}"
    );
}

#[test]
fn benign_workload_is_undisturbed_under_all_policies() {
    if skip("benign_workload_is_undisturbed_under_all_policies") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let srv = TcpListener::bind("127.0.0.8:0").unwrap();
    let port = srv.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(
        dir.path(),
        &format!("policies:\n- name: all\n  mode: enforce\n  exec:\n    allow: ['/usr/bin/*', '/bin/*', '/usr/sbin/*']\n    deny: ['/usr/bin/nc*']\n  files:\n    deny_read: [/etc/shadow, /root/.ssh/]\n    deny_write: [/etc/, /usr/]\n  network:\n    egress:\n      default: deny\n      allow: [{{cidr: 127.0.0.8/32, ports: [{port}]}}]\n    unix_deny: [/run/podman/podman.sock]\n"),
    );
    let script = format!(
        "set -e; for i in $(seq 1 30); do ls / >/dev/null; cat /etc/os-release >/dev/null; echo $i > /tmp/f$i; sha256sum /tmp/f$i >/dev/null; done; grep -c . /etc/passwd; echo x > /dev/tcp/127.0.0.8/{port}; echo done"
    );
    let c = Ctr::init("vr-e2e-benign", &[], &["bash", "-c", &script]);
    let enf = Enforce::start(&policy, &[&c.0], None);
    let (out, code) = c.start();
    assert_eq!(code, 0, "{out}");
    assert!(out.trim_end().ends_with("done"), "{out}");
    let reports = enf.stop();
    let kills: Vec<_> = reports
        .iter()
        .filter(|r| r.get("action").is_some())
        .collect();
    assert!(kills.is_empty(), "benign workload triggered: {kills:#?}");
}

#[test]
fn audit_mode_switch_without_restart_stops_kills_keeps_reports() {
    if skip("audit_mode_switch_without_restart_stops_kills_keeps_reports") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let files = vec![vigil_response::parse_str(
        Path::new("inline.yaml"),
        "policies:\n- name: switchable\n  mode: enforce\n  exec:\n    deny: ['/usr/bin/nc*']\n  files:\n    deny_read: [/etc/shadow]\n",
    )
    .unwrap()];
    let c = Ctr::init("vr-e2e-mode", &[], &["sleep", "120"]);
    let pc = vigil_response::runtime::inspect(&c.0).unwrap();
    let mut enf = vigil_response::Enforcer::open(&files).unwrap();
    let (cg, applied) = enf.container_started_pid(pc.pid, &pc.container).unwrap();
    assert_eq!(applied, vec!["switchable".to_string()]);
    let _ = Command::new("podman").args(["start", &c.0]).output();
    let out = c.exec("nc -h >/tmp/o 2>&1; echo nc=$?; head -c 100 /tmp/o; echo; cat /etc/shadow >/tmp/s; echo sh=$?; head -c 5 /tmp/s");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("nc=137") && text.contains("sh=137"), "{text}");
    let mut before = Vec::new();
    std::thread::sleep(Duration::from_millis(100));
    enf.poll(|r| before.push(r));
    assert_eq!(before.len(), 2, "{before:#?}");
    assert!(before
        .iter()
        .all(|r| r.outcome == vigil_response::Outcome::Done));

    enf.set_mode("switchable", vigil_response::Mode::Audit)
        .unwrap();
    let out = c.exec("nc -h >/tmp/o 2>&1; echo nc=$?; head -c 100 /tmp/o; echo; cat /etc/shadow >/tmp/s; echo sh=$?; head -c 5 /tmp/s");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("nc=0") || text.contains("nc=1"),
        "nc must run in audit mode: {text}"
    );
    assert!(text.contains("usage"), "{text}");
    assert!(text.contains("root:") && text.contains("sh=0"), "{text}");
    let mut after = Vec::new();
    std::thread::sleep(Duration::from_millis(100));
    enf.poll(|r| after.push(r));
    assert_eq!(after.len(), 2, "{after:#?}");
    assert!(after
        .iter()
        .all(|r| r.outcome == vigil_response::Outcome::AuditOnly && r.target.cgroup_id == cg));

    // Back to enforce, still the same enforcer.
    enf.set_mode("switchable", vigil_response::Mode::Enforce)
        .unwrap();
    let out = c.exec("nc -h >/dev/null 2>&1; echo nc=$?");
    assert!(String::from_utf8_lossy(&out.stdout).contains("nc=137"));
    assert!(enf.container_stopped(cg));
    let out = c.exec("nc -h >/dev/null 2>&1; echo nc=$?");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("nc=137"),
        "policy removed on stop"
    );
}

#[test]
fn user_space_responses_kill_isolate_pause() {
    if skip("user_space_responses_kill_isolate_pause") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let srv = TcpListener::bind("127.0.0.9:0").unwrap();
    let port = srv.local_addr().unwrap().port();
    let files = vec![vigil_response::parse_str(
        Path::new("empty.yaml"),
        "policies:\n- name: watch\n  mode: audit\n  files: {deny_read: [/nonexistent]}\n",
    )
    .unwrap()];
    let c = Ctr::init(
        "vr-e2e-resp",
        &[],
        &["bash", "-c", "sleep 300 & sleep 300 & wait"],
    );
    let pc = vigil_response::runtime::inspect(&c.0).unwrap();
    let mut enf = vigil_response::Enforcer::open(&files).unwrap();
    let (cg, _) = enf.container_started_pid(pc.pid, &pc.container).unwrap();
    let _ = Command::new("podman").args(["start", &c.0]).output();
    let pid = vigil_response::runtime::inspect(&c.0).unwrap().pid;

    // isolate: new connects fail with EPERM
    let r = enf.respond(
        vigil_response::RuleAction::IsolateNetwork,
        pid,
        Some(cg),
        None,
    );
    assert_eq!(r.outcome, vigil_response::Outcome::Done, "{r}");
    let out = c.exec(&format!("echo > /dev/tcp/127.0.0.9/{port}; echo rc=$?"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Operation not permitted"), "{err}");
    let mut rep = Vec::new();
    std::thread::sleep(Duration::from_millis(50));
    enf.poll(|r| rep.push(r));
    assert!(rep.iter().any(|r| r.reason == Some("isolated")), "{rep:#?}");

    // pause through podman
    let r = enf.respond(
        vigil_response::RuleAction::PauseContainer,
        pid,
        Some(cg),
        None,
    );
    assert_eq!(r.outcome, vigil_response::Outcome::Done, "{r}");
    assert_eq!(r.target.container_name, "vr-e2e-resp");
    assert_eq!(
        vigil_response::runtime::inspect(&c.0).unwrap().status,
        "paused"
    );
    let _ = Command::new("podman").args(["unpause", &c.0]).output();

    // kill one process, then the whole tree
    let procs =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let child: u32 = procs
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a sleep child");
    let r = enf.respond(
        vigil_response::RuleAction::KillProcess,
        child,
        Some(cg),
        None,
    );
    assert_eq!(r.outcome, vigil_response::Outcome::Done, "{r}");
    let r = enf.respond(
        vigil_response::RuleAction::KillContainer,
        pid,
        Some(cg),
        None,
    );
    assert_eq!(r.outcome, vigil_response::Outcome::Done, "{r}");
    assert!(r.latency.unwrap() < Duration::from_secs(1), "{r}");
    let t0 = Instant::now();
    while vigil_response::runtime::inspect(&c.0)
        .map(|p| p.status == "running")
        .unwrap_or(false)
        && t0.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_ne!(
        vigil_response::runtime::inspect(&c.0).unwrap().status,
        "running"
    );
}

#[test]
fn bad_inputs_give_clear_errors() {
    if skip("bad_inputs_give_clear_errors") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(
        dir.path(),
        "policies:\n- name: p\n  mode: enforce\n  exec: {deny: [/bin/nc]}\n",
    );
    // Unknown container: clear error, nothing left behind.
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["policy", "enforce"])
        .arg(&policy)
        .args(["--container", "vr-e2e-does-not-exist", "--duration", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("container vr-e2e-does-not-exist"), "{err}");
    assert!(!ours_loaded(), "programs left after a failed start");
    // A container whose process dies during setup.
    let files = vec![vigil_response::load_file(&policy).unwrap()];
    let mut enf = vigil_response::Enforcer::open(&files).unwrap();
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let e = enf
        .container_started_pid(pid, &vigil_event::Container::default())
        .unwrap_err();
    assert!(e.to_string().contains("did the process exit"), "{e}");
    assert!(enf.containers().is_empty());
}

/// `vigil monitor --json -r RULES | vigil policy respond POLICY`, both in the background;
/// the responder's report lines are collected.
struct Responder {
    monitor: Child,
    respond: Child,
    reports: std::sync::Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Responder {
    fn start(rules: &Path, policy: &Path) -> Responder {
        let mut monitor = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args([
                "monitor",
                "--json",
                "--no-metrics",
                "--stats-interval",
                "0",
                "-r",
            ])
            .arg(rules)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let alerts = monitor.stdout.take().unwrap();
        let mut respond = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args(["policy", "respond"])
            .arg(policy)
            .stdin(Stdio::from(alerts))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let reports = std::sync::Arc::new(Mutex::new(Vec::new()));
        let r = reports.clone();
        let out = respond.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    r.lock().unwrap().push(v);
                }
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let err = monitor.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let t0 = Instant::now();
        loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(l) if l.contains("monitoring") => break,
                Ok(_) => {}
                Err(_) => panic!("vigil monitor did not start within {:?}", t0.elapsed()),
            }
        }
        // Keep draining the monitor's stderr so it never blocks.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Responder {
            monitor,
            respond,
            reports,
        }
    }

    /// Waits until a report of `action` exists and returns it.
    fn wait_for(&self, action: &str) -> serde_json::Value {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(30) {
            if let Some(r) = self
                .reports
                .lock()
                .unwrap()
                .iter()
                .find(|r| r["action"] == action && r.get("rule").is_some())
            {
                return r.clone();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "no {action} response within 30 s: {:#?}",
            self.reports.lock().unwrap()
        );
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own children's pids.
        unsafe { libc::kill(self.monitor.id() as i32, libc::SIGTERM) };
        let _ = self.monitor.wait();
        // The responder ends at the end of its input (the monitor's stdout).
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.respond.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.respond.kill();
        let _ = self.respond.wait();
    }
}

fn status(name: &str) -> String {
    vigil_response::runtime::inspect(name)
        .map(|p| p.status)
        .unwrap_or_default()
}

fn logs(name: &str) -> String {
    let o = Command::new("podman")
        .args(["logs", name])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < Duration::from_secs(20), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn rule_triggered_responses_are_carried_out_and_reported_with_timing() {
    if skip("rule_triggered_responses_are_carried_out_and_reported_with_timing") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let srv = TcpListener::bind("127.0.0.10:0").unwrap();
    let port = srv.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    // One rule per action, each triggered by `sleep 30N` in a container.
    let actions = [
        "kill_process",
        "kill_container",
        "pause_container",
        "stop_container",
        "isolate_network",
    ];
    let mut rules = String::new();
    let mut policy = String::from("responses:\n");
    for (i, a) in actions.iter().enumerate() {
        rules.push_str(&format!(
            "- rule: vr trigger {a}\n  desc: e2e trigger\n  condition: evt.type in (execve, execveat) and evt.dir = < and container.id != host and proc.name = sleep and proc.args = \"30{i}\"\n  output: \"trigger {a} (%proc.cmdline)\"\n  priority: CRITICAL\n  tags: [vr_e2e]\n"
        ));
        policy.push_str(&format!(
            "  - rules: [\"vr trigger {a}\"]\n    scope: {{names: ['vr-e2e-rt-*']}}\n    actions: [{a}]\n"
        ));
    }
    let rules_path = dir.path().join("rules.yaml");
    std::fs::write(&rules_path, rules).unwrap();
    let policy_path = write_policy(dir.path(), &policy);
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["policy", "validate"])
        .arg(&policy_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("5 responses"));

    let resp = Responder::start(&rules_path, &policy_path);

    // kill_process: the triggering sleep dies, the container's shell goes on.
    let kp = start_detached("vr-e2e-rt-kp", "sleep 300; echo rc=$?; sleep 600");
    let r = resp.wait_for("kill_process");
    wait_until("shell saw the kill", || logs(&kp.0).contains("rc=137"));
    assert_eq!(status(&kp.0), "running");
    let rep_kp = r.clone();

    // kill_container: every process of the container dies, the container exits.
    let kc = start_detached("vr-e2e-rt-kc", "sleep 301 & sleep 600");
    let rep_kc = resp.wait_for("kill_container");
    wait_until("container exited", || status(&kc.0) == "exited");

    // pause_container / stop_container through podman.
    let pc = start_detached("vr-e2e-rt-pause", "sleep 302; sleep 600");
    let rep_pause = resp.wait_for("pause_container");
    assert_eq!(status(&pc.0), "paused");
    let sc = start_detached("vr-e2e-rt-stop", "sleep 303; sleep 600");
    let rep_stop = resp.wait_for("stop_container");
    wait_until("container stopped", || status(&sc.0) == "exited");

    // isolate_network: later connects fail with EPERM (and are reported by the kernel).
    let iso = start_detached(
        "vr-e2e-rt-iso",
        &format!("sleep 304 & sleep 3; echo > /dev/tcp/127.0.0.10/{port}; echo rc=$?; sleep 600"),
    );
    let rep_iso = resp.wait_for("isolate_network");
    wait_until("connect attempted", || logs(&iso.0).contains("rc="));
    let l = logs(&iso.0);
    assert!(
        l.contains("Operation not permitted") && l.contains("rc=1"),
        "{l}"
    );
    srv.set_nonblocking(true).unwrap();
    assert!(srv.accept().is_err(), "an isolated container connected");

    for (a, r) in [
        ("kill_process", &rep_kp),
        ("kill_container", &rep_kc),
        ("pause_container", &rep_pause),
        ("stop_container", &rep_stop),
        ("isolate_network", &rep_iso),
    ] {
        assert_eq!(r["outcome"], "done", "{a}: {r}");
        assert_eq!(r["origin"], "user", "{a}: {r}");
        assert_eq!(r["rule"], format!("vr trigger {a}"), "{r}");
        assert!(r["latency_us"].as_u64().is_some(), "{r}");
        assert!(r["alert_to_done_us"].as_u64().is_some(), "{r}");
        assert!(
            r["container_name"]
                .as_str()
                .unwrap()
                .starts_with("vr-e2e-rt-"),
            "{r}"
        );
        if a == "pause_container" || a == "stop_container" {
            assert!(r["effect_us"].as_u64().is_some(), "{r}");
        }
        eprintln!(
            "{a}: carried out in {} us (effect after {} us), {} us after the triggering event",
            r["latency_us"], r["effect_us"], r["alert_to_done_us"]
        );
    }
    wait_until("isolation denial reported", || {
        resp.reports
            .lock()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "connect_denied" && r["reason"] == "isolated")
    });
    drop((kp, kc, pc, sc, iso));
    drop(resp);
    assert!(!ours_loaded(), "programs left after the responder exited");
}

fn bpffs_mounted() -> bool {
    std::fs::read_to_string("/proc/mounts")
        .map(|m| {
            m.lines()
                .any(|l| l.split_whitespace().nth(1) == Some("/sys/fs/bpf"))
        })
        .unwrap_or(false)
}

#[test]
fn pinned_enforcement_outlives_the_agent_is_taken_over_and_unpinned() {
    if skip("pinned_enforcement_outlives_the_agent_is_taken_over_and_unpinned") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let had_bpffs = bpffs_mounted();
    let pin = format!("/sys/fs/bpf/vigil-e2e-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(
        dir.path(),
        "policies:\n- name: pinned\n  mode: enforce\n  exec:\n    deny: ['/usr/bin/nc*']\n",
    );
    let c = Ctr::init("vr-e2e-pin", &[], &["sleep", "300"]);
    // 1. An agent that pins, then exits.
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["policy", "enforce"])
        .arg(&policy)
        .args(["-c", &c.0, "--duration", "0.5", "--pin", &pin])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("stays pinned under"), "{err}");
    let gens = |p: &str| -> Vec<String> {
        std::fs::read_dir(p)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let first = gens(&pin);
    assert_eq!(first.len(), 1, "{first:?}");
    let links = gens(&format!("{pin}/{}/links", first[0]));
    assert_eq!(links.len(), 8, "2 tracepoints + 6 cgroup links: {links:?}");
    // 2. No agent runs: the container is still under the policy.
    let _ = Command::new("podman").args(["start", &c.0]).output();
    let o = c.exec("nc -h >/dev/null 2>&1; echo nc=$?");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("nc=137"),
        "not enforced while no agent ran: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    // 3. The next pinning agent takes over and reports what happened meanwhile.
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["policy", "enforce"])
        .arg(&policy)
        .args(["-c", &c.0, "--duration", "0.5", "--pin", &pin])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let carried: Vec<_> = lines.iter().filter(|r| r["previous_run"] == true).collect();
    assert_eq!(carried.len(), 1, "{lines:#?}");
    assert_eq!(carried[0]["action"], "exec_denied");
    assert_eq!(carried[0]["outcome"], "done");
    let second = gens(&pin);
    assert_eq!(second.len(), 1, "old generation not retired: {second:?}");
    assert_ne!(second, first);
    // 4. Unpin: nothing of ours stays in the kernel, the container runs nc again.
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["policy", "unpin", &pin])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed 1"));
    assert!(!Path::new(&pin).exists());
    assert!(!ours_loaded(), "programs left after unpin");
    let o = c.exec("nc -h >/dev/null 2>&1; echo nc=$?");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("nc=137"));
    if !had_bpffs {
        let _ = Command::new("umount").arg("/sys/fs/bpf").status();
    }
}

#[test]
fn overlapping_policies_most_restrictive_wins_enforce_beats_audit() {
    if skip("overlapping_policies_most_restrictive_wins_enforce_beats_audit") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    // A: allow-list in enforce mode; B: a deny-list in audit mode that overlaps it, and an
    // allow-list that contradicts A's (intersection applies).
    let policy = write_policy(
        dir.path(),
        "policies:\n- name: a-allow\n  mode: enforce\n  exec:\n    allow: ['/usr/bin/*', '/bin/*']\n    deny: ['/usr/bin/nc*']\n- name: b-audit\n  mode: audit\n  exec:\n    deny: ['/usr/bin/nc*', /usr/bin/id]\n- name: c-allow\n  mode: enforce\n  scope: {names: ['vr-e2e-overlap']}\n  exec:\n    allow: ['/usr/bin/bash', '/usr/bin/id', '/usr/bin/nc*']\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["policy", "validate"])
        .arg(&policy)
        .output()
        .unwrap();
    assert!(out.status.success());
    let notes = String::from_utf8_lossy(&out.stdout);
    assert!(
        notes.contains("note:"),
        "precedence notes expected: {notes}"
    );
    let c = Ctr::init(
        "vr-e2e-overlap",
        &[],
        &[
            "bash",
            "-c",
            "id -u; echo id=$?; nc -h >/dev/null 2>&1; echo nc=$?; ls / >/dev/null; echo ls=$?",
        ],
    );
    let enf = Enforce::start(&policy, &[&c.0], None);
    let (out, _) = c.start();
    // id: allowed by a and c, denied by b in audit only -> runs, reported audit-only.
    assert!(out.contains("0\nid=0"), "{out}");
    // nc: denied by a (enforce) -> killed.
    assert!(out.contains("nc=137"), "{out}");
    // ls: allowed by a, not by c's allow-list -> killed (allow-lists intersect).
    assert!(out.contains("ls=137"), "{out}");
    let reports = enf.stop();
    let execs = find(&reports, "exec_denied");
    let id = execs
        .iter()
        .find(|r| r["object"] == "/usr/bin/id")
        .expect("id reported");
    assert_eq!(id["outcome"], "audit-only");
    assert_eq!(id["policy"], "b-audit");
    let nc = execs
        .iter()
        .find(|r| r["object"].as_str().unwrap().contains("/nc"))
        .expect("nc reported");
    assert_eq!(nc["outcome"], "done");
    assert_eq!(
        nc["policy"], "a-allow",
        "the enforcing policy is named: {nc}"
    );
    let ls = execs
        .iter()
        .find(|r| r["object"] == "/usr/bin/ls")
        .expect("ls reported");
    assert_eq!(ls["policy"], "c-allow");
    assert_eq!(ls["reason"], "not-allow-listed");
}

#[test]
fn a_container_that_is_gone_before_setup_is_a_clear_error() {
    if skip("a_container_that_is_gone_before_setup_is_a_clear_error") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(
        dir.path(),
        "policies:\n- name: p\n  mode: enforce\n  exec: {deny: [/usr/bin/nc]}\n",
    );
    // Exited before the enforcer started.
    let name = "vr-e2e-gone";
    let _ = Command::new("podman").args(["rm", "-f", name]).output();
    let out = Command::new("podman")
        .args(["run", "--name", name, IMAGE, "true"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let _c = Ctr(name.to_string());
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["policy", "enforce"])
        .arg(&policy)
        .args(["-c", name, "--duration", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("has no process (status exited)"), "{err}");
    assert!(!ours_loaded(), "programs left after a refused start");
    // Dies between inspect and apply: the library names the cause, tracks nothing.
    let c = Ctr::init("vr-e2e-dying", &[], &["true"]);
    let pc = vigil_response::runtime::inspect(&c.0).unwrap();
    let _ = Command::new("podman").args(["start", "-a", &c.0]).output();
    let files = vec![vigil_response::load_file(&policy).unwrap()];
    let mut enf = vigil_response::Enforcer::open(&files).unwrap();
    let e = enf
        .container_started_pid(pc.pid, &pc.container)
        .unwrap_err();
    assert!(e.to_string().contains("did the process exit"), "{e}");
    assert!(enf.containers().is_empty());
}

#[test]
fn sighup_switches_the_cli_enforcer_to_audit_without_restart() {
    if skip("sighup_switches_the_cli_enforcer_to_audit_without_restart") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let body = |mode: &str| {
        format!("policies:\n- name: switch\n  mode: {mode}\n  exec:\n    deny: ['/usr/bin/nc*']\n")
    };
    let policy = write_policy(dir.path(), &body("enforce"));
    let c = Ctr::init("vr-e2e-hup", &[], &["sleep", "120"]);
    let mut enf = Enforce::start(&policy, &[&c.0], None);
    let _ = Command::new("podman").args(["start", &c.0]).output();
    let nc =
        || String::from_utf8_lossy(&c.exec("nc -h >/dev/null 2>&1; echo nc=$?").stdout).to_string();
    assert!(nc().contains("nc=137"));
    let hup = |enf: &mut Enforce| {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(enf.child.id() as i32, libc::SIGHUP) };
        let t0 = Instant::now();
        loop {
            let l = enf
                .lines
                .recv_timeout(Duration::from_secs(10))
                .expect("reload line");
            enf.head.push(l.clone());
            if l.contains("reload") {
                return l;
            }
            assert!(t0.elapsed() < Duration::from_secs(10));
        }
    };
    // Audit: nc runs, the decision is still reported.
    std::fs::write(&policy, body("audit")).unwrap();
    assert!(hup(&mut enf).contains("switch=audit"));
    assert!(!nc().contains("nc=137"));
    // A broken file keeps audit in force.
    std::fs::write(&policy, "policies:\n- name: switch\n  mode: sometimes\n").unwrap();
    assert!(hup(&mut enf).contains("reload_failed"));
    assert!(!nc().contains("nc=137"));
    // Back to enforce.
    std::fs::write(&policy, body("enforce")).unwrap();
    assert!(hup(&mut enf).contains("switch=enforce"));
    assert!(nc().contains("nc=137"));
    let reports = enf.stop();
    let outcomes: Vec<&str> = find(&reports, "exec_denied")
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["done", "audit-only", "audit-only", "done"],
        "{reports:#?}"
    );
}

/// `podman run -d` of `script` in a fresh container `name` on the host network; the container
/// is removed when the returned guard drops.
fn start_detached(name: &str, script: &str) -> Ctr {
    let _ = Command::new("podman")
        .args(["rm", "-f", "-t", "0", name])
        .output();
    let out = Command::new("podman")
        .args([
            "run",
            "-d",
            "--name",
            name,
            "--network=host",
            IMAGE,
            "bash",
            "-c",
            script,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ctr(name.to_string())
}

/// Runs a container to completion: its output and exit code.
fn run_to_end(name: &str, script: &str) -> (String, i32) {
    let _ = Command::new("podman")
        .args(["rm", "-f", "-t", "0", name])
        .output();
    let out = Command::new("podman")
        .args([
            "run",
            "--name",
            name,
            "--network=none",
            IMAGE,
            "bash",
            "-c",
            script,
        ])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    eprintln!("podman {name}: {text}");
    (text, out.status.code().unwrap_or(-1))
}

/// Python: opens /etc/shadow (the default rule "Password database or sudo configuration read"
/// fires), then would work for 10 s and print `work-done` (not in its command line, which bash
/// echoes when the job is killed). `sleep 1` first: the container's first exec
/// makes the monitor look up its name, which the responses' scope selects on.
const SHADOW_THEN_WORK: &str =
    "python3 -c 'import time; open(\"/etc/shadow\").read(); time.sleep(10); print(\"work\" + \"-done\")'";

/// The `vigil response` alert for container `name` and `action` in the monitor's output (not
/// a skipped one).
fn response_alert(m: &common::Vigil, name: &str, action: &str) -> serde_json::Value {
    m.expect("vigil response", Duration::from_secs(20), |a| {
        field(a, "container.name") == name
            && field(a, "action") == action
            && !field(a, "outcome").starts_with("skipped")
    })
}

/// Checks the report fields every completed response alert carries, prints its timings and
/// returns the time from the triggering event to done (us).
fn check_report(a: &serde_json::Value, name: &str, policy: &str) -> u64 {
    let f = &a["output_fields"];
    assert_eq!(a["source"], "internal", "{a}");
    assert_eq!(a["priority"], "Critical", "{a}");
    assert_eq!(f["outcome"], "done", "{a}");
    assert_eq!(f["policy"], policy, "{a}");
    assert!(
        f["scope"]
            .as_str()
            .unwrap()
            .starts_with("names [\"vr-e2e-mon-"),
        "{a}"
    );
    assert_eq!(
        f["trigger.rule"], "Password database or sudo configuration read",
        "{a}"
    );
    assert!(f["response"].as_str().unwrap().ends_with(":2:5"), "{a}");
    assert_eq!(f["container.name"], name, "{a}");
    assert_eq!(f["container.id"].as_str().unwrap().len(), 12, "{a}");
    assert!(f["proc.pid"].as_u64().unwrap() > 1, "{a}");
    assert!(
        a["tags"].as_array().unwrap().contains(&"response".into()),
        "{a}"
    );
    let total = f["event_to_done_us"].as_u64().expect("event_to_done_us");
    eprintln!(
        "{name}: {} done {total} us after the event (detection {} us, queue {} us, action {} us)",
        f["action"], f["detect_us"], f["queue_us"], f["latency_us"]
    );
    assert!(f["latency_us"].as_u64().unwrap() <= total, "{a}");
    assert!(total < 10_000_000, "{a}");
    total
}

/// `vigil monitor --policy`: a response on a default rule kills the offending process
/// before it finishes its work (kill_process), or the whole container (kill_container), and
/// the monitor's own output carries each response report with its outcome and timing.
#[test]
fn monitor_policy_response_kills_the_offending_process_and_reports_timing() {
    require!(true);
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(
        dir.path(),
        "responses:\n  - name: kill-shadow-readers\n    rules: [\"Password database or sudo configuration read\"]\n    scope: {names: ['vr-e2e-mon-kp']}\n    actions: [kill_process]\n",
    );
    // A second file: one response per file keeps each at line 2, column 5.
    let kc = dir.path().join("kc.yaml");
    std::fs::write(
        &kc,
        "responses:\n  - name: kill-container\n    rules: [\"Password database*\"]\n    scope: {names: ['vr-e2e-mon-kc']}\n    actions: [kill_container]\n",
    )
    .unwrap();
    // With the metrics server on loopback: the responses are counted in /metrics too.
    let metrics_addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let m = common::Vigil::start(
        &[
            "monitor",
            "--json",
            "--stats-interval",
            "5",
            "--metrics-listen",
            &metrics_addr,
            "--policy",
            policy.to_str().unwrap(),
            "--policy",
            kc.to_str().unwrap(),
        ],
        "monitoring",
    );
    m.expect_stderr("2 responses loaded", Duration::from_secs(5));

    // kill_process: the reader dies (137) and never finishes; its shell goes on.
    let t0 = Instant::now();
    let (out, _) = run_to_end(
        "vr-e2e-mon-kp",
        &format!("sleep 1; {SHADOW_THEN_WORK}; echo rc=$?"),
    );
    assert!(out.contains("rc=137"), "the reader was not killed: {out}");
    assert!(
        !out.contains("work-done"),
        "the reader finished its work: {out}"
    );
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    let kp = response_alert(&m, "vr-e2e-mon-kp", "kill_process");
    let kp_us = check_report(&kp, "vr-e2e-mon-kp", "kill-shadow-readers");
    assert_eq!(kp["output_fields"]["proc.name"], "python3", "{kp}");
    // The report names the process the rule alert named.
    let rule_alert = m.expect(
        "Password database or sudo configuration read",
        Duration::from_secs(5),
        |a| field(a, "container.name") == "vr-e2e-mon-kp",
    );
    assert_eq!(
        kp["output_fields"]["proc.pid"], rule_alert["output_fields"]["proc.pid"],
        "{kp}"
    );
    assert_eq!(
        kp["output_fields"]["trigger.pid"],
        kp["output_fields"]["proc.pid"]
    );

    // kill_container: every process dies, the background sleep and the shell included.
    let (out, code) = run_to_end(
        "vr-e2e-mon-kc",
        &format!("sleep 1; sleep 600 & {SHADOW_THEN_WORK}; echo rc=$?; wait"),
    );
    assert!(!out.contains("work-done") && !out.contains("rc="), "{out}");
    assert_eq!(code, 137, "{out}");
    let kc = response_alert(&m, "vr-e2e-mon-kc", "kill_container");
    let kc_us = check_report(&kc, "vr-e2e-mon-kc", "kill-container");
    assert!(field(&kc, "object").contains("killed)"), "{kc}");
    // The metrics follow the responder within a loop turn.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = common::http_get(metrics_addr.as_str(), "/metrics");
        if text.contains("vigil_responses_total{outcome=\"queued\"} 2")
            && text.contains("vigil_responses_total{outcome=\"completed\"} 2")
            && text.contains("vigil_responses_total{outcome=\"dropped\"} 0")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "responses not in /metrics: {}",
            text.lines()
                .filter(|l| l.contains("vigil_responses"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let lines = m.stop();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("vigil: responses: 2 queued, 2 carried out")),
        "{lines:?}"
    );
    let _ = Command::new("podman")
        .args(["rm", "-f", "vr-e2e-mon-kp", "vr-e2e-mon-kc"])
        .output();
    eprintln!("monitor response latency (event to done): kill_process {kp_us} us, kill_container {kc_us} us");
    assert!(!ours_loaded(), "programs left after the monitor exited");
}

/// `vigil monitor --policy`: isolate_network on a default rule; the rule fires twice, the
/// isolation runs once and the duplicate is reported as skipped; connects from the container
/// then fail with EPERM. A broken policy file on SIGHUP keeps the responses running.
#[test]
fn monitor_policy_response_isolates_once_and_reports_the_duplicate() {
    require!(true);
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let srv = TcpListener::bind("127.0.0.12:0").unwrap();
    let port = srv.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(
        dir.path(),
        "responses:\n  - name: isolate-shadow-readers\n    rules: [\"Password database or sudo configuration read\"]\n    scope: {names: ['vr-e2e-mon-*']}\n    actions: [isolate_network]\n",
    );
    let m = common::Vigil::monitor(&["--policy", policy.to_str().unwrap()]);
    let name = "vr-e2e-mon-iso";
    let c = start_detached(
        name,
        "sleep 1; cat /etc/shadow > /dev/null; cat /etc/shadow > /dev/null; sleep 600",
    );
    let iso = response_alert(&m, name, "isolate_network");
    let iso_us = check_report(&iso, name, "isolate-shadow-readers");
    let dup = m.expect("vigil response", Duration::from_secs(10), |a| {
        field(a, "container.name") == name && field(a, "outcome").starts_with("skipped: duplicate")
    });
    assert_eq!(dup["output_fields"]["action"], "isolate_network", "{dup}");
    assert_eq!(
        dup["output_fields"]["policy"], "isolate-shadow-readers",
        "{dup}"
    );
    assert_eq!(dup["priority"], "Warning", "{dup}");
    assert_eq!(dup["output_fields"]["duplicates"], 1, "{dup}");

    // Isolated: a new connect fails with EPERM and never reaches the listener.
    let out = c.exec(&format!("echo > /dev/tcp/127.0.0.12/{port}; echo rc=$?"));
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("Operation not permitted") && text.contains("rc=1"),
        "{text}"
    );
    srv.set_nonblocking(true).unwrap();
    assert!(srv.accept().is_err(), "an isolated container connected");
    // The kernel's refusal is reported too.
    m.expect("vigil response", Duration::from_secs(10), |a| {
        field(a, "action") == "connect_denied" && field(a, "container.name") == name
            || field(a, "action") == "connect_denied"
                && field(a, "object").starts_with(&format!("127.0.0.12:{port}"))
    });

    // A broken file on SIGHUP: reported, and the old responses stay.
    std::fs::write(
        &policy,
        "responses:\n  - rules: [x]\n    actions: [explode]\n",
    )
    .unwrap();
    m.signal(libc::SIGHUP);
    m.expect(
        "vigil internal: reload failed",
        Duration::from_secs(10),
        |_| true,
    );
    m.expect_stderr("unknown response `explode`", Duration::from_secs(5));
    let lines = m.stop();
    assert!(
        lines
            .iter()
            .any(|l| l
                .contains("vigil: responses: 1 queued, 1 carried out or failed, 1 deduplicated")),
        "{lines:?}"
    );
    drop(c);
    eprintln!("monitor response latency (event to done): isolate_network {iso_us} us");
    assert!(!ours_loaded(), "programs left after the monitor exited");
}
