//! Audit throughput: 1,000 manifests (the bench corpus's Kubernetes, compose, engine files and
//! Dockerfiles, cycled) audited in memory and from a directory on disk. Prints wall time and
//! the process's CPU time for the best run (auditing is single-threaded, so CPU time is the
//! figure that holds on a loaded machine). The target (1,000 manifests in under 1 s) is checked
//! by reading the figures, not by a timed test.
//!
//! Run: `cargo bench -p vigil-audit --bench audit_speed`

use std::path::Path;
use std::time::{Duration, Instant};
use vigil_audit::{audit_bytes, audit_path, collect_files, hint_for, Hint, Options};

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

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/audit-corpus");
    let files = collect_files(&corpus).expect("bench/audit-corpus");
    let inputs: Vec<(String, Vec<u8>, Hint)> = files
        .iter()
        .map(|f| {
            (
                f.display().to_string(),
                std::fs::read(f).expect("read corpus file"),
                hint_for(f).unwrap_or(Hint::Sniff),
            )
        })
        .collect();
    let opts = Options::default();
    let n = 1000;

    // Warm-up, then the best of 5 runs in memory.
    let mut best = f64::MAX;
    let mut best_cpu = f64::MAX;
    let mut findings = 0;
    let mut workloads = 0;
    for _ in 0..6 {
        let t = Instant::now();
        let c = cpu();
        findings = 0;
        workloads = 0;
        for i in 0..n {
            let (name, bytes, hint) = &inputs[i % inputs.len()];
            let r = audit_bytes(name, bytes, *hint, true, &opts);
            findings += r.findings.len();
            workloads += r.workloads.len();
        }
        best = best.min(t.elapsed().as_secs_f64());
        best_cpu = best_cpu.min((cpu() - c).as_secs_f64());
    }
    let bytes: usize = (0..n).map(|i| inputs[i % inputs.len()].1.len()).sum();
    println!(
        "in memory: {n} files ({:.1} KiB, {workloads} workloads, {findings} findings) in {:.1} ms wall, {:.1} ms CPU  = {:.0} files/s, {:.1} µs/file",
        bytes as f64 / 1024.0,
        best * 1e3,
        best_cpu * 1e3,
        n as f64 / best,
        best * 1e6 / n as f64
    );

    // From disk: 1,000 files in a directory tree, walked and read by `audit_path`.
    let dir = std::env::temp_dir().join(format!("vigil-audit-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for i in 0..n {
        let src = &files[i % files.len()];
        // One directory per copy keeps the original name (Dockerfiles are found by name).
        let sub = dir.join(format!("g{}", i % 10)).join(format!("c{i:04}"));
        std::fs::create_dir_all(&sub).expect("mkdir");
        std::fs::copy(src, sub.join(src.file_name().expect("name"))).expect("copy");
    }
    let mut best = f64::MAX;
    let mut best_cpu = f64::MAX;
    let mut count = 0;
    for _ in 0..4 {
        let t = Instant::now();
        let c = cpu();
        let r = audit_path(&dir, &opts);
        best = best.min(t.elapsed().as_secs_f64());
        best_cpu = best_cpu.min((cpu() - c).as_secs_f64());
        count = r.files;
        assert!(r.errors.is_empty(), "{:?}", r.errors);
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "from disk: {count} files walked, read and audited in {:.1} ms wall, {:.1} ms CPU  = {:.0} files/s",
        best * 1e3,
        best_cpu * 1e3,
        count as f64 / best
    );
}
