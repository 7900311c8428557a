//! Compiles the rules' open prefilters ([`OpenFilter`], derived by `vigil-rules`) into the
//! kernel's maps: one [`Filter`] per open syscall (`filters`), a longest-prefix-match trie of
//! paths (`filter_paths`) and a hash of last components (`filter_names`).
//!
//! A filter is a disjunction of clauses over five atoms (write, read, success, `../`,
//! `O_CREAT`) and path sets. Since there are only 32 combinations of atoms, the clauses are
//! evaluated here, for each combination, into what remains to test on the path: nothing
//! (`always`), or "in one of these sets" (`any`), or "in a set of each of two masks"
//! (`pairs`). The kernel then decides with one array index and a mask test instead of a loop
//! over clauses. A combination needing more pairs than the kernel holds passes everything
//! (weaker, never wrong).
//!
//! Every distinct [`PathSet`] gets a bit of a 64-bit mask. A trie entry's value is the mask of
//! the sets it belongs to *and of every shorter entry it extends*: the kernel's trie lookup
//! returns only the longest matching entry, which then carries all the sets the path is in.
//! Exact paths are entered with their terminating NUL, so they match only themselves. A
//! name entry's value is the mask of the sets naming it. Past 64 sets, sets share bits: a
//! shared bit means "one of these sets", a weaker test, never a wrong drop.
//!
//! Pure code: [`compile`] returns what to write, and [`Compiled::passes`] models the kernel's
//! evaluation so tests can check it against [`OpenFilter::passes`].

use std::collections::BTreeMap;
use vigil_bpf::{filter, Filter, LpmKey, NameKey};
use vigil_event::prefilter::{OpenFacts, OpenFilter, PathSet};
use vigil_event::EventType;

/// What to write to the kernel maps.
#[derive(Debug, Default)]
pub struct Compiled {
    /// Per syscall number: its filter (the filter map index is the position in this list).
    pub filters: Vec<(u16, Filter)>,
    /// `filter_paths` entries.
    pub paths: Vec<(LpmKey, u64)>,
    /// `filter_names` entries.
    pub names: Vec<(NameKey, u64)>,
}

/// Where each open syscall keeps its flags: the argument index (after the kernel side has
/// expanded `openat2`'s `struct open_how` into arguments 2..4), or `creat`'s constant.
/// Syscalls not listed get no filter.
fn flags_arg(t: EventType) -> Option<u8> {
    Some(match t.name() {
        "open" => 1,
        "openat" | "openat2" => 2,
        "creat" => filter::FLAGS_CREAT,
        _ => return None,
    })
}

/// Compiles `filters` (open types without an entry, or with `None`, pass everything).
pub fn compile(filters: &[(EventType, Option<OpenFilter>)]) -> Compiled {
    let mut out = Compiled::default();
    let mut bits: BTreeMap<&PathSet, u64> = BTreeMap::new();
    for (t, f) in filters {
        let (Some(f), Some(flags_arg)) = (f, flags_arg(*t)) else {
            continue;
        };
        if out.filters.len() == filter::NR_FILTERS {
            continue;
        }
        let mut k = Filter {
            pass_all: 0,
            flags_arg,
            ..Filter::default()
        };
        for (atoms, combo) in k.combos.iter_mut().enumerate() {
            let has = |a: u8| atoms as u8 & a != 0;
            let fits = |want: Option<bool>, a: u8| match want {
                Some(w) => w == has(a),
                None => true,
            };
            for c in &f.clauses {
                if !(fits(c.write, filter::WRITE)
                    && fits(c.read, filter::READ)
                    && fits(c.ok, filter::OK)
                    && fits(c.dotdot, filter::DOTDOT)
                    && fits(c.create, filter::CREATE))
                {
                    continue;
                }
                let mut masks = c.paths.iter().map(|s| {
                    let n = bits.len() as u64;
                    *bits.entry(s).or_insert(1 << (n % 64))
                });
                match (masks.next(), masks.next()) {
                    (None, _) => combo.always = 1,
                    (Some(m), None) => combo.any |= m,
                    (Some(a), Some(b)) => {
                        let pair = [a, b];
                        let n = combo.npairs as usize;
                        if combo.pairs[..n].contains(&pair) {
                        } else if n < filter::PAIRS {
                            combo.pairs[n] = pair;
                            combo.npairs += 1;
                        } else {
                            combo.always = 1;
                        }
                    }
                }
            }
        }
        out.filters.push((t.0, k));
    }

    // Trie entries: (bytes incl. NUL for exact paths, mask), then each gets the masks of
    // the entries it extends.
    let mut entries: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    let mut names: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    for (set, bit) in &bits {
        for e in &set.exact {
            let mut k = e.as_bytes().to_vec();
            k.push(0);
            *entries.entry(k).or_default() |= bit;
        }
        for p in &set.prefixes {
            *entries.entry(p.as_bytes().to_vec()).or_default() |= bit;
        }
        for n in &set.names {
            *names.entry(n.as_bytes().to_vec()).or_default() |= bit;
        }
    }
    for (k, own) in &entries {
        let mut mask = *own;
        for (p, m) in &entries {
            if p.len() < k.len() && k.starts_with(p) {
                mask |= m;
            }
        }
        let mut key = LpmKey {
            prefixlen: (k.len() * 8) as u32,
            ..LpmKey::default()
        };
        key.data[..k.len()].copy_from_slice(k);
        out.paths.push((key, mask));
    }
    for (n, mask) in names {
        let mut key = NameKey::default();
        key.name[..n.len()].copy_from_slice(&n);
        out.names.push((key, mask));
    }
    out
}

