//! Fuzz the layer walker and everything behind it: decompression sniffing (gzip/zstd/plain),
//! the tar reader, path normalization, whiteouts, the file index and the analyzers that the
//! entries trigger. Two layers are carved from the input to exercise cross-layer deletion.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_scan::layer::Limits;
use vigil_scan::ScanOptions;

fuzz_target!(|data: &[u8]| {
    let cut = data.first().map(|b| *b as usize * data.len() / 256).unwrap_or(0);
    let (a, b) = data.split_at(cut.min(data.len()));
    let opts = ScanOptions {
        limits: Limits {
            max_layer_bytes: 64 << 20,
            ratio_floor: 1 << 20,
            max_entries: 100_000,
            ..Limits::default()
        },
        ..ScanOptions::default()
    };
    let _ = vigil_scan::scan::scan_layers("fuzz", &[a, b], &opts);
});
