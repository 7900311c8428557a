//! `vigil monitor`: the main job. Opens the eBPF sensor, keeps the process and container
//! state, evaluates the rules on every event and hands alerts to the delivery pipeline.
//!
//! One thread runs the event loop (sensor poll → state → rules → pipeline) so evaluation
//! needs no locks; delivery, container lookups and the metrics server run on their own
//! threads and never block it. Drops are never silent: kernel ring-buffer losses and decode
//! failures are counted per category, printed in the periodic stats line and raised as a
//! `vigil internal: event drop` alert.
//!
//! With `--policy`, the files' enforcement policies are applied to containers as they start
//! and their rule-triggered `responses` run for the monitor's own alerts (see [`Responder`]):
//! selection and dedupe on the event loop (microseconds), the actions on a worker thread
//! behind a bounded queue, each outcome back through the pipeline as a `vigil response`
//! alert. We rejected running the actions on the event loop: a kill waits for the death and
//! `podman pause` for the runtime, hundreds of milliseconds without detection.

use super::live::{self, Signals};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vigil_event::{Alert, Category, FieldValue, Priority, StateView};
use vigil_output::{CliOverrides, Config, Metrics, Pipeline};
use vigil_response::runner::{self, Check, Completed, Dedupe, DedupeKey, Request, Runner};
use vigil_response::{ActionReport, ResponseRule, RuleAction};
use vigil_rules::{LoadOptions, RuleMatching, Ruleset};
use vigil_sensor::{SensorStats, CATEGORIES};

/// Arguments of `vigil monitor`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Rules file to load (repeatable, in order). Default: the embedded default rules.
    #[arg(short = 'r', long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Load the embedded default rules before the `-r` files (for tuning files).
    #[arg(long)]
    pub with_defaults: bool,
    /// Print alerts as Falco-compatible JSON, one per line.
    #[arg(long)]
    pub json: bool,
    /// Configuration file (vigil.yaml): outputs, noise control, metrics.
    #[arg(short = 'c', long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Seconds between stats lines on stderr (0: none).
    #[arg(long, default_value_t = 60)]
    pub stats_interval: u64,
    /// Drop alerts less severe than this (emergency ... debug).
    #[arg(long, value_name = "PRIORITY")]
    pub min_priority: Option<String>,
    /// Report all matching rules for an event instead of the first one.
    #[arg(long)]
    pub all_matches: bool,
    /// Size of the kernel ring buffer in MiB (power of two).
    #[arg(long, default_value_t = 16)]
    pub ring_buffer_mb: u32,
    /// Walk the path of every prefiltered open instead of reusing the verdict of a file
    /// opened before (the path cache; see ARCHITECTURE.md).
    #[arg(long)]
    pub no_path_cache: bool,
    /// Longest wait (ms) for a new container's metadata before its first alert.
    #[arg(long, default_value_t = 300)]
    pub container_wait_ms: u64,
    /// Address of the /metrics and /healthz server (overrides the config file).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_listen: Option<String>,
    /// Do not start the metrics server.
    #[arg(long)]
    pub no_metrics: bool,
    /// Enforcement policy file (repeatable): applied to each container as it starts.
    #[arg(long = "policy", value_name = "FILE")]
    pub policies: Vec<PathBuf>,
    /// Rule-triggered responses waiting for the response worker at most; more are dropped,
    /// counted and reported (`vigil internal: response dropped`).
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub response_queue: usize,
    /// Seconds during which the same response to the same target (container, or process for
    /// kill_process) runs once; later ones are reported as skipped (0: no dedupe).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub response_dedupe: f64,
    /// Kernel BTF file for CO-RE relocations (default /sys/kernel/btf/vmlinux).
    #[arg(long, value_name = "FILE")]
    pub btf: Option<PathBuf>,
    /// Stop after this many seconds (benchmarks, smoke tests).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
}

/// How often processes with a lost exit event are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Builds the effective configuration from the file (if any) and the flags, with one
/// validation path for both.
pub fn effective_config(args: &Args) -> anyhow::Result<Config> {
    let base = match &args.config {
        Some(p) => Config::from_yaml_file(p).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => Config::default(),
    };
    let cli = CliOverrides {
        rules_files: args.rules.clone(),
        min_priority: args.min_priority.clone(),
        stdout_format: args.json.then(|| "json".to_string()),
        metrics_listen: args.metrics_listen.clone(),
        no_metrics: args.no_metrics,
        spill_dir: None,
    };
    base.merge_cli(&cli).map_err(|e| anyhow::anyhow!("{e}"))
}

fn load_options(cfg: &Config, all_matches: bool) -> LoadOptions {
    LoadOptions {
        min_priority: Some(cfg.min_priority),
        rule_matching: if all_matches {
            RuleMatching::All
        } else {
            RuleMatching::First
        },
        ..LoadOptions::default()
    }
}

/// An internal alert (drops, reload failures), shaped like a rule alert.
fn internal_alert(
    rule: &str,
    priority: Priority,
    hostname: &str,
    output: String,
    fields: BTreeMap<String, FieldValue>,
) -> Alert {
    Alert {
        time: now_ns(),
        rule: rule.to_string(),
        priority,
        source: "internal".into(),
        hostname: hostname.to_string(),
        output,
        tags: vec!["vigil".into(), "internal".into()],
        output_fields: fields,
    }
}

