//! vigil's eBPF sensor: kernel events in, [`vigil_event::Event`]s out.
//!
//! ```no_run
//! use std::time::Duration;
//! use vigil_event::EventType;
//! use vigil_sensor::{Sensor, SensorConfig};
//!
//! let mut sensor = Sensor::open(SensorConfig::default())?;
//! sensor.set_event_types(["openat", "connect"].iter().filter_map(|n| EventType::from_name(n)))?;
//! loop {
//!     sensor.poll(Duration::from_millis(100), |ev| {
//!         println!("{} {} {:?}", ev.pid, ev.etype, ev.fd.map(|f| f.name));
//!     })?;
//!     let stats = sensor.stats();
//!     if stats.lost() > 0 { eprintln!("lost {} events", stats.lost()); }
//! #   break;
//! }
//! # Ok::<(), vigil_sensor::SensorError>(())
//! ```
//!
//! What arrives:
//! - syscall events (`Dir::Exit`, entry arguments included) for the types enabled with
//!   [`Sensor::set_event_types`]; paths are absolute (resolved against the dirfd or cwd by the
//!   kernel side, then normalised), `Event::fd` describes the descriptor the call produced or
//!   used (kind, absolute name, socket tuple, dev/ino, overlayfs upper-layer flag);
//! - always, per the sensor/state contract (`notes/CONTRACT-sensor-state.md`): the child side
//!   of every new process (`clone`/`clone3`/`fork`/`vfork`, `tid == pid`, `res = 0`), every
//!   successful `execve`/`execveat` with the new program's details, and `procexit`.
//!
//! ## Why aya (not libbpf-rs)
//! aya is pure Rust: no C toolchain, libelf or zlib at build time for the loader, and no
//! vendored libbpf to keep in step with the kernel. It performs CO-RE relocations of clang's
//! objects against `/sys/kernel/btf/vmlinux` itself, and supports everything this sensor uses
//! (raw tracepoints, ring buffers, global subprograms, per-CPU arrays, LRU hashes); this was
//! checked on the target kernel (6.18) with clang-14 objects before committing to it. The
//! price: aya's loader lags libbpf on exotic features (BPF_PSEUDO_FUNC callbacks, struct_ops,
//! kfunc linking). The one kfunc vigil calls, `bpf_rdonly_cast`, is patched in by
//! [`sensor::Sensor::open`] (see `vigil_bpf::patch_kfunc_calls`); kernels without it get the
//! helpers-only object ([`sensor::KernelReads`]).
//!
//! ## Kernel maps
//! | map | type | purpose |
//! |---|---|---|
//! | `events` | ring buffer (16 MiB default, [`SensorConfig::ring_bytes`]) | records to user space |
//! | `specs` | array of 512 16-byte specs | per-syscall enable bit + what to capture (see [`table`]) |
//! | `config` | array, one entry | own tgid to ignore, cgroup to ignore, cgroup-recording switch |
//! | `drops` | per-CPU array of 16 u64 | kernel-side losses by cause ([`KernelDrops`]) and by category |
//! | `stashes` | LRU hash tid -> entry args (65536) | sys_enter -> sys_exit hand-over, only for `close` and when latency is measured ([`SensorConfig::latency`]) |
//! | `filters` | array of 8 [`vigil_bpf::Filter`] | rule-derived prefilters of open syscalls ([`prefilter`]) |
//! | `filter_paths` | LPM trie path -> u64 set mask (16384) | exact paths and prefixes the prefilters test |
//! | `filter_names` | hash last component -> u64 set mask (4096) | file names the prefilters test |
//! | `path_cache` | per-CPU array of 2048 slots, direct-mapped by a hash of (dentry, mount, root) -> key, set mask, identity | path verdicts of files opened before ([`SensorConfig::path_cache`]) |
//! | `path_gen` | array of 4 u64 | the cache's generation (kernel and user parts) and on/off switch |
//! | `path_cache_stats` | per-CPU array of 2 u64 | cache hits and stored walks ([`sensor::PathCacheStats`]) |
//! | `heap`, `pathbufs` | per-CPU arrays | record assembly (32 KiB) and path walking (8 KiB) scratch |
//! | `cgroup_record` | hash cgroup id -> u8 | cgroups whose syscall set is being learned |
//! | `cgroup_syscalls` | hash cgroup id -> 512-bit bitmap | syscalls seen per recorded cgroup |
//! | `cgroup_policy` | hash cgroup id -> u32 | response policy index per cgroup (reserved) |
//!
//! The three `cgroup_*` maps are laid out for the profile and response features: they cost
//! one branch per syscall while recording is off ([`Sensor::record_cgroup`] switches it on).
//! The cgroup id is the task's cgroup v2 id when that is not the root, else the v1 `memory`
//! controller's cgroup (hybrid hosts such as the reference VM keep v2 empty); it equals the
//! inode number of the cgroup's directory in cgroupfs. Lifecycle records also carry the last
//! three components of that cgroup's path (`ParamName::Cgroup`, read from kernfs), so the
//! container of a process that is gone before user space looks at `/proc` is still known.
//!
//! ## Design notes
//! - Arguments are read at `sys_exit`, when user strings are resident and output buffers
//!   (pipe fds, accepted sockets) are filled; a successful `execve` is described from the new
//!   program's `mm` (argv, env, exe file), a failed one from the stashed arguments.
//! - A call that reaches `sys_exit` without a `sys_enter` stash is still reported, with its
//!   arguments read from the registers at exit: a seccomp filter refuses a call before the
//!   `sys_enter` tracepoint runs, and such refused attempts (a module load or `bpf()` from a
//!   default container) are what several rules look for. Those records have no latency.
//! - Paths are resolved in the kernel with a bounded dentry walk that crosses mounts through
//!   `struct mount` and stops at the task's root, so container processes get paths as they see
//!   them. Relative path arguments travel with their base directory (dirfd or cwd) and are
//!   joined and normalised in user space; `fd.name` of an opened file is the kernel's own path
//!   of the file (symlinks resolved), `fd.nameraw` the string the process passed.
//! - Overlayfs upper layer (as Falco and Tetragon decide it): the inode's super block is
//!   overlayfs and the `ovl_inode` that embeds it has a non-NULL `__upperdentry` (the file was
//!   created or copied up in the container). Lower = overlayfs without an upper dentry.
//! - Memfd executables: the exe file's dentry is named `memfd:*`, its inode has no links and
//!   lives on tmpfs/hugetlbfs.
//! - Arguments come from the registers at `sys_exit` (x86-64 does not touch them during the
//!   call), so most syscalls cost no `sys_enter` work beyond a map lookup; only `close` (whose
//!   descriptor is gone at exit) and latency measurement stash entry state.
//! - Open events pass a prefilter derived from the loaded rules ([`Sensor::set_open_filters`],
//!   [`prefilter`]): the kernel tests the access mode, `O_CREAT`, success, `../` in the
//!   argument and the resolved path against what the rules can match, and drops the rest
//!   (counted in [`KernelDrops::filtered`], not a loss).
//! - Not covered: entry (`>`) events, tasks created by the kernel without a syscall (usermode
//!   helpers), `capset` arguments, io_uring submissions.
//!
//! Modules: [`table`] (per-syscall capture and decoding table), [`decode`] (pure record
//! decoding), [`prefilter`] (rule prefilters compiled to kernel maps, pure), [`probe`]
//! (feature probes), [`sensor`] (loader and ring-buffer drain), [`error`].

pub mod decode;
pub mod error;
pub mod prefilter;
pub mod probe;
pub mod sensor;
pub mod table;
pub mod uring;

pub use decode::{DecodeError, Decoder, RecordKind};
pub use error::SensorError;
pub use probe::ProbeReport;
pub use sensor::{loaded_program_ids, KernelDrops, Sensor, SensorConfig, SensorStats};
pub use table::CATEGORIES;
