//! [`LiveState`]: the process table, the container cache and the user cache behind one
//! [`StateView`], driven by the monitor loop.
//!
//! The loop owns it (`&mut` for updates, `&` while the rules evaluate), so no locks are taken
//! per event. We rejected putting the three behind `Arc<Mutex<_>>` for sharing with the
//! lookup workers: the workers only ever hand results back through a channel.

use crate::containers::{CacheConfig, CacheStats, ContainerCache, Readiness};
use crate::error::StateError;
use crate::procfs::{clock_ticks, ProcFs};
use crate::table::{Change, ProcessTable, TableConfig, TableStats};
use crate::users::{UserCache, UserStats};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vigil_event::{Container, Event, Process, StateView, UserInfo};

/// Settings of [`LiveState`].
#[derive(Clone, Debug)]
pub struct StateConfig {
    /// The `/proc` tree (fixtures in tests).
    pub proc_root: PathBuf,
    /// The host's root, for its `/etc/passwd` and `/etc/group`.
    pub host_root: PathBuf,
    /// Seed the table from `proc_root` at start.
    pub seed: bool,
    pub table: TableConfig,
    pub cache: CacheConfig,
    /// Longest wait for a new container's metadata before its first alert.
    pub container_wait: Duration,
    /// Containers whose users are cached.
    pub user_containers: usize,
    /// How often a container's passwd file is checked for changes.
    pub user_refresh: Duration,
    /// Host name override; read from `proc_root/sys/kernel/hostname` if `None`.
    pub hostname: Option<String>,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            proc_root: "/proc".into(),
            host_root: "/".into(),
            seed: true,
            table: TableConfig::default(),
            cache: CacheConfig::default(),
            container_wait: Duration::from_millis(300),
            user_containers: 1024,
            user_refresh: Duration::from_secs(5),
            hostname: None,
        }
    }
}

/// Sizes and counters of the whole state, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateMetrics {
    pub processes: TableStats,
    pub containers: CacheStats,
    pub users: UserStats,
}

/// The live state; see the module documentation and the crate documentation for the loop.
#[derive(Debug)]
pub struct LiveState {
    table: ProcessTable,
    containers: ContainerCache,
    users: UserCache,
    hostname: String,
    /// Device and inode of the host's root directory: a process whose `/proc/<pid>/root` is
    /// this one has not entered its container's filesystem yet.
    host_root_id: Option<(u64, u64)>,
    cfg: StateConfig,
}

