//! Helpers shared by the integration tests: fixture paths and lifecycle event builders that
//! follow `notes/CONTRACT-sensor-state.md`.
#![allow(dead_code)]

use std::path::PathBuf;
use vigil_event::{Dir, Event, EventType, FlagSet, Param, ParamName, Value};

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn et(name: &str) -> EventType {
    EventType::from_name(name).unwrap()
}

pub fn event<'a>(etype: EventType, pid: u32, ts: u64, params: &'a [Param<'a>]) -> Event<'a> {
    Event {
        num: ts,
        ts,
        etype,
        dir: Dir::Exit,
        cpu: 0,
        tid: pid,
        pid,
        res: 0,
        params,
        fd: None,
        latency: 0,
    }
}

/// Params of a clone child event.
pub fn clone_params(
    ppid: u32,
    comm: &'static str,
    flags: u64,
    cgroup_id: Option<u64>,
) -> Vec<Param<'static>> {
    let mut v = vec![
        Param::new(ParamName::Res, Value::Res(0)),
        Param::new(ParamName::Exe, Value::Str(comm)),
        Param::new(ParamName::Args, Value::List("")),
        Param::new(ParamName::Ptid, Value::I64(ppid as i64)),
        Param::new(ParamName::Comm, Value::Str(comm)),
        Param::new(ParamName::Flags, Value::Flags(flags, FlagSet::Clone)),
        Param::new(ParamName::Uid, Value::Uid(0)),
        Param::new(ParamName::Gid, Value::Gid(0)),
    ];
    if let Some(id) = cgroup_id {
        v.push(Param::new(ParamName::CgroupId, Value::U64(id)));
    }
    v
}

pub fn procexit<'a>(pid: u32, ts: u64, params: &'a [Param<'a>]) -> Event<'a> {
    event(EventType::PROCEXIT, pid, ts, params)
}

/// The fake `/proc` tree of `tests/fixtures/proc`, copied to a temporary directory with its
/// symlinks (`exe`, `cwd`, `root`) made from `tests/fixtures/proc-links.txt`. The links are not
/// committed: links to `/` inside the package would make cargo and other tree walkers wander
/// over the whole filesystem.
pub fn proc_tree() -> PathBuf {
    static TREE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    TREE.get_or_init(|| {
        let dst = std::env::temp_dir().join(format!("vigil-state-proc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dst);
        copy_dir(&fixtures().join("proc"), &dst);
        let links = std::fs::read_to_string(fixtures().join("proc-links.txt")).unwrap();
        for line in links.lines().filter(|l| !l.trim().is_empty()) {
            let mut f = line.splitn(3, ' ');
            let (pid, name, target) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
            let target = match target.strip_prefix("../../") {
                Some(rel) => fixtures().join(rel),
                None => PathBuf::from(target),
            };
            std::os::unix::fs::symlink(target, dst.join(pid).join(name)).unwrap();
        }
        dst
    })
    .clone()
}

fn copy_dir(src: &std::path::Path, dst: &std::path::Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}
