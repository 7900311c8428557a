//! Fuzzes the binary capture reader: any byte string must yield records or a positioned error,
//! never a panic, a hang or an unbounded allocation.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_capture::binary::BinaryReader;

fuzz_target!(|data: &[u8]| {
    // With and without a valid header in front, so the fuzzer reaches the record decoder.
    let mut framed = Vec::with_capacity(data.len() + 16);
    framed.extend_from_slice(&vigil_capture::binary::MAGIC);
    framed.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
    framed.extend_from_slice(data);
    for input in [data, &framed[..]] {
        let Ok(mut r) = BinaryReader::new(input, "fuzz") else {
            continue;
        };
        while let Ok(Some(())) = r.next_record(|rec| {
            let _ = vigil_capture::jsonl::record_to_json(&rec);
        }) {}
    }
});
