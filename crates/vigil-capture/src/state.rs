//! [`ReplayState`]: the process, container and user context of a replayed capture.
//!
//! It is fed the capture's records and applies the same lifecycle as the live process table
//! (see the sensor/state contract): [`before`](ReplayState::before) an event is evaluated, a
//! `clone` creates the child as a copy of its parent and an `execve` installs the new program,
//! so `proc.*` describes the new image on the exec event; [`after`](ReplayState::after), a
//! `procexit` removes the process. Snapshot records insert or replace entries. Because the
//! lifecycle is derived from events, a fixture only has to spell out the processes that exist
//! before its first event.
//!
//! The alternative, replaying through the live `vigil-state` table, was rejected: that table
//! reads `/proc` and cgroupfs for what it does not know, which a replay must never do.

use crate::record::{HostInfo, Record, UserTable};
use crate::symbols;
use std::collections::HashMap;
use vigil_event::params::exe_flags;
use vigil_event::{
    Container, Dir, Event, EventType, ParamName, Process, StateView, StdioInfo, UserInfo, Value,
};

/// Users and groups of one container (or the host).
#[derive(Clone, Debug, Default)]
struct UserDb {
    users: HashMap<u32, UserInfo>,
    groups: HashMap<u32, String>,
}

impl UserDb {
    fn from_table(t: &UserTable) -> Self {
        UserDb {
            users: t.users.iter().map(|u| (u.uid, u.clone())).collect(),
            groups: t.groups.iter().map(|g| (g.gid, g.name.clone())).collect(),
        }
    }

    /// The accounts of a Debian base system: what a fixture gets when it gives no table.
    fn defaults() -> Self {
        let users: &[(u32, &str, &str, &str)] = &[
            (0, "root", "/root", "/bin/bash"),
            (1, "daemon", "/usr/sbin", "/usr/sbin/nologin"),
            (2, "bin", "/bin", "/usr/sbin/nologin"),
            (3, "sys", "/dev", "/usr/sbin/nologin"),
            (4, "sync", "/bin", "/bin/sync"),
            (5, "games", "/usr/games", "/usr/sbin/nologin"),
            (6, "man", "/var/cache/man", "/usr/sbin/nologin"),
            (7, "lp", "/var/spool/lpd", "/usr/sbin/nologin"),
            (8, "mail", "/var/mail", "/usr/sbin/nologin"),
            (9, "news", "/var/spool/news", "/usr/sbin/nologin"),
            (10, "uucp", "/var/spool/uucp", "/usr/sbin/nologin"),
            (13, "proxy", "/bin", "/usr/sbin/nologin"),
            (33, "www-data", "/var/www", "/usr/sbin/nologin"),
            (34, "backup", "/var/backups", "/usr/sbin/nologin"),
            (65534, "nobody", "/nonexistent", "/usr/sbin/nologin"),
        ];
        let groups: &[(u32, &str)] = &[
            (0, "root"),
            (1, "daemon"),
            (2, "bin"),
            (3, "sys"),
            (4, "adm"),
            (5, "tty"),
            (27, "sudo"),
            (33, "www-data"),
            (65534, "nogroup"),
        ];
        UserDb {
            users: users
                .iter()
                .map(|&(uid, name, home, shell)| {
                    (
                        uid,
                        UserInfo {
                            uid,
                            name: name.into(),
                            homedir: home.into(),
                            shell: shell.into(),
                        },
                    )
                })
                .collect(),
            groups: groups.iter().map(|&(g, n)| (g, n.to_string())).collect(),
        }
    }
}

/// Counters of what the state did, for the replay summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateStats {
    pub processes_created: u64,
    pub execs: u64,
    pub exits: u64,
    /// Exec or exit events for a pid the state did not know (the process was created from
    /// the event alone, or the exit removed nothing).
    pub unknown_pid: u64,
}

/// An in-memory [`StateView`] built from capture records.
#[derive(Clone, Debug)]
pub struct ReplayState {
    processes: HashMap<u32, Process>,
    containers: HashMap<String, Container>,
    users: HashMap<String, UserDb>,
    default_users: UserDb,
    host: HostInfo,
    stats: StateStats,
}

