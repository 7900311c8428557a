//! The process table: every live thread group, keyed by tgid, kept current by the sensor's
//! lifecycle events (clone, exec, procexit; see `notes/CONTRACT-sensor-state.md`).
//!
//! Memory is bounded by a hard cap on entries. When the cap is reached, an insert evicts:
//! 1. the oldest *exited* entry first (a process that exited while it still had children in
//!    the table is kept, marked exited, so those children keep their ancestry; it goes away
//!    when its last child does);
//! 2. otherwise the oldest childless entry, with a bounded second-chance scan that spares
//!    entries which still have children (they carry other processes' ancestry);
//! 3. otherwise the oldest entry.
//!
//! Pid 1 (init, the ancestor and reaper of everything) is never evicted by the cap.
//!
//! Every eviction is counted. New processes are always inserted: their clone/exec events
//! carry everything the rules need about them, so under a fork bomb vigil loses the context of
//! old idle processes rather than of the newest (the attacker's). We rejected Falco's policy of
//! refusing new entries when full: it lets an attacker fill the table and then act unseen.
//!
//! Parent links carry the parent entry's insertion number, so a parent pid that was reused by
//! an unrelated process is not mistaken for the parent ([`ProcessTable::parent`]), and the
//! ancestor walk is capped in depth, which also makes it safe against cycles.

use crate::cgroup::{container_of_cgroup_file, CgroupContainer, RuntimeKind};
use crate::procfs::{truncate_utf8, Limits, ProcFs};
use std::collections::{HashMap, VecDeque};
use vigil_event::params::exe_flags;
use vigil_event::{Dir, Event, EventType, ParamName, Process, Value};

/// `CLONE_THREAD` in the kernel's clone flags.
pub const CLONE_THREAD: u64 = 0x10000;

/// Entries looked at per eviction before the oldest is taken regardless.
const EVICTION_SCAN: usize = 16;

/// Limits of the process table.
#[derive(Clone, Copy, Debug)]
pub struct TableConfig {
    /// Hard cap on entries.
    pub max_entries: usize,
    /// Longest ancestor chain walked.
    pub max_ancestor_depth: usize,
    /// Cap on remembered cgroup id -> container mappings (the map is cleared when full).
    pub max_cgroups: usize,
    /// String limits per process.
    pub limits: Limits,
}

impl Default for TableConfig {
    fn default() -> Self {
        TableConfig {
            max_entries: 65536,
            max_ancestor_depth: 64,
            max_cgroups: 16384,
            limits: Limits::default(),
        }
    }
}

/// Counters of the process table, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    /// Entries now (live plus exited ancestors).
    pub entries: u64,
    pub seeded: u64,
    /// Processes in `/proc` not seeded (unreadable, or the cap was reached).
    pub seed_failures: u64,
    pub inserted: u64,
    pub execs: u64,
    pub exits: u64,
    /// procexit for a pid the table did not know.
    pub exits_unknown: u64,
    /// Clone events of threads, ignored.
    pub threads_ignored: u64,
    /// Exited ancestors evicted because the table was full.
    pub evicted_exited: u64,
    /// Live processes evicted because the table was full.
    pub evicted_live: u64,
    pub cgroup_reads: u64,
    /// `/proc/<pid>/cgroup` could not be read (process already gone): parent's container used.
    pub cgroup_read_failures: u64,
    pub cgroup_cache_resets: u64,
    /// Entries removed by [`ProcessTable::sweep`] (their exit event was lost).
    pub swept: u64,
}

#[derive(Debug)]
struct Entry {
    proc: Process,
    /// Insertion number; changes when the pid is reused.
    seq: u64,
    /// `seq` of the parent entry when the link was made, 0 if the parent was unknown.
    parent_seq: u64,
    /// Entries whose parent link points here.
    children: u32,
    exited: bool,
}

/// What a lifecycle event changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    None,
    /// A new process (clone child) was inserted.
    Spawned(u32),
    /// A process executed a new program.
    Exec(u32),
    /// A process exited (and was removed, or kept as an exited ancestor).
    Exited(u32),
}

/// The process table. See the module documentation for the eviction policy.
#[derive(Debug)]
pub struct ProcessTable {
    /// Boxed: a `Process` is ~450 bytes, and a hash map keeps ~2x its length in buckets.
    map: HashMap<u32, Box<Entry>>,
    /// Insertion order of entries (lazy: stale items are skipped and compacted).
    order: VecDeque<(u32, u64)>,
    /// Exit order of exited entries kept as ancestors.
    exited: VecDeque<(u32, u64)>,
    next_seq: u64,
    cfg: TableConfig,
    stats: TableStats,
    procfs: ProcFs,
    cgroups: HashMap<u64, Option<CgroupContainer>>,
    runtimes: HashMap<String, RuntimeKind>,
    clone_types: [EventType; 4],
    exec_types: [EventType; 2],
}

