//! Fuzz the ELF reader, Go build-info decoder (inline and pointer formats) and the
//! cargo-auditable section decoder, plus the secret scanner on the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_scan::analyze::binary;
use vigil_scan::secrets::SecretScanner;


fuzz_target!(|data: &[u8]| {
    if let Some(elf) = binary::Elf::parse(data) {
        if let Some(sec) = elf.section(".dep-v0") {
            let _ = binary::auditable_packages("f", sec);
        }
    }
    if let Some(Ok((v, m))) = binary::go_buildinfo(data) {
        let _ = binary::go_packages("f", &v, &m);
    }
    let _ = SecretScanner::shared().scan("etc/app.conf", data);
});
