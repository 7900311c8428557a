//! Compiles validated policies into the entries the kernel programs look up, and explains
//! overlaps. Pure: no kernel, fully unit-tested.
//!
//! Each policy gets its own *slot*; a container's entry lists the slots of every policy that
//! selects it, and the kernel evaluates them one by one (deny if any policy denies; the
//! decision is enforced if any denying policy is in enforce mode). We rejected merging all
//! policies of a container into one rule set: merged allow-lists change meaning (A allows
//! `/usr/bin/*`, B allows only nginx — union or intersection?), a mode switch would need a
//! recompile of every container, and per-container tables multiply kernel memory.
//!
//! Within one policy, deny beats allow: an allow entry that lies under a deny entry of the
//! same kind is dropped, so the kernel's longest-prefix lookup can only land on an allow
//! entry when no deny entry matches. Network entries are flattened: each CIDR's value lists
//! its own rules plus those of every enclosing CIDR, denies first, so the longest-prefix
//! match carries every rule that could apply.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::kernel::{self, NET_RULES};
use crate::policy::{Mode, NetRule, PathPattern, Policy, PolicyFile};

/// What a path entry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Allow,
    Deny,
}

/// The kind byte of a path entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathKind {
    Exec,
    Read,
    Write,
    Unix,
}

impl PathKind {
    pub fn code(self) -> u8 {
        match self {
            PathKind::Exec => kernel::KIND_EXEC,
            PathKind::Read => kernel::KIND_READ,
            PathKind::Write => kernel::KIND_WRITE,
            PathKind::Unix => kernel::KIND_UNIX,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PathEntry {
    pub kind: PathKind,
    pub bytes: Vec<u8>,
    pub verdict: Verdict,
}

/// One flattened network rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlatRule {
    pub verdict: Verdict,
    pub proto: u8,
    pub lo: u16,
    pub hi: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetEntry {
    pub addr: IpAddr,
    pub prefix: u8,
    pub rules: Vec<FlatRule>,
}

/// One policy, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledPolicy {
    pub policy: Policy,
    pub exec_default_deny: bool,
    pub net_default_deny: bool,
    pub paths: Vec<PathEntry>,
    pub nets: Vec<NetEntry>,
}

impl CompiledPolicy {
    pub fn flags(&self) -> u32 {
        (if self.exec_default_deny {
            kernel::F_EXEC_DEFAULT_DENY
        } else {
            0
        }) | (if self.net_default_deny {
            kernel::F_NET_DEFAULT_DENY
        } else {
            0
        })
    }
}

/// A compile error (a limit of the kernel representation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub policy: String,
    pub location: String,
    pub message: String,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: policy `{}`: {}",
            self.location, self.policy, self.message
        )
    }
}

