//! `vigil capture -o FILE`: records the live event stream, with the process and container
//! context it needs, into a capture file that `vigil replay` evaluates offline.
//!
//! The capture holds what the live state knew: every process known at start, then each event
//! with a snapshot of its process whenever the live table changed it (after a fork, before an
//! exec, so a replay sees the container the kernel put the process in), and every container's
//! metadata before the first event from that container. Metadata often comes in two steps (a
//! partial record with name and image within a millisecond, the complete one after the podman
//! CLI answers); the live monitor renders alerts with whatever it has, so the capture writes
//! each step before the next event from that container, not only the complete record.
//! The accounts the live state resolves user names with (the host's, then each container's
//! once read from its root) are written too, so a replay names users as the monitor did.
//! The event types recorded are those the given rules (the embedded defaults unless `-r`)
//! need, or every syscall with `--all`.

use super::live::{self, Signals};
use anyhow::Context;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vigil_capture::binary::BinaryWriter;
use vigil_capture::jsonl::JsonlWriter;
use vigil_capture::record::GroupEntry;
use vigil_capture::{HostInfo, Record, Stats, UserTable};
use vigil_event::{Event, Process, StateView};
use vigil_rules::LoadOptions;
use vigil_state::{Change, LiveState, Status};

/// Arguments of `vigil capture`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Capture file to write.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// Format: `binary` (compact, default) or `jsonl` (readable; default for *.jsonl names).
    #[arg(long)]
    pub format: Option<String>,
    /// Rules whose event types are recorded (repeatable). Default: the embedded defaults.
    #[arg(short = 'r', long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Record every syscall, not only those the rules need.
    #[arg(long)]
    pub all: bool,
    /// Stop after this many seconds (default: until SIGINT/SIGTERM).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// Size of the kernel ring buffer in MiB (power of two).
    #[arg(long, default_value_t = 16)]
    pub ring_buffer_mb: u32,
    /// Longest wait (ms) for a new container's metadata.
    #[arg(long, default_value_t = 300)]
    pub container_wait_ms: u64,
}

/// Either writer behind one interface.
enum Writer {
    Binary(BinaryWriter<BufWriter<File>>),
    Jsonl(JsonlWriter<BufWriter<File>>),
}

impl Writer {
    fn record(&mut self, r: &Record<'_>) -> anyhow::Result<()> {
        match self {
            Writer::Binary(w) => w.write_record(r)?,
            Writer::Jsonl(w) => w.write_record(r)?,
        }
        Ok(())
    }

    fn finish(self, stats: Stats) -> anyhow::Result<()> {
        match self {
            Writer::Binary(w) => {
                w.finish(stats)?;
            }
            Writer::Jsonl(mut w) => {
                w.write_record(&Record::End(&stats))?;
                w.finish()?;
            }
        }
        Ok(())
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let jsonl = match args.format.as_deref() {
        Some("jsonl") => true,
        Some("binary") => false,
        Some(f) => anyhow::bail!("unknown capture format '{f}' (expected binary or jsonl)"),
        None => args.output.extension().is_some_and(|e| e == "jsonl"),
    };
    let loaded = live::load_rules(&args.rules, false, &LoadOptions::default())?;
    let signals = Signals::install()?;
    // A capture is replayed against other rules later: no prefilters, and latency measured.
    let mut sensor = live::open_sensor(live::SensorOptions {
        latency: true,
        ..live::SensorOptions::ring(args.ring_buffer_mb)
    })?;
    if args.all {
        sensor.enable_all_syscalls()?;
    } else {
        sensor.set_event_types(loaded.ruleset.event_types().iter())?;
    }
    let mut state = live::open_state(Duration::from_millis(args.container_wait_ms))?;

    let file = File::create(&args.output)
        .with_context(|| format!("cannot create capture file {}", args.output.display()))?;
    let origin = args.output.display().to_string();
    let host = HostInfo {
        hostname: state.hostname().to_string(),
        boot_ts: 0,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        vigil_version: env!("CARGO_PKG_VERSION").to_string(),
        start_ts: now_ns(),
    };
    let mut w = if jsonl {
        let mut w = JsonlWriter::new(BufWriter::new(file), origin);
        w.write_record(&Record::Host(&host))?;
        Writer::Jsonl(w)
    } else {
        Writer::Binary(BinaryWriter::new(BufWriter::new(file), origin, &host)?)
    };

    // Everything already running, and the containers it runs in.
    write_users(&state, &mut w, "")?;
    let mut containers_written = Written::default();
    let pids: Vec<u32> = state.table().iter().map(|p| p.pid).collect();
    for pid in &pids {
        write_container_of(&mut state, &mut w, &mut containers_written, *pid)?;
    }
    for p in state.table().iter() {
        w.record(&Record::Process(p))?;
    }
    eprintln!(
        "vigil: capturing to {} (SIGINT/SIGTERM to stop)",
        args.output.display()
    );

    let started = Instant::now();
    let deadline = args.duration.map(|s| started + Duration::from_secs(s));
    let mut events = 0u64;
    let mut failure: Option<anyhow::Error> = None;
    // Once asked to stop, the events the kernel already queued are still written: they
    // happened while capturing, and a capture that lags behind under load would otherwise lose
    // its last seconds without counting them. Bounded, so a host producing events faster than
    // they are written cannot hold the exit up.
    let mut drain_until: Option<Instant> = None;
    loop {
        let stop = signals.stopping() || deadline.is_some_and(|d| Instant::now() >= d);
        if stop && drain_until.is_none() {
            drain_until = Some(Instant::now() + DRAIN_BUDGET);
        }
        let wait = if stop {
            Duration::ZERO
        } else {
            Duration::from_millis(100)
        };
        let polled = sensor.poll(wait, |ev: &Event<'_>| {
            if failure.is_some() {
                return;
            }
            if let Err(e) = record_event(&mut state, &mut w, &mut containers_written, ev) {
                failure = Some(e);
            }
            events += 1;
        });
        if let Some(e) = failure.take() {
            return Err(e.context("writing the capture failed"));
        }
        let n = polled.context("reading events failed")?;
        if drain_until.is_some_and(|until| n == 0 || Instant::now() >= until) {
            break;
        }
        state.poll();
    }
    let st = sensor.stats();
    let stats = Stats {
        events,
        dropped: st.lost(),
        ..Stats::default()
    };
    w.finish(stats)?;
    eprintln!(
        "vigil: final: captured {events} events in {:.1} s, dropped {} (kernel {}, decode {})",
        started.elapsed().as_secs_f64(),
        st.lost(),
        st.kernel.lost(),
        st.decode_errors
    );
    Ok(ExitCode::SUCCESS)
}

