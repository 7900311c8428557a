//! End-to-end tests of `vigil profile`: the real binary, the real eBPF sensor and real podman
//! containers (runc) from the locally built Debian image.
//!
//! The main test records a busybox httpd + python workload from before its entrypoint, turns
//! the recording into a seccomp profile, reruns the workload under it (same output; `unshare`,
//! `mount`, `ptrace`, `bpf` fail with EPERM), then runs `vigil monitor` with the generated
//! drift rules: the normal workload raises nothing, `nc`, a write to /usr/bin, a new listener
//! and a new destination raise the drift alerts. Other tests cover bad input: a container
//! that exits at once or cannot start, attaching to a running container, a container that
//! never appears, corrupt and empty profile files (these last ones need no root).
//!
//! Live tests need root, BTF and podman; without them they print `SKIP:` and return. They are
//! serialized (one sensor at a time) and use their own container names and loopback ports.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

const IMAGE: &str = "localhost/vigil-test-debian";
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Some("no kernel BTF".into());
    }
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
    None
}

macro_rules! require_live {
    () => {
        if let Some(why) = skip_reason() {
            eprintln!("SKIP: {}: {why}", module_path!());
            return;
        }
    };
}

fn vigil() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run command")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn name(prefix: &str) -> String {
    format!("vp-{prefix}-{}", std::process::id())
}

fn rm_container(n: &str) {
    let _ = Command::new("podman")
        .args(["rm", "-f", "-t", "0", n])
        .output();
}

/// The workload: busybox httpd serving a file, and a python script fetching it and logging.
/// `extra` is appended as more python (probes) or shell (attacks).
fn workload(port: u16, py_extra: &str, sh_extra: &str) -> String {
    format!(
        r#"mkdir -p /srv/www && echo hello-vigil > /srv/www/index.html && busybox httpd -p 127.0.0.77:{port} -h /srv/www && python3 -c "
import urllib.request, ctypes, time
libc = ctypes.CDLL(None, use_errno=True)
for i in range(3):
    body = urllib.request.urlopen('http://127.0.0.77:{port}/index.html', timeout=5).read()
    with open('/var/log/work.log', 'a') as f:
        f.write(str(i) + ' ' + str(len(body)) + '\n')
    print('fetched', body.decode().strip(), libc.getpid() > 0, flush=True)
    time.sleep(0.2)
{py_extra}
" {sh_extra}"#
    )
}

const PROBES: &str = "for n, f in [('unshare', lambda: libc.unshare(0x10000000)), ('mount', lambda: libc.mount(b'none', b'/mnt', b'tmpfs', 0, None)), ('ptrace', lambda: libc.ptrace(0, 0, None, None)), ('bpf', lambda: libc.syscall(321, 0, None, 0))]:
    ctypes.set_errno(0); r = f(); print('probe', n, r, ctypes.get_errno(), flush=True)";

fn podman_run(cname: &str, opts: &[&str], script: &str) -> Output {
    rm_container(cname);
    let out = run(Command::new("podman")
        .args(["run", "--rm", "--name", cname, "--network=host"])
        .args(opts)
        .args([IMAGE, "sh", "-c", script]));
    rm_container(cname);
    out
}

/// A background `vigil profile record --wait-for`; returns once it waits.
fn start_recording(cname: &str, out: &Path, extra: &[&str]) -> (Child, Arc<Mutex<Vec<String>>>) {
    let mut child = vigil()
        .args([
            "profile",
            "record",
            "--wait-for",
            cname,
            "--wait-timeout",
            "60",
            "-o",
        ])
        .arg(out)
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vigil profile record");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l = lines.clone();
    let err = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            l.lock().unwrap().push(line);
        }
    });
    wait_for(&lines, "waiting for container", Duration::from_secs(30));
    (child, lines)
}

