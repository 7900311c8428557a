//! Fuzzes the condition parser and compiler: any bytes as a rule condition.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vigil_rules::fuzzing::fuzz_condition(data);
});
