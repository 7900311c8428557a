//! `vigil rules test` (placeholder until the capture crate lands).

use std::process::ExitCode;

/// Arguments of `vigil rules test`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("'vigil rules test' is not available in this build yet")
}
