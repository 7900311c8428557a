//! End-to-end tests of `vigil db import` and `vigil db info`: the real binary on real files
//! (small inline advisories, and the shared OSV corpus when present).

use std::path::Path;
use std::process::{Command, Output};

const ADV: &str = r#"{"id":"TEST-1","modified":"2020-01-02T03:04:05Z","summary":"demo",
 "affected":[{"package":{"ecosystem":"PyPI","name":"demo"},
   "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.5"}]}]}]}"#;

fn vigil(args: &[&str], db_env: Option<&Path>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vigil"));
    c.args(args);
    match db_env {
        Some(p) => c.env("VIGIL_DB", p),
        None => c.env_remove("VIGIL_DB"),
    };
    c.output().expect("run vigil")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn import_reports_counts_and_bad_files_then_info() {
    let src = tempfile::tempdir().expect("tempdir");
    std::fs::write(src.path().join("TEST-1.json"), ADV).expect("write");
    std::fs::write(src.path().join("broken.json"), "{\"id\": ").expect("write");
    std::fs::write(
        src.path().join("gone.json"),
        r#"{"id":"TEST-2","modified":"2020-01-01T00:00:00Z","withdrawn":"2020-02-01T00:00:00Z"}"#,
    )
    .expect("write");
    let db = tempfile::tempdir().expect("tempdir");
    let dbs = db.path().to_str().expect("utf8");
    let o = vigil(
        &[
            "db",
            "import",
            src.path().to_str().expect("utf8"),
            "--db",
            dbs,
        ],
        None,
    );
    let (out, err) = text(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "per-file errors give exit 1\n{out}\n{err}"
    );
    assert!(out.contains("imported 1 advisories"), "{out}");
    assert!(out.contains("PyPI"), "{out}");
    assert!(out.contains("1 withdrawn"), "{out}");
    assert!(out.contains("broken.json"), "the bad file is named: {out}");
    assert!(out.contains("line 1 column"), "{out}");

    // info through $VIGIL_DB; the advisory is from 2020, so the age warning fires.
    let o = vigil(&["db", "info"], Some(db.path()));
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("advisories:  1"), "{out}");
    assert!(out.contains("vulndb.bin"), "{out}");
    assert!(
        out.contains("newest advisory modified: 2020-01-02T03:04:05Z"),
        "{out}"
    );
    assert!(err.contains("days old"), "stale warning: {err}");
    let o = vigil(
        &["db", "info", "--db", dbs, "--max-age-days", "1000000"],
        None,
    );
    assert!(o.status.success());
    assert!(
        !text(&o).1.contains("days old"),
        "no warning under the limit"
    );
}

#[test]
fn nothing_importable_fails_and_missing_db_is_explained() {
    let src = tempfile::tempdir().expect("tempdir");
    std::fs::write(src.path().join("bad.json"), "[").expect("write");
    let db = tempfile::tempdir().expect("tempdir");
    let dbs = db.path().to_str().expect("utf8");
    let o = vigil(
        &[
            "db",
            "import",
            src.path().to_str().expect("utf8"),
            "--db",
            dbs,
        ],
        None,
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    assert!(err.contains("no advisory imported"), "{err}");
    assert!(out.contains("bad.json"), "{out}");
    assert!(!db.path().join("vulndb.bin").exists());
    let o = vigil(&["db", "info", "--db", dbs], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.contains("run 'vigil db import'"),
        "{}",
        text(&o).1
    );
}

#[test]
fn import_of_the_shared_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/osv");
    assert!(
        root.join("pypi").is_dir(),
        "test corpus missing at {} (shared/ beside the repository)",
        root.display()
    );
    let db = tempfile::tempdir().expect("tempdir");
    let dirs: Vec<String> = ["go", "crates.io", "pypi"]
        .iter()
        .map(|d| root.join(d).display().to_string())
        .collect();
    let mut args = vec!["db", "import"];
    args.extend(dirs.iter().map(String::as_str));
    args.extend(["--db", db.path().to_str().expect("utf8")]);
    let o = vigil(&args, None);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    for eco in ["Go", "PyPI", "crates.io"] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(eco)),
            "{eco}: {out}"
        );
    }
    assert!(out.contains("GIT ranges"), "{out}");
}
