//! Runs the fuzz entry points (the same ones `fuzz/fuzz_targets/rules_*.rs` call) over
//! checked-in crash inputs and over deterministic random mutations of real rules, so the
//! properties cargo-fuzz checks (no panic, no hang) are also checked by `cargo test` on stable.

use std::path::PathBuf;
use vigil_rules::fuzzing::{fuzz_condition, fuzz_loader};

/// Deterministic xorshift.
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

const TOKENS: &[&str] = &[
    "(",
    ")",
    " and ",
    " or ",
    "not ",
    "=",
    "!=",
    " in ",
    " pmatch ",
    " glob ",
    " regex ",
    "'",
    "\"",
    "\\",
    ",",
    "[",
    "]",
    "val(",
    "tolower(",
    "len(",
    "join(\",\", ",
    "concat(",
    "proc.aname",
    "evt.arg.flags",
    "fd.name",
    "*",
    "?",
    "0x",
    "-1",
    "\n",
    ":",
    "- ",
    "{",
    "}",
    "&a",
    "*a",
    "\t",
    "macro",
    "list",
    "items:",
    "condition:",
    "override:",
    "append: true",
];

fn mutate(rng: &mut Rng, seed: &str) -> String {
    let mut b = seed.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let pos = rng.below(b.len() + 1);
        match rng.below(5) {
            0 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                b.splice(pos..pos, t.bytes());
            }
            1 if !b.is_empty() => {
                let end = (pos + rng.below(8)).min(b.len());
                b.drain(pos.min(b.len())..end);
            }
            2 if !b.is_empty() => {
                let i = pos.min(b.len() - 1);
                b[i] = (rng.next() & 0x7f) as u8;
            }
            3 => {
                let start = rng.below(b.len() + 1);
                let end = (start + rng.below(16)).min(b.len());
                let chunk = b[start..end].to_vec();
                b.splice(pos..pos, chunk);
            }
            _ => b.truncate(pos),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions")
}

#[test]
fn checked_in_inputs() {
    let mut n = 0;
    for entry in std::fs::read_dir(dir()).expect("tests/fuzz_regressions exists") {
        let path = entry.expect("readable dir").path();
        let data = std::fs::read(&path).expect("readable input");
        match path.extension().and_then(|e| e.to_str()) {
            Some("cond") => fuzz_condition(&data),
            Some("yaml") => fuzz_loader(&data),
            _ => continue,
        }
        n += 1;
    }
    assert!(n > 0, "no regression inputs found");
}

const CONDITIONS: &[&str] = &[
    "evt.type in (open, openat) and fd.name pmatch (/etc, l) and not proc.aname[2] in (l)",
    "m and (proc.cmdline contains \"a b\" or fd.sip in (\"10.0.0.0/8\")) and evt.arg.flags contains O_TRUNC",
    "tolower(proc.name) = val(proc.pname) or len(proc.aname) > 2 or join(\",\", fd.types) = x",
    "fd.name glob '/etc/*' and fd.name regex '.*sh[a-z]+' and evt.buffer bcontains 00ff",
    "proc.env[A] = b and container.mount.dest[/v*] exists and k8s.pod.label.app = x",
];

#[test]
fn random_condition_mutations() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for i in 0..3000 {
        let seed = CONDITIONS[i % CONDITIONS.len()];
        fuzz_condition(mutate(&mut rng, seed).as_bytes());
    }
}

#[test]
fn random_loader_mutations() {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/falco-rules/falco_rules.yaml");
    let text = std::fs::read_to_string(&corpus).expect("shared corpus present");
    // Slices of the real file keep the mutations close to valid rules.
    let items: Vec<&str> = text.split("\n- ").collect();
    let mut rng = Rng(0xfeed_beef_1357_9bdf);
    for _ in 0..300 {
        let start = rng.below(items.len());
        let len = 1 + rng.below(6);
        let chunk = format!(
            "- {}",
            items[start..(start + len).min(items.len())].join("\n- ")
        );
        fuzz_loader(mutate(&mut rng, &chunk).as_bytes());
    }
    fuzz_loader(text.as_bytes());
}
