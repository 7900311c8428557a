//! The metrics registry shared by the event loop (`vigil monitor`) and the alert pipeline, and
//! its Prometheus text rendering and health verdict.
//!
//! Counters fed per event are plain relaxed atomics in fixed arrays indexed by category, so
//! the hot path never locks or allocates; per-rule and per-output series (updated per alert,
//! orders of magnitude rarer) sit behind mutexes. Names follow Falco's where the meaning is the
//! same (`falcosecurity_scap_n_evts_total`, `falcosecurity_falco_rules_matches_total`, ...),
//! everything else is `vigil_*`.
//!
//! Rejected: the `prometheus` crate. Its registry/label machinery costs a hash lookup per
//! increment on labelled series and pulls protobuf-era dependencies; the text format is small.

use crate::config::HealthConfig;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vigil_event::{Category, Priority};

const CATEGORIES: [Category; 8] = [
    Category::File,
    Category::Net,
    Category::Ipc,
    Category::Process,
    Category::User,
    Category::System,
    Category::Internal,
    Category::Other,
];

fn cat_index(c: Category) -> usize {
    match c {
        Category::File => 0,
        Category::Net => 1,
        Category::Ipc => 2,
        Category::Process => 3,
        Category::User => 4,
        Category::System => 5,
        Category::Internal => 6,
        Category::Other => 7,
    }
}

/// Upper bounds (seconds) of the rule evaluation latency histogram.
const LATENCY_BOUNDS_NS: [u64; 12] = [
    1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 5_000_000,
    10_000_000,
];

/// Delivery statistics of one output. Shared between its worker, the dispatcher and the
/// exporter; survives reloads when the output keeps its name.
#[derive(Debug)]
pub struct OutputStats {
    pub name: String,
    pub kind: &'static str,
    pub sent: AtomicU64,
    /// Failed delivery attempts (each retry counts).
    pub failed: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub dropped_spill_full: AtomicU64,
    /// The receiver rejected the alert permanently (e.g. HTTP 400); retrying cannot help.
    pub dropped_rejected: AtomicU64,
    pub dropped_retries_exhausted: AtomicU64,
    /// Still queued when shutdown's deadline passed and the output has no spill.
    pub dropped_shutdown: AtomicU64,
    pub spilled: AtomicU64,
    pub replayed: AtomicU64,
    pub queue_depth: AtomicI64,
    pub spill_bytes: AtomicU64,
    /// ms since registry start of the first failure of the current failure streak (0: ok).
    pub failing_since_ms: AtomicU64,
    pub last_error: Mutex<String>,
}

impl OutputStats {
    fn new(name: &str, kind: &'static str) -> Self {
        OutputStats {
            name: name.to_string(),
            kind,
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            dropped_queue_full: AtomicU64::new(0),
            dropped_spill_full: AtomicU64::new(0),
            dropped_rejected: AtomicU64::new(0),
            dropped_retries_exhausted: AtomicU64::new(0),
            dropped_shutdown: AtomicU64::new(0),
            spilled: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            queue_depth: AtomicI64::new(0),
            spill_bytes: AtomicU64::new(0),
            failing_since_ms: AtomicU64::new(0),
            last_error: Mutex::new(String::new()),
        }
    }

    /// Every alert this output dropped, whatever the reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_queue_full.load(Relaxed)
            + self.dropped_spill_full.load(Relaxed)
            + self.dropped_rejected.load(Relaxed)
            + self.dropped_retries_exhausted.load(Relaxed)
            + self.dropped_shutdown.load(Relaxed)
    }
}

