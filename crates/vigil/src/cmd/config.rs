//! `vigil config` (placeholder until its crate lands).

use std::process::ExitCode;

/// Subcommands of `vigil config`.
#[derive(clap::Subcommand)]
pub enum Command {}

pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {}
}
