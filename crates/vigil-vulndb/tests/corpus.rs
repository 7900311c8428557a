//! The real OSV corpus (`../shared/corpus/osv`: Go, crates.io, PyPI) imported as a
//! database, then queried for package versions whose advisories are known from the files
//! themselves. The corpus is required: the tests fail with a clear message if it is missing.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use vigil_vulndb::version::{self, Ecosystem};
use vigil_vulndb::{Database, PackageQuery, Severity, Status};

fn corpus() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/osv");
    assert!(
        root.join("pypi").is_dir(),
        "test corpus missing: expected {} (the shared/ folder beside the repository)",
        root.display()
    );
    root
}

/// One import of the whole corpus shared by the tests of this binary.
fn db() -> &'static Database {
    static DB: OnceLock<(tempfile::TempDir, Database)> = OnceLock::new();
    &DB.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = corpus();
        let report = Database::import(
            dir.path(),
            &[root.join("go"), root.join("crates.io"), root.join("pypi")],
        )
        .expect("import corpus");
        assert!(
            report.errors.is_empty(),
            "corpus import errors: {:?}",
            report.errors
        );
        let db = Database::open(dir.path()).expect("open");
        (dir, db)
    })
    .1
}

fn ids(eco: &str, name: &str, version: &str) -> Vec<String> {
    db().query(&PackageQuery {
        ecosystem: eco,
        name,
        version,
    })
    .into_iter()
    .map(|f| f.id)
    .collect()
}

fn count_json(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read corpus dir")
        .filter(|e| {
            e.as_ref()
                .map(|e| e.path().extension().is_some_and(|x| x == "json"))
                .unwrap_or(false)
        })
        .count() as u64
}

#[test]
fn import_accounts_for_every_file() {
    let root = corpus();
    let dir = tempfile::tempdir().expect("tempdir");
    let r = Database::import(
        dir.path(),
        &[root.join("go"), root.join("crates.io"), root.join("pypi")],
    )
    .expect("import");
    let json_files = count_json(&root.join("go"))
        + count_json(&root.join("crates.io"))
        + count_json(&root.join("pypi"));
    assert_eq!(r.files_read, json_files);
    assert_eq!(
        r.imported + r.withdrawn + r.duplicates + r.errors.len() as u64,
        json_files,
        "every document is imported, withdrawn, a duplicate or an error"
    );
    assert!(
        r.withdrawn >= 30,
        "the corpus has withdrawn advisories: {}",
        r.withdrawn
    );
    assert!(r.git_ranges_ignored > 1000);
    for eco in ["Go", "PyPI", "crates.io"] {
        assert!(
            r.per_ecosystem.get(eco).copied().unwrap_or(0) > 1000,
            "{eco}: {:?}",
            r.per_ecosystem
        );
    }
    let db = Database::open(dir.path()).expect("open");
    let s = db.stats();
    assert_eq!(s.advisories, r.imported);
    assert_eq!(s.packages, r.packages);
    assert!(s.newest_modified.is_some());
    assert!(db.age().is_some());
}

#[test]
fn known_pypi_advisories_match() {
    // Each (package, version) lies inside the advisory's own range in the corpus file.
    let cases = [
        ("urllib3", "1.24.1", "PYSEC-2019-132", Some("1.24.3")),
        ("requests", "2.19.1", "PYSEC-2018-28", Some("2.20.0")),
        ("Jinja2", "2.10", "PYSEC-2019-217", Some("2.10.1")),
        ("PyYAML", "5.3", "PYSEC-2020-96", Some("5.3.1")),
        ("pyyaml", "5.3", "PYSEC-2021-142", Some("5.4")),
    ];
    for (name, version, id, fixed) in cases {
        let found = db().query(&PackageQuery {
            ecosystem: "PyPI",
            name,
            version,
        });
        let f = found.iter().find(|f| f.id == id).unwrap_or_else(|| {
            panic!(
                "{name} {version}: {id} not found in {:?}",
                found.iter().map(|f| &f.id).collect::<Vec<_>>()
            )
        });
        assert_eq!(f.fixed_version.as_deref(), fixed, "{id}");
        assert_eq!(f.status, Status::Fixed);
    }
    // The fixed versions themselves are not affected by those advisories.
    assert!(!ids("PyPI", "urllib3", "1.24.3").contains(&"PYSEC-2019-132".to_string()));
    assert!(!ids("PyPI", "requests", "2.20.0").contains(&"PYSEC-2018-28".to_string()));
    assert!(!ids("PyPI", "jinja2", "2.10.1").contains(&"PYSEC-2019-217".to_string()));
    // Introduced 5.1: 5.0 is below the range.
    assert!(!ids("PyPI", "pyyaml", "5.0").contains(&"PYSEC-2020-96".to_string()));
    // Aliases come along.
    let f = db().query(&PackageQuery {
        ecosystem: "PyPI",
        name: "urllib3",
        version: "1.24.1",
    });
    let f = f
        .iter()
        .find(|f| f.id == "PYSEC-2019-132")
        .expect("urllib3 finding");
    assert!(f.aliases.contains(&"CVE-2019-11236".to_string()));
    // Name normalization (PEP 503) and version normalization (PEP 440: 1.24.1.0 == 1.24.1).
    assert_eq!(
        ids("PyPI", "URLLib3", "1.24.1.0"),
        ids("PyPI", "urllib3", "1.24.1")
    );
}

