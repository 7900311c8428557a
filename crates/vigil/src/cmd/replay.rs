//! `vigil replay` (placeholder until its crate lands).

use std::process::ExitCode;

/// Arguments of `vigil replay`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("'vigil replay' is not available in this build yet")
}
