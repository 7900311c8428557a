//! Version comparators against the published test vectors of each ecosystem's reference
//! implementation (`tests/vectors/`, each file names its source). Every case is checked in
//! both directions where the source gives a strict order, and failures are collected and
//! reported together rather than stopping at the first.

use std::cmp::Ordering;
use std::path::PathBuf;
use vigil_vulndb::version::{self, Ecosystem};

fn vector_file(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn ord(n: i64) -> Ordering {
    n.cmp(&0)
}

struct Tally {
    name: &'static str,
    checked: usize,
    failures: Vec<String>,
}

impl Tally {
    fn new(name: &'static str) -> Tally {
        Tally {
            name,
            checked: 0,
            failures: Vec::new(),
        }
    }
    fn cmp(&mut self, eco: Ecosystem, a: &str, b: &str, want: Ordering) {
        self.checked += 1;
        match version::compare(eco, a, b) {
            Ok(got) if got == want => {}
            other => self
                .failures
                .push(format!("{a:?} vs {b:?}: want {want:?}, got {other:?}")),
        }
    }
    fn finish(self, min_cases: usize) {
        eprintln!("{}: {} cases checked", self.name, self.checked);
        assert!(
            self.failures.is_empty(),
            "{}: {} of {} cases failed:\n{}",
            self.name,
            self.failures.len(),
            self.checked,
            self.failures.join("\n")
        );
        assert!(
            self.checked >= min_cases,
            "{}: only {} cases read",
            self.name,
            self.checked
        );
    }
}

/// "a b result" lines (dpkg, rpm, and the `*-reference.txt` files that `gen_reference.py`
/// produced by asking dpkg, librpm and node-semver themselves) and "!version" invalid lines.
fn run_abr(file: &str, eco: Ecosystem, t: &mut Tally) {
    for line in vector_file(file).lines() {
        let line = line.trim_end();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(bad) = line.strip_prefix('!') {
            t.checked += 1;
            if version::validate(eco, bad).is_ok() {
                t.failures.push(format!("{bad:?} should be invalid"));
            }
            continue;
        }
        let parts: Vec<&str> = line.split(' ').collect();
        let [a, b, r] = parts[..] else {
            panic!("{file}: bad line {line:?}");
        };
        let r: i64 = r.parse().expect("result");
        t.cmp(eco, a, b, ord(r));
        t.cmp(eco, b, a, ord(-r));
    }
}

#[test]
fn dpkg_vectors() {
    let mut t = Tally::new("dpkg");
    run_abr("dpkg.txt", Ecosystem::Debian, &mut t);
    run_abr("dpkg-reference.txt", Ecosystem::Debian, &mut t);
    t.finish(1300);
}

#[test]
fn rpm_vectors() {
    let mut t = Tally::new("rpm");
    run_abr("rpm.txt", Ecosystem::Rpm, &mut t);
    run_abr("rpm-reference.txt", Ecosystem::Rpm, &mut t);
    // EVR handling on top of rpmvercmp (own cases: epoch wins, a missing release is empty).
    for (a, b, r) in [
        ("1:1.0-1", "2.0-1", 1),
        ("0:1.0-1", "1.0-1", 0),
        ("1.0-1.el9", "1.0-2.el9", -1),
        ("1.0", "1.0-5.el9", -1),
        ("1.0-", "1.0", 0),
        ("2:1.1.1k-12.el8_9", "1:3.0.7-25.el9", 1),
        ("3.0.7-25.el9_3", "3.0.7-24.el9", 1),
    ] {
        t.cmp(Ecosystem::Rpm, a, b, ord(r));
        t.cmp(Ecosystem::Rpm, b, a, ord(-r));
    }
    t.finish(1300);
}

#[test]
fn apk_vectors() {
    let mut t = Tally::new("apk");
    let mut fuzzy_skipped = 0;
    for line in vector_file("apk.txt").lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts[..] {
            [v] => {
                t.checked += 1;
                let (v, want_ok) = match v.strip_prefix('!') {
                    Some(rest) => (rest, false),
                    None => (v, true),
                };
                if version::apk::validate(v).is_ok() != want_ok {
                    t.failures
                        .push(format!("validate({v:?}) should be {want_ok}"));
                }
            }
            [a, op, b] => {
                let (op, negate) = match op.strip_prefix('!') {
                    Some(o) => (o, true),
                    None => (op, false),
                };
                let fuzzy = op.contains('~');
                let got = version::apk::compare_fuzzy(a, b, fuzzy);
                let holds = match op {
                    "<" => got == Ordering::Less,
                    ">" => got == Ordering::Greater,
                    "=" => got == Ordering::Equal,
                    "<=" => got != Ordering::Greater,
                    ">=" => got != Ordering::Less,
                    "~" => got == Ordering::Equal,
                    "<~" => got != Ordering::Greater,
                    ">~" => got != Ordering::Less,
                    _ => {
                        fuzzy_skipped += 1;
                        continue;
                    }
                };
                t.checked += 1;
                if holds == negate {
                    t.failures.push(format!(
                        "{a} {}{op} {b} does not hold (got {got:?})",
                        if negate { "!" } else { "" }
                    ));
                }
                // Strict results must also hold mirrored.
                if !fuzzy && !negate && matches!(op, "<" | ">" | "=") {
                    t.cmp(Ecosystem::Alpine, b, a, got.reverse());
                }
            }
            _ => panic!("apk.txt: bad line {line:?}"),
        }
    }
    assert_eq!(fuzzy_skipped, 0, "unknown operators in apk.txt");
    t.finish(1400);
}

