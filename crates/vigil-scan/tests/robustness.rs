//! Randomized robustness test: the same entry points as the fuzz targets
//! (`fuzz/fuzz_targets/scan_*.rs`), driven by a deterministic generator so that plain
//! `cargo test` (no nightly, no libFuzzer) also exercises corrupted layers, package databases
//! and binaries. Any panic fails the test; errors must name what they are about.

mod common;
use common::*;
use vigil_scan::analyze::{analyze, binary, FileKind};
use vigil_scan::layer::Limits;
use vigil_scan::ScanOptions;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Flip bytes, truncate, duplicate or insert runs.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut d = seed.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(5) {
            0 if !d.is_empty() => {
                let i = rng.below(d.len());
                d[i] ^= 1 << rng.below(8);
            }
            1 if !d.is_empty() => d.truncate(rng.below(d.len())),
            2 if !d.is_empty() => {
                let i = rng.below(d.len());
                d[i] = [0, 0xff, b'\n', b'/', b'.', b':'][rng.below(6)];
            }
            3 => {
                let i = rng.below(d.len() + 1);
                let n = rng.below(64);
                let b = rng.next() as u8;
                d.splice(i..i, std::iter::repeat_n(b, n));
            }
            _ if d.len() > 2 => {
                let a = rng.below(d.len());
                let b = (a + rng.below(512)).min(d.len());
                let chunk = d[a..b].to_vec();
                let at = rng.below(d.len());
                d.splice(at..at, chunk);
            }
            _ => {}
        }
    }
    d
}

#[test]
fn corrupted_layers_never_panic() {
    let seed_layer = tar(&[
        E::Dir("etc"),
        E::Link("etc/os-release", "../usr/lib/os-release"),
        E::File("usr/lib/os-release", OS_RELEASE),
        E::File("var/lib/dpkg/status", DPKG_STATUS),
        E::File("opt/x/.wh.y", b""),
        E::File("opt/.wh..wh..opq", b""),
        E::File("a/b-1.0.dist-info/METADATA", &metadata("b", "1.0")),
        E::File("app/.env", b"TOKEN=glpat-Xy7kP2mQ9rT4vW8zA1bC\n"),
    ]);
    let seeds = [seed_layer.clone(), gzip(&seed_layer), zstd(&seed_layer)];
    let opts = ScanOptions {
        limits: Limits {
            max_layer_bytes: 16 << 20,
            ratio_floor: 1 << 20,
            ..Limits::default()
        },
        ..ScanOptions::default()
    };
    // The seeds themselves scan cleanly.
    for s in &seeds {
        let inv = vigil_scan::scan::scan_layers("seed", &[s], &opts).unwrap();
        assert_eq!(inv.packages.len(), 3);
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut err) = (0, 0);
    for i in 0..1500 {
        let s = &seeds[i % seeds.len()];
        let a = mutate(&mut rng, s);
        match vigil_scan::scan::scan_layers("fuzz", &[&a, s], &opts) {
            Ok(_) => ok += 1,
            Err(e) => {
                assert!(
                    e.to_string().contains("layer "),
                    "error does not name the layer: {e}"
                );
                err += 1;
            }
        }
    }
    assert!(
        ok > 0 && err > 0,
        "mutations should produce both outcomes ({ok} ok, {err} errors)"
    );
}