/// Counters the loop keeps between stats reports.
#[derive(Default)]
struct Totals {
    alerts: u64,
    evaluated: u64,
    reported: SensorStats,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = effective_config(&args)?;
    let with_defaults = args.with_defaults;
    let loaded = live::load_rules(
        &cfg.rules_files,
        with_defaults,
        &load_options(&cfg, args.all_matches),
    )?;
    let mut ruleset: Ruleset = loaded.ruleset;
    let counts = ruleset.counts();

    let signals = Signals::install()?;
    let mut sensor = live::open_sensor(live::SensorOptions {
        ring_mb: args.ring_buffer_mb,
        btf: args.btf.clone(),
        latency: ruleset.needs_latency(),
        path_cache: !args.no_path_cache,
    })?;
    live::program_sensor(&mut sensor, &ruleset)?;
    let mut state = live::open_state(Duration::from_millis(args.container_wait_ms))?;
    let mut enforcer = None;
    let mut responder = None;
    if !args.policies.is_empty() {
        let files = vigil_response::load_files(&args.policies)
            .map_err(|d| anyhow::anyhow!("policies failed to load:\n{d}"))?;
        let enf = vigil_response::Enforcer::open(&files).context("cannot start enforcement")?;
        let r = Responder::start(&args, &enf, responses_of(&files), state.hostname())
            .context("cannot start the response worker")?;
        eprintln!(
            "vigil: {} policies, {} responses loaded from {} file(s)",
            enf.policy_names().len(),
            r.rules.len(),
            files.len()
        );
        enforcer = Some(enf);
        responder = Some(r);
    }
    // Containers seen (by exec) whose policies are not applied yet: id -> attempts so far.
    let mut pending_policy: BTreeMap<String, u64> = BTreeMap::new();
    let mut policy_done: std::collections::HashSet<String> = std::collections::HashSet::new();
    for p in state.table().iter().filter(|p| p.in_container()) {
        pending_policy.entry(p.container_id.clone()).or_insert(0);
    }
    let metrics = Metrics::new();
    let mut pipeline = Pipeline::start(&cfg, metrics.clone()).context("cannot start outputs")?;
    let hostname = state.hostname().to_string();

    eprintln!(
        "vigil: {} rules enabled of {} ({} macros, {} lists); {} syscalls reported by the kernel, {} with open prefilters; {} processes known",
        counts.enabled_rules,
        counts.rules,
        counts.macros,
        counts.lists,
        ruleset.event_types().iter().filter(|t| t.is_syscall()).count(),
        sensor.filtered_syscalls().len(),
        state.table().len()
    );
    if let Some(addr) = pipeline.metrics_addr() {
        eprintln!("vigil: metrics and health on http://{addr}/metrics");
    }
    if let Some(why) = sensor.path_cache_stats().off {
        eprintln!("vigil: path cache off: {why} (every prefiltered open walks its path)");
    }
    let reads = sensor.kernel_reads();
    if reads != vigil_sensor::sensor::KernelReads::Kfunc {
        eprintln!("vigil: kernel structures are read with {reads}");
    }
    eprintln!("vigil: monitoring (SIGINT/SIGTERM to stop, SIGHUP to reload)");

    let started = Instant::now();
    let deadline = args.duration.map(|s| started + Duration::from_secs(s));
    let stats_every = (args.stats_interval > 0).then(|| Duration::from_secs(args.stats_interval));
    let mut next_stats = stats_every.map(|d| started + d);
    let mut totals = Totals::default();
    let mut scratch = ruleset.new_scratch();
    let mut matched = Vec::with_capacity(8);
    let mut eval_sample: u32 = 0;
    let mut last_sweep = Instant::now();

