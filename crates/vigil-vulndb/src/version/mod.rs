//! Version comparison per ecosystem.
//!
//! Each OSV ecosystem orders versions by its own package manager's rules; comparing them
//! with one generic "natural sort" is the classic source of false negatives and positives
//! in scanners (`1.0~rc1 < 1.0` in Debian, `1.0rc1 < 1.0` in Python, `1.0-SNAPSHOT < 1.0`
//! in Maven, `1.0_alpha < 1.0` in Alpine). So every family gets its own comparator written
//! from the reference implementation's rules, tested against that implementation's own
//! published test vectors (`tests/vectors/`).
//!
//! [`Ecosystem::from_osv`] maps OSV ecosystem names (including distribution releases such as
//! `Debian:12` or `Alpine:v3.19`) onto a family.

use std::cmp::Ordering;

pub mod apk;
pub mod dpkg;
pub mod maven;
pub mod pep440;
pub mod rpm;
pub mod semver;

/// Version-ordering families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Ecosystem {
    /// dpkg ordering: Debian, Ubuntu and derivatives.
    Debian,
    /// apk ordering: Alpine, Wolfi, Chainguard.
    Alpine,
    /// rpmvercmp ordering: Red Hat, Rocky Linux, AlmaLinux, openSUSE, SUSE, Mageia.
    Rpm,
    /// PEP 440: PyPI.
    Pypi,
    /// SemVer 2.0: crates.io, npm, Hex, Pub, SwiftURL.
    SemVer,
    /// Go modules: SemVer with `v` prefix, pseudo-versions, `+incompatible`.
    Go,
    /// Maven `ComparableVersion`.
    Maven,
}

impl Ecosystem {
    /// The family for an OSV ecosystem name, ignoring any `:release` suffix.
    /// `None` for ecosystems without a supported ordering (their advisories still match
    /// through explicit `versions` lists).
    pub fn from_osv(name: &str) -> Option<Ecosystem> {
        let base = name.split(':').next().unwrap_or(name).trim();
        Some(match base {
            "Debian" | "Ubuntu" => Ecosystem::Debian,
            "Alpine" | "Wolfi" | "Chainguard" | "Alpaquita" | "BellSoft Hardened Containers" => {
                Ecosystem::Alpine
            }
            "Red Hat" | "Rocky Linux" | "AlmaLinux" | "openSUSE" | "SUSE" | "Mageia"
            | "openEuler" => Ecosystem::Rpm,
            "PyPI" => Ecosystem::Pypi,
            "crates.io" | "npm" | "Hex" | "Pub" | "SwiftURL" => Ecosystem::SemVer,
            "Go" => Ecosystem::Go,
            "Maven" => Ecosystem::Maven,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Ecosystem::Debian => "Debian",
            Ecosystem::Alpine => "Alpine",
            Ecosystem::Rpm => "RPM",
            Ecosystem::Pypi => "PyPI",
            Ecosystem::SemVer => "SemVer",
            Ecosystem::Go => "Go",
            Ecosystem::Maven => "Maven",
        })
    }
}

/// A version string that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {ecosystem} version {version:?}: {reason}")]
pub struct VersionError {
    pub ecosystem: Ecosystem,
    pub version: String,
    pub reason: String,
}

impl VersionError {
    pub(crate) fn new(ecosystem: Ecosystem, version: &str, reason: &str) -> VersionError {
        // Cap the echoed input: versions come from untrusted files.
        let mut version = version.to_string();
        if version.len() > 200 {
            let mut cut = 200;
            while !version.is_char_boundary(cut) {
                cut -= 1;
            }
            version.truncate(cut);
            version.push('…');
        }
        VersionError {
            ecosystem,
            version,
            reason: reason.to_string(),
        }
    }
}

/// Compare two versions of one ecosystem.
pub fn compare(ecosystem: Ecosystem, a: &str, b: &str) -> Result<Ordering, VersionError> {
    match ecosystem {
        Ecosystem::Debian => dpkg::compare(a, b),
        Ecosystem::Alpine => apk::compare(a, b),
        Ecosystem::Rpm => rpm::compare(a, b),
        Ecosystem::Pypi => pep440::compare(a, b),
        Ecosystem::SemVer | Ecosystem::Go => semver::compare(ecosystem, a, b),
        Ecosystem::Maven => Ok(maven::compare(a, b)),
    }
}

/// Check that `v` parses in `ecosystem`.
pub fn validate(ecosystem: Ecosystem, v: &str) -> Result<(), VersionError> {
    match ecosystem {
        Ecosystem::Debian => dpkg::validate(v),
        Ecosystem::Alpine => apk::validate(v),
        Ecosystem::Rpm => rpm::parse(v).map(|_| ()),
        Ecosystem::Pypi => pep440::Pep440::parse(v).map(|_| ()),
        Ecosystem::SemVer | Ecosystem::Go => semver::parse(ecosystem, v).map(|_| ()),
        Ecosystem::Maven => Ok(()),
    }
}

