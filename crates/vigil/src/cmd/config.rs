//! `vigil config check FILE`: validates a `vigil.yaml` with exactly the rules `vigil monitor`
//! applies, printing every problem with its key path; exits 1 when the file is invalid.
//! `vigil config default` prints the built-in defaults as YAML (a starting point).

use std::path::PathBuf;
use std::process::ExitCode;
use vigil_output::Config;

/// Subcommands of `vigil config`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Validate a configuration file; every error is reported with its key path.
    Check {
        /// The configuration file (vigil.yaml).
        file: PathBuf,
        /// Print the effective configuration (defaults filled in) as YAML when valid.
        #[arg(long)]
        print: bool,
    },
    /// Print the default configuration.
    Default,
}

pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Check { file, print } => match Config::from_yaml_file(&file) {
            Ok(cfg) => {
                let names: Vec<String> =
                    (0..cfg.outputs.len()).map(|i| cfg.output_name(i)).collect();
                println!(
                    "{}: OK ({} output{}: {})",
                    file.display(),
                    names.len(),
                    if names.len() == 1 { "" } else { "s" },
                    names.join(", ")
                );
                if print {
                    print!("{}", cfg.to_yaml());
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(ExitCode::from(1))
            }
        },
        Command::Default => {
            print!("{}", Config::default().to_yaml());
            Ok(ExitCode::SUCCESS)
        }
    }
}