    loop {
        if signals.stopping() || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let rs = &ruleset;
        let pl = &pipeline;
        let m = &metrics;
        let mut alerts = 0u64;
        let mut evaluated = 0u64;
        let enforcing = enforcer.is_some();
        let pending = &mut pending_policy;
        let done = &policy_done;
        let resp = &mut responder;
        let polled = sensor.poll(Duration::from_millis(100), |ev| {
            let change = state.before(ev);
            if enforcing {
                // The workload's own exec (not runc's set-up children, which may not have
                // joined every cgroup yet) tells where the container's processes live.
                if let vigil_state::Change::Exec(pid) = change {
                    if let Some(p) = state.table().get(pid).filter(|p| p.in_container()) {
                        if !done.contains(&p.container_id) {
                            pending.entry(p.container_id.clone()).or_insert(0);
                        }
                    }
                }
            }
            matched.clear();
            eval_sample = eval_sample.wrapping_add(1);
            if eval_sample.is_multiple_of(256) {
                let t0 = Instant::now();
                rs.evaluate(ev, &state, &mut scratch, &mut matched);
                m.observe_rule_eval(t0.elapsed());
            } else {
                rs.evaluate(ev, &state, &mut scratch, &mut matched);
            }
            evaluated += 1;
            for &id in matched.iter() {
                // A new container's metadata may still be in flight: wait (bounded) so the
                // first alert carries its name and image.
                let _ = state.wait_container_of(ev.pid);
                let mut alert = rs.alert(id, ev, &state, &mut scratch);
                super::context::append_context(&mut alert, ev.pid, &state);
                // The response is queued before the alert is: the action starts sooner.
                if let Some(r) = resp.as_mut() {
                    r.on_alert(&alert, ev.pid, &state, &mut |a| pl.send(a));
                }
                pl.send(alert);
                alerts += 1;
            }
            state.after(ev);
        });
        if let Err(e) = polled {
            eprintln!("vigil: error: reading events failed: {e}");
            break;
        }
        totals.alerts += alerts;
        totals.evaluated += evaluated;
        state.poll();
        metrics.heartbeat();
        if let Some(enf) = enforcer.as_mut() {
            apply_policies(enf, &mut state, &mut pending_policy, &mut policy_done);
            enf.poll(|r| pipeline.send(action_alert(&r, &hostname)));
        }
        if let Some(r) = responder.as_mut() {
            r.tick(&mut |a| pipeline.send(a));
            metrics.set_responses(r.queued, r.completed, r.deduplicated, r.runner.dropped());
        }
        // Processes whose exit event was lost (ring-buffer drops) would otherwise linger until
        // evicted: check a bounded number of them against /proc now and then.
        if last_sweep.elapsed() >= SWEEP_EVERY {
            state.sweep(4096);
            last_sweep = Instant::now();
        }

        if signals.take_reopen() {
            pipeline.reopen_files();
        }
        if signals.take_reload() {
            match reload(&args, with_defaults) {
                Ok((new_cfg, new_rules, policy_files)) => {
                    // Policies and responses: all or nothing, like the rules (an invalid
                    // file already failed `reload`; a kernel refusal keeps both old sets).
                    if let (Some(enf), Some(files)) = (enforcer.as_mut(), policy_files) {
                        match enf.reload(&files) {
                            Ok(()) => {
                                let rules = responses_of(&files);
                                eprintln!(
                                    "vigil: reloaded: {} policies, {} responses",
                                    enf.policy_names().len(),
                                    rules.len()
                                );
                                if let Some(r) = responder.as_mut() {
                                    r.rules = rules;
                                }
                                // Containers are matched against the new scopes again.
                                policy_done.clear();
                                for p in state.table().iter().filter(|p| p.in_container()) {
                                    pending_policy.entry(p.container_id.clone()).or_insert(0);
                                }
                            }
                            Err(e) => {
                                eprintln!("vigil: reload: policies not reloaded, keeping the old policies and responses: {e}");
                                pipeline.send(internal_alert(
                                    "vigil internal: reload failed",
                                    Priority::Error,
                                    &hostname,
                                    format!("Policy reload failed, old policies and responses kept: {e}"),
                                    BTreeMap::new(),
                                ));
                            }
                        }
                    }
                    if let Err(e) = live::program_sensor(&mut sensor, &new_rules) {
                        eprintln!(
                            "vigil: reload: kernel filter update failed, keeping old rules: {e}"
                        );
                    } else if let Err(e) = pipeline.reload(&new_cfg) {
                        eprintln!("vigil: reload: outputs not reloaded, keeping old outputs: {e}");
                        ruleset = new_rules;
                        scratch = ruleset.new_scratch();
                    } else {
                        ruleset = new_rules;
                        scratch = ruleset.new_scratch();
                        let c = ruleset.counts();
                        eprintln!("vigil: reloaded: {} rules enabled", c.enabled_rules);
                    }
                }
                Err(e) => {
                    eprintln!("vigil: reload failed, keeping the running configuration: {e:#}");
                    pipeline.send(internal_alert(
                        "vigil internal: reload failed",
                        Priority::Error,
                        &hostname,
                        format!("Configuration reload failed, old configuration kept: {e:#}"),
                        BTreeMap::new(),
                    ));
                }
            }
        }
        if let Some(at) = next_stats {
            if Instant::now() >= at {
                report(
                    &sensor.stats(),
                    &mut totals,
                    &state,
                    &metrics,
                    &pipeline,
                    &hostname,
                    started,
                );
                next_stats = stats_every.map(|d| at + d);
            }
        }
    }

    let stats = sensor.stats();
    report(
        &stats,
        &mut totals,
        &state,
        &metrics,
        &pipeline,
        &hostname,
        started,
    );
    let k = stats.kernel;
    eprintln!(
        "vigil: final: {} events ({} syscall, {} lifecycle, {} exit), {} evaluated, {} alerts, dropped {} (kernel {}, decode {}), {:.1} s; {} open events stopped by prefilters; path cache {}",
        stats.events(),
        stats.syscall_events,
        stats.lifecycle_events,
        stats.exit_events,
        totals.evaluated,
        totals.alerts,
        stats.lost(),
        k.lost(),
        stats.decode_errors,
        started.elapsed().as_secs_f64(),
        k.filtered,
        path_cache_summary(&stats.path_cache)
    );
    drop(sensor);
    if let Some(r) = responder {
        r.shutdown(&mut |a| pipeline.send(a), Duration::from_secs(5));
    }
    if let Some(enf) = enforcer.as_mut() {
        enf.poll(|r| pipeline.send(action_alert(&r, &hostname)));
    }
    let rep = pipeline.shutdown(Duration::from_secs(5));
    eprintln!("vigil: outputs: {rep:?}");
    Ok(ExitCode::SUCCESS)
}

