//! Response latency benchmark (needs root):
//! `cargo bench -p vigil-response --bench response-latency [-- N]`.
//!
//! Every run happens in a scratch cgroup v2 (`/sys/fs/cgroup/unified/vigil-bench`) that the
//! enforcer treats as a container. Processes are forked by this benchmark and do only raw
//! system calls, so every instant is known exactly:
//!
//! 1. In-kernel kill at open (deny_read) and at exec (exec deny): the child writes
//!    CLOCK_MONOTONIC into a pipe, makes the syscall, and would write `RETURNED` (open) or
//!    run a program printing `RAN` (exec) if it ever got back to user space. Measured:
//!    syscall entry → kernel decision (the report's `bpf_ktime_get_ns`), kernel decision →
//!    the parent's waitpid() return (an upper bound of the death), and how many runs
//!    returned to user space (target: 0), how many died by anything but SIGKILL.
//! 2. Refusals (connect to a denied 127.0.0.x port, connect to a denied unix socket): the
//!    syscall's duration and errno.
//! 3. User-space responses to a kernel-detected event: an audit-mode policy reports the
//!    open of a watched file; the benchmark waits on the report ring (poll(2)), then
//!    `kill_process`, `kill_container` (a cgroup of 4 processes) or `isolate_network`.
//!    Measured: the offending syscall's entry → the response done (process dead / map
//!    written). Target p99 < 50 ms.
//!
//! Prints n, p50, p99, max per measurement, and the CPU time of this process. No
//! assertions: speed targets are not tests. Other processes on the machine disturb the
//! wall-clock figures; the kill-before-return counts are exact.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use vigil_response::{monotonic_ns, parse_str, Enforcer, Outcome, RuleAction};

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn print(name: &str, v: &mut [f64]) {
    if v.is_empty() {
        println!("{name:<58} no samples");
        return;
    }
    let (p50, p99, max) = (pct(v, 0.5), pct(v, 0.99), pct(v, 1.0));
    println!(
        "{name:<58} n={:<4} p50={p50:>9.1} us  p99={p99:>9.1} us  max={max:>9.1} us",
        v.len()
    );
}

