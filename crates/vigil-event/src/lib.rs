//! vigil's event model, shared by every part that produces or consumes events.
//!
//! - [`types`]: event types (syscall numbers plus a few special events) and their names.
//! - [`params`]: typed syscall parameters in Falco's order and naming.
//! - [`event`]: the borrowed [`Event`] record and the descriptor it is about.
//! - [`state`]: processes, users and containers, and the [`StateView`] the engine reads.
//! - [`alert`]: the alert record and its Falco-compatible JSON form.
//!
//! This crate is pure data: no I/O, no kernel access, so every consumer can be tested with
//! hand-built events.

pub mod alert;
pub mod event;
pub mod params;
pub mod prefilter;
pub mod state;
pub mod syscalls;
pub mod types;

pub use alert::{Alert, FieldValue, Priority};
pub use event::{Dir, Event, FdInfo, FdKind};
pub use params::{FlagSet, L4Proto, Param, ParamName, SockAddr, SockTuple, Value};
pub use state::{Container, K8sInfo, Mount, Process, StateView, StdioInfo, UserInfo};
pub use types::{Category, EventType};
