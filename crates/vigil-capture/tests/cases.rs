//! Parsing and checking of rule test case files.

use std::path::Path;
use vigil_capture::cases::{self, Actual};
use vigil_capture::{CaptureError, OwnedRecord};
use vigil_event::{FieldValue, Priority};

fn parse(text: &str) -> Result<cases::CaseFile, CaptureError> {
    cases::parse(text, Path::new("/t/dir/cases.yaml"))
}

fn err(text: &str) -> (usize, String) {
    match parse(text) {
        Err(CaptureError::Text { line, msg, origin }) => {
            assert_eq!(origin, "/t/dir/cases.yaml");
            (line, msg)
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

const GOOD: &str = r#"
rules: [r.yaml, ../other/x.yaml]
x-p: &p {pid: 10, ppid: 1, comm: cat}
cases:
  - name: one
    events:
      - {event: openat, pid: 10, res: 3, fd: {name: /etc/shadow}}
      - {event: procexit, pid: 10}
    processes: [*p]
    containers: [{id: abc, name: web}]
    host: {hostname: h}
    users: [{container_id: abc, users: [{uid: 0, name: root}]}]
    expect:
      - Shadow
      - {rule: Other, event: 1, priority: notice, output_fields: {proc.name: cat, container.id: null, evt.num: 2}, output: [a, b]}
    not: [Third]
  - name: two
    rule_matching_is_not_a_case_key: true
"#;

#[test]
fn parses_a_file() {
    let f = parse(&GOOD.replace(
        "    rule_matching_is_not_a_case_key: true\n",
        "    events: []\n    expect_none: true\n",
    ))
    .unwrap();
    assert_eq!(
        f.rules,
        [
            Path::new("/t/dir/r.yaml"),
            Path::new("/t/dir/../other/x.yaml")
        ]
    );
    assert!(f.all_matches);
    assert_eq!(f.cases.len(), 2);
    let c = &f.cases[0];
    assert_eq!((c.name.as_str(), c.line), ("one", 5));
    // Setup first (host, users, containers, processes), then events with their indices.
    let kinds: Vec<(Option<usize>, &str)> = c
        .records
        .iter()
        .map(|(i, r)| {
            (
                *i,
                match r {
                    OwnedRecord::Host(_) => "host",
                    OwnedRecord::Users(_) => "users",
                    OwnedRecord::Container(_) => "container",
                    OwnedRecord::Process(_) => "process",
                    OwnedRecord::Event(_) => "event",
                    _ => "other",
                },
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (None, "host"),
            (None, "users"),
            (None, "container"),
            (None, "process"),
            (Some(0), "event"),
            (Some(1), "event")
        ]
    );
    assert_eq!(c.expect[0].rule, "Shadow");
    let e = &c.expect[1];
    assert_eq!((e.event, e.priority), (Some(1), Some(Priority::Notice)));
    assert_eq!(
        e.output_fields,
        [
            ("proc.name".to_string(), Some("cat".to_string())),
            ("container.id".to_string(), None),
            ("evt.num".to_string(), Some("2".to_string()))
        ]
    );
    assert_eq!(e.output, ["a", "b"]);
    assert_eq!(c.not, ["Third"]);
    assert!(f.cases[1].expect_none);
}

#[test]
fn errors_name_line_case_and_key() {
    let (line, msg) = err(GOOD);
    assert_eq!(line, 17);
    assert!(
        msg.contains("case 'two': key 'rule_matching_is_not_a_case_key': unknown key"),
        "{msg}"
    );
    let bad_event = GOOD.replace("{event: procexit, pid: 10}", "{event: procexit, pid: ten}");
    let (line, msg) = err(&bad_event);
    assert_eq!(line, 5);
    assert!(
        msg.contains("case 'one': key 'events[1].pid': 'ten' is not an unsigned number"),
        "{msg}"
    );
    let (_, msg) = err(&GOOD.replace("event: 1, priority", "event: 2, priority"));
    assert!(
        msg.contains(
            "key 'expect[1].event': event index 2 is out of range (the case has 2 events)"
        ),
        "{msg}"
    );
    let (_, msg) = err(&GOOD.replace(
        "{pid: 10, ppid: 1, comm: cat}",
        "{pid: 10, ppid: 1, cmd: cat}",
    ));
    assert!(
        msg.contains("key 'processes[0].cmd': unknown process field"),
        "{msg}"
    );
    let (_, msg) = err(&GOOD.replace("priority: notice", "priority: loud"));
    assert!(
        msg.contains("key 'expect[1].priority': unknown priority 'loud'"),
        "{msg}"
    );
    let (line, msg) = err("rules: [a]\ncases:\n  - name: x\n    events: [\n");
    assert!(line >= 4 && msg.contains("invalid YAML"), "{line} {msg}");
    let (_, msg) = err("cases: []\n");
    assert!(msg.contains("key 'rules': missing"), "{msg}");
    let (_, msg) = err("rules: a\ncases:\n  - {name: x, events: []}\n");
    assert!(msg.contains("checks nothing"), "{msg}");
    let (_, msg) = err("rules: a\ncases:\n  - {name: x, events: [], expect_none: true}\n  - {name: x, events: [], expect_none: true}\n");
    assert!(msg.contains("duplicate case name 'x'"), "{msg}");
    let (_, msg) =
        err("rules: a\ncases:\n  - {name: x, events: [], expect_none: true, expect: [A]}\n");
    assert!(
        msg.contains("cannot both expect alerts and expect none"),
        "{msg}"
    );
    let (_, msg) = err("rules: a\nrule_matching: some\ncases: []\n");
    assert!(msg.contains("'all' or 'first'"), "{msg}");
}

fn actual(rule: &str, event: usize, name: &str) -> Actual {
    Actual {
        rule: rule.into(),
        event: Some(event),
        priority: Priority::Warning,
        output: format!("{rule} by {name}"),
        output_fields: vec![
            ("proc.name".into(), FieldValue::Str(name.into())),
            ("fd.name".into(), FieldValue::Null),
        ],
    }
}

fn case(yaml_case: &str) -> cases::Case {
    let text = format!("rules: r\ncases:\n{yaml_case}");
    parse(&text).unwrap().cases.remove(0)
}

#[test]
fn checking_alerts() {
    let c = case("  - {name: c, events: [{event: openat, pid: 1}, {event: openat, pid: 1}], expect: [{rule: A, event: 1, output_fields: {proc.name: cat, fd.name: null}, output: A by}]}\n");
    assert!(cases::check(&c, &[actual("A", 1, "cat")])
        .failures
        .is_empty());
    let v = cases::check(&c, &[actual("A", 0, "cat"), actual("B", 1, "x")]);
    assert_eq!(
        v.failures,
        [
            "expected rule 'A' to fire on event 1; it fired but fired on event 0 instead of event 1",
            "unexpected alert: rule 'B' fired on event 1"
        ]
    );
    let v = cases::check(&c, &[actual("A", 1, "dog")]);
    assert_eq!(v.failures, ["expected rule 'A' to fire on event 1; it fired but output field 'proc.name' is 'dog', expected 'cat'"]);
    let v = cases::check(&c, &[]);
    assert_eq!(
        v.failures,
        ["expected rule 'A' to fire on event 1; it did not"]
    );
    // Two expectations need two alerts.
    let c2 = case("  - {name: c, events: [{event: openat, pid: 1}], expect: [A, A]}\n");
    assert_eq!(cases::check(&c2, &[actual("A", 0, "x")]).failures.len(), 1);
    assert!(
        cases::check(&c2, &[actual("A", 0, "x"), actual("A", 0, "y")])
            .failures
            .is_empty()
    );
    // allow_other and not.
    let c3 =
        case("  - {name: c, events: [{event: openat, pid: 1}], allow_other: true, not: [N]}\n");
    assert!(cases::check(&c3, &[actual("X", 0, "x")])
        .failures
        .is_empty());
    assert_eq!(
        cases::check(&c3, &[actual("N", 0, "x")]).failures,
        ["rule 'N' fired on event 0, listed under 'not'"]
    );
    let c4 = case("  - {name: c, events: [{event: openat, pid: 1}], expect_none: true}\n");
    assert_eq!(
        cases::check(&c4, &[actual("X", 0, "x")]).failures,
        ["rule 'X' fired on event 0, expected no alert"]
    );
}