#[derive(Debug)]
struct Inner {
    start: Instant,
    events_received: [AtomicU64; 8],
    events_dropped: [AtomicU64; 8],
    drops_by_reason: Mutex<BTreeMap<String, u64>>,
    latency_buckets: [AtomicU64; 13],
    latency_sum_ns: AtomicU64,
    latency_count: AtomicU64,
    threads: AtomicU64,
    containers: AtomicU64,
    /// Rule-triggered responses (`vigil monitor --policy`): queued, carried out or failed,
    /// deduplicated, dropped because the response queue was full.
    responses: [AtomicU64; 4],
    /// ms since start of the event loop's last progress report + 1 (0: never reported).
    last_progress_ms: AtomicU64,
    dispatcher_progress_ms: AtomicU64,
    /// source -> rule -> count per priority. Nested so the per-alert update looks up by
    /// `&str` without allocating.
    rule_matches: Mutex<HashMap<String, HashMap<String, [u64; 8]>>>,
    suppressed: Mutex<BTreeMap<String, u64>>,
    pipeline_dropped: AtomicU64,
    internal_alerts: AtomicU64,
    outputs: Mutex<Vec<Arc<OutputStats>>>,
    health: Mutex<HealthConfig>,
}

/// The registry. Cheap to clone (an `Arc`); every clone sees the same counters.
#[derive(Clone, Debug)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Result of a health check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    pub healthy: bool,
    /// Why it is unhealthy (empty when healthy).
    pub reasons: Vec<String>,
    /// The `/healthz` JSON body.
    pub json: String,
}

impl Metrics {
    pub fn new() -> Self {
        Metrics {
            inner: Arc::new(Inner {
                start: Instant::now(),
                events_received: Default::default(),
                events_dropped: Default::default(),
                drops_by_reason: Mutex::new(BTreeMap::new()),
                latency_buckets: Default::default(),
                latency_sum_ns: AtomicU64::new(0),
                latency_count: AtomicU64::new(0),
                threads: AtomicU64::new(0),
                containers: AtomicU64::new(0),
                responses: Default::default(),
                last_progress_ms: AtomicU64::new(0),
                dispatcher_progress_ms: AtomicU64::new(0),
                rule_matches: Mutex::new(HashMap::new()),
                suppressed: Mutex::new(BTreeMap::new()),
                pipeline_dropped: AtomicU64::new(0),
                internal_alerts: AtomicU64::new(0),
                outputs: Mutex::new(Vec::new()),
                health: Mutex::new(HealthConfig::default()),
            }),
        }
    }

    fn now_ms(&self) -> u64 {
        self.inner.start.elapsed().as_millis() as u64 + 1
    }

    // ---- fed by the event loop (hot path: relaxed atomics only) ----

    /// `n` events of `cat` were received from the kernel.
    pub fn add_events_received(&self, cat: Category, n: u64) {
        self.inner.events_received[cat_index(cat)].fetch_add(n, Relaxed);
    }

    /// `n` events of `cat` were dropped (decode failure, full queue, ...).
    pub fn add_events_dropped(&self, cat: Category, n: u64) {
        self.inner.events_dropped[cat_index(cat)].fetch_add(n, Relaxed);
    }

    /// `n` events were lost before their category was known (e.g. kernel ring buffer full).
    pub fn add_events_dropped_reason(&self, reason: &str, n: u64) {
        let mut m = self
            .inner
            .drops_by_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *m.entry(reason.to_string()).or_insert(0) += n;
    }

    /// One rule-evaluation pass over an event took `d`.
    pub fn observe_rule_eval(&self, d: Duration) {
        let ns = d.as_nanos().min(u64::MAX as u128) as u64;
        let i = LATENCY_BOUNDS_NS
            .iter()
            .position(|&b| ns <= b)
            .unwrap_or(LATENCY_BOUNDS_NS.len());
        self.inner.latency_buckets[i].fetch_add(1, Relaxed);
        self.inner.latency_sum_ns.fetch_add(ns, Relaxed);
        self.inner.latency_count.fetch_add(1, Relaxed);
    }

    /// Sizes of the process (thread) table and the container cache.
    pub fn set_table_sizes(&self, threads: u64, containers: u64) {
        self.inner.threads.store(threads, Relaxed);
        self.inner.containers.store(containers, Relaxed);
    }

