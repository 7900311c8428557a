//! `vigil scan` (placeholder until its crate lands).

use std::process::ExitCode;

/// Arguments of `vigil scan`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("'vigil scan' is not available in this build yet")
}