impl Default for ReplayState {
    fn default() -> Self {
        ReplayState::new()
    }
}

/// Host name used when a capture has no host record.
pub const DEFAULT_HOSTNAME: &str = "vigil-replay";

impl ReplayState {
    pub fn new() -> Self {
        ReplayState {
            processes: HashMap::new(),
            containers: HashMap::new(),
            users: HashMap::new(),
            default_users: UserDb::defaults(),
            host: HostInfo {
                hostname: DEFAULT_HOSTNAME.into(),
                ..Default::default()
            },
            stats: StateStats::default(),
        }
    }

    pub fn stats(&self) -> StateStats {
        self.stats
    }

    pub fn host(&self) -> &HostInfo {
        &self.host
    }

    /// Number of live processes.
    pub fn process_count(&self) -> usize {
        self.processes.len()
    }

    /// Inserts or replaces a process.
    pub fn insert_process(&mut self, p: Process) {
        self.processes.insert(p.pid, p);
    }

    /// Inserts or replaces a container.
    pub fn insert_container(&mut self, c: Container) {
        self.containers.insert(c.id.clone(), c);
    }

    /// Applies a non-event record. Event records are applied with [`before`](Self::before) and
    /// [`after`](Self::after) around evaluation instead; passing one here does nothing.
    pub fn apply(&mut self, r: &Record<'_>) {
        match *r {
            Record::Event(_) | Record::End(_) => {}
            Record::Process(p) => self.insert_process(p.clone()),
            Record::RemoveProcess(pid) => {
                self.processes.remove(&pid);
            }
            Record::Container(c) => self.insert_container(c.clone()),
            Record::Users(u) => {
                self.users
                    .insert(u.container_id.clone(), UserDb::from_table(u));
            }
            Record::Host(h) => {
                self.host = h.clone();
                if self.host.hostname.is_empty() {
                    self.host.hostname = DEFAULT_HOSTNAME.into();
                }
            }
        }
    }

    /// Updates the table for `e` before rules see it: process creation and exec.
    pub fn before(&mut self, e: &Event<'_>) {
        if e.dir != Dir::Exit {
            return;
        }
        match e.etype.name() {
            "clone" | "clone3" | "fork" | "vfork" => self.on_clone(e),
            "execve" | "execveat" if e.res == 0 => self.on_exec(e),
            _ => {}
        }
    }

    /// Updates the table for `e` after rules saw it: process exit.
    pub fn after(&mut self, e: &Event<'_>) {
        if e.etype == EventType::PROCEXIT {
            self.stats.exits += 1;
            if self.processes.remove(&e.pid).is_none() {
                self.stats.unknown_pid += 1;
            }
        }
    }

    fn on_clone(&mut self, e: &Event<'_>) {
        // Only the child side (res 0, tid == pid) of a process-creating clone changes state.
        if e.res != 0 || e.tid != e.pid {
            return;
        }
        if let Some(Value::Flags(f, _)) | Some(Value::U64(f)) = e.param(ParamName::Flags) {
            if f & symbols::CLONE_THREAD != 0 {
                return;
            }
        }
        let ppid = param_u32(e, ParamName::Ptid).unwrap_or(0);
        let mut child = match self.processes.get(&ppid) {
            Some(parent) => parent.clone(),
            None => {
                self.stats.unknown_pid += 1;
                Process::default()
            }
        };
        // Without a vpid parameter: the pid itself in the host namespace, unknown elsewhere
        // (as the live table does). Copying the parent's would make every child of a
        // container's first process look like the container's entry point (vpid 1).
        child.vpid = if child.vpid == child.pid { e.pid } else { 0 };
        child.pid = e.pid;
        child.ppid = ppid;
        child.start_ts = e.ts;
        apply_common(&mut child, e);
        if child.vpid == 1 {
            child.pidns_init_start_ts = e.ts;
        }
        self.stats.processes_created += 1;
        self.processes.insert(e.pid, child);
    }

