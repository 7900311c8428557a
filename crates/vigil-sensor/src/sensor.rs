//! The live sensor: loads the eBPF object, attaches it, configures it, drains its ring buffer.
//!
//! [`Sensor::open`] runs the feature probes, loads and relocates the object against the
//! running kernel's BTF, attaches the three raw tracepoint programs and writes the capture
//! specs. [`Sensor::poll`] waits for the ring buffer, then decodes every pending record in
//! place and hands each event to a callback; nothing is allocated per event. Dropping the
//! sensor closes every program, link and map, so no kernel state outlives it.
//!
//! We rejected a background thread that sends owned events over a channel: the consumer
//! (state + rules) is single-threaded anyway, and borrowing records avoids a copy per event.

use crate::decode::{DecodeError, Decoder, RecordKind};
use crate::error::{chain, eperm_in, errno_in, SensorError};
use crate::probe::{self, ProbeReport};
use crate::table::{category_index, Table};
use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{Array, HashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::{BtfTracePoint, ProgramError, RawTracePoint};
use aya::{Btf, Ebpf, EbpfLoader, Endianness};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::Duration;
use vigil_bpf::{drop_slot, Config, Spec, NR_SYSCALLS};
use vigil_event::{Event, EventType};

/// The program on `raw_syscalls/sys_enter`.
const ENTER: &str = "vigil_sys_enter";

fn attach(
    prog: &mut RawTracePoint,
    name: &str,
    tp: &str,
) -> Result<aya::programs::raw_trace_point::RawTracePointLinkId, SensorError> {
    prog.attach(tp).map_err(attach_error(name, tp))
}

/// The error of attaching program `name` to `tracepoint`: not permitted, or why it failed.
fn attach_error(name: &str, tracepoint: &str) -> impl FnOnce(ProgramError) -> SensorError {
    let (name, tracepoint) = (name.to_string(), tracepoint.to_string());
    move |e| match eperm_in(&e) {
        Some(source) => SensorError::BpfNotPermitted {
            during: format!("attaching {name}"),
            source,
        },
        None => SensorError::Attach {
            program: name,
            tracepoint,
            detail: chain(&e),
        },
    }
}

/// Runs a program load again when the verifier gave up with `EAGAIN`: it does when a signal
/// arrives for the loading thread during verification, which takes seconds for `sys_exit` on
/// a busy machine (libbpf retries the same way).
fn retry_eagain(mut load: impl FnMut() -> Result<(), ProgramError>) -> Result<(), ProgramError> {
    let mut attempt = 1;
    loop {
        match load() {
            Err(e) if attempt < 5 && errno_in(&e, libc::EAGAIN) => attempt += 1,
            r => return r,
        }
    }
}

/// How the loaded programs read kernel structures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelReads {
    /// Plain loads through the `bpf_rdonly_cast` kfunc ([`vigil_bpf::OBJECT`]).
    Kfunc,
    /// Helper calls ([`vigil_bpf::OBJECT_COMPAT`]): `SensorConfig::kfuncs` was false.
    HelpersByConfig,
    /// Helper calls: the kernel's BTF has no `bpf_rdonly_cast` (Linux before 6.2).
    HelpersNoKfunc,
    /// Helper calls: the kernel has `bpf_rdonly_cast` but refused the start-up probe program
    /// that calls it from a BTF tracepoint ([`kfunc_probe`]).
    HelpersKfuncRefused,
}

impl std::fmt::Display for KernelReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KernelReads::Kfunc => "plain loads (bpf_rdonly_cast)",
            KernelReads::HelpersByConfig => "helper calls (kfuncs turned off)",
            KernelReads::HelpersNoKfunc => {
                "helper calls (the kernel has no bpf_rdonly_cast kfunc, Linux < 6.2; \
                 each event costs more)"
            }
            KernelReads::HelpersKfuncRefused => {
                "helper calls (the kernel refused bpf_rdonly_cast in a tracing program; \
                 each event costs more)"
            }
        })
    }
}

