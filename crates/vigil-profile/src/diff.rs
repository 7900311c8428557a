//! What changed between two recordings of the same workloads: per workload, the syscalls,
//! executables, files, endpoints and capabilities added or removed.
//!
//! Compared as sets of display strings so one routine serves every section; we rejected a
//! structural diff of the YAML (it reports reordering and counters, which are noise here).

use crate::model::{Profile, Workload};
use std::collections::BTreeSet;
use std::fmt::Write;

/// One section's changes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Change {
    pub section: &'static str,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// Changes of one workload (`old`/`new` missing when it exists on one side only).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WorkloadDiff {
    pub name: String,
    pub only_in: Option<&'static str>,
    pub changes: Vec<Change>,
}

fn sections(w: &Workload) -> Vec<(&'static str, BTreeSet<String>)> {
    vec![
        (
            "syscalls",
            w.syscalls.iter().map(|s| s.as_str().to_string()).collect(),
        ),
        (
            "exec",
            w.exec
                .iter()
                .flat_map(|e| e.names.iter().map(move |n| format!("{} (as {n})", e.path)))
                .chain(
                    w.exec
                        .iter()
                        .filter(|e| e.names.is_empty())
                        .map(|e| e.path.to_string()),
                )
                .collect(),
        ),
        (
            "files.write",
            w.files.write.iter().map(|p| p.to_string()).collect(),
        ),
        (
            "files.read_sensitive",
            w.files
                .read_sensitive
                .iter()
                .map(|p| p.to_string())
                .collect(),
        ),
        (
            "network.listen",
            w.network.listen.iter().map(|e| e.to_string()).collect(),
        ),
        (
            "network.connect",
            w.network.connect.iter().map(|e| e.to_string()).collect(),
        ),
        (
            "capabilities",
            w.capabilities
                .iter()
                .map(|c| c.name.as_str().to_string())
                .collect(),
        ),
    ]
}

/// Compares two profiles workload by workload (matched by name).
pub fn diff(old: &Profile, new: &Profile) -> Vec<WorkloadDiff> {
    let mut out = Vec::new();
    for o in &old.workloads {
        let Some(n) = new.workloads.iter().find(|w| w.name == o.name) else {
            out.push(WorkloadDiff {
                name: o.name.clone(),
                only_in: Some("old"),
                changes: vec![],
            });
            continue;
        };
        let mut changes = Vec::new();
        for ((section, a), (_, b)) in sections(o).into_iter().zip(sections(n)) {
            let added: Vec<String> = b.difference(&a).cloned().collect();
            let removed: Vec<String> = a.difference(&b).cloned().collect();
            if !added.is_empty() || !removed.is_empty() {
                changes.push(Change {
                    section,
                    added,
                    removed,
                });
            }
        }
        out.push(WorkloadDiff {
            name: o.name.clone(),
            only_in: None,
            changes,
        });
    }
    for n in &new.workloads {
        if !old.workloads.iter().any(|w| w.name == n.name) {
            out.push(WorkloadDiff {
                name: n.name.clone(),
                only_in: Some("new"),
                changes: vec![],
            });
        }
    }
    out
}

/// Human-readable rendering; the bool is true when anything changed.
pub fn render(diffs: &[WorkloadDiff]) -> (String, bool) {
    let mut s = String::new();
    let mut any = false;
    for d in diffs {
        if let Some(side) = d.only_in {
            any = true;
            let _ = writeln!(s, "workload {}: only in the {side} profile", d.name);
            continue;
        }
        if d.changes.is_empty() {
            let _ = writeln!(s, "workload {}: no change", d.name);
            continue;
        }
        any = true;
        let _ = writeln!(s, "workload {}:", d.name);
        for c in &d.changes {
            let _ = writeln!(s, "  {}:", c.section);
            for a in &c.added {
                let _ = writeln!(s, "    + {a}");
            }
            for r in &c.removed {
                let _ = writeln!(s, "    - {r}");
            }
        }
    }
    (s, any)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_additions_and_removals() {
        let a = Profile::from_yaml("a", "version: 1\nworkloads:\n  - name: web\n    syscalls: [read, write]\n    exec: [{path: /bin/sh, names: [sh]}]\n  - name: old\n").unwrap();
        let b = Profile::from_yaml("b", "version: 1\nworkloads:\n  - name: web\n    syscalls: [read, ptrace]\n    exec: [{path: /bin/sh, names: [sh]}, {path: /usr/bin/nc, names: [nc]}]\n").unwrap();
        let d = diff(&a, &b);
        let (text, any) = render(&d);
        assert!(any);
        assert!(text.contains("    + ptrace\n    - write\n"), "{text}");
        assert!(text.contains("+ /usr/bin/nc (as nc)"), "{text}");
        assert!(
            text.contains("workload old: only in the old profile"),
            "{text}"
        );
        let (text, any) = render(&diff(&b, &b));
        assert!(!any);
        assert!(text.contains("no change"));
    }
}
