//! The process table driven by synthetic lifecycle events (clone, exec, procexit), including
//! a fork bomb of a million clones against the entry cap.

mod common;

use common::*;
use vigil_event::params::exe_flags;
use vigil_event::{Param, ParamName, Value};
use vigil_state::table::CLONE_THREAD;
use vigil_state::{Change, Limits, ProcFs, ProcessTable, TableConfig};

fn table(cfg: TableConfig) -> ProcessTable {
    let fs = ProcFs::new(&fixtures().join("proc"), 100, Limits::default()).unwrap();
    ProcessTable::new(fs, cfg)
}

fn spawn(t: &mut ProcessTable, pid: u32, ppid: u32, ts: u64) -> Change {
    let p = clone_params(ppid, "proc", 0x11, None);
    t.before(&event(et("clone"), pid, ts, &p))
}

fn exit(t: &mut ProcessTable, pid: u32) -> Change {
    t.after(&procexit(pid, 0, &[]))
}

fn exec_params(ptid: u32, exe: &'static str, args: &'static str) -> Vec<Param<'static>> {
    vec![
        Param::new(ParamName::Res, Value::Res(0)),
        Param::new(ParamName::Exe, Value::Str(exe)),
        Param::new(ParamName::Args, Value::List(args)),
        Param::new(ParamName::Ptid, Value::I64(ptid as i64)),
        Param::new(ParamName::Comm, Value::Str("curl")),
        Param::new(ParamName::Cwd, Value::Str("/tmp")),
        Param::new(ParamName::Env, Value::List("A=1\0B=2")),
        Param::new(ParamName::Tty, Value::U64(34817)),
        Param::new(ParamName::Pgid, Value::I64(50)),
        Param::new(ParamName::Sid, Value::I64(40)),
        Param::new(ParamName::Vpid, Value::I64(3)),
        Param::new(ParamName::Loginuid, Value::Uid(1000)),
        Param::new(
            ParamName::Flags,
            Value::U64(exe_flags::EXE_UPPER_LAYER | exe_flags::EXE_WRITABLE),
        ),
        Param::new(ParamName::CapEffective, Value::Caps(0x20)),
        Param::new(ParamName::CapPermitted, Value::Caps(0x30)),
        Param::new(ParamName::CapInheritable, Value::Caps(0)),
        Param::new(ParamName::Uid, Value::Uid(1000)),
        Param::new(ParamName::Gid, Value::Gid(1001)),
        Param::new(ParamName::Euid, Value::Uid(0)),
        Param::new(ParamName::Egid, Value::Gid(0)),
        Param::new(ParamName::TrustedExepath, Value::Str("/usr/bin/curl")),
        Param::new(ParamName::ExeIno, Value::U64(123456)),
        Param::new(ParamName::ExeInoCtime, Value::U64(11)),
        Param::new(ParamName::ExeInoMtime, Value::U64(22)),
        Param::new(ParamName::Fd0Type, Value::Str("ipv4")),
        Param::new(
            ParamName::Fd0Name,
            Value::Str("10.0.0.1:4444->10.0.0.2:5555"),
        ),
        Param::new(ParamName::Fd1Type, Value::Str("ipv4")),
        Param::new(ParamName::Fd2Type, Value::Str("pipe")),
    ]
}

