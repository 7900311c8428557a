//! User and group names as each process sees them.
//!
//! A uid means a different user in every container, so names come from the passwd and group
//! files of the process's own root: `/proc/<pid>/root/etc/passwd` for a container process
//! (read once per container and cached), the host's `/etc/passwd` otherwise. We rejected
//! `getpwuid(3)`: it answers for vigil's root only, may call NSS modules (LDAP, sssd) that
//! block, and is not safe to call from a thread that must not stall.
//!
//! The files are untrusted (a container writes its own `/etc/passwd`): reads are capped in
//! bytes and entries; malformed lines are skipped but reported with their line number
//! ([`ParseIssue`]) and counted, never silently; files are opened with [`open_in_root`], so a
//! container's symlinks cannot make vigil read a host file and a FIFO cannot block it.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};
use vigil_event::UserInfo;

/// Largest passwd/group file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Most entries kept from one file.
pub const MAX_ENTRIES: usize = 10_000;

/// A line of a passwd/group file that was skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseIssue {
    pub line: usize,
    pub msg: String,
}

/// Parses a passwd file: `name:password:uid:gid:gecos:home:shell`. The first entry of a uid
/// wins, as with `getpwuid`. Comments, blank lines and NIS `+`/`-` lines are skipped.
pub fn parse_passwd(text: &str) -> (HashMap<u32, UserInfo>, Vec<ParseIssue>) {
    let mut users = HashMap::new();
    let mut issues = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') || line.starts_with(['+', '-']) {
            continue;
        }
        let f: Vec<&str> = line.split(':').collect();
        if f.len() != 7 {
            issues.push(ParseIssue {
                line: n + 1,
                msg: format!("expected 7 ':'-separated fields, found {}", f.len()),
            });
            continue;
        }
        let Ok(uid) = f[2].parse::<u32>() else {
            issues.push(ParseIssue {
                line: n + 1,
                msg: format!("uid {:?} is not a number", f[2]),
            });
            continue;
        };
        if users.len() >= MAX_ENTRIES {
            issues.push(ParseIssue {
                line: n + 1,
                msg: format!("more than {MAX_ENTRIES} entries; the rest is ignored"),
            });
            break;
        }
        users.entry(uid).or_insert_with(|| UserInfo {
            uid,
            name: f[0].to_string(),
            homedir: f[5].to_string(),
            shell: f[6].to_string(),
        });
    }
    (users, issues)
}

/// Parses a group file: `name:password:gid:members`.
pub fn parse_group(text: &str) -> (HashMap<u32, String>, Vec<ParseIssue>) {
    let mut groups = HashMap::new();
    let mut issues = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') || line.starts_with(['+', '-']) {
            continue;
        }
        let f: Vec<&str> = line.split(':').collect();
        if f.len() != 4 {
            issues.push(ParseIssue {
                line: n + 1,
                msg: format!("expected 4 ':'-separated fields, found {}", f.len()),
            });
            continue;
        }
        let Ok(gid) = f[2].parse::<u32>() else {
            issues.push(ParseIssue {
                line: n + 1,
                msg: format!("gid {:?} is not a number", f[2]),
            });
            continue;
        };
        if groups.len() >= MAX_ENTRIES {
            issues.push(ParseIssue {
                line: n + 1,
                msg: format!("more than {MAX_ENTRIES} entries; the rest is ignored"),
            });
            break;
        }
        groups.entry(gid).or_insert_with(|| f[0].to_string());
    }
    (groups, issues)
}

/// The users and groups of one root filesystem.
#[derive(Clone, Debug, Default)]
pub struct UserDb {
    pub users: HashMap<u32, UserInfo>,
    pub groups: HashMap<u32, String>,
}

