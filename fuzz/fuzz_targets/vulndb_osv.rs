//! Fuzz the OSV document parser and its conversion to the stored form (what `vigil db
//! import` does with each file): any input gives a value or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = vigil_vulndb::check_document(data);
});
