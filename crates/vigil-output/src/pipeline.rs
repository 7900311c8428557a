//! The alert pipeline: `send` → bounded input queue → dispatcher thread (priority filter,
//! noise control, per-rule metrics, fan-out) → one bounded queue and one worker thread per
//! output (batching, retries with exponential backoff and jitter, spill, accounting).
//!
//! Nothing here blocks detection: `send` is a `try_send` that counts the alert as dropped
//! when the input queue is full; the dispatcher only `try_send`s to output queues and applies
//! the output's full-queue policy (drop-newest, counted, or spill to disk); a slow output only
//! fills its own queue. Every dropped alert is counted per output and reason, logged
//! periodically and raised as an internal alert.
//!
//! Rejected: one shared queue with all outputs consuming at the pace of the slowest (one dead
//! webhook would stall stdout), and blocking `send` (backpressure into the kernel ring buffer
//! turns an output outage into lost syscall events, which is worse).

use crate::config::{
    Config, ConfigErrors, FullPolicy, NoiseConfig, OutputConfig, OutputKind, RetryConfig,
    SpillConfig,
};
use crate::metrics::{Metrics, OutputStats};
use crate::noise::{now_ns, Noise, Verdict};
use crate::outputs::{self, Record, Sink, SinkError};
use crate::server::MetricsServer;
use crate::spill::{Spill, SpillError};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use vigil_event::{Alert, FieldValue, Priority};

const BATCH: usize = 1024;

/// Why the pipeline could not start.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    #[error("metrics server: cannot listen on {listen}: {err}")]
    Metrics { listen: String, err: std::io::Error },
    #[error("output '{output}': {msg}")]
    Output { output: String, msg: String },
    #[error("output '{output}': {err}")]
    Spill { output: String, err: SpillError },
    #[error("cannot start thread: {0}")]
    Thread(std::io::Error),
}

/// What happened to the alerts still pending at shutdown.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Alerts written to the spill for delivery after restart.
    pub spilled: u64,
    /// Alerts dropped because the deadline passed (outputs without spill).
    pub dropped: u64,
}

struct Handle {
    name: String,
    cfg: OutputConfig,
    spill_cfg: SpillConfig,
    tx: Sender<Arc<Record>>,
    ctx: Arc<WorkerCtx>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// State shared by an output's worker and the dispatcher.
struct WorkerCtx {
    name: String,
    stats: Arc<OutputStats>,
    metrics: Metrics,
    spill: Option<Arc<Spill>>,
    policy: FullPolicy,
    min_priority: Option<Priority>,
    tags: Vec<String>,
    retry: RetryConfig,
    max_attempts: u32,
    stop: AtomicBool,
    /// ms since `epoch` at which a stopping worker gives up delivering (0 = not stopping).
    deadline_ms: AtomicU64,
    epoch: Instant,
    reopen: AtomicBool,
    shutdown_spilled: AtomicU64,
    shutdown_dropped: AtomicU64,
}

impl WorkerCtx {
    fn accepts(&self, a: &Alert) -> bool {
        if let Some(p) = self.min_priority {
            if !a.priority.at_least(p) {
                return false;
            }
        }
        self.tags.is_empty() || a.tags.iter().any(|t| self.tags.contains(t))
    }

    fn stopping(&self) -> bool {
        self.stop.load(Relaxed)
    }

    fn past_deadline(&self) -> bool {
        self.stopping() && self.epoch.elapsed().as_millis() as u64 >= self.deadline_ms.load(Relaxed)
    }

