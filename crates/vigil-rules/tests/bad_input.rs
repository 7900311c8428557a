//! Bad rules files: each produces a clear error that names the file, line and column (and the
//! rule or macro), never a panic, and never a partially loaded ruleset.

use vigil_rules::{load, Diagnostics, LoadOptions, RuleSource};

fn errors(text: &str) -> Diagnostics {
    match load(
        &[RuleSource {
            name: "bad.yaml".into(),
            text: text.into(),
        }],
        &LoadOptions::default(),
    ) {
        Ok(_) => panic!("expected a load error for:\n{text}"),
        Err(d) => d,
    }
}

/// Asserts that some error is at `line:col` and mentions `needle`.
fn assert_error(d: &Diagnostics, line: u32, col: u32, needle: &str) {
    let found = d
        .0
        .iter()
        .any(|e| e.is_error() && e.line == line && e.column == col && e.message.contains(needle));
    assert!(
        found,
        "no error at {line}:{col} containing {needle:?}; got:\n{d}"
    );
    assert!(d
        .to_string()
        .contains(&format!("bad.yaml:{line}:{col}: error:")));
}

fn rule(cond: &str) -> String {
    format!("- rule: r\n  desc: d\n  condition: {cond}\n  output: o\n  priority: info\n")
}

#[test]
fn malformed_yaml() {
    let d = errors("- rule: r\n  desc: [unclosed\n");
    assert!(d.0[0].message.starts_with("invalid YAML"), "{d}");
    assert_eq!(d.0[0].file, "bad.yaml");
    assert!(d.0[0].line >= 2);
    let d = errors("rule: not a list\n");
    assert_error(&d, 1, 1, "must be a list");
    let d = errors("- 42\n");
    assert_error(&d, 1, 3, "must be a mapping");
}

#[test]
fn unknown_field_points_at_the_field() {
    let d = errors(&rule("evt.type = open and proc.nmae = bash"));
    assert_error(&d, 3, 34, "unknown field 'proc.nmae'");
    assert!(d.0[0].item.as_deref() == Some("rule 'r'"));
    assert!(d.to_string().contains("(in rule 'r')"));
    // The caret line shows the source.
    assert!(d.to_string().contains("  |   condition: evt.type = open and proc.nmae = bash\n  |                                  ^"), "{d}");
}

#[test]
fn unknown_field_inside_a_macro_points_into_the_macro() {
    let d = errors("- macro: m\n  condition: >\n    evt.type = open and\n    fd.nme = x\n- rule: r\n  desc: d\n  condition: m\n  output: o\n  priority: info\n");
    assert_error(&d, 4, 5, "unknown field 'fd.nme'");
    assert!(d.0.iter().any(|e| e.item.as_deref() == Some("macro 'm'")));
}

#[test]
fn unbalanced_parentheses() {
    let d = errors(&rule("(evt.type = open and (proc.name = a)"));
    assert_error(&d, 3, 14, "unbalanced '('");
    let d = errors(&rule("evt.type = open)"));
    assert_error(&d, 3, 29, "unbalanced ')'");
    let d = errors(&rule("proc.name in (a, b"));
    assert_error(&d, 3, 27, "missing ')'");
}

#[test]
fn recursive_macros() {
    let d = errors(
        &"- macro: a\n  condition: b\n- macro: b\n  condition: evt.type = open and a\n"
            .to_owned()
            .add_rule("a"),
    );
    assert!(
        d.0.iter()
            .any(|e| e.message.contains("recursive macro: a -> b -> a")),
        "{d}"
    );
    let d = errors(&"- macro: s\n  condition: s\n".to_owned().add_rule("s"));
    assert!(
        d.0.iter()
            .any(|e| e.message.contains("recursive macro: s -> s")),
        "{d}"
    );
}

trait AddRule {
    fn add_rule(self, cond: &str) -> String;
}

impl AddRule for String {
    fn add_rule(self, cond: &str) -> String {
        self + &rule(cond)
    }
}

#[test]
fn ten_megabyte_condition() {
    let cond = "proc.name = a or ".repeat(10 * 1024 * 1024 / 17) + "proc.name = b";
    let d = errors(&rule(&cond));
    assert_error(&d, 3, 14, "the limit is");
}

#[test]
fn deep_nesting() {
    let cond = "(".repeat(5000) + "proc.name = a" + &")".repeat(5000);
    let d = errors(&rule(&cond));
    assert!(d.0[0].message.contains("nested deeper"), "{d}");
    // Deep macro chains hit the expansion limit instead of the stack.
    let mut text = String::from("- macro: m0\n  condition: evt.type = open\n");
    for i in 1..1200 {
        text.push_str(&format!("- macro: m{i}\n  condition: not m{}\n", i - 1));
    }
    text.push_str(&rule("m1199"));
    let d = errors(&text);
    assert!(
        d.0.iter().any(|e| e.message.contains("deeper than 1000")),
        "{d}"
    );
}

