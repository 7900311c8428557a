//! Round trips and error reporting of both capture formats, and the replay state lifecycle.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vigil_capture::binary::{BinaryReader, BinaryWriter, HEADER_LEN};
use vigil_capture::jsonl::{self, JsonlWriter};
use vigil_capture::reader::{self, Format};
use vigil_capture::{
    CaptureError, HostInfo, OwnedEvent, OwnedRecord, ParamBuf, Record, ReplayState, Stats,
    UserTable,
};
use vigil_event::{
    Container, Dir, Event, EventType, FdInfo, FdKind, FlagSet, L4Proto, Param, ParamName, Process,
    SockAddr, SockTuple, StateView, UserInfo, Value,
};

fn tuple() -> SockTuple {
    SockTuple {
        proto: L4Proto::Tcp,
        src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        src_port: 40000,
        dst_ip: IpAddr::V4(Ipv4Addr::new(10, 96, 0, 1)),
        dst_port: 443,
    }
}

/// Every value kind, an fd with a tuple, and odd corners (entry dir, latency, tid != pid).
fn sample_events() -> Vec<OwnedEvent> {
    let params = [
        Param::new(ParamName::Res, Value::Res(3)),
        Param::new(ParamName::Fd, Value::Fd(-100)),
        Param::new(ParamName::Name, Value::Str("/etc/shadow")),
        Param::new(ParamName::Flags, Value::Flags(0o2000000, FlagSet::Open)),
        Param::new(ParamName::Mode, Value::Mode(0o4755)),
        Param::new(ParamName::Uid, Value::Uid(1000)),
        Param::new(ParamName::Gid, Value::Gid(u32::MAX)),
        Param::new(ParamName::Args, Value::List("-c\0ls -l\0")),
        Param::new(ParamName::Data, Value::Bytes(&[0, 159, 146, 150])),
        Param::new(ParamName::CapEffective, Value::Caps(1 << 21)),
        Param::new(
            ParamName::Addr,
            Value::Addr(SockAddr::Inet {
                ip: IpAddr::V6(Ipv6Addr::LOCALHOST),
                port: 8080,
            }),
        ),
        Param::new(ParamName::Tuple, Value::Tuple(tuple())),
        Param::new(ParamName::Sig, Value::Signal(9)),
        Param::new(ParamName::Size, Value::U64(u64::MAX)),
        Param::new(ParamName::Backlog, Value::I64(i64::MIN)),
        Param::new(ParamName::Target, Value::None),
        Param::new(ParamName::Path, Value::Addr(SockAddr::Unix("rel.sock"))),
        Param::new(ParamName::Dev, Value::Addr(SockAddr::Other(17))),
    ];
    let a = Event {
        num: 1,
        ts: 1_700_000_000_000_000_000,
        etype: EventType::from_name("openat").unwrap(),
        dir: Dir::Exit,
        cpu: 3,
        tid: 101,
        pid: 100,
        res: 3,
        params: &params,
        fd: Some(FdInfo {
            num: 3,
            kind: FdKind::File,
            name: "/etc/shadow",
            nameraw: "../../etc/shadow",
            tuple: None,
            dev: 0x803,
            ino: 42,
            is_upper_layer: true,
        }),
        latency: 1234,
    };
    let b_params = [Param::new(ParamName::Fd, Value::Fd(4))];
    let b = Event {
        num: 2,
        // Time going backwards must survive delta encoding.
        ts: 1_699_999_999_000_000_000,
        etype: EventType::from_name("connect").unwrap(),
        dir: Dir::Enter,
        cpu: 0,
        tid: 100,
        pid: 100,
        res: 0,
        params: &b_params,
        fd: Some(FdInfo {
            num: 4,
            kind: FdKind::Ipv4,
            name: "",
            nameraw: "",
            tuple: Some(tuple()),
            ..Default::default()
        }),
        latency: 0,
    };
    let c = Event {
        num: 10,
        ts: 1_700_000_001_000_000_000,
        etype: EventType::PROCEXIT,
        dir: Dir::Exit,
        cpu: 0,
        tid: 100,
        pid: 100,
        res: -2,
        params: &[],
        fd: None,
        latency: 0,
    };
    [a, b, c].iter().map(OwnedEvent::from_event).collect()
}