/// An eBPF object to load: the embedded compat object, or a patched copy of the kfunc one.
enum ObjectBytes {
    Embedded(&'static [u8]),
    /// A copy at an 8-byte aligned start (ELF parsers read headers in place).
    Patched {
        buf: Vec<u8>,
        start: usize,
    },
}

impl ObjectBytes {
    fn bytes(&self) -> &[u8] {
        match self {
            ObjectBytes::Embedded(b) => b,
            ObjectBytes::Patched { buf, start } => &buf[*start..],
        }
    }
}

/// The object for this kernel: [`vigil_bpf::OBJECT`] with its kfunc calls patched to the
/// kernel's `bpf_rdonly_cast` id when the kernel accepts them ([`kfunc_probe`]), else
/// [`vigil_bpf::OBJECT_COMPAT`].
fn choose_object(btf: &Btf, kfuncs: bool) -> Result<(ObjectBytes, KernelReads), SensorError> {
    let compat = || ObjectBytes::Embedded(vigil_bpf::OBJECT_COMPAT);
    if !kfuncs {
        return Ok((compat(), KernelReads::HelpersByConfig));
    }
    let Ok(id) = btf.id_by_type_name_kind("bpf_rdonly_cast", aya_obj::btf::BtfKind::Func) else {
        return Ok((compat(), KernelReads::HelpersNoKfunc));
    };
    if kfunc_probe(btf, id).is_err() {
        return Ok((compat(), KernelReads::HelpersKfuncRefused));
    }
    Ok((patched(vigil_bpf::OBJECT, id)?, KernelReads::Kfunc))
}

/// A copy of `object` with its `bpf_rdonly_cast` calls patched to `id`.
fn patched(object: &[u8], id: u32) -> Result<ObjectBytes, SensorError> {
    let mut buf = vec![0u8; object.len() + 8];
    let start = buf.as_ptr().align_offset(8).min(8);
    buf[start..start + object.len()].copy_from_slice(object);
    buf.truncate(start + object.len());
    if vigil_bpf::patch_kfunc_calls(&mut buf[start..], id) == 0 {
        return Err(SensorError::Load {
            detail: "the eBPF object has no bpf_rdonly_cast call to patch (build mismatch)".into(),
        });
    }
    Ok(ObjectBytes::Patched { buf, start })
}

/// Whether the kernel verifies a BTF tracepoint program that calls kfunc `id` the way the
/// sensor calls `bpf_rdonly_cast` ([`vigil_bpf::KFUNC_PROBE`]); the error says why not. The
/// program is loaded, never attached, and unloaded on return.
pub fn kfunc_probe(btf: &Btf, id: u32) -> Result<(), String> {
    let object = patched(vigil_bpf::KFUNC_PROBE, id).map_err(|e| e.to_string())?;
    let mut bpf = EbpfLoader::new()
        .btf(Some(btf))
        .load(object.bytes())
        .map_err(|e| chain(&e))?;
    let name = vigil_bpf::KFUNC_PROBE_PROGRAM;
    let program = bpf
        .program_mut(name)
        .ok_or_else(|| format!("program {name} missing from the probe object"))?;
    let prog: &mut BtfTracePoint = program.try_into().map_err(|e| chain(&e))?;
    retry_eagain(|| prog.load("sys_exit", btf)).map_err(|e| chain(&e))
}

/// The path cache's generation and switch (`path_gen`, slots in [`vigil_bpf::path_cache`]).
fn path_gen(bpf: &mut Ebpf) -> Result<Array<&mut MapData, u64>, SensorError> {
    Array::try_from(
        bpf.map_mut(vigil_bpf::maps::PATH_GEN)
            .ok_or_else(|| missing(vigil_bpf::maps::PATH_GEN))?,
    )
    .map_err(map_err(vigil_bpf::maps::PATH_GEN))
}

/// A program of the object is not of the type its section promised.
fn wrong_type(e: ProgramError) -> SensorError {
    SensorError::Load { detail: chain(&e) }
}

/// Most records one [`Sensor::poll`] call delivers.
const MAX_BATCH: usize = 1 << 16;

/// How the sensor is set up.
#[derive(Clone, Debug)]
pub struct SensorConfig {
    /// Ring buffer size in bytes: a power of two, at least one page. Default 16 MiB.
    pub ring_bytes: u32,
    /// Do not report syscalls of this process (vigil itself). Lifecycle events are still
    /// reported so the process table stays complete. Default true.
    pub ignore_self: bool,
    /// Do not report syscalls from this cgroup id (e.g. vigil's own container).
    pub ignore_cgroup: Option<u64>,
    /// Kernel BTF used for CO-RE relocations. Default `/sys/kernel/btf/vmlinux`.
    pub btf_path: PathBuf,
    /// Root directory for the feature probes' `/proc` and `/sys` reads. Default `/`.
    pub probe_root: PathBuf,
    /// Measure syscall latency (`evt.latency`): every reported syscall then stashes its entry
    /// time at `sys_enter`, which costs a map update and delete per call. Default false: the
    /// arguments are read at exit and `evt.latency` is 0.
    pub latency: bool,
    /// Longest time a record may wait in the ring buffer before [`Sensor::poll`] sees it.
    /// The kernel side wakes the reader only when 1/16 of the ring is pending, and the reader
    /// checks at least this often: one wake-up per batch instead of per record. Zero: wake on
    /// every record. Default 10 ms.
    pub max_delay: Duration,
    /// Cache the prefilter's path verdict per (dentry, mount, root), so that opening a file
    /// again skips the path walk (see ARCHITECTURE.md, "The path cache"). Turned off at start
    /// when a process already has an io_uring instance, and by the kernel side when one is
    /// set up later. Default true.
    pub path_cache: bool,
    /// Read kernel structures with plain loads through the `bpf_rdonly_cast` kfunc where the
    /// kernel has it (Linux 6.2+), instead of helper calls. Default true; false loads the
    /// helpers-only object everywhere (tests compare the two).
    pub kfuncs: bool,
}

impl Default for SensorConfig {
    fn default() -> Self {
        SensorConfig {
            ring_bytes: 16 * 1024 * 1024,
            ignore_self: true,
            ignore_cgroup: None,
            btf_path: probe::default_btf(),
            probe_root: PathBuf::from("/"),
            latency: false,
            max_delay: Duration::from_millis(10),
            path_cache: true,
            kfuncs: true,
        }
    }
}

impl SensorConfig {
    /// Checks the configuration without touching the kernel.
    pub fn validate(&self) -> Result<(), SensorError> {
        if !self.ring_bytes.is_power_of_two() || self.ring_bytes < 4096 {
            return Err(SensorError::Config(format!(
                "ring_bytes must be a power of two of at least 4096, got {}",
                self.ring_bytes
            )));
        }
        Ok(())
    }
}

/// Kernel-side losses, by cause.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelDrops {
    /// Syscall records lost because the ring buffer was full.
    pub syscall: u64,
    /// Clone/exec lifecycle records lost because the ring buffer was full.
    pub lifecycle: u64,
    /// procexit records lost because the ring buffer was full.
    pub exit: u64,
    /// Syscall exits lost because their entry arguments could not be stashed.
    pub stash: u64,
    /// Records emitted with a blob cut short (argv/env/strings over 4 KiB, scratch space
    /// exhausted; not a lost event).
    pub truncated: u64,
    /// Paths cut at the top because the walk hit its budget (over 128 components or 4 KiB).
    pub path_truncated: u64,
    /// Not a loss: open events stopped in the kernel because no loaded rule could match them
    /// ([`Sensor::set_open_filters`]).
    pub filtered: u64,
}

