//! Randomized robustness of every parser that reads untrusted input: cgroup files, `/proc`
//! stat/status, passwd/group, HTTP responses, runtime JSON documents, RFC 3339 times and
//! image references. Inputs are fixtures mutated by a seeded generator (bit flips, cuts,
//! splices of separator characters) plus random bytes; every call must return (no panic) and
//! results must keep their invariants. This stands in for cargo-fuzz, which needs nightly.

mod common;

use common::fixtures;
use vigil_state::cgroup::{container_of_cgroup_file, is_container_id};
use vigil_state::procfs::{parse_stat, parse_status, split_nul};
use vigil_state::runtime::{http, parse};
use vigil_state::users::{parse_group, parse_passwd};

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

const SPECIAL: &[u8] = b":/()\n\r\0{}[]\",-.@ 0123456789abcdefZT+";

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        match rng.below(5) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v.truncate(i);
            }
            2 => {
                let i = rng.below(v.len() + 1);
                v.insert(i, SPECIAL[rng.below(SPECIAL.len())]);
            }
            3 if !v.is_empty() => {
                let i = rng.below(v.len());
                v.remove(i);
            }
            _ => {
                let n = rng.below(64);
                for _ in 0..n {
                    v.push(rng.next() as u8);
                }
            }
        }
    }
    v
}

fn seeds(files: &[&str]) -> Vec<Vec<u8>> {
    files
        .iter()
        .map(|f| std::fs::read(fixtures().join(f)).unwrap())
        .collect()
}

const ROUNDS: usize = 3000;

#[test]
fn proc_and_cgroup_parsers() {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let s = seeds(&[
        "proc/300/cgroup",
        "proc/300/stat",
        "proc/300/status",
        "proc/400/stat",
        "proc/200/environ",
    ]);
    for i in 0..ROUNDS {
        let input = mutate(&mut rng, &s[i % s.len()]);
        let text = String::from_utf8_lossy(&input);
        if let Some(c) = container_of_cgroup_file(&text) {
            assert!(is_container_id(&c.id), "{text:?}");
        }
        let _ = parse_stat(&text);
        let _ = parse_status(&text);
        let parts = split_nul(&input, 100);
        assert!(parts.iter().map(String::len).sum::<usize>() <= 100);
    }
}

#[test]
fn passwd_and_group_parsers() {
    let mut rng = Rng(42);
    let s = seeds(&[
        "hostroot/etc/passwd",
        "hostroot/etc/group",
        "rootfs-ctr/etc/passwd",
    ]);
    for i in 0..ROUNDS {
        let input = mutate(&mut rng, &s[i % s.len()]);
        let text = String::from_utf8_lossy(&input);
        let (users, issues) = parse_passwd(&text);
        for (uid, u) in &users {
            assert_eq!(*uid, u.uid);
        }
        let lines = text.lines().count();
        assert!(issues.iter().all(|is| is.line >= 1 && is.line <= lines));
        let _ = parse_group(&text);
    }
}

#[test]
fn http_and_runtime_json_parsers() {
    let mut rng = Rng(7);
    let docs = seeds(&[
        "runtime/docker-inspect-k8s.json",
        "runtime/podman-inspect-basic.json",
        "runtime-root/run/containers/storage/overlay-containers/a574832997c35e1a6a01d6f22b32835a48a61696b6c386b06ffda3fddc103040/userdata/config.json",
    ]);
    for i in 0..ROUNDS {
        let doc = mutate(&mut rng, &docs[i % docs.len()]);
        if let Ok(v) = parse::parse_json(&doc) {
            let _ = parse::parse_docker_inspect(&v, "docker");
            let _ = parse::parse_podman_inspect(&v);
            let _ = parse::parse_oci_config(&v, "x", "cri-o");
            let _ = parse::docker_image_digest(&v);
        }
        let mut raw = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
            doc.len()
        )
        .into_bytes();
        raw.extend_from_slice(&doc);
        raw.extend_from_slice(b"\r\n0\r\n\r\n");
        let raw = mutate(&mut rng, &raw);
        if let Ok(r) = http::parse_response(&raw, 1 << 16) {
            assert!(r.body.len() <= 1 << 16);
        }
    }
}

#[test]
fn times_and_image_refs() {
    let mut rng = Rng(99);
    let s: Vec<Vec<u8>> = vec![
        b"2026-11-22T13:03:46.146213278Z".to_vec(),
        b"2026-11-22T14:03:46.5+01:00".to_vec(),
        b"registry.example.com:5000/shop/nginx:1.25.3@sha256:4c0f".to_vec(),
    ];
    for i in 0..ROUNDS * 3 {
        let input = mutate(&mut rng, &s[i % s.len()]);
        let text = String::from_utf8_lossy(&input);
        let _ = parse::parse_rfc3339(&text);
        let (repo, tag, digest) = parse::split_image_ref(&text);
        // The split loses only the separators.
        assert!(repo.len() + tag.len() + digest.len() <= text.len());
    }
}
