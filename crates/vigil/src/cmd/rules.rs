//! `vigil rules`: validate and list rules files (and `test`, which lives in `ruletest.rs`).
//!
//! `validate` loads the given files together, in order, exactly as `vigil monitor` would,
//! prints every error and warning with its location, then the counts; the exit code is 0 on
//! success and 1 on load errors. `list` prints the merged rules as a table or JSON.
//! Without files both use the embedded default ruleset.

use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use vigil_event::Priority;
use vigil_rules::{LoadOptions, Loaded, RuleSource};

/// Subcommands of `vigil rules`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Load rules files and report errors and warnings (exit 1 on errors).
    Validate(ValidateArgs),
    /// List the rules of the given files (merged in order).
    List(ListArgs),
    /// Run YAML rule test cases (events in, expected alerts out).
    Test(crate::cmd::ruletest::Args),
}

#[derive(clap::Args)]
pub struct ValidateArgs {
    /// Rules files, loaded together in order; the embedded default rules if none.
    #[arg(value_name = "RULES.yaml")]
    pub files: Vec<PathBuf>,
    /// Do not print warnings, only errors and the summary.
    #[arg(short, long)]
    pub quiet: bool,
    /// Treat rules less severe than this as disabled.
    #[arg(long, value_name = "PRIORITY")]
    pub min_priority: Option<Priority>,
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// Rules files, loaded together in order; the embedded default rules if none.
    #[arg(value_name = "RULES.yaml")]
    pub files: Vec<PathBuf>,
    /// Print JSON (one array of rule objects) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Treat rules less severe than this as disabled.
    #[arg(long, value_name = "PRIORITY")]
    pub min_priority: Option<Priority>,
}

fn load(files: &[PathBuf], opts: &LoadOptions) -> Result<Loaded, vigil_rules::Diagnostics> {
    if files.is_empty() {
        vigil_rules::load(
            &[RuleSource {
                name: crate::default_rules::DEFAULT_RULES_NAME.to_string(),
                text: crate::default_rules::DEFAULT_RULES.to_string(),
            }],
            opts,
        )
    } else {
        vigil_rules::load_files(files, opts)
    }
}

pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Validate(a) => validate(a),
        Command::List(a) => list(a),
        Command::Test(a) => crate::cmd::ruletest::run(a),
    }
}

/// Writes to stdout, treating a closed pipe as success (`vigil rules list | head`).
fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("writing to stdout"),
    }
}

fn validate(a: ValidateArgs) -> anyhow::Result<ExitCode> {
    let opts = LoadOptions {
        min_priority: a.min_priority,
        ..LoadOptions::default()
    };
    match load(&a.files, &opts) {
        Err(d) => {
            let errors = d.error_count();
            let warnings = d.0.len() - errors;
            for diag in &d.0 {
                if diag.is_error() || !a.quiet {
                    eprintln!("{diag}");
                }
            }
            eprintln!("validation failed: {errors} error(s), {warnings} warning(s)");
            Ok(ExitCode::from(1))
        }
        Ok(loaded) => {
            if !a.quiet {
                for w in &loaded.warnings {
                    eprintln!("{w}");
                }
            }
            let rs = &loaded.ruleset;
            let c = rs.counts();
            let mut s = String::new();
            s.push_str(&format!(
                "ok: {} rules ({} enabled, {} skipped), {} macros, {} lists, {} warnings\n",
                c.rules,
                c.enabled_rules,
                c.skipped_rules,
                c.macros,
                c.lists,
                loaded.warnings.len()
            ));
            s.push_str(&format!("event types: {}\n", rs.event_types().len()));
            if let Some(v) = rs.required_engine_version() {
                s.push_str(&format!("required_engine_version: {v}\n"));
            }
            for p in rs.required_plugin_versions() {
                s.push_str(&format!(
                    "required plugin: {} {} (accepted; vigil has no plugins)\n",
                    p.name, p.version
                ));
            }
            for r in rs.rules().iter().filter(|r| r.skipped.is_some()) {
                s.push_str(&format!(
                    "skipped rule '{}': {}\n",
                    r.name,
                    r.skipped.as_deref().unwrap_or("")
                ));
            }
            emit(&s)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn list(a: ListArgs) -> anyhow::Result<ExitCode> {
    let opts = LoadOptions {
        min_priority: a.min_priority,
        ..LoadOptions::default()
    };
    let loaded = match load(&a.files, &opts) {
        Ok(l) => l,
        Err(d) => {
            eprintln!("{d}");
            eprintln!("rules failed to load: {} error(s)", d.error_count());
            return Ok(ExitCode::from(1));
        }
    };
    let rules = loaded.ruleset.rules();
    if a.json {
        let mut s = serde_json::to_string_pretty(rules).context("serializing rules")?;
        s.push('\n');
        emit(&s)?;
        return Ok(ExitCode::SUCCESS);
    }
    let width = rules
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(4)
        .clamp(4, 70);
    let mut s = format!(
        "{:<width$}  {:<13}  {:<7}  {:<8}  TAGS\n",
        "NAME", "PRIORITY", "ENABLED", "SOURCE"
    );
    for r in rules {
        let enabled = match (&r.skipped, r.enabled) {
            (Some(_), _) => "skipped",
            (None, true) => "yes",
            (None, false) => "no",
        };
        s.push_str(&format!(
            "{:<width$}  {:<13}  {:<7}  {:<8}  {}\n",
            r.name,
            r.priority.as_str(),
            enabled,
            r.source,
            r.tags.join(",")
        ));
    }
    emit(&s)?;
    Ok(ExitCode::SUCCESS)
}
