//! End-to-end tests of `vigil config check`: the real binary on real files. Valid files exit
//! 0; invalid ones exit 1 and list every problem with its YAML key path.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vigil-config-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn check(file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["config", "check"])
        .arg(file)
        .output()
        .expect("run vigil")
}

#[test]
fn example_config_is_valid() {
    // The example points at /var/log and /var/lib; rebase those onto a temp dir.
    let d = tempdir("example");
    let text = std::fs::read_to_string(repo().join("vigil.example.yaml")).unwrap();
    let text = text
        .replace("/var/log/vigil", &d.join("log").display().to_string())
        .replace("/var/lib/vigil", &d.join("lib").display().to_string());
    std::fs::create_dir_all(d.join("log")).unwrap();
    std::fs::create_dir_all(d.join("lib")).unwrap();
    let f = d.join("vigil.yaml");
    std::fs::write(&f, text).unwrap();
    let out = check(&f);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("OK (4 outputs: stdout, audit-file, syslog, sidekick)"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn invalid_config_lists_every_error_with_key_path() {
    let d = tempdir("invalid");
    let f = d.join("vigil.yaml");
    std::fs::write(
        &f,
        "min_priority: loud\nrules_files: [/nonexistent/rules.yaml]\noutputs:\n  - webhook:\n      url: 'htp:/oops'\n      retries: 3\n  - webhook: {url: 'http://ok.example:8080/x', timeout: 0s}\n  - nats: {url: 'nats://127.0.0.1:4222', subject: 'a b'}\nmetrics: {listen: 'everywhere'}\nextra_key: 1\n",
    )
    .unwrap();
    let out = check(&f);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let file = f.display().to_string();
    for want in [
        format!("{file}: 7 configuration errors"),
        format!("{file}: min_priority: unknown priority 'loud'"),
        format!("{file}: rules_files[0]: cannot read '/nonexistent/rules.yaml'"),
        format!("{file}: outputs[0].webhook.retries: unknown field `retries`"),
        format!("{file}: outputs[1].webhook.timeout: must be greater than 0s"),
        format!("{file}: outputs[2].nats.subject: invalid subject 'a b'"),
        format!("{file}: metrics.listen: invalid address 'everywhere'"),
        format!("{file}: extra_key: unknown key"),
    ] {
        assert!(err.contains(&want), "missing '{want}' in:\n{err}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_url_is_reported_when_shape_is_valid() {
    let d = tempdir("url");
    let f = d.join("vigil.yaml");
    std::fs::write(
        &f,
        "outputs:\n  - stdout: {}\n  - webhook: {url: 'htp:/oops'}\n",
    )
    .unwrap();
    let out = check(&f);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "outputs[1].webhook.url: invalid URL 'htp:/oops': scheme must be http:// or https://"
        ),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn unreadable_and_malformed_files() {
    let d = tempdir("unreadable");
    let missing = d.join("missing.yaml");
    let out = check(&missing);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}: cannot read file", missing.display())),
        "{err}"
    );

    let f = d.join("broken.yaml");
    std::fs::write(&f, "outputs:\n  - stdout: {format: json\nmetrics: [\n").unwrap();
    let out = check(&f);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("YAML syntax error at line"), "{err}");

    let f = d.join("list.yaml");
    std::fs::write(&f, "- a\n- b\n").unwrap();
    let out = check(&f);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be a mapping"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn print_shows_effective_defaults() {
    let d = tempdir("print");
    let f = d.join("vigil.yaml");
    std::fs::write(&f, "min_priority: warning\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["config", "check", "--print"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("OK (1 output: stdout)"), "{s}");
    assert!(
        s.contains("min_priority: Warning") && s.contains("listen: 127.0.0.1:9376"),
        "{s}"
    );
    let _ = std::fs::remove_dir_all(&d);
}
