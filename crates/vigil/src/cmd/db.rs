//! `vigil db`: build and inspect the offline vulnerability database (`vigil-vulndb`).
//!
//! `import` rebuilds the database from OSV sources and prints what happened to every input
//! (counts per ecosystem, skipped, errors with file names); `info` describes the database
//! and warns when it is stale. Output is plain text for people; the rejected alternative,
//! a JSON mode, is left until a consumer needs it (`vigil scan` reads the library directly).

use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;
use vigil_vulndb::{Database, DbError, FileError, ImportReport};

/// Subcommands of `vigil db`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Build the database from OSV JSON: directories (searched recursively), osv.dev
    /// `all.zip` archives or single files. Replaces the existing database atomically.
    Import(ImportArgs),
    /// Show the database's path, size, counts and age.
    Info(InfoArgs),
}

/// Arguments of `vigil db import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// Directories, .zip archives or .json files of OSV advisories.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Database directory [default: $VIGIL_DB or /var/lib/vigil/db].
    #[arg(long, value_name = "DIR")]
    db: Option<PathBuf>,
    /// Print at most this many errors and warnings each (all are counted).
    #[arg(long, default_value_t = 50, value_name = "N")]
    show: usize,
}

/// Arguments of `vigil db info`.
#[derive(clap::Args)]
pub struct InfoArgs {
    /// Database directory or file [default: $VIGIL_DB or /var/lib/vigil/db].
    #[arg(long, value_name = "DIR")]
    db: Option<PathBuf>,
    /// Warn when the newest advisory is older than this many days.
    #[arg(long, default_value_t = 7, value_name = "DAYS")]
    max_age_days: u64,
}

pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Import(a) => import(a),
        Command::Info(a) => info(a),
    }
}

fn human_size(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20))
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

fn print_list(title: &str, items: &[FileError], show: usize) {
    if items.is_empty() {
        return;
    }
    println!("{title} ({}):", items.len());
    for e in items.iter().take(show) {
        println!("  {e}");
    }
    if items.len() > show {
        println!("  ... and {} more", items.len() - show);
    }
}

fn print_report(r: &ImportReport, show: usize) {
    println!(
        "imported {} advisories ({} packages) into {} ({}) in {:.2} s",
        r.imported,
        r.packages,
        r.db_path.display(),
        human_size(r.db_size),
        r.elapsed.as_secs_f64()
    );
    print_counts(&r.per_ecosystem);
    println!(
        "read {} JSON documents; skipped {} withdrawn, {} duplicate ids (newest kept), {} non-JSON files; ignored {} GIT ranges (commits, not package versions)",
        r.files_read, r.withdrawn, r.duplicates, r.ignored_files, r.git_ranges_ignored
    );
    for (eco, n) in &r.unordered_ranges {
        println!(
            "note: {n} advisories for {eco:?}: no version ordering for this ecosystem, only explicit versions lists are matched"
        );
    }
    print_list("errors, files not imported", &r.errors, show);
    print_list(
        "warnings, files imported with a part ignored",
        &r.warnings,
        show,
    );
}

fn print_counts(per: &std::collections::BTreeMap<String, u64>) {
    let w = per.keys().map(|k| k.len()).max().unwrap_or(0);
    for (eco, n) in per {
        println!("  {eco:<w$}  {n:>7}");
    }
}

fn import(a: ImportArgs) -> anyhow::Result<ExitCode> {
    let dir = a.db.unwrap_or_else(vigil_vulndb::default_db_path);
    match Database::import(&dir, &a.paths) {
        Ok(r) => {
            print_report(&r, a.show);
            Ok(if r.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Err(DbError::NothingImported { report }) => {
            print_list("errors", &report.errors, a.show);
            anyhow::bail!(
                "no advisory imported from {} ({} documents read, {} withdrawn, {} errors); {} left unchanged",
                a.paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                report.files_read,
                report.withdrawn,
                report.errors.len(),
                dir.display()
            )
        }
        Err(e) => Err(e).with_context(|| format!("importing into {}", dir.display())),
    }
}

fn info(a: InfoArgs) -> anyhow::Result<ExitCode> {
    let dir = a.db.unwrap_or_else(vigil_vulndb::default_db_path);
    let db = Database::open(&dir).with_context(|| format!("opening {}", dir.display()))?;
    let s = db.stats();
    println!("path:        {}", s.path.display());
    println!("size:        {}", human_size(s.file_size));
    println!("format:      {}", s.format_version);
    println!("advisories:  {}", s.advisories);
    println!("packages:    {}", s.packages);
    println!("imported at: {}", vigil_vulndb::format_unix(s.imported_at));
    println!(
        "newest advisory modified: {}",
        s.newest_modified.as_deref().unwrap_or("(none recorded)")
    );
    match db.age() {
        Some(age) => println!("age:         {:.1} days", age.as_secs_f64() / 86_400.0),
        None => println!("age:         unknown (newest time is in the future)"),
    }
    println!("sources:     {}", s.sources.join(", "));
    println!("per ecosystem:");
    print_counts(&s.per_ecosystem);
    if let Some(age) = db.age() {
        let days = age.as_secs() / 86_400;
        if days > a.max_age_days {
            eprintln!(
                "vigil: warning: the vulnerability database is {days} days old (limit {} days); run 'vigil db import' with fresh OSV data",
                a.max_age_days
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
