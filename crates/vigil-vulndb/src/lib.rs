//! `vigil-vulndb`: the offline vulnerability database.
//!
//! vigil matches installed packages against [OSV](https://ossf.github.io/osv-schema/)
//! advisories without network access: `vigil db import` reads OSV JSON (directories,
//! or the per-ecosystem `all.zip` archives osv.dev publishes) into one compact local file,
//! and [`Database::query`] answers "which advisories affect package P at version V in
//! ecosystem E" in microseconds.
//!
//! Stages, each its own module:
//! - [`osv`]: typed parsing of OSV schema 1.x documents (errors name line and column);
//! - `record`: conversion to the stored form (validated, pre-sorted range events; severity
//!   from `database_specific.severity`, else a CVSS v3 base score computed by [`cvss`])
//!   and the OSV range evaluation algorithm;
//! - `import`: reading sources with per-file error accounting and size limits;
//! - `store`: the file format (see there for the layout and why not redb/sled or mmap);
//! - [`version`]: one comparator per ecosystem family (dpkg, apk, rpm, PEP 440, SemVer/Go,
//!   Maven), each tested against its reference implementation's published vectors.
//!
//! Storage choice: a single versioned, checksummed file written with temp-file + rename
//! and loaded whole into memory, with a sorted package index decoded at open and advisory
//! records decoded lazily per query. The database is rebuilt by each import and never
//! updated in place, so an embedded transactional store (redb, sled) would bring write-ahead
//! logging and a large dependency for no benefit; see `store` for details.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub mod cvss;
mod import;
mod names;
pub mod osv;
mod record;
mod store;
mod timefmt;
pub mod version;

pub use import::MAX_JSON_BYTES;
pub use names::{key as package_key, pep503};
pub use store::{db_file, DB_FILE};
pub use timefmt::{format_unix, parse_rfc3339};

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
    /// The database file is not a vigil database, is damaged, or has another format version.
    #[error("{path}: {reason}")]
    Format { path: PathBuf, reason: String },
    /// No database exists at the path.
    #[error("{path}: no vulnerability database here (run 'vigil db import')")]
    NotFound { path: PathBuf },
    /// Import was given nothing to import.
    #[error("no import sources given")]
    NoSources,
    /// Import read no usable advisory; the existing database (if any) was left untouched.
    #[error("no advisory could be imported ({} file errors); database not written", report.errors.len())]
    NothingImported { report: Box<ImportReport> },
}

/// One package to look up.
#[derive(Debug, Clone, Copy)]
pub struct PackageQuery<'a> {
    /// OSV ecosystem name: "Debian:12", "Alpine:v3.19", "PyPI", "crates.io", "Go", "npm",
    /// "Maven", "Red Hat", "Rocky Linux:9"...
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

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Unknown => "UNKNOWN",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        })
    }
}

/// Whether a fix exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    /// A fixed version exists (see `Finding::fixed_version`).
    Fixed,
    /// Affected, no fix published.
    Affected,
    /// The distribution declared it will not fix this (an `ecosystem_specific` or
    /// `database_specific` field of the affected entry says "will not fix"/"won't fix").
    WillNotFix,
}

/// One advisory that affects a queried package version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: String,
    /// Package-level severity if the advisory gives one, else `database_specific.severity`,
    /// else the rating of the CVSS v3 base score, else `Unknown`.
    pub severity: Severity,
    /// CVSS v3 vector and its computed base score.
    pub cvss: Option<(String, f32)>,
    pub fixed_version: Option<String>,
    pub status: Status,
    pub published: Option<String>,
    pub modified: Option<String>,
}

