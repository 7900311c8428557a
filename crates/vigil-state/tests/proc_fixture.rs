//! Seeding from a fake `/proc` tree (tests/fixtures/proc) and the live state over it.

mod common;

use common::*;
use std::time::{Duration, Instant};
use vigil_event::{Param, ParamName, StateView, Value};
use vigil_state::{
    CacheConfig, Limits, LiveState, LookupError, ProcFs, ProcessTable, Readiness, RuntimeConfig,
    StateConfig, TableConfig,
};

const CID: &str = "8d82cbc94283c4ea9ed53709565b0d35c99ec41eb0f3f3936334858c7460d92a";

fn seeded() -> ProcessTable {
    let fs = ProcFs::new(&proc_tree(), 100, Limits::default()).unwrap();
    let mut t = ProcessTable::new(fs, TableConfig::default());
    let n = t.seed().unwrap();
    assert_eq!(n, 10, "every readable pid seeded");
    t
}

fn live(cfg_tweak: impl FnOnce(&mut StateConfig)) -> LiveState {
    let mut cfg = StateConfig {
        proc_root: proc_tree(),
        host_root: fixtures().join("hostroot"),
        cache: CacheConfig {
            // No runtime is reachable under this root: lookups fail fast.
            runtime: RuntimeConfig::under(&fixtures().join("no-runtimes-here")),
            ..CacheConfig::default()
        },
        ..StateConfig::default()
    };
    cfg_tweak(&mut cfg);
    LiveState::new(cfg).unwrap()
}

#[test]
fn seeds_every_field() {
    let t = seeded();
    let s = t.stats();
    assert_eq!(s.seeded, 10);
    assert_eq!(s.seed_failures, 1, "pid 500 has a malformed stat");
    let bash = t.get(200).unwrap();
    assert_eq!(bash.comm, "bash");
    assert_eq!(bash.exe, "-bash");
    assert_eq!(bash.exepath, "/usr/bin/bash");
    assert_eq!(bash.cwd, "/home/alice/");
    assert_eq!(
        (bash.ppid, bash.pgid, bash.sid, bash.vpid),
        (100, 200, 200, 200)
    );
    assert_eq!(
        (bash.uid, bash.euid, bash.gid, bash.egid),
        (1000, 1000, 1000, 1000)
    );
    assert_eq!(bash.loginuid, 1000);
    assert_eq!(bash.tty, 34816);
    // btime 1795300000 s + 5000 ticks at 100 Hz
    assert_eq!(bash.start_ts, 1_795_300_000_000_000_000 + 50_000_000_000);
    assert_eq!(bash.cap_effective, 0);
    assert!(bash.env.contains(&"USER=alice".to_string()));
    let env_bytes: usize = bash.env.iter().map(String::len).sum();
    assert!(
        env_bytes <= Limits::default().env_bytes,
        "env bounded: {env_bytes}"
    );
    assert!(!bash.in_container());

    let sshd = t.get(100).unwrap();
    assert_eq!(sshd.args, Vec::<String>::new());
    assert_eq!(sshd.loginuid, u32::MAX);

    let init = t.get(1).unwrap();
    assert_eq!(init.exe, "/sbin/init");
    assert_eq!(init.args, ["splash"]);
    assert_eq!(init.cap_permitted, 0x1ff_ffff_ffff);

    let kworker = t.get(40).unwrap();
    assert_eq!((kworker.exe.as_str(), kworker.exepath.as_str()), ("", ""));
    assert_eq!(kworker.comm, "kworker/0:1-events");

    let hostile = t.get(400).unwrap();
    assert_eq!(hostile.comm, "x) (y z");
    assert_eq!(hostile.exe, "./x) (y z");
    assert_eq!(hostile.ppid, 200);
}

#[test]
fn seeds_containers_and_vpids() {
    let t = seeded();
    let nginx = t.get(300).unwrap();
    assert_eq!(nginx.container_id, CID);
    assert_eq!((nginx.vpid, nginx.vpgid), (1, 1));
    assert_eq!(nginx.cap_effective, 0xa80425fb);
    let worker = t.get(301).unwrap();
    assert_eq!(worker.container_id, CID);
    assert_eq!(worker.vpid, 7);
    assert_eq!(worker.uid, 101);
    // proc.pidns_init_start_ts: the container's vpid 1 (pid 300), the host's init elsewhere.
    assert_eq!(worker.pidns_init_start_ts, nginx.start_ts);
    assert_eq!(
        t.get(200).unwrap().pidns_init_start_ts,
        t.get(1).unwrap().start_ts
    );
    assert_eq!(t.runtime_of(CID).as_str(), "podman");
    // conmon sits beside the container, on the host
    assert!(!t.get(290).unwrap().in_container());
    // /process_api/<32 hex> is not a container
    assert!(!t.get(1).unwrap().in_container());
}

