//! Vulnerability matching: every package of an inventory is looked up in the offline database
//! (`vigil-vulndb`) under its OSV ecosystem, then unfixed and ignored findings are filtered.
//!
//! Distribution packages are looked up by SOURCE package name and version, because Debian,
//! Ubuntu and Alpine advisories are filed per source package. The ignore file
//! (`.vigilignore.yaml`) is validated strictly (unknown keys and bad dates are errors naming the
//! entry); an expired entry no longer applies and produces a warning, so forgotten exceptions
//! surface instead of hiding findings forever.

use crate::error::{ScanError, Warning};
use crate::os::OsInfo;
use crate::package::{normalize_python_name, Package, PkgType};
use crate::scan::Inventory;
use serde::{Deserialize, Serialize};
use vigil_vulndb::{Database, Finding, PackageQuery, Status};

/// One vulnerable package.
#[derive(Debug, Clone, Serialize)]
pub struct VulnFinding {
    pub package: String,
    pub version: String,
    #[serde(rename = "type")]
    pub kind: PkgType,
    pub purl: String,
    pub ecosystem: String,
    /// The name and version that were looked up (the source package for distributions).
    pub queried: String,
    pub layer: usize,
    pub files: Vec<String>,
    #[serde(flatten)]
    pub advisory: Finding,
}

/// One entry of `.vigilignore.yaml`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IgnoreRule {
    /// Advisory id or alias (CVE-..., GHSA-..., PYSEC-...).
    pub id: String,
    pub reason: String,
    /// `YYYY-MM-DD`; after this day the entry no longer applies.
    #[serde(default)]
    pub expires: Option<String>,
    /// Restrict to one package name.
    #[serde(default)]
    pub package: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IgnoreFile {
    ignores: Vec<IgnoreRule>,
}

fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&s[5..7].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&s[8..10].parse::<u32>().unwrap_or(0))
}

/// Parse an ignore file's text.
pub fn parse_ignore_file(name: &str, text: &str) -> Result<Vec<IgnoreRule>, ScanError> {
    let f: IgnoreFile = serde_yaml::from_str(text).map_err(|e| ScanError::IgnoreFile {
        file: match e.location() {
            Some(l) => format!("{name}:{}:{}", l.line(), l.column()),
            None => name.to_string(),
        },
        reason: e.to_string(),
    })?;
    for (i, r) in f.ignores.iter().enumerate() {
        if let Some(d) = &r.expires {
            if !valid_date(d) {
                return Err(ScanError::IgnoreFile {
                    file: name.to_string(),
                    reason: format!(
                        "entry {} ({}): expires '{d}' is not YYYY-MM-DD",
                        i + 1,
                        r.id
                    ),
                });
            }
        }
        if r.id.trim().is_empty() {
            return Err(ScanError::IgnoreFile {
                file: name.to_string(),
                reason: format!("entry {}: empty id", i + 1),
            });
        }
    }
    Ok(f.ignores)
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    civil_date((secs / 86_400) as i64)
}

/// Days since 1970-01-01 to a civil date (proleptic Gregorian).
pub fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Matching options.
#[derive(Debug, Clone, Default)]
pub struct MatchOptions {
    pub ignore_unfixed: bool,
    pub ignores: Vec<IgnoreRule>,
    /// `YYYY-MM-DD` used to expire ignore entries.
    pub today: String,
}

/// Result of matching.
#[derive(Debug, Default, Serialize)]
pub struct MatchResult {
    pub findings: Vec<VulnFinding>,
    /// Findings suppressed by the ignore file, with the reason.
    pub ignored: Vec<(String, String, String)>,
    /// Findings dropped because no fix exists (`--ignore-unfixed`).
    pub unfixed_dropped: usize,
    pub warnings: Vec<Warning>,
    /// Packages looked up / packages with no ecosystem to look them up in.
    pub queried: usize,
    pub unsupported: usize,
}

/// The OSV ecosystem, name and version to look a package up with.
pub fn query_for(p: &Package, os: Option<&OsInfo>) -> Option<(String, String, String)> {
    let distro = || os.and_then(|o| o.osv_ecosystem());
    let src = || p.source_name.clone().unwrap_or_else(|| p.name.clone());
    let src_ver = || {
        p.source_version
            .clone()
            .unwrap_or_else(|| p.version.clone())
    };
    Some(match p.kind {
        PkgType::Deb | PkgType::Apk | PkgType::Rpm => (distro()?, src(), src_ver()),
        PkgType::Python => (
            "PyPI".into(),
            normalize_python_name(&p.name),
            p.version.clone(),
        ),
        PkgType::Npm => ("npm".into(), p.name.clone(), p.version.clone()),
        PkgType::Cargo => ("crates.io".into(), p.name.clone(), p.version.clone()),
        PkgType::Go => {
            if p.version == "(devel)" {
                return None;
            }
            ("Go".into(), p.name.clone(), p.version.clone())
        }
        PkgType::Maven => ("Maven".into(), p.name.clone(), p.version.clone()),
    })
}

