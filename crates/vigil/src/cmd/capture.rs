//! `vigil capture -o FILE`: records the live event stream, with the process and container
//! context it needs, into a capture file that `vigil replay` evaluates offline.
//!
//! The capture holds what the live state knew: every process known at start, then each event
//! with a snapshot of its process whenever the live table changed it (after a fork, before an
//! exec, so a replay sees the container the kernel put the process in), and every container's
//! metadata before the first event from that container. The event types recorded are those
//! the given rules (the embedded defaults unless `-r`) need, or every syscall with `--all`.

use super::live::{self, Signals};
use anyhow::Context;
use std::collections::HashSet;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vigil_capture::binary::BinaryWriter;
use vigil_capture::jsonl::JsonlWriter;
use vigil_capture::{HostInfo, Record, Stats};
use vigil_event::{Event, Process, StateView};
use vigil_rules::LoadOptions;
use vigil_state::{Change, LiveState};

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
    let mut sensor = live::open_sensor(args.ring_buffer_mb, None, true)?;
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
    let mut containers_written: HashSet<String> = HashSet::new();
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
    while !signals.stopping() && deadline.is_none_or(|d| Instant::now() < d) {
        let polled = sensor.poll(Duration::from_millis(100), |ev: &Event<'_>| {
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
        polled.context("reading events failed")?;
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

/// Writes the event with the state changes around it, mirroring the live loop.
fn record_event(
    state: &mut LiveState,
    w: &mut Writer,
    written: &mut HashSet<String>,
    ev: &Event<'_>,
) -> anyhow::Result<()> {
    let change = state.before(ev);
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

/// Writes the metadata of `pid`'s container once, waiting (bounded) for a new one's lookup.
fn write_container_of(
    state: &mut LiveState,
    w: &mut Writer,
    written: &mut HashSet<String>,
    pid: u32,
) -> anyhow::Result<()> {
    let Some(id) = state
        .table()
        .get(pid)
        .filter(|p: &&Process| p.in_container())
        .map(|p| p.container_id.clone())
    else {
        return Ok(());
    };
    if written.contains(&id) {
        return Ok(());
    }
    let _ = state.wait_container_of(pid);
    if let Some(c) = state.container(&id) {
        if c.metadata_complete {
            w.record(&Record::Container(c))?;
            written.insert(id);
        }
    }
    Ok(())
}