    fn on_exec(&mut self, e: &Event<'_>) {
        self.stats.execs += 1;
        let p = match self.processes.get_mut(&e.pid) {
            Some(p) => p,
            None => {
                self.stats.unknown_pid += 1;
                let ppid = param_u32(e, ParamName::Ptid).unwrap_or(0);
                let container_id = self
                    .processes
                    .get(&ppid)
                    .map(|pp| pp.container_id.clone())
                    .unwrap_or_default();
                self.processes.entry(e.pid).or_insert(Process {
                    pid: e.pid,
                    ppid,
                    start_ts: e.ts,
                    loginuid: u32::MAX,
                    container_id,
                    ..Default::default()
                })
            }
        };
        // A new program: what the old one had does not carry over unless the event says so.
        p.exe.clear();
        p.args.clear();
        p.env.clear();
        p.exepath.clear();
        p.is_exe_upper_layer = false;
        p.is_exe_from_memfd = false;
        p.is_exe_writable = false;
        p.exe_ino = 0;
        p.exe_ino_ctime = 0;
        p.exe_ino_mtime = 0;
        p.exec_ts = e.ts;
        apply_common(p, e);
        if let Some(v) = e.param(ParamName::Env) {
            p.env = list(v);
        }
        if let Some(Value::Str(s)) = e.param(ParamName::TrustedExepath) {
            p.exepath = s.to_string();
        }
        if p.exepath.is_empty() && p.exe.starts_with('/') {
            p.exepath = p.exe.clone();
        }
        if e.param(ParamName::Comm).is_none() {
            // Without a comm parameter, the kernel's rule: the executable's basename, 15 bytes.
            let src = if p.exepath.is_empty() {
                &p.exe
            } else {
                &p.exepath
            };
            let base = src.rsplit('/').next().unwrap_or("");
            let mut end = base.len().min(15);
            while !base.is_char_boundary(end) {
                end -= 1;
            }
            p.comm = base[..end].to_string();
        }
        if let Some(Value::U64(f)) | Some(Value::Flags(f, _)) = e.param(ParamName::Flags) {
            p.is_exe_upper_layer = f & exe_flags::EXE_UPPER_LAYER != 0;
            p.is_exe_from_memfd = f & exe_flags::EXE_FROM_MEMFD != 0;
            p.is_exe_writable = f & exe_flags::EXE_WRITABLE != 0;
        }
        if let Some(v) = param_u64(e, ParamName::ExeIno) {
            p.exe_ino = v;
        }
        if let Some(v) = param_u64(e, ParamName::ExeInoCtime) {
            p.exe_ino_ctime = v;
        }
        if let Some(v) = param_u64(e, ParamName::ExeInoMtime) {
            p.exe_ino_mtime = v;
        }
        for (i, (tn, nn)) in [
            (ParamName::Fd0Type, ParamName::Fd0Name),
            (ParamName::Fd1Type, ParamName::Fd1Name),
            (ParamName::Fd2Type, ParamName::Fd2Name),
        ]
        .into_iter()
        .enumerate()
        {
            let kind = param_str(e, tn);
            let name = param_str(e, nn);
            if kind.is_some() || name.is_some() {
                p.stdio[i] = StdioInfo {
                    kind: kind.unwrap_or_default().to_string(),
                    name: name.unwrap_or_default().to_string(),
                };
            }
        }
    }
}