/// Why the path cache is off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathCacheOff {
    /// [`SensorConfig::path_cache`] was false.
    Config,
    /// This process held an io_uring instance when the sensor started.
    UringAtStart(u32),
    /// An io_uring instance was set up while the sensor ran (the kernel side turned it off).
    UringSetUp,
}

impl std::fmt::Display for PathCacheOff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathCacheOff::Config => f.write_str("turned off in the configuration"),
            PathCacheOff::UringAtStart(pid) => {
                write!(f, "process {pid} has an io_uring instance")
            }
            PathCacheOff::UringSetUp => f.write_str("an io_uring instance was set up"),
        }
    }
}

/// The path cache's state and counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathCacheStats {
    /// Why the cache is off; `None` while it is in use.
    pub off: Option<PathCacheOff>,
    /// Prefiltered opens whose path verdict came from the cache (no walk).
    pub hits: u64,
    /// Walks whose verdict was stored.
    pub inserts: u64,
}

impl PathCacheStats {
    /// Whether the cache is in use now.
    pub fn enabled(&self) -> bool {
        self.off.is_none()
    }
}

impl KernelDrops {
    /// Events lost in the kernel (truncations are not losses).
    pub fn lost(&self) -> u64 {
        self.syscall + self.lifecycle + self.exit + self.stash
    }
}

/// Counters since the sensor was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SensorStats {
    /// Events delivered, by record kind.
    pub syscall_events: u64,
    pub lifecycle_events: u64,
    pub exit_events: u64,
    /// Syscall events delivered, by Falco category, indexed like [`crate::CATEGORIES`].
    pub by_category: [u64; 8],
    /// Events lost in the kernel because the ring buffer was full, by category (same order).
    pub dropped_by_category: [u64; 8],
    /// Records that could not be decoded (counted, never delivered).
    pub decode_errors: u64,
    pub kernel: KernelDrops,
    pub path_cache: PathCacheStats,
}

impl SensorStats {
    /// All events delivered.
    pub fn events(&self) -> u64 {
        self.syscall_events + self.lifecycle_events + self.exit_events
    }

    /// All events lost (kernel drops plus decode failures).
    pub fn lost(&self) -> u64 {
        self.kernel.lost() + self.decode_errors
    }
}

#[derive(Clone, Copy)]
#[repr(transparent)]
struct SpecV(Spec);
// SAFETY: Spec is a #[repr(C)] struct of u8 fields without padding (vigil-bpf asserts sizes).
unsafe impl aya::Pod for SpecV {}

#[derive(Clone, Copy)]
#[repr(transparent)]
struct ConfigV(Config);
// SAFETY: Config is #[repr(C)] with u32/u64 fields and no padding (size asserted in vigil-bpf).
unsafe impl aya::Pod for ConfigV {}

#[derive(Clone, Copy)]
#[repr(transparent)]
struct FilterV(vigil_bpf::Filter);
// SAFETY: Filter is #[repr(C)] integers and arrays of #[repr(C)] integer structs, no padding
// (sizes asserted in vigil-bpf).
unsafe impl aya::Pod for FilterV {}

#[derive(Clone, Copy)]
#[repr(transparent)]
struct LpmKeyV([u8; vigil_bpf::filter::LPM_BYTES]);
// SAFETY: a byte array.
unsafe impl aya::Pod for LpmKeyV {}

