//! Bad input: malformed or mistyped JSON, bad range events, truncated and oversized
//! files, damaged databases. Each must produce an error naming the file and the problem,
//! never a panic, and never stop the rest of an import.

use std::io::Write;
use std::path::{Path, PathBuf};
use vigil_vulndb::{Database, DbError, PackageQuery};

const GOOD: &str = r#"{"id":"TEST-1","modified":"2024-01-02T03:04:05Z","summary":"test advisory",
 "database_specific":{"severity":"HIGH"},
 "affected":[{"package":{"ecosystem":"PyPI","name":"demo"},
   "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"1.0"},{"fixed":"1.5"}]}]}]}"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

fn zip_with(path: &Path, members: &[(&str, &str)]) {
    let f = std::fs::File::create(path).expect("create zip");
    let mut z = zip::ZipWriter::new(f);
    for (name, text) in members {
        z.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("start");
        z.write_all(text.as_bytes()).expect("write member");
    }
    z.finish().expect("finish");
}

#[test]
fn per_file_errors_do_not_stop_import() {
    let src = tempfile::tempdir().expect("tempdir");
    write(src.path(), "good.json", GOOD);
    write(src.path(), "truncated.json", &GOOD[..GOOD.len() / 2]);
    write(src.path(), "not-json.json", "this is not json");
    write(
        src.path(),
        "wrong-type.json",
        r#"{"id":"TEST-2","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"x"},"versions":5}]}"#,
    );
    write(
        src.path(),
        "no-id.json",
        r#"{"modified":"2024-01-01T00:00:00Z"}"#,
    );
    write(
        src.path(),
        "withdrawn.json",
        r#"{"id":"TEST-3","modified":"2024-01-01T00:00:00Z","withdrawn":"2024-02-01T00:00:00Z","affected":[]}"#,
    );
    write(src.path(), "README.md", "not an advisory");
    let nested = src.path().join("a/b");
    std::fs::create_dir_all(&nested).expect("mkdir");
    write(
        &nested,
        "two-keys.json",
        r#"{"id":"TEST-4","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"demo2"},
          "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0","fixed":"2.0"}]}],"versions":["1.0"]}]}"#,
    );
    let db_dir = tempfile::tempdir().expect("tempdir");
    let r = Database::import(db_dir.path(), &[src.path().to_path_buf()]).expect("import");
    assert_eq!(r.imported, 2, "good.json and two-keys.json: {r:?}");
    assert_eq!(r.withdrawn, 1);
    assert_eq!(r.ignored_files, 1);
    assert_eq!(r.errors.len(), 4, "{:#?}", r.errors);
    let err_of = |name: &str| {
        r.errors
            .iter()
            .find(|e| e.file.ends_with(name))
            .unwrap_or_else(|| panic!("no error for {name}: {:#?}", r.errors))
            .error
            .clone()
    };
    assert!(
        err_of("truncated.json").contains("line"),
        "{}",
        err_of("truncated.json")
    );
    assert!(err_of("not-json.json").contains("line 1 column"));
    assert!(
        err_of("wrong-type.json").contains("expected a sequence"),
        "{}",
        err_of("wrong-type.json")
    );
    assert!(err_of("no-id.json").contains("missing field `id`"));
    // The bad range is reported and dropped; the explicit version still matches.
    let w = r
        .warnings
        .iter()
        .find(|w| w.file.ends_with("two-keys.json"))
        .expect("warning for two-keys.json");
    assert!(
        w.error.contains("affected[0].ranges[0].events[0]"),
        "{}",
        w.error
    );
    let db = Database::open(db_dir.path()).expect("open");
    let q = |name, version| {
        db.query(&PackageQuery {
            ecosystem: "PyPI",
            name,
            version,
        })
    };
    assert_eq!(q("demo2", "1.0").len(), 1);
    assert!(
        q("demo2", "1.1").is_empty(),
        "range was dropped, 1.1 is not listed"
    );
    let f = q("demo", "1.2");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].fixed_version.as_deref(), Some("1.5"));
    assert_eq!(f[0].severity, vigil_vulndb::Severity::High);
    assert!(q("demo", "1.5").is_empty());
    assert!(q("demo", "0.9").is_empty());
}

#[test]
fn zip_archives_good_bad_and_truncated() {
    let src = tempfile::tempdir().expect("tempdir");
    let zip_path = src.path().join("all.zip");
    zip_with(
        &zip_path,
        &[("TEST-1.json", GOOD), ("BAD.json", "{"), ("notes.txt", "x")],
    );
    // A truncated copy: the central directory is gone.
    let bytes = std::fs::read(&zip_path).expect("read zip");
    let cut = src.path().join("cut.zip");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write cut");
    let db_dir = tempfile::tempdir().expect("tempdir");
    let r = Database::import(db_dir.path(), &[zip_path.clone(), cut.clone()]).expect("import");
    assert_eq!(r.imported, 1);
    assert_eq!(r.ignored_files, 1);
    let files: Vec<&str> = r.errors.iter().map(|e| e.file.as_str()).collect();
    assert!(
        files.iter().any(|f| f.ends_with("all.zip!BAD.json")),
        "{files:?}"
    );
    let cut_err = r
        .errors
        .iter()
        .find(|e| e.file.ends_with("cut.zip"))
        .expect("truncated zip reported");
    assert!(cut_err.error.contains("zip"), "{}", cut_err.error);
}

