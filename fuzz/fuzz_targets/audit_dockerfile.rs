//! Fuzzes the Dockerfile parser and checks of `vigil audit` (continuations, heredocs, escape
//! directive, multi-stage USER resolution, secret detection).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_audit::{audit_bytes, Hint, Options};

fuzz_target!(|data: &[u8]| {
    let r = audit_bytes("Dockerfile", data, Hint::Dockerfile, true, &Options::default());
    assert!(!r.errors.iter().any(|e| e.message.contains("internal error")));
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = vigil_audit::secrets::find_in_text(text);
    }
});