/// Applies the enforcement policies to containers whose metadata is known. A container whose
/// metadata is still being read waits for the next round; one that is gone is dropped.
fn apply_policies(
    enf: &mut vigil_response::Enforcer,
    state: &mut vigil_state::LiveState,
    pending: &mut BTreeMap<String, u64>,
    done: &mut std::collections::HashSet<String>,
) {
    let ids: Vec<(String, u64)> = pending.iter().map(|(k, v)| (k.clone(), *v)).collect();
    for (id, attempts) in ids {
        // A lookup result (partial or complete) or a failed lookup settles the metadata; a
        // name alone may be the runtime's announcement (vigil_state::hints) ahead of the
        // image the policy scopes match on.
        if !state.containers().settled(&id) {
            continue;
        }
        let Some(c) = state.container(&id).cloned() else {
            continue;
        };
        // The sensor's cgroup id may be the v1 memory controller's while the enforcer keys by
        // the v2 cgroup: resolve through a live process of the container. A process that just
        // exited fails the lookup; the next round (every ~100 ms) tries again, 50 times.
        let pids: Vec<u32> = state
            .table()
            .iter()
            .filter(|p| p.container_id == id)
            .map(|p| p.pid)
            .collect();
        let mut result = Err(None);
        for pid in pids.into_iter().rev() {
            match enf.container_started_pid(pid, &c) {
                Ok((_, names)) => {
                    result = Ok(names);
                    break;
                }
                Err(e) => result = Err(Some(e)),
            }
        }
        match result {
            Ok(names) => {
                pending.remove(&id);
                done.insert(id.clone());
                if !names.is_empty() {
                    eprintln!(
                        "vigil: policies {names:?} applied to container {} ({})",
                        c.name,
                        c.short_id()
                    );
                }
            }
            Err(e) if attempts >= 50 => {
                pending.remove(&id);
                done.insert(id.clone());
                let why = e.map_or_else(|| "no live process".to_string(), |e| e.to_string());
                eprintln!(
                    "vigil: cannot apply policies to container {} ({}): {why}",
                    c.name,
                    c.short_id()
                );
            }
            Err(_) => {
                pending.insert(id.clone(), attempts + 1);
            }
        }
    }
}

/// An enforcement action or a response as an alert in the delivery pipeline: the policy
/// (or response), its scope, the target and the outcome in `output_fields`.
fn action_alert(r: &ActionReport, hostname: &str) -> Alert {
    let mut f = BTreeMap::new();
    let s = |v: &str| FieldValue::Str(v.to_string());
    f.insert("action".into(), s(r.action.as_str()));
    f.insert(
        "policy".into(),
        r.policy.as_deref().map_or(FieldValue::Null, s),
    );
    f.insert(
        "scope".into(),
        r.scope.as_deref().map_or(FieldValue::Null, s),
    );
    f.insert("object".into(), s(&r.object));
    f.insert("outcome".into(), s(&r.outcome.to_string()));
    f.insert("proc.pid".into(), FieldValue::U64(r.target.pid as u64));
    f.insert("proc.name".into(), s(&r.target.comm));
    f.insert(
        "container.id".into(),
        s(&r.target.container_id[..r.target.container_id.len().min(12)]),
    );
    f.insert("container.name".into(), s(&r.target.container_name));
    if let Some(l) = r.latency {
        f.insert("latency_us".into(), FieldValue::U64(l.as_micros() as u64));
    }
    if let Some(e) = r.effect {
        f.insert("effect_us".into(), FieldValue::U64(e.as_micros() as u64));
    }
    let priority = match r.outcome {
        vigil_response::Outcome::Done => Priority::Critical,
        vigil_response::Outcome::Failed(_) => Priority::Error,
        _ => Priority::Warning,
    };
    internal_alert(
        "vigil response",
        priority,
        hostname,
        format!("Response: {r}"),
        f,
    )
}

/// The rule-triggered responses of policy files, in file order.
fn responses_of(files: &[vigil_response::PolicyFile]) -> Vec<ResponseRule> {
    files
        .iter()
        .flat_map(|f| f.responses.iter().cloned())
        .collect()
}

/// How many other processes of a container a container-wide request carries, to find the
/// container's cgroup when the triggering process is gone.
const OTHER_PIDS: usize = 16;
/// Keys the dedupe remembers at most (one per target and action within the window).
const DEDUPE_KEYS: usize = 65_536;
/// Queue-full alerts: the first at once, then at most one per this interval.
const DROP_ALERT_EVERY: Duration = Duration::from_secs(1);

/// Rule-triggered responses inside the monitor: selects the responses of each alert, dedupes
/// them, queues them to the response worker ([`Runner`]) without blocking, and turns every
/// outcome (done, failed, skipped and why, dropped) into an alert.
struct Responder {
    rules: Vec<ResponseRule>,
    runner: Runner,
    dedupe: Dedupe<Request>,
    capacity: usize,
    hostname: String,
    /// Requests dropped (queue full) not yet reported, and the last of them.
    drops_unreported: u64,
    last_dropped: Option<Request>,
    last_drop_alert: Option<Instant>,
    queued: u64,
    deduplicated: u64,
    completed: u64,
}

impl Responder {
    fn start(
        args: &Args,
        enf: &vigil_response::Enforcer,
        rules: Vec<ResponseRule>,
        hostname: &str,
    ) -> anyhow::Result<Responder> {
        if !args.response_dedupe.is_finite() || args.response_dedupe < 0.0 {
            anyhow::bail!("--response-dedupe must be a number of seconds >= 0");
        }
        if args.response_queue == 0 {
            anyhow::bail!("--response-queue must be at least 1");
        }
        Ok(Responder {
            rules,
            runner: Runner::start(enf.executor(), args.response_queue)?,
            dedupe: Dedupe::new(Duration::from_secs_f64(args.response_dedupe), DEDUPE_KEYS),
            capacity: args.response_queue,
            hostname: hostname.to_string(),
            drops_unreported: 0,
            last_dropped: None,
            last_drop_alert: None,
            queued: 0,
            deduplicated: 0,
            completed: 0,
        })
    }

