//! End-to-end tests of `vigil audit`: the real binary on the bench corpus, stdin, output
//! formats and exit codes, and (as root with podman) live containers through the podman CLI
//! and the podman REST socket.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn vigil() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus(rel: &str) -> String {
    repo()
        .join("bench/audit-corpus")
        .join(rel)
        .display()
        .to_string()
}

fn run(args: &[&str]) -> Output {
    vigil().args(args).output().expect("run vigil")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "invalid JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn checks_for<'a>(report: &'a serde_json::Value, workload_contains: &str) -> Vec<&'a str> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["workload"]
                .as_str()
                .unwrap_or("")
                .contains(workload_contains)
        })
        .map(|f| f["check"].as_str().unwrap())
        .collect()
}

#[test]
fn table_groups_by_workload_without_colour_when_piped() {
    let out = run(&["audit", &corpus("k8s/pod-debug-privileged.yaml")]);
    assert_eq!(out.status.code(), Some(0), "no --fail-on: exit 0");
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.starts_with("Pod/default/node-debugger"), "{s}");
    assert!(s.contains("[PSS: privileged]"));
    assert!(s.contains("CRITICAL VGL-A001 [debugger] Privileged container"));
    assert!(
        s.contains("line 17   spec.containers[0].securityContext.privileged"),
        "{s}"
    );
    assert!(s.contains("suggested fix:") && s.contains("privileged: false"));
    assert!(
        !s.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    let coloured = run(&[
        "audit",
        "--color",
        "always",
        &corpus("k8s/pod-debug-privileged.yaml"),
    ]);
    assert!(String::from_utf8_lossy(&coloured.stdout).contains("\x1b[1;31m"));
}

#[test]
fn fail_on_sets_the_exit_code() {
    let hardened = corpus("k8s/deploy-web-hardened.yaml");
    assert_eq!(
        run(&["audit", "--fail-on", "low", &hardened]).status.code(),
        Some(0)
    );
    let bad = corpus("k8s/pod-debug-privileged.yaml");
    assert_eq!(
        run(&["audit", "--fail-on", "critical", &bad]).status.code(),
        Some(1)
    );
    let medium_only = corpus("k8s/deploy-baseline-ok.yaml");
    assert_eq!(
        run(&["audit", "--fail-on", "high", &medium_only])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(&["audit", "--fail-on", "medium", &medium_only])
            .status
            .code(),
        Some(1)
    );
    let usage = run(&["audit", "--fail-on", "severe", &bad]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("unknown severity"));
}