/// Match every package of `inv` against `db`.
pub fn match_inventory(db: &Database, inv: &Inventory, opts: &MatchOptions) -> MatchResult {
    let mut res = MatchResult::default();
    let mut active: Vec<&IgnoreRule> = Vec::new();
    for r in &opts.ignores {
        match &r.expires {
            Some(d) if d.as_str() < opts.today.as_str() => res.warnings.push(Warning::new(
                ".vigilignore.yaml",
                format!("ignore entry {} expired on {d}; it no longer applies", r.id),
            )),
            _ => active.push(r),
        }
    }
    let mut seen = std::collections::HashSet::new();
    for p in &inv.packages {
        let Some((eco, name, version)) = query_for(p, inv.os.as_ref()) else {
            res.unsupported += 1;
            continue;
        };
        res.queried += 1;
        // Distro binary packages share a source: look each source up once per binary anyway
        // (findings are per installed package), but skip exact duplicates.
        let key = (
            p.kind,
            p.name.clone(),
            p.version.clone(),
            p.files.first().cloned(),
        );
        if !seen.insert(key) {
            continue;
        }
        let q = PackageQuery {
            ecosystem: &eco,
            name: &name,
            version: &version,
        };
        for f in db.query(&q) {
            if opts.ignore_unfixed && f.status != Status::Fixed {
                res.unfixed_dropped += 1;
                continue;
            }
            let rule = active.iter().find(|r| {
                (r.id == f.id || f.aliases.iter().any(|a| a == &r.id))
                    && r.package
                        .as_ref()
                        .is_none_or(|pk| pk == &p.name || pk == &name)
            });
            if let Some(r) = rule {
                res.ignored
                    .push((f.id.clone(), p.name.clone(), r.reason.clone()));
                continue;
            }
            res.findings.push(VulnFinding {
                package: p.name.clone(),
                version: p.version.clone(),
                kind: p.kind,
                purl: p.purl.clone(),
                ecosystem: eco.clone(),
                queried: format!("{name}@{version}"),
                layer: p.layer,
                files: p.files.clone(),
                advisory: f,
            });
        }
    }
    res.findings.sort_by(|a, b| {
        b.advisory
            .severity
            .cmp(&a.advisory.severity)
            .then_with(|| a.package.cmp(&b.package))
            .then_with(|| a.advisory.id.cmp(&b.advisory.id))
    });
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(19_723), "2024-01-01");
        assert_eq!(civil_date(11_016), "2000-02-29");
        assert!(valid_date("2026-12-31"));
        assert!(!valid_date("2026-13-01"));
        assert!(!valid_date("tomorrow"));
    }

    #[test]
    fn ignore_file() {
        let rules = parse_ignore_file(
            ".vigilignore.yaml",
            "ignores:\n  - id: CVE-2019-11324\n    reason: not reachable\n    expires: 2030-01-01\n",
        )
        .unwrap();
        assert_eq!(rules[0].expires.as_deref(), Some("2030-01-01"));
        let err = parse_ignore_file("f.yaml", "ignores:\n  - id: X\n    reson: typo\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("f.yaml:") && err.contains("reson"), "{err}");
        let err = parse_ignore_file(
            "f.yaml",
            "ignores:\n  - id: X\n    reason: r\n    expires: soon\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("not YYYY-MM-DD"), "{err}");
    }

    #[test]
    fn queries_use_source_packages() {
        let os = OsInfo {
            id: "debian".into(),
            version_id: "12".into(),
            ..Default::default()
        };
        let mut p = Package::new(PkgType::Deb, "libssl3", "3.0.11-1~deb12u2", "x");
        p.source_name = Some("openssl".into());
        p.source_version = Some("3.0.11-1~deb12u2".into());
        assert_eq!(
            query_for(&p, Some(&os)),
            Some((
                "Debian:12".into(),
                "openssl".into(),
                "3.0.11-1~deb12u2".into()
            ))
        );
        let p = Package::new(PkgType::Python, "PyYAML", "5.3", "x");
        assert_eq!(query_for(&p, None).unwrap().1, "pyyaml");
    }
}
