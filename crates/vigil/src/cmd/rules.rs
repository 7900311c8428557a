//! `vigil rules` (placeholder until its crate lands).

use std::process::ExitCode;

/// Subcommands of `vigil rules`.
#[derive(clap::Subcommand)]
pub enum Command {}

pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {}
}