/// Device and inode of the directory `path` leads to.
fn dir_id(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

impl LiveState {
    /// Opens `/proc`, loads the host's users, starts the lookup workers and (if configured)
    /// seeds the table and requests metadata of every container already running.
    pub fn new(cfg: StateConfig) -> Result<LiveState, StateError> {
        let procfs = ProcFs::new(&cfg.proc_root, clock_ticks(), cfg.table.limits)?;
        let hostname = cfg.hostname.clone().unwrap_or_else(|| {
            std::fs::read_to_string(cfg.proc_root.join("sys/kernel/hostname"))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        });
        let mut st = LiveState {
            table: ProcessTable::new(procfs, cfg.table),
            containers: ContainerCache::new(cfg.cache.clone()),
            users: UserCache::new(&cfg.host_root, cfg.user_containers, cfg.user_refresh),
            hostname,
            host_root_id: dir_id(&cfg.host_root),
            cfg,
        };
        if st.cfg.seed {
            st.table.seed()?;
            let seen: Vec<(u32, String)> = st
                .table
                .iter()
                .filter(|p| p.in_container())
                .map(|p| (p.pid, p.container_id.clone()))
                .collect();
            for (pid, id) in seen {
                st.see_container(pid, &id);
            }
        }
        Ok(st)
    }

    /// First step for every event: applies clone and exec to the table, requests metadata of a
    /// container seen for the first time, and applies finished lookups. Cheap for other events.
    pub fn before(&mut self, ev: &Event<'_>) -> Change {
        let change = self.table.before(ev);
        if let Change::Spawned(pid) | Change::Exec(pid) = change {
            let Some(p) = self.table.get(pid) else {
                return change;
            };
            if !p.in_container() {
                // Podman and CRI-O announce each container's name on its monitor's command
                // line, before the container's first process (see `hints`).
                if matches!(change, Change::Exec(_)) && p.comm == "conmon" {
                    if let Some((id, name)) = crate::hints::conmon_names(&p.args) {
                        self.containers.hint(&id, &name);
                    }
                }
                return change;
            }
            // Allocation-free unless there is something to do.
            if self.containers.needs_request(&p.container_id)
                || self.users.needs_check(&p.container_id)
            {
                let cid = p.container_id.clone();
                self.see_container(pid, &cid);
            }
        }
        change
    }

    fn see_container(&mut self, pid: u32, cid: &str) {
        if self.containers.needs_request(cid) {
            let kind = self.table.runtime_of(cid);
            if !self.containers.contains(cid) {
                log::debug!("new container {cid} ({kind}) first seen at pid {pid}");
            }
            self.containers.request(cid, kind);
        }
        if self.users.needs_check(cid) {
            // runc's set-up processes are in the container's cgroup before they enter its
            // root filesystem, and a short-lived process may be gone by the time its event is
            // read: the accounts are read only through a process inside the container's own
            // root, and dropped if that process vanished during the read (the host's
            // /etc/passwd or an empty table would otherwise name the container's users until
            // the next refresh). A later process of the container tries again.
            let root = self.cfg.proc_root.join(pid.to_string()).join("root");
            if !self.in_own_root(&root) {
                return;
            }
            let had = self.users.has(cid);
            self.users.ensure(cid, &root);
            if !had && !self.in_own_root(&root) {
                self.users.forget(cid);
            }
        }
    }

    /// True if `root` (a `/proc/<pid>/root`) exists and is not the host's root directory.
    fn in_own_root(&self, root: &Path) -> bool {
        match (dir_id(root), self.host_root_id) {
            (None, _) => false,
            (Some(r), Some(host)) => r != host,
            (Some(_), None) => true,
        }
    }

    /// Last step for every event: removes exited processes.
    pub fn after(&mut self, ev: &Event<'_>) -> Change {
        self.table.after(ev)
    }

    /// Removes processes that died without a procexit event (dropped events); see
    /// [`ProcessTable::sweep`]. Call on a timer, e.g. `sweep(4096)` every few seconds.
    pub fn sweep(&mut self, max_checks: usize) -> usize {
        self.table.sweep(max_checks)
    }

    /// Applies finished container lookups; call once per batch of events.
    pub fn poll(&mut self) -> usize {
        self.containers.poll()
    }

    /// Before emitting an alert about `pid`: if its container's metadata is still being read,
    /// waits for it until `container_wait` (from the configuration) after the lookup was
    /// requested, so a burst of alerts from a new container waits once, not per alert.
    /// Returns at once for host processes (`Unknown`) and resolved containers.
    pub fn wait_container_of(&mut self, pid: u32) -> Readiness {
        self.containers.poll();
        let Some(p) = self.table.get(pid).filter(|p| p.in_container()) else {
            return Readiness::Unknown;
        };
        let Some(since) = self.containers.pending_since(&p.container_id) else {
            return match self.containers.status(&p.container_id) {
                Some(crate::Status::Ready) => Readiness::Ready,
                Some(crate::Status::Failed(e)) => Readiness::Failed(e.clone()),
                _ => Readiness::Unknown,
            };
        };
        let id = p.container_id.clone();
        self.containers
            .wait_ready(&id, since + self.cfg.container_wait)
    }

    /// Waits up to `max_wait` for the metadata of container `id`.
    pub fn wait_container(&mut self, id: &str, max_wait: Duration) -> Readiness {
        self.containers.wait_ready(id, Instant::now() + max_wait)
    }

    /// The process table.
    pub fn table(&self) -> &ProcessTable {
        &self.table
    }

    /// The container cache (for `request`/`status`).
    pub fn containers(&mut self) -> &mut ContainerCache {
        &mut self.containers
    }

    /// The user cache.
    pub fn users(&self) -> &UserCache {
        &self.users
    }

    /// Sizes and counters.
    pub fn metrics(&self) -> StateMetrics {
        StateMetrics {
            processes: self.table.stats(),
            containers: self.containers.stats(),
            users: self.users.stats(),
        }
    }
}

impl StateView for LiveState {
    fn process(&self, pid: u32) -> Option<&Process> {
        self.table.get(pid)
    }

    fn container(&self, id: &str) -> Option<&Container> {
        self.containers.get(id)
    }

    fn user(&self, process: &Process, uid: u32) -> Option<&UserInfo> {
        self.users.user(&process.container_id, uid)
    }

    fn group_name(&self, process: &Process, gid: u32) -> Option<&str> {
        self.users.group(&process.container_id, gid)
    }

    fn hostname(&self) -> &str {
        &self.hostname
    }

    fn parent(&self, process: &Process) -> Option<&Process> {
        self.table.parent(process)
    }
}
