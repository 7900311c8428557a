//! Carrying out one user-space response ([`RuleAction`]) against a process or its container:
//! the part of the enforcer a response worker thread needs, detachable from it.
//!
//! [`Executor`] is `Send` and cheap to clone: the roots, whether the network programs are
//! attached, and the isolation map shared (behind a mutex) with the [`crate::Enforcer`] that
//! created it. A monitor keeps its enforcer on the detection thread (containers starting,
//! kernel reports, reloads) and hands an executor to the thread that runs responses, so a
//! kill that waits for death or a `podman pause` never holds up detection or policy
//! application. We rejected sharing the whole enforcer behind a mutex: the detection thread
//! would then wait for podman whenever it applies a policy to a new container.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aya::maps::{HashMap, MapData};

use crate::action::{self, Action, ActionReport, RuleAction, Target};
use crate::cgroup::{self, CgroupLoc};

/// The kernel's deny-all-egress map and the cgroups this agent put in it.
pub(crate) struct Isolation {
    pub(crate) map: HashMap<MapData, u64, u32>,
    pub(crate) set: BTreeSet<u64>,
}

impl Isolation {
    /// Adds `cgroup_id`; the error is the map's.
    pub(crate) fn isolate(&mut self, cgroup_id: u64) -> Result<(), aya::maps::MapError> {
        self.map.insert(cgroup_id, 1, 0)?;
        self.set.insert(cgroup_id);
        Ok(())
    }

    /// Removes `cgroup_id` if this agent isolated it; returns whether it did.
    pub(crate) fn lift(&mut self, cgroup_id: u64) -> bool {
        self.set.remove(&cgroup_id) && self.map.remove(&cgroup_id).is_ok()
    }
}

pub(crate) type SharedIsolation = Arc<Mutex<Isolation>>;

/// Runs user-space responses; see the module documentation.
#[derive(Clone)]
pub struct Executor {
    pub(crate) proc_root: PathBuf,
    pub(crate) cgroup_root: PathBuf,
    pub(crate) network: bool,
    pub(crate) capacity: u32,
    pub(crate) isolation: SharedIsolation,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("proc_root", &self.proc_root)
            .field("cgroup_root", &self.cgroup_root)
            .field("network", &self.network)
            .finish()
    }
}

/// Whether the cgroup at `loc` is `container`'s: its path names the container id (runtimes
/// put the id in the cgroup path, which is where vigil-state takes it from). Guards
/// container-wide actions against a pid that was reused by another process.
fn belongs(loc: &CgroupLoc, container: Option<&vigil_event::Container>) -> bool {
    match container {
        Some(c) if !c.id.is_empty() && c.id != "host" && !c.id.starts_with("cgroup:") => {
            loc.path.contains(c.short_id())
        }
        _ => true,
    }
}

