//! Scanner speed on the real Debian fixture image (`scripts/scan-fixture.sh`): inventory of
//! each target form, and inventory + matching against the whole OSV corpus, warm (after one
//! untimed run). Prints wall time and the process's CPU time (user + system) per run: on a
//! shared, loaded machine the CPU figure is the one that reproduces. Run with
//! `cargo bench -p vigil-scan --bench scan`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vigil_scan::vigil_vulndb::Database;
use vigil_scan::vuln::{match_inventory, MatchOptions};
use vigil_scan::{scan_target, ScanOptions};

/// CPU time (user + system) consumed by this process so far.
fn cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid, exclusively borrowed `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs `f` once untimed, then `runs` times: (min wall, median wall, median CPU, last result).
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration, Duration, T) {
    let mut last = f(); // warm-up
    let mut times = Vec::new();
    let mut cpus = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let c = cpu();
        last = f();
        times.push(t.elapsed());
        cpus.push(cpu() - c);
    }
    times.sort();
    cpus.sort();
    (times[0], times[times.len() / 2], cpus[cpus.len() / 2], last)
}

fn main() {
    let fx = PathBuf::from(
        std::env::var("VIGIL_SCAN_FIXTURE")
            .unwrap_or_else(|_| "/var/cache/vigil-test/scan-fixture".into()),
    );
    if !fx.join(".done-v1").exists() {
        eprintln!(
            "SKIP: no fixture at {} (run scripts/scan-fixture.sh as root)",
            fx.display()
        );
        return;
    }
    let inv_only = ScanOptions {
        secrets: false,
        ..ScanOptions::default()
    };
    let full = ScanOptions::default();
    let targets = [
        ("rootfs", fx.join("rootfs").display().to_string()),
        (
            "docker-archive",
            fx.join("docker-archive.tar").display().to_string(),
        ),
        (
            "oci (gzip)",
            fx.join("oci-archive.tar").display().to_string(),
        ),
        ("oci (zstd)", fx.join("oci-zstd").display().to_string()),
    ];
    println!(
        "{:<16} {:>10} {:>10} {:>10} {:>10} {:>10}  packages",
        "target", "inv min", "inv med", "inv CPU", "+secrets", "files"
    );
    for (name, t) in &targets {
        let (min, med, cpu_med, inv) = time(5, || scan_target(t, &inv_only).expect("scan"));
        let (_, med_s, _, _) = time(3, || scan_target(t, &full).expect("scan"));
        println!(
            "{name:<16} {:>8.0}ms {:>8.0}ms {:>8.0}ms {:>8.0}ms {:>10}  {}",
            min.as_secs_f64() * 1e3,
            med.as_secs_f64() * 1e3,
            cpu_med.as_secs_f64() * 1e3,
            med_s.as_secs_f64() * 1e3,
            inv.files,
            inv.packages.len()
        );
    }
    let corpus = std::env::var_os("VIGIL_OSV_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/osv")
        });
    let tmp = tempfile::tempdir().expect("tempdir");
    let db_path = tmp.path().join("db");
    let sources: Vec<PathBuf> = ["pypi", "crates.io", "go"]
        .iter()
        .map(|e| corpus.join(e))
        .collect();
    let t = Instant::now();
    if let Err(e) = Database::import(&db_path, &sources) {
        eprintln!("SKIP matching: cannot import {}: {e}", corpus.display());
        return;
    }
    println!(
        "db import (whole corpus): {:.0}ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let mo = MatchOptions {
        today: vigil_scan::vuln::today(),
        ..MatchOptions::default()
    };
    // What `vigil scan --scanners vuln` and a default `vigil scan` (vuln + secrets) do.
    for (form, file) in [
        ("docker-archive", "docker-archive.tar"),
        ("oci (gzip)", "oci-archive.tar"),
    ] {
        let target = fx.join(file).display().to_string();
        for (what, opts) in [("inventory", &inv_only), ("inventory + secrets", &full)] {
            let (min, med, cpu_med, (n_pkgs, n_vulns)) = time(5, || {
                let db = Database::open(&db_path).expect("open db");
                let inv = scan_target(&target, opts).expect("scan");
                let m = match_inventory(&db, &inv, &mo);
                (inv.packages.len(), m.findings.len())
            });
            println!(
                "{what} + open db + match ({form}): min {:.0}ms, median {:.0}ms wall, {:.0}ms CPU ({} packages, {} findings)",
                min.as_secs_f64() * 1e3,
                med.as_secs_f64() * 1e3,
                cpu_med.as_secs_f64() * 1e3,
                n_pkgs,
                n_vulns
            );
        }
    }
    let target = fx.join("docker-archive.tar").display().to_string();
    let db = Database::open(&db_path).expect("open db");
    let inv = scan_target(&target, &inv_only).expect("scan");
    let (min, _, _, _) = time(20, || match_inventory(&db, &inv, &mo).findings.len());
    println!("match only: {:.2}ms", min.as_secs_f64() * 1e3);
}
