//! Fuzz the Debian version parser and comparator: the input is split at the first newline
//! into two versions; comparing must never panic, must be antisymmetric, and a valid
//! version must equal itself (`vigil_vulndb::check_comparator`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_vulndb::version::Ecosystem;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (a, b) = text.split_once('\n').unwrap_or((&text, ""));
    vigil_vulndb::check_comparator(Ecosystem::Debian, a, b);
});
