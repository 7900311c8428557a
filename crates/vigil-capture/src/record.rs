//! The records a capture carries, in both formats.
//!
//! A capture is a stream: snapshots of the processes, containers and user tables the events
//! refer to come before the first event that needs them, so a reader rebuilds the same state
//! the live sensor had. [`Record`] borrows (what readers lend to their caller);
//! [`OwnedRecord`] owns (what text fixtures and test cases are parsed into).

use crate::owned::{OwnedEvent, ParamBuf};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use vigil_event::{Container, Event, Process, UserInfo};

/// Facts about the host the capture was taken on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostInfo {
    /// `evt.hostname`.
    pub hostname: String,
    /// Boot time, ns since the epoch (converts monotonic kernel stamps to wall time).
    pub boot_ts: u64,
    /// `uname -r` of the capturing kernel.
    pub kernel: String,
    /// Version of the vigil that wrote the capture.
    pub vigil_version: String,
    /// Time the capture started, ns since the epoch.
    pub start_ts: u64,
}

/// A group entry of a [`UserTable`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupEntry {
    pub gid: u32,
    pub name: String,
}

/// The users and groups visible in one container (`container_id` empty: the host).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserTable {
    pub container_id: String,
    pub users: Vec<UserInfo>,
    pub groups: Vec<GroupEntry>,
}

/// Counters written at the end of a capture.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Stats {
    /// Event records in the capture (readers check this against what they read).
    pub events: u64,
    /// Events the source lost before they reached the writer (ring buffer overflow, ...).
    pub dropped: u64,
    /// Per-reason breakdown of `dropped`.
    pub dropped_by_reason: BTreeMap<String, u64>,
}

/// One record, borrowed from a reader's buffers.
#[derive(Clone, Copy, Debug)]
pub enum Record<'a> {
    Event(&'a Event<'a>),
    /// A process snapshot: insert or replace this process.
    Process(&'a Process),
    /// The process with this pid is gone (without a `procexit` event, e.g. missed).
    RemoveProcess(u32),
    /// A container record: insert or replace.
    Container(&'a Container),
    /// Users and groups of a container (or of the host).
    Users(&'a UserTable),
    Host(&'a HostInfo),
    /// End of capture, with the writer's counters.
    End(&'a Stats),
}

/// One record, owned.
#[derive(Clone, Debug, PartialEq)]
pub enum OwnedRecord {
    Event(OwnedEvent),
    Process(Box<Process>),
    RemoveProcess(u32),
    Container(Box<Container>),
    Users(UserTable),
    Host(HostInfo),
    End(Stats),
}

impl OwnedRecord {
    /// Lends this record to `f` (events through `buf`, see [`OwnedEvent::with_event`]).
    pub fn with_record<R>(&self, buf: &mut ParamBuf, f: impl FnOnce(Record<'_>) -> R) -> R {
        match self {
            OwnedRecord::Event(e) => e.with_event(buf, |ev| f(Record::Event(ev))),
            OwnedRecord::Process(p) => f(Record::Process(p)),
            OwnedRecord::RemoveProcess(pid) => f(Record::RemoveProcess(*pid)),
            OwnedRecord::Container(c) => f(Record::Container(c)),
            OwnedRecord::Users(u) => f(Record::Users(u)),
            OwnedRecord::Host(h) => f(Record::Host(h)),
            OwnedRecord::End(s) => f(Record::End(s)),
        }
    }

    /// Copies a borrowed record.
    pub fn from_record(r: &Record<'_>) -> Self {
        match *r {
            Record::Event(e) => OwnedRecord::Event(OwnedEvent::from_event(e)),
            Record::Process(p) => OwnedRecord::Process(Box::new(p.clone())),
            Record::RemoveProcess(pid) => OwnedRecord::RemoveProcess(pid),
            Record::Container(c) => OwnedRecord::Container(Box::new(c.clone())),
            Record::Users(u) => OwnedRecord::Users(u.clone()),
            Record::Host(h) => OwnedRecord::Host(h.clone()),
            Record::End(s) => OwnedRecord::End(s.clone()),
        }
    }
}