/// What an import did. Every input file is counted in exactly one of: `imported` (or
/// `duplicates`), `withdrawn`, `ignored_files`, `errors`.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub db_path: PathBuf,
    pub db_size: u64,
    /// JSON documents read (files and zip members).
    pub files_read: u64,
    /// Advisories written.
    pub imported: u64,
    /// Distinct packages (ecosystem + name) in the index.
    pub packages: u64,
    /// Advisories per ecosystem as written in the advisories (one advisory can count for
    /// several ecosystems).
    pub per_ecosystem: BTreeMap<String, u64>,
    /// Withdrawn advisories skipped.
    pub withdrawn: u64,
    /// Documents whose id was seen before (the newest `modified` is kept).
    pub duplicates: u64,
    /// Files that are neither JSON nor zip (LICENSE, README...) or symlinked directories.
    pub ignored_files: u64,
    /// GIT ranges, which name commits and are not used for package matching.
    pub git_ranges_ignored: u64,
    /// Ecosystems whose ECOSYSTEM ranges cannot be evaluated (no version ordering here),
    /// with the number of advisories concerned; their explicit `versions` still match.
    pub unordered_ranges: BTreeMap<String, u64>,
    /// Files that could not be imported at all.
    pub errors: Vec<FileError>,
    /// Files imported with a part ignored (e.g. a range with an unparsable version).
    pub warnings: Vec<FileError>,
    pub elapsed: Duration,
}

/// One file (or zip member, `archive.zip!member.json`) with a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub file: String,
    pub error: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.error)
    }
}

/// Counts describing an open database.
#[derive(Debug, Clone, Default)]
pub struct DbStats {
    pub path: PathBuf,
    pub file_size: u64,
    pub format_version: u32,
    pub advisories: u64,
    pub packages: u64,
    pub per_ecosystem: BTreeMap<String, u64>,
    /// Unix seconds of the import.
    pub imported_at: i64,
    /// Newest advisory `modified` time as written.
    pub newest_modified: Option<String>,
    pub sources: Vec<String>,
}

/// The result of a query, with what could not be evaluated.
#[derive(Debug, Clone, Default)]
pub struct QueryOutcome {
    pub findings: Vec<Finding>,
    /// Version orderings in which the queried version did not parse: ranges of that
    /// ordering were not evaluated for this package (explicit `versions` still were).
    pub unparsed: Vec<version::VersionError>,
    /// Stored records that could not be decoded (a damaged database).
    pub damaged_records: u32,
}

/// An open database. Records are decoded on first use and kept (`OnceLock` per record), so
/// repeated queries for the same packages only compare versions; the type is `Sync` and can
/// be shared by scanning threads.
#[derive(Debug)]
pub struct Database {
    loaded: store::Loaded,
    cache: Vec<OnceLock<Option<Arc<record::Compiled>>>>,
}

impl Database {
    /// Open an existing database: a directory holding `vulndb.bin`, or the file itself.
    /// Reads the file, verifies magic, format version and checksum, and decodes the index.
    pub fn open(path: &Path) -> Result<Database, DbError> {
        let loaded = store::load(path)?;
        let n = loaded.meta.offsets.len().saturating_sub(1);
        Ok(Database {
            loaded,
            cache: (0..n).map(|_| OnceLock::new()).collect(),
        })
    }

    /// Build a new database in directory `path` from directories, zip archives or files of
    /// OSV JSON, replacing any database there atomically. Per-file problems are reported in
    /// the [`ImportReport`], not as an error; an import that yields no advisory at all
    /// fails with [`DbError::NothingImported`] and leaves an existing database untouched.
    pub fn import(path: &Path, sources: &[PathBuf]) -> Result<ImportReport, DbError> {
        import::run(path, sources)
    }

    /// Advisories affecting one package version.
    pub fn query(&self, q: &PackageQuery<'_>) -> Vec<Finding> {
        self.query_detailed(q).findings
    }

    /// Like [`Database::query`], also telling what could not be evaluated.
    pub fn query_detailed(&self, q: &PackageQuery<'_>) -> QueryOutcome {
        let mut out = QueryOutcome::default();
        let mut keys = vec![names::key(q.ecosystem, q.name)];
        if q.ecosystem.contains(':') {
            // Advisories written for the ecosystem without a release apply to every release.
            let base = q.ecosystem.split(':').next().unwrap_or(q.ecosystem);
            keys.push(names::key(base, q.name));
        }
        let mut qv = record::QueryVersion::new(q.version);
        let mut seen: Vec<u32> = Vec::new();
        for key in &keys {
            for &id in self.loaded.lookup(key) {
                if seen.contains(&id) {
                    continue;
                }
                seen.push(id);
                let Some(c) = self.record(id) else {
                    out.damaged_records += 1;
                    continue;
                };
                let rec = &c.rec;
                // Several entries can name the package; prefer a match that has a fix.
                let mut hit: Option<(&record::RecAffected, Option<String>)> = None;
                for (i, a) in rec.affected.iter().enumerate() {
                    if &a.key != key || matches!(hit, Some((_, Some(_)))) {
                        continue;
                    }
                    if let Some(fixed) = c.matches(i, &mut qv) {
                        if hit.is_none() || fixed.is_some() {
                            hit = Some((a, fixed));
                        }
                    }
                }
                if let Some((a, fixed)) = hit {
                    out.findings.push(Finding {
                        id: rec.id.clone(),
                        aliases: rec.aliases.clone(),
                        summary: rec.summary.clone(),
                        severity: a.severity.unwrap_or(rec.severity),
                        cvss: a.cvss.clone().or_else(|| rec.cvss.clone()),
                        status: a.status(&fixed),
                        fixed_version: fixed,
                        published: rec.published.clone(),
                        modified: rec.modified.clone(),
                    });
                }
            }
        }
        out.unparsed = qv.errors();
        out.findings
            .sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
        out
    }