#[test]
fn clone_exec_exit() {
    let mut t = table(TableConfig::default());
    let p = clone_params(0, "bash", 0, None);
    assert_eq!(t.before(&event(et("fork"), 10, 1, &p)), Change::Spawned(10));
    assert_eq!(spawn(&mut t, 11, 10, 2), Change::Spawned(11));
    let child = t.get(11).unwrap();
    assert_eq!(
        (child.ppid, child.comm.as_str(), child.start_ts),
        (10, "proc", 2)
    );

    // Threads are not processes.
    let p = clone_params(11, "proc", CLONE_THREAD | 0x11, None);
    assert_eq!(t.before(&event(et("clone"), 12, 3, &p)), Change::None);
    assert!(t.get(12).is_none());
    let mut ev_thread = event(et("clone3"), 11, 3, &[]);
    ev_thread.tid = 13;
    assert_eq!(t.before(&ev_thread), Change::None);
    assert_eq!(t.stats().threads_ignored, 2);

    // exec rewrites the program and keeps the start time.
    let ep = exec_params(10, "curl", "-s\0http://x");
    assert_eq!(t.before(&event(et("execve"), 11, 5, &ep)), Change::Exec(11));
    let p = t.get(11).unwrap();
    assert_eq!(
        (p.exe.as_str(), p.exepath.as_str()),
        ("curl", "/usr/bin/curl")
    );
    assert_eq!(p.args, ["-s", "http://x"]);
    assert_eq!((p.start_ts, p.exec_ts), (2, 5));
    assert_eq!(p.cwd, "/tmp/");
    assert_eq!(p.env, ["A=1", "B=2"]);
    assert_eq!(
        (p.tty, p.pgid, p.sid, p.vpid, p.loginuid),
        (34817, 50, 40, 3, 1000)
    );
    assert_eq!((p.uid, p.gid, p.euid, p.egid), (1000, 1001, 0, 0));
    assert_eq!((p.cap_effective, p.cap_permitted), (0x20, 0x30));
    assert_eq!(
        (p.exe_ino, p.exe_ino_ctime, p.exe_ino_mtime),
        (123456, 11, 22)
    );
    assert!(p.is_exe_upper_layer && p.is_exe_writable && !p.is_exe_from_memfd);
    assert_eq!(p.stdio[0].kind, "ipv4");
    assert_eq!(p.stdio[0].name, "10.0.0.1:4444->10.0.0.2:5555");
    assert_eq!(p.stdio[2].kind, "pipe");
    assert_eq!(p.cmdline(), "curl -s http://x");

    // A failed exec changes nothing.
    let ep2 = exec_params(10, "nope", "");
    let mut failed = event(et("execve"), 11, 6, &ep2);
    failed.res = -2;
    assert_eq!(t.before(&failed), Change::None);
    assert_eq!(t.get(11).unwrap().exe, "curl");

    // Other events are ignored cheaply.
    assert_eq!(t.before(&event(et("openat"), 11, 7, &[])), Change::None);
    assert_eq!(t.after(&event(et("openat"), 11, 7, &[])), Change::None);

    assert_eq!(exit(&mut t, 11), Change::Exited(11));
    assert!(t.get(11).is_none());
    assert_eq!(exit(&mut t, 11), Change::None);
    assert_eq!(t.stats().exits_unknown, 1);
    exit(&mut t, 10);
    assert!(t.is_empty());
}

#[test]
fn exited_parent_kept_for_children_then_dropped() {
    let mut t = table(TableConfig::default());
    spawn(&mut t, 10, 1, 1);
    spawn(&mut t, 11, 10, 2);
    spawn(&mut t, 12, 11, 3);
    // bash -c 'nohup evil &' : the middle process exits first.
    exit(&mut t, 11);
    assert_eq!(t.is_exited(11), Some(true));
    let chain: Vec<u32> = t.ancestors(12).map(|p| p.pid).collect();
    assert_eq!(chain, [11, 10], "ancestry survives the parent's exit");
    // When the last child goes, the exited ancestor goes too.
    exit(&mut t, 12);
    assert!(t.get(11).is_none());
    assert!(t.get(10).is_some());
}

#[test]
fn pid_reuse_is_not_ancestry() {
    let mut t = table(TableConfig::default());
    spawn(&mut t, 10, 1, 1);
    spawn(&mut t, 11, 10, 2);
    exit(&mut t, 10); // kept: 11 still lives
                      // A missed exit of 10's group, then pid 10 is reused by an unrelated process.
    spawn(&mut t, 20, 1, 3);
    spawn(&mut t, 10, 20, 4);
    assert_eq!(t.get(10).unwrap().ppid, 20);
    let p11 = t.get(11).unwrap();
    assert_eq!(p11.ppid, 10);
    assert!(t.parent(p11).is_none(), "pid 10 is now someone else");
    assert_eq!(t.ancestors(11).count(), 0);
    assert_eq!(t.ancestors(10).map(|p| p.pid).collect::<Vec<_>>(), [20]);
}

#[test]
fn exec_reparents_and_cycles_are_bounded() {
    let mut t = table(TableConfig::default());
    spawn(&mut t, 1, 0, 0);
    spawn(&mut t, 10, 1, 1);
    spawn(&mut t, 11, 10, 2);
    // The kernel reparented 11 to init; its next exec says so.
    let ep = exec_params(1, "sh", "");
    t.before(&event(et("execve"), 11, 3, &ep));
    assert_eq!(t.ancestors(11).map(|p| p.pid).collect::<Vec<_>>(), [1]);
    // Garbage params that make a cycle 20 <-> 21 must not hang the walk.
    spawn(&mut t, 20, 1, 4);
    spawn(&mut t, 21, 20, 5);
    let ep = exec_params(21, "x", "");
    t.before(&event(et("execve"), 20, 6, &ep));
    let n = t.ancestors(20).count();
    assert_eq!(n, TableConfig::default().max_ancestor_depth);
}