#[test]
fn invalid_regex_and_wrong_types() {
    let d = errors(&rule("proc.name regex '(unclosed'"));
    assert_error(&d, 3, 30, "invalid regular expression");
    let d = errors(&rule("proc.pid = abc"));
    assert_error(&d, 3, 25, "is not a number");
    let d = errors(&rule("proc.pid contains 1"));
    assert_error(
        &d,
        3,
        23,
        "operator 'contains' cannot be used with number field 'proc.pid'",
    );
    let d = errors(&rule("proc.name > 3"));
    assert_error(&d, 3, 24, "operator '>' cannot be used with string field");
    let d = errors(&rule("fd.sip = not-an-ip"));
    assert_error(&d, 3, 23, "not an IP address");
    let d = errors(&rule("evt.failed = maybe"));
    assert_error(&d, 3, 27, "not a boolean");
    let d = errors(&rule("evt.buffer bcontains xyz"));
    assert_error(&d, 3, 35, "hex");
    let d = errors(&rule("proc.name = val(proc.pid)"));
    assert!(
        d.0[0].message.contains("cannot compare string field"),
        "{d}"
    );
    let d = errors(&rule("proc.name startswith (a, b)"));
    assert!(d.0[0].message.contains("single value"), "{d}");
    let d = errors(&rule("tolower(proc.pid) = 1"));
    assert!(d.0[0].message.contains("does not accept a number"), "{d}");
    let d = errors(&rule("proc.aname[x] = a"));
    assert!(d.0[0].message.contains("invalid argument 'x'"), "{d}");
    let d = errors(&rule("undefined_macro_name"));
    assert_error(&d, 3, 14, "undefined macro 'undefined_macro_name'");
}

#[test]
fn all_errors_reported_at_once() {
    let text = format!(
        "{}{}- rule: c\n  desc: d\n  priority: nope\n  condition: x\n  output: o\n",
        rule("proc.nam = a"),
        rule("fd.nam = b").replace("rule: r", "rule: r2")
    );
    let d = errors(&text);
    assert!(d.error_count() >= 3, "{d}");
    assert_error(&d, 3, 14, "unknown field 'proc.nam'");
    assert_error(&d, 8, 14, "unknown field 'fd.nam'");
    assert_error(&d, 13, 13, "unknown priority");
}

#[test]
fn bad_outputs_and_items() {
    let d = errors("- rule: r\n  desc: d\n  condition: evt.type = open\n  output: \"%proc.nope\"\n  priority: info\n");
    assert!(
        d.0[0].message.contains("invalid output") && d.0[0].message.contains("proc.nope"),
        "{d}"
    );
    let d = errors("- rule: r\n  condition: evt.type = open\n");
    assert!(
        d.0[0]
            .message
            .contains("missing required key(s): output, desc, priority"),
        "{d}"
    );
    let d = errors("- list: l\n  items: a\n");
    assert_error(&d, 2, 10, "must be a list");
    let d = errors("- rule: r\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: info\n  exceptions:\n    - name: e\n      fields: [proc.name, fd.name]\n      values:\n        - [a]\n");
    assert!(
        d.0[0]
            .message
            .contains("value has 1 items but there are 2 fields"),
        "{d}"
    );
    let d = errors("- rule: r\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: info\n- rule: r\n  output: x\n  override:\n    output: merge\n");
    assert!(
        d.0[0].message.contains("unknown override mode 'merge'"),
        "{d}"
    );
}

#[test]
fn skip_if_unknown_filter_skips_with_warning() {
    let text = "- rule: r\n  desc: d\n  condition: evt.type = open and ka.verb = get\n  output: o\n  priority: info\n  skip-if-unknown-filter: true\n";
    let l = load(
        &[RuleSource {
            name: "ok.yaml".into(),
            text: text.into(),
        }],
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(l.ruleset.counts().skipped_rules, 1);
    assert!(l
        .warnings
        .iter()
        .any(|w| w.message.contains("unknown field 'ka.verb'")));
    assert!(l.ruleset.event_types().is_empty());
}

#[test]
fn non_syscall_sources_are_skipped_not_errors() {
    let text = "- rule: k\n  desc: d\n  condition: ka.verb = get\n  output: o\n  priority: info\n  source: k8s_audit\n";
    let l = load(
        &[RuleSource {
            name: "ok.yaml".into(),
            text: text.into(),
        }],
        &LoadOptions::default(),
    )
    .unwrap();
    let r = &l.ruleset.rules()[0];
    assert!(r.skipped.as_deref().unwrap_or("").contains("k8s_audit"));
    assert!(!r.enabled);
}

#[test]
fn unreadable_file() {
    let err = vigil_rules::load_files(&["/nonexistent/rules.yaml".into()], &LoadOptions::default())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("/nonexistent/rules.yaml:0:0: error: cannot read rules file"),
        "{err}"
    );
}
