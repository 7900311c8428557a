//! End-to-end tests of `vigil scan` and `vigil sbom` on a real Debian bookworm image built by
//! `scripts/scan-fixture.sh` (debootstrap rootfs + a pip-populated virtualenv, imported into
//! podman and saved as docker-archive and OCI). Needs root (chroot, podman); skips loudly
//! otherwise. Vulnerability results are checked against the OSV corpus in `../shared`.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The fixture directory, built on first use; `None` (after a loud SKIP) without root.
fn fixture(test: &str) -> Option<PathBuf> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    if !is_root() {
        eprintln!("SKIP: {test}: needs root (chroot, podman) to build the image fixture");
        return None;
    }
    let r = DIR.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo().join("scripts/scan-fixture.sh"))
            .output()
            .map_err(|e| format!("running scan-fixture.sh: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "scan-fixture.sh failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    });
    match r {
        Ok(p) => Some(p.clone()),
        Err(e) => panic!("{e}"),
    }
}

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .env_remove("VIGIL_DB")
        .output()
        .expect("run vigil")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "vigil failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// `vigil scan TARGET --format json` without vulnerability matching.
fn inventory(target: &str) -> Value {
    json_of(&vigil(&[
        "scan",
        target,
        "--format",
        "json",
        "--scanners",
        "secret,config",
    ]))
}

