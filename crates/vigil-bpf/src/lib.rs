//! vigil's eBPF object and the record layouts it shares with user space.
//!
//! The kernel side is C (`src/bpf/vigil.bpf.c`), compiled by clang in `build.rs` and embedded
//! here as [`OBJECT`]. Its records are described once in `src/bpf/vigil_records.h`; this module
//! mirrors each struct as `#[repr(C)]` and pins its size with a const assertion, matching the
//! `_Static_assert`s in the header, so the two sides cannot drift apart silently.
//!
//! This crate is `no_std` and has no dependencies: it is data (bytes and layouts), usable from
//! the loader, from tests that hand-build records, and from fuzz targets. We rejected writing
//! the programs in Rust with aya-ebpf: it needs a nightly toolchain and bpf-linker, and the C
//! CO-RE idiom (`preserve_access_index`) is what the reviewers of Falco and Tetragon read daily.
#![no_std]

/// The compiled eBPF object (ELF), aligned so ELF parsers can read it in place. It calls the
/// `bpf_rdonly_cast` kfunc (Linux 6.2+) through a placeholder id: load a copy patched by
/// [`patch_kfunc_calls`], or [`OBJECT_COMPAT`] where the kernel lacks the kfunc.
pub static OBJECT: &[u8] = &ALIGNED.bytes;

/// The same programs built without kfuncs: kernel structures are read with helper calls only.
pub static OBJECT_COMPAT: &[u8] = &ALIGNED_COMPAT.bytes;

#[repr(C, align(32))]
struct Aligned<B: ?Sized> {
    bytes: B,
}

static ALIGNED: Aligned<[u8; include_bytes!(concat!(env!("OUT_DIR"), "/vigil.bpf.o")).len()]> =
    Aligned {
        bytes: *include_bytes!(concat!(env!("OUT_DIR"), "/vigil.bpf.o")),
    };

static ALIGNED_COMPAT: Aligned<
    [u8; include_bytes!(concat!(env!("OUT_DIR"), "/vigil-compat.bpf.o")).len()],
> = Aligned {
    bytes: *include_bytes!(concat!(env!("OUT_DIR"), "/vigil-compat.bpf.o")),
};

/// A one-program object (`vigil_kfunc_probe`, `tp_btf/sys_exit`) that calls `bpf_rdonly_cast`
/// the way [`OBJECT`] does: the loader patches and verifies it at start to learn whether the
/// kernel accepts the kfunc in a tracing program, and loads [`OBJECT_COMPAT`] if not.
pub static KFUNC_PROBE: &[u8] = &ALIGNED_PROBE.bytes;

/// The program in [`KFUNC_PROBE`].
pub const KFUNC_PROBE_PROGRAM: &str = "vigil_kfunc_probe";

static ALIGNED_PROBE: Aligned<
    [u8; include_bytes!(concat!(env!("OUT_DIR"), "/kfunc_probe.bpf.o")).len()],
> = Aligned {
    bytes: *include_bytes!(concat!(env!("OUT_DIR"), "/kfunc_probe.bpf.o")),
};

/// The id that `bpf_rdonly_cast` calls in [`OBJECT`] carry until patched
/// (`VG_KFUNC_RDONLY_CAST` in `vigil_records.h`).
pub const KFUNC_RDONLY_CAST_PLACEHOLDER: u32 = 0x564b_4746;

/// The kfunc call instruction as the object holds it: code `BPF_JMP | BPF_CALL`, `src_reg`
/// `BPF_PSEUDO_KFUNC_CALL` (2), offset 0 (the id is in vmlinux BTF), then the id.
const fn kfunc_call(id: u32) -> [u8; 8] {
    let i = id.to_le_bytes();
    [0x85, 0x20, 0, 0, i[0], i[1], i[2], i[3]]
}

/// Replaces the placeholder id of every `bpf_rdonly_cast` call in `object` (a copy of
/// [`OBJECT`]) with `btf_id`, the function's id in the running kernel's BTF. Returns how many
/// calls were patched. Instructions are 8-byte aligned within their section, and sections
/// within the file, so only aligned positions are looked at.
pub fn patch_kfunc_calls(object: &mut [u8], btf_id: u32) -> usize {
    let from = kfunc_call(KFUNC_RDONLY_CAST_PLACEHOLDER);
    let to = kfunc_call(btf_id);
    let mut n = 0;
    for insn in object.chunks_exact_mut(8) {
        if *insn == from {
            insn.copy_from_slice(&to);
            n += 1;
        }
    }
    n
}