/// An integer parameter, whatever its rendering kind.
pub(crate) fn param_u64(ev: &Event<'_>, name: ParamName) -> Option<u64> {
    match *ev.param(name)? {
        Value::I64(x) | Value::Res(x) | Value::Fd(x) => Some(x as u64),
        Value::U64(x) | Value::Caps(x) | Value::Flags(x, _) => Some(x),
        Value::Mode(x) | Value::Uid(x) | Value::Gid(x) | Value::Signal(x) => Some(x as u64),
        _ => None,
    }
}

/// A string parameter (`Str`, `List`, or UTF-8 `Bytes`).
pub(crate) fn param_str<'a>(ev: &Event<'a>, name: ParamName) -> Option<&'a str> {
    match *ev.param(name)? {
        Value::Str(s) | Value::List(s) => Some(s),
        Value::Bytes(b) => std::str::from_utf8(b).ok(),
        _ => None,
    }
}

fn list_bounded(s: &str, max_bytes: usize) -> Vec<String> {
    crate::procfs::split_nul(s.as_bytes(), max_bytes)
}

fn u32_of(v: u64) -> u32 {
    v as u32
}

impl ProcessTable {
    /// An empty table reading cgroup files under `procfs`'s root.
    pub fn new(procfs: ProcFs, cfg: TableConfig) -> ProcessTable {
        let et = |n: &str| EventType::from_name(n).unwrap_or(EventType(u16::MAX));
        ProcessTable {
            map: HashMap::new(),
            order: VecDeque::new(),
            exited: VecDeque::new(),
            next_seq: 1,
            cfg: TableConfig {
                max_entries: cfg.max_entries.max(1),
                ..cfg
            },
            stats: TableStats::default(),
            procfs,
            cgroups: HashMap::new(),
            runtimes: HashMap::new(),
            clone_types: [et("clone"), et("clone3"), et("fork"), et("vfork")],
            exec_types: [et("execve"), et("execveat")],
        }
    }

    /// The `/proc` tree this table reads.
    pub fn procfs(&self) -> &ProcFs {
        &self.procfs
    }

    /// Fills the table from the `/proc` tree: every process with its ancestry links and its
    /// container. Processes that vanish while being read are counted, not fatal. Returns the
    /// number of processes seeded.
    pub fn seed(&mut self) -> Result<usize, crate::StateError> {
        let pids = self.procfs.pids()?;
        let mut n = 0;
        for pid in pids {
            if self.map.len() >= self.cfg.max_entries {
                self.stats.seed_failures += 1;
                continue;
            }
            match self.procfs.read_process(pid) {
                Ok(mut p) => {
                    if let Ok(text) = self.procfs.cgroup_text(pid) {
                        self.stats.cgroup_reads += 1;
                        if let Some(c) = container_of_cgroup_file(&text) {
                            self.runtimes.insert(c.id.clone(), c.runtime);
                            p.container_id = c.id;
                        }
                    }
                    self.insert_unlinked(p);
                    n += 1;
                }
                Err(e) => {
                    log::debug!("seed: skipping pid {pid}: {e}");
                    self.stats.seed_failures += 1;
                }
            }
        }
        // Link after all are in: a parent may have a higher pid than its child.
        let links: Vec<(u32, u32)> = self
            .map
            .iter()
            .filter(|(_, e)| e.parent_seq == 0)
            .map(|(pid, e)| (*pid, e.proc.ppid))
            .collect();
        for (pid, ppid) in links {
            self.link(pid, ppid);
        }
        // pid-namespace init start: the container's vpid 1, or the host's init.
        let mut inits: HashMap<String, u64> = HashMap::new();
        for e in self.map.values() {
            let p = &e.proc;
            if p.vpid == 1 || p.pid == 1 {
                inits.entry(p.container_id.clone()).or_insert(p.start_ts);
            }
        }
        for e in self.map.values_mut() {
            e.proc.pidns_init_start_ts = inits.get(&e.proc.container_id).copied().unwrap_or(0);
        }
        self.stats.seeded += n as u64;
        Ok(n)
    }