fn packages_of(inv: &Value, kind: &str) -> BTreeSet<String> {
    inv["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == kind)
        .map(|p| match kind {
            "deb" => format!(
                "{} {} {}",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap(),
                p["arch"].as_str().unwrap_or("")
            ),
            _ => format!(
                "{} {}",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap()
            ),
        })
        .collect()
}

fn targets(fx: &Path) -> Vec<String> {
    vec![
        fx.join("rootfs").display().to_string(),
        fx.join("docker-archive.tar").display().to_string(),
        fx.join("oci-archive.tar").display().to_string(),
        format!("{}:latest", fx.join("oci").display()),
        fx.join("oci-zstd").display().to_string(),
    ]
}

#[test]
fn dpkg_inventory_equals_dpkg_query_for_every_target_form() {
    let Some(fx) = fixture("dpkg_inventory") else {
        return;
    };
    let out = Command::new("chroot")
        .arg(fx.join("rootfs"))
        .args([
            "dpkg-query",
            "-W",
            "-f",
            "${db:Status-Status} ${Package} ${Version} ${Architecture}\n",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("installed "))
        .map(String::from)
        .collect();
    assert!(
        expected.len() > 80,
        "suspiciously few packages: {}",
        expected.len()
    );
    for t in targets(&fx) {
        let inv = inventory(&t);
        let got = packages_of(&inv, "deb");
        let missing: Vec<_> = expected.difference(&got).collect();
        let extra: Vec<_> = got.difference(&expected).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{t}: missing {missing:?}, extra {extra:?}"
        );
        assert_eq!(inv["os"]["id"], "debian", "{t}");
        assert_eq!(inv["os"]["version_id"], "12", "{t}");
        // Source packages are recorded (e.g. libssl3 comes from openssl).
        let libc = inv["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "libc6")
            .unwrap();
        assert_eq!(libc["source_name"], "glibc", "{t}");
    }
}

#[test]
fn python_packages_are_all_found() {
    let Some(fx) = fixture("python_packages") else {
        return;
    };
    let freeze = std::fs::read_to_string(fx.join("pip-freeze.txt")).unwrap();
    let expected: BTreeSet<String> = freeze
        .lines()
        .filter_map(|l| l.split_once("=="))
        .map(|(n, v)| format!("{} {}", n.to_lowercase().replace('_', "-"), v))
        .collect();
    for want in [
        "urllib3 1.24.1",
        "requests 2.19.1",
        "jinja2 2.10",
        "pyyaml 5.3",
    ] {
        assert!(
            expected.contains(want),
            "pip freeze lacks {want}: {expected:?}"
        );
    }
    for t in targets(&fx) {
        let got: BTreeSet<String> = packages_of(&inventory(&t), "python")
            .into_iter()
            .map(|s| s.to_lowercase().replace('_', "-"))
            .collect();
        let missing: Vec<_> = expected.difference(&got).collect();
        assert!(
            missing.is_empty(),
            "{t}: missing {missing:?} (found {got:?})"
        );
    }
}

#[test]
fn podman_image_by_name() {
    let Some(fx) = fixture("podman_image") else {
        return;
    };
    let by_name = inventory("podman:localhost/vigil-scan-fixture:latest");
    let archive = inventory(fx.join("docker-archive.tar").to_str().unwrap());
    assert_eq!(packages_of(&by_name, "deb"), packages_of(&archive, "deb"));
    assert_eq!(
        packages_of(&by_name, "python"),
        packages_of(&archive, "python")
    );
    assert_eq!(by_name["format"], "podman");
}

/// Advisory ids whose own `affected[].versions` list contains the installed version.
fn expected_advisories(
    dir: &Path,
    eco: &str,
    pkgs: &BTreeMap<String, String>,
) -> BTreeMap<String, BTreeSet<String>> {
    let norm = |n: &str| n.to_lowercase().replace(['_', '.'], "-");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        if v.get("withdrawn").is_some_and(|w| !w.is_null()) {
            continue;
        }
        for a in v["affected"].as_array().into_iter().flatten() {
            if a["package"]["ecosystem"] != eco {
                continue;
            }
            let name = norm(a["package"]["name"].as_str().unwrap_or(""));
            let Some(installed) = pkgs.get(&name) else {
                continue;
            };
            let listed = a["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|x| x == installed.as_str());
            if listed {
                out.entry(name)
                    .or_default()
                    .insert(v["id"].as_str().unwrap().to_string());
            }
        }
    }
    out
}

#[test]
fn vulnerabilities_match_the_osv_corpus() {
    let Some(fx) = fixture("vulnerabilities") else {
        return;
    };
    let corpus = repo().join("../shared/corpus/osv");
    assert!(
        corpus.is_dir(),
        "OSV corpus missing at {}",
        corpus.display()
    );
    let db = tempfile::tempdir().unwrap();
    let dbp = db.path().join("db");
    let out = vigil(&[
        "db",
        "import",
        "--db",
        dbp.to_str().unwrap(),
        corpus.join("pypi").to_str().unwrap(),
        corpus.join("crates.io").to_str().unwrap(),
        corpus.join("go").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "db import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target = fx.join("docker-archive.tar");
    let report = json_of(&vigil(&[
        "scan",
        target.to_str().unwrap(),
        "--format",
        "json",
        "--db",
        dbp.to_str().unwrap(),
    ]));
    let vulns = report["vulnerabilities"]
        .as_array()
        .expect("vulnerabilities array");
    let mut reported: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for v in vulns {
        if v["type"] == "python" {
            reported
                .entry(
                    v["package"]
                        .as_str()
                        .unwrap()
                        .to_lowercase()
                        .replace(['_', '.'], "-"),
                )
                .or_default()
                .insert(v["id"].as_str().unwrap().to_string());
        }
    }
    let installed: BTreeMap<String, String> = report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == "python")
        .map(|p| {
            (
                p["name"]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
                    .replace(['_', '.'], "-"),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = expected_advisories(&corpus.join("pypi"), "PyPI", &installed);
    for pkg in ["urllib3", "requests", "jinja2", "pyyaml"] {
        let e = expected.get(pkg).cloned().unwrap_or_default();
        assert!(
            !e.is_empty(),
            "the corpus lists advisories for {pkg} {:?}",
            installed.get(pkg)
        );
        let r = reported.get(pkg).cloned().unwrap_or_default();
        let missing: Vec<_> = e.difference(&r).collect();
        assert!(
            missing.is_empty(),
            "{pkg}: advisories not reported: {missing:?} (reported {r:?})"
        );
    }
    // Nothing reported that the advisories' own version lists contradict.
    for (pkg, ids) in &reported {
        let e = expected.get(pkg).cloned().unwrap_or_default();
        let extra: Vec<_> = ids.difference(&e).collect();
        assert!(
            extra.is_empty(),
            "{pkg}: reported but not listed as affected: {extra:?}"
        );
    }
    // Rust: smallvec 1.6.0 from the Cargo.lock.
    assert!(
        vulns
            .iter()
            .any(|v| v["package"] == "smallvec" && v["id"] == "RUSTSEC-2021-0003"),
        "smallvec 1.6.0 should match RUSTSEC-2021-0003"
    );
    for v in vulns {
        assert!(v["severity"].is_string() && v["status"].is_string(), "{v}");
    }

    // Ignore file: one live entry hides its advisory; an expired one warns and does not apply.
    let id_for = |pkg: &str| {
        vulns
            .iter()
            .find(|v| {
                v["package"]
                    .as_str()
                    .is_some_and(|p| p.eq_ignore_ascii_case(pkg))
            })
            .and_then(|v| v["id"].as_str())
            .unwrap_or_else(|| panic!("no finding for {pkg}"))
            .to_string()
    };
    let first = id_for("urllib3");
    let second = id_for("jinja2");
    let ign = db.path().join("ignore.yaml");
    std::fs::write(&ign, format!(
        "ignores:\n  - id: {first}\n    reason: accepted risk\n    expires: 2999-01-01\n  - id: {second}\n    reason: old\n    expires: 2000-01-01\n"
    )).unwrap();
    let r2 = json_of(&vigil(&[
        "scan",
        target.to_str().unwrap(),
        "--format",
        "json",
        "--db",
        dbp.to_str().unwrap(),
        "--ignorefile",
        ign.to_str().unwrap(),
    ]));
    let ids2: BTreeSet<&str> = r2["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["id"].as_str())
        .collect();
    assert!(!ids2.contains(first.as_str()) && ids2.contains(second.as_str()));
    assert_eq!(r2["ignored"][0]["id"], first.as_str());
    assert!(
        r2["warnings"].to_string().contains("expired"),
        "{}",
        r2["warnings"]
    );

    // --ignore-unfixed keeps only findings with a fix.
    let r3 = json_of(&vigil(&[
        "scan",
        target.to_str().unwrap(),
        "--format",
        "json",
        "--db",
        dbp.to_str().unwrap(),
        "--ignore-unfixed",
    ]));
    assert!(r3["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["status"] == "Fixed"));

    // CI gate and SARIF.
    let out = vigil(&[
        "scan",
        target.to_str().unwrap(),
        "--format",
        "sarif",
        "--db",
        dbp.to_str().unwrap(),
        "--exit-code",
        "3",
        "--severity",
        "HIGH,CRITICAL",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(!sarif["runs"][0]["results"].as_array().unwrap().is_empty());
    let table = vigil(&[
        "scan",
        target.to_str().unwrap(),
        "--db",
        dbp.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("Findings by severity:") && text.contains(&first),
        "{text}"
    );
}

#[test]
fn secrets_are_found_and_redacted_and_config_checked() {
    let Some(fx) = fixture("secrets") else { return };
    let target = fx.join("docker-archive.tar");
    let out = vigil(&[
        "scan",
        target.to_str().unwrap(),
        "--format",
        "json",
        "--scanners",
        "secret,config",
    ]);
    let raw = String::from_utf8_lossy(&out.stdout).to_string();
    let rep = json_of(&out);
    let rules: BTreeSet<(String, String)> = rep["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["rule"].as_str().unwrap().to_string(),
                s["file"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (rule, file) in [
        ("aws-access-key-id", "opt/app/config/.env"),
        ("aws-secret-access-key", "opt/app/config/.env"),
        ("generic-password", "opt/app/config/db.yaml"),
    ] {
        assert!(
            rules.contains(&(rule.to_string(), file.to_string())),
            "{rule} in {file} not found: {rules:?}"
        );
    }
    for secret in [
        "AKIAZ5T3MXQ7RJ2KLW4P",
        "Zr8f3kQ9xL2mN7vB4cT1wY6uE0iO5pA3sD8gH2jK",
        "Hq7kL2p9Wz!x",
        "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    ] {
        assert!(
            !raw.contains(secret),
            "secret {secret} leaked into the report"
        );
    }
    let ids: BTreeSet<&str> = rep["config_findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    for id in [
        "VIGIL-IMG-001",
        "VIGIL-IMG-002",
        "VIGIL-IMG-003",
        "VIGIL-IMG-004",
    ] {
        assert!(ids.contains(id), "{id} missing: {ids:?}");
    }
    // No database: a loud note, not a failure.
    let out = vigil(&[
        "scan",
        target.to_str().unwrap(),
        "--db",
        "/nonexistent/vigil-db",
        "--scanners",
        "vuln",
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("vulnerabilities NOT scanned"));
    // Gate not triggered: secrets are never LOW.
    let out = vigil(&[
        "scan",
        target.to_str().unwrap(),
        "--scanners",
        "secret",
        "--exit-code",
        "4",
        "--severity",
        "LOW",
    ]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn sbom_formats_from_the_cli() {
    let Some(fx) = fixture("sbom") else { return };
    let target = format!("{}:latest", fx.join("oci").display());
    let cdx = json_of(&vigil(&["sbom", &target, "--format", "cyclonedx-json"]));
    assert_eq!(cdx["specVersion"], "1.5");
    let spdx = json_of(&vigil(&["sbom", &target, "--format", "spdx-json"]));
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    // Same package count in both (+1 OS component / +2 image and OS packages).
    assert_eq!(
        cdx["components"].as_array().unwrap().len() + 1,
        spdx["packages"].as_array().unwrap().len()
    );
}

#[test]
fn bad_targets_fail_clearly() {
    let out = vigil(&["scan", "./no/such/dir", "--scanners", "config"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/dir"));
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.tar");
    std::fs::write(&junk, vec![0x1fu8, 0x8b, 8, 0, 1, 2, 3]).unwrap();
    let out = vigil(&["sbom", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.tar"));
    let out = vigil(&["scan", junk.to_str().unwrap(), "--severity", "SEVERE"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SEVERE"));
}
