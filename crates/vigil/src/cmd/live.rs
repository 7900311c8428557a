//! What `vigil monitor` and `vigil capture` share: opening the sensor and the live state with
//! clear start-up errors, signal flags, and loading rules (embedded defaults unless `-r`).

use crate::default_rules::{DEFAULT_RULES, DEFAULT_RULES_NAME};
use anyhow::{bail, Context};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use vigil_rules::{LoadOptions, Loaded, RuleSource};
use vigil_sensor::{Sensor, SensorConfig};
use vigil_state::{LiveState, StateConfig};

/// Signals the event loop reacts to, as flags polled between event batches.
pub struct Signals {
    pub stop: Arc<AtomicBool>,
    pub reload: Arc<AtomicBool>,
    pub reopen: Arc<AtomicBool>,
}

impl Signals {
    /// Registers SIGINT/SIGTERM (stop), SIGHUP (reload) and SIGUSR1 (reopen files).
    pub fn install() -> anyhow::Result<Signals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
        let s = Signals {
            stop: Arc::new(AtomicBool::new(false)),
            reload: Arc::new(AtomicBool::new(false)),
            reopen: Arc::new(AtomicBool::new(false)),
        };
        for sig in [SIGINT, SIGTERM] {
            signal_hook::flag::register(sig, s.stop.clone()).context("install signal handler")?;
        }
        signal_hook::flag::register(SIGHUP, s.reload.clone()).context("install SIGHUP handler")?;
        signal_hook::flag::register(SIGUSR1, s.reopen.clone())
            .context("install SIGUSR1 handler")?;
        Ok(s)
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// True once per SIGHUP.
    pub fn take_reload(&self) -> bool {
        self.reload.swap(false, Ordering::Relaxed)
    }

    /// True once per SIGUSR1.
    pub fn take_reopen(&self) -> bool {
        self.reopen.swap(false, Ordering::Relaxed)
    }
}

/// Loads the rules: the embedded defaults when `files` is empty, else `files` (after the
/// defaults when `with_defaults`). Warnings go to stderr; errors list every diagnostic.
pub fn load_rules(
    files: &[PathBuf],
    with_defaults: bool,
    opts: &LoadOptions,
) -> anyhow::Result<Loaded> {
    let mut sources = Vec::new();
    if files.is_empty() || with_defaults {
        sources.push(RuleSource {
            name: DEFAULT_RULES_NAME.into(),
            text: DEFAULT_RULES.into(),
        });
    }
    for f in files {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("cannot read rules file {}", f.display()))?;
        sources.push(RuleSource {
            name: f.display().to_string(),
            text,
        });
    }
    match vigil_rules::load(&sources, opts) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            Ok(loaded)
        }
        Err(diags) => bail!("rules failed to load:\n{diags}"),
    }
}

/// What the commands choose of the sensor's set-up.
pub struct SensorOptions {
    /// Ring buffer size in MiB.
    pub ring_mb: u32,
    /// Kernel BTF other than the default.
    pub btf: Option<PathBuf>,
    /// Measure `evt.latency` (a stash per reported syscall).
    pub latency: bool,
    /// Reuse path verdicts of files opened before (SensorConfig::path_cache).
    pub path_cache: bool,
}

impl SensorOptions {
    /// Defaults with this ring size: no latency, path cache on.
    pub fn ring(ring_mb: u32) -> SensorOptions {
        SensorOptions {
            ring_mb,
            btf: None,
            latency: false,
            path_cache: true,
        }
    }
}

/// Opens the eBPF sensor, turning every start-up failure into one actionable message.
pub fn open_sensor(o: SensorOptions) -> anyhow::Result<Sensor> {
    let mut cfg = SensorConfig {
        ring_bytes: o.ring_mb.saturating_mul(1024 * 1024),
        latency: o.latency,
        path_cache: o.path_cache,
        ..SensorConfig::default()
    };
    if let Some(b) = o.btf {
        cfg.btf_path = b;
    }
    Sensor::open(cfg).map_err(|e| anyhow::anyhow!("cannot start the eBPF sensor: {e}"))
}

/// Programs the kernel side for `rules`: the syscalls they need, and the prefilters that drop
/// open events none of them can match.
pub fn program_sensor(sensor: &mut Sensor, rules: &vigil_rules::Ruleset) -> anyhow::Result<()> {
    let types = rules.event_types();
    sensor
        .set_event_types(types.iter())
        .context("cannot program the kernel-side event filter")?;
    let filters: Vec<_> = types
        .iter()
        .filter(|t| vigil_rules::prefilter::is_open_type(*t))
        .map(|t| (t, rules.open_prefilter(t)))
        .collect();
    sensor
        .set_open_filters(&filters)
        .context("cannot program the kernel-side open prefilters")?;
    Ok(())
}

/// Opens the live process/container state, seeded from `/proc`.
pub fn open_state(container_wait: Duration) -> anyhow::Result<LiveState> {
    let cfg = StateConfig {
        container_wait,
        ..StateConfig::default()
    };
    LiveState::new(cfg).context("cannot read process state from /proc")
}
