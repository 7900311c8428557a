//! The live enforcer: loads the enforcement programs, keeps the kernel maps in step with the
//! loaded policies and the running containers, drains kernel reports and runs user-space
//! responses.
//!
//! Lifecycle: [`Enforcer::open`] validates and compiles every policy *before* touching the
//! kernel, writes all policy entries, then attaches. Containers are enforced from the moment
//! [`Enforcer::container_started`] writes their cgroup id (call it before the entrypoint
//! runs: `podman init` leaves runc's init waiting on its exec fifo inside the container's
//! cgroups). [`Enforcer::reload`] writes the new policies into fresh slots, repoints every
//! container, then frees the old slots; on any failure the new entries are removed and the
//! old policies stay in force (never half-applied). Dropping the enforcer detaches every
//! program and frees every map (aya closes the descriptors): no kernel state survives,
//! unless [`Options::pin`] asks for it (see "Pinning" below).
//!
//! We rejected attaching the network programs per container cgroup: on this hybrid host
//! containers have no cgroup v2 directory of their own, so the programs sit at the v2 root
//! and look the container up by the same cgroup id as the other programs. The cgroup
//! programs are attached with our own BPF_LINK_CREATE ([`crate::sys`]) rather than aya's
//! `attach`, because aya 0.13 cannot hand out (and so cannot pin) a cgroup bpf_link.
//!
//! Pinning: with `Options::pin = Some(root)`, every map and link is pinned under
//! `root/<generation>/` right after a successful start, so the programs stay attached, with
//! their policies and containers, when the agent exits or dies. The next enforcer started
//! with the same root attaches its own generation first, then drains the old generation's
//! report ring (actions taken while no agent ran, delivered by the first [`Enforcer::poll`]
//! with `previous_run` set) and removes the old pins, which detaches the old programs: there
//! is no moment without enforcement. [`remove_pins`] removes everything (`vigil policy
//! unpin`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{Array, HashMap, Map, MapData, MapError, PerCpuArray, RingBuf};
use aya::programs::links::FdLink;
use aya::programs::{CgroupSockAddr, RawTracePoint};
use aya::{Btf, Ebpf, EbpfLoader};

use crate::action::{Action, ActionReport, Origin, Outcome, RuleAction, Target};
use crate::compile::{self, CompiledPolicy, Verdict};
use crate::executor::{Executor, Isolation};
use crate::kernel::{
    self, maps, ContainerSlots, Net4KeyData, Net6KeyData, NetRule, NetRules, PathKeyData,
    PolicyState,
};
use crate::policy::{Mode, PolicyFile};
use crate::{cgroup, sys, unix_hooks, Error};

/// Number of policy slots (two generations of up to 128 policies each during a reload).
pub const SLOTS: u32 = 256;

/// Capacities and roots.
#[derive(Debug, Clone)]
pub struct Options {
    /// Containers the kernel map holds.
    pub containers_capacity: u32,
    /// Path entries (all policies).
    pub paths_capacity: u32,
    /// CIDR entries per family (all policies).
    pub net_capacity: u32,
    pub btf_path: PathBuf,
    pub proc_root: PathBuf,
    pub cgroup_root: PathBuf,
    /// Attach the connect/sendmsg programs (needs a cgroup v2 mount).
    pub network: bool,
    /// Pin maps and links under this directory (on a bpf filesystem, e.g.
    /// `/sys/fs/bpf/vigil`) so enforcement survives the agent; `None`: nothing outlives it.
    pub pin: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            containers_capacity: 4096,
            paths_capacity: 16384,
            net_capacity: 4096,
            btf_path: "/sys/kernel/btf/vmlinux".into(),
            proc_root: "/proc".into(),
            cgroup_root: "/sys/fs/cgroup".into(),
            network: true,
            pin: None,
        }
    }
}

struct Loaded {
    compiled: CompiledPolicy,
    mode: Mode,
}

struct Applied {
    container: vigil_event::Container,
    slots: Vec<u32>,
}

/// How connects to denied unix socket paths are stopped on this kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnixEnforcement {
    /// cgroup `connect_unix`/`sendmsg_unix` programs: the call fails with EPERM.
    CgroupHooks,
    /// The kernel (or configuration) has no unix hooks: the caller is killed at
    /// `sys_exit(connect)`; the connection was established, nothing was sent. Says why.
    KillAtSyscallExit(String),
}

impl std::fmt::Display for UnixEnforcement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnixEnforcement::CgroupHooks => {
                f.write_str("cgroup connect_unix/sendmsg_unix hooks (EPERM)")
            }
            UnixEnforcement::KillAtSyscallExit(why) => {
                write!(f, "SIGKILL at sys_exit(connect) ({why})")
            }
        }
    }
}