#[derive(Clone, Copy)]
#[repr(transparent)]
struct NameKeyV(vigil_bpf::NameKey);
// SAFETY: NameKey is #[repr(C)] around a byte array.
unsafe impl aya::Pod for NameKeyV {}

/// A syscall bitmap value of the `cgroup_syscalls` map.
#[derive(Clone, Copy)]
#[repr(transparent)]
struct Bitmap([u64; NR_SYSCALLS / 64]);
// SAFETY: an array of u64.
unsafe impl aya::Pod for Bitmap {}

/// The loaded, attached sensor. See the module documentation.
pub struct Sensor {
    // Field order matters for Drop: the ring buffer and maps go before the object.
    ring: RingBuf<MapData>,
    specs: Array<MapData, SpecV>,
    drops: PerCpuArray<MapData, u64>,
    bpf: Ebpf,
    decoder: Decoder,
    table: Table,
    enabled: Box<[bool; NR_SYSCALLS]>,
    /// Per syscall: its `Spec::filter` (1 + filter index, 0 for none).
    filter_of: Box<[u8; NR_SYSCALLS]>,
    latency: bool,
    max_delay: Duration,
    /// The sys_enter link while attached.
    enter_link: Option<aya::programs::raw_trace_point::RawTracePointLinkId>,
    recording: bool,
    stats: SensorStats,
    report: ProbeReport,
    /// Why the path cache was not turned on at start (None: it was).
    path_cache_off: Option<PathCacheOff>,
    kernel_reads: KernelReads,
}

impl std::fmt::Debug for Sensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sensor")
            .field("stats", &self.stats)
            .field("kernel", &self.report.kernel)
            .finish()
    }
}

fn map_err(map: &'static str) -> impl Fn(aya::maps::MapError) -> SensorError {
    move |e| SensorError::Map {
        map,
        detail: chain(&e),
    }
}

impl Sensor {
    /// Probes the kernel, loads and attaches the programs. No syscall events are reported
    /// until [`Sensor::set_event_types`] enables some; lifecycle events (clone child, exec,
    /// procexit) are reported from the start.
    pub fn open(config: SensorConfig) -> Result<Sensor, SensorError> {
        config.validate()?;
        let report = probe::run(&config.probe_root, &config.btf_path)?;
        let btf = Btf::parse_file(&config.btf_path, Endianness::default()).map_err(|e| {
            SensorError::Btf {
                path: config.btf_path.clone(),
                detail: chain(&e),
            }
        })?;
        let (object, kernel_reads) = choose_object(&btf, config.kfuncs)?;
        let mut bpf = EbpfLoader::new()
            .btf(Some(&btf))
            .set_max_entries(vigil_bpf::maps::EVENTS, config.ring_bytes)
            .load(object.bytes())
            .map_err(|e| match eperm_in(&e) {
                Some(source) => SensorError::BpfNotPermitted {
                    during: "creating maps".into(),
                    source,
                },
                None => SensorError::Load { detail: chain(&e) },
            })?;

        // Configuration before attaching, so the first event already honours it.
        {
            let mut cfg: Array<_, ConfigV> = Array::try_from(
                bpf.map_mut(vigil_bpf::maps::CONFIG)
                    .ok_or_else(|| missing(vigil_bpf::maps::CONFIG))?,
            )
            .map_err(map_err(vigil_bpf::maps::CONFIG))?;
            let c = Config {
                self_tgid: if config.ignore_self {
                    std::process::id()
                } else {
                    0
                },
                record_cgroups: 0,
                ignore_cgroup: config.ignore_cgroup.unwrap_or(0),
                wakeup_bytes: if config.max_delay.is_zero() {
                    0
                } else {
                    u64::from(config.ring_bytes / 16)
                },
            };
            cfg.set(0, ConfigV(c), 0)
                .map_err(map_err(vigil_bpf::maps::CONFIG))?;
        }
        let table = Table::new();
        let mut specs: Array<MapData, SpecV> = Array::try_from(
            bpf.take_map(vigil_bpf::maps::SPECS)
                .ok_or_else(|| missing(vigil_bpf::maps::SPECS))?,
        )
        .map_err(map_err(vigil_bpf::maps::SPECS))?;
        for nr in 0..NR_SYSCALLS as u16 {
            specs
                .set(nr as u32, SpecV(table.spec(nr, false)), 0)
                .map_err(map_err(vigil_bpf::maps::SPECS))?;
        }

        for (name, tp) in vigil_bpf::PROGRAMS {
            let load_err = |e: ProgramError| match eperm_in(&e) {
                Some(source) => SensorError::BpfNotPermitted {
                    during: format!("loading {name}"),
                    source,
                },
                None => SensorError::Verifier {
                    program: name.into(),
                    detail: verifier_tail(&e),
                },
            };
            let program = bpf.program_mut(name).ok_or_else(|| SensorError::Load {
                detail: format!("program {name} missing from the object"),
            })?;
            if vigil_bpf::BTF_PROGRAMS.contains(&name) {
                let prog: &mut BtfTracePoint = program.try_into().map_err(wrong_type)?;
                retry_eagain(|| prog.load(tp, &btf)).map_err(load_err)?;
                prog.attach()
                    .map_err(attach_error(name, &format!("tp_btf/{tp}")))?;
                continue;
            }
            let prog: &mut RawTracePoint = program.try_into().map_err(wrong_type)?;
            retry_eagain(|| prog.load()).map_err(load_err)?;
            // sys_enter runs on every syscall of the machine: it is attached only while
            // something needs it (see `sync_enter`).
            if name != ENTER {
                attach(prog, name, tp)?;
            }
        }

        let path_cache_off = if !config.path_cache {
            Some(PathCacheOff::Config)
        } else {
            crate::uring::first_user(&config.probe_root.join("proc"))
                .map(PathCacheOff::UringAtStart)
        };
        if path_cache_off.is_none() {
            path_gen(&mut bpf)?
                .set(vigil_bpf::path_cache::ENABLED, 1, 0)
                .map_err(map_err(vigil_bpf::maps::PATH_GEN))?;
        }

        let ring = RingBuf::try_from(
            bpf.take_map(vigil_bpf::maps::EVENTS)
                .ok_or_else(|| missing(vigil_bpf::maps::EVENTS))?,
        )
        .map_err(map_err(vigil_bpf::maps::EVENTS))?;
        let drops = PerCpuArray::try_from(
            bpf.take_map(vigil_bpf::maps::DROPS)
                .ok_or_else(|| missing(vigil_bpf::maps::DROPS))?,
        )
        .map_err(map_err(vigil_bpf::maps::DROPS))?;

        Ok(Sensor {
            ring,
            specs,
            drops,
            bpf,
            decoder: Decoder::new(boot_to_wall()),
            table,
            enabled: Box::new([false; NR_SYSCALLS]),
            filter_of: Box::new([0; NR_SYSCALLS]),
            latency: config.latency,
            max_delay: config.max_delay,
            enter_link: None,
            recording: false,
            stats: SensorStats::default(),
            report,
            path_cache_off,
            kernel_reads,
        })
    }