/// Compiles one policy.
pub fn compile_policy(p: &Policy) -> Result<CompiledPolicy, CompileError> {
    let mut paths: Vec<PathEntry> = Vec::new();
    let mut add = |kind: PathKind, list: &[PathPattern], verdict: Verdict| {
        for pat in list {
            for bytes in pat.kernel_prefixes() {
                paths.push(PathEntry {
                    kind,
                    bytes,
                    verdict,
                });
            }
        }
    };
    add(PathKind::Exec, &p.exec.allow, Verdict::Allow);
    add(PathKind::Exec, &p.exec.deny, Verdict::Deny);
    add(PathKind::Read, &p.files.deny_read, Verdict::Deny);
    add(PathKind::Write, &p.files.deny_write, Verdict::Deny);
    add(PathKind::Unix, &p.network.unix_deny, Verdict::Deny);
    paths.sort();
    paths.dedup();
    // Deny beats allow within a policy (see module doc). Also drops an allow whose exact
    // bytes equal a deny's.
    let denies: Vec<(PathKind, Vec<u8>)> = paths
        .iter()
        .filter(|e| e.verdict == Verdict::Deny)
        .map(|e| (e.kind, e.bytes.clone()))
        .collect();
    paths.retain(|e| {
        e.verdict == Verdict::Deny
            || !denies
                .iter()
                .any(|(k, d)| *k == e.kind && e.bytes.starts_with(d))
    });

    let mut rules: Vec<(&NetRule, Verdict)> = p
        .network
        .deny
        .iter()
        .map(|r| (r, Verdict::Deny))
        .chain(p.network.allow.iter().map(|r| (r, Verdict::Allow)))
        .collect();
    rules.sort_by_key(|(r, v)| (r.addr.is_ipv6(), r.prefix, r.addr, *v));
    let mut cidrs: Vec<(IpAddr, u8)> = rules.iter().map(|(r, _)| (r.addr, r.prefix)).collect();
    cidrs.dedup();
    let mut nets = Vec::new();
    for (addr, prefix) in cidrs {
        let probe = NetRule {
            addr,
            prefix,
            ports: Vec::new(),
            protocol: crate::policy::Protocol::Any,
            pos: Default::default(),
        };
        let mut flat = Vec::new();
        for verdict in [Verdict::Deny, Verdict::Allow] {
            for (r, v) in &rules {
                if *v != verdict || !r.contains_net(&probe) {
                    continue;
                }
                let ranges = if r.ports.is_empty() {
                    vec![(1, u16::MAX)]
                } else {
                    r.ports.clone()
                };
                for (lo, hi) in ranges {
                    // Port 0 (unconnected / any) is covered by port-less rules only.
                    let lo = if r.ports.is_empty() { 0 } else { lo };
                    flat.push(FlatRule {
                        verdict,
                        proto: r.protocol.number(),
                        lo,
                        hi,
                    });
                }
            }
        }
        if flat.len() > NET_RULES {
            return Err(CompileError {
                policy: p.name.clone(),
                location: p.location(),
                message: format!(
                    "{} rules (ports count one each) apply to {addr}/{prefix} including enclosing networks; the kernel table holds at most {NET_RULES}",
                    flat.len()
                ),
            });
        }
        nets.push(NetEntry {
            addr,
            prefix,
            rules: flat,
        });
    }
    Ok(CompiledPolicy {
        policy: p.clone(),
        exec_default_deny: !p.exec.allow.is_empty(),
        net_default_deny: p.network.default_deny,
        paths,
        nets,
    })
}

