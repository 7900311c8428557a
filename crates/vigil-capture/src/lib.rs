//! Capture files: recorded event streams that `vigil replay` and `vigil rules test` evaluate.
//!
//! - [`binary`]: the compact binary format a live `vigil capture` writes (framed, checksummed,
//!   varint-encoded records; see `docs/capture-format.md`).
//! - [`jsonl`]: the same records as JSON Lines, for hand-written fixtures and for reading.
//! - [`owned`]: an owned event ([`OwnedEvent`]) that lends a borrowed [`vigil_event::Event`].
//! - [`record`]: the record kinds both formats carry (events, process and container snapshots,
//!   user tables, host information, end-of-capture statistics).
//! - [`state`]: [`ReplayState`], an in-memory [`vigil_event::StateView`] fed by the records
//!   that applies the same lifecycle (clone/exec/exit) as the live process table.
//! - [`reader`]: opens a capture file and detects its format by its first bytes.
//! - [`cases`]: the YAML rule test case format of `vigil rules test`.
//!
//! The crate does no evaluation itself: it does not depend on the rules engine, so the sensor
//! can write captures without pulling it in.

pub mod binary;
pub mod cases;
pub mod error;
pub mod jsonl;
pub mod owned;
pub mod reader;
pub mod record;
pub mod state;
pub mod symbols;
pub mod tree;

pub use error::CaptureError;
pub use owned::{OwnedEvent, OwnedFd, OwnedParam, OwnedValue, ParamBuf};
pub use reader::CaptureReader;
pub use record::{HostInfo, OwnedRecord, Record, Stats, UserTable};
pub use state::ReplayState;
