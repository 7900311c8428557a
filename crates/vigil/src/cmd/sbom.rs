//! `vigil sbom`: print a CycloneDX 1.5 or SPDX 2.3 JSON SBOM of an image's packages.

use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use vigil_scan::sbom::{self, SbomFormat};
use vigil_scan::ScanOptions;

/// Arguments of `vigil sbom`.
#[derive(clap::Args)]
pub struct Args {
    /// What to inventory (same forms as `vigil scan`).
    pub target: String,
    /// SBOM format.
    #[arg(long, short = 'f', default_value = "cyclonedx-json", value_parser = ["cyclonedx-json", "spdx-json"])]
    pub format: String,
    /// Write the SBOM here instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let format: SbomFormat = a.format.parse().map_err(anyhow::Error::msg)?;
    let opts = ScanOptions {
        secrets: false,
        ..ScanOptions::default()
    };
    let inv = vigil_scan::scan_target(&a.target, &opts)?;
    for w in &inv.warnings {
        eprintln!("vigil: warning: {w}");
    }
    let text = vigil_scan::to_json_text(&sbom::render(&inv, format)) + "\n";
    match &a.output {
        Some(p) => std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                r => r.context("writing to stdout")?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