    /// Writes to the spill, counting; returns false if it had to drop.
    fn spill_one(&self, rec: &Record) -> bool {
        let Some(sp) = &self.spill else { return false };
        match sp.append(rec.json.as_bytes()) {
            Ok(()) => {
                self.stats.spilled.fetch_add(1, Relaxed);
                self.stats.spill_bytes.store(sp.bytes(), Relaxed);
                true
            }
            Err(e) => {
                self.stats.dropped_spill_full.fetch_add(1, Relaxed);
                if !matches!(e, SpillError::Full(_)) {
                    eprintln!("vigil: output '{}': {e}", self.name);
                }
                false
            }
        }
    }
}

struct Routing {
    outputs: Vec<Arc<Handle>>,
    min_priority: Priority,
    noise: NoiseConfig,
    generation: u64,
    hostname: String,
    drop_report_interval: Duration,
}

struct Shared {
    routing: Mutex<Routing>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Routing> {
        self.routing.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running alert pipeline.
pub struct Pipeline {
    input: Sender<Alert>,
    stop_tx: Sender<()>,
    shared: Arc<Shared>,
    dispatcher: Option<JoinHandle<()>>,
    metrics: Metrics,
    config: Config,
    server: Option<MetricsServer>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("outputs", &self.output_names())
            .finish()
    }
}

fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn make_sink(kind: &OutputKind) -> Result<Box<dyn Sink>, String> {
    Ok(match kind {
        OutputKind::Stdout(s) => Box::new(outputs::stdout::StdoutSink::new(s.format)),
        OutputKind::File(f) => Box::new(outputs::file::FileSink::new(f)),
        OutputKind::Syslog(s) => Box::new(outputs::syslog::SyslogSink::new(s)?),
        OutputKind::Webhook(w) => Box::new(outputs::http::WebhookSink::new(w)?),
        OutputKind::Program(p) => Box::new(outputs::program::ProgramSink::new(&p.command)),
        OutputKind::Nats(n) => Box::new(outputs::nats::NatsSink::new(n)?),
    })
}

fn start_output(
    cfg: &Config,
    i: usize,
    metrics: &Metrics,
    sink: Option<Box<dyn Sink>>,
) -> Result<Arc<Handle>, PipelineError> {
    let o = &cfg.outputs[i];
    let name = cfg.output_name(i);
    let kind = o.kind().ok_or_else(|| PipelineError::Output {
        output: name.clone(),
        msg: "exactly one output kind must be set".into(),
    })?;
    let sink = match sink {
        Some(s) => s,
        None => make_sink(&kind).map_err(|msg| PipelineError::Output {
            output: name.clone(),
            msg,
        })?,
    };
    let policy = o
        .queue
        .full
        .unwrap_or(if kind.supports_spill() && cfg.spill.dir.is_some() {
            FullPolicy::Spill
        } else {
            FullPolicy::DropNewest
        });
    let spill = match (&cfg.spill.dir, policy) {
        (Some(d), FullPolicy::Spill) => Some(Arc::new(
            Spill::open(&d.join(&name), &cfg.spill).map_err(|err| PipelineError::Spill {
                output: name.clone(),
                err,
            })?,
        )),
        _ => None,
    };
    let stats = metrics.output(&name, kind.kind_name());
    if let Some(sp) = &spill {
        stats.spill_bytes.store(sp.bytes(), Relaxed);
    }
    let max_attempts = o
        .retry
        .max_attempts
        .unwrap_or(if spill.is_some() { 0 } else { 5 });
    let ctx = Arc::new(WorkerCtx {
        name: name.clone(),
        stats,
        metrics: metrics.clone(),
        spill,
        policy,
        min_priority: o.min_priority,
        tags: o.tags.clone(),
        retry: o.retry.clone(),
        max_attempts,
        stop: AtomicBool::new(false),
        deadline_ms: AtomicU64::new(0),
        epoch: Instant::now(),
        reopen: AtomicBool::new(false),
        shutdown_spilled: AtomicU64::new(0),
        shutdown_dropped: AtomicU64::new(0),
    });
    let (tx, rx) = bounded(o.queue.capacity);
    let c2 = ctx.clone();
    let thread = std::thread::Builder::new()
        .name(format!("vigil-out-{name}"))
        .spawn(move || {
            Worker {
                ctx: c2,
                rx,
                sink,
                last_log: None,
                rng: seed(),
            }
            .run()
        })
        .map_err(PipelineError::Thread)?;
    Ok(Arc::new(Handle {
        name,
        cfg: o.clone(),
        spill_cfg: cfg.spill.clone(),
        tx,
        ctx,
        thread: Mutex::new(Some(thread)),
    }))
}

fn seed() -> u64 {
    let t = now_ns();
    (t ^ (std::process::id() as u64).rotate_left(32)) | 1
}

impl Handle {
    fn offer(&self, rec: &Arc<Record>) {
        let ctx = &self.ctx;
        if !ctx.accepts(&rec.alert) {
            return;
        }
        match self.tx.try_send(rec.clone()) {
            Ok(()) => {
                ctx.stats.queue_depth.store(self.tx.len() as i64, Relaxed);
            }
            Err(TrySendError::Full(r)) | Err(TrySendError::Disconnected(r)) => match ctx.policy {
                FullPolicy::Spill if ctx.spill.is_some() => {
                    ctx.spill_one(&r);
                }
                _ => {
                    ctx.stats.dropped_queue_full.fetch_add(1, Relaxed);
                }
            },
        }
    }