#[test]
fn ancestor_walk_depth_cap() {
    let mut t = table(TableConfig {
        max_ancestor_depth: 10,
        ..TableConfig::default()
    });
    for pid in 1..=200u32 {
        spawn(&mut t, pid + 1000, pid + 999, pid as u64);
    }
    assert_eq!(t.ancestors(1200).count(), 10);
    assert_eq!(t.ancestors(1200).next().unwrap().pid, 1199);
}

#[test]
fn long_args_are_bounded() {
    let mut t = table(TableConfig::default());
    let long: &'static str = Box::leak("A".repeat(100_000).into_boxed_str());
    let mut ep = exec_params(1, long, long);
    ep.push(Param::new(ParamName::Cwd, Value::Str(long)));
    t.before(&event(et("execve"), 10, 1, &ep));
    let p = t.get(10).unwrap();
    let lim = Limits::default();
    assert!(p.exe.len() <= lim.path_bytes);
    assert!(p.args.iter().map(String::len).sum::<usize>() <= lim.args_bytes);
}

/// A fork bomb: a million clone events, a binary process tree, pids reused as the pid space
/// wraps. The table must stay at its cap with bounded queues, count every eviction, and keep
/// the processes that carry ancestry (init and the bomb's early ancestors).
#[test]
fn fork_bomb_of_a_million_clones_stays_bounded() {
    const N: u32 = 1_000_000;
    const CAP: usize = 65_536;
    let mut t = table(TableConfig {
        max_entries: CAP,
        ..TableConfig::default()
    });
    spawn(&mut t, 1, 0, 0);
    spawn(&mut t, 2, 1, 0); // the shell that starts the bomb
    let pid_of = |i: u32| 100 + (i % 400_000); // the pid space wraps: reuse
    for i in 0..N {
        let parent = if i == 0 { 2 } else { pid_of((i - 1) / 2) };
        spawn(&mut t, pid_of(i), parent, i as u64 + 1);
        assert!(t.len() <= CAP);
    }
    let s = t.stats();
    assert_eq!(t.len(), CAP);
    assert_eq!(s.inserted, N as u64 + 2);
    // Every insert beyond the cap evicted exactly one entry, or replaced a reused pid.
    let replaced = s.inserted - t.len() as u64 - s.evicted_live - s.evicted_exited;
    assert!(s.evicted_live > (N as u64) - 2 * CAP as u64, "{s:?}");
    assert!(replaced < 400_000, "{s:?}");
    let (order, exited) = t.queue_lens();
    assert!(order <= 2 * CAP + 1024, "order queue {order}");
    assert!(exited <= 2 * CAP + 1024, "exited queue {exited}");
    assert!(t.get(1).is_some(), "init is never evicted");
    // The newest process is present with its context.
    let newest = t.get(pid_of(N - 1)).unwrap();
    assert_eq!(newest.start_ts, N as u64);
    // Its ancestry is walkable and bounded.
    assert!(t.ancestors(pid_of(N - 1)).count() <= TableConfig::default().max_ancestor_depth);
    eprintln!("fork bomb: {s:?}, queues {order}/{exited}");
}

/// Clone and exit pairs must not grow the queues (stale items are compacted).
#[test]
fn churn_does_not_leak_queue_items() {
    let mut t = table(TableConfig {
        max_entries: 1000,
        ..TableConfig::default()
    });
    spawn(&mut t, 1, 0, 0);
    for i in 0..200_000u32 {
        let pid = 10 + (i % 30_000);
        spawn(&mut t, pid, 1, i as u64);
        exit(&mut t, pid);
    }
    assert_eq!(t.len(), 1);
    let (order, exited) = t.queue_lens();
    assert!(order <= 2 * t.len() + 1024 + 1, "{order}");
    assert!(exited <= 1025, "{exited}");
    assert_eq!(t.stats().exits, 200_000);
}

#[test]
fn eviction_prefers_exited_then_childless() {
    let mut t = table(TableConfig {
        max_entries: 10,
        ..TableConfig::default()
    });
    spawn(&mut t, 1, 0, 0);
    spawn(&mut t, 50, 1, 1); // P: will get a child later
    for pid in 100..107 {
        spawn(&mut t, pid, 1, 2); // leaves L1..L7
    }
    spawn(&mut t, 51, 50, 3); // X: child of P (newest)
    assert_eq!(t.len(), 10);
    // Full: the oldest *childless* entry goes (L1), not P, and never init.
    spawn(&mut t, 200, 1, 4);
    assert!(t.get(50).is_some() && t.get(1).is_some());
    assert!(t.get(100).is_none());
    assert_eq!(t.stats().evicted_live, 1);
    // A process that exited while its child lives is kept, and is the first to go.
    spawn(&mut t, 60, 1, 5); // evicts L2
    spawn(&mut t, 61, 60, 6); // evicts L3
    exit(&mut t, 60);
    assert_eq!(t.is_exited(60), Some(true));
    spawn(&mut t, 201, 1, 7);
    assert!(t.get(60).is_none(), "exited ancestor evicted first");
    assert!(t.get(103).is_some(), "live leaf L4 kept");
    assert_eq!(t.stats().evicted_exited, 1);
    // Its orphan has no ancestry now, and no dangling link.
    assert_eq!(t.ancestors(61).count(), 0);
}

