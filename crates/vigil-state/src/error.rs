//! Errors of the state crate.
//!
//! One `thiserror` enum for the I/O shell (reading `/proc`, passwd files, runtime sockets and
//! bundles) and one for runtime metadata lookups, so callers can tell "the container is gone"
//! (expected, not retried) from "the runtime did not answer" (retried later). We rejected
//! `anyhow` here: the monitor decides per variant whether to log, count or retry.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// An error reading local state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: {msg}", path.display())]
    Parse {
        path: PathBuf,
        /// 1-based line, 0 when the problem is not on one line.
        line: usize,
        msg: String,
    },
}

impl StateError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> StateError {
        StateError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Why a container's metadata could not be read from its runtime.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The runtime does not know the container (it exited and was removed before vigil
    /// asked). Not retried.
    #[error("container {id} not found by {source_name} (it exited and was removed before its metadata was read)")]
    NotFound { id: String, source_name: String },
    /// The runtime's socket or CLI is not there.
    #[error("{source_name} unavailable: {msg}")]
    Unavailable { source_name: String, msg: String },
    /// The runtime did not answer in time.
    #[error("{source_name} did not answer within {timeout:?}")]
    Timeout {
        source_name: String,
        timeout: Duration,
    },
    /// The runtime answered something vigil could not use.
    #[error("{source_name}: {msg}")]
    Protocol { source_name: String, msg: String },
    /// The lookup queue was full; the request was not sent (counted).
    #[error("lookup queue full")]
    QueueFull,
}

impl LookupError {
    /// True if asking again later could succeed.
    pub fn retryable(&self) -> bool {
        !matches!(self, LookupError::NotFound { .. })
    }
}