    /// Stops the worker: it keeps delivering until its queue is empty or `deadline` passes,
    /// then spills (or drops, counted) what is left.
    fn stop(&self, deadline: Instant) {
        let ms = deadline
            .saturating_duration_since(self.ctx.epoch)
            .as_millis() as u64;
        self.ctx.deadline_ms.store(ms.max(1), Relaxed);
        self.ctx.stop.store(true, Relaxed);
    }

    fn join(&self) -> ShutdownReport {
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
        // The dispatcher no longer offers to this handle (it was joined or the routing lock
        // is held), and the worker drained its queue before exiting.
        if let Some(sp) = &self.ctx.spill {
            sp.close();
        }
        ShutdownReport {
            spilled: self.ctx.shutdown_spilled.load(Relaxed),
            dropped: self.ctx.shutdown_dropped.load(Relaxed),
        }
    }
}

struct Worker {
    ctx: Arc<WorkerCtx>,
    rx: Receiver<Arc<Record>>,
    sink: Box<dyn Sink>,
    last_log: Option<Instant>,
    rng: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum St {
    Pending,
    Written,
    Done,
}

impl Worker {
    fn run(mut self) {
        loop {
            if self.ctx.reopen.swap(false, Relaxed) {
                self.sink.reopen();
            }
            if !self.ctx.stopping() {
                if let Some(sp) = self.ctx.spill.clone() {
                    if !sp.is_empty() {
                        self.replay(&sp);
                        continue;
                    }
                    sp.maybe_sync();
                }
            }
            let first = if self.ctx.stopping() {
                if self.ctx.past_deadline() {
                    break;
                }
                match self.rx.try_recv() {
                    Ok(r) => r,
                    Err(_) => break,
                }
            } else {
                match self.rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(r) => r,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            };
            let mut batch = Vec::with_capacity(64);
            batch.push(first);
            while batch.len() < BATCH {
                match self.rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            self.ctx
                .stats
                .queue_depth
                .store(self.rx.len() as i64, Relaxed);
            if let Err(from) = self.deliver(&batch, false) {
                self.leftover(&batch[from..]);
            }
        }
        // Stopping: whatever is still queued goes to the spill, or is dropped and counted.
        let rest: Vec<_> = self.rx.try_iter().collect();
        self.leftover(&rest);
        self.ctx.stats.queue_depth.store(0, Relaxed);
        let _ = self.sink.flush();
    }

    fn leftover(&self, recs: &[Arc<Record>]) {
        for r in recs {
            if self.ctx.spill_one(r) {
                self.ctx.shutdown_spilled.fetch_add(1, Relaxed);
            } else {
                self.ctx.stats.dropped_shutdown.fetch_add(1, Relaxed);
                self.ctx.shutdown_dropped.fetch_add(1, Relaxed);
            }
        }
    }

    /// Replays the oldest spill segment; deletes it once every alert in it is confirmed.
    fn replay(&mut self, sp: &Arc<Spill>) {
        let Some(seg) = sp.oldest() else { return };
        let (lines, torn) = match seg.read() {
            Ok(x) => x,
            Err(e) => {
                self.log_failure(
                    &format!("cannot read spill segment {}: {e}", seg.path.display()),
                    0,
                    Duration::from_secs(1),
                );
                std::thread::sleep(Duration::from_millis(200));
                return;
            }
        };
        let mut corrupt = torn as u64;
        let mut recs = Vec::with_capacity(lines.len());
        for l in lines {
            match serde_json::from_str::<Alert>(&l) {
                // Keep the exact bytes that were spilled.
                Ok(a) => recs.push(Arc::new(Record { alert: a, json: l })),
                Err(_) => corrupt += 1,
            }
        }
        if corrupt > 0 {
            self.ctx.stats.dropped_rejected.fetch_add(corrupt, Relaxed);
            eprintln!(
                "vigil: output '{}': {corrupt} unreadable alert(s) in spill segment {} dropped",
                self.ctx.name,
                seg.path.display()
            );
        }
        for chunk in recs.chunks(BATCH) {
            if self.deliver(chunk, true).is_err() {
                // Stopping: the segment stays on disk and is replayed after restart.
                return;
            }
            self.ctx
                .stats
                .replayed
                .fetch_add(chunk.len() as u64, Relaxed);
        }
        if let Err(e) = sp.remove(&seg) {
            eprintln!("vigil: output '{}': {e}", self.ctx.name);
        }
        self.ctx.stats.spill_bytes.store(sp.bytes(), Relaxed);
    }

    /// Delivers a batch with retries. For an output with a spill, a fresh batch that fails is
    /// written to the spill at once and retried from there (`from_spill`), so nothing waits
    /// for a retry only in memory. `Err(i)`: stopped before `batch[i..]` was confirmed (the
    /// caller spills or drops those).
    fn deliver(&mut self, batch: &[Arc<Record>], from_spill: bool) -> Result<(), usize> {
        let stats = self.ctx.stats.clone();
        let each = self.sink.confirms_each_write();
        let mut st = vec![St::Pending; batch.len()];
        let mut attempt = 0u32;
        loop {
            let mut err: Option<String> = None;
            for (i, r) in batch.iter().enumerate() {
                if st[i] != St::Pending {
                    continue;
                }
                match self.sink.write(r) {
                    Ok(()) => {
                        if each {
                            st[i] = St::Done;
                            stats.sent.fetch_add(1, Relaxed);
                        } else {
                            st[i] = St::Written;
                        }
                    }
                    Err(SinkError::Reject(m)) => {
                        st[i] = St::Done;
                        stats.dropped_rejected.fetch_add(1, Relaxed);
                        self.log_failure(&format!("alert dropped, {m}"), 0, Duration::ZERO);
                    }
                    Err(SinkError::Retry(m)) => {
                        err = Some(m);
                        break;
                    }
                }
            }
            if err.is_none() {
                match self.sink.flush() {
                    Ok(()) => {
                        let n = st.iter().filter(|s| **s == St::Written).count() as u64;
                        stats.sent.fetch_add(n, Relaxed);
                        self.ctx.metrics.mark_output_ok(&stats);
                        return Ok(());
                    }
                    Err(SinkError::Reject(m)) => {
                        let n = st.iter().filter(|s| **s == St::Written).count() as u64;
                        stats.dropped_rejected.fetch_add(n, Relaxed);
                        self.log_failure(&format!("{n} alert(s) dropped, {m}"), 0, Duration::ZERO);
                        return Ok(());
                    }
                    Err(SinkError::Retry(m)) => err = Some(m),
                }
            }
            let msg = err.unwrap_or_default();
            for s in st.iter_mut() {
                if *s == St::Written {
                    *s = St::Pending;
                }
            }
            let first = st
                .iter()
                .position(|s| *s == St::Pending)
                .unwrap_or(batch.len());
            if first == batch.len() {
                return Ok(());
            }
            stats.failed.fetch_add(1, Relaxed);
            self.ctx.metrics.mark_output_failed(&stats, &msg);
            if !from_spill && self.ctx.spill.is_some() {
                // Move the batch to disk at once: retries then run from the durable spill,
                // so a crash during an outage loses nothing that reached this worker.
                self.log_failure(
                    &format!("{msg}; alerts go to the spill until it recovers"),
                    1,
                    Duration::ZERO,
                );
                for (i, r) in batch.iter().enumerate() {
                    if st[i] == St::Pending {
                        self.ctx.spill_one(r);
                    }
                }
                return Ok(());
            }
            attempt += 1;
            if self.ctx.max_attempts != 0 && attempt >= self.ctx.max_attempts {
                let n = st.iter().filter(|s| **s == St::Pending).count() as u64;
                stats.dropped_retries_exhausted.fetch_add(n, Relaxed);
                self.log_failure(
                    &format!("{n} alert(s) dropped after {attempt} attempts: {msg}"),
                    attempt,
                    Duration::ZERO,
                );
                return Ok(());
            }
            let delay = self.backoff(attempt);
            self.log_failure(&msg, attempt, delay);
            if !self.sleep_backoff(delay) {
                // Only pending records are handed back; confirmed ones are not resent.
                let pending: Vec<usize> = st
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| **s == St::Pending)
                    .map(|(i, _)| i)
                    .collect();
                if pending.len() == batch.len() - first
                    && pending.iter().enumerate().all(|(k, i)| *i == first + k)
                {
                    return Err(first);
                }
                // Non-contiguous (rejections in between): hand back individually.
                let recs: Vec<_> = pending.iter().map(|&i| batch[i].clone()).collect();
                self.leftover(&recs);
                return Ok(());
            }
        }
    }

