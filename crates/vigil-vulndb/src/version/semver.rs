//! SemVer 2.0.0 precedence (crates.io, npm, Hex, Pub) and Go module versions.
//!
//! Precedence per semver.org §11: major, minor, patch numerically; a pre-release sorts below
//! its release; pre-release identifiers compare numerically when both are numeric, numeric
//! below alphanumeric, and a shorter identifier list below a longer one with the same prefix.
//! Build metadata (`+...`) is ignored, which is exactly Go's rule for `+incompatible`. Go's
//! pseudo-versions (`v0.0.0-20191109021931-daa7c04131f5`) are ordinary pre-releases, so
//! they order by timestamp without special handling. A leading `v` is accepted everywhere
//! (Go requires it, npm tolerates it).
//!
//! Numeric parts are compared as digit strings, so no overflow; leading zeros, which the
//! spec forbids, are tolerated and compared numerically (rejected alternative: refusing them,
//! which would drop real-world npm versions such as `1.02.0`).

use super::{Ecosystem, VersionError};
use std::cmp::Ordering;

/// A parsed SemVer version, borrowing from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemVer<'a> {
    pub major: &'a str,
    pub minor: &'a str,
    pub patch: &'a str,
    pub pre: Vec<&'a str>,
    pub build: Option<&'a str>,
}

fn valid_ident(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
}

fn numeric(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

/// Parse `[v]MAJOR.MINOR.PATCH[-PRE][+BUILD]`.
pub fn parse(eco: Ecosystem, v: &str) -> Result<SemVer<'_>, VersionError> {
    let err = |why: &str| VersionError::new(eco, v, why);
    // node-semver's loose prefix: whitespace, `=`, `v`, in that order, each optional.
    let s = v.trim();
    let s = s.strip_prefix('=').unwrap_or(s).trim_start();
    let s = s.strip_prefix('v').unwrap_or(s).trim_start();
    let (s, build) = match s.split_once('+') {
        Some((a, b)) => {
            if !b.split('.').all(valid_ident) {
                return Err(err("invalid build metadata"));
            }
            (a, Some(b))
        }
        None => (s, None),
    };
    let (core, pre) = match s.split_once('-') {
        Some((a, p)) => {
            let ids: Vec<&str> = p.split('.').collect();
            if !ids.iter().all(|i| valid_ident(i)) {
                return Err(err("invalid pre-release identifier"));
            }
            (a, ids)
        }
        None => (s, Vec::new()),
    };
    let mut it = core.split('.');
    let (major, minor, patch) = match (it.next(), it.next(), it.next(), it.next()) {
        (Some(a), Some(b), Some(c), None) => (a, b, c),
        // Go accepts the shorthands vMAJOR and vMAJOR.MINOR when nothing follows.
        (Some(a), b, None, None) if eco == Ecosystem::Go && pre.is_empty() && build.is_none() => {
            (a, b.unwrap_or("0"), "0")
        }
        _ => return Err(err("expected MAJOR.MINOR.PATCH")),
    };
    if !(numeric(major) && numeric(minor) && numeric(patch)) {
        return Err(err("MAJOR.MINOR.PATCH must be numbers"));
    }
    Ok(SemVer {
        major,
        minor,
        patch,
        pre,
        build,
    })
}

impl SemVer<'_> {
    /// `MAJOR.MINOR.PATCH[-PRE]` without prefix, leading zeros or build metadata.
    pub fn match_key(&self) -> String {
        let n = |s: &str| {
            let t = s.trim_start_matches('0');
            if t.is_empty() {
                "0".to_string()
            } else {
                t.to_string()
            }
        };
        let mut k = format!("{}.{}.{}", n(self.major), n(self.minor), n(self.patch));
        if !self.pre.is_empty() {
            k.push('-');
            k.push_str(&self.pre.join("."));
        }
        k
    }
}

fn cmp_num(a: &str, b: &str) -> Ordering {
    super::dpkg::cmp_digits(a.as_bytes(), b.as_bytes())
}

/// SemVer precedence over the parts of two versions (shared by the borrowed and owned
/// forms).
pub(crate) fn cmp_parts<S: AsRef<str>, T: AsRef<str>>(
    a: [&str; 3],
    a_pre: &[S],
    b: [&str; 3],
    b_pre: &[T],
) -> Ordering {
    cmp_num(a[0], b[0])
        .then_with(|| cmp_num(a[1], b[1]))
        .then_with(|| cmp_num(a[2], b[2]))
        .then_with(|| match (a_pre.is_empty(), b_pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                for (x, y) in a_pre.iter().zip(b_pre) {
                    let (x, y) = (x.as_ref(), y.as_ref());
                    let ord = match (numeric(x), numeric(y)) {
                        (true, true) => cmp_num(x, y),
                        (true, false) => Ordering::Less,
                        (false, true) => Ordering::Greater,
                        (false, false) => x.cmp(y),
                    };
                    if ord != Ordering::Equal {
                        return ord;
                    }
                }
                a_pre.len().cmp(&b_pre.len())
            }
        })
}

impl Ord for SemVer<'_> {
    fn cmp(&self, o: &Self) -> Ordering {
        cmp_parts(
            [self.major, self.minor, self.patch],
            &self.pre,
            [o.major, o.minor, o.patch],
            &o.pre,
        )
    }
}
impl PartialOrd for SemVer<'_> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Compare two SemVer (or Go) versions.
pub fn compare(eco: Ecosystem, a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(eco, a)?.cmp(&parse(eco, b)?))
}
