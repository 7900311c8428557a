//! `vigil-scan`: container image inventory, SBOM, secrets and vulnerability matching.
//!
//! Stages, each its own module: [`image`] opens a target (OCI layout, docker-archive, rootfs,
//! podman image) into a list of layers; [`layer`] streams one layer's tar (gzip/zstd/plain,
//! with bomb limits); [`scan`] applies entries to the [`vfs`] file index and runs the
//! [`analyze`] per-file analyzers and the [`secrets`] scanner on wanted files; [`vuln`] matches
//! the inventory against `vigil-vulndb`; [`sbom`] and [`report`] render the results. Everything
//! except `image` (which reads files and may run `podman save`) is pure over bytes, so the
//! parsers are unit-tested and fuzzed without images.

pub mod analyze;
pub mod config;
pub mod error;
pub mod image;
pub mod layer;
pub mod os;
pub mod package;
pub mod report;
pub mod sbom;
pub mod scan;
pub mod secrets;
pub mod vfs;
pub mod vuln;

pub use error::{ScanError, Warning};
pub use package::{Package, PkgType};
pub use scan::{scan_target, Inventory, ScanOptions};

/// The vulnerability database crate, re-exported so the CLI needs one dependency line.
pub use vigil_vulndb;

/// Pretty JSON text of a value (for the CLI, which does not depend on serde_json itself).
pub fn to_json_text(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
