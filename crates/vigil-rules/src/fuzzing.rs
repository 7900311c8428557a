//! Entry points shared by the cargo-fuzz targets (`fuzz/fuzz_targets/rules_*.rs`) and the
//! in-crate randomized and regression tests, so both exercise exactly the same code: load the
//! input, and if it loads, derive the kernel prefilters, evaluate fixed events and render
//! alerts. Any panic is a bug.

use crate::{load, LoadOptions, RuleMatching, RuleSource};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use vigil_event::{
    Container, Dir, Event, EventType, FdInfo, FdKind, FlagSet, L4Proto, Param, ParamName, Process,
    SockTuple, StateView, UserInfo, Value,
};

/// A two-process state with one container, enough for every field to produce a value.
pub struct FuzzState {
    procs: HashMap<u32, Process>,
    container: Container,
    user: UserInfo,
}

impl Default for FuzzState {
    fn default() -> Self {
        let mut procs = HashMap::new();
        procs.insert(
            10,
            Process {
                pid: 10,
                ppid: 1,
                comm: "bash".into(),
                exe: "/bin/bash".into(),
                args: vec!["-c".into(), "id".into()],
                ..Process::default()
            },
        );
        procs.insert(
            11,
            Process {
                pid: 11,
                ppid: 10,
                comm: "cat".into(),
                exe: "cat".into(),
                exepath: "/usr/bin/cat".into(),
                args: vec!["/etc/shadow".into()],
                env: vec!["A=b".into()],
                container_id: "c".repeat(64),
                ..Process::default()
            },
        );
        FuzzState {
            procs,
            container: Container {
                id: "c".repeat(64),
                name: "n".into(),
                image: "i:1".into(),
                ..Container::default()
            },
            user: UserInfo {
                uid: 0,
                name: "root".into(),
                homedir: "/root".into(),
                shell: "/bin/sh".into(),
            },
        }
    }
}

impl StateView for FuzzState {
    fn process(&self, pid: u32) -> Option<&Process> {
        self.procs.get(&pid)
    }
    fn container(&self, id: &str) -> Option<&Container> {
        (id == self.container.id).then_some(&self.container)
    }
    fn user(&self, _p: &Process, _uid: u32) -> Option<&UserInfo> {
        Some(&self.user)
    }
    fn group_name(&self, _p: &Process, _gid: u32) -> Option<&str> {
        Some("root")
    }
    fn hostname(&self) -> &str {
        "fuzz"
    }
}

fn run_events(rs: &crate::Ruleset) {
    // The kernel prefilter analysis runs on whatever loaded.
    for t in ["open", "openat", "openat2", "creat"] {
        if let Some(t) = EventType::from_name(t) {
            let _ = rs.open_prefilter(t);
        }
    }
    let st = FuzzState::default();
    let tuple = SockTuple {
        proto: L4Proto::Tcp,
        src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        src_port: 1234,
        dst_ip: IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)),
        dst_port: 80,
    };
    let open = [
        Param::new(ParamName::Fd, Value::Fd(3)),
        Param::new(ParamName::Name, Value::Str("/etc/shadow")),
        Param::new(ParamName::Flags, Value::Flags(0o1101, FlagSet::Open)),
        Param::new(ParamName::Data, Value::Bytes(b"\x00\xffdata")),
    ];
    let conn = [
        Param::new(ParamName::Res, Value::Res(-111)),
        Param::new(ParamName::Tuple, Value::Tuple(tuple)),
    ];
    let events = [
        (
            "openat",
            &open[..],
            Some(FdInfo {
                num: 3,
                kind: FdKind::File,
                name: "/etc/shadow",
                ..FdInfo::default()
            }),
            3,
        ),
        (
            "connect",
            &conn[..],
            Some(FdInfo {
                num: 4,
                kind: FdKind::Ipv4,
                tuple: Some(tuple),
                ..FdInfo::default()
            }),
            -111,
        ),
        ("execve", &[][..], None, 0),
    ];
    let mut scratch = rs.new_scratch();
    let mut matched = Vec::new();
    for (name, params, fd, res) in events {
        for (pid, dir) in [(11, Dir::Exit), (10, Dir::Enter), (999, Dir::Exit)] {
            let Some(etype) = EventType::from_name(name) else {
                continue;
            };
            let ev = Event {
                num: 1,
                ts: 1,
                etype,
                dir,
                cpu: 0,
                tid: pid,
                pid,
                res,
                params,
                fd,
                latency: 0,
            };
            matched.clear();
            rs.evaluate(&ev, &st, &mut scratch, &mut matched);
            for &id in &matched {
                let _ = rs.alert(id, &ev, &st, &mut scratch);
            }
        }
    }
}

/// Fuzz entry: `data` is a condition; it is parsed, compiled inside a rule and evaluated.
pub fn fuzz_condition(data: &[u8]) {
    let Ok(cond) = std::str::from_utf8(data) else {
        return;
    };
    let _ = crate::parser::parse_condition(cond);
    let quoted = cond.replace('\'', "''");
    let text = format!(
        "- list: l\n  items: [a, \"b c\", /etc]\n- macro: m\n  condition: proc.name = cat\n- rule: r\n  desc: d\n  condition: '{quoted}'\n  output: \"%proc.name %fd.name %evt.arg.flags\"\n  priority: info\n"
    );
    let opts = LoadOptions {
        rule_matching: RuleMatching::All,
        ..LoadOptions::default()
    };
    match load(
        &[RuleSource {
            name: "fuzz.yaml".into(),
            text,
        }],
        &opts,
    ) {
        Ok(l) => run_events(&l.ruleset),
        Err(d) => {
            let _ = d.to_string();
        }
    }
}

/// Fuzz entry: `data` is a whole rules file.
pub fn fuzz_loader(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let opts = LoadOptions {
        rule_matching: RuleMatching::All,
        ..LoadOptions::default()
    };
    match load(
        &[RuleSource {
            name: "fuzz.yaml".into(),
            text: text.to_string(),
        }],
        &opts,
    ) {
        Ok(l) => {
            let _ = l.ruleset.event_types();
            run_events(&l.ruleset)
        }
        Err(d) => {
            let _ = d.to_string();
        }
    }
}
