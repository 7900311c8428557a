//! One module per subcommand; each exposes its clap arguments and a `run` function.

pub mod audit;
pub mod capture;
pub mod config;
pub mod context;
pub mod db;
pub mod live;
pub mod monitor;
pub mod policy;
pub mod profile;
pub mod replay;
pub mod rules;
pub mod ruletest;
pub mod sbom;
pub mod scan;