/// Compiles every policy of every file (all errors at once).
pub fn compile(files: &[PolicyFile]) -> Result<Vec<CompiledPolicy>, Vec<CompileError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        for p in &f.policies {
            match compile_policy(p) {
                Ok(c) => out.push(c),
                Err(e) => errors.push(e),
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A precedence note for `vigil policy validate`: two rules that meet, and which wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub location: String,
    pub message: String,
}

/// Could both scopes select the same container? Conservative: only literal, disjoint name
/// (or image) lists prove they cannot.
fn scopes_may_overlap(a: &Policy, b: &Policy) -> bool {
    let disjoint = |x: &[String], y: &[String]| {
        !x.is_empty()
            && !y.is_empty()
            && x.iter().chain(y).all(|s| !s.contains(['*', '?']))
            && !x.iter().any(|s| y.contains(s))
    };
    !(disjoint(&a.scope.names, &b.scope.names) || disjoint(&a.scope.images, &b.scope.images))
}

/// Explains overlaps and contradictions within and between policies.
pub fn precedence_notes(policies: &[Policy]) -> Vec<Note> {
    let mut notes = Vec::new();
    for p in policies {
        for allow in &p.exec.allow {
            for deny in &p.exec.deny {
                if overlaps(allow, deny) {
                    notes.push(Note {
                        location: p.location(),
                        message: format!(
                            "policy `{}`: exec.allow `{}` overlaps exec.deny `{}`: deny wins for the paths both match",
                            p.name,
                            allow.text(),
                            deny.text()
                        ),
                    });
                }
            }
        }
        for a in &p.network.allow {
            for d in &p.network.deny {
                if a.contains_net(d) || d.contains_net(a) {
                    notes.push(Note {
                        location: format!("{}:{}:{}", p.file.display(), a.pos.line, a.pos.col),
                        message: format!(
                            "policy `{}`: egress allow {} overlaps deny {}: deny wins where ports and protocol also match",
                            p.name,
                            a.cidr(),
                            d.cidr()
                        ),
                    });
                }
            }
        }
    }
    for (i, a) in policies.iter().enumerate() {
        for b in &policies[i + 1..] {
            if !scopes_may_overlap(a, b) {
                continue;
            }
            let both = format!(
                "policies `{}` ({}) and `{}` ({})",
                a.name, a.mode, b.name, b.mode
            );
            if !a.exec.allow.is_empty() && !b.exec.allow.is_empty() {
                notes.push(Note {
                    location: b.location(),
                    message: format!("{both} both have exec allow-lists and may select the same container: an executable runs only if EVERY allow-list admits it"),
                });
            }
            for (x, y) in [(a, b), (b, a)] {
                for allow in &x.exec.allow {
                    for deny in &y.exec.deny {
                        if overlaps(allow, deny) {
                            notes.push(Note {
                                location: y.location(),
                                message: format!(
                                    "`{}` allows `{}` but `{}` denies `{}`: deny wins ({} mode) for containers both select",
                                    x.name,
                                    allow.text(),
                                    y.name,
                                    deny.text(),
                                    y.mode
                                ),
                            });
                        }
                    }
                }
            }
            if a.mode != b.mode {
                let shared = shared_denies(a, b);
                if !shared.is_empty() {
                    let enforcing = if a.mode == Mode::Enforce {
                        &a.name
                    } else {
                        &b.name
                    };
                    notes.push(Note {
                        location: b.location(),
                        message: format!(
                            "{both} deny the same targets ({}); enforce beats audit: `{enforcing}` decides",
                            shared.join(", ")
                        ),
                    });
                }
            }
            if a.network.default_deny != b.network.default_deny {
                notes.push(Note {
                    location: b.location(),
                    message: format!(
                        "{both} disagree on egress default; deny wins: a connection must pass every policy"
                    ),
                });
            }
        }
    }
    notes
}

fn overlaps(a: &PathPattern, b: &PathPattern) -> bool {
    let (pa, pb) = (a.kernel_prefixes(), b.kernel_prefixes());
    pa.iter()
        .any(|x| pb.iter().any(|y| x.starts_with(y) || y.starts_with(x)))
}

fn shared_denies(a: &Policy, b: &Policy) -> Vec<String> {
    let mut out = Vec::new();
    let lists = |p: &Policy| -> BTreeMap<&'static str, Vec<PathPattern>> {
        BTreeMap::from([
            ("exec", p.exec.deny.clone()),
            ("read", p.files.deny_read.clone()),
            ("write", p.files.deny_write.clone()),
            ("unix", p.network.unix_deny.clone()),
        ])
    };
    let (la, lb) = (lists(a), lists(b));
    for (k, xs) in &la {
        for x in xs {
            if lb[k].iter().any(|y| overlaps(x, y)) {
                out.push(format!("{k} {}", x.text()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse_str;
    use std::path::Path;

    fn one(yaml: &str) -> CompiledPolicy {
        let f = parse_str(Path::new("t.yaml"), yaml).unwrap();
        compile_policy(&f.policies[0]).unwrap()
    }

    #[test]
    fn allow_under_deny_is_dropped() {
        let c = one("policies:\n- name: a\n  mode: enforce\n  exec:\n    allow: ['/usr/bin/*', /usr/bin/nc.openbsd]\n    deny: ['/usr/bin/nc*']\n");
        assert!(c.exec_default_deny);
        let allows: Vec<_> = c
            .paths
            .iter()
            .filter(|e| e.verdict == Verdict::Allow)
            .map(|e| e.bytes.clone())
            .collect();
        assert_eq!(allows, vec![b"/usr/bin/".to_vec()]);
        assert!(c
            .paths
            .iter()
            .any(|e| e.verdict == Verdict::Deny && e.bytes == b"/usr/bin/nc"));
    }

    #[test]
    fn exact_paths_get_nul_and_subtree() {
        let c = one("policies:\n- name: a\n  mode: audit\n  files:\n    deny_read: [/etc/shadow, /root/.ssh/]\n");
        let b: Vec<_> = c.paths.iter().map(|e| e.bytes.clone()).collect();
        assert!(b.contains(&b"/etc/shadow\0".to_vec()));
        assert!(b.contains(&b"/etc/shadow/".to_vec()));
        assert!(b.contains(&b"/root/.ssh/".to_vec()));
        assert!(b.contains(&b"/root/.ssh\0".to_vec()));
    }

    #[test]
    fn network_rules_are_flattened_denies_first() {
        let c = one("policies:\n- name: a\n  mode: enforce\n  network:\n    egress:\n      default: deny\n      allow: [{cidr: 127.0.0.0/8, ports: [80, '8000-8100'], protocol: tcp}]\n      deny: [{cidr: 127.0.0.5/32}]\n");
        assert!(c.net_default_deny);
        let host = c.nets.iter().find(|n| n.prefix == 32).unwrap();
        assert_eq!(host.rules[0].verdict, Verdict::Deny);
        assert_eq!((host.rules[0].lo, host.rules[0].hi), (0, u16::MAX));
        assert_eq!(host.rules.len(), 3);
        let net = c.nets.iter().find(|n| n.prefix == 8).unwrap();
        assert_eq!(
            net.rules,
            vec![
                FlatRule {
                    verdict: Verdict::Allow,
                    proto: 6,
                    lo: 80,
                    hi: 80
                },
                FlatRule {
                    verdict: Verdict::Allow,
                    proto: 6,
                    lo: 8000,
                    hi: 8100
                },
            ]
        );
    }

    #[test]
    fn too_many_rules_for_one_cidr_is_an_error() {
        let ports: Vec<String> = (1..=20).map(|p| p.to_string()).collect();
        let f = parse_str(Path::new("t.yaml"), &format!("policies:\n- name: a\n  mode: enforce\n  network:\n    egress:\n      allow: [{{cidr: 10.0.0.0/8, ports: [{}]}}]\n", ports.join(","))).unwrap();
        let e = compile_policy(&f.policies[0]).unwrap_err();
        assert!(e.message.contains("at most 16"), "{e}");
        assert!(
            e.to_string()
                .starts_with("t.yaml:2:3: policy `a`: 20 rules"),
            "{e}"
        );
    }

    #[test]
    fn notes_explain_precedence() {
        let f = parse_str(Path::new("p.yaml"), "policies:\n- name: a\n  mode: audit\n  exec:\n    allow: ['/usr/bin/*']\n  files:\n    deny_read: [/etc/shadow]\n- name: b\n  mode: enforce\n  exec:\n    deny: ['/usr/bin/nc*']\n  files:\n    deny_read: [/etc/]\n- name: c\n  mode: enforce\n  scope: {names: [x]}\n  exec:\n    allow: [/bin/sh]\n").unwrap();
        let notes = precedence_notes(&f.policies);
        let text: Vec<_> = notes.iter().map(|n| n.message.clone()).collect();
        assert!(
            text.iter()
                .any(|m| m.contains("`a` allows `/usr/bin/*` but `b` denies `/usr/bin/nc*`")),
            "{text:#?}"
        );
        assert!(
            text.iter()
                .any(|m| m.contains("enforce beats audit: `b` decides")),
            "{text:#?}"
        );
        assert!(
            text.iter().any(|m| m.contains("EVERY allow-list")),
            "{text:#?}"
        );
    }

    #[test]
    fn disjoint_names_do_not_overlap() {
        let f = parse_str(Path::new("p.yaml"), "policies:\n- name: a\n  mode: audit\n  scope: {names: [x]}\n  exec: {allow: [/bin/a]}\n- name: b\n  mode: enforce\n  scope: {names: [y]}\n  exec: {allow: [/bin/b]}\n").unwrap();
        assert!(precedence_notes(&f.policies).is_empty());
    }
}
