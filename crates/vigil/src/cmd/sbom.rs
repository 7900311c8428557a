//! `vigil sbom` (placeholder until its crate lands).

use std::process::ExitCode;

/// Arguments of `vigil sbom`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("'vigil sbom' is not available in this build yet")
}
