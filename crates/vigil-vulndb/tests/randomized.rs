//! Randomized checks exercising the same entry points as the fuzz targets
//! (`fuzz/fuzz_targets/vulndb_*.rs`) on every `cargo test`, with a fixed seed so failures
//! reproduce: comparator laws (antisymmetry, reflexivity, transitivity via a consistent
//! total order) on version-shaped random strings, and the OSV parser on mutated documents.

use std::cmp::Ordering;
use vigil_vulndb::version::{self, Ecosystem};

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

/// Version-shaped strings built from the tokens that matter for each ecosystem; SemVer and
/// Go get a `MAJOR.MINOR.PATCH` core (half the time) so enough of them are valid.
fn random_version(rng: &mut Rng, tokens: &[&str]) -> String {
    if (tokens.contains(&"+build") || tokens.contains(&"+incompatible")) && rng.below(2) == 0 {
        let num = ["0", "1", "2", "10", "01"];
        let mut s = format!("{}.{}.{}", rng.pick(&num), rng.pick(&num), rng.pick(&num));
        if tokens.contains(&"+incompatible") && rng.below(2) == 0 {
            s.insert(0, 'v');
        }
        if rng.below(2) == 0 {
            let ids = [
                "alpha",
                "beta",
                "1",
                "2",
                "rc",
                "x-y",
                "0",
                "20190101000000",
                "abcdef",
            ];
            let n = 1 + rng.below(3);
            let pre: Vec<&str> = (0..n).map(|_| rng.pick(&ids)).collect();
            s = format!("{s}-{}", pre.join("."));
        }
        if rng.below(4) == 0 {
            s.push_str("+meta.1");
        }
        return s;
    }
    let n = 1 + rng.below(7);
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(rng.pick(tokens));
    }
    s
}

const FAMILIES: [(Ecosystem, &[&str]); 7] = [
    (
        Ecosystem::Debian,
        &[
            "1", "0", "10", "2", ".", "-", "~", "+", ":", "a", "b", "rc", "dfsg", "~deb12u",
        ],
    ),
    (
        Ecosystem::Alpine,
        &[
            "1", "0", "2", "10", ".", "_alpha", "_beta", "_rc", "_p", "_pre", "-r", "a", "~ab12",
            "_git",
        ],
    ),
    (
        Ecosystem::Rpm,
        &[
            "1", "0", "2", "10", ".", "-", "~", "^", "el9", "a", "_", "+", ":",
        ],
    ),
    (
        Ecosystem::Pypi,
        &[
            "1", "0", "2", "10", ".", "a", "b", "rc", "c", ".post", ".dev", "-", "!", "+local",
            "v", "_",
        ],
    ),
    (
        Ecosystem::SemVer,
        &[
            "1", "0", "2", "10", ".", "-", "alpha", "beta", "rc", "+build", "x", "0a",
        ],
    ),
    (
        Ecosystem::Go,
        &[
            "v",
            "1",
            "0",
            "2",
            ".",
            "-",
            "0.20190101000000",
            "-abcdef",
            "+incompatible",
            "pre",
        ],
    ),
    (
        Ecosystem::Maven,
        &[
            "1", "0", "2", "10", ".", "-", "alpha", "beta", "m", "rc", "cr", "SNAPSHOT", "sp",
            "final", "ga", "a", "x",
        ],
    ),
];

/// Maven's own `ComparableVersion` is not a total order on degenerate strings
/// (`malpha < .final`, `.final = 0`, `0 < malpha`; `2-.alpha` with its empty component), so
/// for Maven only antisymmetry and reflexivity are checked, not transitivity. Import sorts
/// range events with a sort that cannot panic on such an order.
fn order_checked(eco: Ecosystem, _v: &str) -> bool {
    eco != Ecosystem::Maven
}

#[test]
fn comparator_laws_on_random_versions() {
    let mut rng = Rng(0x5eed_0fc0_ffee);
    for (eco, tokens) in FAMILIES {
        let mut valid: Vec<String> = Vec::new();
        let mut invalid = 0;
        for _ in 0..400 {
            let a = random_version(&mut rng, tokens);
            let b = random_version(&mut rng, tokens);
            vigil_vulndb::check_comparator(eco, &a, &b);
            if version::validate(eco, &a).is_ok() && order_checked(eco, &a) {
                valid.push(a);
            } else {
                invalid += 1;
            }
        }
        // A consistent total preorder: after sorting, no later element is smaller, which
        // fails if the comparator is not transitive.
        // Insertion sort: the standard sort may panic on an inconsistent comparator, and the
        // point here is to report which pair is inconsistent.
        for i in 1..valid.len() {
            let mut j = i;
            while j > 0
                && version::compare(eco, &valid[j - 1], &valid[j]).ok() == Some(Ordering::Greater)
            {
                valid.swap(j - 1, j);
                j -= 1;
            }
        }
        for i in 0..valid.len() {
            for j in i + 1..valid.len() {
                let o = version::compare(eco, &valid[i], &valid[j]).expect("valid");
                assert_ne!(
                    o,
                    Ordering::Greater,
                    "{eco:?}: not transitive: {:?} sorted before {:?}",
                    valid[i],
                    valid[j]
                );
            }
        }
        eprintln!(
            "{eco:?}: {} valid, {invalid} invalid random versions",
            valid.len()
        );
        if eco != Ecosystem::Maven {
            assert!(
                valid.len() > 40,
                "{eco:?}: generator produced too few valid versions"
            );
        }
    }
}

#[test]
fn arbitrary_bytes_never_panic_comparators() {
    let mut rng = Rng(42);
    for (eco, _) in FAMILIES {
        for _ in 0..2000 {
            let len = rng.below(24);
            let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0xff) as u8).collect();
            let text = String::from_utf8_lossy(&bytes);
            let mut mid = text.len() / 2;
            while !text.is_char_boundary(mid) {
                mid -= 1;
            }
            let (a, b) = text.split_at(mid);
            vigil_vulndb::check_comparator(eco, a, b);
        }
    }
}

#[test]
fn mutated_osv_documents_never_panic() {
    let seed = br#"{"id":"GHSA-xxxx","modified":"2024-01-02T03:04:05Z","aliases":["CVE-1"],
      "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
      "affected":[{"package":{"ecosystem":"PyPI","name":"demo"},
        "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.5"},{"limit":"*"}]},
                  {"type":"GIT","repo":"x","events":[{"introduced":"abc"}]}],
        "versions":["1.0","1.1"],"database_specific":{"severity":"HIGH"}}]}"#;
    assert!(vigil_vulndb::check_document(seed).is_ok());
    let mut rng = Rng(7);
    let (mut ok, mut err) = (0, 0);
    for _ in 0..5000 {
        let mut doc = seed.to_vec();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(doc.len());
            match rng.below(3) {
                0 => doc[i] = (rng.next() & 0xff) as u8,
                1 => {
                    doc.remove(i);
                }
                _ => doc.insert(i, b"\"{}[]:,0a.~-"[rng.below(12)]),
            }
        }
        match vigil_vulndb::check_document(&doc) {
            Ok(_) => ok += 1,
            Err(e) => {
                assert!(!e.is_empty());
                err += 1;
            }
        }
    }
    eprintln!("mutated documents: {ok} accepted, {err} refused");
    assert!(ok > 0 && err > 0);
}
