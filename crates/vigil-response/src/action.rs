//! What was done: [`ActionReport`] for kernel decisions (decoded from the ring buffer) and
//! user-space responses ([`RuleAction`]: kill a process, kill a container's process tree,
//! pause or stop it through podman, isolate its network).
//!
//! Every action yields a report, including failures and audit-only decisions, so the caller
//! turns each into an alert; nothing is acted on silently. We rejected driving podman through
//! its REST socket: the CLI is always present where podman is, and its exit status and stderr
//! are the clearest outcome to report.

use std::fmt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::cgroup;

/// What the kernel or the responder did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// An exec was denied (the new program killed before its first instruction).
    ExecDenied,
    /// A file open for reading was denied (caller killed at syscall exit).
    ReadDenied,
    /// A file open for writing was denied (caller killed at syscall exit).
    WriteDenied,
    /// A connect to a unix socket path was denied (caller killed at syscall exit).
    UnixConnectDenied,
    /// An IPv4/IPv6 connect was refused with EPERM.
    ConnectDenied,
    /// A datagram (sendmsg/sendto) was refused with EPERM.
    SendDenied,
    KillProcess,
    KillContainer,
    PauseContainer,
    StopContainer,
    IsolateNetwork,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ExecDenied => "exec_denied",
            Action::ReadDenied => "read_denied",
            Action::WriteDenied => "write_denied",
            Action::UnixConnectDenied => "unix_connect_denied",
            Action::ConnectDenied => "connect_denied",
            Action::SendDenied => "send_denied",
            Action::KillProcess => "kill_process",
            Action::KillContainer => "kill_container",
            Action::PauseContainer => "pause_container",
            Action::StopContainer => "stop_container",
            Action::IsolateNetwork => "isolate_network",
        }
    }
}

/// A user-space response a rule may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleAction {
    KillProcess,
    KillContainer,
    PauseContainer,
    StopContainer,
    IsolateNetwork,
}

impl RuleAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleAction::KillProcess => "kill_process",
            RuleAction::KillContainer => "kill_container",
            RuleAction::PauseContainer => "pause_container",
            RuleAction::StopContainer => "stop_container",
            RuleAction::IsolateNetwork => "isolate_network",
        }
    }
}

impl std::str::FromStr for RuleAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "kill_process" | "kill" => RuleAction::KillProcess,
            "kill_container" => RuleAction::KillContainer,
            "pause_container" | "pause" => RuleAction::PauseContainer,
            "stop_container" | "stop" => RuleAction::StopContainer,
            "isolate_network" | "isolate" => RuleAction::IsolateNetwork,
            o => return Err(format!("unknown response `{o}` (kill_process, kill_container, pause_container, stop_container, isolate_network)")),
        })
    }
}

impl From<RuleAction> for Action {
    fn from(a: RuleAction) -> Action {
        match a {
            RuleAction::KillProcess => Action::KillProcess,
            RuleAction::KillContainer => Action::KillContainer,
            RuleAction::PauseContainer => Action::PauseContainer,
            RuleAction::StopContainer => Action::StopContainer,
            RuleAction::IsolateNetwork => Action::IsolateNetwork,
        }
    }
}

/// Where the action happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Kernel,
    UserSpace,
}

/// How it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Carried out (process killed, connection refused, container paused...).
    Done,
    /// A policy in audit mode matched: nothing was done, it is only reported.
    AuditOnly,
    /// The target was already gone.
    TargetGone,
    Failed(String),
    /// Not attempted, and why (e.g. the same response for the same target ran moments ago).
    Skipped(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Done => f.write_str("done"),
            Outcome::AuditOnly => f.write_str("audit-only"),
            Outcome::TargetGone => f.write_str("target-gone"),
            Outcome::Failed(e) => write!(f, "failed: {e}"),
            Outcome::Skipped(why) => write!(f, "skipped: {why}"),
        }
    }
}

/// Whom it was done to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    pub pid: u32,
    pub tid: u32,
    pub comm: String,
    pub cgroup_id: u64,
    /// Full container id when known.
    pub container_id: String,
    pub container_name: String,
}