    /// Exponential backoff with jitter: uniformly in [d/2, d] where d doubles per attempt.
    fn backoff(&mut self, attempt: u32) -> Duration {
        let init = self.ctx.retry.initial_backoff.0.as_millis() as u64;
        let max = self.ctx.retry.max_backoff.0.as_millis() as u64;
        let d = init
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(30))
            .min(max)
            .max(1);
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d);
        Duration::from_millis(d / 2 + r % (d / 2 + 1))
    }

    /// Sleeps `d` in slices; meanwhile an output with a spill moves its queue to disk so
    /// alerts survive a crash during the outage. Returns false when the worker must stop.
    fn sleep_backoff(&mut self, d: Duration) -> bool {
        let end = Instant::now() + d;
        loop {
            if self.ctx.stopping() && (self.ctx.spill.is_some() || self.ctx.past_deadline()) {
                return false;
            }
            if self.ctx.spill.is_some() {
                while let Ok(r) = self.rx.try_recv() {
                    self.ctx.spill_one(&r);
                }
                self.ctx.stats.queue_depth.store(0, Relaxed);
                if let Some(sp) = &self.ctx.spill {
                    sp.maybe_sync();
                }
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(50)));
        }
    }

    /// Logs delivery failures at most every 10 s per output (rate-limited logging).
    fn log_failure(&mut self, msg: &str, attempt: u32, delay: Duration) {
        let now = Instant::now();
        if self
            .last_log
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(10))
        {
            return;
        }
        self.last_log = Some(now);
        if attempt > 0 && !delay.is_zero() {
            eprintln!(
                "vigil: output '{}': delivery failed (attempt {attempt}): {msg}; retrying in {}ms",
                self.ctx.name,
                delay.as_millis()
            );
        } else {
            eprintln!("vigil: output '{}': {msg}", self.ctx.name);
        }
    }
}