#[test]
fn corrupted_package_files_never_panic() {
    let jar = {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file(
            "META-INF/maven/g/a/pom.properties",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        w.write_all(b"groupId=g\nartifactId=a\nversion=1\n")
            .unwrap();
        w.finish().unwrap().into_inner()
    };
    let seeds: Vec<(FileKind, &str, Vec<u8>)> = vec![
        (FileKind::DpkgStatus, "var/lib/dpkg/status", DPKG_STATUS.to_vec()),
        (FileKind::ApkInstalled, "lib/apk/db/installed", b"P:musl\nV:1.2\no:musl\n\nP:x\nV:2\n".to_vec()),
        (FileKind::PythonMetadata, "a.dist-info/METADATA", metadata("a", "1")),
        (FileKind::PoetryLock, "poetry.lock", b"[[package]]\nname = \"a\"\nversion = \"1\"\n".to_vec()),
        (FileKind::PipfileLock, "Pipfile.lock", br#"{"default":{"a":{"version":"==1"}}}"#.to_vec()),
        (FileKind::NodePackageLock, "package-lock.json", br#"{"lockfileVersion":1,"dependencies":{"a":{"version":"1","dependencies":{"b":{"version":"2"}}}}}"#.to_vec()),
        (FileKind::CargoLock, "Cargo.lock", b"[[package]]\nname = \"a\"\nversion = \"1\"\nsource = \"registry+x\"\n".to_vec()),
        (FileKind::Jar, "a.jar", jar),
        (FileKind::OsRelease, "etc/os-release", OS_RELEASE.to_vec()),
    ];
    let mut rng = Rng(42);
    for (kind, path, seed) in &seeds {
        let clean = analyze(*kind, path, seed);
        assert!(clean.warnings.is_empty(), "{path}: {:?}", clean.warnings);
        assert!(!clean.packages.is_empty() || clean.os.is_some(), "{path}");
        for _ in 0..400 {
            let d = mutate(&mut rng, seed);
            let out = analyze(*kind, path, &d);
            for w in &out.warnings {
                assert!(w.file.starts_with(path), "warning names another file: {w}");
            }
        }
    }
}

#[test]
fn corrupted_binaries_never_panic() {
    // A real ELF (this test binary) with a Go build-info blob appended.
    let mut elf = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    elf.truncate(64 << 10);
    let mut blob = b"\xff Go buildinf:".to_vec();
    blob.extend_from_slice(&[8, 2]);
    blob.resize(32, 0);
    for s in [
        "go1.22.1",
        "path\tx\nmod\tx\t(devel)\t\ndep\tgolang.org/x/net\tv0.1.0\th1:x\n",
    ] {
        blob.push(s.len() as u8);
        blob.extend_from_slice(s.as_bytes());
    }
    elf.extend_from_slice(&blob);
    let (v, m) = binary::go_buildinfo(&elf).unwrap().unwrap();
    assert_eq!(binary::go_packages("x", &v, &m).len(), 3);
    let mut rng = Rng(7);
    for _ in 0..300 {
        let mut d = elf.clone();
        for _ in 0..8 {
            let i = rng.below(d.len().min(4096));
            d[i] = rng.next() as u8;
        }
        let tail = d.len() - blob.len() + rng.below(blob.len());
        d[tail] ^= 0xff;
        let _ = analyze(FileKind::Executable, "bin/x", &d);
    }
}

/// Inputs cargo-fuzz found (`tests/fuzz_regressions/<target>-*.bin`), replayed through the
/// target's own entry point. `scan_layer-zstd-thread-leak.bin`: a zstd layer after which
/// LeakSanitizer saw the decompression thread's state still allocated, because the walk
/// returned before the OS thread had exited; the walk now joins the thread.
#[test]
fn fuzz_regressions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let data = std::fs::read(&p).unwrap();
        if name.starts_with("scan_layer-") {
            // Same carving and limits as fuzz/fuzz_targets/scan_layer.rs.
            let cut = data
                .first()
                .map(|b| *b as usize * data.len() / 256)
                .unwrap_or(0);
            let (a, b) = data.split_at(cut.min(data.len()));
            let opts = ScanOptions {
                limits: Limits {
                    max_layer_bytes: 64 << 20,
                    ratio_floor: 1 << 20,
                    max_entries: 100_000,
                    ..Limits::default()
                },
                ..ScanOptions::default()
            };
            let _ = vigil_scan::scan::scan_layers("fuzz", &[a, b], &opts);
            n += 1;
        }
    }
    assert!(n > 0, "no regression inputs in {}", dir.display());
}
