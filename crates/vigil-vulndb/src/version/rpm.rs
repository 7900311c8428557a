//! RPM version ordering: `rpmvercmp` plus epoch:version-release (EVR) handling.
//!
//! Versions are split into alternating alphabetic and numeric segments; separators other
//! than `~` and `^` only delimit. `~` sorts before anything (even the end), `^` sorts after
//! the end but before any further segment. Numeric segments beat alphabetic ones, compare by
//! length after stripping leading zeros, then lexically, so no integer overflow is possible
//! (the rejected alternative, parsing to integers, breaks on long date stamps).
//!
//! An EVR string is `[epoch:]version[-release]`; a missing epoch is 0 (as `rpm -q` and
//! OSV's Red Hat/Rocky/Alma data treat it). A missing release compares as an empty one, so
//! `1.0 < 1.0-1`. (Rejected: rpm's dependency-matching rule of comparing releases only when
//! both sides have one; it is not transitive — `1.0-2 = 1.0 = 1.0-1` — and sorting range
//! events needs a total order. Installed packages and OSV fixed versions always carry a
//! release, so the choice only matters for hand-typed queries.)

use super::{Ecosystem, VersionError};
use std::cmp::Ordering;

/// The `rpmvercmp` algorithm on one version or release string.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let a = a.as_bytes();
    let b = b.as_bytes();
    let (mut i, mut j) = (0usize, 0usize);
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while i < a.len() && sep(a[i]) {
            i += 1;
        }
        while j < b.len() && sep(b[j]) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Ordering::Less;
            }
            if cb.is_none() {
                return Ordering::Greater;
            }
            if ca != Some(b'^') {
                return Ordering::Greater;
            }
            if cb != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(ca), Some(_)) = (ca, cb) else {
            break;
        };
        let numeric = ca.is_ascii_digit();
        let class = |c: &u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let sa = i;
        while i < a.len() && class(&a[i]) {
            i += 1;
        }
        let sb = j;
        while j < b.len() && class(&b[j]) {
            j += 1;
        }
        let (seg_a, seg_b) = (&a[sa..i], &b[sb..j]);
        if seg_b.is_empty() {
            // Different segment types: numeric is newer than alphabetic.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let o = if numeric {
            super::dpkg::cmp_digits(seg_a, seg_b)
        } else {
            seg_a.cmp(seg_b)
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// A parsed `[epoch:]version[-release]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evr<'a> {
    pub epoch: u64,
    pub version: &'a str,
    pub release: Option<&'a str>,
}

/// Split an EVR string. The epoch must be a decimal number; the release is what follows the
/// last `-`.
pub fn parse(v: &str) -> Result<Evr<'_>, VersionError> {
    if v.is_empty() {
        return Err(VersionError::new(Ecosystem::Rpm, v, "empty version"));
    }
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => {
            let n = e
                .parse::<u64>()
                .map_err(|_| VersionError::new(Ecosystem::Rpm, v, "epoch is too large"))?;
            (n, rest)
        }
        Some(_) => {
            return Err(VersionError::new(
                Ecosystem::Rpm,
                v,
                "epoch is not a number",
            ));
        }
        None => (0, v),
    };
    let (version, release) = match rest.rsplit_once('-') {
        Some((ver, rel)) => (ver, Some(rel)),
        None => (rest, None),
    };
    if version.is_empty() {
        return Err(VersionError::new(Ecosystem::Rpm, v, "empty version part"));
    }
    Ok(Evr {
        epoch,
        version,
        release,
    })
}

/// Compare two parsed EVRs.
pub fn cmp_evr(a: &Evr<'_>, b: &Evr<'_>) -> Ordering {
    a.epoch
        .cmp(&b.epoch)
        .then_with(|| rpmvercmp(a.version, b.version))
        .then_with(|| rpmvercmp(a.release.unwrap_or(""), b.release.unwrap_or("")))
}

/// Compare two `[epoch:]version[-release]` strings.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(cmp_evr(&parse(a)?, &parse(b)?))
}