    /// How the programs read kernel structures (kfunc loads or helper calls), and why.
    pub fn kernel_reads(&self) -> KernelReads {
        self.kernel_reads
    }

    /// Kernel ids of the loaded programs (as `bpftool prog show id N` lists them).
    pub fn program_ids(&self) -> Vec<u32> {
        vigil_bpf::PROGRAMS
            .iter()
            .filter_map(|(name, _)| self.bpf.program(name))
            .filter_map(|p| p.info().ok().map(|i| i.id()))
            .collect()
    }

    /// What the feature probes observed (kernel release, non-fatal notes).
    pub fn probe_report(&self) -> &ProbeReport {
        &self.report
    }

    /// Reports exactly these syscall event types from now on (kernel-side filter). Types that
    /// are not syscalls (procexit, container, ...) are ignored: lifecycle events are always
    /// on. Syscalls without a dedicated decoding are reported with `res` only.
    pub fn set_event_types<I: IntoIterator<Item = EventType>>(
        &mut self,
        types: I,
    ) -> Result<(), SensorError> {
        let mut want = [false; NR_SYSCALLS];
        for t in types {
            if let Some(w) = want.get_mut(t.index()) {
                *w = t.is_syscall();
            }
        }
        for (nr, &w) in want.iter().enumerate() {
            if w != self.enabled[nr] {
                self.enabled[nr] = w;
                self.write_spec(nr as u16)?;
            }
        }
        self.sync_enter()
    }

    /// Whether reported syscall `nr` stashes its entry state at sys_enter.
    fn stashes(&self, nr: u16) -> bool {
        self.enabled[nr as usize]
            && (self.latency || self.table.spec(nr, true).fd_src == vigil_bpf::fd_src::ARG0_ENTER)
    }

    /// Attaches the sys_enter program while a reported syscall stashes entry state or a
    /// cgroup's syscalls are being recorded, and detaches it otherwise: an attached raw
    /// tracepoint program costs every syscall on the machine a call, used or not.
    fn sync_enter(&mut self) -> Result<(), SensorError> {
        let want = self.recording || (0..NR_SYSCALLS as u16).any(|nr| self.stashes(nr));
        let prog: &mut RawTracePoint = self
            .bpf
            .program_mut(ENTER)
            .ok_or_else(|| SensorError::Load {
                detail: format!("program {ENTER} missing from the object"),
            })?
            .try_into()
            .map_err(wrong_type)?;
        match (want, self.enter_link.take()) {
            (true, None) => self.enter_link = Some(attach(prog, ENTER, "sys_enter")?),
            (false, Some(link)) => prog.detach(link).map_err(|e| SensorError::Attach {
                program: ENTER.into(),
                tracepoint: "sys_enter".into(),
                detail: chain(&e),
            })?,
            (_, link) => self.enter_link = link,
        }
        Ok(())
    }

    /// True while the sys_enter program is attached.
    pub fn enter_attached(&self) -> bool {
        self.enter_link.is_some()
    }

