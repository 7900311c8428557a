//! Coverage: vigil's default ruleset detects what the upstream Falco stable ruleset detects.
//!
//! Every positive case of `tests/ruletests/falco_stable.yaml` (events on which an upstream
//! rule fires) is replayed against `rules/default_rules.yaml` with `vigil rules test
//! --coverage`, which requires a default-rule alert on each event where the upstream rule
//! fires and prints the table upstream rule -> vigil rules. The only misses accepted are the
//! deliberate ones in [`DELIBERATE_MISSES`], each with its reason. The coverage mode itself
//! (a miss fails, an allowance excuses it, a stale allowance fails) is checked on a small
//! synthetic pair of rulesets.
//!
//! Runs without root: everything is a replay.

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

/// Upstream positive cases the default ruleset does not cover on purpose: (case name, reason).
/// Keep this short; every entry is a detection vigil's users do not get.
const DELIBERATE_MISSES: &[(&str, &str)] = &[
    (
        "polkitd reads its PAM configuration",
        "polkitd authenticates through PAM like login and sshd; it is a trusted reader of /etc/pam.d",
    ),
    (
        "exim delivers a message to a pipe",
        "mail servers deliver to `| program` through a shell; shells below them are routine",
    ),
    (
        "busybox httpd serves a request on its standard streams",
        "busybox httpd hands every accepted connection to its stdio; the server end is not a shell",
    ),
    (
        "cat of a file while working in /dev/shm",
        "reading a file with a relative path in /dev/shm is not execution from it",
    ),
];

/// Upstream rules whose every positive case is skipped (ruletest_cli.rs checks the skip):
/// (rule, what vigil detects instead).
const SKIPPED_RULES: &[(&str, &str)] = &[(
    "Contact K8S API Server From Container",
    "upstream matches the API server's DNS name, which vigil does not resolve; \
     'Kubernetes API contacted by unexpected program in container' matches the service address \
     from the pod's environment (KUBERNETES_SERVICE_HOST) instead",
)];