    /// Counters.
    pub fn stats(&self) -> TableStats {
        TableStats {
            entries: self.map.len() as u64,
            ..self.stats
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True if the table is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The process with this tgid (live, or exited but kept as an ancestor).
    pub fn get(&self, pid: u32) -> Option<&Process> {
        self.map.get(&pid).map(|e| &e.proc)
    }

    /// Every process in the table, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Process> {
        self.map.values().map(|e| &e.proc)
    }

    /// True if `pid` is in the table and has exited (kept only for its children's ancestry).
    pub fn is_exited(&self, pid: u32) -> Option<bool> {
        self.map.get(&pid).map(|e| e.exited)
    }

    /// The runtime the cgroup path of a container id suggested, if the table saw it.
    pub fn runtime_of(&self, container_id: &str) -> RuntimeKind {
        self.runtimes
            .get(container_id)
            .copied()
            .unwrap_or(RuntimeKind::Unknown)
    }

    /// The parent of `process`, only if the entry at its `ppid` is the same process it was
    /// linked to (not a later process that reused the pid).
    pub fn parent(&self, process: &Process) -> Option<&Process> {
        let e = self.map.get(&process.pid)?;
        if e.proc.ppid != process.ppid || e.parent_seq == 0 || process.ppid == process.pid {
            return None;
        }
        let p = self.map.get(&process.ppid)?;
        (p.seq == e.parent_seq).then_some(&p.proc)
    }

    /// Ancestors of `pid`, nearest first, at most `max_ancestor_depth` of them.
    pub fn ancestors(&self, pid: u32) -> Ancestors<'_> {
        Ancestors {
            table: self,
            cur: self.get(pid),
            left: self.cfg.max_ancestor_depth,
        }
    }

    /// Applies a lifecycle event before the rules see it (clone and exec). Other events
    /// cost one comparison per known type.
    pub fn before(&mut self, ev: &Event<'_>) -> Change {
        if ev.dir != Dir::Exit || ev.res != 0 {
            return Change::None;
        }
        if self.exec_types.contains(&ev.etype) {
            self.on_exec(ev)
        } else if self.clone_types.contains(&ev.etype) {
            self.on_clone(ev)
        } else {
            Change::None
        }
    }

    /// Applies a lifecycle event after the rules saw it (procexit).
    pub fn after(&mut self, ev: &Event<'_>) -> Change {
        if ev.etype != EventType::PROCEXIT {
            return Change::None;
        }
        let pid = ev.pid;
        match self.map.get_mut(&pid) {
            None => {
                self.stats.exits_unknown += 1;
                Change::None
            }
            Some(e) => {
                self.stats.exits += 1;
                if e.children > 0 && !e.exited {
                    e.exited = true;
                    let seq = e.seq;
                    self.exited.push_back((pid, seq));
                    self.compact();
                } else {
                    self.remove(pid);
                }
                Change::Exited(pid)
            }
        }
    }

    fn on_clone(&mut self, ev: &Event<'_>) -> Change {
        let flags = param_u64(ev, ParamName::Flags).unwrap_or(0);
        if flags & CLONE_THREAD != 0 || ev.tid != ev.pid {
            self.stats.threads_ignored += 1;
            return Change::None;
        }
        let pid = ev.pid;
        let ppid = param_u64(ev, ParamName::Ptid).map(u32_of).unwrap_or(0);
        // The child starts as a copy of its parent (same program, env, container).
        let mut p = match self.map.get(&ppid) {
            Some(parent) if ppid != pid => parent.proc.clone(),
            _ => Process::default(),
        };
        // Without a vpid parameter: same as the pid in the host namespace, unknown elsewhere.
        p.vpid = if p.vpid == p.pid { pid } else { 0 };
        p.pid = pid;
        p.ppid = ppid;
        p.start_ts = ev.ts;
        if p.exec_ts == 0 {
            p.exec_ts = ev.ts;
        }
        self.apply_common(&mut p, ev);
        let parent_container = p.container_id.clone();
        self.resolve_container(&mut p, ev, parent_container);
        if p.vpid == 1 {
            // First process of a new pid namespace (CLONE_NEWPID); others inherit.
            p.pidns_init_start_ts = p.start_ts;
        }
        self.insert(p);
        Change::Spawned(pid)
    }