/// One reported action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionReport {
    pub action: Action,
    pub origin: Origin,
    /// The policy that decided (kernel actions), if any.
    pub policy: Option<String>,
    /// That policy's scope, described.
    pub scope: Option<String>,
    /// `deny-listed`, `not-allow-listed`, `isolated` for kernel actions.
    pub reason: Option<&'static str>,
    pub target: Target,
    /// The path, `addr:port/proto`, or the container acted on.
    pub object: String,
    pub outcome: Outcome,
    /// User space: time to carry the action out (until the target is dead, paused...).
    /// Kernel: time from the in-kernel decision until this report was read.
    pub latency: Option<Duration>,
    /// Pause and stop: time until the effect was in place (container frozen, its processes
    /// dead), which comes before the runtime's own bookkeeping ends (`latency`).
    pub effect: Option<Duration>,
    /// Kernel decision time (CLOCK_MONOTONIC ns), for kernel actions.
    pub kernel_time_ns: Option<u64>,
    /// The syscall the kernel acted at, and its return value (file and unix actions).
    pub syscall: Option<(u32, i32)>,
    /// Taken by a previous agent run's pinned programs while no agent read their reports
    /// (policy and container names are then unknown).
    pub previous_run: bool,
}

impl fmt::Display for ActionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} pid={} comm={} cgroup={:#x}",
            self.action.as_str(),
            self.object,
            self.target.pid,
            self.target.comm,
            self.target.cgroup_id
        )?;
        if !self.target.container_name.is_empty() {
            write!(f, " container={}", self.target.container_name)?;
        }
        if let Some(p) = &self.policy {
            write!(f, " policy={p}")?;
        }
        if let Some(r) = self.reason {
            write!(f, " reason={r}")?;
        }
        write!(f, " outcome={}", self.outcome)?;
        if let Some(l) = self.latency {
            write!(f, " latency={:.3}ms", l.as_secs_f64() * 1e3)?;
        }
        Ok(())
    }
}

fn report(
    action: Action,
    target: Target,
    object: String,
    outcome: Outcome,
    t0: Instant,
) -> ActionReport {
    ActionReport {
        action,
        origin: Origin::UserSpace,
        policy: None,
        scope: None,
        reason: None,
        target,
        object,
        outcome,
        latency: Some(t0.elapsed()),
        effect: None,
        kernel_time_ns: None,
        syscall: None,
        previous_run: false,
    }
}

/// Is `pid` dead (gone or a zombie)?
fn dead(proc_root: &Path, pid: u32) -> bool {
    match std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat")) {
        Err(_) => true,
        // state is the field after the parenthesised comm
        Ok(s) => s
            .rfind(')')
            .and_then(|i| s[i + 1..].split_whitespace().next())
            .is_some_and(|st| st == "Z" || st == "X"),
    }
}