    /// The kernel spec of `nr` from its table entry, enable bit, stash need and filter.
    fn write_spec(&mut self, nr: u16) -> Result<(), SensorError> {
        let on = self.enabled[nr as usize];
        let mut spec = self.table.spec(nr, on);
        if on {
            spec.enabled |= vigil_bpf::spec::ON;
            if self.stashes(nr) {
                spec.enabled |= vigil_bpf::spec::STASH;
            }
        }
        spec.filter = self.filter_of[nr as usize];
        self.specs
            .set(nr as u32, SpecV(spec), 0)
            .map_err(map_err(vigil_bpf::maps::SPECS))
    }

    /// Installs prefilters for open syscalls (see [`crate::prefilter`]): open events a filter
    /// rejects are dropped in the kernel and counted in [`KernelDrops::filtered`]. Replaces
    /// the previous filters; types not given, or given `None`, report every event. While the
    /// maps are rewritten every open passes, so an update never drops an event a rule needs.
    pub fn set_open_filters(
        &mut self,
        filters: &[(EventType, Option<vigil_event::prefilter::OpenFilter>)],
    ) -> Result<(), SensorError> {
        let compiled = crate::prefilter::compile(filters);
        // 1. Unhook every filter: everything passes from here on.
        for nr in 0..NR_SYSCALLS as u16 {
            if self.filter_of[nr as usize] != 0 {
                self.filter_of[nr as usize] = 0;
                self.write_spec(nr)?;
            }
        }
        // 2. Replace the path trie and the names.
        {
            let mut paths: LpmTrie<_, LpmKeyV, u64> = LpmTrie::try_from(
                self.bpf
                    .map_mut(vigil_bpf::maps::FILTER_PATHS)
                    .ok_or_else(|| missing(vigil_bpf::maps::FILTER_PATHS))?,
            )
            .map_err(map_err(vigil_bpf::maps::FILTER_PATHS))?;
            let old: Vec<Key<LpmKeyV>> = paths.keys().filter_map(Result::ok).collect();
            for k in old {
                paths
                    .remove(&k)
                    .map_err(map_err(vigil_bpf::maps::FILTER_PATHS))?;
            }
            for (k, v) in &compiled.paths {
                let key = Key::new(k.prefixlen, LpmKeyV(k.data));
                paths
                    .insert(&key, v, 0)
                    .map_err(map_err(vigil_bpf::maps::FILTER_PATHS))?;
            }
        }
        {
            let mut names: HashMap<_, NameKeyV, u64> = HashMap::try_from(
                self.bpf
                    .map_mut(vigil_bpf::maps::FILTER_NAMES)
                    .ok_or_else(|| missing(vigil_bpf::maps::FILTER_NAMES))?,
            )
            .map_err(map_err(vigil_bpf::maps::FILTER_NAMES))?;
            let old: Vec<NameKeyV> = names.keys().filter_map(Result::ok).collect();
            for k in old {
                names
                    .remove(&k)
                    .map_err(map_err(vigil_bpf::maps::FILTER_NAMES))?;
            }
            for (k, v) in &compiled.names {
                names
                    .insert(NameKeyV(*k), v, 0)
                    .map_err(map_err(vigil_bpf::maps::FILTER_NAMES))?;
            }
        }
        // Cached path verdicts are bits of the old path sets: a new generation retires them.
        {
            let mut gen = path_gen(&mut self.bpf)?;
            let g = gen
                .get(&vigil_bpf::path_cache::GEN_USER, 0)
                .map_err(map_err(vigil_bpf::maps::PATH_GEN))?;
            gen.set(vigil_bpf::path_cache::GEN_USER, g.wrapping_add(1), 0)
                .map_err(map_err(vigil_bpf::maps::PATH_GEN))?;
        }
        // 3. The filters, then hook them to their syscalls.
        {
            let mut fm: Array<_, FilterV> = Array::try_from(
                self.bpf
                    .map_mut(vigil_bpf::maps::FILTERS)
                    .ok_or_else(|| missing(vigil_bpf::maps::FILTERS))?,
            )
            .map_err(map_err(vigil_bpf::maps::FILTERS))?;
            for (i, (_, f)) in compiled.filters.iter().enumerate() {
                fm.set(i as u32, FilterV(*f), 0)
                    .map_err(map_err(vigil_bpf::maps::FILTERS))?;
            }
        }
        for (i, (nr, _)) in compiled.filters.iter().enumerate() {
            self.filter_of[*nr as usize] = i as u8 + 1;
            self.write_spec(*nr)?;
        }
        Ok(())
    }

    /// Syscall numbers that currently have an open prefilter.
    pub fn filtered_syscalls(&self) -> Vec<EventType> {
        (0..NR_SYSCALLS)
            .filter(|&nr| self.filter_of[nr] != 0)
            .map(|nr| EventType(nr as u16))
            .collect()
    }

    /// Enables every syscall number (benchmarks, debugging).
    pub fn enable_all_syscalls(&mut self) -> Result<(), SensorError> {
        self.set_event_types((0..vigil_event::syscalls::SYSCALL_COUNT as u16).map(EventType))
    }

