//! Fuzzes the sensor's ring-buffer record decoder: any byte string must decode to an event
//! or a `DecodeError`, never a panic, and every parameter must render.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_sensor::Decoder;

fuzz_target!(|data: &[u8]| {
    let mut d = Decoder::new(0);
    let _ = d.decode(data, |ev| {
        for p in ev.params {
            let _ = format!("{:?}", p.value);
        }
        if let Some(fd) = ev.fd {
            let _ = (fd.name.len(), fd.nameraw.len(), fd.tuple.map(|t| t.to_string()));
        }
    });
});