#[test]
fn clone_into_new_pid_namespace_sets_pidns_init() {
    let mut t = table(TableConfig::default());
    let mut p = clone_params(0, "runc", 0, None);
    p.push(Param::new(ParamName::Vpid, Value::I64(10)));
    t.before(&event(et("clone"), 10, 100, &p));
    let host_init_ts = t.get(10).unwrap().pidns_init_start_ts;
    // CLONE_NEWPID child: vpid 1, its own start is the namespace's init start.
    let mut p = clone_params(10, "sh", 0x2000_0000, None);
    p.push(Param::new(ParamName::Vpid, Value::I64(1)));
    t.before(&event(et("clone"), 11, 200, &p));
    assert_eq!(t.get(11).unwrap().pidns_init_start_ts, 200);
    // Its child inherits the namespace init's start; a vpid-less clone stays 0 inside.
    let p = clone_params(11, "sh", 0, None);
    t.before(&event(et("clone"), 12, 300, &p));
    assert_eq!(t.get(12).unwrap().pidns_init_start_ts, 200);
    assert_eq!(t.get(12).unwrap().vpid, 0);
    // On the host a vpid-less clone keeps vpid == pid.
    let p = clone_params(10, "sh", 0, None);
    t.before(&event(et("clone"), 13, 400, &p));
    assert_eq!(t.get(13).unwrap().vpid, 13);
    assert_eq!(t.get(13).unwrap().pidns_init_start_ts, host_init_ts);
}

/// Lost procexit events: the sweep finds processes gone from /proc (the fixture tree has pids
/// 1, 2, 40, 100, 200, 290, 300, 301, 400, 500, 601) and removes them, a bounded number per call.
#[test]
fn sweep_removes_processes_whose_exit_was_lost() {
    let mut t = table(TableConfig::default());
    for pid in [1, 100, 200] {
        spawn(&mut t, pid, 1, pid as u64);
    }
    for pid in 70_000..70_010 {
        spawn(&mut t, pid, 200, pid as u64); // not in the fixture /proc: died unseen
    }
    spawn(&mut t, 300, 1, 1);
    spawn(&mut t, 70_100, 300, 1); // a dead child that keeps 300 linked
    exit(&mut t, 300); // 300 kept as exited ancestor: not swept while its child is
    assert_eq!(
        t.sweep(4),
        1,
        "budget of 4: pids 1, 100, 200 alive, 70000 gone"
    );
    let n = t.sweep(1000);
    assert_eq!(n, 10, "70001..70009 and 70100 (and the exited 300 with it)");
    assert!(
        t.get(300).is_none(),
        "exited ancestor left with its last child"
    );
    assert_eq!(t.len(), 3);
    assert_eq!(t.stats().swept, 11);
    assert_eq!(t.sweep(1000), 0);
}

/// The kernel names the cgroup in lifecycle events: a process that has exited before the
/// table could read `/proc/<pid>/cgroup` (a short-lived container) still gets its container,
/// and conmon beside a container, or a host cgroup, stays on the host.
#[test]
fn container_comes_from_the_cgroup_the_kernel_named() {
    let id = "58bfa3d97318fefa7c7a8becb5370c260ba83dbf8adf7161a80eb10fd4128375";
    let mut t = table(TableConfig::default());
    spawn(&mut t, 900, 1, 10);
    for (pid, cgroup, want) in [
        // No such pid in the /proc fixture: only the event can tell.
        (901, format!("/libpod_parent/libpod-{id}"), id),
        (902, format!("/machine.slice/libpod-conmon-{id}.scope"), ""),
        (
            903,
            "/process_api/0123456789abcdef0123456789abcdef".to_string(),
            "",
        ),
    ] {
        let cg: &'static str = Box::leak(cgroup.into_boxed_str());
        let mut p = exec_params(900, "sh", "-c x");
        p.push(Param::new(
            ParamName::CgroupId,
            Value::U64(7000 + pid as u64),
        ));
        p.push(Param::new(ParamName::Cgroup, Value::Str(cg)));
        spawn(&mut t, pid, 900, 20);
        t.before(&event(et("execve"), pid, 30, &p));
        let proc = t.get(pid).expect("process");
        assert_eq!(proc.container_id, want, "{cg}");
    }
}
