//! Feature probes run before loading: kernel version, privileges, BTF, tracefs, memlock.
//!
//! Each probe turns a vague failure later (a verifier or `bpf()` error) into a clear one now.
//! The parsing parts are pure functions over the text of `/proc` files so they are unit-tested;
//! [`run`] reads the real files from a root directory given as a parameter.
//! We rejected probing by trial-loading tiny programs for each feature (libbpf's approach): the
//! one real load that follows already reports EPERM precisely, and the probes stay cheap.

use crate::error::SensorError;
use std::path::{Path, PathBuf};

/// Oldest kernel the sensor supports: BPF ring buffers arrived in 5.8, BTF tracepoints in 5.5
/// and `bpf_get_current_task_btf` (the task as a typed pointer) in 5.11.
pub const MIN_KERNEL: (u32, u32) = (5, 11);

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// What the probes found; notes are non-fatal observations worth logging.
#[derive(Debug, Clone, Default)]
pub struct ProbeReport {
    pub kernel: String,
    pub notes: Vec<String>,
}

/// Parses `major.minor` from a kernel release string such as `6.18.0-1-amd64`.
pub fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

/// Parses the effective capability mask (`CapEff:` line) from `/proc/<pid>/status` text.
pub fn parse_cap_eff(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
}

/// Names the capabilities missing from `caps` for loading tracing programs, or `None` if
/// enough are present (CAP_BPF+CAP_PERFMON, or CAP_SYS_ADMIN on older kernels).
pub fn missing_caps(caps: u64) -> Option<String> {
    let has = |c: u32| caps & (1u64 << c) != 0;
    if has(CAP_BPF) && has(CAP_PERFMON) {
        return None;
    }
    if has(CAP_SYS_ADMIN) {
        return None;
    }
    let mut m = Vec::new();
    if !has(CAP_BPF) {
        m.push("CAP_BPF");
    }
    if !has(CAP_PERFMON) {
        m.push("CAP_PERFMON");
    }
    Some(format!(
        "missing {} (and no CAP_SYS_ADMIN)",
        m.join(" and ")
    ))
}

/// Runs every probe. `root` is `/` in production (tests may point it elsewhere); `btf` is the
/// BTF file to use.
pub fn run(root: &Path, btf: &Path) -> Result<ProbeReport, SensorError> {
    let mut report = ProbeReport::default();
    let release = std::fs::read_to_string(root.join("proc/sys/kernel/osrelease"))
        .map(|s| s.trim().to_string())
        .map_err(|e| SensorError::Io {
            what: format!(
                "reading {}",
                root.join("proc/sys/kernel/osrelease").display()
            ),
            source: e,
        })?;
    match parse_release(&release) {
        Some(v) if v >= MIN_KERNEL => {}
        _ => {
            return Err(SensorError::KernelTooOld {
                found: release,
                need: "5.11",
            })
        }
    }
    report.kernel = release;

    let status_path = root.join("proc/self/status");
    let status = std::fs::read_to_string(&status_path).map_err(|e| SensorError::Io {
        what: format!("reading {}", status_path.display()),
        source: e,
    })?;
    let caps = parse_cap_eff(&status).ok_or_else(|| SensorError::Io {
        what: format!("no CapEff line in {}", status_path.display()),
        source: std::io::Error::from(std::io::ErrorKind::InvalidData),
    })?;
    if let Some(missing) = missing_caps(caps) {
        return Err(SensorError::NotPrivileged { missing });
    }

    if !btf.exists() {
        return Err(SensorError::NoBtf {
            path: btf.to_path_buf(),
        });
    }

    // Raw tracepoints do not need tracefs, but operators debugging the sensor do; mount it if
    // it is missing and say so either way.
    let tracefs = root.join("sys/kernel/tracing");
    if !tracefs.join("events").exists() {
        match mount_tracefs(&tracefs) {
            Ok(()) => report.notes.push(format!("mounted tracefs at {}", tracefs.display())),
            Err(e) => report.notes.push(format!(
                "tracefs is not mounted at {} and mounting it failed ({e}); the sensor does not need it",
                tracefs.display()
            )),
        }
    }

    // Kernels since 5.11 account BPF memory to the cgroup; raising RLIMIT_MEMLOCK only matters
    // on older ones and fails without CAP_SYS_RESOURCE, which is harmless here.
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads a valid, initialised rlimit struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) } != 0 {
        report
            .notes
            .push("could not raise RLIMIT_MEMLOCK (fine on kernels >= 5.11, which account BPF memory by cgroup)".into());
    }
    Ok(report)
}

fn mount_tracefs(dir: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let target = CString::new(dir.as_os_str().as_bytes())?;
    let fstype = CString::new("tracefs")?;
    // SAFETY: all pointers are valid NUL-terminated strings that outlive the call; data is null.
    let rc = unsafe {
        libc::mount(
            fstype.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The default BTF location.
pub fn default_btf() -> PathBuf {
    PathBuf::from("/sys/kernel/btf/vmlinux")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases() {
        assert_eq!(parse_release("6.18.0-1-amd64"), Some((6, 18)));
        assert_eq!(parse_release("5.4.0"), Some((5, 4)));
        assert_eq!(parse_release("garbage"), None);
        assert!(parse_release("5.4.0").unwrap() < MIN_KERNEL);
        assert!(parse_release("5.10.1").unwrap() < MIN_KERNEL);
        assert!(parse_release("5.11.1").unwrap() >= MIN_KERNEL);
    }

    #[test]
    fn caps() {
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
        let c = parse_cap_eff(status).unwrap();
        assert_eq!(missing_caps(c), None);
        // CAP_BPF + CAP_PERFMON only.
        assert_eq!(missing_caps((1 << 39) | (1 << 38)), None);
        let m = missing_caps(1 << 38).unwrap();
        assert!(m.contains("CAP_BPF") && !m.contains("CAP_PERFMON"), "{m}");
        assert!(missing_caps(0).unwrap().contains("CAP_BPF and CAP_PERFMON"));
        assert_eq!(parse_cap_eff("Name: x\n"), None);
    }

    #[test]
    fn run_reports_old_kernel_and_missing_btf() {
        let dir = std::env::temp_dir().join(format!("vigil-probe-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proc/sys/kernel")).unwrap();
        std::fs::create_dir_all(dir.join("proc/self")).unwrap();
        std::fs::create_dir_all(dir.join("sys/kernel/tracing/events")).unwrap();
        std::fs::write(dir.join("proc/sys/kernel/osrelease"), "4.19.0\n").unwrap();
        std::fs::write(dir.join("proc/self/status"), "CapEff:\t000001ffffffffff\n").unwrap();
        let err = run(&dir, &dir.join("nope")).unwrap_err();
        assert!(matches!(err, SensorError::KernelTooOld { .. }), "{err}");
        std::fs::write(dir.join("proc/sys/kernel/osrelease"), "6.1.0\n").unwrap();
        let err = run(&dir, &dir.join("nope")).unwrap_err();
        assert!(matches!(err, SensorError::NoBtf { .. }), "{err}");
        std::fs::write(dir.join("proc/self/status"), "CapEff:\t0000000000000000\n").unwrap();
        let err = run(&dir, &dir.join("nope")).unwrap_err();
        assert!(matches!(err, SensorError::NotPrivileged { .. }), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