/// Kernel counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Reports lost because the ring buffer was full (the action itself still happened).
    pub reports_lost: u64,
    /// Paths longer than the kernel key (matched on their first 251 bytes).
    pub paths_truncated: u64,
}

/// See the module documentation.
pub struct Enforcer {
    containers: HashMap<MapData, u64, ContainerSlots>,
    policy_map: Array<MapData, PolicyState>,
    paths: LpmTrie<MapData, PathKeyData, u32>,
    net4: LpmTrie<MapData, Net4KeyData, NetRules>,
    net6: LpmTrie<MapData, Net6KeyData, NetRules>,
    ring: RingBuf<MapData>,
    counters: PerCpuArray<MapData, u64>,
    config: Array<MapData, u32>,
    slots: Vec<Option<Loaded>>,
    live: BTreeMap<u64, Applied>,
    /// Runs user-space responses; shares the isolation map with its clones.
    executor: Executor,
    opts: Options,
    network_attached: bool,
    unix: UnixEnforcement,
    /// Duplicates of every map's descriptor, by name (unix hook relocation, pinning).
    map_fds: Vec<(String, OwnedFd)>,
    /// Raw tracepoint links, taken from aya (dropping one detaches it unless pinned).
    tp_links: Vec<(String, FdLink)>,
    /// Our cgroup links (name, link); dropping one detaches it unless pinned.
    cgroup_links: Vec<(String, OwnedFd)>,
    /// Programs loaded outside aya (the unix hooks).
    _extra_progs: Vec<OwnedFd>,
    /// This enforcer's pin directory, when pinning.
    pin_dir: Option<PathBuf>,
    /// Reports drained from a previous run's pinned ring, delivered by the next poll.
    carried: Vec<ActionReport>,
    // Last: owns programs; dropping it unloads those no link holds.
    _bpf: Ebpf,
}

impl std::fmt::Debug for Enforcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enforcer")
            .field("policies", &self.policy_names())
            .field("containers", &self.live.len())
            .field("network_attached", &self.network_attached)
            .field("unix", &self.unix)
            .field("pin_dir", &self.pin_dir)
            .finish()
    }
}

fn io_errno(e: &(dyn std::error::Error + 'static)) -> Option<i32> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return io.raw_os_error();
        }
        if let Some(MapError::SyscallError(s)) = err.downcast_ref::<MapError>() {
            return s.io_error.raw_os_error();
        }
        cur = err.source();
    }
    None
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(err) = cur {
        s.push_str(": ");
        s.push_str(&err.to_string());
        cur = err.source();
    }
    s
}

