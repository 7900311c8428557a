//! The container cache: container id -> [`Container`] metadata, looked up asynchronously.
//!
//! The event loop owns the cache and never blocks on a runtime: [`ContainerCache::request`]
//! records the id (so `container.id` works at once) and queues a lookup for the worker
//! threads; results come back on a channel and are applied by [`ContainerCache::poll`]
//! (cheap, non-blocking; the monitor calls it once per batch of events).
//!
//! The one place the loop may wait is [`ContainerCache::wait_ready`]: before emitting the
//! first alert of a new container, the monitor waits up to a bounded deadline (300 ms by
//! default in [`crate::StateConfig`]) so the alert carries `container.name` and
//! `container.image` instead of `<NA>`. If the deadline passes the alert goes out with what is
//! known, and the metadata fills in for later alerts.
//!
//! We rejected a shared `RwLock<HashMap>` written by the workers: the rules engine reads
//! `&Container` through `StateView` for the whole evaluation, and a lock held there would
//! either stall the workers or force cloning records per event.

use crate::cgroup::RuntimeKind;
use crate::error::LookupError;
use crate::runtime::{self, RuntimeConfig};
use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use vigil_event::Container;

/// Settings of the container cache.
#[derive(Clone, Debug)]
pub struct CacheConfig {
    /// Lookup threads.
    pub workers: usize,
    /// Pending lookups beyond which requests fail with `QueueFull` (counted).
    pub queue: usize,
    /// Containers remembered; the oldest resolved one is evicted beyond this.
    pub max_containers: usize,
    /// A failed lookup, or one that gave only partial metadata, is retried when requested
    /// again after this long...
    pub retry_after: Duration,
    /// ...at most this many times in total.
    pub max_attempts: u32,
    pub runtime: RuntimeConfig,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            workers: 2,
            queue: 1024,
            max_containers: 4096,
            retry_after: Duration::from_secs(5),
            max_attempts: 3,
            runtime: RuntimeConfig::default(),
        }
    }
}

/// Where a container's metadata stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// A lookup is queued or running.
    Pending,
    /// Metadata read.
    Ready,
    /// The last lookup failed; the id is still known.
    Failed(LookupError),
}

/// Result of [`ContainerCache::wait_ready`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// The lookup failed (the container record holds only its id and runtime).
    Failed(LookupError),
    /// The deadline passed with the lookup still running.
    TimedOut,
    /// The id was never requested (or was evicted).
    Unknown,
}

/// Counters of the cache, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub containers: u64,
    pub requests: u64,
    pub lookups_ok: u64,
    pub lookups_failed: u64,
    /// Lookups that found the container gone (exited and removed before the lookup).
    pub lookups_not_found: u64,
    pub retries: u64,
    /// Requests refused because the lookup queue was full.
    pub queue_full: u64,
    pub evictions: u64,
    /// `wait_ready` calls that hit their deadline.
    pub wait_timeouts: u64,
    /// Sum and maximum of lookup latencies (until the final result), microseconds.
    pub latency_total_us: u64,
    pub latency_max_us: u64,
    /// Longest time until the first usable result (partial or complete), microseconds.
    pub first_result_latency_max_us: u64,
    /// Partial results (name and image, no labels) delivered ahead of a complete one.
    pub partial_results: u64,
    /// Lookups that ended with partial metadata only (no complete source answered).
    pub lookups_partial_only: u64,
    /// Container names learned from the runtime's processes ([`ContainerCache::hint`]).
    pub name_hints: u64,
}

#[derive(Debug)]
struct Entry {
    container: Container,
    status: Status,
    kind: RuntimeKind,
    attempts: u32,
    /// The final result of the latest lookup arrived.
    finished: bool,
    updated: Instant,
    added: Instant,
}

#[derive(Debug)]
struct Job {
    id: String,
    kind: RuntimeKind,
}

#[derive(Debug)]
struct Done {
    id: String,
    result: Result<Container, LookupError>,
    latency: Duration,
    /// False for a partial result that a complete one (or an error) will follow.
    last: bool,
}

/// The container cache; see the module documentation.
#[derive(Debug)]
pub struct ContainerCache {
    entries: HashMap<String, Entry>,
    jobs: SyncSender<Job>,
    done: Receiver<Done>,
    cfg: CacheConfig,
    stats: CacheStats,
    /// Names from [`ContainerCache::hint`], oldest first in `hint_order`; bounded by
    /// `max_containers`.
    hints: HashMap<String, String>,
    hint_order: VecDeque<String>,
}

