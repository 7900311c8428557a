//! vigil's live enrichment state: who a process is, what container it runs in, and which
//! user names its ids map to.
//!
//! # Parts
//! - [`ProcessTable`] ([`table`]): thread groups by tgid, seeded from `/proc` ([`procfs`]) and
//!   kept by the sensor's lifecycle events; a hard cap on entries with counted eviction;
//!   ancestry links that survive pid reuse.
//! - [`cgroup`]: container id and runtime from a cgroup path (pure).
//! - [`ContainerCache`] ([`containers`]): container id -> metadata, read asynchronously from
//!   the runtimes ([`runtime`]: Docker and Podman APIs, Podman CLI, containerd and CRI-O
//!   bundles) by worker threads, with a bounded wait for a new container's first alert.
//! - [`UserCache`] ([`users`]): passwd/group of the host and of each container.
//! - [`LiveState`] ([`live`]): the three behind [`vigil_event::StateView`].
//!
//! They share one crate because `StateView` hands out references into all three at once;
//! split crates would add a fourth just to combine them.
//!
//! # Use in the monitor loop
//!
//! ```no_run
//! use vigil_event::{Event, StateView};
//! use vigil_state::{LiveState, StateConfig, Readiness};
//!
//! # fn events() -> Vec<Event<'static>> { Vec::new() }
//! # fn rule_matches(_: &Event<'_>, _: &dyn StateView) -> bool { false }
//! let mut state = LiveState::new(StateConfig::default())?; // seeds from /proc
//! for ev in events() {
//!     state.before(&ev);                       // clone/exec update the table first
//!     if rule_matches(&ev, &state) {
//!         // A new container's metadata may still be in flight: wait (bounded, 300 ms by
//!         // default) so the alert carries container.name/image, then render the alert.
//!         if let Readiness::TimedOut = state.wait_container_of(ev.pid) {
//!             // counted in metrics().containers.wait_timeouts; alert goes out anyway
//!         }
//!     }
//!     state.after(&ev);                        // procexit removes the process
//!     state.poll();                            // apply finished lookups (non-blocking)
//! }
//! // On a timer (e.g. every 5 s), and after the sensor reported dropped events:
//! state.sweep(4096);                           // forget processes whose exit was lost
//! println!("{:?}", state.metrics());
//! # Ok::<(), vigil_state::StateError>(())
//! ```
//!
//! Ancestry: use [`StateView::parent`](vigil_event::StateView::parent) (added to the trait
//! for this crate) rather than `process(p.ppid)`: the live table refuses a parent pid that was
//! reused by an unrelated process. Walks must still be depth-capped
//! ([`ProcessTable::ancestors`] is, at 64 by default).
//!
//! Container metadata arrives in up to two steps: a fast partial record (name, image, mounts,
//! privileged; no labels) from containers/storage for Podman without its service, then the
//! complete record. [`vigil_event::Container::metadata_complete`] tells which one is there.
//!
//! The event semantics follow `notes/CONTRACT-sensor-state.md`: clone (child side, threads
//! ignored), successful execve/execveat, and procexit. A process whose `/proc` entry is gone
//! before its cgroup could be read inherits its parent's container. Debug messages (the `log`
//! crate, target `vigil_state`) explain every failed lookup: container gone, runtime socket
//! absent, timeout.

pub mod cgroup;
pub mod containers;
pub mod error;
pub mod hints;
pub mod live;
pub mod procfs;
pub mod runtime;
pub mod table;
pub mod users;

pub use cgroup::{container_of_cgroup_file, container_of_path, CgroupContainer, RuntimeKind};
pub use containers::{CacheConfig, CacheStats, ContainerCache, Readiness, Status};
pub use error::{LookupError, StateError};
pub use live::{LiveState, StateConfig, StateMetrics};
pub use procfs::{Limits, ProcFs};
pub use runtime::RuntimeConfig;
pub use table::{Change, ProcessTable, TableConfig, TableStats};
pub use users::{UserCache, UserDb, UserStats};