/// Names of the programs in [`OBJECT`] and the tracepoints they attach to: raw tracepoints,
/// except those named in [`BTF_PROGRAMS`].
pub const PROGRAMS: [(&str, &str); 3] = [
    ("vigil_sys_enter", "sys_enter"),
    ("vigil_sys_exit", "sys_exit"),
    ("vigil_sched_exit", "sched_process_exit"),
];

/// Programs of [`PROGRAMS`] that are BTF tracepoints (`tp_btf`): typed arguments, so their
/// fields are read with plain loads instead of helper calls. `sys_exit` runs on every syscall.
pub const BTF_PROGRAMS: [&str; 1] = ["vigil_sys_exit"];

/// Map names in [`OBJECT`].
pub mod maps {
    pub const EVENTS: &str = "events";
    pub const SPECS: &str = "specs";
    pub const CONFIG: &str = "config";
    pub const DROPS: &str = "drops";
    pub const STASHES: &str = "stashes";
    pub const CGROUP_RECORD: &str = "cgroup_record";
    pub const CGROUP_SYSCALLS: &str = "cgroup_syscalls";
    pub const CGROUP_POLICY: &str = "cgroup_policy";
    pub const FILTERS: &str = "filters";
    pub const FILTER_PATHS: &str = "filter_paths";
    pub const FILTER_NAMES: &str = "filter_names";
    pub const PATH_CACHE: &str = "path_cache";
    pub const PATH_GEN: &str = "path_gen";
    pub const PATH_CACHE_STATS: &str = "path_cache_stats";
}

/// Slots of the `path_gen` array and the `path_cache_stats` per-CPU array (see the path
/// cache in `vigil.bpf.c`).
pub mod path_cache {
    /// Generation bumped by the programs on renames and mount changes.
    pub const GEN_KERNEL: u32 = 0;
    /// Generation bumped by user space when the prefilters change.
    pub const GEN_USER: u32 = 1;
    /// Non-zero while the cache is used; the programs clear it when io_uring is set up.
    pub const ENABLED: u32 = 2;
    /// Prefiltered opens answered from the cache.
    pub const HIT: u32 = 0;
    /// Walks stored in the cache.
    pub const INSERT: u32 = 1;
}

/// Record kinds (`Hdr::kind`).
pub mod rec {
    pub const SYSCALL: u8 = 1;
    pub const PROC: u8 = 2;
    pub const EXIT: u8 = 3;
}

/// Blob tags (`Blob::tag`).
pub mod blob {
    pub const STR: u8 = 1;
    pub const BASEDIR: u8 = 2;
    pub const SOCKADDR: u8 = 3;
    pub const FDPATH: u8 = 4;
    pub const PIPEFDS: u8 = 5;
    pub const ARGV: u8 = 6;
    pub const ENV: u8 = 7;
    pub const CWD: u8 = 8;
    pub const EXEPATH: u8 = 9;
    pub const STDIO: u8 = 10;
    pub const PEERPATH: u8 = 11;
    /// A component of the task's cgroup path; `arg` 0 is the last, 1 its parent, 2 the one
    /// above (lifecycle records).
    pub const CGROUP: u8 = 12;
}

/// Argument kinds in [`Spec::kind`].
pub mod arg {
    pub const INT: u8 = 0;
    pub const PATH: u8 = 1;
    pub const STR: u8 = 2;
    pub const SOCKADDR: u8 = 3;
    pub const PIPEFDS: u8 = 4;
    pub const MSGHDR: u8 = 5;
    pub const CLONE3: u8 = 6;
    pub const OPENHOW: u8 = 7;
}

/// Where an event's descriptor comes from ([`Spec::fd_src`]).
pub mod fd_src {
    pub const NONE: u8 = 0;
    pub const RET: u8 = 1;
    pub const ARG0: u8 = 2;
    pub const ARG0_ENTER: u8 = 3;
    pub const ARG1_RET: u8 = 4;
}

/// [`Spec::dirfd_of`] value for "relative to the current directory".
pub const DIRFD_CWD: u8 = 0xff;

/// [`Fd::flags`] bits.
pub mod fdf {
    pub const VALID: u32 = 1;
    pub const OVERLAY: u32 = 2;
    pub const UPPER: u32 = 4;
    pub const SOCK: u32 = 8;
}