impl Compiled {
    /// The kernel's decision for an open event of syscall `nr`, computed the way the eBPF
    /// side does it (longest-prefix match, name lookup, clause loop). `true` when `nr` has no
    /// filter.
    pub fn passes(&self, nr: u16, f: &OpenFacts<'_>) -> bool {
        let Some((_, k)) = self.filters.iter().find(|(n, _)| *n == nr) else {
            return true;
        };
        let mut atoms = 0usize;
        for (on, atom) in [
            (f.write, filter::WRITE),
            (f.read, filter::READ),
            (f.ok, filter::OK),
            (f.dotdot, filter::DOTDOT),
            (f.create, filter::CREATE),
        ] {
            if on {
                atoms |= atom as usize;
            }
        }
        if k.pass_all != 0 {
            return true;
        }
        let c = &k.combos[atoms];
        if c.always != 0 {
            return true;
        }
        let pmask = match f.path {
            None => 0,
            Some(p) => self.path_mask(p.as_bytes()),
        };
        pmask & c.any != 0
            || c.pairs[..c.npairs as usize]
                .iter()
                .any(|[a, b]| pmask & a != 0 && pmask & b != 0)
    }

    fn path_mask(&self, path: &[u8]) -> u64 {
        // The kernel compares at most LPM_BYTES bytes, with the NUL when the path is shorter.
        let mut key = path.to_vec();
        if key.len() < filter::LPM_BYTES {
            key.push(0);
        } else {
            key.truncate(filter::LPM_BYTES);
        }
        let mut mask = self
            .paths
            .iter()
            .filter(|(k, _)| {
                let n = k.prefixlen as usize / 8;
                n <= key.len() && k.data[..n] == key[..n]
            })
            .max_by_key(|(k, _)| k.prefixlen)
            .map_or(0, |(_, m)| *m);
        let leaf = path.rsplit(|b| *b == b'/').next().unwrap_or(path);
        if leaf.len() >= filter::NAME_BYTES {
            return u64::MAX;
        }
        if !leaf.is_empty() {
            let mut nk = NameKey::default();
            nk.name[..leaf.len()].copy_from_slice(leaf);
            if let Some((_, m)) = self.names.iter().find(|(k, _)| *k == nk) {
                mask |= m;
            }
        }
        mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_event::prefilter::OpenClause;

    fn set(exact: &[&str], prefixes: &[&str], names: &[&str]) -> PathSet {
        PathSet::of(exact, prefixes, names)
    }

    fn facts(write: bool, ok: bool, path: Option<&str>) -> OpenFacts<'_> {
        OpenFacts {
            write,
            read: !write,
            ok,
            dotdot: false,
            create: false,
            path,
        }
    }