impl ContainerCache {
    /// Starts the worker threads.
    pub fn new(cfg: CacheConfig) -> ContainerCache {
        let (jobs, job_rx) = mpsc::sync_channel::<Job>(cfg.queue.max(1));
        let (done_tx, done) = mpsc::channel::<Done>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        for i in 0..cfg.workers.max(1) {
            let rx = Arc::clone(&job_rx);
            let tx = done_tx.clone();
            let rcfg = cfg.runtime.clone();
            let spawned = thread::Builder::new()
                .name(format!("vigil-ctr-{i}"))
                .spawn(move || worker(rx, tx, rcfg));
            if let Err(e) = spawned {
                log::warn!("container lookup worker {i}: cannot start: {e}");
            }
        }
        ContainerCache {
            entries: HashMap::new(),
            jobs,
            done,
            cfg,
            stats: CacheStats::default(),
            hints: HashMap::new(),
            hint_order: VecDeque::new(),
        }
    }

    /// Records the name the runtime gave container `id` (see [`crate::hints`]). The name shows
    /// in the container's record at once if it has none yet, and fills in whatever a lookup
    /// returns without a name, including nothing at all: a container removed before its
    /// lookup keeps the name its runtime announced.
    pub fn hint(&mut self, id: &str, name: &str) {
        self.stats.name_hints += 1;
        if let Some(e) = self.entries.get_mut(id) {
            if e.container.name.is_empty() {
                e.container.name = name.to_string();
            }
        }
        if self
            .hints
            .insert(id.to_string(), name.to_string())
            .is_none()
        {
            self.hint_order.push_back(id.to_string());
            while self.hint_order.len() > self.cfg.max_containers.max(1) {
                if let Some(old) = self.hint_order.pop_front() {
                    self.hints.remove(&old);
                }
            }
        }
    }

    fn retry_due(&self, e: &Entry) -> bool {
        let worth = match &e.status {
            Status::Failed(err) => err.retryable(),
            // Only partial metadata (the complete source failed or was slow): try again for
            // the labels, keeping the partial record visible meanwhile.
            Status::Ready => e.finished && !e.container.metadata_complete,
            Status::Pending => false,
        };
        worth && e.attempts < self.cfg.max_attempts && e.updated.elapsed() >= self.cfg.retry_after
    }

    /// True if [`request`](Self::request) would do something: the id is new, or its failed
    /// lookup is due for a retry. Cheap (one hash lookup), for the per-event path.
    pub fn needs_request(&self, id: &str) -> bool {
        match self.entries.get(id) {
            None => true,
            Some(e) => self.retry_due(e),
        }
    }

    /// When the current lookup of `id` was requested, if one is pending.
    pub fn pending_since(&self, id: &str) -> Option<Instant> {
        self.entries
            .get(id)
            .filter(|e| e.status == Status::Pending)
            .map(|e| e.updated)
    }

    /// Makes `id` known and starts a metadata lookup unless one succeeded, is running, or
    /// failed for good. Never blocks.
    pub fn request(&mut self, id: &str, kind: RuntimeKind) {
        let retry = self.entries.get(id).map(|e| self.retry_due(e));
        if let Some(e) = self.entries.get_mut(id) {
            if retry == Some(true) {
                self.stats.retries += 1;
                if e.status != Status::Ready {
                    e.status = Status::Pending;
                }
                e.finished = false;
                e.attempts += 1;
                e.updated = Instant::now();
                let kind = e.kind;
                self.submit(id, kind);
            }
            return;
        }
        self.stats.requests += 1;
        if self.entries.len() >= self.cfg.max_containers.max(1) {
            self.evict_one();
        }
        let now = Instant::now();
        self.entries.insert(
            id.to_string(),
            Entry {
                container: Container {
                    id: id.to_string(),
                    name: self.hints.get(id).cloned().unwrap_or_default(),
                    runtime: kind.as_str().to_string(),
                    ..Container::default()
                },
                status: Status::Pending,
                kind,
                attempts: 1,
                finished: false,
                updated: now,
                added: now,
            },
        );
        self.submit(id, kind);
    }

