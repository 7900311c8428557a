//! The few bpf(2) commands the enforcer issues itself, each through [`bpf`], the one function
//! that makes the system call (as in aya's `sys/`).
//!
//! aya 0.13 covers loading and attaching everything except two things this crate needs: a
//! program of the cgroup unix socket attach types (BPF_CGROUP_UNIX_CONNECT/SENDMSG, kernel
//! 6.7+), which aya's object parser does not know, and pinning a cgroup bpf_link (aya keeps
//! that link type private). We rejected patching aya: four small commands with their
//! `union bpf_attr` layouts from `linux/bpf.h` are easier to audit than a fork.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_OBJ_PIN: libc::c_long = 6;
const BPF_LINK_CREATE: libc::c_long = 28;

pub const BPF_PROG_TYPE_CGROUP_SOCK_ADDR: u32 = 18;
pub const BPF_CGROUP_INET4_CONNECT: u32 = 10;
pub const BPF_CGROUP_INET6_CONNECT: u32 = 11;
pub const BPF_CGROUP_UDP4_SENDMSG: u32 = 14;
pub const BPF_CGROUP_UDP6_SENDMSG: u32 = 15;
pub const BPF_CGROUP_UNIX_CONNECT: u32 = 49;
pub const BPF_CGROUP_UNIX_SENDMSG: u32 = 50;

/// `union bpf_attr` is at most this large for the commands used here; the kernel accepts a
/// shorter attribute when the bytes it does not receive would be zero.
const ATTR_BYTES: usize = 128;

#[repr(C, align(8))]
struct Attr([u8; ATTR_BYTES]);

impl Attr {
    fn new() -> Attr {
        Attr([0; ATTR_BYTES])
    }
    fn u32(&mut self, off: usize, v: u32) -> &mut Self {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(&mut self, off: usize, v: u64) -> &mut Self {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
}

/// The system call. Returns the non-negative result or the errno as an io::Error.
fn bpf(cmd: libc::c_long, attr: &mut Attr) -> std::io::Result<i64> {
    // SAFETY: `attr` is a valid, writable, 8-aligned buffer of ATTR_BYTES bytes laid out as
    // the kernel's union bpf_attr for `cmd`; every pointer stored in it (instructions,
    // license, log buffer, path) outlives this call, as the callers keep them borrowed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.0.as_mut_ptr(),
            ATTR_BYTES as libc::c_uint,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn owned(fd: i64) -> OwnedFd {
    // SAFETY: the kernel just returned this descriptor to us and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// A failed BPF_PROG_LOAD, with the verifier's log when it produced one.
#[derive(Debug)]
pub struct LoadError {
    pub error: std::io::Error,
    pub log: String,
}

/// BPF_PROG_LOAD of already relocated instructions (8 bytes each).
pub fn prog_load(
    prog_type: u32,
    expected_attach_type: u32,
    name: &str,
    insns: &[u64],
    license: &str,
) -> Result<OwnedFd, LoadError> {
    let lic = CString::new(license).unwrap_or_default();
    let mut pname = [0u8; 16];
    let n = name.len().min(15);
    pname[..n].copy_from_slice(&name.as_bytes()[..n]);
    let attempt = |log: Option<&mut Vec<u8>>| {
        let mut a = Attr::new();
        a.u32(0, prog_type)
            .u32(4, insns.len() as u32)
            .u64(8, insns.as_ptr() as u64)
            .u64(16, lic.as_ptr() as u64);
        if let Some(buf) = log {
            a.u32(24, 1)
                .u32(28, buf.len() as u32)
                .u64(32, buf.as_mut_ptr() as u64);
        }
        a.0[48..64].copy_from_slice(&pname);
        a.u32(68, expected_attach_type);
        bpf(BPF_PROG_LOAD, &mut a)
    };
    match attempt(None) {
        Ok(fd) => Ok(owned(fd)),
        Err(error) => {
            // Again with a log, only to explain the failure.
            let mut buf = vec![0u8; 1 << 20];
            let _ = attempt(Some(&mut buf));
            let end = buf.iter().position(|&b| b == 0).unwrap_or(0);
            let log = String::from_utf8_lossy(&buf[..end]).into_owned();
            Err(LoadError { error, log })
        }
    }
}

/// BPF_LINK_CREATE: attaches `prog` to the cgroup `target`; the link lives as long as the
/// returned descriptor (or its pin).
pub fn link_create(
    prog: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    attach_type: u32,
) -> std::io::Result<OwnedFd> {
    let mut a = Attr::new();
    a.u32(0, prog.as_raw_fd() as u32)
        .u32(4, target.as_raw_fd() as u32)
        .u32(8, attach_type);
    bpf(BPF_LINK_CREATE, &mut a).map(owned)
}

/// BPF_OBJ_PIN: pins a map, program or link at `path` on a bpf filesystem.
pub fn obj_pin(fd: BorrowedFd<'_>, path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let p = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut a = Attr::new();
    a.u64(0, p.as_ptr() as u64).u32(8, fd.as_raw_fd() as u32);
    bpf(BPF_OBJ_PIN, &mut a).map(|_| ())
}
