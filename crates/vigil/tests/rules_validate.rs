//! `vigil rules validate` and `vigil rules list` on the real binary: the upstream Falco rules
//! files load unmodified (alone and together), bad files fail with located errors and exit 1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn corpus() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/falco-rules");
    assert!(
        dir.is_dir(),
        "missing test corpus {} (../shared beside the repository)",
        dir.display()
    );
    dir
}

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .output()
        .expect("run vigil")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn upstream_files_validate_alone_and_together() {
    let c = corpus();
    let files = [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ];
    for f in files {
        let p = c.join(f);
        let out = vigil(&["rules", "validate", path(&p)]);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{f}: {}\n{}",
            stdout,
            text(&out.stderr)
        );
        assert!(stdout.starts_with("ok: "), "{stdout}");
        assert!(
            stdout.contains(" 0 skipped"),
            "{f}: every rule compiles: {stdout}"
        );
        assert!(
            !text(&out.stderr).contains("error:"),
            "{}",
            text(&out.stderr)
        );
    }
    let all: Vec<PathBuf> = files.iter().map(|f| c.join(f)).collect();
    let mut args = vec!["rules", "validate"];
    args.extend(all.iter().map(|p| path(p)));
    let out = vigil(&args);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    // Counts line: "ok: N rules (E enabled, 0 skipped), M macros, L lists, W warnings".
    let n: usize = stdout
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("rule count");
    assert!(n > 80, "{stdout}");
    assert!(stdout.contains("macros") && stdout.contains("lists"));
    assert!(stdout.contains("required plugin: container"), "{stdout}");
}

#[test]
fn bad_file_fails_with_location_and_caret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "- rule: r\n  desc: d\n  condition: evt.type = open and proc.nmae = bash\n  output: o\n  priority: info\n- rule: s\n  desc: d\n  condition: (evt.type = open\n  output: o\n  priority: info\n",
    )
    .expect("write");
    let out = vigil(&["rules", "validate", path(&bad)]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let b = path(&bad);
    assert!(
        err.contains(&format!(
            "{b}:3:34: error: unknown field 'proc.nmae' (in rule 'r')"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{b}:8:14: error: unbalanced '('")),
        "{err}"
    );
    assert!(
        err.contains("  |                                  ^"),
        "{err}"
    );
    assert!(err.contains("validation failed: 2 error(s)"), "{err}");
}

#[test]
fn malformed_yaml_and_missing_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("broken.yaml");
    std::fs::write(&bad, "- rule: r\n  desc: [oops\n").expect("write");
    let out = vigil(&["rules", "validate", path(&bad)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("error: invalid YAML"),
        "{}",
        text(&out.stderr)
    );
    let out = vigil(&["rules", "validate", "/nonexistent/x.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read rules file"));
}

#[test]
fn list_table_and_json() {
    let p = corpus().join("falco_rules.yaml");
    let out = vigil(&["rules", "list", path(&p)]);
    assert!(out.status.success());
    let t = text(&out.stdout);
    let header = t.lines().next().unwrap_or("");
    for col in ["NAME", "PRIORITY", "ENABLED", "SOURCE", "TAGS"] {
        assert!(header.contains(col), "{header}");
    }
    assert!(t.contains("Terminal shell in container"), "{t}");
    let out = vigil(&["rules", "list", "--json", path(&p)]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let rules = v.as_array().expect("array");
    let shell = rules
        .iter()
        .find(|r| r["name"] == "Terminal shell in container")
        .expect("rule listed");
    assert_eq!(shell["priority"], "Notice");
    assert_eq!(shell["source"], "syscall");
    assert_eq!(shell["enabled"], true);
    assert!(shell["tags"]
        .as_array()
        .is_some_and(|t| t.iter().any(|x| x == "maturity_stable")));
}

#[test]
fn default_rules_validate() {
    let out = vigil(&["rules", "validate", "--quiet"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}
