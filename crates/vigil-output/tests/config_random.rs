//! Randomized robustness: mutated versions of the example configuration never panic the
//! loader; every rejection carries at least one error with a message. (A cargo-fuzz target
//! would need nightly; this exercises the same entry point on every `cargo test`.)

fn example() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../vigil.example.yaml"
    ))
    .expect("vigil.example.yaml at the repo root")
    // Point the example's directories at ones that exist, so unmutated parts validate.
    .replace(
        "/var/log/vigil",
        &std::env::temp_dir().display().to_string(),
    )
    .replace(
        "/var/lib/vigil",
        &std::env::temp_dir().display().to_string(),
    )
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_configs_never_panic() {
    let base = example().into_bytes();
    vigil_output::Config::from_yaml_str(&example()).expect("the example itself is valid");
    let alphabet = b":{}[]-'\"#&*!|>%@ \n\t0123456789abcdefxyz.,/\\";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut bad) = (0, 0);
    for _ in 0..3000 {
        let mut t = base.clone();
        for _ in 0..1 + rng.below(6) {
            let i = rng.below(t.len().max(1));
            match rng.below(4) {
                0 if !t.is_empty() => {
                    t.remove(i.min(t.len() - 1));
                }
                1 => t.insert(i.min(t.len()), alphabet[rng.below(alphabet.len())]),
                2 if !t.is_empty() => {
                    let j = i.min(t.len() - 1);
                    t[j] = alphabet[rng.below(alphabet.len())];
                }
                _ => {
                    // Duplicate a random slice (repeated keys, nested structures).
                    let a = rng.below(t.len().max(1));
                    let b = (a + rng.below(64)).min(t.len());
                    let s = t[a..b].to_vec();
                    let at = rng.below(t.len().max(1));
                    t.splice(at..at, s);
                }
            }
        }
        let text = String::from_utf8_lossy(&t);
        match vigil_output::Config::from_yaml_str(&text) {
            Ok(_) => ok += 1,
            Err(e) => {
                assert!(!e.errors.is_empty() && e.errors.iter().all(|x| !x.message.is_empty()));
                bad += 1;
            }
        }
    }
    eprintln!("{ok} accepted, {bad} rejected");
    assert!(
        bad > 0 && ok > 0,
        "mutations must produce both valid and invalid files"
    );
}
