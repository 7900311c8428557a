//! `vigil rules test` end to end: the real binary on the upstream Falco stable cases, on a
//! failing case (report and exit status) and on a malformed cases file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run vigil")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn upstream_rules() -> PathBuf {
    let p = repo().join("../shared/corpus/falco-rules/falco_rules.yaml");
    assert!(
        p.exists(),
        "the shared corpus is missing: {} (see ../shared/README.md)",
        p.display()
    );
    p
}

/// Rule names defined in the upstream file.
fn upstream_rule_names() -> BTreeSet<String> {
    let text = std::fs::read_to_string(upstream_rules()).unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("- rule:"))
        .map(|n| n.trim().to_string())
        .collect()
}

/// Rules whose only positive case is skipped, with the reason checked below.
const POSITIVE_SKIPS: &[&str] = &["Contact K8S API Server From Container"];

#[test]
fn falco_stable_cases_pass() {
    let out = vigil(&["rules", "test", "tests/ruletests/falco_stable.yaml"]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "rules test failed:\n{stdout}\n{}",
        text(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    let (passed, failed) = last
        .split_once(" passed, ")
        .and_then(|(p, f)| {
            Some((
                p.parse::<usize>().ok()?,
                f.strip_suffix(" failed")?.parse::<usize>().ok()?,
            ))
        })
        .unwrap_or_else(|| panic!("last line is not 'N passed, M failed': {last:?}"));
    assert_eq!(failed, 0);
    // Two cases per rule at the very least.
    assert!(
        passed >= 2 * upstream_rule_names().len() - POSITIVE_SKIPS.len(),
        "{passed} passed"
    );
    assert_eq!(stdout.matches(" ... ok").count(), passed);
}

#[test]
fn every_upstream_rule_has_positive_and_negative_cases() {
    let file =
        vigil_capture::cases::load(&repo().join("tests/ruletests/falco_stable.yaml")).unwrap();
    assert!(file.all_matches);
    assert_eq!(
        file.rules,
        vec![repo().join("tests/ruletests/../../../shared/corpus/falco-rules/falco_rules.yaml")]
    );
    let mut missing = Vec::new();
    for rule in upstream_rule_names() {
        let positive = file.cases.iter().any(|c| {
            c.skip.is_none()
                && !c.allow_other
                && c.expect.iter().any(|e| e.rule == rule && e.event.is_some())
        });
        let skipped_positive = file
            .cases
            .iter()
            .any(|c| c.skip.is_some() && c.expect.iter().any(|e| e.rule == rule));
        // A negative case names the rule under `not` and is strict, so the rule not firing is
        // what the case checks.
        let negative = file
            .cases
            .iter()
            .any(|c| c.skip.is_none() && !c.allow_other && c.not.contains(&rule));
        if POSITIVE_SKIPS.contains(&rule.as_str()) {
            assert!(
                !positive,
                "'{rule}' now has a running positive case: drop it from POSITIVE_SKIPS"
            );
            assert!(skipped_positive, "'{rule}' needs its skipped positive case");
        } else if !positive {
            missing.push(format!("no positive case for '{rule}'"));
        }
        if !negative {
            missing.push(format!("no negative case for '{rule}'"));
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

const RULES: &str = r#"
- rule: Shadow read
  desc: test
  condition: evt.type = openat and fd.name = /etc/shadow and not proc.name in (passwd)
  output: "shadow read by %proc.name (file=%fd.name)"
  priority: WARNING
"#;

#[test]
fn failing_cases_are_reported_with_a_diff_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "rules.yaml", RULES);
    let cases = write(
        dir.path(),
        "cases.yaml",
        r#"
rules: [rules.yaml]
x-cat: &cat {pid: 10, ppid: 1, comm: cat}
cases:
  - name: cat reads shadow
    processes: [*cat]
    events:
      - {event: openat, pid: 10, res: 3, args: {name: /etc/shadow, flags: O_RDONLY}, fd: {type: file, name: /etc/shadow}}
    expect:
      - {rule: Shadow read, event: 0, output_fields: {proc.name: cat}, output: "shadow read by cat"}
  - name: wrong expectation
    processes: [*cat]
    events:
      - {event: openat, pid: 10, res: 3, args: {name: /etc/hosts}, fd: {type: file, name: /etc/hosts}}
      - {event: openat, pid: 10, res: 3, args: {name: /etc/shadow}, fd: {type: file, name: /etc/shadow}}
    expect:
      - {rule: Shadow read, event: 0}
  - name: unexpected alert
    processes: [*cat]
    events:
      - {event: openat, pid: 10, res: 3, args: {name: /etc/shadow}, fd: {type: file, name: /etc/shadow}}
    expect_none: true
  - name: not yet
    skip: waiting for a fix
    events: []
    expect: [Shadow read]
"#,
    );
    let out = vigil(&["rules", "test", cases.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("case 'cat reads shadow' ... ok"),
        "{stdout}"
    );
    assert!(
        stdout.contains("case 'wrong expectation' ... FAILED"),
        "{stdout}"
    );
    assert!(
        stdout.contains("case 'unexpected alert' ... FAILED"),
        "{stdout}"
    );
    assert!(
        stdout.contains("case 'not yet' ... skipped (waiting for a fix)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("expected rule 'Shadow read' to fire on event 0; it fired but fired on event 1 instead of event 0"),
        "{stdout}"
    );
    assert!(stdout.contains("+ Shadow read (event 0)"), "{stdout}");
    assert!(
        stdout.contains("- Shadow read (event 1) [Warning]: shadow read by cat (file=/etc/shadow)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("rule 'Shadow read' fired on event 0, expected no alert"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("---- {}:", cases.display())),
        "{stdout}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[lines.len() - 2], "1 skipped");
    assert_eq!(lines[lines.len() - 1], "1 passed, 2 failed");
}

#[test]
fn malformed_cases_name_the_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "rules.yaml", RULES);
    let cases = write(
        dir.path(),
        "cases.yaml",
        "rules: [rules.yaml]\ncases:\n  - name: bad flags\n    events:\n      - {event: openat, pid: 1, args: {flags: O_BOGUS}}\n    expect_none: true\n",
    );
    let out = vigil(&["rules", "test", cases.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{}:3: case 'bad flags': key 'events[0].args.flags': unknown flag 'O_BOGUS'",
            cases.display()
        )),
        "{stdout}"
    );
    assert!(stdout.ends_with("0 passed, 1 failed\n"), "{stdout}");

    // Rules that fail to load fail the file's cases and print the rules diagnostics.
    write(dir.path(), "broken.yaml", "- rule: X\n  desc: d\n  condition: evt.type = = openat\n  output: o\n  priority: WARNING\n");
    let cases = write(
        dir.path(),
        "c2.yaml",
        "rules: broken.yaml\ncases:\n  - {name: a, events: [], expect_none: true}\n",
    );
    let out = vigil(&["rules", "test", cases.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("broken.yaml:3:"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).ends_with("0 passed, 1 failed\n"),
        "{}",
        text(&out.stdout)
    );
}