    /// Totals of rule-triggered responses since the start: queued, completed (carried out or
    /// failed), deduplicated, and dropped because the response queue was full.
    pub fn set_responses(&self, queued: u64, completed: u64, deduplicated: u64, dropped: u64) {
        for (a, v) in self
            .inner
            .responses
            .iter()
            .zip([queued, completed, deduplicated, dropped])
        {
            a.store(v, Relaxed);
        }
    }

    /// The event loop is alive; call at least every few seconds (also when idle).
    pub fn heartbeat(&self) {
        self.inner.last_progress_ms.store(self.now_ms(), Relaxed);
    }

    // ---- fed by the pipeline ----

    pub(crate) fn dispatcher_heartbeat(&self) {
        self.inner
            .dispatcher_progress_ms
            .store(self.now_ms(), Relaxed);
    }

    pub(crate) fn rule_matched(&self, rule: &str, prio: Priority, source: &str) {
        let mut m = self
            .inner
            .rule_matches
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let by_rule = match m.get_mut(source) {
            Some(r) => r,
            None => m.entry(source.to_string()).or_default(),
        };
        match by_rule.get_mut(rule) {
            Some(c) => c[prio as usize] += 1,
            None => {
                let mut c = [0u64; 8];
                c[prio as usize] = 1;
                by_rule.insert(rule.to_string(), c);
            }
        }
    }

    pub(crate) fn suppressed(&self, rule: &str) {
        let mut m = self
            .inner
            .suppressed
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *m.entry(rule.to_string()).or_insert(0) += 1;
    }

    pub(crate) fn pipeline_dropped(&self) {
        self.inner.pipeline_dropped.fetch_add(1, Relaxed);
    }

    pub(crate) fn internal_alert(&self) {
        self.inner.internal_alerts.fetch_add(1, Relaxed);
    }

    /// Alerts dropped by `Pipeline::send` because the dispatcher queue was full.
    pub fn pipeline_dropped_total(&self) -> u64 {
        self.inner.pipeline_dropped.load(Relaxed)
    }

    /// The stats of output `name`, created on first use and kept across reloads.
    pub fn output(&self, name: &str, kind: &'static str) -> Arc<OutputStats> {
        let mut outs = self.inner.outputs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(o) = outs.iter().find(|o| o.name == name && o.kind == kind) {
            return o.clone();
        }
        let o = Arc::new(OutputStats::new(name, kind));
        outs.push(o.clone());
        o
    }

    /// Forget outputs not in `keep` (after a reload removed them).
    pub(crate) fn retain_outputs(&self, keep: &[String]) {
        let mut outs = self.inner.outputs.lock().unwrap_or_else(|e| e.into_inner());
        outs.retain(|o| keep.contains(&o.name));
    }

