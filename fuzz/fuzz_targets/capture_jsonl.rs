//! Fuzzes the JSON Lines capture parser and the YAML rule test case parser: arbitrary text must
//! parse or fail with a line-numbered error, never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_capture::jsonl::JsonlReader;

fuzz_target!(|data: &[u8]| {
    let mut r = JsonlReader::new(data, "fuzz.jsonl");
    while let Ok(Some(())) = r.next_record(|rec| {
        let _ = vigil_capture::jsonl::record_to_json(&rec);
    }) {}
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = vigil_capture::cases::parse(text, std::path::Path::new("fuzz.yaml"));
    }
});