    fn on_exec(&mut self, ev: &Event<'_>) -> Change {
        let pid = ev.pid;
        self.stats.execs += 1;
        let mut p = match self.map.get_mut(&pid) {
            Some(e) => std::mem::take(&mut e.proc),
            None => Process {
                pid,
                start_ts: ev.ts,
                ..Process::default()
            },
        };
        let known = self.map.contains_key(&pid);
        let lim = self.cfg.limits;
        p.exec_ts = ev.ts;
        self.apply_common(&mut p, ev);
        p.env = param_str(ev, ParamName::Env)
            .map(|s| list_bounded(s, lim.env_bytes))
            .unwrap_or_default();
        if let Some(s) = param_str(ev, ParamName::TrustedExepath) {
            p.exepath = truncate_utf8(s, lim.path_bytes);
        }
        let set = |dst: &mut u32, name| {
            if let Some(v) = param_u64(ev, name) {
                *dst = v as u32;
            }
        };
        set(&mut p.euid, ParamName::Euid);
        set(&mut p.egid, ParamName::Egid);
        if let Some(v) = param_u64(ev, ParamName::ExeIno) {
            p.exe_ino = v;
        }
        if let Some(v) = param_u64(ev, ParamName::ExeInoCtime) {
            p.exe_ino_ctime = v;
        }
        if let Some(v) = param_u64(ev, ParamName::ExeInoMtime) {
            p.exe_ino_mtime = v;
        }
        let flags = param_u64(ev, ParamName::Flags).unwrap_or(0);
        p.is_exe_upper_layer = flags & exe_flags::EXE_UPPER_LAYER != 0;
        p.is_exe_from_memfd = flags & exe_flags::EXE_FROM_MEMFD != 0;
        p.is_exe_writable = flags & exe_flags::EXE_WRITABLE != 0;
        let stdio = [
            (ParamName::Fd0Type, ParamName::Fd0Name),
            (ParamName::Fd1Type, ParamName::Fd1Name),
            (ParamName::Fd2Type, ParamName::Fd2Name),
        ];
        for (slot, (t, n)) in p.stdio.iter_mut().zip(stdio) {
            slot.kind = param_str(ev, t).unwrap_or_default().to_string();
            slot.name = truncate_utf8(param_str(ev, n).unwrap_or_default(), lim.path_bytes);
        }
        let fallback = p.container_id.clone();
        self.resolve_container(&mut p, ev, fallback);
        if p.vpid == 1 {
            p.pidns_init_start_ts = p.start_ts;
        }
        let new_ppid = param_u64(ev, ParamName::Ptid).map(u32_of);
        if known {
            let old_ppid = p.ppid;
            if let Some(e) = self.map.get_mut(&pid) {
                e.proc = p;
            }
            if let Some(pp) = new_ppid.filter(|pp| *pp != old_ppid) {
                // Reparented (the parent exited): move the link.
                self.unlink(pid);
                self.link(pid, pp);
            }
        } else {
            p.ppid = new_ppid.unwrap_or(0);
            self.insert(p);
        }
        Change::Exec(pid)
    }

    /// Fields clone and exec both carry.
    fn apply_common(&self, p: &mut Process, ev: &Event<'_>) {
        let lim = self.cfg.limits;
        if let Some(s) = param_str(ev, ParamName::Exe) {
            p.exe = truncate_utf8(s, lim.path_bytes);
        }
        if let Some(s) = param_str(ev, ParamName::Args) {
            p.args = list_bounded(s, lim.args_bytes);
        }
        if let Some(s) = param_str(ev, ParamName::Comm) {
            p.comm = truncate_utf8(s, 64);
        }
        if let Some(s) = param_str(ev, ParamName::Cwd) {
            let mut cwd = truncate_utf8(s, lim.path_bytes);
            if !cwd.is_empty() && !cwd.ends_with('/') {
                cwd.push('/');
            }
            p.cwd = cwd;
        }
        let set = |dst: &mut u32, name| {
            if let Some(v) = param_u64(ev, name) {
                *dst = v as u32;
            }
        };
        set(&mut p.uid, ParamName::Uid);
        set(&mut p.gid, ParamName::Gid);
        set(&mut p.vpid, ParamName::Vpid);
        set(&mut p.loginuid, ParamName::Loginuid);
        set(&mut p.tty, ParamName::Tty);
        set(&mut p.pgid, ParamName::Pgid);
        set(&mut p.sid, ParamName::Sid);
        if let Some(v) = param_u64(ev, ParamName::CapEffective) {
            p.cap_effective = v;
        }
        if let Some(v) = param_u64(ev, ParamName::CapPermitted) {
            p.cap_permitted = v;
        }
        if let Some(v) = param_u64(ev, ParamName::CapInheritable) {
            p.cap_inheritable = v;
        }
    }