    /// A model check: on many paths and facts, the compiled filter decides exactly like the
    /// reference meaning (no bit sharing below 64 sets).
    #[test]
    fn compiled_filters_decide_like_the_reference() {
        let etc = set(&["/etc"], &["/etc/"], &[]);
        let shadow = set(&["/etc/shadow", "/etc/gshadow"], &[], &[]);
        let bins = set(&["/usr/bin"], &["/usr/bin/", "/usr/b"], &[]);
        let creds = set(&[], &[], &["credentials", "config.json"]);
        let f = OpenFilter {
            clauses: vec![
                OpenClause {
                    write: Some(true),
                    ok: Some(true),
                    paths: vec![etc.clone()],
                    ..OpenClause::default()
                },
                OpenClause {
                    read: Some(true),
                    ok: Some(true),
                    paths: vec![shadow],
                    ..OpenClause::default()
                },
                OpenClause {
                    write: Some(true),
                    paths: vec![bins, etc],
                    ..OpenClause::default()
                },
                OpenClause {
                    read: Some(true),
                    dotdot: Some(false),
                    paths: vec![creds],
                    ..OpenClause::default()
                },
            ],
        };
        let openat = EventType::from_name("openat").unwrap();
        let c = compile(&[(openat, Some(f.clone()))]);
        assert_eq!(c.filters.len(), 1);
        let paths = [
            "/etc",
            "/etc/",
            "/etc/shadow",
            "/etc/shadowx",
            "/etc/gshadow",
            "/etcx",
            "/usr/bin",
            "/usr/bin/ls",
            "/usr/bx",
            "/home/u/.aws/credentials",
            "/credentials",
            "/x/config.json",
            "/x/config.jsonx",
            "/",
        ];
        let mut passed = 0;
        for p in paths.iter().map(|p| Some(*p)).chain([None]) {
            for write in [false, true] {
                for ok in [false, true] {
                    for dotdot in [false, true] {
                        let fa = OpenFacts {
                            dotdot,
                            ..facts(write, ok, p)
                        };
                        let want = f.passes(&fa);
                        assert_eq!(c.passes(openat.0, &fa), want, "{fa:?}");
                        passed += want as usize;
                    }
                }
            }
        }
        assert!(passed > 10, "the cases must exercise passing too");
    }

    #[test]
    fn trie_values_carry_shorter_entries_and_exact_paths_need_the_nul() {
        let f = OpenFilter {
            clauses: vec![
                OpenClause {
                    paths: vec![set(&[], &["/etc/"], &[])],
                    ..OpenClause::default()
                },
                OpenClause {
                    paths: vec![set(&["/etc/shadow"], &[], &[])],
                    ..OpenClause::default()
                },
            ],
        };
        let c = compile(&[(EventType::from_name("open").unwrap(), Some(f))]);
        let shadow = c
            .paths
            .iter()
            .find(|(k, _)| &k.data[..12] == b"/etc/shadow\0")
            .unwrap();
        assert_eq!(shadow.0.prefixlen, 12 * 8);
        assert_eq!(shadow.1, 0b11, "the exact entry also carries /etc/'s bit");
    }

    #[test]
    fn unfilterable_types_are_left_out_and_too_many_pairs_pass() {
        let c = compile(&[
            (
                EventType::from_name("open_by_handle_at").unwrap(),
                Some(OpenFilter::default()),
            ),
            (EventType::from_name("creat").unwrap(), None),
        ]);
        assert!(c.filters.is_empty());
        let creat = compile(&[(
            EventType::from_name("creat").unwrap(),
            Some(OpenFilter::default()),
        )]);
        assert_eq!(creat.filters[0].1.flags_arg, filter::FLAGS_CREAT);
        // An empty disjunction: nothing passes.
        assert!(!creat.passes(85, &facts(true, true, Some("/x"))));
        // More two-set clauses than a combination holds: it passes everything.
        let pairs = (0..filter::PAIRS + 1)
            .map(|i| OpenClause {
                paths: vec![
                    set(&[&format!("/a{i}")], &[], &[]),
                    set(&[&format!("/b{i}")], &[], &[]),
                ],
                ..OpenClause::default()
            })
            .collect();
        let c = compile(&[(
            EventType::from_name("openat").unwrap(),
            Some(OpenFilter { clauses: pairs }),
        )]);
        assert!(c.passes(257, &facts(false, true, Some("/elsewhere"))));
        let few = compile(&[(
            EventType::from_name("openat").unwrap(),
            Some(OpenFilter {
                clauses: vec![OpenClause {
                    paths: vec![set(&["/a"], &[], &[]), set(&[], &["/"], &[])],
                    ..OpenClause::default()
                }],
            }),
        )]);
        assert!(few.passes(257, &facts(false, true, Some("/a"))));
        assert!(!few.passes(257, &facts(false, true, Some("/b"))));
    }
}
