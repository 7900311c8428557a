//! Debian version ordering, as dpkg's `verrevcmp` defines it.
//!
//! A version is `[epoch:]upstream[-revision]`. Each part is compared as alternating runs of
//! non-digits (compared character by character with letters before non-letters and `~`
//! before everything, even the end of the string) and digits (compared numerically).
//! Digit runs are compared as strings with leading zeros stripped, so arbitrarily long
//! numbers work without overflow (the rejected alternative, parsing into `u64`, would fail
//! on the 20-digit snapshot dates some packages use).

use super::{Ecosystem, VersionError};
use std::cmp::Ordering;

/// A parsed Debian version, borrowing its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DebVersion<'a> {
    pub epoch: u64,
    pub upstream: &'a str,
    pub revision: &'a str,
}

fn err(v: &str, reason: &str) -> VersionError {
    VersionError::new(Ecosystem::Debian, v, reason)
}

/// Parse for comparison, as `dpkg --compare-versions` does: only hard errors are refused
/// (empty, embedded whitespace, bad epoch, nothing after the epoch). What dpkg merely warns
/// about (upstream not starting with a digit, odd characters, an empty upstream before a
/// revision) still compares; [`validate`] reports those.
pub fn parse(v: &str) -> Result<DebVersion<'_>, VersionError> {
    let s = v.trim();
    if s.is_empty() {
        return Err(err(v, "empty version"));
    }
    if s.chars().any(char::is_whitespace) {
        return Err(err(v, "embedded whitespace"));
    }
    let (epoch, rest) = match s.find(':') {
        Some(i) => {
            let e = &s[..i];
            if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(v, "epoch is not a number"));
            }
            let n: u64 = e.parse().map_err(|_| err(v, "epoch is too large"))?;
            if n > i32::MAX as u64 {
                return Err(err(v, "epoch is too large"));
            }
            (n, &s[i + 1..])
        }
        None => (0, s),
    };
    if rest.is_empty() {
        return Err(err(v, "nothing after the epoch"));
    }
    let (upstream, revision) = match rest.rfind('-') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    Ok(DebVersion {
        epoch,
        upstream,
        revision,
    })
}

/// Strict check with dpkg's `parseversion` errors and warnings: additionally the upstream
/// version must be non-empty, start with a digit and use only `[A-Za-z0-9.+~:-]`, and the
/// revision only `[A-Za-z0-9.+~]`.
pub fn validate(v: &str) -> Result<(), VersionError> {
    let p = parse(v)?;
    if p.upstream.is_empty() {
        return Err(err(v, "empty upstream version"));
    }
    if !p.upstream.as_bytes()[0].is_ascii_digit() {
        return Err(err(v, "upstream version does not start with a digit"));
    }
    if let Some(c) = p
        .upstream
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ".-+~:".contains(*c)))
    {
        return Err(err(
            v,
            &format!("invalid character {c:?} in upstream version"),
        ));
    }
    if let Some(c) = p
        .revision
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ".+~".contains(*c)))
    {
        return Err(err(v, &format!("invalid character {c:?} in revision")));
    }
    Ok(())
}

/// dpkg's character weight: `~` sorts first (before the end of the string, weight -1),
/// then the end / digits (0), then letters, then everything else (ASCII + 256).
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    }
}

/// Compare two digit strings numerically without parsing them.
pub(crate) fn cmp_digits(a: &[u8], b: &[u8]) -> Ordering {
    let strip = |d: &[u8]| -> usize { d.iter().take_while(|&&c| c == b'0').count() };
    let a = &a[strip(a)..];
    let b = &b[strip(b)..];
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// dpkg's `verrevcmp` on one part (upstream or revision).
pub fn verrevcmp(a: &str, b: &str) -> Ordering {
    let a = a.as_bytes();
    let b = b.as_bytes();
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() || j < b.len() {
        // Non-digit prefix.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied().filter(|c| !c.is_ascii_digit()));
            let bc = order(b.get(j).copied().filter(|c| !c.is_ascii_digit()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            if i < a.len() && !a[i].is_ascii_digit() {
                i += 1;
            }
            if j < b.len() && !b[j].is_ascii_digit() {
                j += 1;
            }
        }
        let si = i;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        let sj = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let o = cmp_digits(&a[si..i], &b[sj..j]);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Compare two parsed versions.
pub fn cmp_parsed(a: &DebVersion<'_>, b: &DebVersion<'_>) -> Ordering {
    a.epoch
        .cmp(&b.epoch)
        .then_with(|| verrevcmp(a.upstream, b.upstream))
        .then_with(|| verrevcmp(a.revision, b.revision))
}

/// Compare two Debian version strings.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(cmp_parsed(&parse(a)?, &parse(b)?))
}