/// JSON-lines vectors: ["cmp", a, b, r], ["order", [ascending...]], ["invalid", v],
/// ["norm", v, normalized] (PEP 440 only), ["source", text].
fn run_jsonl(file: &str, eco: Ecosystem, t: &mut Tally) {
    for line in vector_file(file).lines() {
        let row: serde_json::Value = serde_json::from_str(line).expect("json line");
        let kind = row[0].as_str().expect("row kind");
        match kind {
            "source" => {}
            "cmp" => {
                let (a, b) = (row[1].as_str().expect("a"), row[2].as_str().expect("b"));
                t.cmp(eco, a, b, ord(row[3].as_i64().expect("result")));
            }
            "order" => {
                let list: Vec<&str> = row[1]
                    .as_array()
                    .expect("list")
                    .iter()
                    .map(|v| v.as_str().expect("version"))
                    .collect();
                for i in 0..list.len() {
                    for j in i + 1..list.len() {
                        t.cmp(eco, list[i], list[j], Ordering::Less);
                        t.cmp(eco, list[j], list[i], Ordering::Greater);
                    }
                }
            }
            "invalid" => {
                t.checked += 1;
                let v = row[1].as_str().expect("v");
                if version::validate(eco, v).is_ok() {
                    t.failures.push(format!("{v:?} should be invalid"));
                }
            }
            "norm" => {
                t.checked += 1;
                let (v, n) = (row[1].as_str().expect("v"), row[2].as_str().expect("n"));
                match version::pep440::Pep440::parse(v) {
                    Ok(p) if p.to_string() == n => {}
                    other => t
                        .failures
                        .push(format!("normalize {v:?}: want {n:?}, got {other:?}")),
                }
            }
            other => panic!("{file}: unknown row kind {other}"),
        }
    }
}

#[test]
fn pep440_vectors() {
    let mut t = Tally::new("pep440");
    run_jsonl("pep440.jsonl", Ecosystem::Pypi, &mut t);
    t.finish(9000);
}

#[test]
fn semver_vectors() {
    let mut t = Tally::new("semver");
    run_jsonl("semver.jsonl", Ecosystem::SemVer, &mut t);
    run_abr("semver-reference.txt", Ecosystem::SemVer, &mut t);
    t.finish(1250);
}

#[test]
fn go_vectors() {
    let mut t = Tally::new("go");
    run_jsonl("go.jsonl", Ecosystem::Go, &mut t);
    t.finish(550);
}

#[test]
fn maven_vectors() {
    let mut t = Tally::new("maven");
    run_jsonl("maven.jsonl", Ecosystem::Maven, &mut t);
    t.finish(800);
}