#[test]
fn seeded_processes_have_ancestry() {
    let t = seeded();
    let chain: Vec<u32> = t.ancestors(400).map(|p| p.pid).collect();
    assert_eq!(chain, [200, 100, 1]);
    let chain: Vec<u32> = t.ancestors(301).map(|p| p.pid).collect();
    assert_eq!(chain, [300, 290, 1]);
    // Parent not in /proc: no ancestry, no panic.
    assert_eq!(t.ancestors(601).count(), 0);
    assert_eq!(t.ancestors(1).count(), 0);
    assert_eq!(t.ancestors(99999).count(), 0);
}

#[test]
fn live_state_view_users_and_hostname() {
    let mut st = live(|_| {});
    assert_eq!(st.hostname(), "fixture-host");
    let bash = st.process(200).unwrap().clone();
    assert_eq!(st.user(&bash, 1000).unwrap().name, "alice");
    assert_eq!(st.user(&bash, 1000).unwrap().homedir, "/home/alice");
    assert_eq!(st.group_name(&bash, 1000), Some("alice"));
    assert_eq!(st.user(&bash, 4242), None);
    // The same uid means another user inside the container (its own /etc/passwd).
    let worker = st.process(301).unwrap().clone();
    assert_eq!(st.user(&worker, 101).unwrap().name, "nginx");
    assert_eq!(st.user(&worker, 101).unwrap().homedir, "/nonexistent");
    assert_eq!(st.user(&bash, 101).unwrap().homedir, "/var/www");
    assert_eq!(st.group_name(&worker, 101), Some("nginx"));
    assert_eq!(st.group_name(&bash, 101), Some("www"));
    let m = st.metrics();
    assert_eq!(m.users.containers, 1);
    assert_eq!(m.users.issues, 1, "the broken passwd line is counted");
    // parent() through the view
    assert_eq!(st.parent(&worker).map(|p| p.pid), Some(300));

    // The seeded container is known at once (id, runtime) and its lookup fails cleanly.
    let c = st.container(CID).unwrap();
    assert_eq!((c.short_id(), c.runtime.as_str()), (&CID[..12], "podman"));
    let t0 = Instant::now();
    match st.wait_container(CID, Duration::from_secs(5)) {
        Readiness::Failed(LookupError::Unavailable { msg, .. }) => {
            assert!(
                msg.contains("podman API") && msg.contains("does not exist"),
                "{msg}"
            );
        }
        other => panic!("expected unavailable runtimes, got {other:?}"),
    }
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "no hang: {:?}",
        t0.elapsed()
    );
    assert!(!st.container(CID).unwrap().metadata_complete);
    assert_eq!(st.metrics().containers.lookups_failed, 1);
}

#[test]
fn live_exec_in_fixture_container_resolves_cgroup_once() {
    let mut st = live(|_| {});
    let exec = et("execve");
    let params = [
        Param::new(ParamName::Res, Value::Res(0)),
        Param::new(ParamName::Exe, Value::Str("/bin/sh")),
        Param::new(ParamName::Args, Value::List("-c\0id")),
        Param::new(ParamName::Ptid, Value::I64(300)),
        Param::new(ParamName::Comm, Value::Str("sh")),
        Param::new(ParamName::Cwd, Value::Str("/")),
        Param::new(ParamName::CgroupId, Value::U64(777)),
        Param::new(ParamName::TrustedExepath, Value::Str("/usr/bin/dash")),
        Param::new(ParamName::Uid, Value::Uid(101)),
    ];
    // pid 301 execs /bin/sh: its cgroup file (in the fixture) names the container.
    st.before(&event(exec, 301, 10, &params));
    let p = st.process(301).unwrap();
    assert_eq!(p.container_id, CID);
    assert_eq!(p.exepath, "/usr/bin/dash");
    assert_eq!(p.args, ["-c", "id"]);
    let reads = st.metrics().processes.cgroup_reads;
    // A clone child in the same cgroup id: no /proc read, same container, even though the
    // child's pid has no /proc entry.
    let cp = clone_params(301, "sh", 0, Some(777));
    st.before(&event(et("clone"), 9999, 11, &cp));
    assert_eq!(st.process(9999).unwrap().container_id, CID);
    assert_eq!(st.metrics().processes.cgroup_reads, reads);
    // A clone with a new cgroup id whose /proc entry is gone: inherits the parent's container.
    let cp = clone_params(301, "sh", 0, Some(778));
    st.before(&event(et("clone"), 9998, 12, &cp));
    assert_eq!(st.process(9998).unwrap().container_id, CID);
    assert_eq!(st.metrics().processes.cgroup_read_failures, 1);
}
