//! `vigil scan`: inventory an image, match it against the offline vulnerability database, look
//! for secrets and risky image settings, and print a table, JSON or SARIF.
//!
//! A missing or stale database is a loud note, not an error: inventory, secrets and config
//! checks are still useful offline. CI gates use `--exit-code N --severity LIST`.

use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use vigil_scan::report::{Report, SEVERITIES};
use vigil_scan::vigil_vulndb::{default_db_path, Database};
use vigil_scan::vuln::{self, MatchOptions};
use vigil_scan::ScanOptions;

/// Arguments of `vigil scan`.
#[derive(clap::Args)]
pub struct Args {
    /// What to scan: OCI layout DIR[:TAG|@DIGEST], docker-archive or OCI tar, rootfs DIR,
    /// or a local podman image (podman:NAME, or a NAME that is not a path).
    pub target: String,
    /// Output format.
    #[arg(long, short = 'f', default_value = "table", value_parser = ["table", "json", "sarif"])]
    pub format: String,
    /// Write the report here instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Vulnerability database (default: $VIGIL_DB or /var/lib/vigil/db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// What to look for (comma-separated): vuln, secret, config.
    #[arg(long, default_value = "vuln,secret,config", value_delimiter = ',')]
    pub scanners: Vec<String>,
    /// Hide vulnerabilities that have no fixed version.
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// Ignore file (default: ./.vigilignore.yaml when it exists).
    #[arg(long)]
    pub ignorefile: Option<PathBuf>,
    /// Exit with this code when findings of the selected severities exist.
    #[arg(long, default_value_t = 0)]
    pub exit_code: u8,
    /// Severities that count for --exit-code and are shown (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL"
    )]
    pub severity: Vec<String>,
    /// Warn when the database is older than this many days.
    #[arg(long, default_value_t = 7)]
    pub max_db_age_days: u64,
}

fn write_out(path: Option<&PathBuf>, text: &str) -> anyhow::Result<()> {
    match path {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display())),
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.context("writing to stdout"),
            }
        }
    }
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let severities: Vec<String> = a
        .severity
        .iter()
        .map(|s| s.trim().to_ascii_uppercase())
        .collect();
    for s in &severities {
        if !SEVERITIES.contains(&s.as_str()) {
            anyhow::bail!(
                "--severity: unknown severity '{s}' (use {})",
                SEVERITIES.join(",")
            );
        }
    }
    for s in &a.scanners {
        if !["vuln", "secret", "config"].contains(&s.as_str()) {
            anyhow::bail!("--scanners: unknown scanner '{s}' (use vuln,secret,config)");
        }
    }
    let want = |s: &str| a.scanners.iter().any(|x| x == s);
    let ignores = {
        let default = PathBuf::from(".vigilignore.yaml");
        let path = a
            .ignorefile
            .clone()
            .or_else(|| default.is_file().then_some(default));
        match path {
            Some(p) => {
                let text = std::fs::read_to_string(&p)
                    .with_context(|| format!("reading ignore file {}", p.display()))?;
                vuln::parse_ignore_file(&p.display().to_string(), &text)?
            }
            None => Vec::new(),
        }
    };
    let opts = ScanOptions {
        packages: true,
        secrets: want("secret"),
        ..ScanOptions::default()
    };
    let mut inv = vigil_scan::scan_target(&a.target, &opts)?;
    if !want("config") {
        inv.config_findings.clear();
    }
    let mut notes = Vec::new();
    let mut matched = None;
    if want("vuln") {
        let db_path = a.db.clone().unwrap_or_else(default_db_path);
        match Database::open(&db_path) {
            Ok(db) => {
                match db.age() {
                    Some(age) if age.as_secs() > a.max_db_age_days * 86_400 => notes.push(format!(
                        "vulnerability database {} is {} days old; run 'vigil db import' with fresh data",
                        db_path.display(),
                        age.as_secs() / 86_400
                    )),
                    _ => {}
                }
                let mo = MatchOptions {
                    ignore_unfixed: a.ignore_unfixed,
                    ignores,
                    today: vuln::today(),
                };
                matched = Some(vuln::match_inventory(&db, &inv, &mo));
            }
            Err(e) => notes.push(format!("vulnerabilities NOT scanned: {e}")),
        }
    }
    // Severity filter applies to what is shown as well as to the gate.
    let keep = |s: &str| severities.iter().any(|x| x == s);
    if let Some(m) = matched.as_mut() {
        m.findings
            .retain(|f| keep(vigil_scan::report::severity_name(f.advisory.severity)));
    }
    inv.secrets.retain(|s| keep(s.severity));
    inv.config_findings.retain(|c| keep(c.severity));
    for n in &notes {
        eprintln!("vigil: warning: {n}");
    }
    let report = Report {
        inventory: &inv,
        vulns: matched.as_ref(),
        notes,
    };
    let text = match a.format.as_str() {
        "json" => vigil_scan::to_json_text(&report.json()) + "\n",
        "sarif" => vigil_scan::to_json_text(&report.sarif()) + "\n",
        _ => report.table(),
    };
    write_out(a.output.as_ref(), &text)?;
    if a.exit_code != 0 && report.gate(&severities) {
        return Ok(ExitCode::from(a.exit_code));
    }
    Ok(ExitCode::SUCCESS)
}
