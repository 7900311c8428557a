//! Rule test cases: the YAML files `vigil rules test` runs.
//!
//! A file names the rules files to load (relative to itself) and a list of cases; a case gives
//! the state that exists before it (processes, containers, users), a list of records in the
//! JSON Lines shape (usually events), and what must happen: which rules fire, on which event,
//! with which output fields; or that nothing (or some rule) does not fire. The format is
//! documented with an example in `docs/rule-tests.md`.
//!
//! This module only parses and checks; evaluation lives with the caller, so this crate does not
//! depend on the rules engine. Cases are parsed completely before anything runs and every
//! error names the file, the case and the key.

use crate::error::{CaptureError, FieldError};
use crate::jsonl::{parse_record, TextContext};
use crate::record::OwnedRecord;
use crate::tree::Tree;
use std::path::{Path, PathBuf};
use vigil_event::{FieldValue, Priority};

/// Largest cases file accepted.
pub const MAX_FILE: usize = 64 << 20;

/// A parsed cases file.
#[derive(Clone, Debug)]
pub struct CaseFile {
    pub path: PathBuf,
    /// Rules files, resolved against the directory of the cases file, in load order.
    pub rules: Vec<PathBuf>,
    /// Report every matching rule (`all`, the default) or only the first (`first`).
    pub all_matches: bool,
    pub cases: Vec<Case>,
}

/// One case.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    /// Line of the case's `name:` in the file (0 if not found).
    pub line: usize,
    /// Skip this case, with the reason shown in the report.
    pub skip: Option<String>,
    /// Records in order: the state setup first, then the case's `events` list. Records that
    /// come from `events` carry their index in it.
    pub records: Vec<(Option<usize>, OwnedRecord)>,
    pub expect: Vec<Expect>,
    /// No alert at all may fire.
    pub expect_none: bool,
    /// These rules must not fire.
    pub not: Vec<String>,
    /// Alerts not listed in `expect` do not fail the case.
    pub allow_other: bool,
}

/// One expected alert.
#[derive(Clone, Debug, PartialEq)]
pub struct Expect {
    pub rule: String,
    /// Index in the case's `events` list of the event that must trigger it.
    pub event: Option<usize>,
    pub priority: Option<Priority>,
    /// `field name` -> expected value; `None` means the field must be null (`<NA>`).
    pub output_fields: Vec<(String, Option<String>)>,
    /// Substrings the rendered output must contain.
    pub output: Vec<String>,
}

/// An alert as a test sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Actual {
    pub rule: String,
    pub event: Option<usize>,
    pub priority: Priority,
    pub output: String,
    pub output_fields: Vec<(String, FieldValue)>,
}

impl Expect {
    /// Why `a` does not satisfy this expectation, or `None` if it does.
    pub fn mismatch(&self, a: &Actual) -> Option<String> {
        if a.rule != self.rule {
            return Some(format!("rule is '{}'", a.rule));
        }
        if let Some(i) = self.event {
            if a.event != Some(i) {
                return Some(format!(
                    "fired on event {} instead of event {i}",
                    a.event.map_or("<none>".to_string(), |e| e.to_string())
                ));
            }
        }
        if let Some(p) = self.priority {
            if a.priority != p {
                return Some(format!("priority is {} instead of {p}", a.priority));
            }
        }
        for (k, want) in &self.output_fields {
            let got = a.output_fields.iter().find(|(n, _)| n == k).map(|(_, v)| v);
            match (want, got) {
                (_, None) => return Some(format!("output field '{k}' is not in the alert")),
                (None, Some(FieldValue::Null)) => {}
                (None, Some(v)) => {
                    return Some(format!("output field '{k}' is '{v}', expected null"))
                }
                (Some(w), Some(v)) => {
                    if v.to_string() != *w {
                        return Some(format!("output field '{k}' is '{v}', expected '{w}'"));
                    }
                }
            }
        }
        for s in &self.output {
            if !a.output.contains(s.as_str()) {
                return Some(format!("output does not contain '{s}'"));
            }
        }
        None
    }
}

/// The result of checking a case's alerts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Verdict {
    /// Problems; empty means the case passed.
    pub failures: Vec<String>,
}

