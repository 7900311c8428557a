//! Finding a process's container cgroup and its id, keyed like the kernel programs key it.
//!
//! The kernel side uses the cgroup v2 id when the task sits in a non-root v2 cgroup, else the
//! v1 memory controller's cgroup id (this host is hybrid: podman/runc put containers in v1
//! `memory:/libpod_parent/libpod-<id>` and leave v2 at `/`). A kernfs node id equals the
//! inode number of the cgroup directory on 64-bit kernels, so user space reads it with
//! stat(2) instead of asking the kernel through BPF. Roots are parameters so tests can use
//! fixtures. We rejected `name_to_handle_at` (the v2-only way): it does not apply to v1.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::Error;

/// Where a process's container cgroup lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupLoc {
    /// The cgroup directory (v2 dir or v1 memory dir).
    pub dir: PathBuf,
    /// Its path inside the hierarchy (`/libpod_parent/libpod-…`).
    pub path: String,
    /// The id the kernel programs use.
    pub id: u64,
}

/// The cgroup v2 mount point: `<root>/unified` on hybrid hosts, else `<root>`.
pub fn cgroup2_dir(cgroup_root: &Path) -> PathBuf {
    let hybrid = cgroup_root.join("unified");
    if hybrid.join("cgroup.procs").exists() {
        hybrid
    } else {
        cgroup_root.to_path_buf()
    }
}

/// Picks the cgroup path the kernel keys `pid` by from `/proc/<pid>/cgroup` text.
/// Returns (is_v2, path).
pub fn key_path(cgroup_file: &str) -> Option<(bool, String)> {
    let mut v1_memory = None;
    for line in cgroup_file.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(hid), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if hid == "0" && ctrls.is_empty() && path != "/" {
            return Some((true, path.to_string()));
        }
        if ctrls.split(',').any(|c| c == "memory") {
            v1_memory = Some(path.to_string());
        }
    }
    v1_memory.map(|p| (false, p))
}

/// Locates `pid`'s container cgroup.
pub fn locate(proc_root: &Path, cgroup_root: &Path, pid: u32) -> Result<CgroupLoc, Error> {
    let file = proc_root.join(pid.to_string()).join("cgroup");
    let text = std::fs::read_to_string(&file).map_err(|e| Error::Container {
        what: format!("pid {pid}"),
        message: format!("reading {}: {e} (did the process exit?)", file.display()),
    })?;
    let (v2, path) = key_path(&text).ok_or_else(|| Error::Container {
        what: format!("pid {pid}"),
        message: format!(
            "{} names neither a v2 cgroup nor a v1 memory cgroup",
            file.display()
        ),
    })?;
    let base = if v2 {
        cgroup2_dir(cgroup_root)
    } else {
        cgroup_root.join("memory")
    };
    let dir = base.join(path.trim_start_matches('/'));
    let meta = std::fs::metadata(&dir).map_err(|e| Error::Container {
        what: format!("pid {pid}"),
        message: format!("stat {}: {e}", dir.display()),
    })?;
    Ok(CgroupLoc {
        dir,
        path,
        id: meta.ino(),
    })
}

/// Pids in a cgroup directory (`cgroup.procs`).
pub fn procs(dir: &Path) -> Result<Vec<u32>, std::io::Error> {
    let text = std::fs::read_to_string(dir.join("cgroup.procs"))?;
    Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_host_uses_v1_memory() {
        let text = "10:pids:/\n4:memory:/libpod_parent/libpod-abc\n1:cpu:/\n0::/\n";
        assert_eq!(
            key_path(text),
            Some((false, "/libpod_parent/libpod-abc".into()))
        );
    }

    #[test]
    fn v2_cgroup_wins_when_not_root() {
        let text = "0::/system.slice/x.scope\n";
        assert_eq!(key_path(text), Some((true, "/system.slice/x.scope".into())));
        assert_eq!(key_path("0::/\n"), None);
    }

    #[test]
    fn locate_reads_fixture_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let proc_dir = tmp.path().join("proc/42");
        std::fs::create_dir_all(&proc_dir).unwrap();
        std::fs::write(
            proc_dir.join("cgroup"),
            "4:memory:/libpod_parent/libpod-x\n0::/\n",
        )
        .unwrap();
        let cg = tmp.path().join("cg/memory/libpod_parent/libpod-x");
        std::fs::create_dir_all(&cg).unwrap();
        std::fs::write(cg.join("cgroup.procs"), "42\n43\n").unwrap();
        let loc = locate(&tmp.path().join("proc"), &tmp.path().join("cg"), 42).unwrap();
        assert_eq!(loc.dir, cg);
        assert_eq!(loc.id, std::fs::metadata(&cg).unwrap().ino());
        assert_eq!(procs(&loc.dir).unwrap(), vec![42, 43]);
        let err = locate(&tmp.path().join("proc"), &tmp.path().join("cg"), 7).unwrap_err();
        assert!(err.to_string().contains("did the process exit"), "{err}");
    }
}
