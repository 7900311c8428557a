//! The output sinks. Each is a small synchronous type implementing [`Sink`]; the pipeline's
//! per-output worker thread owns one and handles queueing, batching, retries, spill and
//! accounting, so a sink only knows how to write to its destination.
//!
//! Rejected: an async runtime with one task per output. Six sinks with blocking I/O on their
//! own threads are simpler to reason about, cost nothing measurable, and keep the dependency
//! tree small on a 2-core build machine.

pub mod file;
pub mod http;
pub mod nats;
pub mod program;
pub mod stdout;
pub mod syslog;

use std::sync::Arc;
use vigil_event::Alert;

/// An alert with its Falco JSON rendered once and shared by every output.
#[derive(Debug)]
pub struct Record {
    pub alert: Alert,
    /// Falco JSON, one line, no trailing newline.
    pub json: String,
}

impl Record {
    pub fn new(alert: Alert) -> Arc<Record> {
        let json = alert.to_json();
        Arc::new(Record { alert, json })
    }
}

/// Why a write failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkError {
    /// Transient (connection refused, timeout, 5xx): retry later.
    Retry(String),
    /// This alert can never be delivered (e.g. HTTP 400, message too large): drop it, counted.
    Reject(String),
}

impl std::fmt::Display for SinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SinkError::Retry(s) => write!(f, "{s}"),
            SinkError::Reject(s) => write!(f, "rejected: {s}"),
        }
    }
}

/// A destination for alerts.
pub trait Sink: Send {
    /// Writes (or buffers) one alert.
    fn write(&mut self, rec: &Record) -> Result<(), SinkError>;
    /// Makes everything written since the last successful flush durable/acknowledged.
    fn flush(&mut self) -> Result<(), SinkError>;
    /// True when a successful `write` is already a confirmed delivery (e.g. an HTTP 2xx), so
    /// a failure later in a batch need not resend earlier alerts.
    fn confirms_each_write(&self) -> bool {
        false
    }
    /// Reopen files (SIGUSR1, after logrotate moved them).
    fn reopen(&mut self) {}
}
