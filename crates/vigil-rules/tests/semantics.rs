//! Data-driven checks of the condition language against Falco's documented semantics: every
//! operator, every transformer, field arguments, lists, macros and the `<NA>` rule (a missing
//! value makes every comparison false). Each row is `(condition, expected)` evaluated against
//! one fixed `openat` event by `cat` (pid 300) in a container.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use vigil_event::{
    Dir, Event, EventType, FdInfo, FdKind, FlagSet, L4Proto, Param, ParamName, SockTuple, Value,
};
use vigil_rules::{load, LoadOptions, RuleSource};

const PRELUDE: &str = r#"
- list: shells
  items: [bash, sh, zsh]
- list: more_shells
  items: [shells, fish]
- list: sensitive
  items: [/etc/shadow, /etc/sudoers]
- list: nets
  items: ['"10.0.0.0/8"', "192.168.0.0/16"]
- macro: in_container
  condition: container.id != host
- macro: nested_macro
  condition: in_container and proc.name = cat
"#;

/// Evaluates `cond` as the only rule against `ev`; panics if it does not load.
fn matches(cond: &str, ev: &Event<'_>) -> bool {
    let text = format!(
        "{PRELUDE}\n- rule: r\n  desc: d\n  condition: {}\n  output: o\n  priority: info\n",
        yaml_quote(cond)
    );
    let loaded = load(
        &[RuleSource {
            name: "t.yaml".into(),
            text,
        }],
        &LoadOptions::default(),
    )
    .unwrap_or_else(|d| panic!("condition {cond:?} failed to load:\n{d}"));
    let st = common::state();
    let mut scratch = loaded.ruleset.new_scratch();
    let mut out = Vec::new();
    loaded.ruleset.evaluate(ev, &st, &mut scratch, &mut out);
    !out.is_empty()
}

fn yaml_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn open_params() -> Vec<Param<'static>> {
    vec![
        Param::new(ParamName::Fd, Value::Fd(3)),
        Param::new(ParamName::Dirfd, Value::Fd(-100)),
        Param::new(ParamName::Name, Value::Str("/etc/shadow")),
        Param::new(ParamName::Flags, Value::Flags(0o2000000, FlagSet::Open)),
        Param::new(ParamName::Mode, Value::Mode(0)),
        Param::new(ParamName::Data, Value::Bytes(b"\xca\xfe\xba\xbeHello")),
    ]
}