/// Kernel-side drop counter slots (per-CPU array `drops`).
pub mod drop_slot {
    /// Ring buffer full: a syscall record was lost.
    pub const SYSCALL: u32 = 0;
    /// Ring buffer full: a lifecycle (clone/exec) record was lost.
    pub const PROC: u32 = 1;
    /// Ring buffer full: a procexit record was lost.
    pub const EXIT: u32 = 2;
    /// Entry arguments could not be stashed (map full): the exit event is lost.
    pub const STASH: u32 = 3;
    /// A record was truncated because its scratch space ran out.
    pub const TRUNC: u32 = 4;
    /// A kernel path walk hit its depth (128) or length (4 KiB) budget.
    pub const PATH: u32 = 5;
    /// Not a loss: open events no rule can match, stopped by a prefilter.
    pub const FILTERED: u32 = 6;
    /// First of the per-category slots: `CATEGORY + i` counts ring-buffer losses of events
    /// whose category has index `i` (the order of `vigil_sensor::CATEGORIES`).
    pub const CATEGORY: u32 = 8;
    /// Number of category slots.
    pub const CATEGORIES: u32 = 8;
    /// Number of slots in the map.
    pub const SLOTS: u32 = 16;
}

/// Number of syscall slots in the `specs` map.
pub const NR_SYSCALLS: usize = 512;
/// Largest record the kernel emits.
pub const REC_MAX: usize = 16384;

/// Record header.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hdr {
    /// `bpf_ktime_get_boot_ns()` when the record was built.
    pub ts: u64,
    /// Syscall latency (exit - entry), 0 when unknown.
    pub latency: u64,
    pub tid: u32,
    pub pid: u32,
    pub res: i64,
    /// Total record length, header included.
    pub len: u32,
    /// Syscall number (0 for procexit).
    pub nr: u16,
    pub kind: u8,
    pub cpu: u8,
}

/// Socket endpoints: addresses in network byte order, ports in host order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sock {
    pub family: u16,
    pub type_: u16,
    pub protocol: u16,
    pub lport: u16,
    pub rport: u16,
    pub pad0: u16,
    pub pad1: u32,
    pub laddr: [u8; 16],
    pub raddr: [u8; 16],
}

/// The descriptor an event is about.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fd {
    pub num: i64,
    pub ino: u64,
    pub dev: u32,
    /// Inode `i_mode` (file type and permission bits).
    pub mode: u32,
    /// Super block magic (low 32 bits).
    pub magic: u32,
    pub flags: u32,
    pub nlink: u32,
    pub open_flags: u32,
    pub sock: Sock,
}

/// Fixed part of a syscall record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sys {
    /// Raw argument registers at entry (clone3: flags replace the struct pointer).
    pub args: [u64; 6],
    pub fd: Fd,
}

/// Kind facts about fd 0, 1 or 2.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stdio {
    pub ino: u64,
    pub mode: u32,
    pub magic: u32,
    pub family: u16,
    pub pad: [u16; 3],
}

/// Fixed part of a lifecycle record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Proc {
    pub ptid: u32,
    pub vtid: u32,
    pub vpid: u32,
    pub pgid: u32,
    pub sid: u32,
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    pub loginuid: u32,
    /// Controlling tty as `major << 20 | minor` (0 = none).
    pub tty: u32,
    /// `EXE_*` bits (same values as `vigil_event::params::exe_flags`).
    pub exe_flags: u32,
    pub clone_flags: u64,
    pub cap_inheritable: u64,
    pub cap_permitted: u64,
    pub cap_effective: u64,
    pub cgroup_id: u64,
    pub exe_ino: u64,
    pub exe_ctime: u64,
    pub exe_mtime: u64,
    pub exe_dev: u64,
    pub stdio: [Stdio; 3],
    pub comm: [u8; 16],
}

/// Fixed part of a procexit record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exit {
    pub status: i64,
    pub sig: u32,
    pub core: u32,
}

/// Header of a variable-length blob; `len` payload bytes follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Blob {
    pub len: u16,
    pub tag: u8,
    pub arg: u8,
}

/// Per-syscall capture spec (array map `specs`, key = syscall number).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spec {
    pub enabled: u8,
    pub fd_src: u8,
    pub kind: [u8; 6],
    pub dirfd_of: [u8; 6],
    /// Event category index, for drop accounting.
    pub category: u8,
    /// `1 + index` into the `filters` map for a prefiltered open type; 0 for none.
    pub filter: u8,
}

