//! `vigil audit` (placeholder until its crate lands).

use std::process::ExitCode;

/// Arguments of `vigil audit`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("'vigil audit' is not available in this build yet")
}