    /// Sets `p.container_id` from the event's cgroup id: known ids come from the cache, new
    /// ones from `/proc/<pid>/cgroup`; a process gone before it could be read keeps
    /// `fallback` (its parent's or its previous container).
    fn resolve_container(&mut self, p: &mut Process, ev: &Event<'_>, fallback: String) {
        let cgid = param_u64(ev, ParamName::CgroupId);
        if let Some(id) = cgid {
            if id != 0 && id == p.cgroup_id && p.pid != 0 && self.cgroups.contains_key(&id) {
                return;
            }
            p.cgroup_id = id;
            if let Some(c) = self.cgroups.get(&id) {
                p.container_id = c.as_ref().map(|c| c.id.clone()).unwrap_or_default();
                return;
            }
        } else if self.clone_types.contains(&ev.etype) {
            // No cgroup id: a clone child stays in its parent's cgroup.
            p.container_id = fallback;
            return;
        }
        // The kernel names the cgroup in the event itself: no race with a process that is
        // gone before /proc/<pid>/cgroup could be read (short-lived containers), and no read.
        let text = match param_str(ev, ParamName::Cgroup) {
            Some(path) => Ok(format!("0::{path}")),
            None => {
                self.stats.cgroup_reads += 1;
                self.procfs.cgroup_text(p.pid)
            }
        };
        match text {
            Ok(text) => {
                let c = container_of_cgroup_file(&text);
                p.container_id = c.as_ref().map(|c| c.id.clone()).unwrap_or_default();
                if let Some(c) = &c {
                    if self.runtimes.len() >= self.cfg.max_cgroups {
                        self.runtimes.clear();
                    }
                    self.runtimes.insert(c.id.clone(), c.runtime);
                }
                if let Some(id) = cgid.filter(|id| *id != 0) {
                    if self.cgroups.len() >= self.cfg.max_cgroups {
                        self.cgroups.clear();
                        self.stats.cgroup_cache_resets += 1;
                    }
                    self.cgroups.insert(id, c);
                }
            }
            Err(e) => {
                self.stats.cgroup_read_failures += 1;
                log::debug!(
                    "pid {}: cgroup not readable ({e}); keeping container {:?}",
                    p.pid,
                    fallback
                );
                p.container_id = fallback;
            }
        }
    }

    /// Inserts (or replaces) `p` and links it to its parent, evicting if the table is full.
    fn insert(&mut self, p: Process) {
        let pid = p.pid;
        let ppid = p.ppid;
        self.insert_unlinked(p);
        self.link(pid, ppid);
    }

