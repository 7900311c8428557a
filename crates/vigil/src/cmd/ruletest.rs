//! `vigil rules test`: run YAML rule test cases (events in, expected alerts out).
//!
//! Each cases file names its rules files and lists cases; every case starts from an empty
//! replay state, applies its setup records and events through the same evaluator as
//! `vigil replay`, and compares the alerts with its expectations. The output reads like a test
//! runner's: one line per case, then the failures with expected and actual alerts side by side,
//! then `N passed, M failed`. The format is in `docs/rule-tests.md`.
//!
//! `--coverage RULES` turns the run around: it asks whether another ruleset detects what the
//! cases' own rules detect. Every positive case (one that expects alerts) is replayed against
//! both; each expected alert must still fire under the case's own rules (so coverage is never
//! claimed on a case that no longer holds), and its event must raise at least one alert of the
//! coverage rules. The report is a table of expected rule -> covering rules. This is how vigil
//! shows that its default ruleset covers the upstream Falco stable ruleset
//! (`crates/vigil/tests/coverage.rs`). Comparing rule names or conditions was rejected: two
//! rulesets cover each other when they alert on the same actions, whatever the rules are called.

use super::replay::{load_rules, Evaluator};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use vigil_capture::cases::{self, Actual, Case, CaseFile};
use vigil_capture::ParamBuf;
use vigil_rules::{LoadOptions, RuleMatching, Ruleset};

/// Arguments of `vigil rules test`.
#[derive(clap::Args)]
pub struct Args {
    /// Test case files (YAML).
    #[arg(required = true, value_name = "CASES.yaml")]
    pub files: Vec<PathBuf>,
    /// Run only the cases whose name contains this text.
    #[arg(short = 'k', long = "filter", value_name = "TEXT")]
    pub filter: Option<String>,
    /// Also list the alerts of passing cases.
    #[arg(short, long)]
    pub verbose: bool,
    /// Coverage mode: replay every positive case against these rules files too (all matches)
    /// and require an alert of theirs on each event where the case expects one; prints which
    /// of these rules cover each expected rule. Repeat to load several files, in order.
    #[arg(long = "coverage", value_name = "RULES.yaml")]
    pub coverage: Vec<PathBuf>,
    /// In coverage mode, a miss that is accepted (repeat): a case name (that case's expected
    /// alerts may go uncovered) or an expected rule name (all of its cases may). An allowance
    /// that excuses nothing is an error, so the list cannot go stale.
    #[arg(long = "allow-miss", value_name = "CASE|RULE", requires = "coverage")]
    pub allow_miss: Vec<String>,
}

/// Coverage of one expected rule, over the positive cases that expect it.
#[derive(Default)]
struct RuleCoverage {
    rule: String,
    /// Expected alerts of this rule in running cases; how many of them were covered, and how
    /// many were not but are allowed to miss.
    expected: usize,
    covered: usize,
    allowed: usize,
    /// Positive cases of this rule that were skipped.
    skipped: usize,
    /// Coverage rules that fired on the expected events.
    by: BTreeSet<String>,
}

/// Totals over all files.
#[derive(Default)]
struct Totals {
    passed: usize,
    failed: usize,
    skipped: usize,
    /// Failure reports, printed after the per-case lines.
    reports: Vec<String>,
    /// Coverage mode: per expected rule, in order of first appearance.
    coverage: Vec<RuleCoverage>,
    /// Coverage mode: the allowances that excused a miss.
    allowances_used: BTreeSet<String>,
}

impl Totals {
    fn rule(&mut self, name: &str) -> &mut RuleCoverage {
        let i = match self.coverage.iter().position(|r| r.rule == name) {
            Some(i) => i,
            None => {
                self.coverage.push(RuleCoverage {
                    rule: name.to_string(),
                    ..RuleCoverage::default()
                });
                self.coverage.len() - 1
            }
        };
        &mut self.coverage[i]
    }
}

/// Runs one case; returns the alerts it raised.
fn run_case(ruleset: &Ruleset, case: &Case) -> Vec<Actual> {
    let mut ev = Evaluator::new(ruleset);
    let mut buf = ParamBuf::new();
    let mut out = Vec::new();
    for (idx, rec) in &case.records {
        rec.with_record(&mut buf, |r| {
            ev.record(&r, |a| {
                out.push(Actual {
                    rule: a.rule,
                    event: *idx,
                    priority: a.priority,
                    output: a.output,
                    output_fields: a.output_fields.into_iter().collect(),
                })
            })
        });
    }
    out
}