/// Longest time spent writing the events still queued when the capture is stopped.
const DRAIN_BUDGET: Duration = Duration::from_secs(10);

/// What the capture holds about containers.
#[derive(Default)]
struct Written {
    /// Containers with a metadata record: `true` once the complete record is written.
    containers: HashMap<String, bool>,
    /// Containers whose accounts are written.
    users: HashSet<String>,
}

/// Writes the event with the state changes around it, mirroring the live loop.
fn record_event(
    state: &mut LiveState,
    w: &mut Writer,
    written: &mut Written,
    ev: &Event<'_>,
) -> anyhow::Result<()> {
    let change = state.before(ev);
    // A container whose complete metadata is not written yet: its lookup may have finished
    // since the last event (allocation-free check while nothing is due).
    let due = state
        .table()
        .get(ev.pid)
        .filter(|p| p.in_container())
        .is_some_and(|p| written.containers.get(p.container_id.as_str()) != Some(&true));
    if due && !matches!(change, Change::Exec(_) | Change::Spawned(_)) {
        write_container_of(state, w, written, ev.pid)?;
    }
    if let Change::Exec(pid) | Change::Spawned(pid) = change {
        write_users_of(state, w, written, pid)?;
    }
    match change {
        Change::Exec(pid) => {
            write_container_of(state, w, written, pid)?;
            if let Some(p) = state.table().get(pid) {
                w.record(&Record::Process(p))?;
            }
            w.record(&Record::Event(ev))?;
        }
        Change::Spawned(pid) => {
            write_container_of(state, w, written, pid)?;
            w.record(&Record::Event(ev))?;
            if let Some(p) = state.table().get(pid) {
                w.record(&Record::Process(p))?;
            }
        }
        _ => w.record(&Record::Event(ev))?,
    }
    state.after(ev);
    Ok(())
}

/// Writes the metadata of `pid`'s container when it has more than the capture holds (the
/// partial record, then the complete one), waiting (bounded) for a new container's lookup.
fn write_container_of(
    state: &mut LiveState,
    w: &mut Writer,
    written: &mut Written,
    pid: u32,
) -> anyhow::Result<()> {
    state.containers().poll();
    let Some(p) = state
        .table()
        .get(pid)
        .filter(|p: &&Process| p.in_container())
    else {
        return Ok(());
    };
    // Nothing new (checked without allocating: this runs for each event of such a container).
    let id = match written.containers.get(p.container_id.as_str()) {
        Some(true) => return Ok(()),
        Some(false)
            if !state
                .container(&p.container_id)
                .is_some_and(|c| c.metadata_complete) =>
        {
            return Ok(())
        }
        _ => p.container_id.clone(),
    };
    let _ = state.wait_container_of(pid);
    if state.containers().status(&id) != Some(&Status::Ready) {
        return Ok(());
    }
    if let Some(c) = state.container(&id) {
        if !written.containers.contains_key(&id) || c.metadata_complete {
            w.record(&Record::Container(c))?;
            written.containers.insert(id, c.metadata_complete);
        }
    }
    Ok(())
}

/// Writes the accounts of `pid`'s container once the live state has read them.
fn write_users_of(
    state: &LiveState,
    w: &mut Writer,
    written: &mut Written,
    pid: u32,
) -> anyhow::Result<()> {
    let Some(p) = state.table().get(pid).filter(|p| p.in_container()) else {
        return Ok(());
    };
    if written.users.contains(p.container_id.as_str()) || !state.users().has(&p.container_id) {
        return Ok(());
    }
    write_users(state, w, &p.container_id)?;
    written.users.insert(p.container_id.clone());
    Ok(())
}

/// Writes the accounts the live state holds for a container (`""`: the host), sorted.
fn write_users(state: &LiveState, w: &mut Writer, container_id: &str) -> anyhow::Result<()> {
    let Some(db) = state.users().db(container_id) else {
        return Ok(());
    };
    let mut users: Vec<_> = db.users.values().cloned().collect();
    users.sort_by_key(|u| u.uid);
    let mut groups: Vec<GroupEntry> = db
        .groups
        .iter()
        .map(|(gid, name)| GroupEntry {
            gid: *gid,
            name: name.clone(),
        })
        .collect();
    groups.sort_by_key(|g| g.gid);
    w.record(&Record::Users(&UserTable {
        container_id: container_id.to_string(),
        users,
        groups,
    }))
}