fn cpu_secs() -> f64 {
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one rusage into the valid, owned `ru`.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

/// What the forked child does after entering the cgroup and writing its start time.
enum Act<'a> {
    /// open(path) then write RETURNED.
    Open(&'a std::ffi::CStr),
    /// execve(path, [path, "RAN"]) with stdout on the pipe.
    Exec(&'a std::ffi::CStr),
    /// open(path) (audit-only), then pause() until killed.
    OpenThenWait(&'a std::ffi::CStr),
}

struct Run {
    pid: libc::pid_t,
    /// Read end: 8 bytes of start time, then whatever the child printed.
    pipe: std::fs::File,
}

/// Forks a child that joins `procs` (an open `cgroup.procs`), writes CLOCK_MONOTONIC, acts.
fn spawn(procs: &std::fs::File, act: &Act<'_>) -> Run {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two descriptors into the valid array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let ran_arg = c"RAN";
    let returned = b"RETURNED";
    // SAFETY: the child only makes async-signal-safe calls (write, clock_gettime, open,
    // execve, dup2, pause, _exit) on memory prepared before the fork, then exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        // SAFETY: see above; every pointer refers to memory of this (copied) address space.
        unsafe {
            libc::close(fds[0]);
            let me = b"0\n";
            libc::write(procs.as_raw_fd(), me.as_ptr().cast(), me.len());
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
            let t = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
            libc::write(fds[1], (&t as *const u64).cast(), 8);
            match act {
                Act::Open(p) => {
                    libc::open(p.as_ptr(), libc::O_RDONLY);
                    libc::write(fds[1], returned.as_ptr().cast(), returned.len());
                }
                Act::Exec(p) => {
                    libc::dup2(fds[1], 1);
                    let argv = [p.as_ptr(), ran_arg.as_ptr(), std::ptr::null()];
                    let envp = [std::ptr::null()];
                    libc::execve(p.as_ptr(), argv.as_ptr(), envp.as_ptr());
                    libc::write(fds[1], returned.as_ptr().cast(), returned.len());
                }
                Act::OpenThenWait(p) => {
                    libc::open(p.as_ptr(), libc::O_RDONLY);
                    libc::pause();
                }
            }
            libc::_exit(0);
        }
    }
    // SAFETY: closing our copy of the write end; fds[0] becomes owned by the File.
    unsafe { libc::close(fds[1]) };
    Run {
        pid,
        // SAFETY: fds[0] is a fresh descriptor nothing else owns.
        pipe: unsafe { std::fs::File::from_raw_fd(fds[0]) },
    }
}

/// Reads the child's start time (first 8 bytes) and the rest of its output until EOF.
fn collect(mut run: Run) -> (u64, Vec<u8>, i32, u64) {
    let mut all = Vec::new();
    let _ = run.pipe.read_to_end(&mut all);
    let mut status = 0;
    // SAFETY: waitpid on our own child with a valid status pointer.
    unsafe { libc::waitpid(run.pid, &mut status, 0) };
    let reaped = monotonic_ns();
    let start = all
        .get(..8)
        .map(|b| u64::from_ne_bytes(b.try_into().unwrap()))
        .unwrap_or(0);
    let rest = all.get(8..).unwrap_or_default().to_vec();
    (start, rest, status, reaped)
}

fn wait_report(enf: &mut Enforcer) -> Option<vigil_response::ActionReport> {
    let mut got = None;
    for _ in 0..200 {
        enf.poll(|r| got = Some(r));
        if got.is_some() {
            break;
        }
        enf.wait(Duration::from_millis(10));
    }
    got
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: response-latency needs root");
        return;
    }
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200);
    let cg = Path::new("/sys/fs/cgroup/unified/vigil-bench");
    let _ = std::fs::create_dir(cg);
    let cg_id = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(cg).expect("cgroup v2 scratch dir").ino()
    };
    let procs = std::fs::OpenOptions::new()
        .write(true)
        .open(cg.join("cgroup.procs"))
        .unwrap();
    let tmp = std::env::temp_dir();
    let secret = tmp.join("vigil-bench-secret");
    let watched = tmp.join("vigil-bench-watched");
    std::fs::write(&secret, "SECRET-CONTENT\n").unwrap();
    std::fs::write(&watched, "x\n").unwrap();
    // A denied program that would print if it ever ran.
    let denied = tmp.join("vigil-bench-denied");
    std::fs::copy("/usr/bin/echo", &denied).unwrap();
    let sockdir = tmp.join("vigil-bench-sock");
    let _ = std::fs::create_dir(&sockdir);
    let sock = sockdir.join("runtime.sock");
    let _ = std::fs::remove_file(&sock);
    let _unix = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.11:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let yaml = format!(
        "policies:\n- name: bench\n  mode: enforce\n  exec: {{deny: [{}]}}\n  files: {{deny_read: [{}]}}\n  network:\n    egress: {{deny: [{{cidr: 127.0.0.11/32, ports: [{port}]}}]}}\n    unix_deny: [{}]\n- name: watch\n  mode: audit\n  files: {{deny_read: [{}]}}\n",
        denied.display(),
        secret.display(),
        sock.display(),
        watched.display()
    );
    let files = vec![parse_str(Path::new("bench.yaml"), &yaml).unwrap()];
    let mut enf = Enforcer::open(&files).expect("open enforcer");
    enf.container_started(
        cg_id,
        &vigil_event::Container {
            id: "bench".into(),
            name: "bench".into(),
            ..Default::default()
        },
    )
    .unwrap();
    println!(
        "response latency: n={n} per measurement; unix sockets: {}",
        enf.unix_enforcement()
    );
    let cpu0 = cpu_secs();
    let c = |p: &PathBuf| std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    let (secret_c, denied_c, watched_c) = (c(&secret), c(&denied), c(&watched));

    // 1. In-kernel kills.
    for (label, act) in [
        ("open", Act::Open(&secret_c)),
        ("exec", Act::Exec(&denied_c)),
    ] {
        let (mut to_decision, mut to_reaped) = (Vec::new(), Vec::new());
        let (mut returned, mut not_sigkill) = (0usize, 0usize);
        for _ in 0..n {
            let (start, out, status, reaped) = collect(spawn(&procs, &act));
            if !(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL) {
                not_sigkill += 1;
            }
            if !out.is_empty() {
                returned += 1;
                if returned == 1 {
                    println!(
                        "  returned to user space: {:?}",
                        String::from_utf8_lossy(&out)
                    );
                }
            }
            if let Some(k) = wait_report(&mut enf).and_then(|r| r.kernel_time_ns) {
                to_decision.push(k.saturating_sub(start) as f64 / 1e3);
                to_reaped.push(reaped.saturating_sub(k) as f64 / 1e3);
            }
        }
        print(
            &format!("kill at {label}: syscall entry -> kernel decision"),
            &mut to_decision,
        );
        print(
            &format!("kill at {label}: kernel decision -> waitpid() returns"),
            &mut to_reaped,
        );
        println!(
            "{:<58} returned to user space after the syscall: {returned}/{n}; not killed by SIGKILL: {not_sigkill}/{n}",
            format!("kill at {label}:")
        );
    }

    // 2. Refusals, from forked children in the cgroup.
    for (label, unix) in [
        ("connect 127.0.0.11 (denied port)", false),
        ("connect unix runtime.sock", true),
    ] {
        let mut lat = Vec::new();
        let mut errnos = std::collections::BTreeMap::new();
        for _ in 0..n {
            let mut fds = [0i32; 2];
            // SAFETY: pipe2 writes two descriptors into the valid array.
            assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
            let addr4 = libc::sockaddr_in {
                sin_family: libc::AF_INET as u16,
                sin_port: port.to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(std::net::Ipv4Addr::new(127, 0, 0, 11)).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
            let mut addru: libc::sockaddr_un = unsafe { std::mem::zeroed() };
            addru.sun_family = libc::AF_UNIX as u16;
            for (i, b) in sock.to_str().unwrap().bytes().enumerate() {
                addru.sun_path[i] = b as libc::c_char;
            }
            // SAFETY: as in `spawn`: the child makes only async-signal-safe calls on memory
            // prepared before the fork.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                // SAFETY: see the fork above: raw, async-signal-safe calls on prepared memory.
                unsafe {
                    libc::close(fds[0]);
                    let me = b"0\n";
                    libc::write(procs.as_raw_fd(), me.as_ptr().cast(), me.len());
                    let fam = if unix { libc::AF_UNIX } else { libc::AF_INET };
                    let s = libc::socket(fam, libc::SOCK_STREAM, 0);
                    let mut a = libc::timespec {
                        tv_sec: 0,
                        tv_nsec: 0,
                    };
                    let mut b = a;
                    libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut a);
                    let r = if unix {
                        libc::connect(
                            s,
                            (&addru as *const libc::sockaddr_un).cast(),
                            std::mem::size_of::<libc::sockaddr_un>() as u32,
                        )
                    } else {
                        libc::connect(
                            s,
                            (&addr4 as *const libc::sockaddr_in).cast(),
                            std::mem::size_of::<libc::sockaddr_in>() as u32,
                        )
                    };
                    let e = if r < 0 { *libc::__errno_location() } else { 0 };
                    libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut b);
                    let d = (b.tv_sec - a.tv_sec) * 1_000_000_000 + (b.tv_nsec - a.tv_nsec);
                    let msg = [d, e as i64];
                    libc::write(fds[1], msg.as_ptr().cast(), 16);
                    libc::_exit(0);
                }
            }
            // SAFETY: closing our copy of the write end.
            unsafe { libc::close(fds[1]) };
            // SAFETY: fds[0] is a fresh descriptor nothing else owns.
            let mut f = unsafe { std::fs::File::from_raw_fd(fds[0]) };
            let mut buf = [0u8; 16];
            let ok = f.read_exact(&mut buf).is_ok();
            let mut st = 0;
            // SAFETY: waitpid on our own child.
            unsafe { libc::waitpid(pid, &mut st, 0) };
            if ok {
                let d = i64::from_ne_bytes(buf[..8].try_into().unwrap());
                let e = i64::from_ne_bytes(buf[8..].try_into().unwrap());
                lat.push(d as f64 / 1e3);
                *errnos.entry(e).or_insert(0usize) += 1;
            }
            let _ = wait_report(&mut enf);
        }
        print(&format!("{label}: syscall duration"), &mut lat);
        let names: Vec<String> = errnos
            .iter()
            .map(|(e, c)| {
                format!(
                    "{}={c}",
                    if *e == 0 {
                        "success".to_string()
                    } else {
                        std::io::Error::from_raw_os_error(*e as i32).to_string()
                    }
                )
            })
            .collect();
        println!("{:<58} results: {}", format!("{label}:"), names.join(", "));
    }

    // 3. User-space responses to a kernel-detected event (audit report -> action).
    for action in [
        RuleAction::KillProcess,
        RuleAction::KillContainer,
        RuleAction::IsolateNetwork,
    ] {
        let mut lat = Vec::new();
        let mut failed = 0usize;
        let rounds = if action == RuleAction::KillProcess {
            n
        } else {
            n.min(100)
        };
        for _ in 0..rounds {
            // kill_container: three bystanders in the cgroup besides the offender.
            let mut others = Vec::new();
            if action == RuleAction::KillContainer {
                for _ in 0..3 {
                    others.push(spawn(&procs, &Act::OpenThenWait(c"/dev/null")));
                }
            }
            let run = spawn(&procs, &Act::OpenThenWait(&watched_c));
            let Some(rep) = wait_report(&mut enf) else {
                failed += 1;
                continue;
            };
            let pid = rep.target.pid;
            let r = enf.respond(action, pid, Some(cg_id), None);
            let done = monotonic_ns();
            let mut start = [0u8; 8];
            let mut pipe = &run.pipe;
            let _ = pipe.read_exact(&mut start);
            if r.outcome == Outcome::Done {
                lat.push(done.saturating_sub(u64::from_ne_bytes(start)) as f64 / 1e3);
            } else {
                failed += 1;
            }
            if action == RuleAction::IsolateNetwork {
                enf.unisolate(cg_id);
                // SAFETY: kill(2) of our own child.
                unsafe { libc::kill(run.pid, libc::SIGKILL) };
            }
            let _ = collect(run);
            for o in others {
                // SAFETY: kill(2) of our own child (already dead after kill_container).
                unsafe { libc::kill(o.pid, libc::SIGKILL) };
                let _ = collect(o);
            }
        }
        print(
            &format!("user-space {}: syscall entry -> done", action.as_str()),
            &mut lat,
        );
        if failed > 0 {
            println!("{:<58} failed: {failed}", "");
        }
    }

    println!(
        "CPU time of the benchmark process (enforcer + harness): {:.2} s",
        cpu_secs() - cpu0
    );
    let stats = enf.stats();
    println!(
        "kernel counters: reports lost {}, paths truncated {}",
        stats.reports_lost, stats.paths_truncated
    );
    enf.container_stopped(cg_id);
    drop(enf);
    let _ = std::fs::remove_file(&secret);
    let _ = std::fs::remove_file(&watched);
    let _ = std::fs::remove_file(&denied);
    let _ = std::fs::remove_file(&sock);
    let _ = std::fs::remove_dir(&sockdir);
    // Children have exited; the cgroup is empty again.
    std::thread::sleep(Duration::from_millis(100));
    let _ = std::fs::remove_dir(cg);
}