/// `Spec::enabled` bits.
pub mod spec {
    /// Report events of this syscall.
    pub const ON: u8 = 1;
    /// Stash the entry time and arguments at `sys_enter` (close; latency).
    pub const STASH: u8 = 2;
    /// A successful call can change the path of a dentry (rename, mount): it invalidates the
    /// path cache, whether the syscall is reported or not.
    pub const PATHGEN: u8 = 4;
    /// A successful call turns the path cache off (io_uring renames without syscalls).
    pub const NOCACHE: u8 = 8;
}

/// Open-event prefilters (see `vg_filter` in `vigil_records.h`).
pub mod filter {
    /// Entries of the `filters` map.
    pub const NR_FILTERS: usize = 8;
    /// Combinations of atoms (the atoms are the bits of the index).
    pub const COMBOS: usize = 32;
    /// Two-set requirements one combination holds.
    pub const PAIRS: usize = 4;
    /// Bytes of a path the `filter_paths` trie compares.
    pub const LPM_BYTES: usize = 256;
    /// Bytes of a `filter_names` key (names are at most one less).
    pub const NAME_BYTES: usize = 64;
    /// `Filter::flags_arg` of `creat()`, which has no flags argument.
    pub const FLAGS_CREAT: u8 = 0xfe;
    /// Atoms: the bits of a `Filter::combos` index.
    pub const WRITE: u8 = 1;
    pub const READ: u8 = 2;
    pub const OK: u8 = 4;
    pub const DOTDOT: u8 = 8;
    pub const CREATE: u8 = 16;
}

/// A filter's verdict for one combination of atoms (see `vg_combo`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Combo {
    /// The event passes whatever its path.
    pub always: u8,
    /// Entries of `pairs` in use.
    pub npairs: u8,
    pub pad: [u8; 6],
    /// The event passes if its path is in a set with one of these bits.
    pub any: u64,
    /// ... or in a set of each mask of one pair.
    pub pairs: [[u64; 2]; filter::PAIRS],
}

/// A prefilter compiled per combination of atoms (array map `filters`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Filter {
    pub pass_all: u32,
    pub flags_arg: u8,
    pub pad: [u8; 3],
    pub combos: [Combo; filter::COMBOS],
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            pass_all: 1,
            flags_arg: 0,
            pad: [0; 3],
            combos: [Combo::default(); filter::COMBOS],
        }
    }
}

/// Key of the `filter_paths` LPM trie.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LpmKey {
    pub prefixlen: u32,
    pub data: [u8; filter::LPM_BYTES],
}

impl Default for LpmKey {
    fn default() -> Self {
        LpmKey {
            prefixlen: 0,
            data: [0; filter::LPM_BYTES],
        }
    }
}

/// Key of the `filter_names` hash.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NameKey {
    pub name: [u8; filter::NAME_BYTES],
}

impl Default for NameKey {
    fn default() -> Self {
        NameKey {
            name: [0; filter::NAME_BYTES],
        }
    }
}

/// Global configuration (array map `config`, one entry).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    pub self_tgid: u32,
    pub record_cgroups: u32,
    pub ignore_cgroup: u64,
    /// Records are submitted without waking the reader until this many bytes are pending
    /// (0: wake on every record); the reader polls with a short timeout instead.
    pub wakeup_bytes: u64,
}

const _: () = {
    assert!(core::mem::size_of::<Hdr>() == 40);
    assert!(core::mem::size_of::<Sock>() == 48);
    assert!(core::mem::size_of::<Fd>() == 88);
    assert!(core::mem::size_of::<Sys>() == 136);
    assert!(core::mem::size_of::<Stdio>() == 24);
    assert!(core::mem::size_of::<Proc>() == 208);
    assert!(core::mem::size_of::<Exit>() == 16);
    assert!(core::mem::size_of::<Blob>() == 4);
    assert!(core::mem::size_of::<Spec>() == 16);
    assert!(core::mem::size_of::<Config>() == 24);
    assert!(core::mem::size_of::<Combo>() == 16 + 16 * filter::PAIRS);
    assert!(core::mem::size_of::<Filter>() == 8 + core::mem::size_of::<Combo>() * filter::COMBOS);
    assert!(core::mem::size_of::<LpmKey>() == 260);
    assert!(core::mem::size_of::<NameKey>() == 64);
};

