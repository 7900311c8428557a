//! Python version ordering per PEP 440, matching the `packaging` library.
//!
//! Parsing follows the PEP's permissive grammar (case-insensitive, optional `v`, alternate
//! spellings `alpha`/`beta`/`c`/`pre`/`preview`/`rev`/`r`, implicit numbers, `-N` post
//! releases, any of `-_.` as separators) and normalizes while parsing. The grammar is matched
//! by a small backtracking parser over its optional groups rather than a regex engine
//! (rejected: pulling `regex` into the crate for one pattern, and hand-written greedy code
//! that gets the rare backtracking cases, such as `1.0a-`, wrong).
//!
//! Numbers are kept as digit strings compared by length then lexically, so arbitrarily
//! large components never overflow.

use super::{Ecosystem, VersionError};
use std::cmp::Ordering;

/// A numeric component with leading zeros removed ("" is zero).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Num(String);

impl Num {
    fn new(digits: &str) -> Num {
        Num(digits.trim_start_matches('0').to_string())
    }
    fn zero() -> Num {
        Num(String::new())
    }
    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }
}

impl Ord for Num {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.len().cmp(&o.0.len()).then_with(|| self.0.cmp(&o.0))
    }
}
impl PartialOrd for Num {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Pre-release kind, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PreKind {
    Alpha,
    Beta,
    Rc,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum LocalPart {
    Str(String),
    Num(Num),
}

/// A parsed, normalized PEP 440 version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pep440 {
    epoch: Num,
    release: Vec<Num>,
    pre: Option<(PreKind, Num)>,
    post: Option<Num>,
    dev: Option<Num>,
    local: Vec<LocalPart>,
}

const PRE_LABELS: [(&str, PreKind); 8] = [
    ("preview", PreKind::Rc),
    ("alpha", PreKind::Alpha),
    ("beta", PreKind::Beta),
    ("pre", PreKind::Rc),
    ("rc", PreKind::Rc),
    ("a", PreKind::Alpha),
    ("b", PreKind::Beta),
    ("c", PreKind::Rc),
];
const POST_LABELS: [&str; 3] = ["post", "rev", "r"];

fn is_sep(c: u8) -> bool {
    matches!(c, b'-' | b'_' | b'.')
}

fn digits_at(s: &[u8], i: usize) -> usize {
    s[i.min(s.len())..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count()
}

/// A label match: (label index, digits range of its number if any, end position).
type LabelMatch = (usize, Option<(usize, usize)>, usize);

/// Candidate matches of `[-_.]? LABEL [-_.]? [0-9]*` at `i`, in the regex's preference order.
/// Returns (label index, number digits range, end).
fn label_candidates(s: &[u8], i: usize, labels: &[&str]) -> Vec<LabelMatch> {
    let mut out = Vec::new();
    let starts: &[usize] = if i < s.len() && is_sep(s[i]) {
        &[1, 0]
    } else {
        &[0]
    };
    for &skip in starts {
        let at = i + skip;
        for (li, label) in labels.iter().enumerate() {
            let l = label.as_bytes();
            if s.len() >= at + l.len() && &s[at..at + l.len()] == l {
                let after = at + l.len();
                let seps: &[usize] = if after < s.len() && is_sep(s[after]) {
                    &[1, 0]
                } else {
                    &[0]
                };
                for &sk in seps {
                    let n0 = after + sk;
                    let nd = digits_at(s, n0);
                    if nd > 0 {
                        out.push((li, Some((n0, n0 + nd)), n0 + nd));
                    }
                    out.push((li, None, n0));
                }
            }
        }
    }
    out
}

struct Tail {
    pre: Option<(PreKind, Num)>,
    post: Option<Num>,
    dev: Option<Num>,
    local: Vec<LocalPart>,
}

fn parse_local(s: &[u8], i: usize) -> Option<Vec<LocalPart>> {
    if i == s.len() {
        return Some(Vec::new());
    }
    if s[i] != b'+' {
        return None;
    }
    let body = std::str::from_utf8(&s[i + 1..]).ok()?;
    let mut parts = Vec::new();
    for p in body.split(['-', '_', '.']) {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        parts.push(if p.bytes().all(|c| c.is_ascii_digit()) {
            LocalPart::Num(Num::new(p))
        } else {
            LocalPart::Str(p.to_string())
        });
    }
    Some(parts)
}

fn num_of(s: &[u8], r: Option<(usize, usize)>) -> Num {
    match r {
        // The range holds ASCII digits only, so it is valid UTF-8.
        Some((a, b)) => Num::new(std::str::from_utf8(&s[a..b]).unwrap_or("")),
        None => Num::zero(),
    }
}

fn parse_dev(s: &[u8], i: usize) -> Option<(Option<Num>, Vec<LocalPart>)> {
    for (_, n, end) in label_candidates(s, i, &["dev"]) {
        if let Some(local) = parse_local(s, end) {
            return Some((Some(num_of(s, n)), local));
        }
    }
    parse_local(s, i).map(|l| (None, l))
}

fn parse_post(s: &[u8], i: usize) -> Option<(Option<Num>, Option<Num>, Vec<LocalPart>)> {
    // `-N` form.
    if i < s.len() && s[i] == b'-' {
        let nd = digits_at(s, i + 1);
        if nd > 0 {
            if let Some((dev, local)) = parse_dev(s, i + 1 + nd) {
                return Some((Some(num_of(s, Some((i + 1, i + 1 + nd)))), dev, local));
            }
        }
    }
    for (_, n, end) in label_candidates(s, i, &POST_LABELS) {
        if let Some((dev, local)) = parse_dev(s, end) {
            return Some((Some(num_of(s, n)), dev, local));
        }
    }
    parse_dev(s, i).map(|(dev, local)| (None, dev, local))
}

fn parse_tail(s: &[u8], i: usize) -> Option<Tail> {
    for (li, n, end) in label_candidates(s, i, &PRE_LABELS.map(|(l, _)| l)) {
        if let Some((post, dev, local)) = parse_post(s, end) {
            return Some(Tail {
                pre: Some((PRE_LABELS[li].1, num_of(s, n))),
                post,
                dev,
                local,
            });
        }
    }
    parse_post(s, i).map(|(post, dev, local)| Tail {
        pre: None,
        post,
        dev,
        local,
    })
}

impl Pep440 {
    /// Parse and normalize a version string.
    pub fn parse(v: &str) -> Result<Pep440, VersionError> {
        let err = |why: &str| VersionError::new(Ecosystem::Pypi, v, why);
        let lower = v.trim().to_ascii_lowercase();
        let s = lower.as_bytes();
        if s.is_empty() {
            return Err(err("empty version"));
        }
        let mut i = usize::from(s[0] == b'v');
        let mut epoch = Num::zero();
        let nd = digits_at(s, i);
        if nd > 0 && s.get(i + nd) == Some(&b'!') {
            epoch = num_of(s, Some((i, i + nd)));
            i += nd + 1;
        }
        let mut release = Vec::new();
        loop {
            let nd = digits_at(s, i);
            if nd == 0 {
                return Err(err("expected a release number"));
            }
            release.push(num_of(s, Some((i, i + nd))));
            i += nd;
            if s.get(i) == Some(&b'.') && digits_at(s, i + 1) > 0 {
                i += 1;
            } else {
                break;
            }
        }
        let tail = parse_tail(s, i).ok_or_else(|| err("not a PEP 440 version"))?;
        Ok(Pep440 {
            epoch,
            release,
            pre: tail.pre,
            post: tail.post,
            dev: tail.dev,
            local: tail.local,
        })
    }

    /// Whether this is a pre-release or development release.
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    fn release_trimmed(&self) -> &[Num] {
        let n = self
            .release
            .iter()
            .rposition(|x| !x.is_zero())
            .map_or(0, |p| p + 1);
        &self.release[..n]
    }
}

impl Pep440 {
    /// Canonical form with trailing zero release components removed: equal versions
    /// (`1.0`, `1.0.0`, `1!0...`) share it.
    pub fn match_key(&self) -> String {
        let mut t = self.clone();
        let n = t.release_trimmed().len().max(1);
        t.release.truncate(n);
        t.to_string()
    }
}

/// `packaging`'s sort key parts: -inf < value < +inf.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Bound<T> {
    NegInf,
    Val(T),
    PosInf,
}

fn cmp_local(a: &[LocalPart], b: &[LocalPart]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (LocalPart::Num(p), LocalPart::Num(q)) => p.cmp(q),
            (LocalPart::Num(_), LocalPart::Str(_)) => Ordering::Greater,
            (LocalPart::Str(_), LocalPart::Num(_)) => Ordering::Less,
            (LocalPart::Str(p), LocalPart::Str(q)) => p.cmp(q),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

impl Ord for Pep440 {
    fn cmp(&self, o: &Self) -> Ordering {
        // Borrowed keys: comparing allocates nothing (this is the hot path of matching).
        fn pre_key(v: &Pep440) -> Bound<(PreKind, &Num)> {
            match (&v.pre, &v.post, &v.dev) {
                (None, None, Some(_)) => Bound::NegInf,
                (None, _, _) => Bound::PosInf,
                (Some((k, n)), _, _) => Bound::Val((*k, n)),
            }
        }
        fn post_key(v: &Pep440) -> Bound<&Num> {
            v.post.as_ref().map_or(Bound::NegInf, Bound::Val)
        }
        fn dev_key(v: &Pep440) -> Bound<&Num> {
            v.dev.as_ref().map_or(Bound::PosInf, Bound::Val)
        }
        self.epoch
            .cmp(&o.epoch)
            .then_with(|| self.release_trimmed().cmp(o.release_trimmed()))
            .then_with(|| pre_key(self).cmp(&pre_key(o)))
            .then_with(|| post_key(self).cmp(&post_key(o)))
            .then_with(|| dev_key(self).cmp(&dev_key(o)))
            .then_with(|| match (self.local.is_empty(), o.local.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                (false, false) => cmp_local(&self.local, &o.local),
            })
    }
}
impl PartialOrd for Pep440 {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl std::fmt::Display for Pep440 {
    /// The normalized form, as `str(packaging.version.Version(v))` prints it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = |x: &Num| {
            if x.is_zero() {
                "0".to_string()
            } else {
                x.0.clone()
            }
        };
        if !self.epoch.is_zero() {
            write!(f, "{}!", n(&self.epoch))?;
        }
        let rel: Vec<String> = self.release.iter().map(n).collect();
        f.write_str(&rel.join("."))?;
        if let Some((k, num)) = &self.pre {
            let l = match k {
                PreKind::Alpha => "a",
                PreKind::Beta => "b",
                PreKind::Rc => "rc",
            };
            write!(f, "{l}{}", n(num))?;
        }
        if let Some(p) = &self.post {
            write!(f, ".post{}", n(p))?;
        }
        if let Some(d) = &self.dev {
            write!(f, ".dev{}", n(d))?;
        }
        if !self.local.is_empty() {
            let parts: Vec<String> = self
                .local
                .iter()
                .map(|p| match p {
                    LocalPart::Num(x) => n(x),
                    LocalPart::Str(s) => s.clone(),
                })
                .collect();
            write!(f, "+{}", parts.join("."))?;
        }
        Ok(())
    }
}

/// Compare two PEP 440 versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(Pep440::parse(a)?.cmp(&Pep440::parse(b)?))
}