    fn record(&self, id: u32) -> Option<Arc<record::Compiled>> {
        self.cache
            .get(id as usize)?
            .get_or_init(|| {
                self.loaded
                    .record(id)
                    .map(|r| Arc::new(record::Compiled::new(r)))
            })
            .clone()
    }

    /// Time since the newest advisory's `modified` time, or since the import if no
    /// advisory has one. `None` if that instant is in the future (clock skew).
    pub fn age(&self) -> Option<Duration> {
        let m = &self.loaded.meta;
        let t = m
            .newest_modified
            .as_ref()
            .map_or(m.imported_at, |(_, s)| *s);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs() as i64;
        u64::try_from(now - t).ok().map(Duration::from_secs)
    }

    /// Counts and provenance.
    pub fn stats(&self) -> DbStats {
        let m = &self.loaded.meta;
        DbStats {
            path: self.loaded.path.clone(),
            file_size: self.loaded.size,
            format_version: store::FORMAT_VERSION,
            advisories: m.advisories,
            packages: m.index.len() as u64,
            per_ecosystem: m.per_ecosystem.clone(),
            imported_at: m.imported_at,
            newest_modified: m.newest_modified.as_ref().map(|(s, _)| s.clone()),
            sources: m.sources.clone(),
        }
    }
}

/// Parse and convert one OSV document exactly as import does, without writing anything.
/// Returns the advisory id and the warnings import would report (parts ignored), or the
/// error that would make import refuse the file. Used by tests and fuzz targets.
pub fn check_document(bytes: &[u8]) -> Result<(String, Vec<String>), String> {
    let adv = osv::parse(bytes)?;
    let (rec, conv) = record::Record::from_advisory(&adv);
    // Round-trip through the stored encoding, as a query would read it back.
    let enc = postcard::to_allocvec(&rec).map_err(|e| format!("encode: {e}"))?;
    let back: record::Record = postcard::from_bytes(&enc).map_err(|e| format!("decode: {e}"))?;
    Ok((back.id, conv.warnings))
}

/// Property checks on one comparator for fuzzing and randomized tests: comparing a version
/// with itself gives `Equal`, and swapping arguments reverses the result. Panics on a
/// violation (that is the finding); never on any input otherwise.
#[doc(hidden)]
pub fn check_comparator(eco: version::Ecosystem, a: &str, b: &str) {
    use std::cmp::Ordering;
    let ab = version::compare(eco, a, b);
    let ba = version::compare(eco, b, a);
    match (&ab, &ba) {
        (Ok(x), Ok(y)) => assert_eq!(*x, y.reverse(), "{eco:?}: {a:?} vs {b:?} not antisymmetric"),
        (Err(_), Err(_)) => {}
        // Errors depend on which side is invalid, so both directions must fail together.
        _ => panic!("{eco:?}: {a:?} vs {b:?}: one direction failed, the other did not"),
    }
    if version::validate(eco, a).is_ok() {
        assert_eq!(
            version::compare(eco, a, a).ok(),
            Some(Ordering::Equal),
            "{eco:?}: {a:?} != itself"
        );
    }
    let _ = version::match_key(Some(eco), a);
}

/// `$VIGIL_DB`, or `/var/lib/vigil/db`.
pub fn default_db_path() -> PathBuf {
    std::env::var_os("VIGIL_DB")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/vigil/db"))
}
