//! OSV range semantics, name normalization and severity derivation on small inline
//! advisories, plus the CVSS v3 calculator against reference scores (`vectors/cvss3.jsonl`).

use vigil_vulndb::{Database, PackageQuery, Severity, Status};

/// Build a database from inline documents and return it (the tempdir lives as long).
fn db_of(docs: &[&str]) -> (tempfile::TempDir, Database) {
    let src = tempfile::tempdir().expect("tempdir");
    for (i, d) in docs.iter().enumerate() {
        std::fs::write(src.path().join(format!("{i}.json")), d).expect("write");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let r = Database::import(dir.path(), &[src.path().to_path_buf()]).expect("import");
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let db = Database::open(dir.path()).expect("open");
    (dir, db)
}

fn adv(id: &str, eco: &str, name: &str, ranges: &str, extra: &str) -> String {
    format!(
        r#"{{"id":"{id}","modified":"2024-05-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"{eco}","name":"{name}"}},"ranges":{ranges}{extra}}}]}}"#
    )
}

fn hit(db: &Database, eco: &str, name: &str, v: &str) -> Option<(Option<String>, Status)> {
    db.query(&PackageQuery {
        ecosystem: eco,
        name,
        version: v,
    })
    .into_iter()
    .next()
    .map(|f| (f.fixed_version, f.status))
}

#[test]
fn several_spans_last_affected_and_limit() {
    let a = adv(
        "A",
        "crates.io",
        "demo",
        r#"[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.5"},{"introduced":"1.1.0"},{"fixed":"1.1.2"}]}]"#,
        "",
    );
    let b = adv(
        "B",
        "npm",
        "@scope/pkg",
        r#"[{"type":"SEMVER","events":[{"introduced":"2.0.0"},{"last_affected":"2.3.0"}]}]"#,
        "",
    );
    let c = adv(
        "C",
        "Go",
        "example.com/mod",
        r#"[{"type":"SEMVER","events":[{"introduced":"0"},{"limit":"1.5.0"}]}]"#,
        "",
    );
    let (_d, db) = db_of(&[&a, &b, &c]);
    assert_eq!(
        hit(&db, "crates.io", "demo", "0.1.0"),
        Some((Some("1.0.5".into()), Status::Fixed))
    );
    assert_eq!(hit(&db, "crates.io", "demo", "1.0.5"), None);
    assert_eq!(hit(&db, "crates.io", "demo", "1.0.9"), None);
    assert_eq!(
        hit(&db, "crates.io", "demo", "1.1.0-rc.1"),
        None,
        "pre-release below 1.1.0"
    );
    assert_eq!(
        hit(&db, "crates.io", "demo", "1.1.1"),
        Some((Some("1.1.2".into()), Status::Fixed))
    );
    assert_eq!(hit(&db, "crates.io", "demo", "1.1.2"), None);
    assert_eq!(hit(&db, "npm", "@scope/pkg", "1.9.9"), None);
    assert_eq!(
        hit(&db, "npm", "@scope/pkg", "2.3.0"),
        Some((None, Status::Affected))
    );
    assert_eq!(hit(&db, "npm", "@scope/pkg", "2.3.1"), None);
    assert_eq!(
        hit(&db, "Go", "example.com/mod", "v1.4.9"),
        Some((None, Status::Affected))
    );
    assert_eq!(
        hit(&db, "Go", "example.com/mod", "v1.5.0"),
        None,
        "limit is exclusive"
    );
    assert_eq!(
        hit(
            &db,
            "Go",
            "example.com/mod",
            "v0.0.0-20200101000000-abcdefabcdef"
        ),
        Some((None, Status::Affected)),
        "pseudo-versions order as pre-releases"
    );
    assert_eq!(
        hit(&db, "Go", "Example.com/mod", "v1.0.0"),
        None,
        "Go paths are case-sensitive"
    );
}

#[test]
fn distro_ecosystems_and_explicit_versions() {
    let deb = adv(
        "DSA-1",
        "Debian:12",
        "openssl",
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.13-1~deb12u1"}]}]"#,
        "",
    );
    let alp = adv(
        "ALPINE-1",
        "Alpine:v3.19",
        "busybox",
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.36.1-r16"}]}]"#,
        "",
    );
    let rh = adv(
        "RHSA-1",
        "Red Hat",
        "openssl",
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:3.0.7-25.el9_3"}]}]"#,
        r#","ecosystem_specific":{"fix_state":"Will not fix"}"#,
    );
    let mvn = adv(
        "GHSA-m",
        "Maven",
        "org.example:lib",
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.0.0"}]}]"#,
        r#","versions":["1.0-SNAPSHOT"]"#,
    );
    let (_d, db) = db_of(&[&deb, &alp, &rh, &mvn]);
    assert!(hit(&db, "Debian:12", "openssl", "3.0.11-1~deb12u2").is_some());
    assert!(hit(&db, "Debian:12", "openssl", "3.0.13-1~deb12u1").is_none());
    assert!(
        hit(&db, "Debian:12", "openssl", "3.0.13-1").is_none(),
        "~deb12u1 sorts below -1"
    );
    assert!(
        hit(&db, "Debian:11", "openssl", "1.0").is_none(),
        "other release"
    );
    assert!(
        hit(&db, "Alpine:3.19", "busybox", "1.36.1-r15").is_some(),
        "v-less release"
    );
    assert!(hit(&db, "Alpine:v3.19", "busybox", "1.36.1-r16").is_none());
    assert!(
        hit(&db, "Alpine:v3.19", "busybox", "1.36.1_rc1-r20").is_some(),
        "_rc sorts before release"
    );
    assert!(hit(&db, "Red Hat", "openssl", "1:3.0.7-24.el9").is_some());
    assert!(
        hit(&db, "Red Hat", "openssl", "0:3.1.0-1.el9").is_some(),
        "epoch 0 < 1 whatever the version"
    );
    assert!(hit(&db, "Red Hat", "openssl", "1:3.0.7-25.el9_3").is_none());
    assert!(hit(&db, "Maven", "org.example:lib", "2.0.0-RC1").is_some());
    assert!(
        hit(&db, "Maven", "org.example:lib", "2.0.0.Final").is_none(),
        "final = release"
    );
}

#[test]
fn status_will_not_fix_when_no_fix() {
    let rh = adv(
        "RHSA-2",
        "Red Hat",
        "kernel",
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]"#,
        r#","ecosystem_specific":{"fix_state":"Will not fix"}"#,
    );
    let (_d, db) = db_of(&[&rh]);
    assert_eq!(
        hit(&db, "Red Hat", "kernel", "5.14.0-1.el9"),
        Some((None, Status::WillNotFix))
    );
}