    /// Selects and queues the responses to a rule alert about process `pid`; alerts about
    /// what was not queued go to `emit`. Runs on the event loop: no I/O, never blocks.
    fn on_alert(
        &mut self,
        alert: &Alert,
        pid: u32,
        state: &vigil_state::LiveState,
        emit: &mut dyn FnMut(Alert),
    ) {
        // vigil's own alerts (responses, drops) never trigger responses: no loops.
        if self.rules.is_empty() || alert.source == "internal" {
            return;
        }
        let aref = vigil_response::respond::AlertRef::from_alert(alert);
        if !aref.in_container() {
            return;
        }
        // The state's record (labels included) when it has one, else what the alert says.
        let proc = state.table().get(pid).filter(|p| p.in_container());
        let from_alert;
        let container = match proc.and_then(|p| state.container(&p.container_id)) {
            Some(c) => c,
            None => {
                from_alert = aref.container().unwrap_or_else(|| vigil_event::Container {
                    id: aref.container_id.clone(),
                    ..Default::default()
                });
                &from_alert
            }
        };
        let now = Instant::now();
        let requests: Vec<Request> =
            vigil_response::respond::select(&self.rules, &aref, Some(container))
                .into_iter()
                .map(|(action, rule)| Request {
                    action,
                    pid,
                    others: Vec::new(),
                    comm: proc.map(|p| p.comm.clone()).unwrap_or_default(),
                    container: Some(container.clone()),
                    rule: alert.rule.clone(),
                    policy: rule.label(),
                    response: rule.location(),
                    scope: rule.scope.describe(),
                    event_ns: alert.time,
                    alert_ns: runner::unix_now_ns(),
                    queued: now,
                })
                .collect();
        for request in requests {
            // Container-wide actions find the cgroup through another process of the
            // container when the triggering one is gone.
            let others = || {
                let mut v: Vec<u32> = Vec::new();
                for p in state.table().iter() {
                    if v.len() >= OTHER_PIDS {
                        break;
                    }
                    if p.container_id == container.id && p.pid != pid && !v.contains(&p.pid) {
                        v.push(p.pid);
                    }
                }
                v
            };
            self.submit(request, others, now, emit);
        }
    }

    /// Dedupes and queues one request (`others` is only computed when it is queued).
    fn submit(
        &mut self,
        mut request: Request,
        others: impl FnOnce() -> Vec<u32>,
        now: Instant,
        emit: &mut dyn FnMut(Alert),
    ) {
        let id = request.container.as_ref().map_or("", |c| c.id.as_str());
        let key = DedupeKey::new(request.action, id, request.pid);
        match self.dedupe.check(&key, now, || request.clone()) {
            Check::Duplicate { since, nth } => {
                self.deduplicated += 1;
                // The first duplicate is reported at once, the rest when the window ends.
                if nth == 1 {
                    let why = format!(
                        "duplicate: the same {} of this target was queued {:.1} ms ago (dedupe window {:?}; further duplicates are counted)",
                        request.action.as_str(),
                        since.as_secs_f64() * 1e3,
                        self.dedupe.window()
                    );
                    emit(self.skipped_alert(&request, why, 1));
                }
            }
            Check::Run => {
                if request.action != RuleAction::KillProcess {
                    request.others = others();
                }
                match self.runner.try_submit(request) {
                    Ok(()) => self.queued += 1,
                    Err(back) => {
                        // Not carried out: later alerts must not count as its duplicates.
                        self.dedupe.forget(&key);
                        self.drops_unreported += 1;
                        self.last_dropped = Some(*back);
                    }
                }
            }
        }
    }

    /// Called every loop: outcomes to alerts, ended dedupe windows, queue-full reports.
    fn tick(&mut self, emit: &mut dyn FnMut(Alert)) {
        for c in self.runner.completed() {
            self.completed += 1;
            emit(self.completed_alert(&c));
        }
        let now = Instant::now();
        self.report_duplicates(emit, now);
        if self.drops_unreported > 0
            && self
                .last_drop_alert
                .is_none_or(|t| now.duration_since(t) >= DROP_ALERT_EVERY)
        {
            emit(self.drop_alert());
            self.drops_unreported = 0;
            self.last_drop_alert = Some(now);
        }
    }

    /// Dedupe windows ended by `now`: one alert for the duplicates not reported yet.
    fn report_duplicates(&mut self, emit: &mut dyn FnMut(Alert), now: Instant) {
        for e in self.dedupe.expire(now) {
            let why = format!(
                "{} more duplicate(s) of the same {} of this target within the dedupe window ({:?})",
                e.unreported,
                e.key.action.as_str(),
                self.dedupe.window()
            );
            emit(self.skipped_alert(&e.sample, why, e.unreported));
        }
    }

    /// The response as a report alert: what was done to whom, the outcome, and the timings
    /// from the triggering event.
    fn completed_alert(&self, c: &Completed) -> Alert {
        let mut r = c.report.clone();
        r.policy = Some(c.request.policy.clone());
        r.scope = Some(c.request.scope.clone());
        let mut a = action_alert(&r, &self.hostname);
        self.request_fields(&mut a, &c.request);
        let us = |d: Duration| FieldValue::U64(d.as_micros() as u64);
        let f = &mut a.output_fields;
        f.insert("queue_us".into(), us(c.queue_wait));
        f.insert(
            "detect_us".into(),
            FieldValue::U64(c.request.alert_ns.saturating_sub(c.request.event_ns) / 1000),
        );
        f.insert("event_to_done_us".into(), us(c.event_to_done()));
        if let Some(e) = c.event_to_effect() {
            f.insert("event_to_effect_us".into(), us(e));
        }
        a.output = format!(
            "{} (rule '{}', {:.1} ms after the event)",
            a.output,
            c.request.rule,
            c.event_to_done().as_secs_f64() * 1e3
        );
        a
    }