fn sample_records() -> Vec<OwnedRecord> {
    let mut out = vec![
        OwnedRecord::Users(UserTable {
            container_id: String::new(),
            users: vec![UserInfo {
                uid: 0,
                name: "root".into(),
                homedir: "/root".into(),
                shell: "/bin/sh".into(),
            }],
            groups: vec![],
        }),
        OwnedRecord::Container(Box::new(Container {
            id: "ab".repeat(32),
            name: "web".into(),
            image: "nginx:1".into(),
            privileged: true,
            ..Default::default()
        })),
        OwnedRecord::Process(Box::new(Process {
            pid: 100,
            ppid: 1,
            comm: "nginx".into(),
            args: vec!["-g".into(), "daemon off;".into()],
            container_id: "ab".repeat(32),
            ..Default::default()
        })),
    ];
    out.extend(sample_events().into_iter().map(OwnedRecord::Event));
    out.push(OwnedRecord::RemoveProcess(7));
    out
}

fn host() -> HostInfo {
    HostInfo {
        hostname: "node-1".into(),
        boot_ts: 5,
        ..Default::default()
    }
}

fn write_binary(records: &[OwnedRecord]) -> Vec<u8> {
    let mut w = BinaryWriter::new(Vec::new(), "mem", &host()).unwrap();
    let mut buf = ParamBuf::new();
    for r in records {
        r.with_record(&mut buf, |rec| w.write_record(&rec)).unwrap();
    }
    w.finish(Stats {
        dropped: 3,
        ..Default::default()
    })
    .unwrap()
}

fn read_all(bytes: &[u8]) -> Result<Vec<OwnedRecord>, CaptureError> {
    let mut r = reader::from_bytes(bytes, "mem")?;
    let mut out = Vec::new();
    while let Some(rec) = r.next_record(|r| OwnedRecord::from_record(&r))? {
        out.push(rec);
    }
    Ok(out)
}

#[test]
fn binary_round_trip_is_exact() {
    let records = sample_records();
    let bytes = write_binary(&records);
    let back = read_all(&bytes).unwrap();
    // Host first, end last, the rest unchanged.
    assert_eq!(back.first(), Some(&OwnedRecord::Host(host())));
    match back.last() {
        Some(OwnedRecord::End(s)) => {
            assert_eq!(s.events, 3);
            assert_eq!(s.dropped, 3);
        }
        other => panic!("expected end record, got {other:?}"),
    }
    assert_eq!(&back[1..back.len() - 1], &records[..]);
}