#[test]
fn oversized_file_is_refused() {
    let src = tempfile::tempdir().expect("tempdir");
    write(src.path(), "ok.json", GOOD);
    let huge = src.path().join("huge.json");
    let f = std::fs::File::create(&huge).expect("create");
    f.set_len(vigil_vulndb::MAX_JSON_BYTES + 1)
        .expect("sparse file");
    let db_dir = tempfile::tempdir().expect("tempdir");
    let r = Database::import(db_dir.path(), &[src.path().to_path_buf()]).expect("import");
    assert_eq!(r.imported, 1);
    assert_eq!(r.errors.len(), 1);
    assert!(r.errors[0].file.ends_with("huge.json"));
    assert!(r.errors[0].error.contains("limit"), "{}", r.errors[0].error);
}

#[test]
fn nothing_imported_leaves_existing_database() {
    let src = tempfile::tempdir().expect("tempdir");
    write(src.path(), "ok.json", GOOD);
    let db_dir = tempfile::tempdir().expect("tempdir");
    Database::import(db_dir.path(), &[src.path().to_path_buf()]).expect("first import");
    let before = std::fs::read(db_dir.path().join(vigil_vulndb::DB_FILE)).expect("db");
    let bad = tempfile::tempdir().expect("tempdir");
    write(bad.path(), "bad.json", "[1,2");
    match Database::import(
        db_dir.path(),
        &[bad.path().to_path_buf(), src.path().join("missing")],
    ) {
        Err(DbError::NothingImported { report }) => {
            assert_eq!(report.errors.len(), 2, "{:?}", report.errors);
        }
        other => panic!("expected NothingImported, got {other:?}"),
    }
    let after = std::fs::read(db_dir.path().join(vigil_vulndb::DB_FILE)).expect("db");
    assert_eq!(before, after, "database untouched");
    assert!(matches!(
        Database::import(db_dir.path(), &[]),
        Err(DbError::NoSources)
    ));
}

#[test]
fn damaged_database_files_are_refused() {
    let src = tempfile::tempdir().expect("tempdir");
    write(src.path(), "ok.json", GOOD);
    let db_dir = tempfile::tempdir().expect("tempdir");
    Database::import(db_dir.path(), &[src.path().to_path_buf()]).expect("import");
    let file = db_dir.path().join(vigil_vulndb::DB_FILE);
    let good = std::fs::read(&file).expect("read");
    let empty = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        Database::open(empty.path()),
        Err(DbError::NotFound { .. })
    ));
    // Every truncation and a flipped byte at every 7th position: a clean error, no panic.
    let mut refused = 0;
    for cut in (0..good.len()).step_by(7) {
        std::fs::write(&file, &good[..cut]).expect("write");
        assert!(
            Database::open(&file).is_err(),
            "truncated at {cut} accepted"
        );
        refused += 1;
    }
    for pos in (0..good.len()).step_by(7) {
        let mut bad = good.clone();
        bad[pos] ^= 0x5a;
        std::fs::write(&file, &bad).expect("write");
        match Database::open(&file) {
            Err(DbError::Format { reason, .. }) => {
                assert!(!reason.is_empty());
                refused += 1;
            }
            other => panic!("flipped byte {pos} not refused: {other:?}"),
        }
    }
    let mut other_version = good.clone();
    other_version[8] = 99;
    std::fs::write(&file, &other_version).expect("write");
    let e = Database::open(&file).expect_err("other version");
    assert!(e.to_string().contains("format version 99"), "{e}");
    eprintln!("{refused} damaged variants refused");
}

#[test]
fn invalid_event_versions_are_reported() {
    let src = tempfile::tempdir().expect("tempdir");
    write(
        src.path(),
        "bad-version.json",
        r#"{"id":"TEST-9","modified":"2024-01-01T00:00:00Z","affected":[
          {"package":{"ecosystem":"crates.io","name":"demo"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"not.a.version"}]}]},
          {"package":{"ecosystem":"crates.io","name":"demo"},"ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"fixed":"1.2.0"}]}]},
          {"package":{"ecosystem":"Packagist","name":"vendor/pkg"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.0"}]}],"versions":["1.0"]}]}"#,
    );
    let db_dir = tempfile::tempdir().expect("tempdir");
    let r = Database::import(db_dir.path(), &[src.path().to_path_buf()]).expect("import");
    assert_eq!(r.imported, 1);
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(r.warnings[0].error.contains("not.a.version"));
    assert_eq!(r.unordered_ranges.get("Packagist"), Some(&1));
    let db = Database::open(db_dir.path()).expect("open");
    let q = |eco, name, version| {
        db.query(&PackageQuery {
            ecosystem: eco,
            name,
            version,
        })
        .len()
    };
    assert_eq!(
        q("crates.io", "demo", "1.1.0"),
        1,
        "the valid range still matches"
    );
    assert_eq!(q("crates.io", "demo", "0.5.0"), 0);
    assert_eq!(
        q("Packagist", "vendor/pkg", "1.0"),
        1,
        "explicit versions match"
    );
    assert_eq!(
        q("Packagist", "vendor/pkg", "1.5"),
        0,
        "unordered range not evaluated"
    );
}