impl Executor {
    /// Runs `action` against `pid` (in container cgroup `cgroup_id`, when the caller knows
    /// it). Container-wide actions need a live process of the container to find its cgroup:
    /// when `pid` is gone (or now belongs to another cgroup) they use the first of `others`
    /// that is still in the container, and the report names that pid. `kill_process` only
    /// ever targets `pid`.
    pub fn respond(
        &self,
        action: RuleAction,
        pid: u32,
        others: &[u32],
        cgroup_id: Option<u64>,
        container: Option<&vigil_event::Container>,
    ) -> ActionReport {
        let locate = |p: u32| cgroup::locate(&self.proc_root, &self.cgroup_root, p);
        let (pid, loc) = if action == RuleAction::KillProcess {
            (pid, locate(pid))
        } else {
            let mut first = None;
            let mut found = None;
            for p in std::iter::once(pid).chain(others.iter().copied()) {
                match locate(p) {
                    Ok(l) if belongs(&l, container) => {
                        found = Some((p, Ok(l)));
                        break;
                    }
                    Ok(l) => {
                        first.get_or_insert_with(|| {
                            (
                                p,
                                Err(crate::Error::Container {
                                    what: format!("pid {p}"),
                                    message: format!(
                                        "now in cgroup {}, not in the container",
                                        l.path
                                    ),
                                }),
                            )
                        });
                    }
                    Err(e) => {
                        first.get_or_insert((p, Err(e)));
                    }
                }
            }
            found.or(first).unwrap_or((pid, locate(pid)))
        };
        let cg = cgroup_id.or_else(|| loc.as_ref().ok().map(|l| l.id));
        let target = Target {
            pid,
            tid: pid,
            comm: std::fs::read_to_string(self.proc_root.join(pid.to_string()).join("comm"))
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            cgroup_id: cg.unwrap_or(0),
            container_id: container.map(|c| c.id.clone()).unwrap_or_default(),
            container_name: container.map(|c| c.name.clone()).unwrap_or_default(),
        };
        match action {
            RuleAction::KillProcess => action::kill_process(&self.proc_root, target),
            RuleAction::KillContainer => {
                let t0 = Instant::now();
                if container.is_none() {
                    // Never a whole cgroup on a guess: on hybrid hosts every host process
                    // may share one v1 memory cgroup.
                    return action::failed(
                        Action::KillContainer,
                        target,
                        format!("pid {pid}: not in a known container, refusing"),
                        t0,
                    );
                }
                match loc {
                    Ok(loc) if loc.path != "/" && !loc.path.is_empty() => {
                        action::kill_cgroup(&self.proc_root, &loc.dir, target)
                    }
                    Ok(loc) => action::failed(
                        Action::KillContainer,
                        target,
                        format!(
                            "pid {pid} is in cgroup {}: not a container, refusing",
                            loc.path
                        ),
                        t0,
                    ),
                    Err(e) => action::failed(Action::KillContainer, target, e.to_string(), t0),
                }
            }
            RuleAction::PauseContainer | RuleAction::StopContainer => {
                action::pause_or_stop(&self.proc_root, &self.cgroup_root, action, target)
            }
            RuleAction::IsolateNetwork => {
                let t0 = Instant::now();
                let res = match cg {
                    None => Err(format!("no cgroup for pid {pid}")),
                    Some(_) if !self.network => Err("network programs not attached".into()),
                    Some(id) => self.isolate(id),
                };
                action::isolated(target, res, t0)
            }
        }
    }

    /// Denies all egress of the cgroup `cgroup_id` (until lifted or the agent exits).
    fn isolate(&self, cgroup_id: u64) -> Result<(), String> {
        let mut iso = self.isolation.lock().unwrap_or_else(|e| e.into_inner());
        iso.isolate(cgroup_id).map_err(|e| {
            crate::enforcer::map_err(
                crate::kernel::maps::ISOLATED,
                self.capacity,
                "isolating".into(),
                e,
            )
            .to_string()
        })
    }

    /// The `/proc` root responses read.
    pub fn proc_root(&self) -> &Path {
        &self.proc_root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgroup_belongs_to_the_container_its_path_names() {
        let loc = |path: &str| CgroupLoc {
            dir: PathBuf::from("/sys/fs/cgroup/memory").join(path.trim_start_matches('/')),
            path: path.into(),
            id: 1,
        };
        let c = |id: &str| vigil_event::Container {
            id: id.into(),
            ..Default::default()
        };
        let full = "48246656a5d1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let ours = loc(&format!("/libpod_parent/libpod-{full}"));
        assert!(belongs(&ours, Some(&c(full))));
        assert!(belongs(&ours, Some(&c("48246656a5d1"))), "short id");
        assert!(!belongs(
            &loc("/user.slice/session-3.scope"),
            Some(&c(full))
        ));
        assert!(!belongs(&loc("/libpod_parent/libpod-ffff"), Some(&c(full))));
        // Nothing to check against: the caller's other guards apply.
        assert!(belongs(&ours, None));
        assert!(belongs(&ours, Some(&c(""))));
        assert!(belongs(&ours, Some(&c("cgroup:/sys/fs/cgroup/x"))));
    }
}
