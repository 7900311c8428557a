//! The embedded default ruleset: it loads without errors or warnings, and every rule passes
//! its positive and negative cases in `rules/tests/default_rules.yaml` through the real
//! `vigil rules test` command.

use std::process::Command;

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn default_rules_validate_cleanly() {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["rules", "validate"])
        .arg(repo().join("rules/default_rules.yaml"))
        .output()
        .expect("run vigil");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "validate failed:\n{stdout}\n{stderr}");
    assert!(
        !stderr.contains("warning") && !stdout.contains("warning:"),
        "warnings:\n{stdout}\n{stderr}"
    );
}

#[test]
fn every_default_rule_has_passing_cases() {
    let cases = repo().join("rules/tests/default_rules.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["rules", "test"])
        .arg(&cases)
        .output()
        .expect("run vigil");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rule tests failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" 0 failed"), "{stdout}");

    // Every rule of the default file is named by at least one positive case.
    let rules = std::fs::read_to_string(repo().join("rules/default_rules.yaml")).unwrap();
    let text = std::fs::read_to_string(&cases).unwrap();
    for line in rules.lines() {
        if let Some(name) = line.strip_prefix("- rule: ") {
            assert!(
                text.contains(&format!("rule: {name},"))
                    || text.contains(&format!("rule: {name}\n")),
                "rule '{name}' has no positive case in {}",
                cases.display()
            );
        }
    }
}
