//! The compiled enforcement object and the layouts it shares with user space
//! (`src/bpf/response.h`), mirrored as `#[repr(C)]` with size assertions so the two sides
//! cannot drift apart silently.
//!
//! We rejected reusing vigil-bpf's object: enforcement must work without the sensor, and a
//! sensor upgrade must not change what gets killed.

/// The eBPF object (ELF), aligned so it can be parsed in place.
pub static OBJECT: &[u8] = &ALIGNED.bytes;

#[repr(C, align(32))]
struct Aligned<B: ?Sized> {
    bytes: B,
}

static ALIGNED: Aligned<[u8; include_bytes!(concat!(env!("OUT_DIR"), "/response.bpf.o")).len()]> =
    Aligned {
        bytes: *include_bytes!(concat!(env!("OUT_DIR"), "/response.bpf.o")),
    };

pub const MAX_SLOTS: usize = 8;
pub const PATH_MAX: usize = 251;
pub const NET_RULES: usize = 16;

pub const KIND_EXEC: u8 = 1;
pub const KIND_READ: u8 = 2;
pub const KIND_WRITE: u8 = 3;
pub const KIND_UNIX: u8 = 4;
pub const KIND_NET4: u8 = 5;
pub const KIND_NET6: u8 = 6;

pub const ALLOW: u8 = 1;
pub const DENY: u8 = 2;

pub const MODE_OFF: u32 = 0;
pub const MODE_AUDIT: u32 = 1;
pub const MODE_ENFORCE: u32 = 2;

pub const F_EXEC_DEFAULT_DENY: u32 = 1;
pub const F_NET_DEFAULT_DENY: u32 = 2;

pub const REASON_LISTED: u8 = 1;
pub const REASON_DEFAULT: u8 = 2;
pub const REASON_ISOLATED: u8 = 3;

/// Map names.
pub mod maps {
    pub const CONTAINERS: &str = "containers";
    pub const POLICIES: &str = "policies";
    pub const PATHS: &str = "paths";
    pub const NET4: &str = "net4";
    pub const NET6: &str = "net6";
    pub const ISOLATED: &str = "isolated";
    pub const REPORTS: &str = "reports";
    pub const COUNTERS: &str = "counters";
    pub const CONFIG: &str = "config";
}

/// `config[0]` flag: the unix socket hooks are attached (no kill at sys_exit).
pub const CFG_UNIX_HOOKS: u32 = 1;

/// Programs: (name, attach point).
pub const TRACEPOINTS: [(&str, &str); 2] = [
    ("vigil_resp_exec", "sched_process_exec"),
    ("vigil_resp_sys_exit", "sys_exit"),
];
/// cgroup sock_addr programs loaded by aya: (name, attach type for BPF_LINK_CREATE).
pub const SOCK_ADDR: [(&str, u32); 4] = [
    ("vigil_resp_connect4", crate::sys::BPF_CGROUP_INET4_CONNECT),
    ("vigil_resp_connect6", crate::sys::BPF_CGROUP_INET6_CONNECT),
    ("vigil_resp_sendmsg4", crate::sys::BPF_CGROUP_UDP4_SENDMSG),
    ("vigil_resp_sendmsg6", crate::sys::BPF_CGROUP_UDP6_SENDMSG),
];

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContainerSlots {
    pub n: u32,
    pub slots: [u32; MAX_SLOTS],
}
const _: () = assert!(core::mem::size_of::<ContainerSlots>() == 36);

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PolicyState {
    pub mode: u32,
    pub flags: u32,
}
const _: () = assert!(core::mem::size_of::<PolicyState>() == 8);

/// Data part of a path trie key (the prefix length is aya's `Key`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PathKeyData {
    pub slot: u32,
    pub kind: u8,
    pub path: [u8; PATH_MAX],
}
const _: () = assert!(core::mem::size_of::<PathKeyData>() == 256);

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Net4KeyData {
    pub slot: u32,
    pub addr: [u8; 4],
}
const _: () = assert!(core::mem::size_of::<Net4KeyData>() == 8);

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Net6KeyData {
    pub slot: u32,
    pub addr: [u8; 16],
}
const _: () = assert!(core::mem::size_of::<Net6KeyData>() == 20);

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NetRule {
    pub verdict: u8,
    pub proto: u8,
    pub port_lo: u16,
    pub port_hi: u16,
    pub pad: u16,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NetRules {
    pub n: u32,
    pub r: [NetRule; NET_RULES],
}
const _: () = assert!(core::mem::size_of::<NetRules>() == 4 + 8 * NET_RULES);

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RawReport {
    pub ktime_ns: u64,
    pub cgroup_id: u64,
    pub pid: u32,
    pub tgid: u32,
    pub slot: u32,
    pub kind: u8,
    pub enforced: u8,
    pub reason: u8,
    pub proto: u8,
    pub port: u16,
    pub family: u16,
    pub syscall: u32,
    pub ret: i32,
    pub addr: [u8; 16],
    pub comm: [u8; 16],
    pub path: [u8; 256],
}
const _: () = assert!(core::mem::size_of::<RawReport>() == 336);

impl RawReport {
    /// Decodes a ring-buffer record (copied, since the record is unaligned in general).
    pub fn from_bytes(b: &[u8]) -> Option<RawReport> {
        if b.len() < core::mem::size_of::<RawReport>() {
            return None;
        }
        // SAFETY: the length is checked above; RawReport is plain old data (integers and
        // byte arrays, every bit pattern valid); read_unaligned copes with any alignment.
        Some(unsafe { core::ptr::read_unaligned(b.as_ptr().cast::<RawReport>()) })
    }
}

// SAFETY: the following are #[repr(C)] structs of integers and byte arrays with no padding
// the kernel would interpret (the size assertions above match the C _Static_asserts).
unsafe impl aya::Pod for ContainerSlots {}
// SAFETY: as above.
unsafe impl aya::Pod for PolicyState {}
// SAFETY: as above.
unsafe impl aya::Pod for PathKeyData {}
// SAFETY: as above.
unsafe impl aya::Pod for Net4KeyData {}
// SAFETY: as above.
unsafe impl aya::Pod for Net6KeyData {}
// SAFETY: as above.
unsafe impl aya::Pod for NetRules {}

/// Trims a NUL-padded kernel string.
pub fn c_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}