/// Opens `rel` (like `etc/passwd`) inside `root` as if `root` were `/`.
///
/// A container controls its own tree, so: symlinks cannot lead out of it (`openat2` with
/// `RESOLVE_IN_ROOT`; on kernels without `openat2`, a plain open with only the last component
/// protected), the last component must not be a symlink (`O_NOFOLLOW`), and a FIFO cannot
/// stall the caller (`O_NONBLOCK`, then only a regular file is accepted).
pub fn open_in_root(root: &Path, rel: &str) -> std::io::Result<File> {
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
    let dir = File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(root)?;
    let c = std::ffi::CString::new(rel)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path"))?;
    let how = OpenHow {
        flags: flags as u64,
        mode: 0,
        resolve: libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: `dir` is an open directory descriptor, `c` a NUL-terminated string and `how` a
    // properly laid out `struct open_how` whose size is passed; all outlive the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    let f = if fd < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ENOSYS) {
            return Err(e);
        }
        File::options()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(root.join(rel))?
    } else {
        // SAFETY: `fd` is a new descriptor returned by openat2 that nothing else owns.
        unsafe { File::from_raw_fd(fd as RawFd) }
    };
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(f)
}

/// Reads at most [`MAX_FILE_BYTES`] of `root/rel` (see [`open_in_root`]).
fn read_capped(root: &Path, rel: &str) -> std::io::Result<(String, Option<SystemTime>)> {
    let f = open_in_root(root, rel)?;
    let mtime = f.metadata().and_then(|m| m.modified()).ok();
    let mut buf = Vec::new();
    f.take(MAX_FILE_BYTES).read_to_end(&mut buf)?;
    Ok((String::from_utf8_lossy(&buf).into_owned(), mtime))
}

impl UserDb {
    /// Loads `root/etc/passwd` and `root/etc/group`. A missing file gives an empty table
    /// (distroless images have none); other problems are logged with file and line, and
    /// returned as the number of issues.
    pub fn load(root: &Path) -> (UserDb, usize, Option<SystemTime>) {
        let mut db = UserDb::default();
        let mut n_issues = 0;
        let passwd = root.join("etc/passwd");
        let mut mtime = None;
        match read_capped(root, "etc/passwd") {
            Ok((text, m)) => {
                mtime = m;
                let (users, issues) = parse_passwd(&text);
                for i in &issues {
                    log::debug!("{}:{}: {}", passwd.display(), i.line, i.msg);
                }
                n_issues += issues.len();
                db.users = users;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                log::debug!("{}: {e}", passwd.display());
                n_issues += 1;
            }
        }
        let group = root.join("etc/group");
        match read_capped(root, "etc/group") {
            Ok((text, _)) => {
                let (groups, issues) = parse_group(&text);
                for i in &issues {
                    log::debug!("{}:{}: {}", group.display(), i.line, i.msg);
                }
                n_issues += issues.len();
                db.groups = groups;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                log::debug!("{}: {e}", group.display());
                n_issues += 1;
            }
        }
        (db, n_issues, mtime)
    }
}

#[derive(Debug)]
struct Loaded {
    db: UserDb,
    checked: Instant,
    mtime: Option<SystemTime>,
    source: PathBuf,
}

/// Counters of the user cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserStats {
    pub containers: u64,
    pub loads: u64,
    /// Skipped lines and unreadable files.
    pub issues: u64,
    pub evictions: u64,
}

/// Users of the host and of each container, bounded in the number of containers.
#[derive(Debug)]
pub struct UserCache {
    host: UserDb,
    containers: HashMap<String, Loaded>,
    order: VecDeque<String>,
    max_containers: usize,
    refresh: Duration,
    stats: UserStats,
}

impl UserCache {
    /// Loads the host's users from `host_root/etc`.
    pub fn new(host_root: &Path, max_containers: usize, refresh: Duration) -> UserCache {
        let (host, issues, _) = UserDb::load(host_root);
        UserCache {
            host,
            containers: HashMap::new(),
            order: VecDeque::new(),
            max_containers: max_containers.max(1),
            refresh,
            stats: UserStats {
                loads: 1,
                issues: issues as u64,
                ..UserStats::default()
            },
        }
    }