/// Applies the parameters clone and exec events share.
fn apply_common(p: &mut Process, e: &Event<'_>) {
    for param in e.params {
        let v = &param.value;
        match param.name {
            ParamName::Exe => {
                if let Value::Str(s) = v {
                    p.exe = s.to_string();
                }
            }
            ParamName::Args => p.args = list(v),
            ParamName::Cwd => {
                if let Value::Str(s) = v {
                    p.cwd = s.to_string();
                }
            }
            ParamName::Comm => {
                if let Value::Str(s) = v {
                    p.comm = s.to_string();
                }
            }
            ParamName::Ptid => {
                if let Some(x) = int(v) {
                    p.ppid = x as u32;
                }
            }
            ParamName::Vpid => {
                if let Some(x) = int(v) {
                    p.vpid = x as u32;
                }
            }
            ParamName::Pgid => {
                if let Some(x) = int(v) {
                    p.pgid = x as u32;
                }
            }
            ParamName::Sid => {
                if let Some(x) = int(v) {
                    p.sid = x as u32;
                }
            }
            ParamName::Uid => {
                if let Some(x) = int(v) {
                    p.uid = x as u32;
                    if e.etype.name().contains("clone") || e.etype.name().ends_with("fork") {
                        p.euid = x as u32;
                    }
                }
            }
            ParamName::Gid => {
                if let Some(x) = int(v) {
                    p.gid = x as u32;
                    if e.etype.name().contains("clone") || e.etype.name().ends_with("fork") {
                        p.egid = x as u32;
                    }
                }
            }
            ParamName::Euid => {
                if let Some(x) = int(v) {
                    p.euid = x as u32;
                }
            }
            ParamName::Egid => {
                if let Some(x) = int(v) {
                    p.egid = x as u32;
                }
            }
            ParamName::Loginuid => {
                if let Some(x) = int(v) {
                    p.loginuid = x as u32;
                }
            }
            ParamName::Tty => {
                if let Some(x) = int(v) {
                    p.tty = x as u32;
                }
            }
            ParamName::CapEffective => {
                if let Some(x) = int(v) {
                    p.cap_effective = x;
                }
            }
            ParamName::CapPermitted => {
                if let Some(x) = int(v) {
                    p.cap_permitted = x;
                }
            }
            ParamName::CapInheritable => {
                if let Some(x) = int(v) {
                    p.cap_inheritable = x;
                }
            }
            ParamName::CgroupId => {
                if let Some(x) = int(v) {
                    p.cgroup_id = x;
                }
            }
            _ => {}
        }
    }
}

/// An integer-like value as u64 (ids, counts, bitmasks).
fn int(v: &Value<'_>) -> Option<u64> {
    match *v {
        Value::I64(x) | Value::Res(x) | Value::Fd(x) => Some(x as u64),
        Value::U64(x) | Value::Caps(x) | Value::Flags(x, _) => Some(x),
        Value::Uid(x) | Value::Gid(x) | Value::Mode(x) | Value::Signal(x) => Some(x.into()),
        _ => None,
    }
}

fn param_u64(e: &Event<'_>, n: ParamName) -> Option<u64> {
    e.param(n).and_then(int)
}

fn param_u32(e: &Event<'_>, n: ParamName) -> Option<u32> {
    param_u64(e, n).map(|v| v as u32)
}

fn param_str<'a>(e: &Event<'a>, n: ParamName) -> Option<&'a str> {
    match e.param(n) {
        Some(Value::Str(s)) => Some(s),
        _ => None,
    }
}

fn list(v: &Value<'_>) -> Vec<String> {
    match v {
        Value::List(s) | Value::Str(s) if s.is_empty() => Vec::new(),
        Value::List(s) => s.split('\0').map(str::to_string).collect(),
        Value::Str(s) => s.split(' ').map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

impl StateView for ReplayState {
    fn process(&self, pid: u32) -> Option<&Process> {
        self.processes.get(&pid)
    }

    fn container(&self, id: &str) -> Option<&Container> {
        self.containers.get(id)
    }

    fn user(&self, process: &Process, uid: u32) -> Option<&UserInfo> {
        self.users
            .get(&process.container_id)
            .unwrap_or(&self.default_users)
            .users
            .get(&uid)
    }

    fn group_name(&self, process: &Process, gid: u32) -> Option<&str> {
        self.users
            .get(&process.container_id)
            .unwrap_or(&self.default_users)
            .groups
            .get(&gid)
            .map(String::as_str)
    }

    fn hostname(&self) -> &str {
        &self.host.hostname
    }
}