impl Pipeline {
    /// Starts the outputs, the dispatcher and (if enabled) the metrics server. Spilled alerts
    /// from a previous run are replayed first by each output.
    pub fn start(cfg: &Config, metrics: Metrics) -> Result<Pipeline, PipelineError> {
        cfg.validate()?;
        metrics.set_health_config(&cfg.health);
        let server = if cfg.metrics.enabled {
            Some(
                MetricsServer::start(&cfg.metrics.listen, metrics.clone()).map_err(|err| {
                    PipelineError::Metrics {
                        listen: cfg.metrics.listen.clone(),
                        err,
                    }
                })?,
            )
        } else {
            None
        };
        let mut outs = Vec::new();
        for i in 0..cfg.outputs.len() {
            match start_output(cfg, i, &metrics, None) {
                Ok(h) => outs.push(h),
                Err(e) => {
                    let deadline = Instant::now();
                    for h in &outs {
                        h.stop(deadline);
                    }
                    for h in &outs {
                        h.join();
                    }
                    return Err(e);
                }
            }
        }
        Self::with_handles(cfg, metrics, outs, server)
    }

    /// Like [`Pipeline::start`] but with caller-provided sinks for some outputs (by index);
    /// used by the benchmark and tests to write "stdout" into a file or `/dev/null`.
    pub fn start_with_sinks(
        cfg: &Config,
        metrics: Metrics,
        mut sinks: BTreeMap<usize, Box<dyn Sink>>,
    ) -> Result<Pipeline, PipelineError> {
        cfg.validate()?;
        metrics.set_health_config(&cfg.health);
        let mut outs = Vec::new();
        for i in 0..cfg.outputs.len() {
            outs.push(start_output(cfg, i, &metrics, sinks.remove(&i))?);
        }
        let server = if cfg.metrics.enabled {
            Some(
                MetricsServer::start(&cfg.metrics.listen, metrics.clone()).map_err(|err| {
                    PipelineError::Metrics {
                        listen: cfg.metrics.listen.clone(),
                        err,
                    }
                })?,
            )
        } else {
            None
        };
        Self::with_handles(cfg, metrics, outs, server)
    }

