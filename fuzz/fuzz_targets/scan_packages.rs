//! Fuzz the package-database and lock-file parsers: the first byte picks the parser, the rest
//! is the file's contents.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_scan::analyze::{analyze, FileKind};

const KINDS: [(FileKind, &str); 12] = [
    (FileKind::OsRelease, "etc/os-release"),
    (FileKind::DpkgStatus, "var/lib/dpkg/status"),
    (FileKind::ApkInstalled, "lib/apk/db/installed"),
    (FileKind::PythonMetadata, "x.dist-info/METADATA"),
    (FileKind::PythonRequirements, "requirements.txt"),
    (FileKind::PoetryLock, "poetry.lock"),
    (FileKind::PipfileLock, "Pipfile.lock"),
    (FileKind::NodePackageJson, "node_modules/x/package.json"),
    (FileKind::NodePackageLock, "package-lock.json"),
    (FileKind::CargoLock, "Cargo.lock"),
    (FileKind::Jar, "app.jar"),
    (FileKind::Executable, "bin/app"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let (kind, path) = KINDS[sel as usize % KINDS.len()];
    let _ = analyze(kind, path, rest);
    let _ = vigil_scan::analyze::rpm::parse_header(rest);
});
