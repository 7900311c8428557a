//! `vigil monitor`: the main job. Opens the eBPF sensor, keeps the process and container
//! state, evaluates the rules on every event and hands alerts to the delivery pipeline.
//!
//! One thread runs the event loop (sensor poll → state → rules → pipeline) so evaluation
//! needs no locks; delivery, container lookups and the metrics server run on their own
//! threads and never block it. Drops are never silent: kernel ring-buffer losses and decode
//! failures are counted per category, printed in the periodic stats line and raised as a
//! `vigil internal: event drop` alert.

use super::live::{self, Signals};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vigil_event::{Alert, Category, FieldValue, Priority, StateView};
use vigil_output::{CliOverrides, Config, Metrics, Pipeline};
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
    let mut sensor = live::open_sensor(
        args.ring_buffer_mb,
        args.btf.clone(),
        ruleset.needs_latency(),
    )?;
    live::program_sensor(&mut sensor, &ruleset)?;
    let mut state = live::open_state(Duration::from_millis(args.container_wait_ms))?;
    let mut enforcer = if args.policies.is_empty() {
        None
    } else {
        let files = vigil_response::load_files(&args.policies)
            .map_err(|d| anyhow::anyhow!("policies failed to load:\n{d}"))?;
        Some(vigil_response::Enforcer::open(&files).context("cannot start enforcement")?)
    };
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
                Ok((new_cfg, new_rules)) => {
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
        "vigil: final: {} events ({} syscall, {} lifecycle, {} exit), {} evaluated, {} alerts, dropped {} (kernel {}, decode {}), {:.1} s; {} open events stopped by prefilters",
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
        k.filtered
    );
    drop(sensor);
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
        let Some(c) = state
            .container(&id)
            .filter(|c| c.metadata_complete || !c.name.is_empty())
            .cloned()
        else {
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

/// An enforcement action as an alert in the delivery pipeline.
fn action_alert(r: &vigil_response::ActionReport, hostname: &str) -> Alert {
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
    f.insert("outcome".into(), s(&format!("{:?}", r.outcome)));
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
    let priority = if matches!(r.outcome, vigil_response::Outcome::Done) {
        Priority::Critical
    } else {
        Priority::Warning
    };
    internal_alert(
        "vigil response",
        priority,
        hostname,
        format!("Response: {r}"),
        f,
    )
}

fn reload(args: &Args, with_defaults: bool) -> anyhow::Result<(Config, Ruleset)> {
    let cfg = effective_config(args)?;
    let loaded = live::load_rules(
        &cfg.rules_files,
        with_defaults,
        &load_options(&cfg, args.all_matches),
    )?;
    Ok((cfg, loaded.ruleset))
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
