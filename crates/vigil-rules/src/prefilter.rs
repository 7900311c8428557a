//! Prefilters: what the rules need of an event, in terms the sensor can test in the kernel,
//! so that events no rule could match are never copied to user space.
//!
//! For the open family (`open`, `openat`, `openat2`, `creat`, `open_by_handle_at`) the
//! kernel knows, cheaply and exactly as the rules engine sees them, whether the file was
//! opened for writing or reading (`evt.is_open_write`, `evt.is_open_read`), whether the
//! call succeeded (`fd.num >= 0`, `evt.failed`), whether the path argument has the
//! traversal idiom (`fd.nameraw contains "../"`), and the resolved path (`fd.name`). The
//! analysis turns each rule's condition, as specialised for the event type by
//! [`crate::optimize`], into a *necessary* condition over those facts: a disjunction of
//! [`OpenClause`]s. Comparisons the kernel cannot test become "true" (the clause does not
//! constrain them), so the result is an over-approximation: every event a rule matches
//! passes the filter, some events that pass match nothing. The filter of an event type is
//! the disjunction over the rules tried on it.
//!
//! Path tests become [`PathSet`]s of exact paths and prefixes (`fd.name in (...)`,
//! `startswith`, `pmatch`, the literal head of a glob, `fd.directory`) and of last components
//! (`fd.filename`, the literal tail of `*/.aws/credentials`); the sensor compiles them into a
//! longest-prefix-match trie and a hash of names. Negated path tests cannot be expressed as
//! positive sets and are dropped from clauses (weakening, never strengthening).
//!
//! Rejected: evaluating the rules themselves in the kernel (the Falco language has regexes,
//! process ancestry and container metadata the kernel does not have), and hand-written
//! per-ruleset filters (they go stale the moment a user adds a rule; this one is derived from
//! whatever rules are loaded, upstream files included).

use crate::ast::Op;
use crate::compile::{Cmp, Operand, Rhs};
use crate::fields::{Arg, FieldRef, F};
use crate::optimize::{Expr, Plan};
use vigil_event::{EventType, ParamName};

pub use vigil_event::prefilter::{
    OpenClause, OpenFacts, OpenFilter, PathSet, MAX_CLAUSES, MAX_CLAUSE_PATHS, MAX_NAME_BYTES,
    MAX_PATH_BYTES,
};

/// The conjunction of two clauses, or `None` if they contradict.
fn and(a: &OpenClause, o: &OpenClause) -> Option<OpenClause> {
    fn both(a: Option<bool>, b: Option<bool>) -> Result<Option<bool>, ()> {
        match (a, b) {
            (Some(x), Some(y)) if x != y => Err(()),
            (Some(x), _) | (_, Some(x)) => Ok(Some(x)),
            _ => Ok(None),
        }
    }
    let mut paths = a.paths.clone();
    for p in &o.paths {
        if !paths.contains(p) {
            paths.push(p.clone());
        }
    }
    // Dropping a conjunct weakens the clause: still a necessary condition.
    paths.truncate(MAX_CLAUSE_PATHS);
    Some(OpenClause {
        write: both(a.write, o.write).ok()?,
        read: both(a.read, o.read).ok()?,
        ok: both(a.ok, o.ok).ok()?,
        dotdot: both(a.dotdot, o.dotdot).ok()?,
        create: both(a.create, o.create).ok()?,
        paths,
    })
}

/// Whether every event `strong` accepts is accepted by `weak` (checked conservatively: a
/// `false` answer may be wrong, a `true` one never is).
fn implies(strong: &OpenClause, weak: &OpenClause) -> bool {
    let flag = |w: Option<bool>, s: Option<bool>| w.is_none() || w == s;
    let covers = |w: &PathSet, s: &PathSet| {
        s.exact.iter().all(|x| w.exact.contains(x))
            && s.prefixes.iter().all(|x| w.prefixes.contains(x))
            && s.names.iter().all(|x| w.names.contains(x))
    };
    flag(weak.write, strong.write)
        && flag(weak.read, strong.read)
        && flag(weak.ok, strong.ok)
        && flag(weak.dotdot, strong.dotdot)
        && flag(weak.create, strong.create)
        && weak
            .paths
            .iter()
            .all(|w| strong.paths.iter().any(|s| covers(w, s)))
}

