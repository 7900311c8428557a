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