fn sigkill(pid: u32) -> Result<(), std::io::Error> {
    let Ok(p) = libc::pid_t::try_from(pid) else {
        return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
    };
    if p <= 1 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "refusing to kill pid <= 1",
        ));
    }
    // SAFETY: kill(2) has no memory-safety preconditions.
    if unsafe { libc::kill(p, libc::SIGKILL) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

const DEATH_WAIT: Duration = Duration::from_secs(2);

/// SIGKILLs `pid` and waits until it is dead.
pub fn kill_process(proc_root: &Path, target: Target) -> ActionReport {
    let t0 = Instant::now();
    let pid = target.pid;
    let object = format!("pid {pid}");
    let outcome = match sigkill(pid) {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Outcome::TargetGone,
        Err(e) => Outcome::Failed(format!("kill({pid}, SIGKILL): {e}")),
        Ok(()) => {
            while !dead(proc_root, pid) && t0.elapsed() < DEATH_WAIT {
                std::thread::sleep(Duration::from_micros(200));
            }
            if dead(proc_root, pid) {
                Outcome::Done
            } else {
                Outcome::Failed(format!(
                    "pid {pid} still alive {DEATH_WAIT:?} after SIGKILL"
                ))
            }
        }
    };
    report(Action::KillProcess, target, object, outcome, t0)
}

/// SIGKILLs every process of the cgroup directory until it is empty. With cgroup v2's
/// `cgroup.kill` (Linux 5.14+) the kernel kills the whole cgroup at once, forks included;
/// otherwise forks racing the signals are caught by the next round.
pub fn kill_cgroup(proc_root: &Path, dir: &Path, target: Target) -> ActionReport {
    let t0 = Instant::now();
    let object = format!("cgroup {}", dir.display());
    let mut killed = 0usize;
    let mut via_kernel = false;
    if let Ok(pids) = cgroup::procs(dir) {
        if std::fs::write(dir.join("cgroup.kill"), "1").is_ok() {
            killed = pids.len();
            via_kernel = true;
        }
    }
    let outcome = loop {
        let pids = match cgroup::procs(dir) {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break Outcome::TargetGone,
            Err(e) => {
                break Outcome::Failed(format!("reading {}/cgroup.procs: {e}", dir.display()))
            }
        };
        let alive: Vec<u32> = pids.into_iter().filter(|&p| !dead(proc_root, p)).collect();
        if alive.is_empty() {
            break if killed == 0 {
                Outcome::TargetGone
            } else {
                Outcome::Done
            };
        }
        if t0.elapsed() > DEATH_WAIT {
            break Outcome::Failed(format!(
                "{} processes still alive after {DEATH_WAIT:?}",
                alive.len()
            ));
        }
        for p in alive {
            if sigkill(p).is_ok() && !via_kernel {
                killed += 1;
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    report(
        Action::KillContainer,
        target,
        format!("{object} ({killed} killed)"),
        outcome,
        t0,
    )
}

/// The state letter of `pid` (`R`, `S`, `T`, `Z`...), None when gone.
fn proc_state(proc_root: &Path, pid: u32) -> Option<char> {
    let s = std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat")).ok()?;
    let i = s.rfind(')')?;
    s[i + 1..].split_whitespace().next()?.chars().next()
}

fn signal(pid: u32, sig: i32) -> bool {
    match libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) has no memory-safety preconditions; pids <= 1 are never signalled.
        Ok(p) if p > 1 => unsafe { libc::kill(p, sig) == 0 },
        _ => false,
    }
}

/// SIGSTOPs every process of the cgroup directory until all are stopped (forks racing the
/// signal are caught by the next round). Returns the stopped pids.
fn stop_all(proc_root: &Path, dir: &Path) -> Result<Vec<u32>, String> {
    let t0 = Instant::now();
    loop {
        let pids =
            cgroup::procs(dir).map_err(|e| format!("{}/cgroup.procs: {e}", dir.display()))?;
        let running: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|&p| !matches!(proc_state(proc_root, p), None | Some('T' | 't' | 'Z' | 'X')))
            .collect();
        if running.is_empty() {
            return Ok(pids);
        }
        if t0.elapsed() > DEATH_WAIT {
            return Err(format!(
                "{} processes not stopped after {DEATH_WAIT:?}",
                running.len()
            ));
        }
        for p in running {
            signal(p, libc::SIGSTOP);
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Pause or stop a container: the effect first, directly through its cgroup, then `podman
/// pause` / `podman stop --time 0` so the runtime's state agrees. We rejected relying on
/// podman alone: its CLI start-up takes tens of milliseconds during which the workload keeps
/// running.
///
/// - stop: every process is SIGKILLed (as `kill_container`), then podman records the exit.
/// - pause: every process is SIGSTOPped, `podman pause` freezes the cgroup, then SIGCONT is
///   sent: frozen tasks stay frozen and resume normally at `podman unpause` (checked on
///   Linux 6.18). Freezing the cgroup ourselves instead would make runc see the container as
///   already paused and refuse. The workload can observe the SIGCONT (a handler runs after
///   unpause). If `podman pause` fails, the processes are left stopped and the report says
///   how to resume them.
pub fn pause_or_stop(
    proc_root: &Path,
    cgroup_root: &Path,
    action: RuleAction,
    target: Target,
) -> ActionReport {
    let t0 = Instant::now();
    let (act, args): (Action, &[&str]) = match action {
        RuleAction::StopContainer => (Action::StopContainer, &["stop", "--time", "0"]),
        _ => (Action::PauseContainer, &["pause"]),
    };
    let id = target.container_id.clone();
    if id.is_empty() {
        return report(
            act,
            target,
            "container ?".into(),
            Outcome::Failed("unknown container (no id for this cgroup)".into()),
            t0,
        );
    }
    let object = format!("container {}", &id[..id.len().min(12)]);
    let dir = match cgroup::locate(proc_root, cgroup_root, target.pid) {
        Ok(loc) if loc.path != "/" && !loc.path.is_empty() => Ok(loc.dir),
        Ok(loc) => Err(format!(
            "pid {} is in cgroup {}: not a container",
            target.pid, loc.path
        )),
        Err(e) => Err(e.to_string()),
    };
    // The effect.
    let effect: Result<Vec<u32>, String> = dir.as_ref().map_err(Clone::clone).and_then(|dir| {
        if act == Action::PauseContainer {
            stop_all(proc_root, dir)
        } else {
            let r = kill_cgroup(proc_root, dir, target.clone());
            match r.outcome {
                Outcome::Failed(e) => Err(e),
                _ => Ok(Vec::new()),
            }
        }
    });
    let effect_time = t0.elapsed();
    // The runtime's bookkeeping.
    let ran = Command::new("podman").args(args).arg(&id).output();
    let runtime_ok = matches!(&ran, Ok(o) if o.status.success());
    if act == Action::PauseContainer && runtime_ok {
        if let Ok(dir) = &dir {
            for p in cgroup::procs(dir).unwrap_or_default() {
                signal(p, libc::SIGCONT);
            }
        }
    }
    let outcome = match (ran, &effect) {
        (Err(e), _) => Outcome::Failed(format!("running podman: {e}")),
        (Ok(_), Err(e)) if runtime_ok => {
            Outcome::Failed(format!("podman {} succeeded, but first: {e}", args[0]))
        }
        (Ok(_), _) if runtime_ok => Outcome::Done,
        (Ok(o), effect) => {
            let err = String::from_utf8_lossy(&o.stderr).trim().to_string();
            if err.contains("no such container") {
                Outcome::TargetGone
            } else if act == Action::StopContainer && effect.is_ok() {
                // Every process is dead already: the runtime saw the container exit.
                Outcome::Done
            } else if act == Action::PauseContainer && effect.is_ok() {
                Outcome::Failed(format!(
                    "processes SIGSTOPped, but podman pause failed ({err}); `kill -CONT` resumes them"
                ))
            } else {
                Outcome::Failed(format!("podman {}: {err}", args[0]))
            }
        }
    };
    let mut r = report(act, target, object, outcome, t0);
    r.effect = effect.is_ok().then_some(effect_time);
    r
}

/// A failed action before anything was attempted.
pub fn failed(action: Action, target: Target, why: String, t0: Instant) -> ActionReport {
    report(action, target, "-".into(), Outcome::Failed(why), t0)
}

/// A response that was not attempted (`why`), e.g. a duplicate within the dedupe window.
pub fn skipped(action: RuleAction, target: Target, object: String, why: String) -> ActionReport {
    ActionReport {
        latency: None,
        ..report(
            action.into(),
            target,
            object,
            Outcome::Skipped(why),
            Instant::now(),
        )
    }
}

/// A report for network isolation (the map write happens in the enforcer).
pub fn isolated(target: Target, result: Result<(), String>, t0: Instant) -> ActionReport {
    let object = format!("cgroup {:#x}", target.cgroup_id);
    let outcome = match result {
        Ok(()) => Outcome::Done,
        Err(e) => Outcome::Failed(e),
    };
    report(Action::IsolateNetwork, target, object, outcome, t0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_process_reports_gone_target() {
        // A pid far above pid_max cannot exist.
        let r = kill_process(
            Path::new("/proc"),
            Target {
                pid: 0x3fff_ffff,
                ..Default::default()
            },
        );
        assert_eq!(r.outcome, Outcome::TargetGone);
        assert_eq!(r.action, Action::KillProcess);
    }

    #[test]
    fn kill_process_kills_a_real_child() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let r = kill_process(
            Path::new("/proc"),
            Target {
                pid: child.id(),
                ..Default::default()
            },
        );
        assert_eq!(r.outcome, Outcome::Done, "{r}");
        let st = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(st.signal(), Some(libc::SIGKILL));
    }

    #[test]
    fn refuses_pid_one_and_unknown_container() {
        let r = kill_process(
            Path::new("/proc"),
            Target {
                pid: 1,
                ..Default::default()
            },
        );
        assert!(
            matches!(r.outcome, Outcome::Failed(ref e) if e.contains("pid <= 1")),
            "{r}"
        );
        let r = pause_or_stop(
            Path::new("/proc"),
            Path::new("/sys/fs/cgroup"),
            RuleAction::PauseContainer,
            Target::default(),
        );
        assert!(
            matches!(r.outcome, Outcome::Failed(ref e) if e.contains("unknown container")),
            "{r}"
        );
    }

    #[test]
    fn rule_actions_parse() {
        assert_eq!(
            "kill_container".parse::<RuleAction>(),
            Ok(RuleAction::KillContainer)
        );
        assert!("explode"
            .parse::<RuleAction>()
            .unwrap_err()
            .contains("unknown response"));
    }
}