/// Checks `actual` alerts against the case's expectations.
pub fn check(case: &Case, actual: &[Actual]) -> Verdict {
    let mut failures = Vec::new();
    let mut used = vec![false; actual.len()];
    for e in &case.expect {
        // Prefer an exact match; report the closest mismatch otherwise.
        let hit = actual
            .iter()
            .enumerate()
            .find(|(i, a)| !used[*i] && e.mismatch(a).is_none())
            .map(|(i, _)| i);
        match hit {
            Some(i) => used[i] = true,
            None => {
                // Alerts of the same rule that missed are explained by this failure; they are
                // not reported again as unexpected.
                let mut why = Vec::new();
                for (i, a) in actual.iter().enumerate() {
                    if !used[i] && a.rule == e.rule {
                        if let Some(m) = e.mismatch(a) {
                            why.push(m);
                            used[i] = true;
                        }
                    }
                }
                let at = e
                    .event
                    .map(|i| format!(" on event {i}"))
                    .unwrap_or_default();
                if why.is_empty() {
                    failures.push(format!(
                        "expected rule '{}' to fire{at}; it did not",
                        e.rule
                    ));
                } else {
                    failures.push(format!(
                        "expected rule '{}' to fire{at}; it fired but {}",
                        e.rule,
                        why.join("; ")
                    ));
                }
            }
        }
    }
    for (i, a) in actual.iter().enumerate() {
        if used[i] {
            continue;
        }
        let at = a
            .event
            .map(|i| format!(" on event {i}"))
            .unwrap_or_default();
        if case.not.contains(&a.rule) {
            failures.push(format!("rule '{}' fired{at}, listed under 'not'", a.rule));
        } else if case.expect_none {
            failures.push(format!("rule '{}' fired{at}, expected no alert", a.rule));
        } else if !case.allow_other {
            failures.push(format!("unexpected alert: rule '{}' fired{at}", a.rule));
        }
    }
    Verdict { failures }
}

type FResult<T> = Result<T, FieldError>;

fn map_of<'t>(t: &'t Tree, what: &str) -> FResult<&'t [(String, Tree)]> {
    match t {
        Tree::Map(m) => Ok(m),
        o => Err(FieldError::new(
            "",
            format!("{what} must be a mapping, found {}", o.kind()),
        )),
    }
}

fn seq_of<'t>(t: &'t Tree, what: &str) -> FResult<&'t [Tree]> {
    match t {
        Tree::Seq(s) => Ok(s),
        o => Err(FieldError::new(
            "",
            format!("{what} must be a list, found {}", o.kind()),
        )),
    }
}

fn string(t: &Tree) -> FResult<String> {
    match t {
        Tree::Str(s) => Ok(s.clone()),
        o => Err(FieldError::new(
            "",
            format!("expected a string, found {}", o.kind()),
        )),
    }
}

fn strings(t: &Tree) -> FResult<Vec<String>> {
    match t {
        Tree::Str(s) => Ok(vec![s.clone()]),
        Tree::Seq(s) => s
            .iter()
            .enumerate()
            .map(|(i, x)| string(x).map_err(|e| e.within(&format!("[{i}]"))))
            .collect(),
        o => Err(FieldError::new(
            "",
            format!("expected a string or a list of strings, found {}", o.kind()),
        )),
    }
}

fn boolean(t: &Tree) -> FResult<bool> {
    match t {
        Tree::Bool(b) => Ok(*b),
        o => Err(FieldError::new(
            "",
            format!("expected true or false, found {}", o.kind()),
        )),
    }
}

fn scalar_text(t: &Tree) -> FResult<Option<String>> {
    Ok(Some(match t {
        Tree::Null => return Ok(None),
        Tree::Str(s) => s.clone(),
        Tree::U64(v) => v.to_string(),
        Tree::I64(v) => v.to_string(),
        Tree::Bool(b) => b.to_string(),
        Tree::F64(v) => v.to_string(),
        o => {
            return Err(FieldError::new(
                "",
                format!("expected a scalar, found {}", o.kind()),
            ))
        }
    }))
}