    /// Makes sure the users of `container_id` are loaded, from `root` (normally
    /// `/proc/<pid>/root` of one of its processes). Reloads when the file changed, checking at
    /// most once per refresh interval. Cheap when nothing is due.
    pub fn ensure(&mut self, container_id: &str, root: &Path) {
        if container_id.is_empty() {
            return;
        }
        if let Some(l) = self.containers.get_mut(container_id) {
            if l.checked.elapsed() < self.refresh {
                return;
            }
            l.checked = Instant::now();
            let passwd = root.join("etc/passwd");
            let mtime = std::fs::symlink_metadata(&passwd)
                .and_then(|m| m.modified())
                .ok();
            if mtime.is_none() || mtime == l.mtime {
                return;
            }
        }
        let (db, issues, mtime) = UserDb::load(root);
        self.stats.loads += 1;
        self.stats.issues += issues as u64;
        if !self.containers.contains_key(container_id) {
            while self.containers.len() >= self.max_containers {
                let Some(old) = self.order.pop_front() else {
                    break;
                };
                if self.containers.remove(&old).is_some() {
                    self.stats.evictions += 1;
                }
            }
            self.order.push_back(container_id.to_string());
        }
        self.containers.insert(
            container_id.to_string(),
            Loaded {
                db,
                checked: Instant::now(),
                mtime,
                source: root.to_path_buf(),
            },
        );
    }

    /// True if [`ensure`](Self::ensure) would read anything: the container's users are not
    /// loaded, or a refresh check is due. Cheap, for the per-event path.
    pub fn needs_check(&self, container_id: &str) -> bool {
        if container_id.is_empty() {
            return false;
        }
        match self.containers.get(container_id) {
            None => true,
            Some(l) => l.checked.elapsed() >= self.refresh,
        }
    }

    /// Drops what was loaded for a container (it was read from a process that vanished
    /// meanwhile); the next [`ensure`](Self::ensure) reads it again.
    pub fn forget(&mut self, container_id: &str) {
        if self.containers.remove(container_id).is_some() {
            self.order.retain(|c| c != container_id);
        }
    }

    /// True if the users of this container are loaded.
    pub fn has(&self, container_id: &str) -> bool {
        self.containers.contains_key(container_id)
    }

    /// Where the users of a container were read from.
    pub fn source(&self, container_id: &str) -> Option<&Path> {
        self.containers
            .get(container_id)
            .map(|l| l.source.as_path())
    }

    /// The users and groups of a container (`""` = the host), if loaded.
    pub fn db(&self, container_id: &str) -> Option<&UserDb> {
        if container_id.is_empty() {
            Some(&self.host)
        } else {
            self.containers.get(container_id).map(|l| &l.db)
        }
    }

    /// The user `uid` in a container (`""` = the host).
    pub fn user(&self, container_id: &str, uid: u32) -> Option<&UserInfo> {
        self.db(container_id)?.users.get(&uid)
    }

    /// The name of group `gid` in a container (`""` = the host).
    pub fn group(&self, container_id: &str, gid: u32) -> Option<&str> {
        self.db(container_id)?.groups.get(&gid).map(String::as_str)
    }

    /// Counters.
    pub fn stats(&self) -> UserStats {
        UserStats {
            containers: self.containers.len() as u64,
            ..self.stats
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines() {
        let text = "# comment\nroot:x:0:0:root:/root:/bin/bash\n\nbin:x:1:1::/bin:/usr/sbin/nologin\nbroken line\nroot2:x:0:0::/:/bin/sh\nbad:x:abc:1::/:/bin/sh\n+nis\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\r\n";
        let (u, issues) = parse_passwd(text);
        assert_eq!(u.len(), 3);
        assert_eq!(u[&0].name, "root", "first entry of a uid wins");
        assert_eq!(u[&0].homedir, "/root");
        assert_eq!(u[&1].shell, "/usr/sbin/nologin");
        assert_eq!(u[&65534].shell, "/usr/sbin/nologin");
        assert_eq!(
            issues,
            vec![
                ParseIssue {
                    line: 5,
                    msg: "expected 7 ':'-separated fields, found 1".into()
                },
                ParseIssue {
                    line: 7,
                    msg: "uid \"abc\" is not a number".into()
                }
            ]
        );
    }

    #[test]
    fn group_lines() {
        let (g, issues) = parse_group("root:x:0:\nadm:x:4:syslog,alice\nx:y\n");
        assert_eq!(g[&0], "root");
        assert_eq!(g[&4], "adm");
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].line, 3);
    }

    #[test]
    fn entry_cap() {
        let text: String = (0..MAX_ENTRIES + 5)
            .map(|i| format!("u{i}:x:{i}:0::/:/bin/sh\n"))
            .collect();
        let (u, issues) = parse_passwd(&text);
        assert_eq!(u.len(), MAX_ENTRIES);
        assert_eq!(issues.len(), 1);
        assert!(issues[0].msg.contains("rest is ignored"));
    }
}