#[test]
fn binary_to_jsonl_to_binary_is_lossless() {
    let records = sample_records();
    let bytes = write_binary(&records);
    let mut w = JsonlWriter::new(Vec::new(), "mem");
    let mut r = reader::from_bytes(&bytes, "mem").unwrap();
    assert_eq!(r.format(), Format::Binary);
    while r.next_record(|rec| w.write_record(&rec)).unwrap().is_some() {}
    let text = String::from_utf8(w.finish().unwrap()).unwrap();
    // Human-friendly forms are used where the value has its natural kind.
    assert!(text.contains(r#""flags":"O_RDONLY|O_CLOEXEC""#), "{text}");
    assert!(text.contains(r#""mode":"04755""#), "{text}");
    assert!(
        text.contains(r#""tuple":"tcp 10.0.0.2:40000->10.96.0.1:443""#),
        "{text}"
    );
    assert!(text.contains(r#""sig":"SIGKILL""#), "{text}");
    assert!(text.contains(r#""addr":"[::1]:8080""#), "{text}");
    // ... and the typed form where it does not.
    assert!(
        text.contains(r#""path":{"type":"addr","value":{"unix":"rel.sock"}}"#),
        "{text}"
    );
    let mut r2 = reader::from_bytes(text.as_bytes(), "mem.jsonl").unwrap();
    assert_eq!(r2.format(), Format::Jsonl);
    let mut again = Vec::new();
    while let Some(rec) = r2.next_record(|r| OwnedRecord::from_record(&r)).unwrap() {
        again.push(rec);
    }
    assert_eq!(again, read_all(&bytes).unwrap());
}

#[test]
fn reading_events_reuses_buffers() {
    let records: Vec<OwnedRecord> = std::iter::repeat_with(sample_events)
        .take(50)
        .flatten()
        .map(OwnedRecord::Event)
        .collect();
    let bytes = write_binary(&records);
    let mut r = BinaryReader::new(&bytes[..], "mem").unwrap();
    let mut n = 0;
    while let Some(k) = r.next_record(|rec| matches!(rec, Record::Event(e) if !e.params.is_empty() || e.etype == EventType::PROCEXIT)).unwrap() {
        n += k as u32;
    }
    assert_eq!(n, 150);
    assert_eq!(r.events_read(), 150);
}

fn expect_binary_err(bytes: &[u8], offset: u64, needle: &str) {
    match read_all(bytes) {
        Err(CaptureError::Binary { offset: o, msg, .. }) => {
            assert_eq!(o, offset, "offset for '{msg}'");
            assert!(msg.contains(needle), "'{msg}' should contain '{needle}'");
        }
        other => panic!("expected a binary error containing '{needle}', got {other:?}"),
    }
}

#[test]
fn corrupt_and_truncated_binary_is_rejected_with_offsets() {
    let bytes = write_binary(&sample_records());
    // Every strict prefix is an error, never a panic, and never a silent success.
    for cut in 1..bytes.len() {
        assert!(
            read_all(&bytes[..cut]).is_err(),
            "prefix of {cut} bytes was accepted"
        );
    }
    // Flip one payload byte in each record: the checksum catches it at that record.
    let mut offsets = Vec::new();
    let mut pos = HEADER_LEN;
    while pos < bytes.len() {
        offsets.push(pos);
        let len = u32::from_le_bytes(bytes[pos + 1..pos + 5].try_into().unwrap()) as usize;
        pos += 5 + len + 4;
    }
    assert_eq!(pos, bytes.len());
    let last = *offsets.last().unwrap();
    expect_binary_err(&bytes[..bytes.len() - 1], last as u64, "truncated record");
    expect_binary_err(&bytes[..last + 3], last as u64, "truncated record header");
    for &off in &offsets {
        let mut bad = bytes.clone();
        bad[off + 5] ^= 0x40;
        expect_binary_err(&bad, off as u64, "checksum mismatch");
    }
    let mut bad = bytes.clone();
    bad[..8].copy_from_slice(b"NOTVIGIL");
    // Not the binary magic: read as JSON Lines, which rejects it by line.
    assert!(matches!(
        read_all(&bad),
        Err(CaptureError::Text { line: 1, .. })
    ));
    let mut bad = bytes.clone();
    bad[8] = 9;
    expect_binary_err(&bad, 8, "unsupported format version 9");
    // A huge length is refused before anything is allocated.
    let mut bad = bytes.clone();
    let first = offsets[0];
    bad[first + 1..first + 5].copy_from_slice(&u32::MAX.to_le_bytes());
    expect_binary_err(&bad, first as u64, "exceeds");
    // Missing end record.
    expect_binary_err(&bytes[..last], last as u64, "without an end record");
    // Data after the end record.
    let mut bad = bytes.clone();
    bad.extend_from_slice(&bytes[offsets[1]..offsets[2]]);
    expect_binary_err(&bad, bytes.len() as u64, "after the end record");
}

#[test]
fn lost_records_are_detected_by_the_end_count() {
    let bytes = write_binary(&sample_records());
    let mut offsets = Vec::new();
    let mut pos = HEADER_LEN;
    while pos < bytes.len() {
        let len = u32::from_le_bytes(bytes[pos + 1..pos + 5].try_into().unwrap()) as usize;
        offsets.push((pos, bytes[pos], 5 + len + 4));
        pos += 5 + len + 4;
    }
    // Cut out the first event record (type 3) entirely.
    let (off, _, len) = *offsets.iter().find(|(_, t, _)| *t == 3).unwrap();
    let mut cut = bytes[..off].to_vec();
    cut.extend_from_slice(&bytes[off + len..]);
    match read_all(&cut) {
        Err(CaptureError::Binary { msg, .. }) => assert!(msg.contains("records lost"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

fn text_err(text: &str) -> (usize, String) {
    match jsonl::parse_str(text, "f.jsonl") {
        Err(CaptureError::Text { line, msg, origin }) => {
            assert_eq!(origin, "f.jsonl");
            (line, msg)
        }
        other => panic!("expected a text error, got {other:?}"),
    }
}

#[test]
fn jsonl_fixture_forms() {
    let text = r#"
# a comment
{"host":{"hostname":"h1"}}
{"event":"openat","pid":100,"res":3,"args":{"fd":3,"name":"/etc/shadow","flags":"O_RDONLY|O_CREAT","mode":"0644"},"fd":{"num":3,"type":"file","name":"/etc/shadow"}}
{"event":"connect","pid":100,"ts":"2024-01-01T00:00:00.5Z","args":{"addr":"127.0.0.1:80","fd":5},"fd":{"tuple":"tcp 127.0.0.1:5000->127.0.0.1:80"}}
{"event":"openat","pid":100,"res":"ENOENT","args":{"name":"/nope","flags":65}}
{"event":"execve","pid":100,"args":{"exe":"/bin/sh","args":["-c","id"],"flags":"EXE_UPPER_LAYER|EXE_WRITABLE","cap_effective":"CAP_SYS_ADMIN|CAP_NET_RAW","uid":{"type":"u64","value":7}}}
"#;
    let recs = jsonl::parse_str(text, "f.jsonl").unwrap();
    assert_eq!(recs.len(), 5);
    let OwnedRecord::Event(open) = &recs[1] else {
        panic!()
    };
    assert_eq!(open.num, 1);
    assert_eq!(open.ts, jsonl::BASE_TS);
    assert_eq!(open.tid, 100);
    let mut buf = ParamBuf::new();
    open.with_event(&mut buf, |e| {
        assert_eq!(e.res, 3);
        assert_eq!(e.params[0], Param::new(ParamName::Fd, Value::Fd(3)));
        assert_eq!(
            e.param(ParamName::Flags),
            Some(&Value::Flags(0o100, FlagSet::Open))
        );
        assert_eq!(e.param(ParamName::Mode), Some(&Value::Mode(0o644)));
        let fd = e.fd.unwrap();
        assert_eq!(
            (fd.num, fd.kind, fd.name, fd.nameraw),
            (3, FdKind::File, "/etc/shadow", "/etc/shadow")
        );
    });
    let OwnedRecord::Event(conn) = &recs[2] else {
        panic!()
    };
    assert_eq!(conn.num, 2);
    assert_eq!(conn.ts, 1_704_067_200_500_000_000);
    let fd = conn.fd.as_ref().unwrap();
    assert_eq!(fd.kind, FdKind::Ipv4);
    assert_eq!(fd.num, 0);
    assert_eq!(fd.tuple.unwrap().dst_port, 80);
    let OwnedRecord::Event(failed) = &recs[3] else {
        panic!()
    };
    assert_eq!(failed.res, -2);
    assert_eq!(failed.ts, conn.ts + jsonl::TS_STEP);
    let OwnedRecord::Event(exec) = &recs[4] else {
        panic!()
    };
    assert_eq!(
        exec.param(ParamName::Flags),
        Some(&vigil_capture::OwnedValue::U64(5))
    );
    assert_eq!(
        exec.param(ParamName::CapEffective),
        Some(&vigil_capture::OwnedValue::Caps((1 << 21) | (1 << 13)))
    );
    assert_eq!(
        exec.param(ParamName::Uid),
        Some(&vigil_capture::OwnedValue::U64(7))
    );
    assert_eq!(
        exec.param(ParamName::Args),
        Some(&vigil_capture::OwnedValue::List("-c\0id".into()))
    );
}

#[test]
fn jsonl_errors_name_line_and_key() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "{\"event\":\"openat\",\"pid\":1,\"args\":{\"flags\":\"O_BOGUS\"}}",
            1,
            "key 'args.flags': unknown flag 'O_BOGUS'",
        ),
        (
            "\n\n{\"event\":\"nosuchcall\",\"pid\":1}",
            3,
            "key 'event': unknown event type 'nosuchcall'",
        ),
        ("{\"event\":\"openat\"}", 1, "key 'pid': missing"),
        (
            "{\"event\":\"openat\",\"pid\":1,\"args\":{\"nope\":1}}",
            1,
            "key 'args.nope': unknown parameter name",
        ),
        (
            "{\"event\":\"openat\",\"pid\":1,\"fd\":{\"type\":\"blob\"}}",
            1,
            "key 'fd.type': unknown descriptor type 'blob'",
        ),
        (
            "{\"event\":\"connect\",\"pid\":1,\"args\":{\"addr\":\"1.2.3.4\"}}",
            1,
            "key 'args.addr': '1.2.3.4' is not an ip:port",
        ),
        (
            "{\"event\":\"openat\",\"pid\":1,\"pdi\":2}",
            1,
            "key 'pdi': unknown key",
        ),
        (
            "{\"process\":{\"pid\":1,\"commm\":\"x\"}}",
            1,
            "key 'process.commm': unknown process field",
        ),
        ("{\"process\":{\"pid\":\"one\"}}", 1, "bad process"),
        ("{\"event\":\"openat\",\"pid\":1,", 1, "invalid JSON"),
        ("{\"bogus\":1}", 1, "key 'bogus': unknown record kind"),
        (
            "{\"event\":\"openat\",\"pid\":1,\"res\":\"EWHAT\"}",
            1,
            "key 'res': unknown errno name 'EWHAT'",
        ),
        (
            "{\"event\":\"execve\",\"pid\":1,\"args\":{\"args\":[\"a\",3]}}",
            1,
            "key 'args.args[1]': expected a string",
        ),
        (
            "{\"event\":\"openat\",\"pid\":1}\n{\"end\":{\"events\":2}}",
            2,
            "end record counts 2 events but 1",
        ),
    ];
    for (text, line, needle) in cases {
        let (l, msg) = text_err(text);
        assert_eq!(l, *line, "line for {text}: {msg}");
        assert!(msg.contains(needle), "'{msg}' should contain '{needle}'");
    }
}

#[test]
fn replay_state_applies_the_lifecycle() {
    let cid = "c0ffee".repeat(10) + "abcd";
    let text = format!(
        r#"{{"container":{{"id":"{cid}","name":"app"}}}}
{{"users":{{"container_id":"{cid}","users":[{{"uid":1000,"name":"app"}}],"groups":[{{"gid":1000,"name":"appgrp"}}]}}}}
{{"process":{{"pid":10,"ppid":1,"comm":"nginx","exe":"/usr/sbin/nginx","exepath":"/usr/sbin/nginx","uid":1000,"container_id":"{cid}","cwd":"/srv/"}}}}
{{"event":"clone","pid":11,"args":{{"ptid":10,"flags":"CLONE_CHILD_SETTID"}}}}
{{"event":"clone","pid":12,"tid":13,"args":{{"ptid":10,"flags":"CLONE_THREAD|CLONE_VM"}}}}
{{"event":"execve","pid":11,"args":{{"exe":"sh","args":["-c","id"],"trusted_exepath":"/bin/dash","fd0_type":"ipv4","fd0_name":"1.2.3.4:5->6.7.8.9:10","flags":"EXE_UPPER_LAYER"}}}}
{{"event":"procexit","pid":11,"args":{{"status":0}}}}
{{"event":"execve","pid":50,"args":{{"exe":"/usr/bin/curl","ptid":10}}}}
"#
    );
    let recs = jsonl::parse_str(&text, "t").unwrap();
    let mut st = ReplayState::new();
    let mut buf = ParamBuf::new();
    let mut seen = Vec::new();
    for r in &recs {
        r.with_record(&mut buf, |rec| match rec {
            Record::Event(e) => {
                st.before(e);
                // What rules would see for this event.
                seen.push(st.process(e.pid).cloned());
                st.after(e);
            }
            other => st.apply(&other),
        });
    }
    let child = seen[0].clone().unwrap();
    assert_eq!(
        (child.pid, child.ppid, child.comm.as_str()),
        (11, 10, "nginx")
    );
    assert_eq!(child.container_id, cid, "the child inherits the container");
    assert_eq!(child.start_ts, jsonl::BASE_TS);
    assert!(seen[1].is_none(), "a thread creates no process");
    let exec = seen[2].clone().unwrap();
    assert_eq!(exec.comm, "dash", "comm from the executable's basename");
    assert_eq!(exec.exe, "sh");
    assert_eq!(exec.exepath, "/bin/dash");
    assert_eq!(exec.args, ["-c", "id"]);
    assert_eq!(exec.cwd, "/srv/", "cwd carries over exec");
    assert_eq!(exec.stdio[0].kind, "ipv4");
    assert!(exec.is_exe_upper_layer);
    assert_eq!(exec.start_ts, child.start_ts);
    assert_eq!(exec.exec_ts, jsonl::BASE_TS + 2 * jsonl::TS_STEP);
    assert!(
        seen[3].is_some(),
        "procexit is evaluated with the process present"
    );
    assert!(st.process(11).is_none(), "procexit removes it afterwards");
    let orphan = seen[4].clone().unwrap();
    assert_eq!(
        (orphan.ppid, orphan.comm.as_str(), orphan.exepath.as_str()),
        (10, "curl", "/usr/bin/curl")
    );
    assert_eq!(orphan.container_id, cid);
    let s = st.stats();
    assert_eq!(
        (s.processes_created, s.execs, s.exits, s.unknown_pid),
        (1, 2, 1, 1)
    );
    // Users: the container's table, defaults elsewhere.
    let p = st.process(10).unwrap().clone();
    assert_eq!(st.user(&p, 1000).unwrap().name, "app");
    assert_eq!(st.group_name(&p, 1000), Some("appgrp"));
    assert!(
        st.user(&p, 0).is_none(),
        "a container's table replaces the defaults"
    );
    let host_proc = Process::default();
    assert_eq!(st.user(&host_proc, 0).unwrap().name, "root");
    assert_eq!(st.user(&host_proc, 33).unwrap().name, "www-data");
    assert_eq!(st.hostname(), "vigil-replay");
    assert_eq!(st.container(&cid).unwrap().name, "app");
}