    /// A response that was not carried out, and why.
    fn skipped_alert(&self, req: &Request, why: String, duplicates: u64) -> Alert {
        let c = req.container.as_ref();
        let target = vigil_response::Target {
            pid: req.pid,
            tid: req.pid,
            comm: req.comm.clone(),
            cgroup_id: 0,
            container_id: c.map(|c| c.id.clone()).unwrap_or_default(),
            container_name: c.map(|c| c.name.clone()).unwrap_or_default(),
        };
        let object = match (req.action, c) {
            (RuleAction::KillProcess, _) | (_, None) => format!("pid {}", req.pid),
            (_, Some(c)) => format!("container {}", c.short_id()),
        };
        let mut r = vigil_response::action::skipped(req.action, target, object, why);
        r.policy = Some(req.policy.clone());
        r.scope = Some(req.scope.clone());
        let mut a = action_alert(&r, &self.hostname);
        self.request_fields(&mut a, req);
        a.output_fields
            .insert("duplicates".into(), FieldValue::U64(duplicates));
        a
    }

    fn request_fields(&self, a: &mut Alert, req: &Request) {
        let f = &mut a.output_fields;
        f.insert("trigger.rule".into(), FieldValue::Str(req.rule.clone()));
        f.insert("trigger.pid".into(), FieldValue::U64(req.pid as u64));
        f.insert("response".into(), FieldValue::Str(req.response.clone()));
        a.tags.push("response".into());
    }

    /// Requests dropped because the queue was full, since the last such alert.
    fn drop_alert(&mut self) -> Alert {
        let mut f = BTreeMap::new();
        f.insert("n_dropped".into(), FieldValue::U64(self.drops_unreported));
        f.insert(
            "n_dropped_total".into(),
            FieldValue::U64(self.runner.dropped()),
        );
        f.insert(
            "queue_capacity".into(),
            FieldValue::U64(self.capacity as u64),
        );
        let mut last = String::new();
        if let Some(r) = self.last_dropped.take() {
            let name = r
                .container
                .as_ref()
                .map(|c| c.name.clone())
                .unwrap_or_default();
            f.insert("action".into(), FieldValue::Str(r.action.as_str().into()));
            f.insert("trigger.rule".into(), FieldValue::Str(r.rule.clone()));
            f.insert("proc.pid".into(), FieldValue::U64(r.pid as u64));
            f.insert("container.name".into(), FieldValue::Str(name.clone()));
            last = format!(
                "; last: {} for rule '{}' in container {name}",
                r.action.as_str(),
                r.rule
            );
        }
        internal_alert(
            "vigil internal: response dropped",
            Priority::Error,
            &self.hostname,
            format!(
                "Responses not carried out, the response queue ({}) was full: {} since the last report, {} in total{last}",
                self.capacity,
                self.drops_unreported,
                self.runner.dropped()
            ),
            f,
        )
    }

    /// Lets the worker finish what is queued (bounded), reports it, and says what was left.
    fn shutdown(mut self, emit: &mut dyn FnMut(Alert), timeout: Duration) {
        self.tick(emit);
        let (done, unfinished) = self.runner.shutdown(timeout);
        for c in &done {
            self.completed += 1;
            emit(self.completed_alert(c));
        }
        if self.drops_unreported > 0 {
            emit(self.drop_alert());
        }
        // Dedupe windows still open: their duplicates are reported now.
        self.report_duplicates(emit, Instant::now() + self.dedupe.window());
        eprintln!(
            "vigil: responses: {} queued, {} carried out or failed, {} deduplicated, {} dropped (queue full), {} unfinished at exit",
            self.queued,
            self.completed,
            self.deduplicated,
            self.runner.dropped(),
            unfinished
        );
        if unfinished > 0 {
            emit(internal_alert(
                "vigil internal: response dropped",
                Priority::Error,
                &self.hostname,
                format!("{unfinished} responses were still queued or running when vigil stopped"),
                BTreeMap::from([("n_dropped".to_string(), FieldValue::U64(unfinished))]),
            ));
        }
    }
}

/// Re-reads the configuration, the rules and the policy files (None: no `--policy`); any
/// error keeps everything running as it is.
fn reload(
    args: &Args,
    with_defaults: bool,
) -> anyhow::Result<(Config, Ruleset, Option<Vec<vigil_response::PolicyFile>>)> {
    let cfg = effective_config(args)?;
    let loaded = live::load_rules(
        &cfg.rules_files,
        with_defaults,
        &load_options(&cfg, args.all_matches),
    )?;
    let policies = if args.policies.is_empty() {
        None
    } else {
        Some(
            vigil_response::load_files(&args.policies)
                .map_err(|d| anyhow::anyhow!("policies failed to load:\n{d}"))?,
        )
    };
    Ok((cfg, loaded.ruleset, policies))
}

