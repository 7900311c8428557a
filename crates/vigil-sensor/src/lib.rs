//! vigil's eBPF sensor: kernel events in, [`vigil_event::Event`]s out.
//!
//! ```no_run
//! use std::time::Duration;
//! use vigil_event::EventType;
//! use vigil_sensor::{Sensor, SensorConfig};
//!
//! let mut sensor = Sensor::open(SensorConfig::default())?;
//! sensor.set_event_types(["openat", "connect"].iter().filter_map(|n| EventType::from_name(n)))?;
//! loop {
//!     sensor.poll(Duration::from_millis(100), |ev| {
//!         println!("{} {} {:?}", ev.pid, ev.etype, ev.fd.map(|f| f.name));
//!     })?;
//!     let stats = sensor.stats();
//!     if stats.lost() > 0 { eprintln!("lost {} events", stats.lost()); }
//! #   break;
//! }
//! # Ok::<(), vigil_sensor::SensorError>(())
//! ```
//!
//! What arrives:
//! - syscall events (`Dir::Exit`, entry arguments included) for the types enabled with
//!   [`Sensor::set_event_types`]; paths are absolute (resolved against the dirfd or cwd by the
//!   kernel side, then normalised), `Event::fd` describes the descriptor the call produced or
//!   used (kind, absolute name, socket tuple, dev/ino, overlayfs upper-layer flag);
//! - always, per the sensor/state contract (`notes/CONTRACT-sensor-state.md`): the child side
//!   of every new process (`clone`/`clone3`/`fork`/`vfork`, `tid == pid`, `res = 0`), every
//!   successful `execve`/`execveat` with the new program's details, and `procexit`.
//!
//! ## Why aya (not libbpf-rs)
//! aya is pure Rust: no C toolchain, libelf or zlib at build time for the loader, and no
//! vendored libbpf to keep in step with the kernel. It performs CO-RE relocations of clang's
//! objects against `/sys/kernel/btf/vmlinux` itself, and supports everything this sensor uses
//! (raw tracepoints, ring buffers, global subprograms, per-CPU arrays, LRU hashes); this was
//! checked on the target kernel (6.18) with clang-14 objects before committing to it. The
//! price: aya's loader lags libbpf on exotic features (BPF_PSEUDO_FUNC callbacks, struct_ops),
//! which vigil does not need.
//!
//! Modules: [`table`] (per-syscall capture and decoding table), [`decode`] (pure record
//! decoding), [`probe`] (feature probes), [`sensor`] (loader and ring-buffer drain),
//! [`error`].

pub mod decode;
pub mod error;
pub mod probe;
pub mod sensor;
pub mod table;

pub use decode::{DecodeError, Decoder, RecordKind};
pub use error::SensorError;
pub use probe::ProbeReport;
pub use sensor::{loaded_program_ids, KernelDrops, Sensor, SensorConfig, SensorStats, CATEGORIES};
