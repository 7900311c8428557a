//! `vigil replay`: evaluate rules against a capture file (binary or JSON Lines).
//!
//! The replay applies the same per-event sequence as `vigil monitor` — state before, rules,
//! state after (see the sensor/state contract) — on a [`ReplayState`] built from the capture's
//! own snapshots, so a capture reproduces the alerts the live run raised. Alerts go to stdout
//! (Falco text or JSON lines), the summary to stderr so it never mixes with alerts in a pipe.

use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use vigil_capture::{CaptureReader, Record, ReplayState};
use vigil_event::{Alert, Event, Priority};
use vigil_rules::{LoadOptions, Loaded, RuleId, RuleMatching, RuleSource, Ruleset, Scratch};

/// Arguments of `vigil replay`.
#[derive(clap::Args)]
pub struct Args {
    /// Capture file: binary (`vigil capture`) or JSON Lines; the format is detected.
    pub file: PathBuf,
    /// Rules file to load; repeat to load several, in order. Without -r the embedded default
    /// ruleset is used.
    #[arg(short = 'r', long = "rules", value_name = "RULES")]
    pub rules: Vec<PathBuf>,
    /// Print alerts as Falco-compatible JSON, one per line.
    #[arg(long)]
    pub json: bool,
    /// Ignore rules less severe than this priority (emergency ... debug).
    #[arg(long, value_name = "PRIORITY")]
    pub min_priority: Option<Priority>,
    /// Report every rule that matches an event, not only the first (Falco's default).
    #[arg(long)]
    pub all_matches: bool,
}

/// Loads rules files, or the embedded default ruleset when `paths` is empty. Warnings go to
/// stderr; errors are all printed and fail the load.
pub fn load_rules(paths: &[PathBuf], opts: &LoadOptions) -> anyhow::Result<Loaded> {
    let result = if paths.is_empty() {
        vigil_rules::load(
            &[RuleSource {
                name: crate::default_rules::DEFAULT_RULES_NAME.to_string(),
                text: crate::default_rules::DEFAULT_RULES.to_string(),
            }],
            opts,
        )
    } else {
        vigil_rules::load_files(paths, opts)
    };
    match result {
        Ok(l) => Ok(l),
        Err(d) => {
            eprintln!("{d}");
            bail!("rules failed to load: {} error(s)", d.error_count())
        }
    }
}

/// Evaluates events against a ruleset with a replay state, keeping reusable buffers.
pub struct Evaluator<'r> {
    pub ruleset: &'r Ruleset,
    pub state: ReplayState,
    scratch: Scratch,
    matched: Vec<RuleId>,
    pub events: u64,
}

impl<'r> Evaluator<'r> {
    pub fn new(ruleset: &'r Ruleset) -> Self {
        Evaluator {
            ruleset,
            state: ReplayState::new(),
            scratch: ruleset.new_scratch(),
            matched: Vec::new(),
            events: 0,
        }
    }

    /// Applies a record; for events, calls `on_alert` for every alert raised.
    pub fn record(&mut self, r: &Record<'_>, on_alert: impl FnMut(Alert)) {
        match r {
            Record::Event(e) => self.event(e, on_alert),
            other => self.state.apply(other),
        }
    }

    /// State before, rules, state after: the same order as the live monitor.
    pub fn event(&mut self, e: &Event<'_>, mut on_alert: impl FnMut(Alert)) {
        self.events += 1;
        self.state.before(e);
        self.matched.clear();
        self.ruleset
            .evaluate(e, &self.state, &mut self.scratch, &mut self.matched);
        for &id in &self.matched {
            let mut alert = self.ruleset.alert(id, e, &self.state, &mut self.scratch);
            super::context::append_context(&mut alert, e.pid, &self.state);
            on_alert(alert);
        }
        self.state.after(e);
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let opts = LoadOptions {
        min_priority: args.min_priority,
        rule_matching: if args.all_matches {
            RuleMatching::All
        } else {
            RuleMatching::First
        },
        ..LoadOptions::default()
    };
    let loaded = load_rules(&args.rules, &opts)?;
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    let mut reader = CaptureReader::open(&args.file).context("cannot open the capture")?;
    let mut ev = Evaluator::new(&loaded.ruleset);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut per_rule: BTreeMap<String, u64> = BTreeMap::new();
    let mut alerts = 0u64;
    let mut write_err: Option<std::io::Error> = None;
    let mut dropped_at_source = None;
    let mut line = Vec::with_capacity(1024);
    loop {
        let more = reader.next_record(|rec| {
            if let Record::End(s) = rec {
                dropped_at_source = Some(s.dropped);
            }
            ev.record(&rec, |a| {
                alerts += 1;
                *per_rule.entry(a.rule.clone()).or_default() += 1;
                if write_err.is_some() {
                    return;
                }
                line.clear();
                if args.json {
                    a.write_json(&mut line);
                } else {
                    line.extend_from_slice(a.to_text().as_bytes());
                }
                line.push(b'\n');
                if let Err(e) = out.write_all(&line) {
                    write_err = Some(e);
                }
            });
        });
        match more {
            Ok(Some(())) => {}
            Ok(None) => break,
            Err(e) => {
                let _ = out.flush();
                return Err(e).context("replay stopped: the capture is invalid");
            }
        }
        if write_err.is_some() {
            break;
        }
    }
    let flushed = out.flush();
    match write_err.or(flushed.err()) {
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Some(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Some(e) => return Err(e).context("cannot write alerts to stdout"),
        None => {}
    }
    let st = ev.state.stats();
    eprintln!(
        "replay: {}: {} events, {} alerts ({} processes created, {} execs, {} exits, {} events for unknown pids)",
        args.file.display(),
        ev.events,
        alerts,
        st.processes_created,
        st.execs,
        st.exits,
        st.unknown_pid
    );
    if let Some(d) = dropped_at_source.filter(|d| *d > 0) {
        eprintln!(
            "replay: warning: the capture source dropped {d} events before they were recorded"
        );
    }
    let mut rows: Vec<(&String, &u64)> = per_rule.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (rule, n) in rows {
        eprintln!("  {n:>8}  {rule}");
    }
    Ok(ExitCode::SUCCESS)
}