#[test]
fn severity_sources_and_precedence() {
    let docs = [
        // Only a CVSS v3 vector: 9.8 -> Critical.
        r#"{"id":"S1","modified":"2024-01-01T00:00:00Z","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected":[{"package":{"ecosystem":"PyPI","name":"s1"},"versions":["1.0"]}]}"#,
        // GHSA-style database_specific.severity wins over the vector.
        r#"{"id":"S2","modified":"2024-01-01T00:00:00Z","database_specific":{"severity":"MODERATE"},
            "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected":[{"package":{"ecosystem":"PyPI","name":"s2"},"versions":["1.0"]}]}"#,
        // Package-level severity wins over the advisory's.
        r#"{"id":"S3","modified":"2024-01-01T00:00:00Z","database_specific":{"severity":"LOW"},
            "affected":[{"package":{"ecosystem":"PyPI","name":"s3"},"versions":["1.0"],"ecosystem_specific":{"severity":"HIGH"}}]}"#,
        // Only CVSS v4: not scored.
        r#"{"id":"S4","modified":"2024-01-01T00:00:00Z","severity":[{"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}],
            "affected":[{"package":{"ecosystem":"PyPI","name":"s4"},"versions":["1.0"]}]}"#,
    ];
    let (_d, db) = db_of(&docs);
    let one = |name: &str| {
        db.query(&PackageQuery {
            ecosystem: "PyPI",
            name,
            version: "1.0",
        })
        .into_iter()
        .next()
        .expect("finding")
    };
    let s1 = one("s1");
    assert_eq!(s1.severity, Severity::Critical);
    assert_eq!(s1.cvss.as_ref().map(|c| c.1), Some(9.8));
    assert_eq!(one("s2").severity, Severity::Medium);
    assert_eq!(one("s3").severity, Severity::High);
    let s4 = one("s4");
    assert_eq!(s4.severity, Severity::Unknown);
    assert!(s4.cvss.is_none());
    // PEP 440 equality for explicit versions: 1.0 == 1.0.0 == 1.0+0? (local differs: no).
    assert_eq!(
        db.query(&PackageQuery {
            ecosystem: "PyPI",
            name: "S1",
            version: "1.0.0"
        })
        .len(),
        1
    );
    assert_eq!(
        db.query(&PackageQuery {
            ecosystem: "PyPI",
            name: "s1",
            version: "1.0+local"
        })
        .len(),
        0
    );
}

#[test]
fn duplicate_ids_keep_newest() {
    let old = adv(
        "D",
        "PyPI",
        "dup",
        r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0"}]}]"#,
        "",
    );
    let new = old
        .replace("2024-05-01", "2024-06-01")
        .replace(r#""fixed":"1.0""#, r#""fixed":"2.0""#);
    let (_d, db) = db_of(&[&old, &new]);
    assert_eq!(
        hit(&db, "PyPI", "dup", "1.5"),
        Some((Some("2.0".into()), Status::Fixed))
    );
}

#[test]
fn cvss3_reference_scores() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/cvss3.jsonl"),
    )
    .expect("cvss3.jsonl");
    let mut n = 0;
    let mut bad = Vec::new();
    for line in text.lines() {
        let row: serde_json::Value = serde_json::from_str(line).expect("json");
        if row[0] == "source" {
            continue;
        }
        let vector = row[0].as_str().expect("vector");
        let want = row[1].as_f64().expect("score");
        n += 1;
        match vigil_vulndb::cvss::score(vector) {
            Ok(got) if (got - want).abs() < 1e-9 => {
                let sev = vigil_vulndb::cvss::rating(got);
                let want_sev = row[2].as_str().expect("severity");
                let ok = matches!(
                    (want_sev, sev),
                    ("None", Severity::Low)
                        | ("Low", Severity::Low)
                        | ("Medium", Severity::Medium)
                        | ("High", Severity::High)
                        | ("Critical", Severity::Critical)
                );
                if !ok {
                    bad.push(format!("{vector}: rating {sev:?}, want {want_sev}"));
                }
            }
            other => bad.push(format!("{vector}: want {want}, got {other:?}")),
        }
    }
    eprintln!("cvss3: {n} reference vectors");
    assert!(n > 800);
    assert!(bad.is_empty(), "{} wrong:\n{}", bad.len(), bad.join("\n"));
    for v in [
        "CVSS:2.0/AV:N",
        "CVSS:3.1/AV:N/AC:L",
        "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    ] {
        assert!(vigil_vulndb::cvss::score(v).is_err(), "{v} accepted");
    }
}