#[test]
fn go_stdlib_ranges_with_several_spans() {
    // GO-2022-0969: introduced 0, fixed 1.18.6, introduced 1.19.0-0, fixed 1.19.1.
    assert!(ids("Go", "stdlib", "1.18.5").contains(&"GO-2022-0969".to_string()));
    assert!(ids("Go", "stdlib", "v1.18.5").contains(&"GO-2022-0969".to_string()));
    assert!(!ids("Go", "stdlib", "1.18.6").contains(&"GO-2022-0969".to_string()));
    assert!(ids("Go", "stdlib", "1.19.0").contains(&"GO-2022-0969".to_string()));
    assert!(!ids("Go", "stdlib", "1.19.1").contains(&"GO-2022-0969".to_string()));
    let f = db().query(&PackageQuery {
        ecosystem: "Go",
        name: "stdlib",
        version: "1.19.0",
    });
    let f = f.iter().find(|f| f.id == "GO-2022-0969").expect("finding");
    assert_eq!(f.fixed_version.as_deref(), Some("1.19.1"));
}

/// Cross-check of range evaluation against osv.dev's own enumeration: for PyPI the corpus
/// lists, next to each range, the versions osv.dev computed as affected. Import the PyPI
/// advisories with the `versions` lists removed, so only the ranges (and the PEP 440
/// comparator) decide, and check that every listed version is found affected.
///
/// Excluded (and counted): versions that are not valid PEP 440 (`0.9-doduo`, `0.7.10p1`:
/// no ordering exists for them, only the explicit list can match them), and entries that
/// also carry a GIT range, whose lists come partly from commit enumeration and can disagree
/// with the ECOSYSTEM range itself (PYSEC-2023-177 lists gevent 23.9.0, which its own range
/// marks fixed).
#[test]
fn pypi_ranges_agree_with_listed_versions() {
    let src = corpus().join("pypi");
    let stripped = tempfile::tempdir().expect("tempdir");
    let mut expected: Vec<(String, String, String)> = Vec::new();
    let (mut excluded_git, mut excluded_invalid) = (0u64, 0u64);
    for e in std::fs::read_dir(&src).expect("read pypi") {
        let p = e.expect("entry").path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let mut doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&p).expect("read")).expect("json");
        if doc.get("withdrawn").is_some() {
            continue;
        }
        let id = doc["id"].as_str().expect("id").to_string();
        if let Some(affected) = doc.get_mut("affected").and_then(|a| a.as_array_mut()) {
            for a in affected {
                let name = a["package"]["name"].as_str().unwrap_or("").to_string();
                let ranges = a["ranges"].as_array().cloned().unwrap_or_default();
                let has_eco = ranges.iter().any(|r| r["type"] == "ECOSYSTEM");
                let has_git = ranges.iter().any(|r| r["type"] == "GIT");
                if let Some(vs) = a.get("versions").and_then(|v| v.as_array()) {
                    for v in vs.iter().filter_map(|v| v.as_str()) {
                        if !has_eco {
                            continue;
                        }
                        if has_git {
                            excluded_git += 1;
                        } else if version::validate(Ecosystem::Pypi, v).is_err() {
                            excluded_invalid += 1;
                        } else {
                            expected.push((id.clone(), name.clone(), v.to_string()));
                        }
                    }
                }
                if let Some(obj) = a.as_object_mut() {
                    obj.remove("versions");
                }
            }
        }
        std::fs::write(
            stripped.path().join(p.file_name().expect("name")),
            serde_json::to_vec(&doc).expect("encode"),
        )
        .expect("write");
    }
    let dbdir = tempfile::tempdir().expect("tempdir");
    Database::import(dbdir.path(), &[stripped.path().to_path_buf()]).expect("import");
    let db = Database::open(dbdir.path()).expect("open");
    // One query per distinct (package, version); every advisory listing it must be found.
    // Debug builds check every 8th distinct pair (the full set takes minutes unoptimized);
    // release builds (`cargo test --release`) check all of them.
    let mut by_pair: std::collections::BTreeMap<(String, String), Vec<String>> = Default::default();
    for (id, name, v) in &expected {
        by_pair
            .entry((name.clone(), v.clone()))
            .or_default()
            .push(id.clone());
    }
    let stride = if cfg!(debug_assertions) { 8 } else { 1 };
    // Listed versions that contradict their own range under PEP 440 (checked by hand with
    // `packaging`): osv.dev's enumeration put them in, the range semantics do not.
    const INCONSISTENT: &[(&str, &str, &str)] = &[
        // Range starts at `introduced: 3.2` / `4.2`; pre-releases of 3.2 sort below 3.2.
        ("PYSEC-2023-61", "django", "3.2a1"),
        ("PYSEC-2023-61", "django", "3.2b1"),
        ("PYSEC-2023-61", "django", "3.2rc1"),
        ("PYSEC-2023-61", "django", "4.2a1"),
        ("PYSEC-2023-61", "django", "4.2b1"),
        ("PYSEC-2023-61", "django", "4.2rc1"),
        // Overlapping pairs in one range (introduced 2.11, fixed 2.11.7, introduced 0,
        // fixed 2.11.6): sorted evaluation ends the span at 2.11.6.
        ("PYSEC-2021-114", "wagtail", "2.11.6"),
    ];
    let mut missing = Vec::new();
    let mut inconsistent_seen = 0;
    let mut checked = 0usize;
    for ((name, v), want) in by_pair.iter().step_by(stride) {
        checked += want.len();
        let found = db.query(&PackageQuery {
            ecosystem: "PyPI",
            name,
            version: v,
        });
        for id in want {
            let known = INCONSISTENT.contains(&(id.as_str(), name.as_str(), v.as_str()));
            let hit = found.iter().any(|f| &f.id == id);
            if known {
                assert!(
                    !hit,
                    "{id} {name} {v} is listed as inconsistent but matched"
                );
                inconsistent_seen += 1;
            } else if !hit {
                missing.push(format!("{id} {name} {v}"));
            }
        }
    }
    eprintln!(
        "pypi cross-check: {} distinct (package, version) pairs, {checked} (advisory, version) pairs checked (stride {stride}), {inconsistent_seen} known data inconsistencies",
        by_pair.len()
    );
    eprintln!(
        "pypi cross-check: {} listed (advisory, version) pairs, {} not matched by ranges; excluded {excluded_git} from entries with GIT ranges, {excluded_invalid} non-PEP 440",
        expected.len(),
        missing.len()
    );
    assert!(expected.len() > 50_000, "only {} pairs", expected.len());
    assert!(
        missing.is_empty(),
        "{} listed versions not inside the ranges:\n{}",
        missing.len(),
        missing
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn crates_io_and_severity() {
    // RUSTSEC advisories carry CVSS v3 vectors; the severity comes from the computed score.
    let mut with_cvss = 0;
    let found = db().query(&PackageQuery {
        ecosystem: "crates.io",
        name: "openssl",
        version: "0.9.0",
    });
    assert!(!found.is_empty(), "openssl 0.9.0 has advisories in RustSec");
    for f in &found {
        if let Some((vector, score)) = &f.cvss {
            with_cvss += 1;
            assert!(vector.starts_with("CVSS:3"));
            assert!((0.0..=10.0).contains(score));
            assert_ne!(f.severity, Severity::Unknown, "{} has a score", f.id);
        }
    }
    eprintln!(
        "openssl 0.9.0: {} findings, {with_cvss} with CVSS",
        found.len()
    );
}

#[test]
fn unknown_package_and_bad_version() {
    assert!(ids("PyPI", "no-such-package-vigil", "1.0").is_empty());
    let out = db().query_detailed(&PackageQuery {
        ecosystem: "PyPI",
        name: "urllib3",
        version: "not a version!",
    });
    assert!(out.findings.is_empty());
    assert_eq!(out.unparsed.len(), 1, "the unparsable version is reported");
}
