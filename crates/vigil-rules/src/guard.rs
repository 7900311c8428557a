//! Path guards: a rule whose every way of matching tests `fd.name` (or `fd.directory`,
//! `fd.filename`) against fixed paths is skipped, without evaluating it, for events whose
//! path is in none of them.
//!
//! The guard of a rule comes from the same analysis as the kernel prefilters
//! ([`crate::prefilter`]), projected onto path tests alone: tests of flags, success or
//! arguments are dropped (a weaker condition), so the guard depends on nothing but the
//! `fd.name` string the rule's own tests read. That makes it sound for any event, including
//! hand-written test events and replays, not only for the sensor's. One lookup per event
//! (exact paths and names in hash maps, prefixes bucketed by their first component) gives a
//! mask of the path sets the event's path is in; each guarded rule is then a mask test.
//!
//! Rejected: guarding on the open flags and success as the kernel does. Those tests read
//! different fields (`evt.is_open_write`, `evt.arg.flags`, `fd.num`, `evt.rawres`) that agree
//! on sensor events but not on arbitrary ones, so a guard on them could skip a rule a
//! hand-written event matches.

use crate::compile::FxHasher;
use crate::prefilter::PathSet;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// When a guarded rule can match: the event's path is in a set of `any`, or in a set of each
/// mask of one of `pairs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guard {
    pub any: u64,
    pub pairs: Box<[(u64, u64)]>,
}

impl Guard {
    #[inline]
    pub fn admits(&self, pmask: u64) -> bool {
        pmask & self.any != 0
            || self
                .pairs
                .iter()
                .any(|(a, b)| pmask & a != 0 && pmask & b != 0)
    }
}

/// The path sets of all guards, indexed for one lookup per event.
#[derive(Debug, Default)]
pub struct PathIndex {
    /// Bit of each distinct set.
    bits: Vec<(PathSet, u64)>,
    exact: FxMap<Box<str>, u64>,
    names: FxMap<Box<str>, u64>,
    /// Prefixes by their first path component (`/etc/x` -> `etc`), when the prefix contains
    /// the whole component; the others (`/e`, `/`) are always checked.
    by_first: FxMap<Box<str>, Vec<(Box<str>, u64)>>,
    other_prefixes: Vec<(Box<str>, u64)>,
}

impl PathIndex {
    /// The bit of `set`, allocated on first use (sets share bits past 64: a shared bit means
    /// "one of these sets", which only admits more).
    pub fn bit(&mut self, set: &PathSet) -> u64 {
        if let Some((_, b)) = self.bits.iter().find(|(s, _)| s == set) {
            return *b;
        }
        let b = 1u64 << (self.bits.len() % 64);
        self.bits.push((set.clone(), b));
        for e in &set.exact {
            *self.exact.entry(e.as_str().into()).or_default() |= b;
        }
        for n in &set.names {
            *self.names.entry(n.as_str().into()).or_default() |= b;
        }
        for p in &set.prefixes {
            match first_component(p) {
                Some(c) if p.len() > c.len() + 1 => self
                    .by_first
                    .entry(c.into())
                    .or_default()
                    .push((p.as_str().into(), b)),
                _ => self.other_prefixes.push((p.as_str().into(), b)),
            }
        }
        b
    }

    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// The mask of the sets `path` is in.
    pub fn mask(&self, path: &str) -> u64 {
        let mut m = self.exact.get(path).copied().unwrap_or(0);
        let base = match memchr::memrchr(b'/', path.as_bytes()) {
            Some(i) => &path[i + 1..],
            None => path,
        };
        if !base.is_empty() {
            m |= self.names.get(base).copied().unwrap_or(0);
        }
        if let Some(c) = first_component(path) {
            if let Some(v) = self.by_first.get(c) {
                for (p, b) in v {
                    if path.starts_with(&**p) {
                        m |= b;
                    }
                }
            }
        }
        for (p, b) in &self.other_prefixes {
            if path.starts_with(&**p) {
                m |= b;
            }
        }
        m
    }
}

/// `etc` for `/etc/...` (also for `/etc` itself); `None` for relative paths.
fn first_component(path: &str) -> Option<&str> {
    let rest = path.strip_prefix('/')?;
    Some(match rest.find('/') {
        Some(i) => &rest[..i],
        None => rest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(exact: &[&str], prefixes: &[&str], names: &[&str]) -> PathSet {
        PathSet::of(exact, prefixes, names)
    }

    #[test]
    fn index_masks_agree_with_set_membership() {
        let sets = [
            set(&["/etc/shadow"], &["/etc/sudoers.d/"], &[]),
            set(&[], &["/e", "/"], &[]),
            set(&[], &["/home/"], &["credentials"]),
            set(&["/usr/bin"], &["/usr/bin/", "/usr/b"], &[]),
        ];
        let mut idx = PathIndex::default();
        let bits: Vec<u64> = sets.iter().map(|s| idx.bit(s)).collect();
        assert_eq!(idx.bit(&sets[2]), bits[2], "a set keeps its bit");
        for path in [
            "/etc/shadow",
            "/etc/shadowx",
            "/etc/sudoers.d/x",
            "/home/u/.aws/credentials",
            "/credentials",
            "/usr/bin",
            "/usr/bin/ls",
            "/usr/bx",
            "relative/credentials",
            "",
            "/",
        ] {
            let m = idx.mask(path);
            for (s, b) in sets.iter().zip(&bits) {
                assert_eq!(m & b != 0, s.contains(path), "{path} {s:?}");
            }
        }
        let g = Guard {
            any: bits[0],
            pairs: vec![(bits[2], bits[1])].into(),
        };
        assert!(g.admits(idx.mask("/etc/shadow")));
        assert!(g.admits(idx.mask("/home/x")));
        assert!(!g.admits(idx.mask("/usr/bin/ls")));
    }
}