    pub(crate) fn outputs(&self) -> Vec<Arc<OutputStats>> {
        self.inner
            .outputs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn set_health_config(&self, h: &HealthConfig) {
        *self.inner.health.lock().unwrap_or_else(|e| e.into_inner()) = h.clone();
    }

    pub(crate) fn mark_output_ok(&self, o: &OutputStats) {
        o.failing_since_ms.store(0, Relaxed);
    }

    pub(crate) fn mark_output_failed(&self, o: &OutputStats, err: &str) {
        let _ = o
            .failing_since_ms
            .compare_exchange(0, self.now_ms(), Relaxed, Relaxed);
        *o.last_error.lock().unwrap_or_else(|e| e.into_inner()) = err.to_string();
    }

    /// True when no output has alerts queued in memory or on disk.
    pub fn outputs_idle(&self) -> bool {
        self.outputs()
            .iter()
            .all(|o| o.queue_depth.load(Relaxed) <= 0 && o.spill_bytes.load(Relaxed) == 0)
    }

    /// Counter of alerts per rule (what `falcosecurity_falco_rules_matches_total` exports).
    pub fn rule_matches(&self, rule: &str) -> u64 {
        let m = self
            .inner
            .rule_matches
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        m.values()
            .filter_map(|r| r.get(rule))
            .map(|c| c.iter().sum::<u64>())
            .sum()
    }

    /// The health verdict and the `/healthz` body.
    pub fn health(&self) -> Health {
        let cfg = self
            .inner
            .health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let now = self.now_ms();
        let mut reasons = Vec::new();
        let mut outs_json = Vec::new();
        for o in self.outputs() {
            let since = o.failing_since_ms.load(Relaxed);
            let failing_for = if since == 0 {
                0
            } else {
                now.saturating_sub(since)
            };
            let unhealthy =
                since != 0 && failing_for >= cfg.output_failing_after.0.as_millis() as u64;
            let err = o
                .last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            if unhealthy {
                reasons.push(format!(
                    "output '{}' failing for {}s: {err}",
                    o.name,
                    failing_for / 1000
                ));
            }
            outs_json.push(serde_json::json!({
                "name": o.name,
                "kind": o.kind,
                "healthy": !unhealthy,
                "failing_for_seconds": failing_for as f64 / 1000.0,
                "last_error": if since == 0 { serde_json::Value::Null } else { serde_json::Value::String(err) },
                "queue_depth": o.queue_depth.load(Relaxed).max(0),
                "spill_bytes": o.spill_bytes.load(Relaxed),
                "sent": o.sent.load(Relaxed),
                "dropped": o.dropped_total(),
            }));
        }
        let stall_ms = cfg.stall_after.0.as_millis() as u64;
        let mut stall = |what: &str, last: u64| -> serde_json::Value {
            if last == 0 {
                return serde_json::json!({"reporting": false, "stalled": false});
            }
            let ago = now.saturating_sub(last);
            let stalled = ago >= stall_ms;
            if stalled {
                reasons.push(format!("{what} stalled: no progress for {}s", ago / 1000));
            }
            serde_json::json!({"reporting": true, "stalled": stalled, "seconds_since_progress": ago as f64 / 1000.0})
        };
        let ev = stall("event loop", self.inner.last_progress_ms.load(Relaxed));
        let disp = stall(
            "alert dispatcher",
            self.inner.dispatcher_progress_ms.load(Relaxed),
        );
        let healthy = reasons.is_empty();
        let json = serde_json::json!({
            "status": if healthy { "ok" } else { "unhealthy" },
            "reasons": reasons,
            "uptime_seconds": self.inner.start.elapsed().as_secs_f64(),
            "event_loop": ev,
            "dispatcher": disp,
            "outputs": outs_json,
        })
        .to_string();
        Health {
            healthy,
            reasons,
            json,
        }
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render_prometheus(&self) -> String {
        let mut s = String::with_capacity(4096);
        let i = &self.inner;
        let head = |s: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        let total_rx: u64 = i.events_received.iter().map(|a| a.load(Relaxed)).sum();
        let total_drop: u64 = i
            .events_dropped
            .iter()
            .map(|a| a.load(Relaxed))
            .sum::<u64>()
            + i.drops_by_reason
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .values()
                .sum::<u64>();
        head(
            &mut s,
            "falcosecurity_scap_n_evts_total",
            "counter",
            "Kernel events received.",
        );
        let _ = writeln!(s, "falcosecurity_scap_n_evts_total {total_rx}");
        head(
            &mut s,
            "falcosecurity_scap_n_drops_total",
            "counter",
            "Kernel events dropped, all causes.",
        );
        let _ = writeln!(s, "falcosecurity_scap_n_drops_total {total_drop}");
        head(
            &mut s,
            "vigil_events_received_total",
            "counter",
            "Events received, by category.",
        );
        for (k, c) in CATEGORIES.iter().enumerate() {
            let _ = writeln!(
                s,
                "vigil_events_received_total{{category=\"{}\"}} {}",
                c.as_str(),
                i.events_received[k].load(Relaxed)
            );
        }
        head(
            &mut s,
            "vigil_events_dropped_total",
            "counter",
            "Events dropped, by category or by reason when the category is unknown.",
        );
        for (k, c) in CATEGORIES.iter().enumerate() {
            let _ = writeln!(
                s,
                "vigil_events_dropped_total{{category=\"{}\"}} {}",
                c.as_str(),
                i.events_dropped[k].load(Relaxed)
            );
        }
        for (r, v) in i
            .drops_by_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(s, "vigil_events_dropped_total{{reason=\"{}\"}} {v}", esc(r));
        }
        head(
            &mut s,
            "falcosecurity_falco_rules_matches_total",
            "counter",
            "Alerts per rule (priority as Falco's number).",
        );
        let mut rows: Vec<(String, u8, String, u64)> = Vec::new();
        for (src, by_rule) in i
            .rule_matches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            for (rule, counts) in by_rule {
                for (p, v) in counts.iter().enumerate() {
                    if *v > 0 {
                        rows.push((rule.clone(), p as u8, src.clone(), *v));
                    }
                }
            }
        }
        rows.sort();
        for (rule, prio, src, v) in rows {
            let _ = writeln!(
                s,
                "falcosecurity_falco_rules_matches_total{{priority=\"{prio}\",rule_name=\"{}\",source=\"{}\"}} {v}",
                esc(&rule),
                esc(&src)
            );
        }
        head(
            &mut s,
            "vigil_alerts_suppressed_total",
            "counter",
            "Alerts suppressed by dedup or rate limits, per rule.",
        );
        for (rule, v) in i
            .suppressed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                s,
                "vigil_alerts_suppressed_total{{rule_name=\"{}\"}} {v}",
                esc(rule)
            );
        }
        head(
            &mut s,
            "vigil_pipeline_dropped_total",
            "counter",
            "Alerts dropped because the dispatcher queue was full.",
        );
        let _ = writeln!(
            s,
            "vigil_pipeline_dropped_total {}",
            i.pipeline_dropped.load(Relaxed)
        );
        head(
            &mut s,
            "vigil_internal_alerts_total",
            "counter",
            "Alerts raised by vigil about itself.",
        );
        let _ = writeln!(
            s,
            "vigil_internal_alerts_total {}",
            i.internal_alerts.load(Relaxed)
        );

        let outs = self.outputs();
        let total_out_drops: u64 =
            outs.iter().map(|o| o.dropped_total()).sum::<u64>() + i.pipeline_dropped.load(Relaxed);
        head(
            &mut s,
            "falcosecurity_falco_outputs_queue_num_drops_total",
            "counter",
            "Alerts dropped before delivery, all outputs.",
        );
        let _ = writeln!(
            s,
            "falcosecurity_falco_outputs_queue_num_drops_total {total_out_drops}"
        );
        type Get = fn(&OutputStats) -> i64;
        let series: [(&str, &str, &str, Get); 6] = [
            (
                "vigil_output_sent_total",
                "counter",
                "Alerts delivered.",
                |o| o.sent.load(Relaxed) as i64,
            ),
            (
                "vigil_output_failed_total",
                "counter",
                "Failed delivery attempts.",
                |o| o.failed.load(Relaxed) as i64,
            ),
            (
                "vigil_output_spilled_total",
                "counter",
                "Alerts written to the spill.",
                |o| o.spilled.load(Relaxed) as i64,
            ),
            (
                "vigil_output_replayed_total",
                "counter",
                "Alerts read back from the spill.",
                |o| o.replayed.load(Relaxed) as i64,
            ),
            (
                "vigil_output_queue_depth",
                "gauge",
                "Alerts waiting in memory.",
                |o| o.queue_depth.load(Relaxed).max(0),
            ),
            (
                "vigil_output_spill_bytes",
                "gauge",
                "Bytes waiting in the spill.",
                |o| o.spill_bytes.load(Relaxed) as i64,
            ),
        ];
        for (name, kind, help, get) in series {
            head(&mut s, name, kind, help);
            for o in &outs {
                let _ = writeln!(
                    s,
                    "{name}{{output=\"{}\",type=\"{}\"}} {}",
                    esc(&o.name),
                    o.kind,
                    get(o)
                );
            }
        }
        head(
            &mut s,
            "vigil_output_dropped_total",
            "counter",
            "Alerts an output finally dropped, by reason.",
        );
        for o in &outs {
            for (reason, v) in [
                ("queue_full", &o.dropped_queue_full),
                ("spill_full", &o.dropped_spill_full),
                ("rejected", &o.dropped_rejected),
                ("retries_exhausted", &o.dropped_retries_exhausted),
                ("shutdown", &o.dropped_shutdown),
            ] {
                let _ = writeln!(s, "vigil_output_dropped_total{{output=\"{}\",type=\"{}\",reason=\"{reason}\"}} {}", esc(&o.name), o.kind, v.load(Relaxed));
            }
        }
        head(
            &mut s,
            "vigil_output_healthy",
            "gauge",
            "1 if the output is not failing beyond health.output_failing_after.",
        );
        let h = self.health();
        for o in &outs {
            let bad = h
                .reasons
                .iter()
                .any(|r| r.starts_with(&format!("output '{}'", o.name)));
            let _ = writeln!(
                s,
                "vigil_output_healthy{{output=\"{}\",type=\"{}\"}} {}",
                esc(&o.name),
                o.kind,
                u8::from(!bad)
            );
        }

        head(
            &mut s,
            "vigil_rule_eval_latency_seconds",
            "histogram",
            "Time to evaluate the rules for one event.",
        );
        let mut cum = 0u64;
        for (k, b) in LATENCY_BOUNDS_NS.iter().enumerate() {
            cum += i.latency_buckets[k].load(Relaxed);
            let _ = writeln!(
                s,
                "vigil_rule_eval_latency_seconds_bucket{{le=\"{}\"}} {cum}",
                *b as f64 / 1e9
            );
        }
        cum += i.latency_buckets[LATENCY_BOUNDS_NS.len()].load(Relaxed);
        let _ = writeln!(
            s,
            "vigil_rule_eval_latency_seconds_bucket{{le=\"+Inf\"}} {cum}"
        );
        let _ = writeln!(
            s,
            "vigil_rule_eval_latency_seconds_sum {}",
            i.latency_sum_ns.load(Relaxed) as f64 / 1e9
        );
        let _ = writeln!(
            s,
            "vigil_rule_eval_latency_seconds_count {}",
            i.latency_count.load(Relaxed)
        );

        head(
            &mut s,
            "falcosecurity_scap_n_threads_total",
            "gauge",
            "Entries in the process (thread) table.",
        );
        let _ = writeln!(
            s,
            "falcosecurity_scap_n_threads_total {}",
            i.threads.load(Relaxed)
        );
        head(
            &mut s,
            "falcosecurity_scap_n_containers_total",
            "gauge",
            "Entries in the container cache.",
        );
        let _ = writeln!(
            s,
            "falcosecurity_scap_n_containers_total {}",
            i.containers.load(Relaxed)
        );
        head(
            &mut s,
            "vigil_responses_total",
            "counter",
            "Rule-triggered responses by outcome: queued, completed (carried out or failed), deduplicated, dropped (response queue full).",
        );
        for (outcome, a) in ["queued", "completed", "deduplicated", "dropped"]
            .iter()
            .zip(&i.responses)
        {
            let _ = writeln!(
                s,
                "vigil_responses_total{{outcome=\"{outcome}\"}} {}",
                a.load(Relaxed)
            );
        }
        head(
            &mut s,
            "falcosecurity_falco_duration_seconds_total",
            "counter",
            "Seconds since the agent started.",
        );
        let _ = writeln!(
            s,
            "falcosecurity_falco_duration_seconds_total {}",
            i.start.elapsed().as_secs()
        );
        if let Some((cpu, rss)) = process_usage() {
            head(
                &mut s,
                "process_cpu_seconds_total",
                "counter",
                "User and system CPU time of the agent.",
            );
            let _ = writeln!(s, "process_cpu_seconds_total {cpu}");
            head(
                &mut s,
                "falcosecurity_falco_memory_rss_bytes",
                "gauge",
                "Resident set size of the agent.",
            );
            let _ = writeln!(s, "falcosecurity_falco_memory_rss_bytes {rss}");
        }
        head(
            &mut s,
            "vigil_healthy",
            "gauge",
            "1 when /healthz reports ok.",
        );
        let _ = writeln!(s, "vigil_healthy {}", u8::from(h.healthy));
        s
    }
}

