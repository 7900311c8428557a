//! Finds io_uring instances that exist before the sensor starts.
//!
//! io_uring requests rename files without a syscall, so the sensor's path cache (which is
//! invalidated by rename syscalls) must stay off on a machine where some process already
//! holds an io_uring instance; instances set up later are seen at their `io_uring_setup`
//! exit by the kernel side. An instance shows as a descriptor whose link reads
//! `anon_inode:[io_uring]`.

use std::path::Path;

const URING_LINK: &str = "anon_inode:[io_uring]";

/// The first process under `proc` (a procfs mount) with an io_uring descriptor, if any.
/// Processes and descriptors that vanish or cannot be read while scanning are skipped.
pub fn first_user(proc: &Path) -> Option<u32> {
    let entries = std::fs::read_dir(proc).ok()?;
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(e.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == URING_LINK) {
                return Some(pid);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn finds_a_ring_descriptor_and_ignores_others() {
        let root = std::env::temp_dir().join(format!("vigil-uring-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (pid, fd, target) in [
            ("12", "0", "/dev/null"),
            ("12", "3", "anon_inode:[eventfd]"),
            ("self", "9", URING_LINK),
        ] {
            let dir = root.join(pid).join("fd");
            std::fs::create_dir_all(&dir).unwrap();
            symlink(target, dir.join(fd)).unwrap();
        }
        std::fs::create_dir_all(root.join("34")).unwrap(); // no fd directory
        assert_eq!(
            first_user(&root),
            None,
            "non-numeric entries are not processes"
        );
        let dir = root.join("56").join("fd");
        std::fs::create_dir_all(&dir).unwrap();
        symlink(URING_LINK, dir.join("7")).unwrap();
        assert_eq!(first_user(&root), Some(56));
        assert_eq!(first_user(&root.join("missing")), None);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
