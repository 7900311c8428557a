//! Benchmark: import of the whole shared OSV corpus, warm open, and query throughput for a
//! scanner-like workload (a Debian image's ~100 packages plus Python and Go packages).
//! Prints figures; it is not a timed test. Run: `cargo bench -p vigil-vulndb`.

use std::path::PathBuf;
use std::time::{Duration, Instant};
use vigil_vulndb::{Database, PackageQuery};

const DEBIAN: &[(&str, &str)] = &[
    ("adduser", "3.134"),
    ("apt", "2.6.1"),
    ("base-files", "12.4+deb12u5"),
    ("base-passwd", "3.6.1"),
    ("bash", "5.2.15-2+b2"),
    ("bsdutils", "1:2.38.1-5+b1"),
    ("coreutils", "9.1-1"),
    ("dash", "0.5.12-2"),
    ("debconf", "1.5.82"),
    ("debian-archive-keyring", "2023.3+deb12u1"),
    ("debianutils", "5.7-0.5~deb12u1"),
    ("diffutils", "1:3.8-4"),
    ("dpkg", "1.21.22"),
    ("e2fsprogs", "1.47.0-2"),
    ("findutils", "4.9.0-4"),
    ("gcc-12-base", "12.2.0-14"),
    ("gpgv", "2.2.40-1.1"),
    ("grep", "3.8-5"),
    ("gzip", "1.12-1"),
    ("hostname", "3.23+nmu1"),
    ("init-system-helpers", "1.65.2"),
    ("libacl1", "2.3.1-3"),
    ("libapt-pkg6.0", "2.6.1"),
    ("libattr1", "1:2.5.1-4"),
    ("libaudit-common", "1:3.0.9-1"),
    ("libaudit1", "1:3.0.9-1"),
    ("libblkid1", "2.38.1-5+b1"),
    ("libbz2-1.0", "1.0.8-5+b1"),
    ("libc-bin", "2.36-9+deb12u4"),
    ("libc6", "2.36-9+deb12u4"),
    ("libcap-ng0", "0.8.3-1+b3"),
    ("libcap2", "1:2.66-4"),
    ("libcom-err2", "1.47.0-2"),
    ("libcrypt1", "1:4.4.33-2"),
    ("libdb5.3", "5.3.28+dfsg2-1"),
    ("libdebconfclient0", "0.270"),
    ("libext2fs2", "1.47.0-2"),
    ("libffi8", "3.4.4-1"),
    ("libgcc-s1", "12.2.0-14"),
    ("libgcrypt20", "1.10.1-3"),
    ("libgmp10", "2:6.2.1+dfsg1-1.1"),
    ("libgnutls30", "3.7.9-2+deb12u2"),
    ("libgpg-error0", "1.46-1"),
    ("libhogweed6", "3.8.1-2"),
    ("libidn2-0", "2.3.3-1+b1"),
    ("liblz4-1", "1.9.4-1"),
    ("liblzma5", "5.4.1-0.2"),
    ("libmd0", "1.0.4-2"),
    ("libmount1", "2.38.1-5+b1"),
    ("libnettle8", "3.8.1-2"),
    ("libp11-kit0", "0.24.1-2"),
    ("libpam-modules", "1.5.2-6+deb12u1"),
    ("libpam-modules-bin", "1.5.2-6+deb12u1"),
    ("libpam-runtime", "1.5.2-6+deb12u1"),
    ("libpam0g", "1.5.2-6+deb12u1"),
    ("libpcre2-8-0", "10.42-1"),
    ("libseccomp2", "2.5.4-1+b3"),
    ("libselinux1", "3.4-1+b6"),
    ("libsemanage-common", "3.4-1"),
    ("libsemanage2", "3.4-1+b5"),
    ("libsepol2", "3.4-2.1"),
    ("libsmartcols1", "2.38.1-5+b1"),
    ("libss2", "1.47.0-2"),
    ("libssl3", "3.0.11-1~deb12u2"),
    ("libstdc++6", "12.2.0-14"),
    ("libsystemd0", "252.22-1~deb12u1"),
    ("libtasn1-6", "4.19.0-2"),
    ("libtinfo6", "6.4-4"),
    ("libudev1", "252.22-1~deb12u1"),
    ("libunistring2", "1.0-2"),
    ("libuuid1", "2.38.1-5+b1"),
    ("libxxhash0", "0.8.1-1"),
    ("libzstd1", "1.5.4+dfsg2-5"),
    ("login", "1:4.13+dfsg1-1+b1"),
    ("logsave", "1.47.0-2"),
    ("mawk", "1.3.4.20200120-3.1"),
    ("mount", "2.38.1-5+b1"),
    ("ncurses-base", "6.4-4"),
    ("ncurses-bin", "6.4-4"),
    ("openssl", "3.0.11-1~deb12u2"),
    ("passwd", "1:4.13+dfsg1-1+b1"),
    ("perl-base", "5.36.0-7+deb12u1"),
    ("sed", "4.9-1"),
    ("sysvinit-utils", "3.06-4"),
    ("tar", "1.34+dfsg-1.2+deb12u1"),
    ("tzdata", "2024a-0+deb12u1"),
    ("usr-is-merged", "37~deb12u1"),
    ("util-linux", "2.38.1-5+b1"),
    ("util-linux-extra", "2.38.1-5+b1"),
    ("zlib1g", "1:1.2.13.dfsg-1"),
    ("ca-certificates", "20230311"),
    ("curl", "7.88.1-10+deb12u5"),
    ("libcurl4", "7.88.1-10+deb12u5"),
    ("libsqlite3-0", "3.40.1-2"),
    ("python3.11", "3.11.2-6"),
    ("libexpat1", "2.5.0-1"),
    ("libnghttp2-14", "1.52.0-1+deb12u1"),
    ("libssh2-1", "1.10.0-3+b1"),
];