fn same_flags(a: &OpenClause, b: &OpenClause) -> bool {
    (a.write, a.read, a.ok, a.dotdot, a.create) == (b.write, b.read, b.ok, b.dotdot, b.create)
}

/// Adds clause `c` to the disjunction `d`, keeping it small without changing its meaning: a
/// clause implied by another is left out, and clauses with the same flags and one path set
/// each become one clause with the union of the sets (`(f and p in A) or (f and p in B)` is
/// `f and p in A ∪ B`). The kernel has room for [`MAX_CLAUSES`] clauses.
fn add_clause(d: &mut Dnf, c: OpenClause) {
    if d.iter().any(|a| implies(&c, a)) {
        return;
    }
    d.retain(|a| !implies(a, &c));
    if let [set] = c.paths.as_slice() {
        let twin = d
            .iter()
            .position(|m| m.paths.len() == 1 && same_flags(m, &c));
        if let Some(i) = twin {
            let mut merged = d.swap_remove(i);
            let u = &mut merged.paths[0];
            u.exact.extend(set.exact.iter().cloned());
            u.prefixes.extend(set.prefixes.iter().cloned());
            u.names.extend(set.names.iter().cloned());
            for v in [&mut u.exact, &mut u.prefixes, &mut u.names] {
                v.sort();
                v.dedup();
            }
            // The union may now imply, or be implied by, other clauses.
            add_clause(d, merged);
            return;
        }
    }
    d.push(c);
}

fn is_unconstrained(c: &OpenClause) -> bool {
    c.write.is_none()
        && c.read.is_none()
        && c.ok.is_none()
        && c.dotdot.is_none()
        && c.create.is_none()
        && c.paths.is_empty()
}

/// A formula during the analysis: a disjunction of clauses; `[unconstrained]` is "true",
/// `[]` is "false".
type Dnf = Vec<OpenClause>;

fn dnf_true() -> Dnf {
    vec![OpenClause::default()]
}

fn is_true(d: &Dnf) -> bool {
    d.iter().any(is_unconstrained)
}

/// The open event types a prefilter applies to.
pub fn is_open_type(t: EventType) -> bool {
    matches!(
        t.name(),
        "open" | "openat" | "openat2" | "creat" | "open_by_handle_at"
    )
}

/// The prefilter for exit events of `t`, or `None` when every event of `t` must reach user
/// space (no usable restriction, or `t` is not an open type).
pub(crate) fn open_filter(plan: &Plan, t: EventType) -> Option<OpenFilter> {
    if !is_open_type(t) {
        return None;
    }
    let mut all: Dnf = Vec::new();
    for entry in plan.exit.get(t.index())?.iter() {
        let d = over(&entry.expr, plan, t);
        if is_true(&d) {
            return None;
        }
        for c in d {
            add_clause(&mut all, c);
        }
        if all.len() > MAX_CLAUSES {
            return None;
        }
    }
    all.sort();
    Some(OpenFilter { clauses: all })
}

/// The path guard of a rule's specialised condition `e`: its necessary condition with
/// everything but path tests dropped, or `None` when some way of matching tests no path.
pub(crate) fn path_guard(
    plan: &Plan,
    e: &Expr,
    t: EventType,
    idx: &mut crate::guard::PathIndex,
) -> Option<crate::guard::Guard> {
    let mut any = 0u64;
    let mut pairs: Vec<(u64, u64)> = Vec::new();
    for c in over(e, plan, t) {
        match c.paths.as_slice() {
            [] => return None,
            [a] => any |= idx.bit(a),
            [a, b, ..] => {
                let p = (idx.bit(a), idx.bit(b));
                if !pairs.contains(&p) {
                    pairs.push(p);
                }
            }
        }
    }
    Some(crate::guard::Guard {
        any,
        pairs: pairs.into(),
    })
}