/// Feeds the metrics with the sensor's counters since the last report, prints the stats line
/// and raises an internal alert when events were lost.
fn report(
    stats: &SensorStats,
    totals: &mut Totals,
    state: &vigil_state::LiveState,
    metrics: &Metrics,
    pipeline: &Pipeline,
    hostname: &str,
    started: Instant,
) {
    let prev = totals.reported;
    for (i, cat) in CATEGORIES.iter().enumerate() {
        let d = stats.by_category[i].saturating_sub(prev.by_category[i]);
        if d > 0 {
            metrics.add_events_received(*cat, d);
        }
    }
    let lifecycle = (stats.lifecycle_events + stats.exit_events)
        .saturating_sub(prev.lifecycle_events + prev.exit_events);
    if lifecycle > 0 {
        metrics.add_events_received(Category::Process, lifecycle);
    }
    let k = stats.kernel;
    let pk = prev.kernel;
    let drops = [
        ("kernel_syscall", k.syscall.saturating_sub(pk.syscall)),
        (
            "decode",
            stats.decode_errors.saturating_sub(prev.decode_errors),
        ),
        (
            "kernel_other",
            k.lost()
                .saturating_sub(k.syscall)
                .saturating_sub(pk.lost().saturating_sub(pk.syscall)),
        ),
    ];
    let mut dropped = 0;
    for (reason, n) in drops {
        if n > 0 {
            metrics.add_events_dropped_reason(reason, n);
            dropped += n;
        }
    }
    let sm = state.metrics();
    metrics.set_table_sizes(sm.processes.entries, sm.containers.containers);
    let events = stats.events().saturating_sub(prev.events());
    let filtered = k.filtered.saturating_sub(pk.filtered);
    eprintln!(
        "vigil: stats: +{events} events, +{dropped} dropped, +{filtered} stopped by prefilters, {} alerts total, {} processes, {} containers, up {:.0} s",
        totals.alerts,
        sm.processes.entries,
        sm.containers.containers,
        started.elapsed().as_secs_f64()
    );
    if dropped > 0 {
        let mut f = BTreeMap::new();
        for (reason, n) in drops {
            f.insert(format!("n_drops_{reason}"), FieldValue::U64(n));
        }
        f.insert("n_evts".into(), FieldValue::U64(events));
        pipeline.send(internal_alert(
            "vigil internal: event drop",
            Priority::Warning,
            hostname,
            format!("Events dropped since the last report: {dropped} of {} (see output_fields by cause)", events + dropped),
            f,
        ));
    }
    totals.reported = *stats;
}