#[test]
fn default_rules_cover_upstream_stable_rules() {
    let upstream = repo().join("../shared/corpus/falco-rules/falco_rules.yaml");
    assert!(
        upstream.exists(),
        "the shared corpus is missing: {} (see ../shared/README.md)",
        upstream.display()
    );
    let mut args = vec![
        "rules",
        "test",
        "tests/ruletests/falco_stable.yaml",
        "--coverage",
        "rules/default_rules.yaml",
    ];
    for (case, _) in DELIBERATE_MISSES {
        args.extend(["--allow-miss", case]);
    }
    let out = vigil(&args);
    let stdout = text(&out.stdout);
    // The table goes into the test log (`cargo test --test coverage -- --nocapture`).
    let table: String = stdout
        .lines()
        .skip_while(|l| !l.starts_with("coverage by"))
        .map(|l| format!("{l}\n"))
        .collect();
    println!("{table}");
    println!("deliberate misses:");
    for (case, why) in DELIBERATE_MISSES {
        println!("- {case}: {why}");
    }
    for (rule, why) in SKIPPED_RULES {
        println!("- {rule} (cases skipped): {why}");
    }
    assert!(
        out.status.success(),
        "upstream detections the default rules miss:\n{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.ends_with(" 0 failed\n"), "{stdout}");
    assert!(!stdout.contains("NOT COVERED"), "{stdout}");

    // Every upstream rule has a row, and every row is covered, or covered but for the
    // deliberate misses, or has only skipped cases (the ones ruletest_cli.rs lists).
    let rules = std::fs::read_to_string(&upstream).unwrap();
    for name in rules.lines().filter_map(|l| l.strip_prefix("- rule: ")) {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| {name} | ")))
            .unwrap_or_else(|| panic!("no coverage row for upstream rule '{name}':\n{table}"));
        let cells: Vec<&str> = row.split(" | ").collect();
        let by = cells[2].trim_end_matches(" |");
        if SKIPPED_RULES.iter().any(|(r, _)| *r == name) {
            assert!(by.contains("skipped"), "{row}");
            continue;
        }
        assert!(
            !by.is_empty() && !by.starts_with('('),
            "upstream rule '{name}' has no covering default rule: {row}"
        );
        let (covered, expected) = cells[1].split_once('/').unwrap();
        let misses = expected.parse::<usize>().unwrap() - covered.parse::<usize>().unwrap();
        assert!(
            misses == 0 || by.ends_with(&format!("({misses} allowed miss(es))")),
            "{row}"
        );
    }
}

#[test]
fn coverage_mode_reports_misses_and_stale_allowances() {
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("own.yaml");
    std::fs::write(
        &own,
        r#"
- rule: Shadow read
  desc: d
  condition: evt.type = openat and fd.name = /etc/shadow
  output: "shadow read by %proc.name"
  priority: WARNING
- rule: Hosts read
  desc: d
  condition: evt.type = openat and fd.name = /etc/hosts
  output: "hosts read by %proc.name"
  priority: WARNING
"#,
    )
    .unwrap();
    let other = dir.path().join("other.yaml");
    std::fs::write(
        &other,
        r#"
- rule: Sensitive file opened
  desc: d
  condition: evt.type = openat and fd.name startswith /etc/sh
  output: "sensitive file %fd.name"
  priority: WARNING
"#,
    )
    .unwrap();
    let cases = dir.path().join("cases.yaml");
    std::fs::write(
        &cases,
        r#"
rules: [own.yaml]
x-cat: &cat {pid: 10, ppid: 1, comm: cat}
cases:
  - name: cat reads shadow
    processes: [*cat]
    events:
      - {event: openat, pid: 10, res: 3, args: {name: /etc/hosts}, fd: {type: file, name: /etc/hosts}}
      - {event: openat, pid: 10, res: 3, args: {name: /etc/shadow}, fd: {type: file, name: /etc/shadow}}
    expect:
      - {rule: Hosts read, event: 0}
      - {rule: Shadow read, event: 1}
  - name: nothing happens
    processes: [*cat]
    events:
      - {event: openat, pid: 10, res: 3, args: {name: /etc/motd}, fd: {type: file, name: /etc/motd}}
    expect_none: true
"#,
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let mut a = vec![
            "rules",
            "test",
            cases.to_str().unwrap(),
            "--coverage",
            other.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        let out = vigil(&a);
        (out.status.code(), text(&out.stdout))
    };

    // /etc/hosts is not covered: the case fails and the table says which rule covers what.
    let (code, stdout) = run(&[]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("checking coverage of 1 positive cases"),
        "{stdout}"
    );
    assert!(
        stdout.contains("case 'cat reads shadow' ... NOT COVERED"),
        "{stdout}"
    );
    assert!(
        stdout.contains("'Hosts read' on event 0: no alert of the coverage rules"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| Shadow read | 1/1 | Sensitive file opened |"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| Hosts read | 0/1 | (MISSED) |"),
        "{stdout}"
    );

    // Allowed by rule name (or by case name): the run passes.
    for allowance in ["Hosts read", "cat reads shadow"] {
        let (code, stdout) = run(&["--allow-miss", allowance]);
        assert_eq!(code, Some(0), "{stdout}");
        assert!(
            stdout.contains("case 'cat reads shadow' ... allowed miss (Hosts read)"),
            "{stdout}"
        );
        assert!(
            stdout.contains("| Hosts read | 0/1 | (1 allowed miss(es)) |"),
            "{stdout}"
        );
    }

    // An allowance that excuses nothing fails the run.
    let (code, stdout) = run(&["--allow-miss", "Hosts read", "--allow-miss", "Shadow read"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("stale allowance: 'Shadow read' excuses no miss"),
        "{stdout}"
    );
}