/// A version parsed once and owned, for repeated comparisons: the queried version, and the
/// range event versions of a record (parsed when the record is first used, then kept).
#[derive(Debug, Clone)]
pub enum Version {
    Debian {
        epoch: u64,
        upstream: String,
        revision: String,
    },
    Alpine(String),
    Rpm {
        epoch: u64,
        version: String,
        release: Option<String>,
    },
    Pypi(Box<pep440::Pep440>),
    SemVer {
        core: [String; 3],
        pre: Vec<String>,
    },
    Maven(maven::MavenVersion),
}

impl Version {
    /// Parse `v` for `ecosystem`.
    pub fn parse(ecosystem: Ecosystem, v: &str) -> Result<Version, VersionError> {
        Ok(match ecosystem {
            Ecosystem::Debian => {
                let d = dpkg::parse(v)?;
                Version::Debian {
                    epoch: d.epoch,
                    upstream: d.upstream.to_string(),
                    revision: d.revision.to_string(),
                }
            }
            Ecosystem::Alpine => {
                if v.is_empty() {
                    return Err(VersionError::new(ecosystem, v, "empty version"));
                }
                Version::Alpine(v.to_string())
            }
            Ecosystem::Rpm => {
                let e = rpm::parse(v)?;
                Version::Rpm {
                    epoch: e.epoch,
                    version: e.version.to_string(),
                    release: e.release.map(str::to_string),
                }
            }
            Ecosystem::Pypi => Version::Pypi(Box::new(pep440::Pep440::parse(v)?)),
            Ecosystem::SemVer | Ecosystem::Go => {
                let s = semver::parse(ecosystem, v)?;
                Version::SemVer {
                    core: [
                        s.major.to_string(),
                        s.minor.to_string(),
                        s.patch.to_string(),
                    ],
                    pre: s.pre.iter().map(|p| p.to_string()).collect(),
                }
            }
            Ecosystem::Maven => Version::Maven(maven::MavenVersion::parse(v)),
        })
    }

    /// Compare with another version of the same family (`None` across families).
    pub fn cmp_to(&self, other: &Version) -> Option<Ordering> {
        Some(match (self, other) {
            (
                Version::Debian {
                    epoch: e1,
                    upstream: u1,
                    revision: r1,
                },
                Version::Debian {
                    epoch: e2,
                    upstream: u2,
                    revision: r2,
                },
            ) => e1
                .cmp(e2)
                .then_with(|| dpkg::verrevcmp(u1, u2))
                .then_with(|| dpkg::verrevcmp(r1, r2)),
            (Version::Alpine(a), Version::Alpine(b)) => apk::compare_fuzzy(a, b, false),
            (
                Version::Rpm {
                    epoch: e1,
                    version: v1,
                    release: r1,
                },
                Version::Rpm {
                    epoch: e2,
                    version: v2,
                    release: r2,
                },
            ) => rpm::cmp_evr(
                &rpm::Evr {
                    epoch: *e1,
                    version: v1,
                    release: r1.as_deref(),
                },
                &rpm::Evr {
                    epoch: *e2,
                    version: v2,
                    release: r2.as_deref(),
                },
            ),
            (Version::Pypi(a), Version::Pypi(b)) => a.cmp(b),
            (Version::SemVer { core: c1, pre: p1 }, Version::SemVer { core: c2, pre: p2 }) => {
                semver::cmp_parts([&c1[0], &c1[1], &c1[2]], p1, [&c2[0], &c2[1], &c2[2]], p2)
            }
            (Version::Maven(a), Version::Maven(b)) => a.cmp(b),
            _ => return None,
        })
    }
}

/// A key such that two versions of `ecosystem` that the ecosystem considers the same
/// version have the same key, used to match explicit OSV `versions` lists without
/// comparing every entry: PEP 440 canonical form with trailing zero release components
/// removed (`1.0` = `1.0.0`, as PEP 440 equality says), SemVer/Go
/// without `v` prefix and build metadata. Other ecosystems use the string as written.
pub fn match_key(ecosystem: Option<Ecosystem>, v: &str) -> String {
    match ecosystem {
        Some(Ecosystem::Pypi) => match pep440::Pep440::parse(v) {
            Ok(p) => p.match_key(),
            Err(_) => v.trim().to_string(),
        },
        Some(e @ (Ecosystem::SemVer | Ecosystem::Go)) => match semver::parse(e, v) {
            Ok(s) => s.match_key(),
            Err(_) => v.trim().to_string(),
        },
        _ => v.trim().to_string(),
    }
}