/// Coverage mode for one positive case: every expected alert must hold under the case's own
/// rules, and its event must raise an alert of the coverage rules. Returns the problems, and
/// the expected rules whose miss an allowance excused.
fn cover_case(
    own: &Ruleset,
    cover: &Ruleset,
    case: &Case,
    allow_miss: &[String],
    t: &mut Totals,
) -> (Vec<String>, Vec<String>) {
    let actual = run_case(own, case);
    let covering = run_case(cover, case);
    let mut problems = Vec::new();
    let mut excused = Vec::new();
    for e in &case.expect {
        let at = e
            .event
            .map(|i| format!(" on event {i}"))
            .unwrap_or_default();
        if !actual.iter().any(|a| e.mismatch(a).is_none()) {
            problems.push(format!(
                "expected rule '{}' does not fire{at} under the case's own rules",
                e.rule
            ));
            continue;
        }
        let by: BTreeSet<String> = covering
            .iter()
            .filter(|a| e.event.is_none() || a.event == e.event)
            .map(|a| a.rule.clone())
            .collect();
        let allowance = [&case.name, &e.rule]
            .into_iter()
            .find(|n| allow_miss.contains(n))
            .cloned();
        let r = t.rule(&e.rule);
        r.expected += 1;
        if !by.is_empty() {
            r.covered += 1;
            r.by.extend(by);
        } else if let Some(a) = allowance {
            r.allowed += 1;
            t.allowances_used.insert(a);
            excused.push(e.rule.clone());
        } else {
            problems.push(format!("'{}'{at}: no alert of the coverage rules", e.rule));
        }
    }
    (problems, excused)
}

/// The coverage table (Markdown, so it can be pasted into a note) and the number of problems
/// it adds to the failed cases: allowances that excused no miss.
fn coverage_table(t: &Totals, allow_miss: &[String]) -> (String, usize) {
    let mut s = String::from("| expected rule | covered | covered by |\n|---|---|---|\n");
    let (mut covered, mut allowed, mut missed, mut skipped) = (0, 0, 0, 0);
    for r in &t.coverage {
        let note = if r.expected == 0 {
            skipped += 1;
            Some(format!("(all {} positive case(s) skipped)", r.skipped))
        } else if r.covered == r.expected {
            covered += 1;
            None
        } else if r.covered + r.allowed == r.expected {
            allowed += 1;
            Some(format!("({} allowed miss(es))", r.allowed))
        } else {
            missed += 1;
            Some("(MISSED)".to_string())
        };
        let names: Vec<&str> = r.by.iter().map(String::as_str).collect();
        let by = match (note, names.is_empty()) {
            (Some(n), true) => n,
            (Some(n), false) => format!("{} {n}", names.join(", ")),
            (None, _) => names.join(", "),
        };
        let _ = writeln!(s, "| {} | {}/{} | {by} |", r.rule, r.covered, r.expected);
    }
    let stale: Vec<&String> = allow_miss
        .iter()
        .filter(|a| !t.allowances_used.contains(*a))
        .collect();
    let _ = writeln!(
        s,
        "\n{} expected rules: {covered} fully covered, {allowed} covered but for allowed misses, \
         {missed} missed, {skipped} with every positive case skipped",
        t.coverage.len()
    );
    for a in &stale {
        let _ = writeln!(
            s,
            "stale allowance: '{a}' excuses no miss (covered, or no such case or rule)"
        );
    }
    (s, stale.len())
}

fn describe_expect(e: &cases::Expect) -> String {
    let mut s = e.rule.clone();
    if let Some(i) = e.event {
        let _ = write!(s, " (event {i})");
    }
    if let Some(p) = e.priority {
        let _ = write!(s, " priority={p}");
    }
    for (k, v) in &e.output_fields {
        let _ = write!(s, " {k}={}", v.as_deref().unwrap_or("<NA>"));
    }
    for o in &e.output {
        let _ = write!(s, " output~{o:?}");
    }
    s
}

fn describe_actual(a: &Actual) -> String {
    let at = a.event.map(|i| format!(" (event {i})")).unwrap_or_default();
    format!("{}{at} [{}]: {}", a.rule, a.priority, a.output)
}

fn report(file: &CaseFile, case: &Case, failures: &[String], actual: &[Actual]) -> String {
    let mut s = format!(
        "---- {}:{}: case '{}' ----\n",
        file.path.display(),
        case.line,
        case.name
    );
    for f in failures {
        let _ = writeln!(s, "  {f}");
    }
    s.push_str("  expected:\n");
    if case.expect.is_empty() {
        s.push_str(if case.expect_none {
            "    (no alert)\n"
        } else {
            "    (no particular alert)\n"
        });
    }
    for e in &case.expect {
        let _ = writeln!(s, "    + {}", describe_expect(e));
    }
    for n in &case.not {
        let _ = writeln!(s, "    ! not {n}");
    }
    s.push_str("  actual:\n");
    if actual.is_empty() {
        s.push_str("    (no alert)\n");
    }
    for a in actual {
        let _ = writeln!(s, "    - {}", describe_actual(a));
    }
    s
}

