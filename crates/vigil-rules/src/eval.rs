//! Evaluation: run the rules indexed under an event's type and direction against it, each
//! as its condition specialised for that type ([`crate::optimize`]).
//!
//! Everything mutable lives in [`Scratch`] (string buffers for rendered values, reused across
//! events), so [`evaluate`] allocates nothing once the buffers have grown to the longest value
//! seen. Operands get disjoint buffers by splitting the slice (`split_first_mut`), which lets
//! a transformer read its argument's rendered value while writing its own without copying.

use crate::ast::{Op, Transformer};
use crate::compile::{Cmp, Operand, Rhs};
use crate::fields::{self, Cx, V};
use crate::optimize::{Expr, Leaf, Memo, NO_MEMO};
use crate::{RuleId, RuleMatching, Ruleset};
use std::fmt::Write;
use vigil_event::{Dir, Event, EventType, FdKind, StateView};

/// Reusable per-thread evaluation state.
#[derive(Debug, Default)]
pub struct Scratch {
    bufs: Vec<String>,
    memo: Memo,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch::default()
    }

    /// At least `2 * n` buffers (left and right side of a comparison).
    pub(crate) fn buffers(&mut self, n: usize) -> &mut [String] {
        let want = 2 * n.max(1);
        if self.bufs.len() < want {
            self.bufs.resize_with(want, String::new);
        }
        &mut self.bufs[..want]
    }
}

/// What walking a specialised condition needs besides the event.
struct Walk<'p, 'c, 'a, S: StateView + ?Sized> {
    leaves: &'p [Leaf],
    cx: &'c Cx<'a, S>,
    bufs: &'c mut [String],
    memo: &'c mut Memo,
}

pub(crate) fn evaluate<S: StateView + ?Sized>(
    rs: &Ruleset,
    ev: &Event<'_>,
    state: &S,
    scratch: &mut Scratch,
    matched: &mut Vec<RuleId>,
) {
    let prog = &rs.program;
    let t = ev.etype.index();
    if t >= EventType::MAX {
        return;
    }
    let list = if ev.dir == Dir::Exit {
        &prog.plan.exit[t]
    } else {
        &prog.plan.enter[t]
    };
    if list.is_empty() {
        return;
    }
    let cx = Cx::new(ev, state);
    scratch.memo.next_event(prog.plan.memo_slots);
    let Scratch { bufs, memo } = scratch;
    let want = 2 * prog.buffers.max(1);
    if bufs.len() < want {
        bufs.resize_with(want, String::new);
    }
    let mut w = Walk {
        leaves: &prog.plan.leaves,
        cx: &cx,
        bufs: &mut bufs[..want],
        memo,
    };
    // The event's path as its `fd.name` tests see it, looked up in the guards' sets once.
    let mut pmask: Option<u64> = None;
    for entry in list.iter() {
        if let Some(g) = &entry.guard {
            let m = *pmask.get_or_insert_with(|| path_mask(ev, &prog.plan.paths));
            if !g.admits(m) {
                continue;
            }
        }
        if w.expr(&entry.expr) {
            matched.push(RuleId(entry.rule));
            if rs.matching == RuleMatching::First {
                break;
            }
        }
    }
}

/// The guard sets that contain the event's path as its `fd.name` tests see it. A rendered
/// network tuple is never a path: no set contains it. `pmatch` compares path components, so
/// a relative name or one with `//` is also looked up in its absolute, collapsed form.
fn path_mask(ev: &Event<'_>, paths: &crate::guard::PathIndex) -> u64 {
    let Some(fd) = ev.fd else { return 0 };
    if fd.tuple.is_some() && matches!(fd.kind, FdKind::Ipv4 | FdKind::Ipv6) {
        return 0;
    }
    let name = fd.name;
    if name.is_empty() {
        return 0;
    }
    let mut m = paths.mask(name);
    if !name.starts_with('/') || name.contains("//") {
        // Rare (memfd names, hand-written events): normalised on the stack, no allocation.
        let mut norm = [0u8; 512];
        let mut n = 0;
        for c in name.split('/').filter(|c| !c.is_empty()) {
            if n + 1 + c.len() > norm.len() {
                return u64::MAX;
            }
            norm[n] = b'/';
            norm[n + 1..n + 1 + c.len()].copy_from_slice(c.as_bytes());
            n += 1 + c.len();
        }
        if n == 0 {
            norm[0] = b'/';
            n = 1;
        }
        // Whole components of a valid string joined by '/': valid UTF-8.
        if let Ok(norm) = std::str::from_utf8(&norm[..n]) {
            m |= paths.mask(norm);
        }
    }
    m
}