fn kernel_err(during: impl Into<String>, e: &(dyn std::error::Error + 'static)) -> Error {
    let during = during.into();
    match io_errno(e) {
        Some(libc::EPERM) => Error::Permission { during },
        _ => Error::Kernel {
            during,
            message: chain(e),
        },
    }
}

pub(crate) fn map_err(map: &'static str, capacity: u32, during: String, e: MapError) -> Error {
    match io_errno(&e) {
        Some(libc::E2BIG) | Some(libc::ENOSPC) | Some(libc::ENOMEM) => Error::MapFull {
            map,
            capacity,
            during,
        },
        _ => kernel_err(during, &e),
    }
}

fn path_key(slot: u32, kind: u8, bytes: &[u8]) -> Key<PathKeyData> {
    let mut data = PathKeyData {
        slot,
        kind,
        path: [0; kernel::PATH_MAX],
    };
    let n = bytes.len().min(kernel::PATH_MAX);
    data.path[..n].copy_from_slice(&bytes[..n]);
    Key::new(((5 + n) * 8) as u32, data)
}

fn net_value(rules: &[compile::FlatRule]) -> NetRules {
    let mut v = NetRules::default();
    for (i, r) in rules.iter().take(kernel::NET_RULES).enumerate() {
        v.r[i] = NetRule {
            verdict: if r.verdict == Verdict::Deny {
                kernel::DENY
            } else {
                kernel::ALLOW
            },
            proto: r.proto,
            port_lo: r.lo,
            port_hi: r.hi,
            pad: 0,
        };
        v.n = i as u32 + 1;
    }
    v
}

fn take<T>(bpf: &mut Ebpf, name: &'static str) -> Result<T, Error>
where
    T: TryFrom<aya::maps::Map, Error = MapError>,
{
    let map = bpf.take_map(name).ok_or_else(|| Error::Kernel {
        during: "loading the enforcement object".into(),
        message: format!("map `{name}` missing from the object"),
    })?;
    T::try_from(map).map_err(|e| kernel_err(format!("opening map `{name}`"), &e))
}

fn mode_code(m: Mode) -> u32 {
    match m {
        Mode::Audit => kernel::MODE_AUDIT,
        Mode::Enforce => kernel::MODE_ENFORCE,
    }
}

/// Now on the clock `bpf_ktime_get_ns` uses.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid, owned `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl Enforcer {
    /// Validates, compiles and loads `files` with default [`Options`].
    pub fn open(files: &[PolicyFile]) -> Result<Enforcer, Error> {
        Enforcer::open_with(files, Options::default())
    }

    /// As [`Enforcer::open`], with explicit capacities and roots.
    pub fn open_with(files: &[PolicyFile], opts: Options) -> Result<Enforcer, Error> {
        let compiled = compile_all(files)?;
        if compiled.len() > (SLOTS / 2) as usize {
            return Err(Error::Compile(format!(
                "{} policies loaded; at most {} are supported",
                compiled.len(),
                SLOTS / 2
            )));
        }
        if let Some(root) = &opts.pin {
            ensure_bpffs(root)?;
        }
        let btf = Btf::parse_file(&opts.btf_path, aya::Endianness::default())
            .map_err(|e| kernel_err(format!("reading BTF {}", opts.btf_path.display()), &e))?;
        let mut bpf = EbpfLoader::new()
            .btf(Some(&btf))
            .set_max_entries(maps::CONTAINERS, opts.containers_capacity)
            .set_max_entries(maps::ISOLATED, opts.containers_capacity)
            .set_max_entries(maps::PATHS, opts.paths_capacity)
            .set_max_entries(maps::NET4, opts.net_capacity)
            .set_max_entries(maps::NET6, opts.net_capacity)
            .load(kernel::OBJECT)
            .map_err(|e| kernel_err("loading the enforcement object (maps)", &e))?;
        let mut map_fds = Vec::new();
        for (name, map) in bpf.maps() {
            let fd = map_data(map)
                .ok_or_else(|| Error::Kernel {
                    during: "loading the enforcement object".into(),
                    message: format!("map `{name}` has an unexpected type"),
                })?
                .fd()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| kernel_err(format!("duplicating map `{name}`"), &e))?;
            map_fds.push((name.to_string(), fd));
        }
        let mut enf = Enforcer {
            containers: take(&mut bpf, maps::CONTAINERS)?,
            policy_map: take(&mut bpf, maps::POLICIES)?,
            paths: take(&mut bpf, maps::PATHS)?,
            net4: take(&mut bpf, maps::NET4)?,
            net6: take(&mut bpf, maps::NET6)?,
            ring: take(&mut bpf, maps::REPORTS)?,
            counters: take(&mut bpf, maps::COUNTERS)?,
            config: take(&mut bpf, maps::CONFIG)?,
            slots: (0..SLOTS).map(|_| None).collect(),
            live: BTreeMap::new(),
            executor: Executor {
                proc_root: opts.proc_root.clone(),
                cgroup_root: opts.cgroup_root.clone(),
                network: false,
                capacity: opts.containers_capacity,
                isolation: Arc::new(Mutex::new(Isolation {
                    map: take(&mut bpf, maps::ISOLATED)?,
                    set: BTreeSet::new(),
                })),
            },
            network_attached: false,
            unix: UnixEnforcement::KillAtSyscallExit("network programs not attached".into()),
            map_fds,
            tp_links: Vec::new(),
            cgroup_links: Vec::new(),
            _extra_progs: Vec::new(),
            pin_dir: None,
            carried: Vec::new(),
            opts,
            _bpf: bpf,
        };
        // Policies first, programs second: the first program run already sees them.
        let slots: Vec<u32> = (0..compiled.len() as u32).collect();
        enf.write_generation(compiled, &slots)?;
        enf.attach(&btf)?;
        if let Some(root) = enf.opts.pin.clone() {
            enf.pin_and_take_over(&root)?;
        }
        Ok(enf)
    }

    fn attach(&mut self, btf: &Btf) -> Result<(), Error> {
        for (name, tp) in kernel::TRACEPOINTS {
            let prog: &mut RawTracePoint = self
                ._bpf
                .program_mut(name)
                .ok_or_else(|| Error::Kernel {
                    during: "loading".into(),
                    message: format!("program {name} missing"),
                })?
                .try_into()
                .map_err(|e| kernel_err(format!("program {name}"), &e))?;
            prog.load()
                .map_err(|e| kernel_err(format!("loading {name} (verifier)"), &e))?;
            let id = prog
                .attach(tp)
                .map_err(|e| kernel_err(format!("attaching {name} to {tp}"), &e))?;
            let link = prog
                .take_link(id)
                .map_err(|e| kernel_err(format!("attaching {name} to {tp}"), &e))?;
            self.tp_links.push((name.to_string(), FdLink::from(link)));
        }
        if !self.opts.network {
            self.unix = UnixEnforcement::KillAtSyscallExit(
                "network programs disabled (Options::network)".into(),
            );
            return Ok(());
        }
        let dir = cgroup::cgroup2_dir(&self.opts.cgroup_root);
        let cg = File::open(&dir)
            .map_err(|e| kernel_err(format!("opening cgroup v2 root {}", dir.display()), &e))?;
        for (name, attach_type) in kernel::SOCK_ADDR {
            let prog: &mut CgroupSockAddr = self
                ._bpf
                .program_mut(name)
                .ok_or_else(|| Error::Kernel {
                    during: "loading".into(),
                    message: format!("program {name} missing"),
                })?
                .try_into()
                .map_err(|e| kernel_err(format!("program {name}"), &e))?;
            prog.load()
                .map_err(|e| kernel_err(format!("loading {name} (verifier)"), &e))?;
            let fd = prog
                .fd()
                .map_err(|e| kernel_err(format!("program {name}"), &e))?;
            // A cgroup bpf_link coexists with other programs at the same hook (multi).
            let link = sys::link_create(fd.as_fd(), cg.as_fd(), attach_type)
                .map_err(|e| kernel_err(format!("attaching {name} to {}", dir.display()), &e))?;
            self.cgroup_links.push((name.to_string(), link));
        }
        self.network_attached = true;
        self.executor.network = true;
        self.unix = match self.attach_unix(btf, &cg) {
            Ok(()) => UnixEnforcement::CgroupHooks,
            Err(why) => UnixEnforcement::KillAtSyscallExit(why),
        };
        Ok(())
    }

    /// Loads and attaches the unix socket hooks, then tells the sys_exit program to leave
    /// AF_UNIX connects to them. On any failure nothing of them stays attached.
    fn attach_unix(&mut self, btf: &Btf, cg: &File) -> Result<(), String> {
        let fds: std::collections::HashMap<String, std::os::fd::RawFd> = self
            .map_fds
            .iter()
            .map(|(n, fd)| (n.clone(), fd.as_raw_fd()))
            .collect();
        let progs = unix_hooks::load(kernel::OBJECT, btf, &fds)?;
        let mut links = Vec::new();
        for ((name, _), (attach_type, prog)) in unix_hooks::PROGRAMS.iter().zip(&progs) {
            let link = sys::link_create(prog.as_fd(), cg.as_fd(), *attach_type)
                .map_err(|e| format!("attaching {name}: {e}"))?;
            links.push((name.to_string(), link));
        }
        self.config
            .set(0, kernel::CFG_UNIX_HOOKS, 0)
            .map_err(|e| format!("writing the config map: {e}"))?;
        self.cgroup_links.extend(links);
        self._extra_progs
            .extend(progs.into_iter().map(|(_, fd)| fd));
        Ok(())
    }

    /// Pins this generation under `root`, then retires older generations (see module doc).
    fn pin_and_take_over(&mut self, root: &Path) -> Result<(), Error> {
        let gen = root.join(format!("gen-{}-{}", std::process::id(), monotonic_ns()));
        let pin_err = |what: &str, e: &dyn std::fmt::Display| Error::Kernel {
            during: format!("pinning under {}", root.display()),
            message: format!("{what}: {e} (is {} on a bpf filesystem?)", root.display()),
        };
        std::fs::create_dir_all(gen.join("maps"))
            .and_then(|()| std::fs::create_dir_all(gen.join("links")))
            .map_err(|e| pin_err("creating directories", &e))?;
        let result = (|| {
            for (name, fd) in &self.map_fds {
                sys::obj_pin(fd.as_fd(), &gen.join("maps").join(name))
                    .map_err(|e| pin_err(&format!("map {name}"), &e))?;
            }
            for (name, link) in &self.cgroup_links {
                sys::obj_pin(link.as_fd(), &gen.join("links").join(name))
                    .map_err(|e| pin_err(&format!("link {name}"), &e))?;
            }
            let tp = std::mem::take(&mut self.tp_links);
            for (name, link) in tp {
                let pinned = link
                    .pin(gen.join("links").join(&name))
                    .map_err(|e| pin_err(&format!("link {name}"), &e))?;
                self.tp_links.push((name, FdLink::from(pinned)));
            }
            Ok(())
        })();
        if let Err(e) = result {
            let _ = remove_generation(&gen);
            return Err(e);
        }
        self.pin_dir = Some(gen.clone());
        // Retire older generations: drain what they did meanwhile, then unpin.
        let entries = std::fs::read_dir(root).map_err(|e| pin_err("listing", &e))?;
        for entry in entries.flatten() {
            let old = entry.path();
            if old == gen || !entry.file_name().to_string_lossy().starts_with("gen-") {
                continue;
            }
            if let Ok(data) = MapData::from_pin(old.join("maps").join(maps::REPORTS)) {
                if let Ok(mut ring) = RingBuf::try_from(Map::RingBuf(data)) {
                    while let Some(item) = ring.next() {
                        if let Some(raw) = kernel::RawReport::from_bytes(&item) {
                            let mut r = self.decode_with(&raw, false);
                            r.previous_run = true;
                            self.carried.push(r);
                        }
                    }
                }
            }
            remove_generation(&old).map_err(|e| pin_err("removing an old generation", &e))?;
        }
        Ok(())
    }

    /// How connects to denied unix socket paths are stopped.
    pub fn unix_enforcement(&self) -> &UnixEnforcement {
        &self.unix
    }

    /// The pin directory of this enforcer's generation, when pinning.
    pub fn pin_dir(&self) -> Option<&Path> {
        self.pin_dir.as_deref()
    }

    /// Writes compiled policies into `slots`; on failure removes what it wrote.
    fn write_generation(
        &mut self,
        compiled: Vec<CompiledPolicy>,
        slots: &[u32],
    ) -> Result<(), Error> {
        for (i, (c, &slot)) in compiled.iter().zip(slots).enumerate() {
            if let Err(e) = self.write_policy(slot, c) {
                for &s in &slots[..=i] {
                    self.erase_entries(
                        s,
                        &compiled[slots.iter().position(|x| *x == s).unwrap_or(0)],
                    );
                }
                return Err(e);
            }
        }
        for (c, &slot) in compiled.into_iter().zip(slots) {
            let mode = c.policy.mode;
            let state = PolicyState {
                mode: mode_code(mode),
                flags: c.flags(),
            };
            self.policy_map
                .set(slot, state, 0)
                .map_err(|e| kernel_err(format!("writing policy `{}`", c.policy.name), &e))?;
            self.slots[slot as usize] = Some(Loaded { compiled: c, mode });
        }
        Ok(())
    }

    fn write_policy(&mut self, slot: u32, c: &CompiledPolicy) -> Result<(), Error> {
        let name = &c.policy.name;
        for e in &c.paths {
            let key = path_key(slot, e.kind.code(), &e.bytes);
            let v = if e.verdict == Verdict::Deny {
                kernel::DENY
            } else {
                kernel::ALLOW
            } as u32;
            self.paths.insert(&key, v, 0).map_err(|err| {
                map_err(
                    maps::PATHS,
                    self.opts.paths_capacity,
                    format!("loading policy `{name}`"),
                    err,
                )
            })?;
        }
        for n in &c.nets {
            let value = net_value(&n.rules);
            match n.addr {
                IpAddr::V4(a) => {
                    let key = Key::new(
                        32 + n.prefix as u32,
                        Net4KeyData {
                            slot,
                            addr: a.octets(),
                        },
                    );
                    self.net4.insert(&key, value, 0).map_err(|err| {
                        map_err(
                            maps::NET4,
                            self.opts.net_capacity,
                            format!("loading policy `{name}`"),
                            err,
                        )
                    })?;
                }
                IpAddr::V6(a) => {
                    let key = Key::new(
                        32 + n.prefix as u32,
                        Net6KeyData {
                            slot,
                            addr: a.octets(),
                        },
                    );
                    self.net6.insert(&key, value, 0).map_err(|err| {
                        map_err(
                            maps::NET6,
                            self.opts.net_capacity,
                            format!("loading policy `{name}`"),
                            err,
                        )
                    })?;
                }
            }
        }
        Ok(())
    }

    fn erase_entries(&mut self, slot: u32, c: &CompiledPolicy) {
        // Removal of an absent key fails with ENOENT; that is the expected case for entries
        // a failed write never reached.
        for e in &c.paths {
            let _ = self.paths.remove(&path_key(slot, e.kind.code(), &e.bytes));
        }
        for n in &c.nets {
            match n.addr {
                IpAddr::V4(a) => {
                    let _ = self.net4.remove(&Key::new(
                        32 + n.prefix as u32,
                        Net4KeyData {
                            slot,
                            addr: a.octets(),
                        },
                    ));
                }
                IpAddr::V6(a) => {
                    let _ = self.net6.remove(&Key::new(
                        32 + n.prefix as u32,
                        Net6KeyData {
                            slot,
                            addr: a.octets(),
                        },
                    ));
                }
            }
        }
    }

    /// Names and modes of the loaded policies.
    pub fn policy_names(&self) -> Vec<(String, Mode)> {
        self.slots
            .iter()
            .flatten()
            .map(|l| (l.compiled.policy.name.clone(), l.mode))
            .collect()
    }

    /// Whether the connect/sendmsg programs are attached.
    pub fn network_attached(&self) -> bool {
        self.network_attached
    }

    /// Applies every policy whose scope selects `container` to the cgroup `cgroup_id`.
    /// Returns the names of the applied policies (empty: none selects it, nothing written).
    pub fn container_started(
        &mut self,
        cgroup_id: u64,
        container: &vigil_event::Container,
    ) -> Result<Vec<String>, Error> {
        let slots = self.select(container);
        self.apply(cgroup_id, container.clone(), slots)
    }

    /// As [`Enforcer::container_started`], finding the cgroup from a process of the container
    /// (e.g. the runc init pid after `podman init`). Returns the cgroup id and policy names.
    pub fn container_started_pid(
        &mut self,
        pid: u32,
        container: &vigil_event::Container,
    ) -> Result<(u64, Vec<String>), Error> {
        let loc = cgroup::locate(&self.opts.proc_root, &self.opts.cgroup_root, pid)?;
        let names = self.container_started(loc.id, container)?;
        Ok((loc.id, names))
    }

    fn select(&self, container: &vigil_event::Container) -> Vec<u32> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.as_ref()
                    .filter(|l| l.compiled.policy.scope.matches(container))
                    .map(|_| i as u32)
            })
            .collect()
    }

    fn apply(
        &mut self,
        cgroup_id: u64,
        container: vigil_event::Container,
        slots: Vec<u32>,
    ) -> Result<Vec<String>, Error> {
        let names: Vec<String> = slots.iter().filter_map(|&s| self.slot_name(s)).collect();
        if slots.len() > kernel::MAX_SLOTS {
            return Err(Error::TooManyPolicies {
                cgroup_id,
                count: slots.len(),
                max: kernel::MAX_SLOTS,
                names: names.join(", "),
            });
        }
        if slots.is_empty() {
            if self.live.remove(&cgroup_id).is_some() {
                let _ = self.containers.remove(&cgroup_id);
            }
            return Ok(names);
        }
        let mut v = ContainerSlots {
            n: slots.len() as u32,
            ..Default::default()
        };
        v.slots[..slots.len()].copy_from_slice(&slots);
        self.containers.insert(cgroup_id, v, 0).map_err(|e| {
            map_err(
                maps::CONTAINERS,
                self.opts.containers_capacity,
                format!("applying policies to container {cgroup_id:#x}"),
                e,
            )
        })?;
        self.live.insert(cgroup_id, Applied { container, slots });
        Ok(names)
    }

    fn slot_name(&self, slot: u32) -> Option<String> {
        self.slots
            .get(slot as usize)?
            .as_ref()
            .map(|l| l.compiled.policy.name.clone())
    }

    /// Removes a container's entries (policies and isolation). Returns whether it was known.
    pub fn container_stopped(&mut self, cgroup_id: u64) -> bool {
        let known = self.live.remove(&cgroup_id).is_some();
        if known {
            let _ = self.containers.remove(&cgroup_id);
        }
        self.unisolate(cgroup_id);
        known
    }

    /// Names of the policies applied to a container cgroup.
    pub fn applied(&self, cgroup_id: u64) -> Vec<String> {
        self.live
            .get(&cgroup_id)
            .map(|a| a.slots.iter().filter_map(|&s| self.slot_name(s)).collect())
            .unwrap_or_default()
    }

    /// Cgroup ids with policies applied.
    pub fn containers(&self) -> Vec<u64> {
        self.live.keys().copied().collect()
    }

    /// Switches a policy between audit and enforce, effective for the next decision.
    pub fn set_mode(&mut self, policy: &str, mode: Mode) -> Result<(), Error> {
        let slot = self
            .slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|l| l.compiled.policy.name == policy))
            .ok_or_else(|| Error::UnknownPolicy(policy.to_string()))?;
        let Some(loaded) = self.slots[slot].as_mut() else {
            return Err(Error::UnknownPolicy(policy.to_string()));
        };
        let state = PolicyState {
            mode: mode_code(mode),
            flags: loaded.compiled.flags(),
        };
        self.policy_map
            .set(slot as u32, state, 0)
            .map_err(|e| kernel_err(format!("switching policy `{policy}` to {mode}"), &e))?;
        loaded.mode = mode;
        Ok(())
    }

    /// Replaces the loaded policies: validate and compile, write into fresh slots, repoint
    /// every container, free the old slots. On error nothing changes.
    pub fn reload(&mut self, files: &[PolicyFile]) -> Result<(), Error> {
        let compiled = compile_all(files)?;
        let free: Vec<u32> = (0..SLOTS)
            .filter(|&s| self.slots[s as usize].is_none())
            .take(compiled.len())
            .collect();
        if free.len() < compiled.len() {
            return Err(Error::Compile(format!(
                "{} policies do not fit next to the loaded ones ({SLOTS} slots)",
                compiled.len()
            )));
        }
        let old: Vec<u32> = (0..SLOTS)
            .filter(|&s| self.slots[s as usize].is_some())
            .collect();
        // Check every container's new selection before writing anything.
        let probe: Vec<_> = compiled.iter().map(|c| c.policy.scope.clone()).collect();
        for (&cg, a) in &self.live {
            let n = probe.iter().filter(|s| s.matches(&a.container)).count();
            if n > kernel::MAX_SLOTS {
                return Err(Error::TooManyPolicies {
                    cgroup_id: cg,
                    count: n,
                    max: kernel::MAX_SLOTS,
                    names: String::new(),
                });
            }
        }
        self.write_generation(compiled, &free)?;
        // Hide the old generation from selection, repoint containers.
        let old_loaded: Vec<(u32, Loaded)> = old
            .iter()
            .filter_map(|&s| self.slots[s as usize].take().map(|l| (s, l)))
            .collect();
        let live: Vec<(u64, vigil_event::Container)> = self
            .live
            .iter()
            .map(|(k, a)| (*k, a.container.clone()))
            .collect();
        for (cg, c) in live {
            let slots = self.select(&c);
            self.apply(cg, c, slots)?;
        }
        for (s, l) in old_loaded {
            let _ = self.policy_map.set(s, PolicyState::default(), 0);
            self.erase_entries(s, &l.compiled);
        }
        Ok(())
    }

    /// Drains kernel reports, calling `f` for each. Returns how many were read.
    pub fn poll(&mut self, mut f: impl FnMut(ActionReport)) -> usize {
        let mut n = 0;
        for r in std::mem::take(&mut self.carried) {
            n += 1;
            f(r);
        }
        loop {
            let raw = match self.ring.next() {
                None => break,
                Some(item) => kernel::RawReport::from_bytes(&item),
            };
            let Some(raw) = raw else {
                continue;
            };
            n += 1;
            f(self.decode_with(&raw, true));
        }
        n
    }

    /// Waits until a kernel report is ready or `timeout` passes (poll(2) on the ring
    /// buffer), so a caller reacts within microseconds instead of a polling period.
    /// Returns whether reports are ready.
    pub fn wait(&self, timeout: Duration) -> bool {
        if !self.carried.is_empty() {
            return true;
        }
        let mut pfd = libc::pollfd {
            fd: self.ring.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd, count 1; the ring buffer's descriptor outlives the call.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        r > 0
    }

    /// Decodes a raw report; `current`: it comes from this enforcer's programs (its policy
    /// slots and containers apply), not from a previous run's pinned ring.
    fn decode_with(&self, r: &kernel::RawReport, current: bool) -> ActionReport {
        let action = match r.kind {
            kernel::KIND_EXEC => Action::ExecDenied,
            kernel::KIND_READ => Action::ReadDenied,
            kernel::KIND_WRITE => Action::WriteDenied,
            kernel::KIND_UNIX => Action::UnixConnectDenied,
            _ if r.syscall == 46 => Action::SendDenied,
            _ => Action::ConnectDenied,
        };
        let object = match r.kind {
            kernel::KIND_NET4 => {
                let a = std::net::Ipv4Addr::new(r.addr[0], r.addr[1], r.addr[2], r.addr[3]);
                format!("{a}:{}/{}", r.port, proto_name(r.proto))
            }
            kernel::KIND_NET6 => {
                let a = std::net::Ipv6Addr::from(r.addr);
                format!("[{a}]:{}/{}", r.port, proto_name(r.proto))
            }
            _ => kernel::c_str(&r.path),
        };
        let loaded = if r.reason == kernel::REASON_ISOLATED || !current {
            None
        } else {
            self.slots.get(r.slot as usize).and_then(|s| s.as_ref())
        };
        let applied = self.live.get(&r.cgroup_id).filter(|_| current);
        let now = monotonic_ns();
        ActionReport {
            action,
            origin: Origin::Kernel,
            policy: loaded.map(|l| l.compiled.policy.name.clone()),
            scope: loaded.map(|l| l.compiled.policy.scope.describe()),
            reason: Some(match r.reason {
                kernel::REASON_DEFAULT => "not-allow-listed",
                kernel::REASON_ISOLATED => "isolated",
                _ => "deny-listed",
            }),
            target: Target {
                pid: r.tgid,
                tid: r.pid,
                comm: kernel::c_str(&r.comm),
                cgroup_id: r.cgroup_id,
                container_id: applied.map(|a| a.container.id.clone()).unwrap_or_default(),
                container_name: applied
                    .map(|a| a.container.name.clone())
                    .unwrap_or_default(),
            },
            object,
            outcome: if r.enforced != 0 {
                Outcome::Done
            } else {
                Outcome::AuditOnly
            },
            latency: Some(Duration::from_nanos(now.saturating_sub(r.ktime_ns))),
            effect: None,
            kernel_time_ns: Some(r.ktime_ns),
            syscall: matches!(
                r.kind,
                kernel::KIND_READ | kernel::KIND_WRITE | kernel::KIND_UNIX
            )
            .then_some((r.syscall, r.ret)),
            previous_run: false,
        }
    }

    /// Runs a user-space response against `pid` (in container cgroup `cgroup_id`, if known)
    /// on this thread; [`Enforcer::executor`] runs them elsewhere.
    pub fn respond(
        &mut self,
        action: RuleAction,
        pid: u32,
        cgroup_id: Option<u64>,
        container: Option<&vigil_event::Container>,
    ) -> ActionReport {
        let cg = cgroup_id.or_else(|| {
            cgroup::locate(&self.opts.proc_root, &self.opts.cgroup_root, pid)
                .ok()
                .map(|l| l.id)
        });
        let known = cg.and_then(|c| self.live.get(&c)).map(|a| &a.container);
        self.executor
            .respond(action, pid, &[], cg, container.or(known))
    }

    /// A handle that runs user-space responses on another thread (see [`Executor`]); its
    /// network isolations share this enforcer's map.
    pub fn executor(&self) -> Executor {
        self.executor.clone()
    }

    /// Lifts a network isolation.
    pub fn unisolate(&mut self, cgroup_id: u64) -> bool {
        self.executor
            .isolation
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .lift(cgroup_id)
    }

    /// Kernel counters summed over CPUs.
    pub fn stats(&self) -> Stats {
        let get = |i: u32| {
            self.counters
                .get(&i, 0)
                .map(|v| v.iter().sum::<u64>())
                .unwrap_or(0)
        };
        Stats {
            reports_lost: get(0),
            paths_truncated: get(1),
        }
    }

    /// The roots used to find cgroups.
    pub fn proc_root(&self) -> &Path {
        &self.opts.proc_root
    }
}