fn parse_expect(t: &Tree, n_events: usize) -> FResult<Expect> {
    let m = match t {
        Tree::Str(s) => {
            return Ok(Expect {
                rule: s.clone(),
                event: None,
                priority: None,
                output_fields: Vec::new(),
                output: Vec::new(),
            })
        }
        other => map_of(other, "an expectation")?,
    };
    let mut e = Expect {
        rule: String::new(),
        event: None,
        priority: None,
        output_fields: Vec::new(),
        output: Vec::new(),
    };
    for (k, v) in m {
        let within = |x: FieldError| x.within(k);
        match k.as_str() {
            "rule" => e.rule = string(v).map_err(within)?,
            "event" => {
                let i = match v {
                    Tree::U64(i) => *i as usize,
                    o => {
                        return Err(FieldError::new(
                            k.clone(),
                            format!("expected an event index, found {}", o.kind()),
                        ))
                    }
                };
                if i >= n_events {
                    return Err(FieldError::new(
                        k.clone(),
                        format!("event index {i} is out of range (the case has {n_events} events)"),
                    ));
                }
                e.event = Some(i);
            }
            "priority" => {
                let s = string(v).map_err(within)?;
                e.priority = Some(s.parse().map_err(
                    |x: vigil_event::alert::UnknownPriority| {
                        FieldError::new(k.clone(), x.to_string())
                    },
                )?);
            }
            "output_fields" => {
                for (f, val) in map_of(v, "output_fields").map_err(within)? {
                    e.output_fields.push((
                        f.clone(),
                        scalar_text(val).map_err(|x| x.within(f).within(k))?,
                    ));
                }
            }
            "output" => e.output = strings(v).map_err(within)?,
            other => {
                return Err(FieldError::new(
                    other,
                    "unknown key (expected rule, event, priority, output_fields, output)",
                ))
            }
        }
    }
    if e.rule.is_empty() {
        return Err(FieldError::new("rule", "missing"));
    }
    Ok(e)
}

fn parse_case(t: &Tree, text: &str) -> FResult<Case> {
    let m = map_of(t, "a case")?;
    let name = t
        .get("name")
        .ok_or_else(|| FieldError::new("name", "missing"))
        .and_then(|n| string(n).map_err(|e| e.within("name")))?;
    let mut case = Case {
        line: find_line(text, &name),
        name,
        skip: None,
        records: Vec::new(),
        expect: Vec::new(),
        expect_none: false,
        not: Vec::new(),
        allow_other: false,
    };
    const KEYS: &[&str] = &[
        "name",
        "skip",
        "host",
        "users",
        "containers",
        "processes",
        "events",
        "expect",
        "expect_none",
        "not",
        "allow_other",
    ];
    if let Some((k, _)) = m.iter().find(|(k, _)| !KEYS.contains(&k.as_str())) {
        return Err(FieldError::new(
            k.clone(),
            "unknown key (expected name, skip, host, users, containers, processes, events, expect, expect_none, not, allow_other)",
        ));
    }
    let mut ctx = TextContext::default();
    // Setup first, whatever the key order in the file.
    for (key, kind) in [
        ("host", "host"),
        ("users", "users"),
        ("containers", "container"),
        ("processes", "process"),
    ] {
        let Some(v) = t.get(key) else { continue };
        let items: Vec<&Tree> = match (key, v) {
            ("host", Tree::Map(_)) => vec![v],
            (_, Tree::Seq(s)) => s.iter().collect(),
            _ => {
                return Err(FieldError::new(
                    key,
                    format!("expected a list, found {}", v.kind()),
                ))
            }
        };
        for (i, item) in items.into_iter().enumerate() {
            let wrapped = Tree::Map(vec![(kind.to_string(), item.clone())]);
            let rec = parse_record(&wrapped, &mut ctx).map_err(|e| {
                // parse_record reports the key under `kind`; show it under the case key.
                let inner = e
                    .key
                    .strip_prefix(kind)
                    .unwrap_or(&e.key)
                    .trim_start_matches('.')
                    .to_string();
                let e = FieldError {
                    key: inner,
                    msg: e.msg,
                };
                if key == "host" {
                    e.within(key)
                } else {
                    e.within(&format!("[{i}]")).within(key)
                }
            })?;
            case.records.push((None, rec));
        }
    }
    let events = t
        .get("events")
        .ok_or_else(|| FieldError::new("events", "missing"))?;
    let events = seq_of(events, "events").map_err(|e| e.within("events"))?;
    for (i, ev) in events.iter().enumerate() {
        let rec =
            parse_record(ev, &mut ctx).map_err(|e| e.within(&format!("[{i}]")).within("events"))?;
        case.records.push((Some(i), rec));
    }
    for (k, v) in m {
        let within = |e: FieldError| e.within(k);
        match k.as_str() {
            "name" | "host" | "users" | "containers" | "processes" | "events" => {}
            "skip" => case.skip = Some(string(v).map_err(within)?),
            "expect" => {
                let items = match v {
                    Tree::Seq(s) => s.as_slice(),
                    other => std::slice::from_ref(other),
                };
                for (i, it) in items.iter().enumerate() {
                    case.expect.push(parse_expect(it, events.len()).map_err(|e| e.within(&format!("[{i}]")).within(k))?);
                }
            }
            "expect_none" => case.expect_none = boolean(v).map_err(within)?,
            "not" => case.not = strings(v).map_err(within)?,
            "allow_other" => case.allow_other = boolean(v).map_err(within)?,
            other => {
                return Err(FieldError::new(
                    other,
                    "unknown key (expected name, skip, host, users, containers, processes, events, expect, expect_none, not, allow_other)",
                ))
            }
        }
    }
    if case.expect_none && !case.expect.is_empty() {
        return Err(FieldError::new(
            "expect_none",
            "a case cannot both expect alerts and expect none",
        ));
    }
    if !case.expect_none && case.expect.is_empty() && case.not.is_empty() {
        return Err(FieldError::new(
            "",
            "the case checks nothing: give expect, expect_none or not",
        ));
    }
    Ok(case)
}