    fn with_handles(
        cfg: &Config,
        metrics: Metrics,
        outs: Vec<Arc<Handle>>,
        server: Option<MetricsServer>,
    ) -> Result<Pipeline, PipelineError> {
        let shared = Arc::new(Shared {
            routing: Mutex::new(Routing {
                outputs: outs,
                min_priority: cfg.min_priority,
                noise: cfg.noise.clone(),
                generation: 0,
                hostname: cfg.hostname.clone().unwrap_or_else(system_hostname),
                drop_report_interval: cfg.pipeline.drop_report_interval.0,
            }),
        });
        let (input, rx) = bounded(cfg.pipeline.queue_capacity);
        let (stop_tx, stop_rx) = bounded(1);
        let sh = shared.clone();
        let m = metrics.clone();
        let dispatcher = std::thread::Builder::new()
            .name("vigil-dispatch".into())
            .spawn(move || Dispatcher::new(sh, m, rx, stop_rx).run())
            .map_err(PipelineError::Thread)?;
        Ok(Pipeline {
            input,
            stop_tx,
            shared,
            dispatcher: Some(dispatcher),
            metrics,
            config: cfg.clone(),
            server,
        })
    }

    /// Queues an alert. Never blocks: when the input queue is full the alert is dropped and
    /// counted (`vigil_pipeline_dropped_total`).
    pub fn send(&self, alert: Alert) {
        if self.input.try_send(alert).is_err() {
            self.metrics.pipeline_dropped();
        }
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Address the metrics server is bound to.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(|s| s.local_addr())
    }

    /// Names of the running outputs.
    pub fn output_names(&self) -> Vec<String> {
        self.shared
            .lock()
            .outputs
            .iter()
            .map(|h| h.name.clone())
            .collect()
    }

    /// Reopens output files (SIGUSR1, after an external log rotation).
    pub fn reopen_files(&self) {
        for h in &self.shared.lock().outputs {
            h.ctx.reopen.store(true, Relaxed);
        }
    }