    fn submit(&mut self, id: &str, kind: RuntimeKind) {
        let job = Job {
            id: id.to_string(),
            kind,
        };
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.queue_full += 1;
                log::debug!("container {id}: lookup queue full, metadata not requested");
                if let Some(e) = self.entries.get_mut(id) {
                    e.status = Status::Failed(LookupError::QueueFull);
                    e.updated = Instant::now();
                }
            }
        }
    }

    fn evict_one(&mut self) {
        let victim = self
            .entries
            .iter()
            .filter(|(_, e)| e.status != Status::Pending)
            .min_by_key(|(_, e)| e.added)
            .or_else(|| self.entries.iter().min_by_key(|(_, e)| e.added))
            .map(|(k, _)| k.clone());
        if let Some(k) = victim {
            self.entries.remove(&k);
            self.stats.evictions += 1;
        }
    }

    /// Applies finished lookups. Non-blocking; returns how many were applied.
    pub fn poll(&mut self) -> usize {
        let mut n = 0;
        while let Ok(d) = self.done.try_recv() {
            self.apply(d);
            n += 1;
        }
        n
    }

    fn apply(&mut self, d: Done) {
        let us = d.latency.as_micros() as u64;
        if d.last {
            self.stats.latency_total_us += us;
            self.stats.latency_max_us = self.stats.latency_max_us.max(us);
        }
        let Some(e) = self.entries.get_mut(&d.id) else {
            return; // evicted meanwhile
        };
        e.updated = Instant::now();
        e.finished |= d.last;
        match d.result {
            Ok(mut c) => {
                if !d.last {
                    self.stats.partial_results += 1;
                    self.stats.first_result_latency_max_us =
                        self.stats.first_result_latency_max_us.max(us);
                } else {
                    self.stats.lookups_ok += 1;
                    if e.status != Status::Ready {
                        self.stats.first_result_latency_max_us =
                            self.stats.first_result_latency_max_us.max(us);
                    }
                }
                if d.last && !c.metadata_complete {
                    self.stats.lookups_partial_only += 1;
                }
                if c.name.is_empty() {
                    c.name = std::mem::take(&mut e.container.name);
                }
                c.id = d.id;
                e.container = c;
                e.status = Status::Ready;
            }
            Err(err) if e.status == Status::Ready => {
                // Only a partial result came (should not happen: lookup_with ends with the
                // partial one then); keep what we have.
                self.stats.lookups_partial_only += 1;
                log::debug!("container {}: kept partial metadata: {err}", d.id);
            }
            Err(err) => {
                self.stats.lookups_failed += 1;
                if matches!(err, LookupError::NotFound { .. }) {
                    self.stats.lookups_not_found += 1;
                }
                log::debug!(
                    "container {}: metadata lookup failed after {} ms: {err}",
                    d.id,
                    us / 1000
                );
                e.status = Status::Failed(err);
            }
        }
    }

    /// Waits until the lookup of `id` finishes or `deadline` passes, applying every result
    /// that arrives meanwhile. Returns at once if the lookup is not pending.
    pub fn wait_ready(&mut self, id: &str, deadline: Instant) -> Readiness {
        self.poll();
        loop {
            match self.entries.get(id).map(|e| &e.status) {
                None => return Readiness::Unknown,
                Some(Status::Ready) => return Readiness::Ready,
                Some(Status::Failed(e)) => return Readiness::Failed(e.clone()),
                Some(Status::Pending) => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.done.recv_timeout(left) {
                Ok(d) => self.apply(d),
                Err(RecvTimeoutError::Timeout) => {
                    self.stats.wait_timeouts += 1;
                    return Readiness::TimedOut;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Readiness::Failed(LookupError::Unavailable {
                        source_name: "lookup workers".into(),
                        msg: "all worker threads stopped".into(),
                    })
                }
            }
        }
    }

    /// The container with this id: full metadata once ready, else only id and runtime.
    pub fn get(&self, id: &str) -> Option<&Container> {
        self.entries.get(id).map(|e| &e.container)
    }

    /// Where the metadata of `id` stands.
    pub fn status(&self, id: &str) -> Option<&Status> {
        self.entries.get(id).map(|e| &e.status)
    }

    /// True once a lookup of `id` has come back (partial, complete or failed): what the record
    /// holds then is what the runtimes said, not only what a hint announced.
    pub fn settled(&self, id: &str) -> bool {
        matches!(self.status(id), Some(Status::Ready | Status::Failed(_)))
    }

    /// True if the id is known.
    pub fn contains(&self, id: &str) -> bool {
        self.entries.contains_key(id)
    }

    /// Counters.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            containers: self.entries.len() as u64,
            ..self.stats
        }
    }
}

fn worker(jobs: Arc<Mutex<Receiver<Job>>>, done: mpsc::Sender<Done>, cfg: RuntimeConfig) {
    loop {
        let job = {
            let Ok(rx) = jobs.lock() else { return };
            match rx.recv() {
                Ok(j) => j,
                Err(_) => return, // cache dropped
            }
        };
        let t0 = Instant::now();
        let mut gone = false;
        runtime::lookup_with(&cfg, &job.id, job.kind, |result, last| {
            let d = Done {
                id: job.id.clone(),
                result,
                latency: t0.elapsed(),
                last,
            };
            gone |= done.send(d).is_err();
        });
        if gone {
            return;
        }
    }
}