/// A necessary condition for `e` (over-approximation).
fn over(e: &Expr, plan: &Plan, t: EventType) -> Dnf {
    match e {
        Expr::True | Expr::Type(_) | Expr::Dir { .. } | Expr::Const(true) => dnf_true(),
        Expr::Const(false) => Vec::new(),
        Expr::Leaf(i) => leaf(&plan.leaves[*i as usize].cmp, t).unwrap_or_else(dnf_true),
        Expr::Not(inner) => match &**inner {
            // Only a flag test negates exactly; a negated path test has no positive form.
            Expr::Leaf(i) => match leaf(&plan.leaves[*i as usize].cmp, t) {
                Some(d) if d.len() == 1 && d[0].paths.is_empty() => negate_flags(&d[0]),
                _ => dnf_true(),
            },
            _ => dnf_true(),
        },
        Expr::Or(items) => {
            let mut out: Dnf = Vec::new();
            for it in items.iter() {
                let d = over(it, plan, t);
                if is_true(&d) {
                    return dnf_true();
                }
                for c in d {
                    add_clause(&mut out, c);
                }
                if out.len() > MAX_CLAUSES {
                    return dnf_true();
                }
            }
            out
        }
        Expr::And(items) => {
            let mut acc = dnf_true();
            for it in items.iter() {
                let d = over(it, plan, t);
                if is_true(&d) {
                    continue;
                }
                let mut next: Dnf = Vec::new();
                for a in &acc {
                    for b in &d {
                        if let Some(c) = and(a, b) {
                            if !next.contains(&c) {
                                next.push(c);
                            }
                        }
                    }
                }
                // Too many combinations: leave this operand out (a weaker, still
                // necessary, condition).
                if next.len() > MAX_CLAUSES {
                    continue;
                }
                acc = next;
                if acc.is_empty() {
                    break;
                }
            }
            acc
        }
    }
}

/// `not (single flag clause)`: one clause per negated flag (De Morgan).
fn negate_flags(c: &OpenClause) -> Dnf {
    let mut out = Vec::new();
    if let Some(w) = c.write {
        out.push(OpenClause {
            write: Some(!w),
            ..OpenClause::default()
        });
    }
    if let Some(r) = c.read {
        out.push(OpenClause {
            read: Some(!r),
            ..OpenClause::default()
        });
    }
    if let Some(k) = c.ok {
        out.push(OpenClause {
            ok: Some(!k),
            ..OpenClause::default()
        });
    }
    if let Some(d) = c.dotdot {
        out.push(OpenClause {
            dotdot: Some(!d),
            ..OpenClause::default()
        });
    }
    if let Some(k) = c.create {
        out.push(OpenClause {
            create: Some(!k),
            ..OpenClause::default()
        });
    }
    if out.is_empty() {
        // `not true`: nothing holds.
        return Vec::new();
    }
    out
}

fn field(c: &Cmp) -> Option<&FieldRef> {
    match &c.lhs {
        Operand::Field(f) if !c.multi => Some(f),
        _ => None,
    }
}

