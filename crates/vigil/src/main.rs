//! `vigil`: the command-line front end. A thin layer: every subcommand lives in its own file
//! under `cmd/` and calls into the library crates; no detection, audit or scan logic is here.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cmd;
#[allow(dead_code)]
mod default_rules;

/// Container runtime security: detect, respond, harden.
#[derive(Parser)]
#[command(name = "vigil", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Watch the kernel with eBPF and print alerts from the rules (needs root).
    Monitor(cmd::monitor::Args),
    /// Record the live event stream into a capture file (needs root).
    Capture(cmd::capture::Args),
    /// Evaluate rules against a capture file.
    Replay(cmd::replay::Args),
    /// Validate, list and test rules files.
    #[command(subcommand)]
    Rules(cmd::rules::Command),
    /// Audit container and Kubernetes configurations for least privilege.
    Audit(cmd::audit::Args),
    /// Scan an image for packages, vulnerabilities and secrets.
    Scan(cmd::scan::Args),
    /// Print an SBOM (CycloneDX or SPDX) for an image.
    Sbom(cmd::sbom::Args),
    /// Manage the offline vulnerability database.
    #[command(subcommand)]
    Db(cmd::db::Command),
    /// Check a vigil.yaml configuration.
    #[command(subcommand)]
    Config(cmd::config::Command),
    /// Validate, show and enforce response policies (exec, file and network control).
    #[command(subcommand)]
    Policy(cmd::policy::Command),
    /// Learn a workload's behaviour; generate seccomp profiles, drift rules and policies.
    #[command(subcommand)]
    Profile(cmd::profile::Command),
}

fn main() -> ExitCode {
    // Library crates log through `log`; RUST_LOG=vigil_state=debug etc. shows their details.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp_millis()
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Monitor(a) => cmd::monitor::run(a),
        Command::Capture(a) => cmd::capture::run(a),
        Command::Replay(a) => cmd::replay::run(a),
        Command::Rules(c) => cmd::rules::run(c),
        Command::Audit(a) => cmd::audit::run(a),
        Command::Scan(a) => cmd::scan::run(a),
        Command::Sbom(a) => cmd::sbom::run(a),
        Command::Db(c) => cmd::db::run(c),
        Command::Config(c) => cmd::config::run(c),
        Command::Policy(c) => cmd::policy::run(c),
        Command::Profile(c) => cmd::profile::run(c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vigil: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