/// The 1-based line of `name: NAME` in `text`, or 0.
fn find_line(text: &str, name: &str) -> usize {
    for (i, line) in text.lines().enumerate() {
        let l = line.trim_start().trim_start_matches("- ").trim_start();
        if let Some(rest) = l.strip_prefix("name:") {
            let v = rest.trim().trim_matches(|c| c == '"' || c == '\'');
            if v == name {
                return i + 1;
            }
        }
    }
    0
}

/// Parses a cases file from text. `path` is used for errors and to resolve rules paths.
pub fn parse(text: &str, path: &Path) -> Result<CaseFile, CaptureError> {
    let origin = path.display().to_string();
    let err = |line: usize, msg: String| CaptureError::Text {
        origin: origin.clone(),
        line,
        msg,
    };
    if text.len() > MAX_FILE {
        return Err(err(0, format!("file larger than {MAX_FILE} bytes")));
    }
    let tree: Tree = serde_yaml::from_str(text).map_err(|e| {
        let line = e.location().map_or(0, |l| l.line());
        err(line, format!("invalid YAML: {e}"))
    })?;
    let m = match &tree {
        Tree::Map(m) => m,
        other => {
            return Err(err(
                1,
                format!(
                    "a cases file is a mapping with 'rules' and 'cases', found {}",
                    other.kind()
                ),
            ))
        }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = CaseFile {
        path: path.to_path_buf(),
        rules: Vec::new(),
        all_matches: true,
        cases: Vec::new(),
    };
    let mut saw_cases = false;
    for (k, v) in m {
        match k.as_str() {
            "rules" => {
                let list = strings(v).map_err(|e| err(0, e.within("rules").to_string()))?;
                file.rules = list.iter().map(|r| dir.join(r)).collect();
            }
            "rule_matching" => {
                file.all_matches = match v {
                    Tree::Str(s) if s == "all" => true,
                    Tree::Str(s) if s == "first" => false,
                    _ => return Err(err(0, "key 'rule_matching': expected 'all' or 'first'".into())),
                }
            }
            "cases" => {
                saw_cases = true;
                let list = seq_of(v, "cases").map_err(|e| err(0, e.within("cases").to_string()))?;
                for (i, c) in list.iter().enumerate() {
                    let case = parse_case(c, text).map_err(|e| {
                        let name = c.get("name").and_then(|n| match n {
                            Tree::Str(s) => Some(s.as_str()),
                            _ => None,
                        });
                        let line = name.map_or(0, |n| find_line(text, n));
                        let label = name.map_or(format!("case #{}", i + 1), |n| format!("case '{n}'"));
                        err(line, format!("{label}: {e}"))
                    })?;
                    if let Some(prev) = file.cases.iter().find(|p| p.name == case.name) {
                        return Err(err(case.line, format!("duplicate case name '{}' (first at line {})", case.name, prev.line)));
                    }
                    file.cases.push(case);
                }
            }
            // `x-...` keys hold YAML anchors for reuse (`x-web: &web {...}`) and are ignored.
            other if other.starts_with("x-") => {}
            other => return Err(err(0, format!("unknown top-level key '{other}' (expected rules, rule_matching, cases, or x-... for anchors)"))),
        }
    }
    if file.rules.is_empty() {
        return Err(err(
            0,
            "key 'rules': missing (list the rules files to test)".into(),
        ));
    }
    if !saw_cases {
        return Err(err(0, "key 'cases': missing".into()));
    }
    Ok(file)
}

/// Reads and parses a cases file.
pub fn load(path: &Path) -> Result<CaseFile, CaptureError> {
    let text = std::fs::read_to_string(path).map_err(|source| CaptureError::Io {
        origin: path.display().to_string(),
        source,
    })?;
    parse(&text, path)
}
