//! Collapsing observed file paths into a short baseline of files and directory prefixes.
//!
//! A recording sees concrete paths (`/tmp/tmpa8Xk2q`, `/var/cache/app/1234.json`); a useful
//! baseline names the places (`/tmp/`, `/var/cache/app/`). Rules, in order:
//! 1. scratch directories (`/tmp`, `/var/tmp`, `/dev/shm`, `/run`, `/var/run`) collapse to the
//!    directory itself; `/proc/<pid>/...` collapses to `/proc/`;
//! 2. a file name that looks generated (a run of 5+ digits, or a `tmp`-style random suffix)
//!    collapses to its directory;
//! 3. a directory with [`DIR_THRESHOLD`] or more distinct entries collapses to the directory;
//! 4. a path under a kept prefix is dropped. The root directory never becomes a prefix.
//!
//! We rejected learning globs (`/var/log/app-*.log`): more precise, but a glob learned from a
//! few samples is a guess, and the enforcement policy speaks prefixes, not globs.

use crate::model::AbsPath;
use std::collections::{BTreeMap, BTreeSet};

/// Entries in one directory from which the directory itself becomes the baseline.
pub const DIR_THRESHOLD: usize = 4;

const SCRATCH: &[&str] = &["/tmp/", "/var/tmp/", "/dev/shm/", "/run/", "/var/run/"];

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..=i],
    }
}

fn looks_generated(name: &str) -> bool {
    let mut run = 0;
    for c in name.chars() {
        if c.is_ascii_digit() {
            run += 1;
            if run >= 5 {
                return true;
            }
        } else {
            run = 0;
        }
    }
    let lower = name.to_ascii_lowercase();
    (lower.starts_with("tmp") || lower.starts_with(".tmp")) && name.len() >= 8
}

/// One path's first-stage form: a scratch prefix, a generated name's directory, or itself.
fn first_stage(path: &str) -> String {
    let is_dir = path.len() > 1 && path.ends_with('/');
    let path = path.trim_end_matches('/');
    let path = if path.is_empty() { "/" } else { path };
    for s in SCRATCH {
        if path.starts_with(s) || path == &s[..s.len() - 1] {
            return s.to_string();
        }
    }
    if let Some(rest) = path.strip_prefix("/proc/") {
        if rest.split('/').next().is_some_and(|c| {
            c.chars().all(|x| x.is_ascii_digit()) || c == "self" || c == "thread-self"
        }) {
            return "/proc/".into();
        }
    }
    let dir = parent(path);
    let name = &path[dir.len().min(path.len())..];
    if dir != "/" && looks_generated(name) {
        return dir.to_string();
    }
    if is_dir {
        format!("{path}/")
    } else {
        path.to_string()
    }
}

/// Collapses observed absolute paths into the baseline set (see the module documentation).
/// Relative or empty paths are ignored.
pub fn collapse<'a, I: IntoIterator<Item = &'a str>>(paths: I) -> BTreeSet<AbsPath> {
    let staged: BTreeSet<String> = paths
        .into_iter()
        .filter(|p| p.starts_with('/'))
        .map(first_stage)
        .collect();
    let mut per_dir: BTreeMap<&str, usize> = BTreeMap::new();
    for p in staged.iter().filter(|p| !p.ends_with('/')) {
        *per_dir.entry(parent(p)).or_default() += 1;
    }
    let mut out: BTreeSet<String> = BTreeSet::new();
    for p in &staged {
        let dir = parent(p.trim_end_matches('/'));
        if !p.ends_with('/')
            && dir != "/"
            && per_dir.get(dir).copied().unwrap_or(0) >= DIR_THRESHOLD
        {
            out.insert(dir.to_string());
        } else {
            out.insert(p.clone());
        }
    }
    // Drop anything under a kept prefix.
    let prefixes: Vec<String> = out.iter().filter(|p| p.ends_with('/')).cloned().collect();
    out.into_iter()
        .filter(|p| {
            !prefixes
                .iter()
                .any(|pre| pre != p && p.starts_with(pre.as_str()))
        })
        .filter_map(|p| AbsPath::try_from(p).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(paths: &[&str]) -> Vec<String> {
        collapse(paths.iter().copied())
            .into_iter()
            .map(String::from)
            .collect()
    }

    #[test]
    fn scratch_and_generated_names_collapse() {
        assert_eq!(
            c(&[
                "/tmp/tmpa8Xk2q9",
                "/tmp/x/y",
                "/dev/shm/sem.x",
                "/var/log/app.log"
            ]),
            ["/dev/shm/", "/tmp/", "/var/log/app.log"]
        );
        assert_eq!(c(&["/var/cache/app/1700000000.json"]), ["/var/cache/app/"]);
        assert_eq!(
            c(&["/proc/1234/oom_score_adj", "/proc/self/attr/exec"]),
            ["/proc/"]
        );
    }

    #[test]
    fn busy_directories_collapse_but_root_never_does() {
        assert_eq!(
            c(&["/data/a", "/data/b", "/data/c", "/data/d", "/etc/x"]),
            ["/data/", "/etc/x"]
        );
        assert_eq!(
            c(&["/data/a", "/data/b", "/data/c"]),
            ["/data/a", "/data/b", "/data/c"]
        );
        assert_eq!(c(&["/a", "/b", "/c", "/d", "/e"]).len(), 5);
        assert!(c(&["relative", ""]).is_empty());
    }

    #[test]
    fn prefixes_absorb_their_children() {
        assert_eq!(c(&["/srv/www/", "/srv/www/index.html"]), ["/srv/www/"]);
    }
}