/// Marker for the plain-old-data record structs: every bit pattern is a valid value, there is
/// no padding that could leak, and the layout is `#[repr(C)]`.
///
/// # Safety
/// Implement only for `#[repr(C)]` structs made of integers and integer arrays.
pub unsafe trait Pod: Copy + Default {}

// SAFETY: all of these are #[repr(C)] structs of integers/integer arrays with no implicit
// padding (sizes asserted above equal the sum of their fields).
unsafe impl Pod for Hdr {}
// SAFETY: as above.
unsafe impl Pod for Sock {}
// SAFETY: as above.
unsafe impl Pod for Fd {}
// SAFETY: as above.
unsafe impl Pod for Sys {}
// SAFETY: as above.
unsafe impl Pod for Stdio {}
// SAFETY: as above.
unsafe impl Pod for Proc {}
// SAFETY: as above.
unsafe impl Pod for Exit {}
// SAFETY: as above.
unsafe impl Pod for Blob {}
// SAFETY: as above.
unsafe impl Pod for Spec {}
// SAFETY: as above.
unsafe impl Pod for Config {}
// SAFETY: as above.
unsafe impl Pod for Combo {}
// SAFETY: as above.
unsafe impl Pod for Filter {}
// SAFETY: as above.
unsafe impl Pod for LpmKey {}
// SAFETY: as above.
unsafe impl Pod for NameKey {}

/// Reads a `T` from the start of `bytes` (unaligned), or `None` if `bytes` is too short.
pub fn read<T: Pod>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < core::mem::size_of::<T>() {
        return None;
    }
    // SAFETY: the length was checked above; `T: Pod` accepts any bit pattern; read_unaligned
    // has no alignment requirement.
    Some(unsafe { core::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

/// The bytes of a `T`, for building records in tests and writing maps.
pub fn bytes_of<T: Pod>(v: &T) -> &[u8] {
    // SAFETY: `T: Pod` has no padding, so all `size_of::<T>()` bytes are initialised.
    unsafe { core::slice::from_raw_parts((v as *const T).cast::<u8>(), core::mem::size_of::<T>()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    extern crate std;
    use std::vec::Vec;

    #[test]
    fn objects_are_ebpf_elves() {
        for object in [OBJECT, OBJECT_COMPAT, KFUNC_PROBE] {
            assert_eq!(&object[..4], b"\x7fELF");
            // e_machine at offset 18: EM_BPF = 247.
            assert_eq!(u16::from_le_bytes([object[18], object[19]]), 247);
            assert_eq!(object.as_ptr() as usize % 32, 0);
        }
    }

    /// Placeholder calls at any byte offset, aligned or not.
    fn placeholder_calls(object: &[u8], id: u32) -> usize {
        object.windows(8).filter(|w| *w == kfunc_call(id)).count()
    }

    #[test]
    fn kfunc_calls_are_patched_in_place_and_only_in_the_kfunc_object() {
        let sites = placeholder_calls(OBJECT, KFUNC_RDONLY_CAST_PLACEHOLDER);
        assert!(
            sites >= 3,
            "expected bpf_rdonly_cast calls in OBJECT, found {sites}"
        );
        assert_eq!(
            placeholder_calls(OBJECT_COMPAT, KFUNC_RDONLY_CAST_PLACEHOLDER),
            0
        );

        let mut copy: Vec<u8> = OBJECT.to_vec();
        // Every site is at an aligned position: the patch finds them all.
        assert_eq!(patch_kfunc_calls(&mut copy, 12345), sites);
        assert_eq!(placeholder_calls(&copy, KFUNC_RDONLY_CAST_PLACEHOLDER), 0);
        assert_eq!(placeholder_calls(&copy, 12345), sites);
        // Nothing else changed.
        let changed = copy.iter().zip(OBJECT).filter(|(a, b)| a != b).count();
        assert!(
            changed <= sites * 4,
            "{changed} bytes changed for {sites} ids"
        );
        assert_eq!(patch_kfunc_calls(&mut copy, 99), 0);
    }

    #[test]
    fn pod_round_trip() {
        let h = Hdr {
            ts: 1,
            latency: 2,
            tid: 3,
            pid: 4,
            res: -2,
            len: 40,
            nr: 257,
            kind: rec::SYSCALL,
            cpu: 1,
        };
        let b = bytes_of(&h);
        assert_eq!(read::<Hdr>(b), Some(h));
        assert_eq!(read::<Hdr>(&b[..39]), None);
    }
}