const PYPI: &[(&str, &str)] = &[
    ("urllib3", "1.24.1"),
    ("requests", "2.19.1"),
    ("Jinja2", "2.10"),
    ("PyYAML", "5.3"),
    ("Django", "3.2.1"),
    ("Flask", "1.0"),
    ("Werkzeug", "0.15.0"),
    ("cryptography", "3.2"),
    ("Pillow", "8.0.0"),
    ("numpy", "1.19.0"),
    ("lxml", "4.6.0"),
    ("paramiko", "2.4.0"),
    ("setuptools", "65.0.0"),
    ("pip", "21.0"),
    ("certifi", "2022.9.24"),
    ("idna", "2.8"),
    ("MarkupSafe", "2.0.1"),
    ("aiohttp", "3.8.0"),
    ("tornado", "6.0"),
    ("sqlalchemy", "1.3.0"),
];

const GO: &[(&str, &str)] = &[
    ("stdlib", "1.19.0"),
    ("golang.org/x/net", "0.7.0"),
    ("golang.org/x/crypto", "0.0.0-20200622213623-75b288015ac9"),
    ("golang.org/x/text", "0.3.7"),
    ("github.com/gin-gonic/gin", "1.6.0"),
    ("google.golang.org/grpc", "1.50.0"),
];