/// The path cache's part of the final line: its hits and stored walks, or why it was off.
fn path_cache_summary(pc: &vigil_sensor::sensor::PathCacheStats) -> String {
    match pc.off {
        None => format!("on: {} hits, {} walks stored", pc.hits, pc.inserts),
        Some(why) => format!("off ({why}): {} hits, {} walks stored", pc.hits, pc.inserts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{mpsc, Arc, Mutex};
    use vigil_response::{Outcome, Target};

    fn responder(runner: Runner, capacity: usize) -> Responder {
        Responder {
            rules: Vec::new(),
            runner,
            dedupe: Dedupe::new(Duration::from_secs(10), 100),
            capacity,
            hostname: "h".into(),
            drops_unreported: 0,
            last_dropped: None,
            last_drop_alert: None,
            queued: 0,
            deduplicated: 0,
            completed: 0,
        }
    }

    fn request(action: RuleAction, pid: u32, container: &str) -> Request {
        Request {
            action,
            pid,
            others: Vec::new(),
            comm: "sh".into(),
            container: Some(vigil_event::Container {
                id: format!("{container}0123456789abcdef"),
                name: container.into(),
                ..Default::default()
            }),
            rule: "Terminal shell in container".into(),
            policy: "contain".into(),
            response: "r.yaml:2:5".into(),
            scope: "all containers".into(),
            event_ns: runner::unix_now_ns(),
            alert_ns: runner::unix_now_ns(),
            queued: Instant::now(),
        }
    }

    fn field<'a>(a: &'a Alert, k: &str) -> &'a FieldValue {
        a.output_fields.get(k).unwrap_or(&FieldValue::Null)
    }

    fn text(a: &Alert, k: &str) -> String {
        field(a, k).to_string()
    }

    /// A worker that waits on `gate` and reports every request done; `seen` gets each.
    fn gated(gate: Arc<Mutex<()>>, seen: Arc<Mutex<Vec<Request>>>) -> (Runner, mpsc::Receiver<()>) {
        let (started_tx, started) = mpsc::channel();
        let runner = Runner::start_with(1, move |r: &Request| {
            let _ = started_tx.send(());
            let _l = gate.lock().unwrap();
            seen.lock().unwrap().push(r.clone());
            let c = r.container.as_ref().unwrap();
            let mut rep = vigil_response::action::skipped(
                r.action,
                Target {
                    pid: r.pid,
                    container_id: c.id.clone(),
                    container_name: c.name.clone(),
                    ..Default::default()
                },
                format!("pid {}", r.pid),
                String::new(),
            );
            rep.outcome = Outcome::Done;
            rep.latency = Some(Duration::from_micros(700));
            rep
        })
        .unwrap();
        (runner, started)
    }

    #[test]
    fn responses_are_deduped_queued_dropped_and_every_outcome_reported() {
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (runner, started) = gated(gate.clone(), seen.clone());
        let mut r = responder(runner, 1);
        let mut out: Vec<Alert> = Vec::new();
        let now = Instant::now();
        // Queued and taken by the worker (which then waits on the gate).
        r.submit(
            request(RuleAction::KillContainer, 10, "web"),
            || vec![11, 12],
            now,
            &mut |a| out.push(a),
        );
        started.recv_timeout(Duration::from_secs(10)).unwrap();
        // Two more alerts from the same container: duplicates; the first is reported now.
        for pid in [11, 12] {
            r.submit(
                request(RuleAction::KillContainer, pid, "web"),
                || panic!("not computed for a duplicate"),
                now,
                &mut |a| out.push(a),
            );
        }
        assert_eq!(out.len(), 1, "{out:#?}");
        let dup = &out[0];
        assert_eq!(dup.rule, "vigil response");
        assert_eq!(dup.priority, Priority::Warning);
        assert!(text(dup, "outcome").starts_with("skipped: duplicate: the same kill_container"));
        assert_eq!(text(dup, "policy"), "contain");
        assert_eq!(text(dup, "trigger.rule"), "Terminal shell in container");
        assert_eq!(text(dup, "trigger.pid"), "11");
        assert_eq!(text(dup, "container.name"), "web");
        assert_eq!(text(dup, "object"), "container web012345678");
        assert_eq!(field(dup, "duplicates"), &FieldValue::U64(1));
        // kill_process is per process: queued (the queue holds one).
        r.submit(
            request(RuleAction::KillProcess, 10, "web"),
            Vec::new,
            now,
            &mut |a| out.push(a),
        );
        // The queue is full: dropped, twice (a dropped request is no dedupe precedent).
        for _ in 0..2 {
            r.submit(
                request(RuleAction::KillProcess, 20, "db"),
                Vec::new,
                now,
                &mut |a| out.push(a),
            );
        }
        assert_eq!((r.queued, r.deduplicated, r.runner.dropped()), (2, 2, 2));
        out.clear();
        r.tick(&mut |a| out.push(a));
        assert_eq!(out.len(), 1, "{out:#?}");
        let dropped = &out[0];
        assert_eq!(dropped.rule, "vigil internal: response dropped");
        assert_eq!(dropped.priority, Priority::Error);
        assert_eq!(field(dropped, "n_dropped"), &FieldValue::U64(2));
        assert_eq!(field(dropped, "queue_capacity"), &FieldValue::U64(1));
        assert_eq!(text(dropped, "container.name"), "db");
        assert!(
            dropped.output.contains("last: kill_process"),
            "{}",
            dropped.output
        );
        // Nothing new: no second alert.
        out.clear();
        r.tick(&mut |a| out.push(a));
        assert!(out.is_empty(), "{out:#?}");
        // Released: both queued requests complete and are reported with their timings.
        drop(held);
        let t0 = Instant::now();
        while out.len() < 2 && t0.elapsed() < Duration::from_secs(10) {
            r.tick(&mut |a| out.push(a));
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(out.len(), 2, "{out:#?}");
        let kc = &out[0];
        assert_eq!(kc.priority, Priority::Critical);
        assert_eq!(text(kc, "action"), "kill_container");
        assert_eq!(text(kc, "outcome"), "done");
        assert_eq!(text(kc, "scope"), "all containers");
        assert_eq!(text(kc, "response"), "r.yaml:2:5");
        assert_eq!(text(kc, "proc.name"), "sh", "comm from the request");
        assert_eq!(text(kc, "container.id"), "web012345678");
        assert!(kc.tags.contains(&"response".to_string()));
        for k in ["event_to_done_us", "queue_us", "detect_us", "latency_us"] {
            assert!(matches!(field(kc, k), FieldValue::U64(_)), "{k}: {kc:?}");
        }
        assert!(kc.output.contains("ms after the event"), "{}", kc.output);
        assert_eq!(text(&out[1], "action"), "kill_process");
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen[0].others,
            [11, 12],
            "container-wide: other pids carried"
        );
        assert!(seen[1].others.is_empty());
        drop(seen);
        // At exit the open dedupe window reports the duplicate not reported yet.
        out.clear();
        r.shutdown(&mut |a| out.push(a), Duration::from_secs(5));
        assert_eq!(out.len(), 1, "{out:#?}");
        assert!(text(&out[0], "outcome").starts_with("skipped: 1 more duplicate(s)"));
        assert_eq!(field(&out[0], "duplicates"), &FieldValue::U64(1));
    }

    #[test]
    fn internal_alerts_and_host_processes_trigger_nothing() {
        let f = vigil_response::parse_str(
            std::path::Path::new("r.yaml"),
            "responses:\n- min_priority: debug\n  actions: [kill_process]\n",
        )
        .unwrap();
        let (runner, _started) = gated(Arc::new(Mutex::new(())), Arc::default());
        let mut r = responder(runner, 1);
        r.rules = f.responses;
        let cfg = vigil_state::StateConfig {
            seed: false,
            hostname: Some("h".into()),
            ..Default::default()
        };
        let state = match vigil_state::LiveState::new(cfg) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("SKIP: no live state here: {e}");
                return;
            }
        };
        let mut out = Vec::new();
        let mut own = action_alert(
            &vigil_response::action::skipped(
                RuleAction::KillProcess,
                Target {
                    pid: 4242,
                    container_id: "0123456789abcdef".into(),
                    container_name: "web".into(),
                    ..Default::default()
                },
                "pid 4242".into(),
                "x".into(),
            ),
            "h",
        );
        r.on_alert(&own, 4242, &state, &mut |a| out.push(a));
        own.source = "syscall".into();
        own.output_fields
            .insert("container.id".into(), FieldValue::Str("host".into()));
        r.on_alert(&own, 4242, &state, &mut |a| out.push(a));
        assert!(out.is_empty());
        assert_eq!((r.queued, r.runner.dropped()), (0, 0));
    }
}
