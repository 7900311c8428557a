//! Bad input: every kind of broken file yields one clear error naming the file (and line where
//! there is one), never a panic, and never stops the other files of a run. Also a randomized
//! test over mutated real manifests and Dockerfiles, exercising the same entry points as the
//! cargo-fuzz targets (which need nightly).

use std::path::Path;
use vigil_audit::{audit_bytes, audit_path, Hint, Options};

fn errors(name: &str, bytes: &[u8], hint: Hint) -> Vec<String> {
    let r = audit_bytes(name, bytes, hint, true, &Options::default());
    r.errors
        .iter()
        .map(|e| format!("{}: {}", e.file, e.message))
        .collect()
}

#[test]
fn invalid_yaml_names_line() {
    let e = errors(
        "bad.yaml",
        b"apiVersion: v1\nkind: Pod\nspec:\n  containers: [\n",
        Hint::Structured,
    );
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("bad.yaml: invalid YAML at line"), "{e:?}");
}

#[test]
fn yaml_bomb_is_refused() {
    let mut s = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let mut prev = 'a';
    for c in 'b'..='i' {
        s.push_str(&format!(
            "{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
        prev = c;
    }
    let start = std::time::Instant::now();
    let e = errors("bomb.yaml", s.as_bytes(), Hint::Structured);
    assert!(e.len() == 1 && e[0].contains("YAML bomb"), "{e:?}");
    assert!(
        start.elapsed().as_secs() < 5,
        "bomb took {:?}",
        start.elapsed()
    );
}

#[test]
fn binary_non_utf8_and_huge_files() {
    let e = errors(
        "x.yaml",
        b"\x7fELF\x02\x01\x01\x00\x00\x00",
        Hint::Structured,
    );
    assert!(e[0].contains("binary file"), "{e:?}");
    let e = errors("x.yaml", b"kind: \xff\xfe", Hint::Structured);
    assert!(e[0].contains("not UTF-8"), "{e:?}");
    let opts = Options {
        max_file_size: 100,
        ..Options::default()
    };
    let r = audit_bytes("big.yaml", &[b'a'; 101], Hint::Structured, true, &opts);
    assert!(
        r.errors[0]
            .message
            .contains("larger than the 100 byte limit"),
        "{:?}",
        r.errors
    );
}

#[test]
fn unknown_kind_and_unrecognized_documents() {
    let r = audit_bytes(
        "crd.yaml",
        b"apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n",
        Hint::Structured,
        true,
        &Options::default(),
    );
    assert!(r.errors.is_empty());
    assert_eq!(r.skipped.len(), 1);
    assert!(
        r.skipped[0].reason.contains("unknown kind 'Widget'"),
        "{:?}",
        r.skipped
    );
    // A custom kind with a pod template is audited.
    let r = audit_bytes("rollout.yaml", b"apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: 'a:1', securityContext: {privileged: true}}]\n", Hint::Structured, true, &Options::default());
    assert!(r
        .findings
        .iter()
        .any(|f| f.check == "VGL-A001" && f.workload == "Rollout/r"));
    // Explicitly named, nothing recognizable: an error.
    let e = errors(
        "values.yaml",
        b"replicaCount: 1\nimage: {repository: nginx}\n",
        Hint::Structured,
    );
    assert!(e[0].contains("not a Kubernetes manifest"), "{e:?}");
    let e = errors("empty.yaml", b"", Hint::Structured);
    assert!(e[0].contains("empty document"), "{e:?}");
}

#[test]
fn bad_dockerfile_names_line() {
    let e = errors(
        "Dockerfile",
        b"FROM debian:12\nRUN true\nFORM x\n",
        Hint::Dockerfile,
    );
    assert_eq!(
        e,
        vec!["Dockerfile: invalid Dockerfile: line 3: unknown instruction 'FORM'".to_string()]
    );
}

#[test]
fn invalid_json_falls_back_with_position() {
    let e = errors(
        "inspect.json",
        b"[{\"Id\": \"x\",\t\"HostConfig\": {]}]",
        Hint::Structured,
    );
    assert!(e[0].contains("line 1"), "{e:?}");
}

#[test]
fn a_directory_with_broken_files_still_audits_the_rest() {
    let dir = std::env::temp_dir().join(format!("vigil-audit-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    std::fs::write(dir.join("a-bad.yaml"), "a: [\n").unwrap();
    std::fs::write(dir.join("b-bin.yaml"), [0u8, 1, 2, 3]).unwrap();
    std::fs::write(dir.join("sub/pod.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostPID: true\n  containers: [{name: c, image: 'a:1'}]\n").unwrap();
    std::fs::write(dir.join("sub/Dockerfile"), "FROM debian:12\nUSER root\n").unwrap();
    std::fs::write(dir.join("sub/notes.txt"), "not audited").unwrap();
    std::fs::write(dir.join(".git/x.yaml"), "a: [").unwrap();
    std::fs::write(dir.join("values.yaml"), "replicaCount: 1\n").unwrap();
    let r = audit_path(&dir, &Options::default());
    assert_eq!(r.files, 5, "hidden dirs and non-config files are not read");
    assert_eq!(r.errors.len(), 2, "{:?}", r.errors);
    assert!(r.findings.iter().any(|f| f.check == "VGL-A012"));
    assert!(r.findings.iter().any(|f| f.check == "VGL-A051"));
    assert_eq!(
        r.skipped.len(),
        1,
        "values.yaml is skipped in a directory walk, not an error"
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        !audit_path(Path::new("/nonexistent/vigil"), &Options::default())
            .errors
            .is_empty()
    );
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn randomized_mutations_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/audit-corpus");
    let files = vigil_audit::collect_files(&root).expect("bench corpus present");
    assert!(files.len() >= 20, "corpus has {} files", files.len());
    let tokens: &[&[u8]] = &[
        b"&a ", b"*a", b"<<: *a", b"[", b"]", b"{", b"}", b"- ", b": ", b"\n", b"\t", b"---\n",
        b"\\\n", b"<<EOF\n", b"\"", b"'", b"!!str ", b"?", b"\x00", b"\xff", b"#", b"0", b"-1",
        b"null",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let opts = Options::default();
    let mut runs = 0;
    for f in &files {
        let orig = std::fs::read(f).unwrap();
        let hint = vigil_audit::hint_for(f).unwrap_or(Hint::Sniff);
        for _ in 0..150 {
            let mut b = orig.clone();
            for _ in 0..1 + rng.below(6) {
                let pos = rng.below(b.len() + 1);
                match rng.below(4) {
                    0 => {
                        let t = tokens[rng.below(tokens.len())];
                        b.splice(pos..pos, t.iter().copied());
                    }
                    1 if pos < b.len() => {
                        let end = (pos + rng.below(40)).min(b.len());
                        b.drain(pos..end);
                    }
                    2 if pos < b.len() => b[pos] = rng.next() as u8,
                    _ => {
                        let from = rng.below(b.len());
                        let end = (from + rng.below(80)).min(b.len());
                        let chunk: Vec<u8> = b[from..end].to_vec();
                        b.splice(pos.min(b.len())..pos.min(b.len()), chunk);
                    }
                }
            }
            let r = audit_bytes("m", &b, hint, true, &opts);
            assert!(
                !r.errors
                    .iter()
                    .any(|e| e.message.contains("internal error")),
                "panic on mutation of {}:\n{}",
                f.display(),
                String::from_utf8_lossy(&b)
            );
            runs += 1;
        }
    }
    assert!(runs > 3000);
}
