//! `vigil db` (placeholder until its crate lands).

use std::process::ExitCode;

/// Subcommands of `vigil db`.
#[derive(clap::Subcommand)]
pub enum Command {}

pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {}
}