/// What a comparison says about an open event exactly, when it is a test the kernel can
/// make: a single-clause formula. `None` for everything else (treated as unknown).
fn leaf(c: &Cmp, t: EventType) -> Option<Dnf> {
    let f = field(c)?;
    let flag = |v: bool| -> Option<bool> {
        match (&c.op, &c.rhs) {
            (Op::Eq, Rhs::Bool(b)) => Some(*b == v),
            (Op::Ne, Rhs::Bool(b)) => Some(*b != v),
            _ => None,
        }
    };
    let one = |c: OpenClause| Some(vec![c]);
    match f.id {
        F::EvtIsOpenWrite => one(OpenClause {
            write: Some(flag(true)?),
            ..OpenClause::default()
        }),
        F::EvtIsOpenRead => one(OpenClause {
            read: Some(flag(true)?),
            ..OpenClause::default()
        }),
        F::EvtIsOpenCreate => one(OpenClause {
            create: Some(flag(true)?),
            ..OpenClause::default()
        }),
        // `evt.arg.flags` renders the open flags by name: it contains `O_CREAT` exactly when
        // the bit is set (no other flag's name contains it).
        // (`creat` has no flags argument: the test is false there, though the file is
        // created.)
        F::EvtArg if f.arg == Arg::Param(ParamName::Flags) && t.name() != "creat" => {
            match (&c.op, &c.rhs) {
                (Op::Contains, Rhs::Finder(fi)) if fi.needle() == b"O_CREAT" => one(OpenClause {
                    create: Some(true),
                    ..OpenClause::default()
                }),
                _ => None,
            }
        }
        F::EvtFailed => one(OpenClause {
            ok: Some(!flag(true)?),
            ..OpenClause::default()
        }),
        // On an open event `fd.num` is the returned descriptor, or missing if it failed.
        F::FdNum | F::EvtRawres => {
            let n = match (&c.op, &c.rhs) {
                (Op::Ge, Rhs::Num(n)) => *n,
                (Op::Gt, Rhs::Num(n)) => n.checked_add(1)?,
                _ => return None,
            };
            // `>= 0` is exactly success; `>= 3` implies it but is not exact, and only
            // exact tests may be used (they are also negated).
            (n == 0).then(|| {
                vec![OpenClause {
                    ok: Some(true),
                    ..OpenClause::default()
                }]
            })
        }
        // The traversal idiom. `fd.nameraw` is the path argument (the resolved path, which
        // has no `..`, when the argument could not be read).
        F::FdNameraw => match (&c.op, &c.rhs) {
            (Op::Contains, Rhs::Finder(fi)) if fi.needle() == b"../" => one(OpenClause {
                dotdot: Some(true),
                ..OpenClause::default()
            }),
            _ => None,
        },
        F::FdName | F::FdDirectory | F::FdFilename => {
            let set = path_set(f.id, c)?;
            one(OpenClause {
                paths: vec![set],
                ..OpenClause::default()
            })
        }
        _ => None,
    }
}

