//! Response latency benchmark (needs root): `cargo bench -p vigil-response --bench response-latency`.
//!
//! 1. In-kernel kill, file: a process in a scratch cgroup v2 (`vigil-bench`) runs
//!    `cat SECRET` under a deny_read policy. Measured: kernel decision (report timestamp,
//!    CLOCK_MONOTONIC) → the parent's waitpid() return, and bytes the process printed after
//!    the syscall (must be 0: it never returned to user space).
//! 2. In-kernel kill, exec: same for exec of a denied binary.
//! 3. User-space responses: `kill_process` on a sleeping child (SIGKILL → dead), and the
//!    delay from a kernel decision to the report being read (poll every 1 ms).
//!
//! Prints p50/p99; no assertions (speed targets are not tests).

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use vigil_response::{monotonic_ns, parse_str, Enforcer, RuleAction};

const N: usize = 200;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn print(name: &str, v: &mut [f64]) {
    if v.is_empty() {
        println!("{name:<48} no samples");
        return;
    }
    let (p50, p99, max) = (pct(v, 0.5), pct(v, 0.99), pct(v, 1.0));
    println!(
        "{name:<48} n={:<4} p50={p50:>9.1} us  p99={p99:>9.1} us  max={max:>9.1} us",
        v.len()
    );
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: response-latency needs root");
        return;
    }
    let cg = Path::new("/sys/fs/cgroup/unified/vigil-bench");
    let _ = std::fs::create_dir(cg);
    let cg_id = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(cg).expect("cgroup v2 scratch dir").ino()
    };
    let secret = std::env::temp_dir().join("vigil-bench-secret");
    std::fs::write(&secret, "SECRET-CONTENT\n").unwrap();
    // A denied program that would print if it ever ran.
    let denied = std::env::temp_dir().join("vigil-bench-denied");
    std::fs::copy("/usr/bin/echo", &denied).unwrap();
    let yaml = format!(
        "policies:\n- name: bench\n  mode: enforce\n  exec: {{deny: [{}]}}\n  files: {{deny_read: [{}]}}\n",
        denied.display(),
        secret.display()
    );
    let files = vec![parse_str(Path::new("bench.yaml"), &yaml).unwrap()];
    let mut enf = Enforcer::open(&files).expect("open enforcer");
    enf.container_started(
        cg_id,
        &vigil_event::Container {
            name: "bench".into(),
            ..Default::default()
        },
    )
    .unwrap();

    for (label, cmd) in [
        (
            "in-kernel kill at open (decision -> reaped)",
            format!("exec cat {}", secret.display()),
        ),
        (
            "in-kernel kill at exec (decision -> reaped)",
            format!("exec {} RAN", denied.display()),
        ),
    ] {
        let mut lat = Vec::new();
        let (mut leaked, mut not_killed) = (0usize, 0usize);
        for _ in 0..N {
            let script = format!("echo $$ > {}/cgroup.procs; {cmd}", cg.display());
            let mut child = Command::new("sh")
                .args(["-c", &script])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut out = Vec::new();
            let _ = child.stdout.take().unwrap().read_to_end(&mut out);
            let mut err = Vec::new();
            let _ = child.stderr.take().unwrap().read_to_end(&mut err);
            let st = child.wait().unwrap();
            let reaped = monotonic_ns();
            if st.signal() != Some(libc::SIGKILL) {
                not_killed += 1;
            }
            if leaked == 0 && !(out.is_empty() && err.is_empty()) {
                println!(
                    "  first output: {:?}",
                    String::from_utf8_lossy(&[out.clone(), err.clone()].concat())
                );
            }
            leaked += out.len() + err.len();
            let mut k = None;
            enf.poll(|r| k = r.kernel_time_ns);
            if let Some(k) = k {
                lat.push(reaped.saturating_sub(k) as f64 / 1e3);
            }
        }
        print(label, &mut lat);
        println!("{:<48} bytes printed after the syscall: {leaked}, runs not killed by SIGKILL: {not_killed}", "");
    }

    // Report delivery: decision -> report read, polling every 1 ms.
    let mut delivery = Vec::new();
    for _ in 0..50 {
        let script = format!(
            "echo $$ > {}/cgroup.procs; exec cat {}",
            cg.display(),
            secret.display()
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdout(Stdio::null())
            .status();
        for _ in 0..100 {
            let mut got = None;
            enf.poll(|r| got = r.latency);
            if let Some(l) = got {
                delivery.push(l.as_secs_f64() * 1e6);
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    print("kernel decision -> report read (1 ms poll)", &mut delivery);

    let mut kills = Vec::new();
    for _ in 0..N {
        let child = Command::new("sleep").arg("60").spawn().unwrap();
        let r = enf.respond(RuleAction::KillProcess, child.id(), None, None);
        let mut child = child;
        let _ = child.wait();
        if let Some(l) = r.latency {
            kills.push(l.as_secs_f64() * 1e6);
        }
    }
    print("user-space kill_process (SIGKILL -> dead)", &mut kills);

    enf.container_stopped(cg_id);
    drop(enf);
    let _ = std::fs::remove_file(&secret);
    let _ = std::fs::remove_file(&denied);
    let _ = std::fs::remove_dir(cg);
}