    /// Syscall event types currently enabled.
    pub fn event_types(&self) -> impl Iterator<Item = EventType> + '_ {
        self.enabled
            .iter()
            .enumerate()
            .filter(|(_, e)| **e)
            .map(|(i, _)| EventType(i as u16))
    }

    /// Waits up to `timeout` (at most [`SensorConfig::max_delay`]) for events, then delivers
    /// every pending one to `f`. Returns the number of events delivered (0 on timeout).
    /// Undecodable records are counted in [`SensorStats::decode_errors`] and skipped.
    pub fn poll<F: FnMut(&Event<'_>)>(
        &mut self,
        timeout: Duration,
        mut f: F,
    ) -> Result<usize, SensorError> {
        let mut delivered = self.drain(&mut f);
        if delivered > 0 {
            return Ok(delivered);
        }
        let mut pfd = libc::pollfd {
            fd: self.ring.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // Records below the wake-up threshold do not wake us: look again after max_delay.
        let timeout = if self.max_delay.is_zero() {
            timeout
        } else {
            timeout.min(self.max_delay)
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: pfd is a valid pollfd for the duration of the call; nfds is 1.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(SensorError::Io {
                    what: "poll on the ring buffer".into(),
                    source: e,
                });
            }
        }
        delivered += self.drain(&mut f);
        Ok(delivered)
    }

    fn drain<F: FnMut(&Event<'_>)>(&mut self, f: &mut F) -> usize {
        let mut n = 0;
        let stats = &mut self.stats;
        // Bounded so a producer faster than the consumer cannot keep poll() from returning.
        for _ in 0..MAX_BATCH {
            let Some(item) = self.ring.next() else { break };
            let mut category = None;
            let r = self.decoder.decode(&item, |ev| {
                category = Some(ev.etype.category());
                f(ev)
            });
            match r {
                Ok(kind) => {
                    n += 1;
                    match kind {
                        RecordKind::Syscall => {
                            stats.syscall_events += 1;
                            if let Some(c) = category {
                                stats.by_category[category_index(c) as usize] += 1;
                            }
                        }
                        RecordKind::Lifecycle => stats.lifecycle_events += 1,
                        RecordKind::Exit => stats.exit_events += 1,
                    }
                }
                Err(DecodeError::TooShort { .. })
                | Err(DecodeError::UnknownKind(_))
                | Err(DecodeError::BadBlob { .. })
                | Err(DecodeError::TooManyBlobs) => stats.decode_errors += 1,
            }
        }
        n
    }

    /// Counters, including the kernel-side drop counters (summed over CPUs).
    pub fn stats(&self) -> SensorStats {
        let mut s = self.stats;
        let slot = |i: u32| -> u64 {
            self.drops
                .get(&i, 0)
                .map(|v| v.iter().copied().sum())
                .unwrap_or(0)
        };
        s.kernel = KernelDrops {
            syscall: slot(drop_slot::SYSCALL),
            lifecycle: slot(drop_slot::PROC),
            exit: slot(drop_slot::EXIT),
            stash: slot(drop_slot::STASH),
            truncated: slot(drop_slot::TRUNC),
            path_truncated: slot(drop_slot::PATH),
            filtered: slot(drop_slot::FILTERED),
        };
        for (i, d) in s.dropped_by_category.iter_mut().enumerate() {
            *d = slot(drop_slot::CATEGORY + i as u32);
        }
        s.path_cache = self.path_cache_stats();
        s
    }

    /// The path cache's state and counters (summed over CPUs).
    pub fn path_cache_stats(&self) -> PathCacheStats {
        use vigil_bpf::path_cache as pc;
        let enabled = self
            .bpf
            .map(vigil_bpf::maps::PATH_GEN)
            .and_then(|m| Array::<_, u64>::try_from(m).ok())
            .and_then(|a| a.get(&pc::ENABLED, 0).ok())
            .unwrap_or(0)
            != 0;
        let counters = self
            .bpf
            .map(vigil_bpf::maps::PATH_CACHE_STATS)
            .and_then(|m| PerCpuArray::<_, u64>::try_from(m).ok());
        let count = |i: u32| -> u64 {
            counters
                .as_ref()
                .and_then(|a| a.get(&i, 0).ok())
                .map(|v| v.iter().copied().sum())
                .unwrap_or(0)
        };
        let off = match (self.path_cache_off, enabled) {
            (Some(why), _) => Some(why),
            (None, false) => Some(PathCacheOff::UringSetUp),
            (None, true) => None,
        };
        PathCacheStats {
            off,
            hits: count(pc::HIT),
            inserts: count(pc::INSERT),
        }
    }

    /// Starts learning the syscall set of a cgroup (profile feature; kernel side only so far):
    /// from now on `sys_enter` sets bit `nr` in `cgroup_syscalls[cgroup_id]`.
    pub fn record_cgroup(&mut self, cgroup_id: u64) -> Result<(), SensorError> {
        {
            let mut rec: HashMap<_, u64, u8> = HashMap::try_from(
                self.bpf
                    .map_mut(vigil_bpf::maps::CGROUP_RECORD)
                    .ok_or_else(|| missing(vigil_bpf::maps::CGROUP_RECORD))?,
            )
            .map_err(map_err(vigil_bpf::maps::CGROUP_RECORD))?;
            rec.insert(cgroup_id, 1, 0)
                .map_err(map_err(vigil_bpf::maps::CGROUP_RECORD))?;
        }
        let mut cfg: Array<_, ConfigV> = Array::try_from(
            self.bpf
                .map_mut(vigil_bpf::maps::CONFIG)
                .ok_or_else(|| missing(vigil_bpf::maps::CONFIG))?,
        )
        .map_err(map_err(vigil_bpf::maps::CONFIG))?;
        let mut c = cfg.get(&0, 0).map_err(map_err(vigil_bpf::maps::CONFIG))?;
        c.0.record_cgroups = 1;
        cfg.set(0, c, 0).map_err(map_err(vigil_bpf::maps::CONFIG))?;
        self.recording = true;
        self.sync_enter()
    }

    /// The syscalls seen so far in a cgroup passed to [`Sensor::record_cgroup`].
    pub fn cgroup_syscalls(&self, cgroup_id: u64) -> Result<Vec<EventType>, SensorError> {
        let m: HashMap<_, u64, Bitmap> = HashMap::try_from(
            self.bpf
                .map(vigil_bpf::maps::CGROUP_SYSCALLS)
                .ok_or_else(|| missing(vigil_bpf::maps::CGROUP_SYSCALLS))?,
        )
        .map_err(map_err(vigil_bpf::maps::CGROUP_SYSCALLS))?;
        let bm = match m.get(&cgroup_id, 0) {
            Ok(b) => b,
            Err(aya::maps::MapError::KeyNotFound) => return Ok(Vec::new()),
            Err(e) => return Err(map_err(vigil_bpf::maps::CGROUP_SYSCALLS)(e)),
        };
        Ok((0..NR_SYSCALLS)
            .filter(|i| bm.0[i / 64] & (1 << (i % 64)) != 0)
            .map(|i| EventType(i as u16))
            .collect())
    }
}