/// The paths a `fd.name`/`fd.directory` test can accept (a superset: used only positively).
fn path_set(id: F, c: &Cmp) -> Option<PathSet> {
    let mut s = PathSet::default();
    let usable = |p: &str| p.starts_with('/') && p.len() <= MAX_PATH_BYTES;
    // `fd.directory` is the path itself (directories) or its parent: at or below the dir.
    let dir = |d: &str, s: &mut PathSet| -> Option<()> {
        let d = d.trim_end_matches('/');
        if d.is_empty() || !usable(d) {
            return None;
        }
        s.exact.push(d.to_string());
        s.prefixes.push(format!("{d}/"));
        Some(())
    };
    let name = |n: &str, s: &mut PathSet| -> Option<()> {
        if n.is_empty() || n.contains('/') || n.len() > MAX_NAME_BYTES {
            return None;
        }
        s.names.push(n.to_string());
        Some(())
    };
    match (id, &c.op, &c.rhs) {
        (F::FdName, Op::Eq, Rhs::Str(x)) if usable(x) => s.exact.push(x.to_string()),
        (F::FdName, Op::StartsWith, Rhs::Str(x)) if usable(x) => s.prefixes.push(x.to_string()),
        (F::FdName, Op::In | Op::Intersects, Rhs::StrSet(set)) => {
            for x in set.iter() {
                if !usable(x) {
                    return None;
                }
                s.exact.push(x.to_string());
            }
        }
        (F::FdName, Op::Pmatch, Rhs::Paths(t)) => {
            for root in t.roots() {
                // A root with no component matches every path.
                if root == "/" {
                    return None;
                }
                dir(root, &mut s)?;
            }
        }
        (F::FdName, Op::Glob, Rhs::Glob(g)) => {
            let head = std::str::from_utf8(g.literal_head()).ok()?;
            let tail = std::str::from_utf8(g.literal_tail()).ok()?;
            if g.is_literal() && usable(head) {
                s.exact.push(head.to_string());
            } else if usable(head) {
                s.prefixes.push(head.to_string());
            } else if let Some((_, last)) = tail.rsplit_once('/') {
                // `*/.aws/credentials`: the last component is literal.
                name(last, &mut s)?;
            } else {
                return None;
            }
        }
        (F::FdDirectory, Op::Eq, Rhs::Str(x)) => dir(x, &mut s)?,
        (F::FdFilename, Op::Eq, Rhs::Str(x)) => name(x, &mut s)?,
        (F::FdFilename, Op::In | Op::Intersects, Rhs::StrSet(set)) => {
            for x in set.iter() {
                name(x, &mut s)?;
            }
        }
        (F::FdDirectory, Op::In | Op::Intersects, Rhs::StrSet(set)) => {
            for x in set.iter() {
                dir(x, &mut s)?;
            }
        }
        _ => return None,
    }
    s.exact.sort();
    s.exact.dedup();
    s.prefixes.sort();
    s.prefixes.dedup();
    s.names.sort();
    s.names.dedup();
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(rules: &str, t: &str) -> Option<OpenFilter> {
        let l = crate::load(
            &[crate::RuleSource {
                name: "t.yaml".into(),
                text: rules.into(),
            }],
            &crate::LoadOptions::default(),
        )
        .unwrap();
        l.ruleset.open_prefilter(EventType::from_name(t).unwrap())
    }

    fn rule(cond: &str) -> String {
        format!("- rule: r\n  desc: d\n  condition: {cond}\n  output: o\n  priority: info\n")
    }

    #[test]
    fn write_and_path_tests_become_clauses() {
        let f = filter(
            &rule("evt.type = openat and evt.is_open_write = true and fd.num >= 0 and fd.name pmatch (/usr/bin, /etc/)"),
            "openat",
        )
        .unwrap();
        assert_eq!(f.clauses.len(), 1);
        let c = &f.clauses[0];
        assert_eq!((c.write, c.read, c.ok), (Some(true), None, Some(true)));
        assert_eq!(c.paths[0].exact, vec!["/etc", "/usr/bin"]);
        assert_eq!(c.paths[0].prefixes, vec!["/etc/", "/usr/bin/"]);
        let facts = |write, ok, path| OpenFacts {
            write,
            read: !write,
            ok,
            dotdot: false,
            create: false,
            path,
        };
        assert!(f.passes(&facts(true, true, Some("/usr/bin/x"))));
        assert!(!f.passes(&facts(false, true, Some("/usr/bin/x"))));
        assert!(!f.passes(&facts(true, true, Some("/tmp/x"))));
        assert!(!f.passes(&facts(true, false, None)));
    }

    #[test]
    fn unknown_tests_and_negated_paths_do_not_constrain() {
        // `proc.name` is not known in the kernel: the read side passes everything.
        assert_eq!(
            filter(&rule("evt.type = openat and proc.name = cat"), "openat"),
            None
        );
        let f = filter(
            &rule(
                "evt.type = openat and not evt.is_open_read = true and not fd.name startswith /tmp",
            ),
            "openat",
        )
        .unwrap();
        assert_eq!(f.clauses.len(), 1);
        assert_eq!(f.clauses[0].read, Some(false));
        assert!(f.clauses[0].paths.is_empty());
        // Not an open type.
        assert_eq!(
            filter(&rule("evt.type = connect and fd.num >= 0"), "connect"),
            None
        );
    }

    #[test]
    fn globs_directories_and_unusable_paths() {
        let f = filter(
            &rule("evt.type = openat and (fd.name glob '/proc/*/environ' or fd.directory in (/etc/cron.d, /var/spool/cron/))"),
            "openat",
        )
        .unwrap();
        // Both alternatives have the same flags: one clause with the union of their paths.
        assert_eq!(f.clauses.len(), 1);
        let set = &f.clauses[0].paths[0];
        assert_eq!(set.exact, vec!["/etc/cron.d", "/var/spool/cron"]);
        assert_eq!(
            set.prefixes,
            vec!["/etc/cron.d/", "/proc/", "/var/spool/cron/"]
        );
        // A glob without a literal head, a relative path: unknown, so no filter.
        assert_eq!(
            filter(
                &rule("evt.type = openat and fd.name glob '*/.aws/*'"),
                "openat"
            ),
            None
        );
        assert_eq!(
            filter(
                &rule("evt.type = openat and fd.name startswith tmp/"),
                "openat"
            ),
            None
        );
    }

    #[test]
    fn implied_clauses_are_dropped_and_twins_merged() {
        let clause = |write: Option<bool>, ok: Option<bool>, paths: Vec<PathSet>| OpenClause {
            write,
            ok,
            paths,
            ..OpenClause::default()
        };
        let etc = PathSet::of(&[], &["/etc/"], &[]);
        let bin = PathSet::of(&["/bin"], &["/bin/"], &[]);
        let mut d = Vec::new();
        add_clause(&mut d, clause(Some(true), Some(true), vec![etc.clone()]));
        add_clause(&mut d, clause(Some(true), Some(true), vec![bin.clone()]));
        assert_eq!(d.len(), 1, "same flags: merged");
        assert_eq!(d[0].paths[0].prefixes, vec!["/bin/", "/etc/"]);
        // A clause with two path sets is not merged (that would weaken it).
        add_clause(
            &mut d,
            clause(Some(false), None, vec![etc.clone(), bin.clone()]),
        );
        assert_eq!(d.len(), 2);
        // "every successful write" implies nothing new and removes the narrower clause.
        add_clause(&mut d, clause(Some(true), Some(true), vec![]));
        assert_eq!(d.len(), 2);
        assert!(d
            .iter()
            .any(|c| c.write == Some(true) && c.paths.is_empty()));
        // Already implied: left out.
        add_clause(&mut d, clause(Some(true), Some(true), vec![etc]));
        assert_eq!(d.len(), 2);
    }

    /// Adding clauses one by one must keep the meaning of the plain disjunction, for any
    /// mix of flags and path sets.
    #[test]
    fn adding_clauses_keeps_the_meaning() {
        let sets = [
            PathSet::of(&["/etc/shadow"], &[], &[]),
            PathSet::of(&[], &["/etc/"], &[]),
            PathSet::of(&[], &["/proc/"], &["environ"]),
            PathSet::of(&["/bin"], &["/bin/"], &["id_rsa"]),
        ];
        let paths = [
            "/etc/shadow",
            "/etc/passwd",
            "/proc/1/environ",
            "/tmp/environ",
            "/bin/sh",
            "/home/a/.ssh/id_rsa",
            "/tmp/x",
        ];
        let tri = |x: u64| match x % 3 {
            0 => None,
            1 => Some(true),
            _ => Some(false),
        };
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..300 {
            let mut plain: Vec<OpenClause> = Vec::new();
            let mut small: Dnf = Vec::new();
            for _ in 0..(next() % 8) {
                let r = next();
                let mut c = OpenClause {
                    write: tri(r),
                    read: tri(r >> 4),
                    ok: tri(r >> 8),
                    dotdot: tri(r >> 12),
                    create: tri(r >> 16),
                    paths: Vec::new(),
                };
                for k in 0..((r >> 20) % 3) {
                    let set = sets[((r >> (24 + 2 * k)) % 4) as usize].clone();
                    if !c.paths.contains(&set) {
                        c.paths.push(set);
                    }
                }
                plain.push(c.clone());
                add_clause(&mut small, c);
            }
            assert!(small.len() <= plain.len());
            let (a, b) = (OpenFilter { clauses: plain }, OpenFilter { clauses: small });
            for bits in 0..32u32 {
                for path in paths.iter().map(|p| Some(*p)).chain([None]) {
                    let facts = OpenFacts {
                        write: bits & 1 != 0,
                        read: bits & 2 != 0,
                        ok: bits & 4 != 0,
                        dotdot: bits & 8 != 0,
                        create: bits & 16 != 0,
                        path,
                    };
                    assert_eq!(
                        a.passes(&facts),
                        b.passes(&facts),
                        "{a:?} vs {b:?} on {facts:?}"
                    );
                }
            }
        }
    }
}