    fn insert_unlinked(&mut self, p: Process) {
        let pid = p.pid;
        if self.map.contains_key(&pid) {
            // Pid reuse (a missed exit) or a seeded process seen again: replace.
            self.remove_one(pid);
        }
        while self.map.len() >= self.cfg.max_entries {
            if !self.evict_one() {
                break;
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.map.insert(
            pid,
            Box::new(Entry {
                proc: p,
                seq,
                parent_seq: 0,
                children: 0,
                exited: false,
            }),
        );
        self.order.push_back((pid, seq));
        self.stats.inserted += 1;
        self.compact();
    }

    /// Points `pid`'s parent link at `ppid` (which must not be linked yet).
    fn link(&mut self, pid: u32, ppid: u32) {
        let Some(e) = self.map.get_mut(&pid) else {
            return;
        };
        e.proc.ppid = ppid;
        if pid == ppid {
            return;
        }
        let Some(pseq) = self.map.get_mut(&ppid).map(|pe| {
            pe.children += 1;
            pe.seq
        }) else {
            return;
        };
        if let Some(e) = self.map.get_mut(&pid) {
            e.parent_seq = pseq;
        }
    }

    fn unlink(&mut self, pid: u32) {
        let Some((ppid, pseq)) = self.map.get_mut(&pid).map(|e| {
            let r = (e.proc.ppid, e.parent_seq);
            e.parent_seq = 0;
            r
        }) else {
            return;
        };
        if pseq == 0 {
            return;
        }
        let mut drop_parent = false;
        if let Some(pe) = self.map.get_mut(&ppid).filter(|pe| pe.seq == pseq) {
            pe.children = pe.children.saturating_sub(1);
            drop_parent = pe.exited && pe.children == 0;
        }
        if drop_parent {
            // The parent had exited and stayed only for this child.
            self.remove(ppid);
        }
    }

    /// Removes `pid`, and exited ancestors that stayed only for it.
    fn remove(&mut self, pid: u32) {
        let mut next = Some(pid);
        while let Some(pid) = next.take() {
            let Some(e) = self.map.remove(&pid) else {
                break;
            };
            if e.parent_seq == 0 {
                break;
            }
            if let Some(pe) = self
                .map
                .get_mut(&e.proc.ppid)
                .filter(|pe| pe.seq == e.parent_seq)
            {
                pe.children = pe.children.saturating_sub(1);
                if pe.exited && pe.children == 0 {
                    next = Some(e.proc.ppid);
                }
            }
        }
    }

    /// Removes only `pid` (its exited ancestors stay until their queue turn).
    fn remove_one(&mut self, pid: u32) {
        self.unlink(pid);
        self.map.remove(&pid);
    }

    /// Evicts one entry by the module's policy; false if the table is empty.
    fn evict_one(&mut self) -> bool {
        while let Some((pid, seq)) = self.exited.pop_front() {
            if self.map.get(&pid).is_some_and(|e| e.seq == seq && e.exited) {
                self.stats.evicted_exited += 1;
                self.remove(pid);
                return true;
            }
        }
        let mut fallback: Option<u32> = None;
        let mut scanned = 0;
        while scanned < EVICTION_SCAN {
            let Some((pid, seq)) = self.order.pop_front() else {
                break;
            };
            let Some(e) = self.map.get(&pid).filter(|e| e.seq == seq) else {
                continue; // stale queue item
            };
            if pid == 1 {
                // init: every process's ancestor and the reaper; never evicted by the cap.
                self.order.push_back((pid, seq));
                if self.map.len() == 1 {
                    return false;
                }
                continue;
            }
            scanned += 1;
            if e.children == 0 {
                self.stats.evicted_live += 1;
                self.remove(pid);
                return true;
            }
            // Second chance for a process with children: it carries their ancestry.
            fallback.get_or_insert(pid);
            self.order.push_back((pid, seq));
        }
        match fallback {
            Some(pid) => {
                self.stats.evicted_live += 1;
                self.remove(pid);
                true
            }
            None => false,
        }
    }

    /// Drops stale queue items once they outnumber live entries, so the queues stay within a
    /// constant factor of the cap however many processes come and go.
    fn compact(&mut self) {
        let limit = 2 * self.map.len() + 1024;
        if self.order.len() > limit {
            let map = &self.map;
            self.order
                .retain(|(pid, seq)| map.get(pid).is_some_and(|e| e.seq == *seq));
        }
        if self.exited.len() > limit {
            let map = &self.map;
            self.exited
                .retain(|(pid, seq)| map.get(pid).is_some_and(|e| e.seq == *seq && e.exited));
        }
    }

    /// Removes entries whose process is gone from `/proc` although no procexit came (events
    /// were dropped). Checks at most `max_checks` live entries per call, round robin in
    /// insertion order, so the monitor can call it on a timer without a latency spike.
    /// Returns the number removed (also counted in [`TableStats::swept`]).
    pub fn sweep(&mut self, max_checks: usize) -> usize {
        let mut removed = 0;
        let mut checked = 0;
        let mut stale = 0;
        let budget_stale = self.order.len();
        let limit = max_checks.min(self.map.len());
        while checked < limit && stale <= budget_stale {
            let Some((pid, seq)) = self.order.pop_front() else {
                break;
            };
            let Some(e) = self.map.get(&pid).filter(|e| e.seq == seq) else {
                stale += 1;
                continue;
            };
            checked += 1;
            let alive = e.exited || self.procfs.root().join(pid.to_string()).exists();
            if alive {
                self.order.push_back((pid, seq));
            } else {
                log::debug!("sweep: pid {pid} is gone without a procexit event");
                self.remove(pid);
                removed += 1;
            }
        }
        self.stats.swept += removed as u64;
        removed
    }

    /// Sizes of the internal queues (for tests and metrics of memory use).
    pub fn queue_lens(&self) -> (usize, usize) {
        (self.order.len(), self.exited.len())
    }
}

/// Iterator over a process's ancestors; see [`ProcessTable::ancestors`].
#[derive(Debug)]
pub struct Ancestors<'a> {
    table: &'a ProcessTable,
    cur: Option<&'a Process>,
    left: usize,
}

impl<'a> Iterator for Ancestors<'a> {
    type Item = &'a Process;

    fn next(&mut self) -> Option<&'a Process> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let parent = self.table.parent(self.cur?)?;
        self.cur = Some(parent);
        Some(parent)
    }
}
