//! End-to-end tests of `vigil monitor`: the real binary, the real eBPF sensor, real podman
//! containers (runc) from the locally built Debian image, and the embedded default rules.
//!
//! Needs root, BTF and podman; without them every test prints `SKIP:` and returns. The image
//! is built by `scripts/test-image.sh` (run by `scripts/test.sh` before `cargo test`).
//! Monitors are serialized by a global lock: two sensors at once would only slow each other.
//! The harness (background `vigil`, podman, skips) is `common/mod.rs`, shared with
//! `rules_live_e2e.rs` (a live case for every ERROR and CRITICAL default rule) and
//! `capture_e2e.rs`.

mod common;

use common::{
    assert_container_metadata, field, in_container, podman_run, require, serial, unique, Vigil,
    IMAGE, MEMFD_EXEC_PY, PTRACE_ATTACH_PY,
};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn container_threats_raise_default_rule_alerts() {
    require!(true);
    let _g = serial();
    let m = Vigil::monitor(&[]);
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
    assert!(field(&a, "fd.name").ends_with("/bin/evil"), "{a}");
    assert_container_metadata(&a, &c);

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
    assert_container_metadata(&a, &c);

    let c = unique("memfd");
    podman_run(&c, &["--network=none"], &["python3", "-c", MEMFD_EXEC_PY]);
    let a = m.expect("Fileless execution from memory", t, |a| in_container(a, &c));
    // The kernel names the program after the path it ran (/proc/self/fd/N): the memfd's name
    // is in the executable's path.
    assert!(field(&a, "proc.exepath").contains("memfd:payload"), "{a}");
    assert_container_metadata(&a, &c);

    let c = unique("ptrace");
    podman_run(
        &c,
        &["--network=none"],
        &["python3", "-c", PTRACE_ATTACH_PY],
    );
    let a = m.expect("Process attached to another with ptrace", t, |a| {
        in_container(a, &c)
    });
    assert_eq!(
        a["output_fields"]["evt.arg.request"], "PTRACE_ATTACH",
        "{a}"
    );
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
    let m = Vigil::monitor(&["--with-defaults", "-r", rules]);
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

    Command::new("python3")
        .arg("-c")
        .arg(MEMFD_EXEC_PY)
        .output()
        .unwrap();
    m.expect("Fileless execution from memory", t, |a| {
        a["output_fields"]["container.id"] == "host"
    });

    let child = Command::new("python3")
        .arg("-c")
        .arg(PTRACE_ATTACH_PY)
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
    let m = Vigil::monitor(&[]);
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
    let m = Vigil::monitor(&[
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
    podman_run(&c, &["--network=none"], &["python3", "-c", MEMFD_EXEC_PY]);
    m.expect("Fileless execution via memfd_create", t, |a| {
        in_container(a, &c)
    });

    let c = unique("up-ptrace");
    podman_run(
        &c,
        &["--network=none"],
        &["python3", "-c", PTRACE_ATTACH_PY],
    );
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
    let m = Vigil::monitor(&["-r", rules.to_str().unwrap()]);
    let t = Duration::from_secs(15);
    let _ = std::fs::read(&marker_a);
    std::fs::write(&marker_a, b"x").unwrap();
    let _ = std::fs::read(&marker_a);
    m.expect("Reload first", t, |_| true);

    // A broken file: the reload is refused and the old rule keeps working.
    std::fs::write(&rules, "- rule: broken\n  condition: (evt.type = open\n").unwrap();
    m.signal(libc::SIGHUP);
    m.expect_stderr("reload failed", t);
    let before = m.alert_count();
    let _ = std::fs::read(&marker_a);
    let deadline = Instant::now() + t;
    while m.alert_count() == before {
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
    m.signal(libc::SIGHUP);
    m.expect_stderr("reloaded", t);
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
    let m = Vigil::monitor(&[
        "-r",
        rules.to_str().unwrap(),
        "--ring-buffer-mb",
        "1",
        "--stats-interval",
        "1",
        "--min-priority",
        "debug",
        // Every open walks its path (and the switch is reported on the final line).
        "--no-path-cache",
    ]);
    // Freeze the monitor so the 1 MiB ring buffer overflows for certain, then let it go.
    m.signal(libc::SIGSTOP);
    let file = dir.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let until = Instant::now() + Duration::from_millis(1500);
    let mut opens = 0u64;
    while Instant::now() < until {
        drop(std::fs::File::open(&file).unwrap());
        opens += 1;
    }
    m.signal(libc::SIGCONT);
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
    assert!(
        fin.contains("path cache off (turned off in the configuration): 0 hits"),
        "{fin}"
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
    let metrics = common::http_get(("127.0.0.1", port), "/metrics");
    assert!(
        metrics.contains("falcosecurity_falco_rules_matches_total")
            && metrics.contains("Marker opened"),
        "rule matches not in /metrics"
    );
    let health = common::http_get(("127.0.0.1", port), "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "unhealthy: {health}");
    // SAFETY: signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
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
    let m = Vigil::monitor(&["--policy", pol.to_str().unwrap()]);
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