fn open_event<'a>(params: &'a [Param<'a>]) -> Event<'a> {
    Event {
        num: 42,
        ts: 3_000_000_000,
        etype: EventType::from_name("openat").unwrap(),
        dir: Dir::Exit,
        cpu: 1,
        tid: 300,
        pid: 300,
        res: 3,
        params,
        fd: Some(FdInfo {
            num: 3,
            kind: FdKind::File,
            name: "/etc/shadow",
            nameraw: "../etc/shadow",
            ..FdInfo::default()
        }),
        latency: 1500,
    }
}

#[test]
fn operators_and_fields() {
    let params = open_params();
    let ev = open_event(&params);
    let table: &[(&str, bool)] = &[
        // = == != and numbers
        ("proc.name = cat", true),
        ("proc.name == cat", true),
        ("proc.name = bash", false),
        ("proc.name != bash", true),
        ("proc.pid = 300 and proc.ppid = 200", true),
        ("fd.num >= 0 and fd.num > 2 and fd.num < 4 and fd.num <= 3", true),
        ("fd.num < 3", false),
        ("user.loginuid = -1", true),
        // contains / icontains / startswith / endswith
        ("fd.name contains shadow", true),
        ("fd.name contains SHADOW", false),
        ("fd.name icontains SHADOW", true),
        ("fd.name startswith /etc/", true),
        ("fd.name startswith /usr", false),
        ("fd.name endswith dow", true),
        // bytes
        ("evt.buffer bcontains cafebabe", true),
        ("evt.buffer bcontains cafebabf", false),
        ("evt.buffer bstartswith cafe", true),
        ("evt.buffer bstartswith babe", false),
        ("evt.buffer contains Hello", true),
        ("proc.name bcontains 6174", true),
        // glob / iglob / regex (anchored)
        ("fd.name glob /etc/*", true),
        ("fd.name glob '/etc/s?adow'", true),
        ("fd.name glob '/etc/[rs]hadow'", true),
        ("fd.name glob /usr/*", false),
        ("fd.name iglob /ETC/*", true),
        ("fd.name regex '/etc/sha.*'", true),
        ("fd.name regex 'shadow'", false),
        ("fd.name regex '.*shadow'", true),
        // in / intersects / pmatch, nested lists, list references
        ("proc.name in (cat, dog)", true),
        ("proc.name in (dog)", false),
        ("proc.pname in (shells)", true),
        ("proc.pname in (more_shells)", true),
        ("proc.pname in (fish, (sh, (bash)))", true),
        ("fd.name in (sensitive)", true),
        ("proc.name intersects (cat)", true),
        ("fd.name pmatch (/etc)", true),
        ("fd.name pmatch (/etc/shadow)", true),
        ("fd.name pmatch (/et, /usr)", false),
        ("fd.directory pmatch (/)", true),
        ("evt.rawres in (3, 4)", true),
        // exists and <NA>
        ("proc.name exists", true),
        ("fd.sip exists", false),
        ("fd.sport = 80", false),
        ("fd.sport != 80", false),
        ("not fd.sport = 80", true),
        ("k8s.pod.label[nope] exists", false),
        // val()
        ("proc.name = val(proc.name)", true),
        ("proc.name = val(proc.pname)", false),
        ("proc.pid > val(proc.ppid)", true),
        // transformers
        ("tolower(proc.name) = cat", true),
        ("toupper(proc.name) = CAT", true),
        ("basename(proc.exepath) = cat", true),
        ("len(proc.name) = 3", true),
        ("len(proc.aname) = 3", true),
        ("b64(proc.env[B64]) exists", false),
        ("concat(proc.name, \"-\", proc.pname) = cat-bash", true),
        ("join(\",\", proc.aname) = \"bash,sshd,systemd\"", true),
        ("tolower(toupper(proc.name)) = cat", true),
        // ancestors
        ("proc.aname[0] = cat and proc.aname[1] = bash and proc.aname[2] = sshd", true),
        ("proc.aname = sshd", true),
        ("proc.aname = cat", false),
        ("proc.aname in (systemd)", true),
        ("proc.aname[9] exists", false),
        ("proc.aexepath[2] = /usr/sbin/sshd", true),
        ("proc.pexe = /bin/bash and proc.pexepath = /bin/bash", true),
        ("proc.pcmdline = \"bash -i\"", true),
        // process fields
        ("proc.cmdline = \"cat /etc/shadow -n\"", true),
        ("proc.args = \"/etc/shadow -n\"", true),
        ("proc.exe = cat and proc.exepath = /usr/bin/cat", true),
        ("proc.env contains LD_PRELOAD", true),
        ("proc.env[HOME] = /root", true),
        ("proc.env.LD_PRELOAD = /tmp/x.so", true),
        ("proc.cwd = /root/", true),
        ("proc.tty = 0", true),
        ("proc.duration = 1000000000", true),
        ("proc.sname = cat", true),
        ("proc.vpgid.name = cat and proc.is_vpgid_leader = true", true),
        ("thread.cap_effective contains CAP_SYS_ADMIN", true),
        ("thread.cap_effective contains CAP_SYS_MODULE", false),
        ("user.name = root and user.uid = 0 and group.name = root and group.gid = 0", true),
        ("user.loginname exists", false),
        // evt fields
        ("evt.type = openat and evt.dir = <", true),
        ("evt.type in (open, openat)", true),
        ("evt.type != openat", false),
        ("evt.num = 42 and evt.cpu = 1 and evt.latency = 1500", true),
        ("evt.res = SUCCESS and evt.rawres = 3 and evt.failed = false", true),
        ("evt.is_open_read = true and evt.is_open_write = false", true),
        ("evt.arg.flags contains O_CLOEXEC and evt.arg.flags contains O_RDONLY", true),
        ("evt.arg.flags contains O_TRUNC", false),
        ("evt.arg.name = /etc/shadow and evt.arg[2] = /etc/shadow", true),
        ("evt.rawarg.flags = 524288", true),
        ("evt.args contains \"name=/etc/shadow\"", true),
        ("evt.arg.nosuchparam exists", false),
        ("evt.hostname = testhost and evt.source = syscall and evt.category = file", true),
        ("evt.time.s = \"00:00:03\"", true),
        // fd fields
        ("fd.directory = /etc and fd.filename = shadow", true),
        ("fd.typechar = f and fd.type = file", true),
        ("fd.nameraw = ../etc/shadow", true),
        ("fd.types[0] = pipe and fd.types[3] = file", true),
        ("fd.types intersects (ipv4)", true),
        ("fd.types in (pipe, ipv4, file)", true),
        ("fd.types in (pipe, ipv4)", false),
        // container / k8s
        ("container.id = 0123456789ab and container.full_id startswith 0123", true),
        ("container.name = web and container.image.repository = docker.io/library/nginx", true),
        ("container.image.tag = 1.25 and container.privileged = true and container.type = podman", true),
        ("container.mount.dest[/var/run/docker.sock] = /var/run/docker.sock", true),
        ("container.mount.dest[/var/run/*] exists", true),
        ("container.mount.dest[/etc] exists", false),
        ("container.mounts contains docker.sock", true),
        ("container.start_ts = 1500000000", true),
        ("k8s.pod.name = web-0 and k8s.ns.name = prod and k8s.pod.label[app] = web", true),
        ("k8s.pod.label.app = web and k8s.pod.labels contains app:web", true),
        // boolean structure, macros
        ("not proc.name = cat", false),
        ("not not proc.name = cat", true),
        ("proc.name = x or proc.name = cat and proc.pid = 300", true),
        ("(proc.name = x or proc.name = cat) and proc.pid = 1", false),
        ("in_container", true),
        ("nested_macro and not proc.name in (shells)", true),
        ("fd.sip in (nets)", false),
        // quoting and escapes
        ("proc.name = \"cat\"", true),
        ("proc.name = 'cat'", true),
        ("proc.args contains \"-n\"", true),
        ("proc.name in (\"c\\\"at\", cat)", true),
    ];
    let mut failures = Vec::new();
    for (cond, want) in table {
        let got = matches(cond, &ev);
        if got != *want {
            failures.push(format!("{cond:?}: expected {want}, got {got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows wrong:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n")
    );
}

#[test]
fn network_fields() {
    let tuple = SockTuple {
        proto: L4Proto::Tcp,
        src_ip: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
        src_port: 40000,
        dst_ip: IpAddr::V4(Ipv4Addr::new(192, 168, 1, 5)),
        dst_port: 443,
    };
    let params = [
        Param::new(ParamName::Res, Value::Res(0)),
        Param::new(ParamName::Tuple, Value::Tuple(tuple)),
    ];
    let ev = Event {
        num: 1,
        ts: 3_000_000_000,
        etype: EventType::from_name("connect").unwrap(),
        dir: Dir::Exit,
        cpu: 0,
        tid: 300,
        pid: 300,
        res: 0,
        params: &params,
        fd: Some(FdInfo {
            num: 5,
            kind: FdKind::Ipv4,
            tuple: Some(tuple),
            ..FdInfo::default()
        }),
        latency: 0,
    };
    let table: &[(&str, bool)] = &[
        ("fd.name = \"10.1.2.3:40000->192.168.1.5:443\"", true),
        ("fd.cip = 10.1.2.3 and fd.sip = 192.168.1.5", true),
        ("fd.lip = 10.1.2.3 and fd.rip = 192.168.1.5", true),
        (
            "fd.cport = 40000 and fd.sport = 443 and fd.lport = 40000 and fd.rport = 443",
            true,
        ),
        ("fd.snet = 192.168.0.0/16", true),
        ("fd.snet in (nets)", true),
        ("fd.cnet in (\"172.16.0.0/12\")", false),
        ("fd.net = 10.0.0.0/8", true),
        ("fd.sip in (\"192.168.1.5\", \"1.1.1.1\")", true),
        ("fd.sip != 192.168.1.5", false),
        (
            "fd.l4proto = tcp and fd.sockfamily = ip and fd.typechar = 4",
            true,
        ),
        ("fd.sip.name = 192.168.1.5", true),
        ("fd.connected = true and fd.is_server = false", true),
        ("fd.directory exists", false),
        ("evt.res = SUCCESS", true),
    ];
    let mut failures = Vec::new();
    for (cond, want) in table {
        let got = matches(cond, &ev);
        if got != *want {
            failures.push(format!("{cond:?}: expected {want}, got {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn failed_syscall_and_errno_names() {
    let params = open_params();
    let mut ev = open_event(&params);
    ev.res = -2;
    assert!(matches(
        "evt.res = ENOENT and evt.failed = true and evt.rawres = -2",
        &ev
    ));
    assert!(matches("evt.res != SUCCESS", &ev));
}

#[test]
fn enter_events_only_reach_rules_that_ask() {
    let params = open_params();
    let mut ev = open_event(&params);
    ev.dir = Dir::Enter;
    assert!(!matches("evt.type = openat", &ev));
    assert!(matches("evt.type = openat and evt.dir = >", &ev));
}

#[test]
fn exceptions_and_overrides_change_matching() {
    let params = open_params();
    let ev = open_event(&params);
    let base =
        "- rule: r\n  desc: d\n  condition: evt.type = openat\n  output: o\n  priority: info\n";
    let run = |extra: &str| {
        let text = format!("{PRELUDE}{base}{extra}");
        let loaded = load(
            &[RuleSource {
                name: "t.yaml".into(),
                text,
            }],
            &LoadOptions::default(),
        )
        .unwrap_or_else(|d| panic!("{d}"));
        let mut out = Vec::new();
        loaded.ruleset.evaluate(
            &ev,
            &common::state(),
            &mut loaded.ruleset.new_scratch(),
            &mut out,
        );
        !out.is_empty()
    };
    assert!(run(""));
    // Tuple form.
    assert!(!run("  exceptions:\n    - name: e\n      fields: [proc.name, fd.name]\n      comps: [=, startswith]\n      values:\n        - [cat, /etc]\n"));
    assert!(run("  exceptions:\n    - name: e\n      fields: [proc.name, fd.name]\n      comps: [=, startswith]\n      values:\n        - [cat, /usr]\n"));
    // Tuple form with a list value and a list reference.
    assert!(!run("  exceptions:\n    - name: e\n      fields: [proc.name, fd.name]\n      comps: [in, in]\n      values:\n        - [[dog, cat], sensitive]\n"));
    // Single-field form.
    assert!(!run("  exceptions:\n    - name: e\n      fields: proc.name\n      comps: in\n      values: [dog, cat]\n"));
    assert!(run(
        "  exceptions:\n    - name: e\n      fields: proc.name\n      values: [dog]\n"
    ));
    // Appended exceptions, override append of the condition, enabled toggle.
    assert!(!run("- rule: r\n  exceptions:\n    - name: e2\n      fields: proc.name\n      values: [cat]\n  override:\n    exceptions: append\n"));
    assert!(!run(
        "- rule: r\n  condition: and proc.name = dog\n  override:\n    condition: append\n"
    ));
    assert!(!run(
        "- rule: r\n  condition: and proc.name = dog\n  append: true\n"
    ));
    assert!(run("- rule: r\n  condition: evt.type = openat and proc.name = cat\n  override:\n    condition: replace\n"));
    assert!(!run("- rule: r\n  enabled: false\n"));
    assert!(!run("- macro: in_container\n  condition: and proc.name = nope\n  override:\n    condition: append\n- rule: r\n  condition: and in_container\n  override:\n    condition: append\n"));
}

#[test]
fn first_versus_all_matching() {
    let params = open_params();
    let ev = open_event(&params);
    let text = "- rule: a\n  desc: d\n  condition: evt.type = openat\n  output: o\n  priority: info\n- rule: b\n  desc: d\n  condition: evt.type = openat\n  output: o\n  priority: info\n".to_string();
    for (mode, n) in [
        (vigil_rules::RuleMatching::First, 1),
        (vigil_rules::RuleMatching::All, 2),
    ] {
        let opts = LoadOptions {
            rule_matching: mode,
            ..LoadOptions::default()
        };
        let loaded = load(
            &[RuleSource {
                name: "t".into(),
                text: text.clone(),
            }],
            &opts,
        )
        .unwrap();
        let mut out = Vec::new();
        loaded.ruleset.evaluate(
            &ev,
            &common::state(),
            &mut loaded.ruleset.new_scratch(),
            &mut out,
        );
        assert_eq!(out.len(), n, "{mode:?}");
    }
    let opts = LoadOptions {
        min_priority: Some(vigil_event::Priority::Warning),
        ..LoadOptions::default()
    };
    let loaded = load(
        &[RuleSource {
            name: "t".into(),
            text,
        }],
        &opts,
    )
    .unwrap();
    assert_eq!(loaded.ruleset.counts().enabled_rules, 0);
    assert!(loaded.ruleset.event_types().is_empty());
}

#[test]
fn alert_output_and_typed_fields() {
    use vigil_event::FieldValue;
    let params = open_params();
    let ev = open_event(&params);
    let text = "- rule: Read shadow\n  desc: d\n  condition: evt.type = openat and fd.name = /etc/shadow\n  output: \"file=%fd.name flags=%evt.arg.flags gp=%proc.aname[2] pid=%proc.pid sip=%fd.sip priv=%container.privileged up=%toupper(proc.name) 100%%\"\n  priority: WARNING\n  tags: [t1, t2]\n";
    let loaded = load(
        &[RuleSource {
            name: "t".into(),
            text: text.into(),
        }],
        &LoadOptions::default(),
    )
    .unwrap();
    let st = common::state();
    let mut scratch = loaded.ruleset.new_scratch();
    let mut out = Vec::new();
    loaded.ruleset.evaluate(&ev, &st, &mut scratch, &mut out);
    assert_eq!(out.len(), 1);
    let a = loaded.ruleset.alert(out[0], &ev, &st, &mut scratch);
    assert_eq!(
        a.output,
        "file=/etc/shadow flags=O_RDONLY|O_CLOEXEC gp=sshd pid=300 sip=<NA> priv=true up=CAT 100%"
    );
    assert_eq!(a.rule, "Read shadow");
    assert_eq!(a.priority, vigil_event::Priority::Warning);
    assert_eq!(a.hostname, "testhost");
    assert_eq!(a.tags, ["t1", "t2"]);
    assert_eq!(a.time, 3_000_000_000);
    assert_eq!(a.output_fields["proc.pid"], FieldValue::I64(300));
    assert_eq!(a.output_fields["fd.sip"], FieldValue::Null);
    assert_eq!(
        a.output_fields["container.privileged"],
        FieldValue::Bool(true)
    );
    assert_eq!(
        a.output_fields["proc.aname[2]"],
        FieldValue::Str("sshd".into())
    );
    assert_eq!(
        a.output_fields["toupper(proc.name)"],
        FieldValue::Str("CAT".into())
    );
}

#[test]
fn unknown_process_makes_process_fields_na() {
    let params = open_params();
    let mut ev = open_event(&params);
    ev.pid = 9999;
    ev.tid = 9999;
    assert!(!matches("proc.name exists", &ev));
    assert!(!matches("container.id != host", &ev));
    assert!(matches("not container.id = host", &ev));
    assert!(matches("fd.name = /etc/shadow", &ev));
}

#[test]
fn host_process_container_fields() {
    let params = open_params();
    let mut ev = open_event(&params);
    ev.pid = 200;
    assert!(matches(
        "container.id = host and container.name = host",
        &ev
    ));
    assert!(!matches("container.image exists", &ev));
    assert!(!matches("container.privileged = false", &ev));
}

#[test]
fn uid_arguments_render_as_names() {
    let params = [
        Param::new(ParamName::Res, Value::Res(0)),
        Param::new(ParamName::Uid, Value::Uid(0)),
    ];
    let ev = Event {
        num: 1,
        ts: 1,
        etype: EventType::from_name("setuid").unwrap(),
        dir: Dir::Exit,
        cpu: 0,
        tid: 300,
        pid: 300,
        res: 0,
        params: &params,
        fd: None,
        latency: 0,
    };
    assert!(matches("evt.type = setuid and evt.arg.uid = root", &ev));
    assert!(matches("evt.type = setuid and evt.rawarg.uid = 0", &ev));
    assert!(!matches("evt.type = setuid and evt.arg.uid = 0", &ev));
}
