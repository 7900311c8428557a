//! Fuzz opening a database file (a damaged or hostile `vulndb.bin`): open must refuse it
//! with an error or, if it opens, queries must not panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_vulndb::{Database, PackageQuery};

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("vulndb-fuzz-{}.bin", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(db) = Database::open(&path) {
        let _ = db.stats();
        let _ = db.age();
        for (eco, name, version) in [("PyPI", "demo", "1.0"), ("Go", "stdlib", "v1.2.3")] {
            let _ = db.query(&PackageQuery {
                ecosystem: eco,
                name,
                version,
            });
        }
    }
});