impl<S: StateView + ?Sized> Walk<'_, '_, '_, S> {
    fn expr(&mut self, e: &Expr) -> bool {
        match e {
            Expr::And(items) => items.iter().all(|i| self.item(i)),
            Expr::Or(items) => items.iter().any(|i| self.item(i)),
            Expr::Not(inner) => !self.item(inner),
            Expr::True => true,
            Expr::Const(b) => *b,
            Expr::Type(set) => set.contains(self.cx.ev.etype),
            Expr::Dir { enter, exit } => {
                if self.cx.ev.dir == Dir::Enter {
                    *enter
                } else {
                    *exit
                }
            }
            Expr::Leaf(i) => self.leaf(*i),
        }
    }

    /// An operand of `and`/`or`/`not`: leaves, the most common operands, are evaluated in
    /// place; only nested operators recurse (a call per leaf was a tenth of the time).
    #[inline(always)]
    fn item(&mut self, e: &Expr) -> bool {
        match e {
            Expr::Leaf(i) => self.leaf(*i),
            _ => self.expr(e),
        }
    }

    #[inline(always)]
    fn leaf(&mut self, i: u32) -> bool {
        let leaf = &self.leaves[i as usize];
        if leaf.memo == NO_MEMO {
            return eval_cmp(&leaf.cmp, self.cx, self.bufs);
        }
        if let Some(r) = self.memo.get(leaf.memo) {
            return r;
        }
        let r = eval_cmp(&leaf.cmp, self.cx, self.bufs);
        self.memo.set(leaf.memo, r);
        r
    }
}

fn eval_cmp<S: StateView + ?Sized>(c: &Cmp, cx: &Cx<'_, S>, bufs: &mut [String]) -> bool {
    let half = bufs.len() / 2;
    let (lb, rb) = bufs.split_at_mut(half);
    // The common shape, one single-valued field against constants, goes straight to the
    // field's extractor.
    if let (Operand::Field(f), false, false) = (&c.lhs, c.multi, c.op == Op::Exists) {
        if !f.multi {
            if let Some(buf) = lb.first_mut() {
                return match fields::extract_single(f, cx, buf) {
                    V::Na => false,
                    v => compare(v, c.op, &c.rhs, cx, rb),
                };
            }
        }
    }
    if c.op == Op::Exists {
        for i in 0.. {
            match eval_operand(&c.lhs, cx, i, &mut *lb) {
                None => return false,
                Some(V::Na) => continue,
                Some(_) => return true,
            }
        }
        return false;
    }
    if c.multi {
        let subset = c.subset;
        let mut count = 0;
        for i in 0.. {
            let Some(v) = eval_operand(&c.lhs, cx, i, &mut *lb) else {
                break;
            };
            if v == V::Na {
                continue;
            }
            count += 1;
            let m = compare(v, c.op, &c.rhs, cx, &mut *rb);
            if subset {
                if !m {
                    return false;
                }
            } else if m {
                return true;
            }
        }
        return subset && count > 0;
    }
    match eval_operand(&c.lhs, cx, 0, lb) {
        None | Some(V::Na) => false,
        Some(v) => compare(v, c.op, &c.rhs, cx, rb),
    }
}

/// ASCII case-insensitive substring search; `needle` is already lowercase.
fn icontains(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    if needle.len() > hay.len() {
        return false;
    }
    let first = needle[0];
    (0..=hay.len() - needle.len()).any(|i| {
        hay[i].to_ascii_lowercase() == first
            && hay[i..i + needle.len()]
                .iter()
                .zip(needle)
                .all(|(a, b)| a.to_ascii_lowercase() == *b)
    })
}

#[inline]
fn compare_text(s: &[u8], op: Op, rhs: &Rhs) -> bool {
    match (op, rhs) {
        (Op::Eq, Rhs::Str(x)) => s == x.as_bytes(),
        (Op::Ne, Rhs::Str(x)) => s != x.as_bytes(),
        (Op::Contains, Rhs::Finder(f)) => f.find(s).is_some(),
        (Op::IContains, Rhs::Lower(n)) => icontains(s, n),
        (Op::StartsWith, Rhs::Str(x)) => s.starts_with(x.as_bytes()),
        (Op::EndsWith, Rhs::Str(x)) => s.ends_with(x.as_bytes()),
        (Op::BContains, Rhs::Bytes(b)) => memchr::memmem::find(s, b).is_some(),
        (Op::BStartsWith, Rhs::Bytes(b)) => s.starts_with(b),
        (Op::Glob | Op::IGlob, Rhs::Glob(g)) => g.matches(s),
        (Op::Regex, Rhs::Regex(r)) => std::str::from_utf8(s).is_ok_and(|s| r.is_match(s)),
        (Op::In | Op::Intersects, Rhs::StrSet(set)) => {
            std::str::from_utf8(s).is_ok_and(|s| set.contains(s))
        }
        (Op::Pmatch, Rhs::Paths(t)) => std::str::from_utf8(s).is_ok_and(|s| t.matches(s)),
        _ => false,
    }
}

