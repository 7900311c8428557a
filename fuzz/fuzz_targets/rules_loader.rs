//! Fuzzes the rules loader: any bytes as a rules YAML file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vigil_rules::fuzzing::fuzz_loader(data);
});
