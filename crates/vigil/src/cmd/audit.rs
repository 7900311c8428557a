//! `vigil audit`: least-privilege audit of Kubernetes manifests, compose files, Dockerfiles,
//! OCI/inspect JSON and running containers. All logic is in `vigil-audit`; this file parses
//! flags, reads stdin, picks the output format and maps the result to an exit code:
//! 0 clean, 1 a finding at or above `--fail-on`, 2 some input could not be audited (the rest
//! was) or a usage error.

use anyhow::{bail, Context};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vigil_audit::report::{self, Report, Severity};
use vigil_audit::{live, Hint, Options};

/// Output format.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Sarif,
}

/// When to colour the table.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

/// Arguments of `vigil audit`.
#[derive(clap::Args)]
pub struct Args {
    /// Files or directories to audit (walked recursively); `-` reads stdin
    /// (e.g. `helm template chart | vigil audit -`).
    pub paths: Vec<String>,
    /// Audit every running container of the local podman/docker engine.
    #[arg(long)]
    pub running: bool,
    /// Engine API socket to ask (repeatable; default: /run/podman/podman.sock and
    /// /var/run/docker.sock, then the podman CLI).
    #[arg(long, value_name = "PATH")]
    pub socket: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: Format,
    /// Exit with status 1 when a finding has this severity or higher
    /// (info, low, medium, high, critical).
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
    /// Only report findings of this severity or higher.
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub min_severity: Option<Severity>,
    /// Do not print fix suggestions in the table.
    #[arg(long)]
    pub no_fix: bool,
    /// Colour the table.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: Color,
    /// Refuse files larger than this many bytes.
    #[arg(long, default_value_t = 16 * 1024 * 1024, value_name = "BYTES")]
    pub max_file_size: u64,
    /// Print the check catalogue (Markdown; JSON with `--format json`) and exit.
    #[arg(long)]
    pub list_checks: bool,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s)
        .ok_or_else(|| format!("unknown severity '{s}' (info, low, medium, high, critical)"))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.list_checks {
        write_out(&match args.format {
            Format::Json => report::render_catalogue_json(),
            _ => report::render_catalogue_markdown(),
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.paths.is_empty() && !args.running {
        bail!("nothing to audit: give files, directories, `-` for stdin, or --running");
    }
    let opts = Options {
        max_file_size: args.max_file_size,
        fixes: true,
        ..Options::default()
    };
    let mut rep = Report::default();
    for p in &args.paths {
        if p == "-" {
            let mut buf = Vec::new();
            std::io::stdin()
                .take(opts.max_file_size + 1)
                .read_to_end(&mut buf)
                .context("reading stdin")?;
            rep.merge(vigil_audit::audit_bytes(
                "<stdin>",
                &buf,
                Hint::Sniff,
                true,
                &opts,
            ));
        } else {
            let path = Path::new(p);
            if !path.exists() {
                rep.files += 1;
                rep.errors.push(report::InputError {
                    file: p.clone(),
                    message: "no such file or directory".into(),
                });
                continue;
            }
            rep.merge(vigil_audit::audit_path(path, &opts));
        }
    }
    if args.running {
        let (dumps, errors) = live::dump_all(&args.socket).context("listing running containers")?;
        for e in errors {
            rep.errors.push(report::InputError {
                file: "<engine>".into(),
                message: e.to_string(),
            });
        }
        for d in dumps {
            for doc in &d.documents {
                rep.merge(vigil_audit::audit_live_inspect(&d.source, doc, &opts));
            }
        }
    }
    if let Some(min) = args.min_severity {
        rep.filter_min(min);
    }
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let text = match args.format {
        Format::Table => report::render_table(&rep, color, !args.no_fix),
        Format::Json => report::render_json(&rep),
        Format::Sarif => report::render_sarif(&rep, env!("CARGO_PKG_VERSION")),
    };
    write_out(&text)?;
    if !matches!(args.format, Format::Table) {
        for e in &rep.errors {
            eprintln!("vigil: audit: {}: {}", e.file, e.message);
        }
    }
    if !rep.errors.is_empty() {
        return Ok(ExitCode::from(2));
    }
    if let (Some(gate), Some(max)) = (args.fail_on, rep.max_severity()) {
        if max >= gate {
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
fn write_out(s: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("writing output"),
    }
}
