//! Fuzzes the YAML/JSON front end of `vigil audit` (position-keeping YAML loader with alias
//! and depth limits, format detection, Kubernetes/compose/inspect/OCI translators, checks,
//! Pod Security Standards and fix generation). Any panic is a bug: the library must turn every
//! input into findings or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_audit::{audit_bytes, Hint, Options};

fuzz_target!(|data: &[u8]| {
    let r = audit_bytes("fuzz.yaml", data, Hint::Structured, true, &Options::default());
    assert!(!r.errors.iter().any(|e| e.message.contains("internal error")));
});
