//! `vigil-vulndb`: the offline vulnerability database.
//!
//! (Work in progress: API published first, implementation follows.)

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub mod version;

/// Errors opening or building the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The database file is not a vigil database, or is damaged.
    #[error("{path}: not a valid vigil database: {reason}")]
    Format { path: PathBuf, reason: String },
    /// No database exists at the path.
    #[error("{path}: no vulnerability database here (run 'vigil db import')")]
    NotFound { path: PathBuf },
    /// Import was given nothing to import.
    #[error("no import sources given")]
    NoSources,
    /// Not implemented yet.
    #[error("not implemented yet")]
    Unimplemented,
}

/// One package to look up.
#[derive(Debug, Clone, Copy)]
pub struct PackageQuery<'a> {
    /// OSV ecosystem name: "Debian:12", "Alpine:v3.19", "PyPI", "crates.io", "Go", "npm"...
    pub ecosystem: &'a str,
    pub name: &'a str,
    pub version: &'a str,
}

/// Severity, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

/// Whether a fix exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    /// A fixed version exists (see `Finding::fixed_version`).
    Fixed,
    /// Affected, no fix published.
    Affected,
    /// The distribution declared it will not fix this.
    WillNotFix,
}

/// One advisory that affects a queried package version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: String,
    pub severity: Severity,
    /// CVSS vector and its base score.
    pub cvss: Option<(String, f32)>,
    pub fixed_version: Option<String>,
    pub status: Status,
    pub published: Option<String>,
    pub modified: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub imported: u64,
    pub per_ecosystem: BTreeMap<String, u64>,
    pub withdrawn: u64,
    pub errors: Vec<FileError>,
}

/// One file that could not be imported.
#[derive(Debug, Clone)]
pub struct FileError {
    pub file: String,
    pub error: String,
}

/// Counts describing an open database.
#[derive(Debug, Clone, Default)]
pub struct DbStats {
    pub advisories: u64,
    pub packages: u64,
    pub per_ecosystem: BTreeMap<String, u64>,
}

/// An open database.
#[derive(Debug)]
pub struct Database {}

impl Database {
    /// Open an existing database (a directory holding `vulndb.bin`, or the file itself).
    pub fn open(path: &Path) -> Result<Database, DbError> {
        let _ = path;
        Err(DbError::Unimplemented)
    }

    /// Build a database at `path` from directories or zip archives of OSV JSON.
    pub fn import(path: &Path, sources: &[PathBuf]) -> Result<ImportReport, DbError> {
        let _ = (path, sources);
        Err(DbError::Unimplemented)
    }

    /// Advisories affecting one package version.
    pub fn query(&self, q: &PackageQuery<'_>) -> Vec<Finding> {
        let _ = q;
        Vec::new()
    }

    /// Time since the newest advisory's `modified` time, or since import.
    pub fn age(&self) -> Option<std::time::Duration> {
        None
    }

    /// Counts.
    pub fn stats(&self) -> DbStats {
        DbStats::default()
    }
}

/// `$VIGIL_DB`, or `/var/lib/vigil/db`.
pub fn default_db_path() -> PathBuf {
    std::env::var_os("VIGIL_DB")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/vigil/db"))
}