/// Escapes a Prometheus label value.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// (CPU seconds, RSS bytes) of this process from `/proc/self`.
fn process_usage() -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions; it only reads a system constant.
    let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let tck = if tck > 0 { tck as f64 } else { 100.0 };
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: as above.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = if page > 0 { page as u64 } else { 4096 };
    Some(((utime + stime) as f64 / tck, pages * page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_falco_names_and_histogram() {
        let m = Metrics::new();
        m.add_events_received(Category::File, 5);
        m.add_events_dropped(Category::Net, 2);
        m.add_events_dropped_reason("ringbuf_full", 3);
        m.observe_rule_eval(Duration::from_nanos(700));
        m.observe_rule_eval(Duration::from_micros(30));
        m.rule_matched("Shell in container", Priority::Warning, "syscall");
        m.set_table_sizes(120, 3);
        m.set_responses(4, 3, 9, 2);
        let o = m.output("hook", "webhook");
        o.sent.fetch_add(7, Relaxed);
        o.dropped_queue_full.fetch_add(1, Relaxed);
        let t = m.render_prometheus();
        for want in [
            "falcosecurity_scap_n_evts_total 5",
            "falcosecurity_scap_n_drops_total 5",
            "vigil_events_received_total{category=\"file\"} 5",
            "vigil_events_dropped_total{reason=\"ringbuf_full\"} 3",
            "falcosecurity_falco_rules_matches_total{priority=\"4\",rule_name=\"Shell in container\",source=\"syscall\"} 1",
            "vigil_rule_eval_latency_seconds_bucket{le=\"0.000001\"} 1",
            "vigil_rule_eval_latency_seconds_bucket{le=\"0.00005\"} 2",
            "vigil_rule_eval_latency_seconds_count 2",
            "vigil_output_sent_total{output=\"hook\",type=\"webhook\"} 7",
            "vigil_output_dropped_total{output=\"hook\",type=\"webhook\",reason=\"queue_full\"} 1",
            "falcosecurity_falco_outputs_queue_num_drops_total 1",
            "falcosecurity_scap_n_threads_total 120",
            "vigil_responses_total{outcome=\"queued\"} 4",
            "vigil_responses_total{outcome=\"completed\"} 3",
            "vigil_responses_total{outcome=\"deduplicated\"} 9",
            "vigil_responses_total{outcome=\"dropped\"} 2",
            "falcosecurity_falco_memory_rss_bytes ",
            "process_cpu_seconds_total ",
        ] {
            assert!(t.contains(want), "missing {want:?} in\n{t}");
        }
    }

    #[test]
    fn health_reports_failing_output_and_stall() {
        let m = Metrics::new();
        m.set_health_config(&HealthConfig {
            output_failing_after: crate::units::Dur::millis(1),
            stall_after: crate::units::Dur::millis(1),
        });
        assert!(m.health().healthy, "nothing reported yet: healthy");
        let o = m.output("hook", "webhook");
        m.mark_output_failed(&o, "connection refused");
        m.heartbeat();
        std::thread::sleep(Duration::from_millis(5));
        let h = m.health();
        assert!(!h.healthy);
        assert!(
            h.reasons
                .iter()
                .any(|r| r.contains("output 'hook'") && r.contains("connection refused")),
            "{:?}",
            h.reasons
        );
        assert!(
            h.reasons.iter().any(|r| r.contains("event loop stalled")),
            "{:?}",
            h.reasons
        );
        m.mark_output_ok(&o);
        m.heartbeat();
        let v: serde_json::Value = serde_json::from_str(&m.health().json).unwrap();
        assert_eq!(v["outputs"][0]["healthy"], true);
    }
}