fn wait_for(lines: &Arc<Mutex<Vec<String>>>, needle: &str, max: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < max {
        if lines.lock().unwrap().iter().any(|l| l.contains(needle)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "'{needle}' not seen within {max:?}; stderr so far:\n{}",
        lines.lock().unwrap().join("\n")
    );
}

fn finish(mut child: Child, max: Duration) -> std::process::ExitStatus {
    finish_logged(&mut child, max, None)
}

/// Like [`finish`], with the recorder's stderr in the panic message.
fn finish_logged(
    child: &mut Child,
    max: Duration,
    lines: Option<&Arc<Mutex<Vec<String>>>>,
) -> std::process::ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        if t0.elapsed() > max {
            let _ = child.kill();
            let log = lines
                .map(|l| l.lock().unwrap().join("\n"))
                .unwrap_or_default();
            panic!("vigil did not finish within {max:?}; its stderr:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `vigil monitor -r FILE --json` with alerts collected in the background.
struct Monitor {
    child: Child,
    alerts: Arc<Mutex<Vec<Value>>>,
}

impl Monitor {
    fn start(rules: &Path) -> Monitor {
        let mut child = vigil()
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
            .expect("start vigil monitor");
        let alerts = Arc::new(Mutex::new(Vec::new()));
        let a = alerts.clone();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    a.lock().unwrap().push(v);
                }
            }
        });
        let err_lines = Arc::new(Mutex::new(Vec::new()));
        let e = err_lines.clone();
        let err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                e.lock().unwrap().push(line);
            }
        });
        wait_for(&err_lines, "monitoring", Duration::from_secs(30));
        Monitor { child, alerts }
    }

    fn rules_fired(&self) -> Vec<(String, String)> {
        self.alerts
            .lock()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["rule"].as_str().unwrap_or("").to_string(),
                    a["output"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        // SAFETY: kill with a valid pid of our own child and a valid signal number.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

fn tmpdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

#[test]
fn record_seccomp_and_drift_on_a_real_workload() {
    require_live!();
    let _g = serial();
    let dir = tmpdir();
    let cname = name("web");
    let port = 18000 + (std::process::id() % 1000) as u16;
    let profile = dir.path().join("profile.yaml");

    // 1. Record from before the entrypoint.
    let (rec, rec_err) = start_recording(&cname, &profile, &[]);
    let first = podman_run(&cname, &[], &workload(port, "", ""));
    assert!(
        first.status.success(),
        "workload failed: {}",
        text(&first.stderr)
    );
    let status = finish(rec, Duration::from_secs(30));
    let rec_log = rec_err.lock().unwrap().join("\n");
    assert!(status.success(), "record failed:\n{rec_log}");
    let first_out = text(&first.stdout);
    assert_eq!(
        first_out.matches("fetched hello-vigil True").count(),
        3,
        "{first_out}"
    );

    let yaml = std::fs::read_to_string(&profile).unwrap();
    assert!(yaml.contains(&format!("- name: {cname}\n")), "{yaml}");
    assert!(yaml.contains("from_start: true"), "{rec_log}\n{yaml}");
    for s in [
        "execve", "bind", "listen", "accept", "connect", "openat", "write",
    ] {
        assert!(
            yaml.contains(&format!("\n  - {s}\n")),
            "{s} missing from the syscalls:\n{yaml}"
        );
    }
    for needle in [
        "/usr/bin/busybox",
        "/usr/bin/python3",
        "/var/log/work.log",
        "/srv/www/",
        &format!("port: {port}"),
    ] {
        assert!(
            yaml.contains(needle),
            "{needle} missing from the profile:\n{yaml}"
        );
    }

    // 2. Seccomp profile, much smaller than podman's default.
    let seccomp = dir.path().join("seccomp.json");
    let out = run(vigil()
        .args(["profile", "seccomp"])
        .arg(&profile)
        .arg("-o")
        .arg(&seccomp));
    let msg = text(&out.stderr);
    assert!(out.status.success(), "{msg}");
    assert!(msg.contains("fewer"), "{msg}");
    eprintln!("{msg}");
    let j: Value = serde_json::from_str(&std::fs::read_to_string(&seccomp).unwrap()).unwrap();
    assert_eq!(j["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(j["defaultErrnoRet"], 1);
    let allowed = j["syscalls"][0]["names"].as_array().unwrap().len();
    let default: Value = serde_json::from_str(
        &std::fs::read_to_string("/usr/share/containers/seccomp.json").unwrap(),
    )
    .unwrap();
    let default_allowed: usize = default["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "SCMP_ACT_ALLOW")
        .map(|r| r["names"].as_array().map(|a| a.len()).unwrap_or(0))
        .sum();
    assert!(
        allowed * 2 < default_allowed,
        "{allowed} allowed vs {default_allowed} by default"
    );

    // 3. The same workload under the profile: same output.
    let opt = format!("seccomp={}", seccomp.display());
    let again = podman_run(&cname, &["--security-opt", &opt], &workload(port, "", ""));
    assert!(
        again.status.success(),
        "workload failed under the profile: {}",
        text(&again.stderr)
    );
    assert_eq!(text(&again.stdout), first_out);

    // 4. Syscalls outside the profile fail with EPERM; under the runtime default ptrace works.
    let probed = podman_run(
        &cname,
        &["--security-opt", &opt],
        &workload(port, PROBES, ""),
    );
    let out = text(&probed.stdout);
    assert!(probed.status.success(), "{out} {}", text(&probed.stderr));
    for call in ["unshare", "mount", "ptrace", "bpf"] {
        assert!(
            out.contains(&format!("probe {call} -1 1\n")),
            "{call} not denied with EPERM:\n{out}"
        );
    }
    let control = podman_run(&cname, &[], &workload(port, PROBES, ""));
    assert!(
        text(&control.stdout).contains("probe ptrace 0 0"),
        "{}",
        text(&control.stdout)
    );

    // 5. Generated rules and policy load in the engine and the enforcer's validator.
    let drift = dir.path().join("drift.yaml");
    let out = run(vigil()
        .args(["profile", "rules"])
        .arg(&profile)
        .arg("-o")
        .arg(&drift));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(vigil().args(["rules", "validate"]).arg(&drift));
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let policy = dir.path().join("policy.yaml");
    let out = run(vigil()
        .args(["profile", "policy"])
        .arg(&profile)
        .arg("-o")
        .arg(&policy));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(vigil().args(["policy", "validate"]).arg(&policy));
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // 6. Drift: the normal workload raises nothing; the attack raises each drift rule.
    let mon = Monitor::start(&drift);
    let normal = podman_run(&cname, &[], &workload(port, "", ""));
    assert!(normal.status.success());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        mon.rules_fired(),
        Vec::<(String, String)>::new(),
        "the normal workload raised drift alerts"
    );
    let attack = format!(
        "&& (nc -l 127.0.0.77 {p2} >/dev/null &) && python3 -c \"import socket, time; time.sleep(0.5); socket.create_connection(('127.0.0.77', {p2})).close()\"; echo x > /usr/bin/evil",
        p2 = port + 1
    );
    let attacked = podman_run(&cname, &[], &workload(port, "", &attack));
    assert!(attacked.status.success(), "{}", text(&attacked.stderr));
    let want = [
        "executable",
        "file write",
        "outbound connection",
        "new listener",
    ];
    let t0 = Instant::now();
    let missing = loop {
        let fired = mon.rules_fired();
        let missing: Vec<&str> = want
            .iter()
            .copied()
            .filter(|w| !fired.iter().any(|(r, _)| r.ends_with(w)))
            .collect();
        if missing.is_empty() || t0.elapsed() > Duration::from_secs(15) {
            break missing;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let fired = mon.rules_fired();
    assert!(
        missing.is_empty(),
        "drift rules {missing:?} did not fire; fired: {fired:#?}"
    );
    let all = format!("{fired:?}");
    assert!(all.contains("/usr/bin/nc.openbsd executed"), "{all}");
    assert!(all.contains("/usr/bin/evil opened for writing"), "{all}");
    assert!(all.contains(&format!("127.0.0.77:{}", port + 1)), "{all}");
    drop(mon);

    // 7. Diff: a recording against itself has no change (exit 0).
    let out = run(vigil()
        .args(["profile", "diff"])
        .arg(&profile)
        .arg(&profile));
    assert!(out.status.success(), "{}", text(&out.stdout));
}

#[test]
fn containers_that_fail_or_are_attached_late_are_refused() {
    require_live!();
    let _g = serial();
    let dir = tmpdir();

    // Exits at once with a failure status.
    let cname = name("exit");
    let profile = dir.path().join("exit.yaml");
    let (rec, rec_err) = start_recording(&cname, &profile, &[]);
    let _ = podman_run(&cname, &[], "exit 3");
    assert!(
        finish_logged(&mut { rec }, Duration::from_secs(30), Some(&rec_err)).success(),
        "{}",
        rec_err.lock().unwrap().join("\n")
    );
    assert!(
        rec_err
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("exited with status 3")),
        "{:?}",
        rec_err.lock().unwrap()
    );
    let seccomp = dir.path().join("exit.json");
    let out = run(vigil()
        .args(["profile", "seccomp"])
        .arg(&profile)
        .arg("-o")
        .arg(&seccomp));
    let msg = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{msg}");
    assert!(
        msg.contains("refusing") && msg.contains("status 3"),
        "{msg}"
    );
    assert!(
        !seccomp.exists(),
        "a profile was written despite the refusal"
    );

    // The entrypoint does not exist: runc fails before any program of the workload runs.
    let cname = name("noexec");
    let profile = dir.path().join("noexec.yaml");
    let (rec, rec_err) = start_recording(&cname, &profile, &[]);
    rm_container(&cname);
    let _ = run(Command::new("podman").args([
        "run",
        "--rm",
        "--name",
        &cname,
        IMAGE,
        "/no/such/program",
    ]));
    assert!(
        finish_logged(&mut { rec }, Duration::from_secs(30), Some(&rec_err)).success(),
        "{}",
        rec_err.lock().unwrap().join("\n")
    );
    assert!(
        rec_err
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("never started a program")),
        "{:?}",
        rec_err.lock().unwrap()
    );
    let out = run(vigil()
        .args(["profile", "seccomp", "--allow-partial"])
        .arg(&profile)
        .arg("-o")
        .arg(&seccomp));
    let msg = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{msg}");
    assert!(
        msg.contains("no program of the workload was seen starting"),
        "{msg}"
    );
    assert!(
        !msg.contains("--allow-partial generates"),
        "hard refusal offered an override: {msg}"
    );
    assert!(!seccomp.exists());

    // Attached to a running container: start-up missed, refused unless --allow-partial.
    let cname = name("attach");
    rm_container(&cname);
    let up = run(Command::new("podman").args(["run", "-d", "--name", &cname, IMAGE, "sh", "-c", "while :; do cat /etc/hostname >/dev/null; ls -l / >/dev/null; python3 -c pass; sleep 0.2; done"]));
    assert!(up.status.success(), "{}", text(&up.stderr));
    let profile = dir.path().join("attach.yaml");
    let out = run(vigil()
        .args([
            "profile",
            "record",
            "--container",
            &cname,
            "--duration",
            "2",
            "-o",
        ])
        .arg(&profile));
    rm_container(&cname);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(vigil()
        .args(["profile", "seccomp"])
        .arg(&profile)
        .arg("-o")
        .arg(&seccomp));
    let msg = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{msg}");
    assert!(
        msg.contains("already running") && msg.contains("--allow-partial"),
        "{msg}"
    );
    let out = run(vigil()
        .args(["profile", "seccomp", "--allow-partial"])
        .arg(&profile)
        .arg("-o")
        .arg(&seccomp));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );

    // Replicas selected by label: one workload, one instance per container.
    let label = format!("app=vp-rep-{}", std::process::id());
    let replicas = [name("rep1"), name("rep2")];
    for r in &replicas {
        rm_container(r);
        let up = run(Command::new("podman").args([
            "run",
            "-d",
            "--name",
            r,
            "--label",
            &label,
            IMAGE,
            "sh",
            "-c",
            "while :; do cat /etc/hostname >/dev/null; sleep 0.2; done",
        ]));
        assert!(up.status.success(), "{}", text(&up.stderr));
    }
    let profile = dir.path().join("replicas.yaml");
    let out = run(vigil()
        .args([
            "profile",
            "record",
            "--label",
            &label,
            "--duration",
            "2",
            "-o",
        ])
        .arg(&profile));
    for r in &replicas {
        rm_container(r);
    }
    assert!(out.status.success(), "{}", text(&out.stderr));
    let yaml = std::fs::read_to_string(&profile).unwrap();
    assert_eq!(yaml.matches("\n- name: ").count(), 1, "{yaml}");
    assert!(
        yaml.contains("- name: localhost/vigil-test-debian\n"),
        "{yaml}"
    );
    for r in &replicas {
        assert!(
            yaml.contains(&format!("name: {r}\n")),
            "{r} missing:\n{yaml}"
        );
    }
    assert!(
        yaml.contains(&format!(
            "    labels:\n      app: vp-rep-{}\n",
            std::process::id()
        )),
        "scope is not the selector:\n{yaml}"
    );

    // Never appears: error, nothing written.
    let profile = dir.path().join("never.yaml");
    let out = run(vigil()
        .args([
            "profile",
            "record",
            "--wait-for",
            "vp-no-such-container",
            "--wait-timeout",
            "2",
            "-o",
        ])
        .arg(&profile));
    let msg = text(&out.stderr);
    assert!(!out.status.success(), "{msg}");
    assert!(msg.contains("did not start within"), "{msg}");
    assert!(!profile.exists());

    // Unknown running container: clear error.
    let out = run(vigil()
        .args([
            "profile",
            "record",
            "--container",
            "vp-no-such-container",
            "-o",
        ])
        .arg(&profile));
    assert!(
        text(&out.stderr).contains("--wait-for"),
        "{}",
        text(&out.stderr)
    );
    assert!(!profile.exists());
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn bad_profile_files_get_clear_errors() {
    let dir = tmpdir();
    let d = dir.path();
    let out_json = d.join("out.json");
    let cases = [
        (
            "corrupt.yaml",
            "version: 1\nworkloads:\n  - name: web\n    syscalls: [read, write\n",
            "corrupt.yaml:",
        ),
        (
            "unknown.yaml",
            "version: 1\nworkloads:\n  - name: web\n    syscalls: [read, frobnicate]\n",
            "unknown.yaml:4:",
        ),
        ("empty.yaml", "", "file is empty"),
        (
            "future.yaml",
            "version: 9\nworkloads: []\n",
            "version 9 is not supported",
        ),
    ];
    for (file, body, want) in cases {
        let p = write(d, file, body);
        let out = run(vigil()
            .args(["profile", "seccomp"])
            .arg(&p)
            .arg("-o")
            .arg(&out_json));
        let msg = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {msg}");
        assert!(msg.contains(want), "{file}: {msg}");
        if file == "unknown.yaml" {
            assert!(msg.contains("unknown syscall name 'frobnicate'"), "{msg}");
        }
        assert!(!out_json.exists());
    }
    // A syntactically fine but empty recording: refused, and --allow-partial does not help.
    let p = write(
        d,
        "nothing.yaml",
        "version: 1\nworkloads:\n  - name: web\n    instances: [{name: web, from_start: true}]\n",
    );
    let out = run(vigil()
        .args(["profile", "seccomp", "--allow-partial"])
        .arg(&p)
        .arg("-o")
        .arg(&out_json));
    let msg = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{msg}");
    assert!(msg.contains("the recording is empty"), "{msg}");
    assert!(!out_json.exists());
    // No workloads at all.
    let p = write(d, "none.yaml", "version: 1\nworkloads: []\n");
    for sub in ["seccomp", "rules", "policy"] {
        let out = run(vigil().args(["profile", sub]).arg(&p));
        assert!(!out.status.success(), "{sub}");
        assert!(
            text(&out.stderr).contains("no workloads"),
            "{sub}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn diff_reports_changes_with_exit_status() {
    let dir = tmpdir();
    let a = write(dir.path(), "a.yaml", "version: 1\nworkloads:\n  - name: web\n    syscalls: [read, write]\n    exec: [{path: /usr/bin/busybox, names: [httpd]}]\n");
    let b = write(dir.path(), "b.yaml", "version: 1\nworkloads:\n  - name: web\n    syscalls: [read, write, ptrace]\n    exec: [{path: /usr/bin/busybox, names: [httpd]}, {path: /usr/bin/nc.openbsd, names: [nc]}]\n");
    let out = run(vigil().args(["profile", "diff"]).arg(&a).arg(&b));
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(
        s.contains("+ ptrace") && s.contains("+ /usr/bin/nc.openbsd (as nc)"),
        "{s}"
    );
    let out = run(vigil().args(["profile", "diff"]).arg(&a).arg(&a));
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("no change"));
}

#[test]
fn generated_rules_and_policy_load() {
    let dir = tmpdir();
    let p = write(dir.path(), "p.yaml", "version: 1\nworkloads:\n  - name: shop web\n    scope: {names: [shop-web], labels: {app: shop}}\n    exec: [{path: /usr/sbin/nginx, names: [nginx]}]\n    files: {write: [/var/cache/nginx/, /var/log/nginx/access.log], read_sensitive: [/etc/ssl/private/key.pem]}\n    network:\n      listen: [{address: 0.0.0.0, port: 80, protocol: tcp}]\n      connect: [{address: 10.0.0.5, port: 5432, protocol: tcp}, {address: '::1', port: 53, protocol: udp}]\n");
    let rules = dir.path().join("r.yaml");
    let out = run(vigil()
        .args(["profile", "rules"])
        .arg(&p)
        .arg("-o")
        .arg(&rules));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(vigil().args(["rules", "validate"]).arg(&rules));
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let pol = dir.path().join("pol.yaml");
    let out = run(vigil()
        .args(["profile", "policy", "--mode", "enforce"])
        .arg(&p)
        .arg("-o")
        .arg(&pol));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let body = std::fs::read_to_string(&pol).unwrap();
    assert!(
        body.contains("mode: enforce")
            && body.contains("{cidr: ::1/128, ports: [53], protocol: udp}"),
        "{body}"
    );
    assert!(
        !body.contains("'/etc/ssl/private/'"),
        "a path the workload read is denied: {body}"
    );
    let out = run(vigil().args(["policy", "validate"]).arg(&pol));
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn records_every_container_of_a_k8s_namespace_merging_replicas() {
    require_live!();
    let _g = serial();
    let dir = tmpdir();
    // Pods as the kubelet's CRI labels them (podman containers carrying those labels are
    // what vigil's container state reads for k8s.ns.name / k8s.pod.name).
    let ns = format!("vp-ns-{}", std::process::id());
    let pods = [name("ns-web-a"), name("ns-web-b"), name("ns-db")];
    for (pod, cname) in pods.iter().zip(["web", "web", "db"]) {
        rm_container(pod);
        let up = run(Command::new("podman").args([
            "run",
            "-d",
            "--name",
            pod,
            "--label",
            &format!("io.kubernetes.pod.namespace={ns}"),
            "--label",
            &format!("io.kubernetes.pod.name={pod}"),
            "--label",
            &format!("io.kubernetes.container.name={cname}"),
            IMAGE,
            "sh",
            "-c",
            "while :; do cat /etc/hostname >/dev/null; sleep 0.2; done",
        ]));
        assert!(up.status.success(), "{}", text(&up.stderr));
    }
    // A container of another namespace is not recorded.
    let other = name("ns-other");
    rm_container(&other);
    let up = run(Command::new("podman").args([
        "run",
        "-d",
        "--name",
        &other,
        "--label",
        "io.kubernetes.pod.namespace=elsewhere",
        "--label",
        "io.kubernetes.pod.name=x",
        "--label",
        "io.kubernetes.container.name=web",
        IMAGE,
        "sleep",
        "60",
    ]));
    assert!(up.status.success(), "{}", text(&up.stderr));
    let profile = dir.path().join("ns.yaml");
    let out = run(vigil()
        .args([
            "profile",
            "record",
            "--k8s-namespace",
            &ns,
            "--duration",
            "2",
            "-o",
        ])
        .arg(&profile));
    for p in pods.iter().chain([&other]) {
        rm_container(p);
    }
    assert!(out.status.success(), "{}", text(&out.stderr));
    let yaml = std::fs::read_to_string(&profile).unwrap();
    assert_eq!(yaml.matches("\n- name: ").count(), 2, "{yaml}");
    assert!(yaml.contains(&format!("- name: {ns}/web\n")), "{yaml}");
    assert!(yaml.contains(&format!("- name: {ns}/db\n")), "{yaml}");
    for p in &pods {
        assert!(
            yaml.contains(&format!("name: {p}\n")),
            "{p} missing:\n{yaml}"
        );
    }
    assert!(
        !yaml.contains(&other),
        "another namespace was recorded:\n{yaml}"
    );
    assert!(
        yaml.contains(&format!("    k8s_namespaces:\n    - {ns}\n")),
        "scope is not the namespace:\n{yaml}"
    );
    // The generated policy is scoped by namespace and validates.
    let pol = dir.path().join("ns-policy.yaml");
    let out = run(vigil()
        .args(["profile", "policy"])
        .arg(&profile)
        .arg("-o")
        .arg(&pol));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let body = std::fs::read_to_string(&pol).unwrap();
    assert!(body.contains(&ns), "{body}");
    let out = run(vigil().args(["policy", "validate"]).arg(&pol));
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}