/// Ids of every eBPF program currently loaded in the kernel (any owner).
pub fn loaded_program_ids() -> Vec<u32> {
    aya::programs::loaded_programs()
        .filter_map(|p| p.ok().map(|i| i.id()))
        .collect()
}

fn missing(map: &'static str) -> SensorError {
    SensorError::Map {
        map,
        detail: "missing from the eBPF object".into(),
    }
}

/// The last part of a verifier log, which names the failing instruction.
fn verifier_tail(e: &aya::programs::ProgramError) -> String {
    if let aya::programs::ProgramError::LoadError { verifier_log, .. } = e {
        let log = verifier_log.to_string();
        let tail: Vec<&str> = log.lines().rev().take(12).collect();
        return tail.into_iter().rev().collect::<Vec<_>>().join("\n");
    }
    chain(e)
}

/// Nanoseconds to add to CLOCK_BOOTTIME (the kernel's `bpf_ktime_get_boot_ns`) to get the
/// Unix epoch.
fn boot_to_wall() -> u64 {
    let now = |clock| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: ts is a valid, writable timespec.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    };
    let boot = now(libc::CLOCK_BOOTTIME);
    let wall = now(libc::CLOCK_REALTIME);
    wall.saturating_sub(boot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syscall_error(code: i32) -> ProgramError {
        ProgramError::SyscallError(aya::sys::SyscallError {
            call: "bpf_prog_load",
            io_error: std::io::Error::from_raw_os_error(code),
        })
    }

    #[test]
    fn eagain_is_retried_a_few_times_and_other_errors_not_at_all() {
        let mut calls = 0;
        let r = retry_eagain(|| {
            calls += 1;
            if calls < 3 {
                Err(syscall_error(libc::EAGAIN))
            } else {
                Ok(())
            }
        });
        assert!(r.is_ok());
        assert_eq!(calls, 3);

        let mut calls = 0;
        let r = retry_eagain(|| {
            calls += 1;
            Err(syscall_error(libc::EAGAIN))
        });
        assert!(r.is_err_and(|e| errno_in(&e, libc::EAGAIN)));
        assert_eq!(calls, 5);

        let mut calls = 0;
        let r = retry_eagain(|| {
            calls += 1;
            Err(syscall_error(libc::EINVAL))
        });
        assert!(r.is_err_and(|e| eperm_in(&e).is_none() && errno_in(&e, libc::EINVAL)));
        assert_eq!(calls, 1);
    }

    #[test]
    fn sensor_can_move_to_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<Sensor>();
    }

    #[test]
    fn config_validation() {
        assert!(SensorConfig::default().validate().is_ok());
        let bad = SensorConfig {
            ring_bytes: 3000,
            ..SensorConfig::default()
        };
        assert!(matches!(bad.validate(), Err(SensorError::Config(_))));
    }
}