/// The MapData behind a map of one of the types the enforcement object uses.
fn map_data(m: &Map) -> Option<&MapData> {
    match m {
        Map::Array(d)
        | Map::HashMap(d)
        | Map::LpmTrie(d)
        | Map::PerCpuArray(d)
        | Map::RingBuf(d) => Some(d),
        _ => None,
    }
}

/// Removes one pinned generation (its map and link pins, then its directories). Programs
/// whose last link pin goes are detached and freed by the kernel.
fn remove_generation(gen: &Path) -> std::io::Result<()> {
    for sub in ["links", "maps"] {
        let dir = gen.join(sub);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                std::fs::remove_file(e.path())?;
            }
        }
        match std::fs::remove_dir(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    std::fs::remove_dir(gen)
}

const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

fn is_bpffs(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statfs fills the zeroed, owned struct for a NUL-terminated path.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type as i64 == BPF_FS_MAGIC
    }
}

/// Makes sure `root` can hold pins: its nearest existing ancestor must be on a bpf
/// filesystem. When `root` lies under `/sys/fs/bpf` and nothing is mounted there, mounts
/// bpffs there (as bpftool and systemd do). Returns whether it mounted.
pub fn ensure_bpffs(root: &Path) -> Result<bool, Error> {
    let mut anc = root;
    while !anc.exists() {
        match anc.parent() {
            Some(p) => anc = p,
            None => break,
        }
    }
    if is_bpffs(anc) {
        return Ok(false);
    }
    let base = Path::new("/sys/fs/bpf");
    if root.starts_with(base) && anc == base {
        // SAFETY: mount(2) with NUL-terminated string literals and no data pointer misuse.
        let r = unsafe {
            libc::mount(
                c"bpf".as_ptr(),
                c"/sys/fs/bpf".as_ptr(),
                c"bpf".as_ptr(),
                0,
                c"mode=0700".as_ptr().cast(),
            )
        };
        if r == 0 {
            return Ok(true);
        }
        return Err(Error::Kernel {
            during: "mounting bpffs at /sys/fs/bpf".into(),
            message: std::io::Error::last_os_error().to_string(),
        });
    }
    Err(Error::Kernel {
        during: format!("pinning under {}", root.display()),
        message: format!(
            "{} is not on a bpf filesystem (mount -t bpf bpf /sys/fs/bpf)",
            anc.display()
        ),
    })
}

/// Removes every pinned generation under `root` (and `root` itself if then empty): the
/// pinned programs detach, their maps are freed. Returns how many generations were removed.
pub fn remove_pins(root: &Path) -> std::io::Result<usize> {
    let mut n = 0;
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with("gen-") {
            remove_generation(&e.path())?;
            n += 1;
        }
    }
    let _ = std::fs::remove_dir(root);
    Ok(n)
}

fn proto_name(p: u8) -> &'static str {
    match p {
        6 => "tcp",
        17 => "udp",
        _ => "ip",
    }
}

fn compile_all(files: &[PolicyFile]) -> Result<Vec<CompiledPolicy>, Error> {
    compile::compile(files).map_err(|errs| {
        Error::Compile(
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })
}