    /// Applies a new configuration (SIGHUP). An invalid configuration changes nothing and
    /// the errors say why. Outputs whose settings did not change keep running with their
    /// queues; changed ones are stopped (their queue spilled when they have a spill, else
    /// delivered within 5 s) and restarted. Rules files are the caller's business.
    pub fn reload(&mut self, cfg: &Config) -> Result<(), PipelineError> {
        cfg.validate()?;
        // Hold the routing lock: the dispatcher pauses (alerts wait in the input queue).
        let shared = self.shared.clone();
        let mut routing = shared.lock();
        let mut keep: BTreeMap<String, Arc<Handle>> = BTreeMap::new();
        let mut old: Vec<Arc<Handle>> = Vec::new();
        for h in routing.outputs.drain(..) {
            let same = (0..cfg.outputs.len()).any(|i| {
                cfg.output_name(i) == h.name && cfg.outputs[i] == h.cfg && cfg.spill == h.spill_cfg
            });
            if same {
                keep.insert(h.name.clone(), h);
            } else {
                old.push(h);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for h in &old {
            h.stop(deadline);
        }
        for h in &old {
            h.join();
        }
        // Release their spill directories (and locks) before replacements open them.
        drop(old);
        let mut new_outs = Vec::new();
        let mut err = None;
        for i in 0..cfg.outputs.len() {
            let name = cfg.output_name(i);
            if let Some(h) = keep.remove(&name) {
                new_outs.push(h);
                continue;
            }
            match start_output(cfg, i, &self.metrics, None) {
                Ok(h) => new_outs.push(h),
                Err(e) => {
                    eprintln!("vigil: reload: {e}");
                    err.get_or_insert(e);
                }
            }
        }
        routing.outputs = new_outs;
        routing.min_priority = cfg.min_priority;
        routing.noise = cfg.noise.clone();
        routing.generation += 1;
        routing.hostname = cfg.hostname.clone().unwrap_or_else(system_hostname);
        routing.drop_report_interval = cfg.pipeline.drop_report_interval.0;
        let names: Vec<String> = routing.outputs.iter().map(|h| h.name.clone()).collect();
        drop(routing);
        self.metrics.retain_outputs(&names);
        self.metrics.set_health_config(&cfg.health);
        let listen_changed = cfg.metrics.enabled != self.config.metrics.enabled
            || cfg.metrics.listen != self.config.metrics.listen;
        if listen_changed {
            self.server = None;
            if cfg.metrics.enabled {
                match MetricsServer::start(&cfg.metrics.listen, self.metrics.clone()) {
                    Ok(s) => self.server = Some(s),
                    Err(e) => {
                        let e = PipelineError::Metrics {
                            listen: cfg.metrics.listen.clone(),
                            err: e,
                        };
                        eprintln!("vigil: reload: {e}");
                        err.get_or_insert(e);
                    }
                }
            }
        }
        self.config = cfg.clone();
        match err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Stops accepting alerts, lets the dispatcher drain its queue and the outputs deliver
    /// until `timeout`; then spills what outputs with a spill still hold and drops (counted)
    /// the rest.
    pub fn shutdown(mut self, timeout: Duration) -> ShutdownReport {
        let deadline = Instant::now() + timeout;
        let _ = self.stop_tx.send(());
        if let Some(d) = self.dispatcher.take() {
            let _ = d.join();
        }
        let outs: Vec<Arc<Handle>> = self.shared.lock().outputs.clone();
        for h in &outs {
            h.stop(deadline);
        }
        let mut rep = ShutdownReport::default();
        for h in &outs {
            let r = h.join();
            rep.spilled += r.spilled;
            rep.dropped += r.dropped;
        }
        self.server = None;
        rep
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        if self.dispatcher.is_some() {
            let _ = self.stop_tx.send(());
            if let Some(d) = self.dispatcher.take() {
                let _ = d.join();
            }
            let outs: Vec<Arc<Handle>> = self.shared.lock().outputs.clone();
            let deadline = Instant::now() + Duration::from_secs(2);
            for h in &outs {
                h.stop(deadline);
            }
            for h in &outs {
                h.join();
            }
        }
    }
}

struct Dispatcher {
    shared: Arc<Shared>,
    metrics: Metrics,
    rx: Receiver<Alert>,
    stop_rx: Receiver<()>,
    noise: Noise,
    generation: u64,
    last_tick: Instant,
    last_report: Instant,
    reported: BTreeMap<String, u64>,
    reported_pipeline: u64,
}

impl Dispatcher {
    fn new(
        shared: Arc<Shared>,
        metrics: Metrics,
        rx: Receiver<Alert>,
        stop_rx: Receiver<()>,
    ) -> Self {
        let noise = Noise::new(&shared.lock().noise);
        Dispatcher {
            shared,
            metrics,
            rx,
            stop_rx,
            noise,
            generation: 0,
            last_tick: Instant::now(),
            last_report: Instant::now(),
            reported: BTreeMap::new(),
            reported_pipeline: 0,
        }
    }

    fn run(mut self) {
        self.metrics.dispatcher_heartbeat();
        let mut batch: Vec<Alert> = Vec::with_capacity(BATCH);
        loop {
            crossbeam_channel::select! {
                recv(self.rx) -> a => match a {
                    Ok(a) => batch.push(a),
                    Err(_) => break,
                },
                recv(self.stop_rx) -> _ => break,
                default(Duration::from_millis(200)) => {}
            }
            // Take what else is queued and handle it under one routing lock.
            while batch.len() < BATCH {
                match self.rx.try_recv() {
                    Ok(a) => batch.push(a),
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                self.handle_batch(&mut batch);
            }
            if self.last_tick.elapsed() >= Duration::from_millis(200) {
                self.tick(false);
            }
        }
        // Drain what was sent before the stop, then close suppression windows.
        batch.extend(self.rx.try_iter());
        self.handle_batch(&mut batch);
        self.tick(true);
    }

    fn handle_batch(&mut self, batch: &mut Vec<Alert>) {
        let shared = self.shared.clone();
        let routing = shared.lock();
        if routing.generation != self.generation {
            self.generation = routing.generation;
            self.noise = Noise::new(&routing.noise);
        }
        let noop = self.noise.is_noop();
        let now = Instant::now();
        for a in batch.drain(..) {
            if !a.priority.at_least(routing.min_priority) {
                continue;
            }
            if a.source != "internal" {
                self.metrics.rule_matched(&a.rule, a.priority, &a.source);
            }
            if !noop && self.noise.check(&a, now) == Verdict::Suppressed {
                self.metrics.suppressed(&a.rule);
                continue;
            }
            let rec = Record::new(a);
            for h in &routing.outputs {
                h.offer(&rec);
            }
        }
    }

    fn fanout_internal(&mut self, a: Alert) {
        self.metrics.internal_alert();
        let rec = Record::new(a);
        for h in &self.shared.lock().outputs {
            h.offer(&rec);
        }
    }

    fn tick(&mut self, flush_all: bool) {
        self.last_tick = Instant::now();
        self.metrics.dispatcher_heartbeat();
        for s in self.noise.tick(Instant::now(), flush_all) {
            let rec = Record::new(s);
            for h in &self.shared.lock().outputs {
                h.offer(&rec);
            }
        }
        let (interval, host) = {
            let r = self.shared.lock();
            (r.drop_report_interval, r.hostname.clone())
        };
        if flush_all || self.last_report.elapsed() >= interval {
            self.last_report = Instant::now();
            self.report_drops(&host, interval);
        }
    }

    /// Logs and raises an internal alert when alerts were dropped since the last report.
    fn report_drops(&mut self, host: &str, interval: Duration) {
        let mut parts = Vec::new();
        let mut total = 0;
        let mut fields = BTreeMap::new();
        for o in self.metrics.outputs() {
            let now = o.dropped_total();
            let before = self.reported.insert(o.name.clone(), now).unwrap_or(0);
            if now > before {
                let d = now - before;
                total += d;
                parts.push(format!(
                    "{}={d} (queue_full={} spill_full={} rejected={} retries_exhausted={} shutdown={} total)",
                    o.name,
                    o.dropped_queue_full.load(Relaxed),
                    o.dropped_spill_full.load(Relaxed),
                    o.dropped_rejected.load(Relaxed),
                    o.dropped_retries_exhausted.load(Relaxed),
                    o.dropped_shutdown.load(Relaxed)
                ));
                fields.insert(format!("vigil.dropped.{}", o.name), FieldValue::U64(d));
            }
        }
        let p = self.metrics.pipeline_dropped_total();
        if p > self.reported_pipeline {
            let d = p - self.reported_pipeline;
            total += d;
            parts.push(format!("pipeline_input={d}"));
            fields.insert("vigil.dropped.pipeline_input".into(), FieldValue::U64(d));
        }
        self.reported_pipeline = p;
        if total == 0 {
            return;
        }
        let summary = parts.join(", ");
        eprintln!(
            "vigil: {total} alert(s) dropped in the last {}s: {summary}",
            interval.as_secs()
        );
        fields.insert("vigil.dropped".into(), FieldValue::U64(total));
        self.fanout_internal(Alert {
            time: now_ns(),
            rule: "vigil: alerts dropped".into(),
            priority: Priority::Error,
            source: "internal".into(),
            hostname: host.to_string(),
            output: format!(
                "{total} alert(s) dropped in the last {}s: {summary}",
                interval.as_secs()
            ),
            tags: vec!["vigil_internal".into()],
            output_fields: fields,
        });
    }
}
