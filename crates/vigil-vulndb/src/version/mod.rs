//! Version comparison per ecosystem.

use std::cmp::Ordering;

/// Version-ordering families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ecosystem {
    Debian,
    Alpine,
    Rpm,
    Pypi,
    SemVer,
    Go,
    Maven,
}

/// A version string that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {ecosystem:?} version {version:?}: {reason}")]
pub struct VersionError {
    pub ecosystem: Ecosystem,
    pub version: String,
    pub reason: String,
}

/// Compare two versions.
pub fn compare(ecosystem: Ecosystem, a: &str, b: &str) -> Result<Ordering, VersionError> {
    let _ = b;
    Err(VersionError {
        ecosystem,
        version: a.to_string(),
        reason: "not implemented yet".into(),
    })
}