fn run_file(path: &std::path::Path, args: &Args, cover: Option<&Ruleset>, t: &mut Totals) {
    let file = match cases::load(path) {
        Ok(f) => f,
        Err(e) => {
            println!("error: {e}");
            t.failed += 1;
            t.reports
                .push(format!("---- {} ----\n  {e}\n", path.display()));
            return;
        }
    };
    let selected: Vec<&Case> = file
        .cases
        .iter()
        .filter(|c| {
            args.filter
                .as_ref()
                .is_none_or(|f| c.name.contains(f.as_str()))
        })
        .collect();
    let opts = LoadOptions {
        min_priority: None,
        rule_matching: if file.all_matches {
            RuleMatching::All
        } else {
            RuleMatching::First
        },
        ..LoadOptions::default()
    };
    let loaded = match load_rules(&file.rules, &opts) {
        Ok(l) => l,
        Err(e) => {
            println!("error: {}: {e:#}", path.display());
            let n = selected.iter().filter(|c| c.skip.is_none()).count().max(1);
            t.failed += n;
            t.reports.push(format!(
                "---- {} ----\n  the rules failed to load ({e:#}); {n} case(s) counted as failed\n",
                path.display()
            ));
            return;
        }
    };
    if let Some(cover) = cover {
        let positive: Vec<&Case> = selected
            .into_iter()
            .filter(|c| !c.expect.is_empty())
            .collect();
        println!(
            "checking coverage of {} positive cases from {}",
            positive.len(),
            path.display()
        );
        for case in positive {
            if let Some(why) = &case.skip {
                println!("case '{}' ... skipped ({why})", case.name);
                t.skipped += 1;
                for e in &case.expect {
                    t.rule(&e.rule).skipped += 1;
                }
                continue;
            }
            let (problems, excused) = cover_case(&loaded.ruleset, cover, case, &args.allow_miss, t);
            if problems.is_empty() && excused.is_empty() {
                println!("case '{}' ... covered", case.name);
                t.passed += 1;
            } else if problems.is_empty() {
                println!(
                    "case '{}' ... allowed miss ({})",
                    case.name,
                    excused.join(", ")
                );
                t.passed += 1;
            } else {
                println!("case '{}' ... NOT COVERED", case.name);
                t.failed += 1;
                let mut r = format!(
                    "---- {}:{}: case '{}' ----\n",
                    file.path.display(),
                    case.line,
                    case.name
                );
                for p in problems {
                    let _ = writeln!(r, "  {p}");
                }
                t.reports.push(r);
            }
        }
        return;
    }
    println!("running {} cases from {}", selected.len(), path.display());
    for case in selected {
        if let Some(why) = &case.skip {
            println!("case '{}' ... skipped ({why})", case.name);
            t.skipped += 1;
            continue;
        }
        let actual = run_case(&loaded.ruleset, case);
        let verdict = cases::check(case, &actual);
        if verdict.failures.is_empty() {
            println!("case '{}' ... ok", case.name);
            if args.verbose {
                for a in &actual {
                    println!("    - {}", describe_actual(a));
                }
            }
            t.passed += 1;
        } else {
            println!("case '{}' ... FAILED", case.name);
            t.failed += 1;
            t.reports
                .push(report(&file, case, &verdict.failures, &actual));
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut t = Totals::default();
    let cover = if args.coverage.is_empty() {
        None
    } else {
        let opts = LoadOptions {
            min_priority: None,
            rule_matching: RuleMatching::All,
            ..LoadOptions::default()
        };
        match load_rules(&args.coverage, &opts) {
            Ok(l) => Some(l),
            Err(e) => {
                println!("error: coverage rules: {e:#}");
                return Ok(ExitCode::from(1));
            }
        }
    };
    for path in &args.files {
        run_file(path, &args, cover.as_ref().map(|l| &l.ruleset), &mut t);
    }
    if !t.reports.is_empty() {
        println!("\nfailures:\n");
        for r in &t.reports {
            println!("{r}");
        }
    }
    let mut table_problems = 0;
    if cover.is_some() {
        let (table, problems) = coverage_table(&t, &args.allow_miss);
        println!("\ncoverage by {}:\n", {
            let names: Vec<String> = args
                .coverage
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            names.join(", ")
        });
        println!("{table}");
        table_problems = problems;
    }
    if t.skipped > 0 {
        println!("{} skipped", t.skipped);
    }
    t.failed += table_problems;
    println!("{} passed, {} failed", t.passed, t.failed);
    Ok(if t.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
