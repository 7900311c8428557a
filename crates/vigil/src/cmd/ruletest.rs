//! `vigil rules test`: run YAML rule test cases (events in, expected alerts out).
//!
//! Each cases file names its rules files and lists cases; every case starts from an empty
//! replay state, applies its setup records and events through the same evaluator as
//! `vigil replay`, and compares the alerts with its expectations. The output reads like a test
//! runner's: one line per case, then the failures with expected and actual alerts side by side,
//! then `N passed, M failed`. The format is in `docs/rule-tests.md`.

use super::replay::{load_rules, Evaluator};
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
}

/// Totals over all files.
#[derive(Default)]
struct Totals {
    passed: usize,
    failed: usize,
    skipped: usize,
    /// Failure reports, printed after the per-case lines.
    reports: Vec<String>,
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

fn run_file(path: &std::path::Path, args: &Args, t: &mut Totals) {
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
    for path in &args.files {
        run_file(path, &args, &mut t);
    }
    if !t.reports.is_empty() {
        println!("\nfailures:\n");
        for r in &t.reports {
            println!("{r}");
        }
    }
    if t.skipped > 0 {
        println!("{} skipped", t.skipped);
    }
    println!("{} passed, {} failed", t.passed, t.failed);
    Ok(if t.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