#[test]
fn stdin_multi_document_helm_output() {
    let text = std::fs::read(corpus("k8s/helm-rendered.yaml")).unwrap();
    let mut child = vigil()
        .args(["audit", "-", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let out = child.wait_with_output().unwrap();
    let r = json(&out);
    assert_eq!(r["workloads"].as_array().unwrap().len(), 1);
    assert_eq!(
        r["skipped"].as_array().unwrap().len(),
        3,
        "ServiceAccount, ConfigMap, Service"
    );
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "VGL-A005")
        .unwrap();
    assert_eq!(f["file"], "<stdin>");
    assert_eq!(
        f["line"], 48,
        "the container's (empty) securityContext line"
    );
    assert_eq!(
        f["path"],
        "spec.template.spec.containers[0].securityContext.runAsNonRoot"
    );
    // A Dockerfile on stdin is sniffed.
    let mut child = vigil()
        .args(["audit", "-", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"FROM debian\nUSER root\n")
        .unwrap();
    let r = json(&child.wait_with_output().unwrap());
    let got = checks_for(&r, "Dockerfile");
    assert!(
        got.contains(&"VGL-A051") && got.contains(&"VGL-A031"),
        "{got:?}"
    );
}

#[test]
fn whole_corpus_json_and_sarif() {
    let dir = corpus("");
    let out = run(&["audit", &dir, "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = json(&out);
    assert!(r["files"].as_u64().unwrap() >= 25);
    assert!(r["errors"].as_array().unwrap().is_empty());
    assert!(
        checks_for(&r, "Deployment/shop/web").is_empty(),
        "hardened deployment is clean"
    );
    assert!(
        checks_for(&r, "service/api").is_empty(),
        "hardened compose service is clean"
    );
    assert!(
        checks_for(&r, "Dockerfile.go").is_empty(),
        "pinned distroless Dockerfile is clean"
    );
    let web = r["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "Deployment/shop/web")
        .unwrap();
    assert_eq!(web["pss"]["level"], "restricted");
    let sarif = run(&["audit", &dir, "--format", "sarif"]);
    let s = json(&sarif);
    assert_eq!(s["version"], "2.1.0");
    let run0 = &s["runs"][0];
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["id"] == "VGL-A018"));
    let results = run0["results"].as_array().unwrap();
    assert_eq!(results.len(), r["findings"].as_array().unwrap().len());
    let first = &results[0];
    assert!(first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].is_string());
    let idx = first["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rules[idx]["id"], first["ruleId"]);
}

#[test]
fn bad_files_are_reported_and_the_run_continues() {
    let dir = std::env::temp_dir().join(format!("vigil-audit-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("broken.yaml"), "kind: Pod\nspec: [\n").unwrap();
    std::fs::write(dir.join("blob.json"), [0x7fu8, b'E', b'L', b'F', 0, 0]).unwrap();
    std::fs::copy(corpus("k8s/deploy-ci-runner.yaml"), dir.join("runner.yaml")).unwrap();
    let out = run(&["audit", dir.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "input errors exit 2");
    let r = json(&out);
    assert_eq!(r["errors"].as_array().unwrap().len(), 2);
    assert!(checks_for(&r, "ci-runner").contains(&"VGL-A018"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("broken.yaml: invalid YAML at line"),
        "{stderr}"
    );
    assert!(stderr.contains("blob.json: binary file"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn list_checks_matches_docs() {
    let out = run(&["audit", "--list-checks"]);
    let cat = String::from_utf8(out.stdout).unwrap();
    let doc =
        std::fs::read_to_string(repo().join("docs/audit-checks.md")).expect("docs/audit-checks.md");
    assert!(doc.contains(&cat), "docs/audit-checks.md is out of date: regenerate the catalogue part with `vigil audit --list-checks`");
}

// ---------------------------------------------------------------- live (root + podman)

const IMAGE: &str = "localhost/vigil-test-debian";

fn live_prereqs() -> Option<&'static str> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root");
    }
    match Command::new("podman")
        .args(["image", "exists", IMAGE])
        .status()
    {
        Ok(s) if s.success() => None,
        Ok(_) => {
            Some("image localhost/vigil-test-debian missing (build it with scripts/test-image.sh)")
        }
        Err(_) => Some("podman not installed"),
    }
}

/// Removes the containers on drop, even when an assertion fails.
struct Containers(Vec<String>);
impl Drop for Containers {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = Command::new("podman")
                .args(["rm", "-f", "-t", "0", n])
                .output();
        }
    }
}

fn start(name: &str, flags: &[&str]) {
    let mut args = vec!["run", "-d", "--name", name, "--network=none"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[IMAGE, "sleep", "600"]);
    let out = Command::new("podman")
        .args(&args)
        .output()
        .expect("podman run");
    assert!(
        out.status.success(),
        "podman {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_live_report(r: &serde_json::Value, prefix: &str) {
    let c = |suffix: &str| checks_for(r, &format!("{prefix}-{suffix}"));
    assert!(
        c("priv").contains(&"VGL-A001"),
        "privileged: {:?}",
        c("priv")
    );
    assert!(
        c("capadd").contains(&"VGL-A002"),
        "cap-add SYS_ADMIN: {:?}",
        c("capadd")
    );
    assert!(
        c("hostroot").contains(&"VGL-A017"),
        "-v /:/host: {:?}",
        c("hostroot")
    );
    assert!(
        c("hostpid").contains(&"VGL-A012"),
        "--pid=host: {:?}",
        c("hostpid")
    );
    let plain = c("plain");
    for id in ["VGL-A005", "VGL-A007", "VGL-A008", "VGL-A009", "VGL-A004"] {
        assert!(
            plain.contains(&id),
            "unhardened container lacks {id}: {plain:?}"
        );
    }
    // The hardened container: nothing at medium or above, none of the hardening checks.
    let hardened: Vec<&serde_json::Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["workload"]
                .as_str()
                .unwrap_or("")
                .contains(&format!("{prefix}-hardened"))
        })
        .collect();
    for f in &hardened {
        let sev = f["severity"].as_str().unwrap();
        assert!(sev == "low" || sev == "info", "hardened container has {f}");
    }
    let ids: Vec<&str> = hardened
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    for id in [
        "VGL-A001", "VGL-A002", "VGL-A004", "VGL-A005", "VGL-A007", "VGL-A008", "VGL-A009",
        "VGL-A011", "VGL-A012", "VGL-A017",
    ] {
        assert!(!ids.contains(&id), "hardened container reported {id}");
    }
    assert!(
        r["workloads"].as_array().unwrap().iter().any(|w| w["name"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("{prefix}-hardened"))),
        "hardened container was audited"
    );
}

#[test]
fn live_running_containers() {
    if let Some(why) = live_prereqs() {
        eprintln!("SKIP: live_running_containers: {why}");
        return;
    }
    let prefix = format!("vigil-audit-{}", std::process::id());
    let names: Vec<String> = ["priv", "capadd", "hostroot", "hostpid", "plain", "hardened"]
        .iter()
        .map(|s| format!("{prefix}-{s}"))
        .collect();
    let _guard = Containers(names.clone());
    start(&names[0], &["--privileged"]);
    start(&names[1], &["--cap-add", "SYS_ADMIN"]);
    start(&names[2], &["-v", "/:/host"]);
    start(&names[3], &["--pid=host"]);
    start(&names[4], &[]);
    start(
        &names[5],
        &[
            "--read-only",
            "--cap-drop",
            "ALL",
            "--user",
            "1000",
            "--security-opt",
            "no-new-privileges",
            "--memory",
            "256m",
            "--pids-limit",
            "100",
        ],
    );

    // 1. Default discovery (podman REST socket if running, else the podman CLI).
    let out = run(&["audit", "--running", "--format", "json"]);
    let r = json(&out);
    assert_live_report(&r, &prefix);

    // 2. The podman REST API on a private socket.
    let sock = std::env::temp_dir().join(format!("{prefix}.sock"));
    let _ = std::fs::remove_file(&sock);
    let mut service = Command::new("podman")
        .args([
            "system",
            "service",
            "--time=0",
            &format!("unix://{}", sock.display()),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("podman system service");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sock.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = run(&[
        "audit",
        "--running",
        "--socket",
        sock.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let _ = service.kill();
    let _ = service.wait();
    let _ = std::fs::remove_file(&sock);
    let r = json(&out);
    assert!(
        r["workloads"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["file"].as_str().unwrap_or("").starts_with("socket:")),
        "audited through the socket: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_live_report(&r, &prefix);
}