fn workload() -> Vec<PackageQuery<'static>> {
    let mut q = Vec::new();
    for (n, v) in DEBIAN {
        q.push(PackageQuery {
            ecosystem: "Debian:12",
            name: n,
            version: v,
        });
    }
    for (n, v) in PYPI {
        q.push(PackageQuery {
            ecosystem: "PyPI",
            name: n,
            version: v,
        });
    }
    for (n, v) in GO {
        q.push(PackageQuery {
            ecosystem: "Go",
            name: n,
            version: v,
        });
    }
    q
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// CPU time (user + system) consumed by this process so far: on a shared, loaded machine the
/// wall times below are inflated by waiting for a CPU; the CPU figures are not.
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
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/osv");
    if !root.join("pypi").is_dir() {
        eprintln!("SKIP: corpus not found at {}", root.display());
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = [root.join("go"), root.join("crates.io"), root.join("pypi")];
    let t = Instant::now();
    let c = cpu();
    let report = Database::import(dir.path(), &sources).expect("import");
    let import_time = t.elapsed();
    println!(
        "import: {} advisories, {} packages, {} documents read, db {:.1} MiB, {:.0} ms wall, {:.0} ms CPU",
        report.imported,
        report.packages,
        report.files_read,
        report.db_size as f64 / 1048576.0,
        ms(import_time),
        ms(cpu() - c)
    );

    // Warm open: the file is in the page cache after the first open.
    let _ = Database::open(dir.path()).expect("open");
    let mut opens = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let db = Database::open(dir.path()).expect("open");
        opens.push(t.elapsed());
        std::hint::black_box(db);
    }
    opens.sort();
    println!("open (warm, median of 10): {:.2} ms", ms(opens[5]));

    let queries = workload();
    let db = Database::open(dir.path()).expect("open");
    let t = Instant::now();
    let c = cpu();
    let mut findings = 0;
    for q in &queries {
        findings += db.query(q).len();
    }
    let first = t.elapsed();
    println!(
        "scan workload, first pass after open ({} packages: {} Debian, {} PyPI, {} Go): {:.2} ms wall, {:.2} ms CPU, {} findings",
        queries.len(),
        DEBIAN.len(),
        PYPI.len(),
        GO.len(),
        ms(first),
        ms(cpu() - c),
        findings
    );
    let t = Instant::now();
    let c = cpu();
    let rounds = 20;
    for _ in 0..rounds {
        for q in &queries {
            std::hint::black_box(db.query(q));
        }
    }
    let warm = t.elapsed() / rounds;
    println!(
        "scan workload, warm pass: {:.2} ms wall, {:.2} ms CPU",
        ms(warm),
        ms((cpu() - c) / rounds)
    );
    let t = Instant::now();
    let c = cpu();
    let db2 = Database::open(dir.path()).expect("open");
    for q in &queries {
        std::hint::black_box(db2.query(q));
    }
    println!(
        "open + scan workload (what one 'vigil scan' pays): {:.2} ms wall, {:.2} ms CPU",
        ms(t.elapsed()),
        ms(cpu() - c)
    );

    // Throughput over many distinct PyPI lookups: every (package, version) pair listed in
    // the corpus' own advisories.
    let mut pairs: Vec<(String, String)> = Vec::new();
    for e in std::fs::read_dir(root.join("pypi")).expect("pypi") {
        let p = e.expect("entry").path();
        let Ok(bytes) = std::fs::read(&p) else {
            continue;
        };
        let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        for a in doc["affected"].as_array().into_iter().flatten() {
            let name = a["package"]["name"].as_str().unwrap_or("").to_string();
            for v in a["versions"].as_array().into_iter().flatten() {
                pairs.push((name.clone(), v.as_str().unwrap_or("").to_string()));
            }
        }
    }
    let t = Instant::now();
    let c = cpu();
    let mut hits = 0usize;
    for (n, v) in &pairs {
        hits += db
            .query(&PackageQuery {
                ecosystem: "PyPI",
                name: n,
                version: v,
            })
            .len();
    }
    let el = t.elapsed();
    let el_cpu = cpu() - c;
    println!(
        "throughput: {} PyPI queries in {:.0} ms wall = {:.0} queries/s; {:.0} ms CPU = {:.0} queries per CPU-second ({} findings)",
        pairs.len(),
        ms(el),
        pairs.len() as f64 / el.as_secs_f64(),
        ms(el_cpu),
        pairs.len() as f64 / el_cpu.as_secs_f64(),
        hits
    );
}
