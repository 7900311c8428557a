//! `vigil replay` end to end: the real binary on JSON Lines and binary captures of the same
//! activity, text and JSON output, the embedded default rules, and corrupt input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use vigil_capture::binary::BinaryWriter;
use vigil_capture::{jsonl, OwnedRecord, ParamBuf, Record, Stats};
use vigil_event::Alert;

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .output()
        .expect("run vigil")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const RULES: &str = r#"
- list: readers
  items: [cat, less]
- rule: Shadow read
  desc: test
  condition: evt.type = openat and evt.dir = < and fd.name = /etc/shadow and proc.name in (readers)
  output: "shadow read by %proc.name parent=%proc.pname container=%container.name (file=%fd.name)"
  priority: WARNING
  tags: [test]
- rule: Curl run
  desc: test
  condition: evt.type = execve and proc.name = curl
  output: "curl run by %user.name in %container.id"
  priority: NOTICE
"#;

/// A container shell that reads /etc/shadow, then runs curl, which exits.
const CAPTURE: &str = r#"{"host":{"hostname":"node-7","boot_ts":1699990000000000000}}
{"container":{"id":"f00df00df00df00df00df00df00df00df00df00df00df00df00df00df00df00d","name":"web","image":"nginx:1.25","image_repository":"nginx"}}
{"users":{"container_id":"f00df00df00df00df00df00df00df00df00df00df00df00df00df00df00df00d","users":[{"uid":0,"name":"root"},{"uid":101,"name":"nginx"}]}}
{"process":{"pid":100,"ppid":1,"comm":"bash","exepath":"/bin/bash","uid":101,"container_id":"f00df00df00df00df00df00df00df00df00df00df00df00df00df00df00df00d"}}
{"event":"clone","pid":101,"ts":"2024-05-01T10:00:00Z","args":{"ptid":100}}
{"event":"execve","pid":101,"args":{"exe":"cat","args":["/etc/shadow"],"trusted_exepath":"/bin/cat"}}
{"event":"openat","pid":101,"res":3,"args":{"fd":3,"name":"/etc/shadow","flags":"O_RDONLY"},"fd":{"num":3,"type":"file","name":"/etc/shadow"}}
{"event":"procexit","pid":101,"args":{"status":0}}
{"event":"openat","pid":101,"res":3,"args":{"fd":3,"name":"/etc/shadow","flags":"O_RDONLY"},"fd":{"num":3,"type":"file","name":"/etc/shadow"}}
{"event":"clone","pid":102,"args":{"ptid":100}}
{"event":"execve","pid":102,"args":{"exe":"curl","args":["http://example.invalid/"],"trusted_exepath":"/usr/bin/curl"}}
"#;

struct Fixture {
    _dir: tempfile::TempDir,
    rules: PathBuf,
    jsonl: PathBuf,
    binary: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, RULES).unwrap();
    let jsonl_path = dir.path().join("cap.jsonl");
    std::fs::write(&jsonl_path, CAPTURE).unwrap();
    // The same records as a binary capture, as `vigil capture` would write them.
    let records = jsonl::parse_str(CAPTURE, "cap.jsonl").unwrap();
    let host = match &records[0] {
        OwnedRecord::Host(h) => h.clone(),
        other => panic!("{other:?}"),
    };
    let binary = dir.path().join("cap.vcap");
    let file = std::fs::File::create(&binary).unwrap();
    let mut w = BinaryWriter::new(file, binary.display().to_string(), &host).unwrap();
    let mut buf = ParamBuf::new();
    for r in &records[1..] {
        r.with_record(&mut buf, |rec: Record<'_>| w.write_record(&rec))
            .unwrap();
    }
    w.finish(Stats::default()).unwrap();
    Fixture {
        _dir: dir,
        rules,
        jsonl: jsonl_path,
        binary,
    }
}

fn replay(cap: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["replay", cap.to_str().unwrap()];
    args.extend_from_slice(extra);
    vigil(&args)
}

