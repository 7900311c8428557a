//! Prints every event the sensor delivers, one line each, for a few seconds.
//!
//! `cargo run -p vigil-sensor --example dump -- [SECONDS] [SYSCALL...]` (as root). With no
//! syscall names, a default set of security-relevant syscalls is enabled.

use std::time::{Duration, Instant};
use vigil_event::EventType;
use vigil_sensor::{Sensor, SensorConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let names: Vec<String> = args.collect();
    let mut sensor = match Sensor::open(SensorConfig::default()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    for n in &sensor.probe_report().notes {
        eprintln!("note: {n}");
    }
    let names: Vec<&str> = if names.is_empty() {
        vec![
            "openat",
            "connect",
            "accept4",
            "unlinkat",
            "renameat2",
            "symlinkat",
            "ptrace",
            "memfd_create",
            "execve",
        ]
    } else {
        names.iter().map(|s| s.as_str()).collect()
    };
    let types: Vec<EventType> = names
        .iter()
        .filter_map(|n| EventType::from_name(n))
        .collect();
    if let Err(e) = sensor.set_event_types(types) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        let r = sensor.poll(Duration::from_millis(100), |ev| {
            let params: Vec<String> = ev
                .params
                .iter()
                .map(|p| format!("{}={:?}", p.name.as_str(), p.value))
                .collect();
            let fd = ev
                .fd
                .map(|f| {
                    format!(
                        " fd={}:{}:{}{}",
                        f.num,
                        f.kind.as_str(),
                        f.name,
                        f.tuple.map(|t| format!(" {t}")).unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            println!(
                "{} {} {} res={} {}{}",
                ev.pid,
                ev.tid,
                ev.etype,
                ev.res,
                params.join(" "),
                fd
            );
        });
        if let Err(e) = r {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
    eprintln!("{:?}", sensor.stats());
}