#[inline]
fn compare<S: StateView + ?Sized>(
    v: V<'_>,
    op: Op,
    rhs: &Rhs,
    cx: &Cx<'_, S>,
    rb: &mut [String],
) -> bool {
    if let Rhs::Operand(o) = rhs {
        let Some(r) = eval_operand(o, cx, 0, rb) else {
            return false;
        };
        return compare_values(v, op, r);
    }
    match v {
        V::Na => false,
        V::S(s) => match (op, rhs) {
            (Op::In | Op::Intersects, Rhs::StrSet(set)) => set.contains(s),
            (Op::Pmatch, Rhs::Paths(t)) => t.matches(s),
            (Op::Regex, Rhs::Regex(r)) => r.is_match(s),
            _ => compare_text(s.as_bytes(), op, rhs),
        },
        V::Bytes(b) => compare_text(b, op, rhs),
        V::N(n) => match (op, rhs) {
            (Op::Eq, Rhs::Num(x)) => n == *x,
            (Op::Ne, Rhs::Num(x)) => n != *x,
            (Op::Lt, Rhs::Num(x)) => n < *x,
            (Op::Le, Rhs::Num(x)) => n <= *x,
            (Op::Gt, Rhs::Num(x)) => n > *x,
            (Op::Ge, Rhs::Num(x)) => n >= *x,
            (Op::In | Op::Intersects, Rhs::NumSet(s)) => s.contains(&n),
            _ => false,
        },
        V::B(b) => match (op, rhs) {
            (Op::Eq, Rhs::Bool(x)) => b == *x,
            (Op::Ne, Rhs::Bool(x)) => b != *x,
            (Op::In, Rhs::BoolSet(t, f)) => (b && *t) || (!b && *f),
            _ => false,
        },
        V::Ip(ip) => match (op, rhs) {
            (Op::Eq, Rhs::Net(n)) => n.contains(ip),
            (Op::Ne, Rhs::Net(n)) => !n.contains(ip),
            (Op::In | Op::Intersects, Rhs::Nets(ns)) => ns.iter().any(|n| n.contains(ip)),
            _ => false,
        },
    }
}

/// Compares two extracted values (`field op val(other)`).
fn compare_values(a: V<'_>, op: Op, b: V<'_>) -> bool {
    let text = |v: &V<'_>| -> Option<Vec<u8>> {
        match v {
            V::S(s) => Some(s.as_bytes().to_vec()),
            V::Bytes(b) => Some(b.to_vec()),
            _ => None,
        }
    };
    match (a, b) {
        (V::Na, _) | (_, V::Na) => false,
        (V::N(x), V::N(y)) => match op {
            Op::Eq => x == y,
            Op::Ne => x != y,
            Op::Lt => x < y,
            Op::Le => x <= y,
            Op::Gt => x > y,
            Op::Ge => x >= y,
            _ => false,
        },
        (V::B(x), V::B(y)) => match op {
            Op::Eq => x == y,
            Op::Ne => x != y,
            _ => false,
        },
        (V::Ip(x), V::Ip(y)) => match op {
            Op::Eq => x == y,
            Op::Ne => x != y,
            _ => false,
        },
        (V::S(x), V::S(y)) => text_op(x.as_bytes(), op, y.as_bytes()),
        (x, y) => match (text(&x), text(&y)) {
            (Some(x), Some(y)) => text_op(&x, op, &y),
            _ => false,
        },
    }
}

fn text_op(x: &[u8], op: Op, y: &[u8]) -> bool {
    match op {
        Op::Eq => x == y,
        Op::Ne => x != y,
        Op::Contains | Op::BContains => memchr::memmem::find(x, y).is_some(),
        Op::IContains => icontains(x, &y.to_ascii_lowercase()),
        Op::StartsWith | Op::BStartsWith => x.starts_with(y),
        Op::EndsWith => x.ends_with(y),
        _ => false,
    }
}

/// Writes a value as text (`<NA>` when missing).
pub fn write_v(out: &mut String, v: &V<'_>) {
    match v {
        V::Na => out.push_str("<NA>"),
        V::S(s) => out.push_str(s),
        V::N(n) => {
            let _ = write!(out, "{n}");
        }
        V::B(b) => out.push_str(if *b { "true" } else { "false" }),
        V::Ip(ip) => {
            let _ = write!(out, "{ip}");
        }
        V::Bytes(b) => crate::render::write_printable(out, b),
    }
}

fn b64_val(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => (c - b'A') as u32,
        b'a'..=b'z' => (c - b'a' + 26) as u32,
        b'0'..=b'9' => (c - b'0' + 52) as u32,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    })
}