#[test]
fn text_output_and_summary() {
    let f = fixture();
    let out = replay(&f.jsonl, &["-r", f.rules.to_str().unwrap()]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    // The second open comes after procexit: the process is gone, so no alert for it.
    assert_eq!(
        lines,
        [
            "10:00:00.002000000: Warning shadow read by cat parent=bash container=web (file=/etc/shadow)",
            "10:00:00.006000000: Notice curl run by nginx in f00df00df00d",
        ],
        "{stdout}"
    );
    assert!(
        stderr.contains(
            "7 events, 2 alerts (2 processes created, 2 execs, 1 exits, 0 events for unknown pids)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("       1  Curl run"), "{stderr}");
    assert!(stderr.contains("       1  Shadow read"), "{stderr}");
}

#[test]
fn json_output_is_falco_shaped_and_binary_replays_identically() {
    let f = fixture();
    let rules = f.rules.to_str().unwrap();
    let a = replay(&f.jsonl, &["-r", rules, "--json"]);
    let b = replay(&f.binary, &["-r", rules, "--json"]);
    assert!(
        a.status.success() && b.status.success(),
        "{}{}",
        text(&a.stderr),
        text(&b.stderr)
    );
    assert!(!a.stdout.is_empty());
    assert_eq!(
        text(&a.stdout),
        text(&b.stdout),
        "binary and JSON Lines captures replay the same"
    );
    let alerts: Vec<Alert> = text(&a.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(alerts.len(), 2);
    let shadow = &alerts[0];
    assert_eq!(shadow.rule, "Shadow read");
    assert_eq!(shadow.hostname, "node-7");
    assert_eq!(shadow.source, "syscall");
    assert_eq!(shadow.tags, ["test"]);
    assert_eq!(shadow.time_rfc3339(), "2024-05-01T10:00:00.002000000Z");
    assert_eq!(shadow.output_fields["proc.name"].to_string(), "cat");
    assert_eq!(shadow.output_fields["container.name"].to_string(), "web");
    // --min-priority drops the Notice rule.
    let c = replay(
        &f.binary,
        &["-r", rules, "--json", "--min-priority", "warning"],
    );
    assert_eq!(text(&c.stdout).lines().count(), 1, "{}", text(&c.stdout));
}

#[test]
fn embedded_default_rules_are_used_without_r() {
    let f = fixture();
    let out = replay(&f.jsonl, &["--json"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let alerts: Vec<Alert> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        alerts
            .iter()
            .any(|a| a.rule == "Password database or sudo configuration read"
                && a.output_fields["fd.name"].to_string() == "/etc/shadow"),
        "{alerts:#?}"
    );
}

#[test]
fn corrupt_captures_fail_with_the_offset() {
    let f = fixture();
    let rules = f.rules.to_str().unwrap();
    let mut bytes = std::fs::read(&f.binary).unwrap();
    let n = bytes.len();
    bytes[n - 30] ^= 0x55;
    std::fs::write(&f.binary, &bytes).unwrap();
    let out = replay(&f.binary, &["-r", rules]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the capture is invalid"), "{stderr}");
    assert!(stderr.contains("byte offset"), "{stderr}");
    assert!(stderr.contains("checksum mismatch"), "{stderr}");

    std::fs::write(&f.binary, &bytes[..n / 2]).unwrap();
    let out = replay(&f.binary, &["-r", rules]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("truncated"),
        "{}",
        text(&out.stderr)
    );

    std::fs::write(&f.jsonl, "{\"event\":\"openat\",\"pid\":1}\n{\"event\":\"openat\",\"pid\":1,\"fd\":{\"type\":\"blob\"}}\n").unwrap();
    let out = replay(&f.jsonl, &["-r", rules]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains(&format!(
            "{}:2: key 'fd.type': unknown descriptor type 'blob'",
            f.jsonl.display()
        )),
        "{stderr}"
    );

    let out = replay(Path::new("/nonexistent/cap.jsonl"), &["-r", rules]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("/nonexistent/cap.jsonl"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn upstream_falco_rules_replay() {
    let upstream = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/falco-rules/falco_rules.yaml");
    assert!(
        upstream.exists(),
        "shared corpus missing: {}",
        upstream.display()
    );
    let f = fixture();
    let out = replay(
        &f.jsonl,
        &["-r", upstream.to_str().unwrap(), "--json", "--all-matches"],
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let alerts: Vec<Alert> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rules: Vec<&str> = alerts.iter().map(|a| a.rule.as_str()).collect();
    // The read after procexit has no process any more: upstream's condition still matches
    // (proc.name is not in its exclusion lists when it has no value), with null fields.
    assert_eq!(
        rules,
        [
            "Read sensitive file untrusted",
            "Read sensitive file untrusted"
        ],
        "{stderr}"
    );
    assert_eq!(alerts[0].output_fields["proc.name"].to_string(), "cat");
    assert_eq!(alerts[0].output_fields["proc.pname"].to_string(), "bash");
    assert_eq!(
        alerts[1].output_fields["proc.name"],
        vigil_event::FieldValue::Null
    );
}