/// Decodes standard (or URL-safe) base64, padding optional; `None` if malformed.
pub fn b64_decode(input: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let data = match input.iter().rposition(|&c| c != b'=') {
        Some(i) => &input[..=i],
        None => &input[..0],
    };
    if input.len() - data.len() > 2 {
        return None;
    }
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in data {
        acc = (acc << 6) | b64_val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if bits >= 6 {
        return None;
    }
    Some(())
}

/// Evaluates the `idx`-th value of an operand, using `bufs` for rendered text.
pub(crate) fn eval_operand<'a: 'b, 'b, S: StateView + ?Sized>(
    o: &'b Operand,
    cx: &'b Cx<'a, S>,
    idx: usize,
    bufs: &'b mut [String],
) -> Option<V<'b>> {
    match o {
        Operand::Lit(s) => (idx == 0).then_some(V::S(s)),
        Operand::Field(f) => {
            let (buf, _) = bufs.split_first_mut()?;
            fields::extract(f, cx, idx, buf)
        }
        Operand::Transform(t, args) => {
            let (mine, rest) = bufs.split_first_mut()?;
            match t {
                Transformer::ToLower
                | Transformer::ToUpper
                | Transformer::Basename
                | Transformer::B64 => {
                    let v = eval_operand(&args[0], cx, idx, rest)?;
                    let bytes: &[u8] = match v {
                        V::Na => return Some(V::Na),
                        V::S(s) => s.as_bytes(),
                        V::Bytes(b) => b,
                        _ => return Some(V::Na),
                    };
                    match t {
                        Transformer::ToLower | Transformer::ToUpper => {
                            mine.clear();
                            let s = std::str::from_utf8(bytes).ok()?;
                            if *t == Transformer::ToLower {
                                mine.extend(s.chars().map(|c| c.to_ascii_lowercase()));
                            } else {
                                mine.extend(s.chars().map(|c| c.to_ascii_uppercase()));
                            }
                        }
                        Transformer::Basename => {
                            mine.clear();
                            let s = std::str::from_utf8(bytes).ok()?;
                            // Like basename(3) without stripping trailing slashes: "/a/" -> "".
                            mine.push_str(s.rsplit('/').next().unwrap_or(s));
                        }
                        _ => {
                            let mut raw = std::mem::take(mine).into_bytes();
                            raw.clear();
                            if b64_decode(bytes, &mut raw).is_none() {
                                return Some(V::Na);
                            }
                            *mine = match String::from_utf8(raw) {
                                Ok(s) => s,
                                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
                            };
                        }
                    }
                    let s: &'b String = mine;
                    Some(V::S(s))
                }
                Transformer::Len => {
                    if idx > 0 {
                        return None;
                    }
                    if args[0].multi() || args[0].list() {
                        let mut n = 0;
                        while let Some(v) = eval_operand(&args[0], cx, n, &mut *rest) {
                            let _ = v;
                            n += 1;
                        }
                        return Some(V::N(n as i64));
                    }
                    Some(match eval_operand(&args[0], cx, 0, rest)? {
                        V::S(s) => V::N(s.len() as i64),
                        V::Bytes(b) => V::N(b.len() as i64),
                        _ => V::Na,
                    })
                }
                Transformer::Join => {
                    if idx > 0 {
                        return None;
                    }
                    let Operand::Lit(sep) = &args[0] else {
                        return None;
                    };
                    mine.clear();
                    let mut i = 0;
                    while let Some(v) = eval_operand(&args[1], cx, i, &mut *rest) {
                        if v != V::Na {
                            if !mine.is_empty() {
                                mine.push_str(sep);
                            }
                            write_v(mine, &v);
                        }
                        i += 1;
                    }
                    let s: &'b String = mine;
                    Some(V::S(s))
                }
                Transformer::Concat => {
                    if idx > 0 {
                        return None;
                    }
                    mine.clear();
                    for a in args.iter() {
                        match eval_operand(a, cx, 0, &mut *rest) {
                            None | Some(V::Na) => return Some(V::Na),
                            Some(v) => write_v(mine, &v),
                        }
                    }
                    let s: &'b String = mine;
                    Some(V::S(s))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64() {
        let mut out = Vec::new();
        b64_decode(b"aGVsbG8=", &mut out).unwrap();
        assert_eq!(out, b"hello");
        out.clear();
        b64_decode(b"aGVsbG8", &mut out).unwrap();
        assert_eq!(out, b"hello");
        out.clear();
        assert!(b64_decode(b"a$==", &mut out).is_none());
        assert!(b64_decode(b"a", &mut out).is_none());
    }

    #[test]
    fn icontains_ascii() {
        assert!(icontains(b"Hello World", b"world"));
        assert!(!icontains(b"Hello", b"hello!"));
    }
}
