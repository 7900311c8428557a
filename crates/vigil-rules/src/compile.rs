//! Resolution and compilation: macros and lists expanded, fields resolved to ids, operators
//! type-checked, constants pre-built, rules indexed by event type.
//!
//! Each rule compiles to a tree of [`Node`]s whose leaves hold ready-to-run matchers (hash
//! sets for `in`, a component trie for `pmatch`, compiled globs and anchored regexes,
//! `memchr` finders for `contains`), with macros expanded into it. The trees then go to
//! [`optimize`](crate::optimize), which specialises them per event type, shares identical
//! comparisons between rules and orders operands by expected cost; the result is the
//! immutable [`Program`].

use crate::ast::{Expr, ListItem, Op, Operand as AOperand, Rhs as ARhs, Span, Transformer};
use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::fields::{self, FType, FieldError, FieldRef, F};
use crate::loader::{self, Defs, Diags, Loc, RuleDef, Text};
use crate::optimize::{self, Plan};
use crate::output::Format;
use crate::parser::{self, ParseError};
use crate::typeset::EventTypeSet;
use crate::yaml::{Kind, Node as YNode};
use crate::{Counts, LoadOptions, Loaded, RuleInfo, RuleSource, Ruleset};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use vigil_event::EventType;

/// Deepest compiled expression (after macro expansion) accepted.
pub const MAX_DEPTH: usize = 1000;
/// Most list items after expansion in one comparison.
pub const MAX_LIST_ITEMS: usize = 1 << 20;

/// A small, fast, non-cryptographic hasher (FxHash) for the constant sets: keys come from the
/// rules author, not from events, so HashDoS resistance buys nothing here.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ b as u64).wrapping_mul(K);
        }
        self.0 = h;
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64)
    }
}

pub type FxBuild = BuildHasherDefault<FxHasher>;
pub type FxSet<T> = HashSet<T, FxBuild>;

/// An IP network (`10.0.0.0/8`); a plain address is a full-length prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Option<IpNet> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.prefix as u32)
                };
                u32::from(n) & mask == u32::from(i) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.prefix as u32)
                };
                u128::from(n) & mask == u128::from(i) & mask
            }
            (IpAddr::V4(n), IpAddr::V6(i)) => match i.to_ipv4_mapped() {
                Some(i4) => IpNet {
                    addr: IpAddr::V4(n),
                    prefix: self.prefix,
                }
                .contains(IpAddr::V4(i4)),
                None => false,
            },
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

/// Path-prefix set for `pmatch`: a trie over path components, so `/etc` matches `/etc`,
/// `/etc/` and `/etc/passwd` but not `/etcd`.
/// One trie node: children by path component, and whether a listed path ends here.
type TrieNode = (HashMap<Box<str>, usize, FxBuild>, bool);

#[derive(Debug, Default)]
pub struct PathTrie {
    nodes: Vec<TrieNode>,
    /// The inserted paths, normalised (`/` + components joined by `/`).
    roots: Vec<Box<str>>,
}

impl PathTrie {
    fn new() -> Self {
        PathTrie {
            nodes: vec![(HashMap::default(), false)],
            roots: Vec::new(),
        }
    }

    /// The directories the trie matches at or below, normalised (`/` for the root).
    pub fn roots(&self) -> impl Iterator<Item = &str> {
        self.roots.iter().map(|r| &**r)
    }

    fn insert(&mut self, path: &str) {
        let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        self.roots.push(format!("/{}", comps.join("/")).into());
        let mut n = 0;
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            n = match self.nodes[n].0.get(comp) {
                Some(&next) => next,
                None => {
                    let next = self.nodes.len();
                    self.nodes.push((HashMap::default(), false));
                    self.nodes[n].0.insert(comp.into(), next);
                    next
                }
            };
        }
        self.nodes[n].1 = true;
    }

    pub fn matches(&self, path: &str) -> bool {
        let mut n = 0;
        if self.nodes[0].1 {
            return true;
        }
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            match self.nodes[n].0.get(comp) {
                Some(&next) => {
                    n = next;
                    if self.nodes[n].1 {
                        return true;
                    }
                }
                None => return false,
            }
        }
        false
    }
}

/// A glob with its literal head and tail measured, so most non-matching values are
/// rejected by two slice comparisons before the matcher runs (`*/.aws/credentials` rarely
/// gets further than comparing the last 17 bytes).
#[derive(Debug)]
pub struct GlobPat {
    pub pat: Box<[u8]>,
    pub icase: bool,
    /// Bytes before the first metacharacter.
    prefix: usize,
    /// Bytes after the last metacharacter (0 if the pattern is all literal: then `prefix`
    /// is the whole pattern and the match is an equality).
    suffix: usize,
    literal: bool,
}

impl GlobPat {
    pub fn new(pat: &[u8], icase: bool) -> GlobPat {
        let meta = |c: &u8| matches!(c, b'*' | b'?' | b'[');
        let first = pat.iter().position(meta);
        // A class ends at `]`: the tail starts after it (a literal `]` only shortens it).
        let last = pat
            .iter()
            .rposition(|c| meta(c) || (*c == b']' && first.is_some()));
        GlobPat {
            pat: pat.into(),
            icase,
            prefix: first.unwrap_or(pat.len()),
            suffix: last.map_or(0, |l| pat.len() - l - 1),
            literal: first.is_none(),
        }
    }

    /// The bytes before the first metacharacter (the whole pattern if it has none).
    pub fn literal_head(&self) -> &[u8] {
        &self.pat[..self.prefix]
    }

    /// The bytes after the last metacharacter (empty if the pattern ends with one, or has
    /// none: then [`GlobPat::literal_head`] is the whole pattern).
    pub fn literal_tail(&self) -> &[u8] {
        &self.pat[self.pat.len() - self.suffix..]
    }

    /// True if the pattern has no metacharacter (it matches only itself).
    pub fn is_literal(&self) -> bool {
        self.literal
    }

    pub fn matches(&self, s: &[u8]) -> bool {
        let eq = |a: &[u8], b: &[u8]| {
            if self.icase {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        };
        if self.literal {
            return eq(&self.pat, s);
        }
        let (p, x) = (self.prefix, self.suffix);
        if s.len() < p + x || !eq(&self.pat[..p], &s[..p]) {
            return false;
        }
        if x > 0 && !eq(&self.pat[self.pat.len() - x..], &s[s.len() - x..]) {
            return false;
        }
        glob_match(&self.pat, s, self.icase)
    }
}

/// fnmatch-style glob: `*` (any run, including `/`), `?`, `[abc]`, `[a-z]`, `[!x]`/`[^x]`.
/// Iterative with single-star backtracking, so it is linear-ish and never recurses.
pub fn glob_match(pat: &[u8], s: &[u8], icase: bool) -> bool {
    let eq = |a: u8, b: u8| {
        if icase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pat.len() {
            match pat[p] {
                b'*' => {
                    star = Some((p, i));
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = class_match(pat, p, s[i], icase) {
                        if matched {
                            p = next;
                            i += 1;
                            continue;
                        }
                    } else if eq(b'[', s[i]) {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
                c => {
                    if eq(c, s[i]) {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, si)) => {
                p = sp + 1;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    while p < pat.len() && pat[p] == b'*' {
        p += 1;
    }
    p == pat.len()
}

/// Matches `c` against the class starting at `pat[p] == '['`; returns (matched, index after
/// the class), or `None` if the class is unterminated (then `[` is literal).
fn class_match(pat: &[u8], p: usize, c: u8, icase: bool) -> Option<(bool, usize)> {
    let mut j = p + 1;
    let negate = j < pat.len() && (pat[j] == b'!' || pat[j] == b'^');
    if negate {
        j += 1;
    }
    let mut matched = false;
    let mut first = true;
    let cl = c.to_ascii_lowercase();
    while j < pat.len() && (pat[j] != b']' || first) {
        first = false;
        let lo = pat[j];
        if j + 2 < pat.len() && pat[j + 1] == b'-' && pat[j + 2] != b']' {
            let hi = pat[j + 2];
            if (lo..=hi).contains(&c)
                || (icase
                    && ((lo..=hi).contains(&cl) || (lo..=hi).contains(&c.to_ascii_uppercase())))
            {
                matched = true;
            }
            j += 3;
        } else {
            if lo == c || (icase && lo.eq_ignore_ascii_case(&c)) {
                matched = true;
            }
            j += 1;
        }
    }
    if j >= pat.len() {
        return None;
    }
    Some((matched != negate, j + 1))
}

/// A compiled value producer.
#[derive(Debug)]
pub enum Operand {
    Field(FieldRef),
    Transform(Transformer, Box<[Operand]>),
    Lit(Box<str>),
}

impl Operand {
    /// Result type of the operand.
    pub fn ty(&self) -> FType {
        match self {
            Operand::Field(f) => f.ty,
            Operand::Lit(_) => FType::Str,
            Operand::Transform(Transformer::Len, _) => FType::Num,
            Operand::Transform(
                Transformer::B64
                | Transformer::ToLower
                | Transformer::ToUpper
                | Transformer::Basename,
                a,
            ) => {
                if a[0].ty() == FType::Bytes {
                    FType::Bytes
                } else {
                    FType::Str
                }
            }
            Operand::Transform(..) => FType::Str,
        }
    }

    /// True if the operand yields several values.
    pub fn multi(&self) -> bool {
        match self {
            Operand::Field(f) => f.multi,
            Operand::Transform(Transformer::Len | Transformer::Join | Transformer::Concat, _) => {
                false
            }
            Operand::Transform(_, a) => a[0].multi(),
            Operand::Lit(_) => false,
        }
    }

    /// True for list fields (`in` means subset).
    pub fn list(&self) -> bool {
        match self {
            Operand::Field(f) => f.list,
            Operand::Transform(Transformer::Len | Transformer::Join | Transformer::Concat, _) => {
                false
            }
            Operand::Transform(_, a) => a[0].list(),
            Operand::Lit(_) => false,
        }
    }

    /// Scratch buffers the operand needs (one per nested level).
    pub fn depth(&self) -> usize {
        match self {
            Operand::Field(_) | Operand::Lit(_) => 1,
            Operand::Transform(_, a) => 1 + a.iter().map(Operand::depth).max().unwrap_or(0),
        }
    }
}

/// The prepared right-hand side of a comparison.
#[derive(Debug)]
pub enum Rhs {
    None,
    Str(Box<str>),
    Finder(Box<memchr::memmem::Finder<'static>>),
    /// `icontains` needle, lowercased.
    Lower(Box<[u8]>),
    Bytes(Box<[u8]>),
    Num(i64),
    Bool(bool),
    Net(IpNet),
    Glob(Box<GlobPat>),
    Regex(regex::Regex),
    StrSet(FxSet<Box<str>>),
    NumSet(FxSet<i64>),
    BoolSet(bool, bool),
    Nets(Box<[IpNet]>),
    Paths(PathTrie),
    Operand(Operand),
}

/// A comparison leaf.
#[derive(Debug)]
pub struct Cmp {
    pub lhs: Operand,
    pub op: Op,
    pub rhs: Rhs,
    /// The left side yields several values (precomputed from `lhs`).
    pub multi: bool,
    /// `in` on a list field: every value must be in the set.
    pub subset: bool,
}

impl Cmp {
    fn new(lhs: Operand, op: Op, rhs: Rhs) -> Cmp {
        let multi = lhs.multi() || lhs.list();
        let subset = lhs.list() && op == Op::In;
        Cmp {
            lhs,
            op,
            rhs,
            multi,
            subset,
        }
    }
}

/// A compiled condition.
#[derive(Debug)]
pub enum Node {
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
    Const(bool),
    /// `evt.type` is one of these types (compiled from `evt.type = x` / `in (...)`).
    Type(Box<EventTypeSet>),
    Cmp(Box<Cmp>),
}

/// One compiled rule. Its condition lives in the [`Plan`], specialised per event type.
#[derive(Debug)]
pub struct CompiledRule {
    pub output: Format,
    pub types: EventTypeSet,
    pub wants_enter: bool,
}

/// The executable form of a ruleset.
#[derive(Debug)]
pub struct Program {
    /// Per rule id; `None` for rules that are never evaluated.
    pub rules: Vec<Option<CompiledRule>>,
    /// The enabled rules' conditions, specialised and indexed per event type and direction.
    pub plan: Plan,
    pub needs_enter: EventTypeSet,
    /// Scratch buffers an evaluation needs.
    pub buffers: usize,
}

impl Program {
    pub fn event_types(&self) -> EventTypeSet {
        let mut s = EventTypeSet::new();
        for (i, rules) in self.plan.exit.iter().enumerate() {
            if !rules.is_empty() {
                s.insert(EventType(i as u16));
            }
        }
        s.union_with(&self.needs_enter);
        s
    }
}

/// Context of the text being compiled, for diagnostics.
struct TextCx<'t> {
    text: &'t Text,
    /// `rule 'X'` or `macro 'Y'`.
    label: String,
}

struct Compiler<'a, 's> {
    defs: &'a Defs,
    d: Diags<'s>,
    macros: HashMap<&'a str, usize>,
    macro_asts: HashMap<usize, Result<Expr, ParseError>>,
    lists: HashMap<&'a str, usize>,
    used_macros: HashSet<usize>,
    used_lists: HashSet<usize>,
    expanding: Vec<&'a str>,
    /// Set while compiling a rule with `skip-if-unknown-filter`.
    skip_unknown: bool,
    unknown_field: Option<String>,
    errors_before: usize,
    depth: usize,
    max_buffers: usize,
}

type R<T> = Result<T, ()>;

impl<'a> Compiler<'a, '_> {
    fn error(&mut self, cx: &TextCx<'_>, span: Span, msg: impl Into<String>) {
        self.d.in_text(
            Severity::Error,
            cx.text,
            span.start as usize,
            Some(cx.label.clone()),
            msg,
        );
    }

    fn warn(&mut self, cx: &TextCx<'_>, span: Span, msg: impl Into<String>) {
        self.d.in_text(
            Severity::Warning,
            cx.text,
            span.start as usize,
            Some(cx.label.clone()),
            msg,
        );
    }

    fn expr(&mut self, e: &Expr, cx: &TextCx<'_>) -> R<Node> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.depth -= 1;
            let span = first_span(e);
            self.error(
                cx,
                span,
                format!("condition nested deeper than {MAX_DEPTH} levels after macro expansion"),
            );
            return Err(());
        }
        let r = self.expr_inner(e, cx);
        self.depth -= 1;
        r
    }

    fn expr_inner(&mut self, e: &Expr, cx: &TextCx<'_>) -> R<Node> {
        match e {
            Expr::And(items) | Expr::Or(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut failed = false;
                for it in items {
                    match self.expr(it, cx) {
                        Ok(n) => out.push(n),
                        Err(()) => failed = true,
                    }
                }
                if failed {
                    return Err(());
                }
                // Conditions have no side effects, so operands may run in any order. Only
                // free ones (event type tests) move first: rule authors put the selective
                // tests early, and reordering by cost alone would run long lists of cheap
                // `not` exclusions before them.
                out.sort_by_key(|n| !is_free(n));
                Ok(if matches!(e, Expr::And(_)) {
                    Node::And(out.into())
                } else {
                    Node::Or(out.into())
                })
            }
            Expr::Not(inner, _) => Ok(Node::Not(Box::new(self.expr(inner, cx)?))),
            Expr::Ident(name, span) => self.macro_ref(name, *span, cx),
            Expr::Check {
                lhs,
                op,
                op_span,
                rhs,
            } => self.check(lhs, *op, *op_span, rhs, cx),
        }
    }

    fn macro_ref(&mut self, name: &str, span: Span, cx: &TextCx<'_>) -> R<Node> {
        let Some(&mi) = self.macros.get(name) else {
            let hint = if self.lists.contains_key(name) {
                " ('{name}' is a list: use it as in (name))"
            } else {
                ""
            };
            self.error(
                cx,
                span,
                format!("undefined macro '{name}'{}", hint.replace("{name}", name)),
            );
            return Err(());
        };
        let mdef = &self.defs.macros[mi];
        if let Some(pos) = self.expanding.iter().position(|m| *m == mdef.name) {
            let mut chain: Vec<&str> = self.expanding[pos..].to_vec();
            chain.push(&mdef.name);
            self.error(cx, span, format!("recursive macro: {}", chain.join(" -> ")));
            return Err(());
        }
        self.used_macros.insert(mi);
        if !self.macro_asts.contains_key(&mi) {
            let parsed = parser::parse_condition(&mdef.cond.text);
            if let Err(pe) = &parsed {
                let label = format!("macro '{}'", mdef.name);
                self.d.in_text(
                    Severity::Error,
                    &mdef.cond,
                    pe.offset,
                    Some(label),
                    pe.message.clone(),
                );
            }
            self.macro_asts.insert(mi, parsed);
        }
        let ast = match self.macro_asts.get(&mi) {
            Some(Ok(ast)) => ast.clone(),
            _ => return Err(()),
        };
        let mcx = TextCx {
            text: &mdef.cond,
            label: format!("macro '{}'", mdef.name),
        };
        self.expanding.push(&mdef.name);
        let r = self.expr(&ast, &mcx);
        self.expanding.pop();
        r
    }

    fn operand(&mut self, o: &AOperand, cx: &TextCx<'_>) -> R<Operand> {
        match o {
            AOperand::Literal { value, .. } => Ok(Operand::Lit(value.as_str().into())),
            AOperand::Field { name, arg, span } => match fields::resolve(name, arg.as_deref()) {
                Ok(f) => Ok(Operand::Field(f)),
                Err(e) => {
                    if matches!(e, FieldError::Unknown(_)) && self.skip_unknown {
                        self.unknown_field.get_or_insert_with(|| name.clone());
                        return Err(());
                    }
                    self.error(cx, *span, e.to_string());
                    Err(())
                }
            },
            AOperand::Transform { func, args, span } => {
                let mut out = Vec::with_capacity(args.len());
                for a in args {
                    out.push(self.operand(a, cx)?);
                }
                let want = |n: usize| out.len() == n;
                let ok = match func {
                    Transformer::Join => {
                        want(2)
                            && matches!(out[0], Operand::Lit(_))
                            && !matches!(out[1], Operand::Lit(_))
                    }
                    Transformer::Concat => out.len() >= 2,
                    _ => want(1) && !matches!(out[0], Operand::Lit(_)),
                };
                if !ok {
                    let usage = match func {
                        Transformer::Join => "join(\"separator\", field)",
                        Transformer::Concat => "concat(a, b, ...) with fields or strings",
                        _ => "one field argument",
                    };
                    self.error(
                        cx,
                        *span,
                        format!("wrong arguments for {}(): expected {usage}", func.as_str()),
                    );
                    return Err(());
                }
                let ty = out[if *func == Transformer::Join { 1 } else { 0 }].ty();
                let type_ok = match func {
                    Transformer::ToLower | Transformer::ToUpper | Transformer::Basename => {
                        ty == FType::Str
                    }
                    Transformer::B64 | Transformer::Len => matches!(ty, FType::Str | FType::Bytes),
                    Transformer::Join => true,
                    Transformer::Concat => out
                        .iter()
                        .all(|o| matches!(o.ty(), FType::Str | FType::Num)),
                };
                if !type_ok {
                    self.error(
                        cx,
                        *span,
                        format!(
                            "transformer {}() does not accept a {} value",
                            func.as_str(),
                            ty.as_str()
                        ),
                    );
                    return Err(());
                }
                Ok(Operand::Transform(*func, out.into()))
            }
        }
    }

    /// Flattens list items, splicing in referenced lists.
    fn list_values(
        &mut self,
        items: &[ListItem],
        cx: &TextCx<'_>,
        out: &mut Vec<(String, Span)>,
    ) -> R<()> {
        for it in items {
            match it {
                ListItem::Nested(inner, _) => self.list_values(inner, cx, out)?,
                ListItem::Value {
                    value,
                    quoted,
                    span,
                } => {
                    if !quoted {
                        if let Some(&li) = self.lists.get(value.as_str()) {
                            self.used_lists.insert(li);
                            let mut seen = Vec::new();
                            self.expand_list(li, *span, &mut seen, out, cx)?;
                            continue;
                        }
                    }
                    out.push((value.clone(), *span));
                }
            }
            if out.len() > MAX_LIST_ITEMS {
                let span = match it {
                    ListItem::Value { span, .. } | ListItem::Nested(_, span) => *span,
                };
                self.error(
                    cx,
                    span,
                    format!("list has more than {MAX_LIST_ITEMS} items"),
                );
                return Err(());
            }
        }
        Ok(())
    }

    fn expand_list(
        &mut self,
        li: usize,
        span: Span,
        seen: &mut Vec<usize>,
        out: &mut Vec<(String, Span)>,
        cx: &TextCx<'_>,
    ) -> R<()> {
        if seen.contains(&li) {
            let name = &self.defs.lists[li].name;
            self.error(cx, span, format!("list '{name}' includes itself"));
            return Err(());
        }
        seen.push(li);
        let defs = self.defs;
        for item in &defs.lists[li].items {
            let v = parser::unquote_list_item(item);
            let quoted = v.len() != item.trim().len();
            match self.lists.get(v.as_str()) {
                Some(&inner) if !quoted => {
                    self.used_lists.insert(inner);
                    self.expand_list(inner, span, seen, out, cx)?;
                }
                _ => out.push((v, span)),
            }
            if out.len() > MAX_LIST_ITEMS {
                self.error(
                    cx,
                    span,
                    format!("list has more than {MAX_LIST_ITEMS} items"),
                );
                return Err(());
            }
        }
        seen.pop();
        Ok(())
    }

    fn check(
        &mut self,
        lhs: &AOperand,
        op: Op,
        op_span: Span,
        rhs: &ARhs,
        cx: &TextCx<'_>,
    ) -> R<Node> {
        let lhs_c = self.operand(lhs, cx)?;
        let ty = lhs_c.ty();
        let fname = operand_name(lhs);
        // Operator/type compatibility.
        let allowed = if lhs_c.list() {
            matches!(op, Op::Exists | Op::In | Op::Intersects)
        } else {
            match ty {
                FType::Str => !matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge),
                FType::Num => matches!(
                    op,
                    Op::Eq
                        | Op::Ne
                        | Op::Lt
                        | Op::Le
                        | Op::Gt
                        | Op::Ge
                        | Op::In
                        | Op::Intersects
                        | Op::Exists
                ),
                FType::Bool => matches!(op, Op::Eq | Op::Ne | Op::In | Op::Exists),
                FType::Ip => matches!(op, Op::Eq | Op::Ne | Op::In | Op::Intersects | Op::Exists),
                FType::Bytes => matches!(
                    op,
                    Op::Eq
                        | Op::Ne
                        | Op::Contains
                        | Op::IContains
                        | Op::BContains
                        | Op::StartsWith
                        | Op::BStartsWith
                        | Op::Exists
                ),
            }
        };
        if !allowed {
            let kind = if lhs_c.list() {
                "list field".to_string()
            } else {
                format!("{} field", ty.as_str())
            };
            self.error(
                cx,
                op_span,
                format!(
                    "operator '{}' cannot be used with {kind} '{fname}'",
                    op.as_str()
                ),
            );
            return Err(());
        }
        if op == Op::Exists {
            return Ok(Node::Cmp(Box::new(Cmp::new(lhs_c, op, Rhs::None))));
        }
        // Gather the literal values.
        let values: Vec<(String, Span)> = match rhs {
            ARhs::None => {
                self.error(
                    cx,
                    op_span,
                    format!("operator '{}' needs a value", op.as_str()),
                );
                return Err(());
            }
            ARhs::Operand(o) => {
                let rc = self.operand(o, cx)?;
                if rc.ty() != ty
                    && !(matches!(ty, FType::Str | FType::Bytes)
                        && matches!(rc.ty(), FType::Str | FType::Bytes))
                {
                    self.error(
                        cx,
                        o.span(),
                        format!(
                            "cannot compare {} field '{fname}' with {} value '{}'",
                            ty.as_str(),
                            rc.ty().as_str(),
                            operand_name(o)
                        ),
                    );
                    return Err(());
                }
                if op.takes_list() || matches!(op, Op::Regex | Op::Glob | Op::IGlob) {
                    self.error(
                        cx,
                        op_span,
                        format!("operator '{}' needs literal values, not val()", op.as_str()),
                    );
                    return Err(());
                }
                self.max_buffers = self.max_buffers.max(rc.depth() + lhs_c.depth());
                return Ok(Node::Cmp(Box::new(Cmp::new(lhs_c, op, Rhs::Operand(rc)))));
            }
            ARhs::List(items, span) => {
                if !op.takes_list() {
                    self.error(
                        cx,
                        *span,
                        format!(
                            "operator '{}' takes a single value, not a list",
                            op.as_str()
                        ),
                    );
                    return Err(());
                }
                let mut out = Vec::new();
                self.list_values(items, cx, &mut out)?;
                out
            }
            ARhs::Value {
                value,
                quoted,
                span,
            } => {
                if op.takes_list() {
                    match self.lists.get(value.as_str()) {
                        Some(&li) if !quoted => {
                            self.used_lists.insert(li);
                            let mut out = Vec::new();
                            self.expand_list(li, *span, &mut Vec::new(), &mut out, cx)?;
                            out
                        }
                        _ => vec![(value.clone(), *span)],
                    }
                } else {
                    vec![(value.clone(), *span)]
                }
            }
        };
        self.max_buffers = self.max_buffers.max(lhs_c.depth());

        // evt.type comparisons become type sets (also used to index rules).
        if let Operand::Field(f) = &lhs_c {
            if f.id == F::EvtType && matches!(op, Op::Eq | Op::Ne | Op::In | Op::Intersects) {
                let mut set = EventTypeSet::new();
                for (v, span) in &values {
                    match EventType::from_name(v) {
                        Some(t) => set.insert(t),
                        None => self.warn(cx, *span, format!("unknown event type '{v}' (not an x86_64 syscall or vigil event); it never matches")),
                    }
                }
                let node = Node::Type(Box::new(set));
                return Ok(if op == Op::Ne {
                    Node::Not(Box::new(node))
                } else {
                    node
                });
            }
        }

        let rhs_c = self.constant(ty, op, &values, &fname, cx)?;
        Ok(Node::Cmp(Box::new(Cmp::new(lhs_c, op, rhs_c))))
    }

    fn constant(
        &mut self,
        ty: FType,
        op: Op,
        values: &[(String, Span)],
        fname: &str,
        cx: &TextCx<'_>,
    ) -> R<Rhs> {
        let one = || values.first().cloned().unwrap_or_default();
        let num = |s: &str| -> Option<i64> {
            let t = s.trim();
            if let Some(h) = t.strip_prefix("0x") {
                return i64::from_str_radix(h, 16).ok();
            }
            t.parse::<i64>()
                .ok()
                .or_else(|| t.parse::<u64>().ok().map(|u| u as i64))
        };
        match ty {
            FType::Num => {
                let mut set = FxSet::default();
                for (v, span) in values {
                    match num(v) {
                        Some(n) => {
                            set.insert(n);
                        }
                        None => {
                            self.error(
                                cx,
                                *span,
                                format!("'{v}' is not a number (field '{fname}' is numeric)"),
                            );
                            return Err(());
                        }
                    }
                }
                if op.takes_list() {
                    Ok(Rhs::NumSet(set))
                } else {
                    Ok(Rhs::Num(set.into_iter().next().unwrap_or(0)))
                }
            }
            FType::Bool => {
                let mut t = false;
                let mut f = false;
                for (v, span) in values {
                    match v.as_str() {
                        "true" | "TRUE" | "True" => t = true,
                        "false" | "FALSE" | "False" => f = true,
                        _ => {
                            self.error(
                                cx,
                                *span,
                                format!(
                                    "'{v}' is not a boolean (field '{fname}' is true or false)"
                                ),
                            );
                            return Err(());
                        }
                    }
                }
                if op.takes_list() {
                    Ok(Rhs::BoolSet(t, f))
                } else {
                    Ok(Rhs::Bool(t))
                }
            }
            FType::Ip => {
                let mut nets = Vec::with_capacity(values.len());
                for (v, span) in values {
                    match IpNet::parse(v) {
                        Some(n) => nets.push(n),
                        None => {
                            self.error(
                                cx,
                                *span,
                                format!(
                                    "'{v}' is not an IP address or CIDR network (field '{fname}')"
                                ),
                            );
                            return Err(());
                        }
                    }
                }
                if op.takes_list() {
                    Ok(Rhs::Nets(nets.into()))
                } else {
                    Ok(Rhs::Net(nets[0]))
                }
            }
            FType::Str | FType::Bytes => {
                let (v, span) = one();
                Ok(match op {
                    Op::Eq | Op::Ne | Op::StartsWith | Op::EndsWith => Rhs::Str(v.into()),
                    Op::Contains => Rhs::Finder(Box::new(
                        memchr::memmem::Finder::new(v.as_bytes()).into_owned(),
                    )),
                    Op::IContains => Rhs::Lower(v.to_ascii_lowercase().into_bytes().into()),
                    Op::BContains | Op::BStartsWith => match decode_hex(&v) {
                        Some(b) => Rhs::Bytes(b.into()),
                        None => {
                            self.error(cx, span, format!("'{v}' is not a hex byte string (operator '{}' compares bytes written in hex)", op.as_str()));
                            return Err(());
                        }
                    },
                    Op::Glob => Rhs::Glob(Box::new(GlobPat::new(v.as_bytes(), false))),
                    Op::IGlob => Rhs::Glob(Box::new(GlobPat::new(v.as_bytes(), true))),
                    Op::Regex => match regex::RegexBuilder::new(&format!("^(?:{v})$"))
                        .size_limit(1 << 20)
                        .nest_limit(100)
                        .build()
                    {
                        Ok(r) => Rhs::Regex(r),
                        Err(e) => {
                            let msg = e.to_string();
                            let short = msg.lines().last().unwrap_or("").trim().to_string();
                            self.error(
                                cx,
                                span,
                                format!("invalid regular expression '{v}': {short}"),
                            );
                            return Err(());
                        }
                    },
                    Op::In | Op::Intersects => {
                        Rhs::StrSet(values.iter().map(|(v, _)| v.as_str().into()).collect())
                    }
                    Op::Pmatch => {
                        let mut t = PathTrie::new();
                        for (v, _) in values {
                            t.insert(v);
                        }
                        Rhs::Paths(t)
                    }
                    Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::Exists => Rhs::None,
                })
            }
        }
    }
}

/// Compiles an operand outside any condition (output formats): fields resolved, transformer
/// arity and types checked.
pub(crate) fn operand_standalone(o: &AOperand) -> Result<Operand, String> {
    match o {
        AOperand::Literal { value, .. } => Ok(Operand::Lit(value.as_str().into())),
        AOperand::Field { name, arg, .. } => fields::resolve(name, arg.as_deref())
            .map(Operand::Field)
            .map_err(|e| e.to_string()),
        AOperand::Transform { func, args, .. } => {
            let out = args
                .iter()
                .map(operand_standalone)
                .collect::<Result<Vec<_>, _>>()?;
            let ok = match func {
                Transformer::Join => out.len() == 2 && matches!(out[0], Operand::Lit(_)),
                Transformer::Concat => out.len() >= 2,
                _ => out.len() == 1 && !matches!(out[0], Operand::Lit(_)),
            };
            if !ok {
                return Err(format!("wrong arguments for {}()", func.as_str()));
            }
            Ok(Operand::Transform(*func, out.into()))
        }
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.is_empty() || s.as_bytes().chunks(2).any(|c| c.len() != 2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

fn operand_name(o: &AOperand) -> String {
    match o {
        AOperand::Field {
            name, arg: Some(a), ..
        } => format!("{name}[{a}]"),
        AOperand::Field { name, .. } => name.clone(),
        AOperand::Literal { value, .. } => format!("\"{value}\""),
        AOperand::Transform { func, args, .. } => {
            let a: Vec<String> = args.iter().map(operand_name).collect();
            format!("{}({})", func.as_str(), a.join(", "))
        }
    }
}

fn first_span(e: &Expr) -> Span {
    match e {
        Expr::And(v) | Expr::Or(v) => v.first().map(first_span).unwrap_or_default(),
        Expr::Not(_, s) | Expr::Ident(_, s) => *s,
        Expr::Check { lhs, .. } => lhs.span(),
    }
}

/// True for nodes that cost nothing to evaluate (event-type tests and constants).
fn is_free(n: &Node) -> bool {
    match n {
        Node::Const(_) | Node::Type(_) => true,
        Node::Not(inner) => is_free(inner),
        Node::And(items) | Node::Or(items) => items.iter().all(is_free),
        Node::Cmp(_) => false,
    }
}

/// Event types a node can match.
fn node_types(n: &Node, all: &EventTypeSet) -> EventTypeSet {
    match n {
        Node::Type(s) => (**s).clone(),
        Node::And(items) => {
            let mut acc = all.clone();
            for it in items.iter() {
                acc.intersect_with(&node_types(it, all));
            }
            acc
        }
        Node::Or(items) => {
            let mut acc = EventTypeSet::new();
            for it in items.iter() {
                acc.union_with(&node_types(it, all));
            }
            acc
        }
        Node::Not(inner) => match &**inner {
            Node::Type(s) => {
                let mut acc = all.clone();
                acc.subtract(s);
                acc
            }
            _ => all.clone(),
        },
        Node::Const(false) => EventTypeSet::new(),
        Node::Const(true) | Node::Cmp(_) => all.clone(),
    }
}

/// True if the node contains `evt.dir = >` (or `evt.dir != <`).
fn wants_enter(n: &Node) -> bool {
    match n {
        Node::And(items) | Node::Or(items) => items.iter().any(wants_enter),
        Node::Not(inner) => wants_enter(inner),
        Node::Cmp(c) => {
            matches!(&c.lhs, Operand::Field(f) if f.id == F::EvtDir)
                && match (&c.op, &c.rhs) {
                    (Op::Eq, Rhs::Str(s)) => &**s == ">",
                    (Op::Ne, Rhs::Str(s)) => &**s == "<",
                    (Op::In, Rhs::StrSet(s)) => s.contains(">"),
                    _ => false,
                }
        }
        _ => false,
    }
}

/// Builds the exception clause text of a rule (Falco semantics: the rule matches only if no
/// exception's values match).
fn exception_text(r: &RuleDef, d: &mut Diags<'_>, lists: &HashMap<&str, usize>) -> Option<String> {
    fn quote(s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for c in s.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        out
    }
    let value_text = |n: &YNode, comp: &str| -> Option<String> {
        let list_op = matches!(comp, "in" | "intersects" | "pmatch");
        match &n.kind {
            Kind::Scalar(s, _) if list_op && lists.contains_key(s.as_str()) => {
                Some(format!("({s})"))
            }
            Kind::Scalar(s, _) if list_op => Some(format!("({})", quote(s))),
            Kind::Scalar(s, _) => Some(quote(s)),
            Kind::Seq(items) if list_op => {
                let parts: Option<Vec<String>> = items
                    .iter()
                    .map(|i| {
                        i.as_str().map(|s| {
                            if lists.contains_key(s) {
                                s.to_string()
                            } else {
                                quote(s)
                            }
                        })
                    })
                    .collect();
                parts.map(|p| format!("({})", p.join(", ")))
            }
            _ => None,
        }
    };
    let label = Some(format!("rule '{}'", r.name));
    let mut clauses = Vec::new();
    for ex in &r.exceptions {
        for comp in &ex.comps {
            if Op::from_word(comp).is_none()
                && !matches!(comp.as_str(), "=" | "==" | "!=" | "<" | "<=" | ">" | ">=")
            {
                d.err(
                    ex.loc,
                    label.clone(),
                    format!(
                        "exception '{}': unknown comparison operator '{comp}'",
                        ex.name
                    ),
                );
                return None;
            }
        }
        for v in &ex.values {
            let vloc = Loc {
                file: ex.loc.file,
                pos: v.pos,
            };
            if ex.single {
                let comp = &ex.comps[0];
                match value_text(v, comp) {
                    Some(t) => clauses.push(format!("({} {comp} {t})", ex.fields[0])),
                    None => {
                        d.err(
                            vloc,
                            label.clone(),
                            format!("exception '{}': invalid value", ex.name),
                        );
                        return None;
                    }
                }
                continue;
            }
            let Kind::Seq(tuple) = &v.kind else {
                d.err(
                    vloc,
                    label.clone(),
                    format!(
                        "exception '{}': each value must be a list of {} items (one per field)",
                        ex.name,
                        ex.fields.len()
                    ),
                );
                return None;
            };
            if tuple.len() != ex.fields.len() {
                d.err(
                    vloc,
                    label.clone(),
                    format!(
                        "exception '{}': value has {} items but there are {} fields",
                        ex.name,
                        tuple.len(),
                        ex.fields.len()
                    ),
                );
                return None;
            }
            let mut parts = Vec::new();
            for ((f, c), val) in ex.fields.iter().zip(&ex.comps).zip(tuple) {
                match value_text(val, c) {
                    Some(t) => parts.push(format!("{f} {c} {t}")),
                    None => {
                        d.err(
                            Loc {
                                file: ex.loc.file,
                                pos: val.pos,
                            },
                            label.clone(),
                            format!("exception '{}': invalid value", ex.name),
                        );
                        return None;
                    }
                }
            }
            clauses.push(format!("({})", parts.join(" and ")));
        }
    }
    if clauses.is_empty() {
        None
    } else {
        Some(clauses.join(" or "))
    }
}

/// Loads, resolves and compiles; see [`crate::load`].
pub fn load(sources: &[RuleSource], opts: &LoadOptions) -> Result<Loaded, Diagnostics> {
    let mut d = Diags {
        sources,
        list: Vec::new(),
    };
    let defs = loader::load_defs(sources, &mut d);
    let mut c = Compiler {
        defs: &defs,
        d,
        macros: defs
            .macros
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.as_str(), i))
            .collect(),
        macro_asts: HashMap::new(),
        lists: defs
            .lists
            .iter()
            .enumerate()
            .map(|(i, l)| (l.name.as_str(), i))
            .collect(),
        used_macros: HashSet::new(),
        used_lists: HashSet::new(),
        expanding: Vec::new(),
        skip_unknown: false,
        unknown_field: None,
        errors_before: 0,
        depth: 0,
        max_buffers: 1,
    };

    let mut infos = Vec::with_capacity(defs.rules.len());
    let mut compiled = Vec::with_capacity(defs.rules.len());
    let mut conds: Vec<Option<Node>> = Vec::with_capacity(defs.rules.len());
    for r in &defs.rules {
        let mut enabled = r.enabled;
        if let Some(min) = opts.min_priority {
            if !r.priority.at_least(min) {
                enabled = false;
            }
        }
        let mut info = RuleInfo {
            name: r.name.clone(),
            desc: r.desc.clone(),
            priority: r.priority,
            tags: r.tags.clone(),
            enabled,
            source: r.source.clone(),
            output: r.output.clone(),
            file: sources[r.loc.file].name.clone(),
            line: r.loc.pos.line,
            skipped: None,
        };
        if r.source != "syscall" {
            info.skipped = Some(format!(
                "source '{}' is not supported by vigil (only syscall)",
                r.source
            ));
            info.enabled = false;
            infos.push(info);
            compiled.push(None);
            conds.push(None);
            continue;
        }
        let label = format!("rule '{}'", r.name);
        let mut text = r.cond.clone();
        let lists_by_name: HashMap<&str, usize> = c.lists.clone();
        if let Some(exc) = exception_text(r, &mut c.d, &lists_by_name) {
            let mut t = Text::default();
            t.push_synthetic("(", r.loc);
            let base = t.text.len();
            t.text.push_str(&text.text);
            for p in &text.pieces {
                let mut p = p.clone();
                p.at += base;
                t.pieces.push(p);
            }
            t.push_synthetic(") and not (", r.loc);
            t.push_synthetic(&exc, r.exceptions.first().map_or(r.loc, |e| e.loc));
            t.push_synthetic(")", r.loc);
            text = t;
        }
        let cx = TextCx {
            text: &text,
            label: label.clone(),
        };
        let ast = match parser::parse_condition(&text.text) {
            Ok(a) => a,
            Err(pe) => {
                c.d.in_text(Severity::Error, &text, pe.offset, Some(label), pe.message);
                infos.push(info);
                compiled.push(None);
                conds.push(None);
                continue;
            }
        };
        c.skip_unknown = r.skip_if_unknown_filter;
        c.unknown_field = None;
        c.errors_before = c.d.list.iter().filter(|d| d.is_error()).count();
        c.depth = 0;
        let node = c.expr(&ast, &cx);
        if let Some(field) = c.unknown_field.take() {
            c.d.warn(
                r.loc,
                Some(format!("rule '{}'", r.name)),
                format!("rule skipped: unknown field '{field}' (skip-if-unknown-filter: true)"),
            );
            info.skipped = Some(format!("unknown field '{field}'"));
            info.enabled = false;
            infos.push(info);
            compiled.push(None);
            conds.push(None);
            continue;
        }
        let output = match crate::output::compile_format(&r.output) {
            Ok(f) => Some(f),
            Err((off, msg)) => {
                // Output text is a single scalar: point into its line.
                let out_loc = r.loc;
                c.d.err(
                    out_loc,
                    Some(format!("rule '{}'", r.name)),
                    format!("invalid output at byte {off}: {msg}"),
                );
                None
            }
        };
        match (node, output) {
            (Ok(cond), Some(output)) => {
                let all = EventTypeSet::all();
                let types = node_types(&cond, &all);
                if types == all && r.warn_evttypes {
                    c.d.warn(r.loc, Some(format!("rule '{}'", r.name)), "rule has no evt.type restriction: it is evaluated for every event type, which is slow");
                }
                if let Some(m) = output.max_depth() {
                    c.max_buffers = c.max_buffers.max(m);
                }
                let wants_enter = wants_enter(&cond);
                conds.push(Some(cond));
                compiled.push(Some(CompiledRule {
                    output,
                    types,
                    wants_enter,
                }));
            }
            _ => {
                conds.push(None);
                compiled.push(None);
            }
        }
        infos.push(info);
    }

    for (i, m) in defs.macros.iter().enumerate() {
        if !c.used_macros.contains(&i) {
            // Unused macros are still checked for syntax, like Falco does.
            if let Err(pe) = parser::parse_condition(&m.cond.text) {
                c.d.in_text(
                    Severity::Error,
                    &m.cond,
                    pe.offset,
                    Some(format!("macro '{}'", m.name)),
                    pe.message,
                );
            } else {
                c.d.warn(
                    m.loc,
                    Some(format!("macro '{}'", m.name)),
                    "macro is not used by any rule",
                );
            }
        }
    }
    for (i, l) in defs.lists.iter().enumerate() {
        if !c.used_lists.contains(&i) {
            c.d.warn(
                l.loc,
                Some(format!("list '{}'", l.name)),
                "list is not used by any rule or macro",
            );
        }
    }

    let mut diags = std::mem::take(&mut c.d.list);
    let buffers = c.max_buffers;
    dedup(&mut diags);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(Diagnostics(diags));
    }

    let mut needs_enter = EventTypeSet::new();
    let to_plan = conds
        .into_iter()
        .zip(compiled.iter().zip(&infos))
        .map(|(cond, (rule, info))| match (cond, rule) {
            (Some(cond), Some(rule)) if info.enabled => {
                if rule.wants_enter {
                    needs_enter.union_with(&rule.types);
                }
                Some((cond, rule.types.clone(), rule.wants_enter))
            }
            _ => None,
        })
        .collect();
    let plan = if opts.unoptimized {
        optimize::plan_reference(to_plan)
    } else {
        optimize::plan(to_plan)
    };
    let counts = Counts {
        rules: infos.len(),
        macros: defs.macros.len(),
        lists: defs.lists.len(),
        enabled_rules: infos.iter().filter(|r| r.enabled).count(),
        skipped_rules: infos.iter().filter(|r| r.skipped.is_some()).count(),
    };
    let program = Program {
        rules: compiled,
        plan,
        needs_enter,
        buffers: buffers.max(1),
    };
    Ok(Loaded {
        ruleset: Ruleset {
            rules: infos,
            counts,
            program,
            required_engine_version: defs.required_engine_version.clone(),
            required_plugin_versions: defs.required_plugin_versions.clone(),
            matching: opts.rule_matching,
        },
        warnings: diags,
    })
}

fn dedup(diags: &mut Vec<Diagnostic>) {
    let mut seen = HashSet::new();
    diags.retain(|d| {
        seen.insert((
            d.file.clone(),
            d.line,
            d.column,
            d.message.clone(),
            d.severity == Severity::Error,
        ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_literal_head_and_tail_shortcuts_agree_with_the_matcher() {
        let pats = [
            "*/.aws/credentials",
            "/proc/*/environ",
            "/etc/ssh/ssh_host_*_key",
            "abc",
            "a*",
            "*",
            "?x*[ab]y",
            "/x/[!a]*.so",
            "ABC*def",
        ];
        let inputs = [
            "/root/.aws/credentials",
            "/home/u/.AWS/credentials",
            "/proc/12/environ",
            "/proc/environ",
            "/etc/ssh/ssh_host_rsa_key",
            "/etc/ssh/ssh_host__key",
            "abc",
            "ABC",
            "a",
            "",
            "zxqby",
            "/x/b.so",
            "abcdef",
            "ABCxxDEF",
        ];
        for p in pats {
            for icase in [false, true] {
                let g = GlobPat::new(p.as_bytes(), icase);
                for s in inputs {
                    assert_eq!(
                        g.matches(s.as_bytes()),
                        glob_match(p.as_bytes(), s.as_bytes(), icase),
                        "{p} {icase} {s}"
                    );
                }
            }
        }
    }

    #[test]
    fn globs() {
        let g = |p: &str, s: &str| glob_match(p.as_bytes(), s.as_bytes(), false);
        assert!(g("/proc/*/environ", "/proc/123/environ"));
        assert!(!g("/proc/*/environ", "/proc/123/status"));
        assert!(g("*../*../*", "a/../b/../c"));
        assert!(g("/home/*/.ssh/*", "/home/u/.ssh/id_rsa"));
        assert!(g("a?c", "abc") && !g("a?c", "ac"));
        assert!(g("[a-c]x", "bx") && !g("[!a-c]x", "bx") && g("[^a-c]x", "dx"));
        assert!(g("*", "") && g("", "") && !g("", "a"));
        assert!(glob_match(b"*.TXT", b"a.txt", true));
        assert!(g("[abc", "[abc"));
        assert!(!g("a*b*c*d", &"a".repeat(5000)));
    }

    #[test]
    fn path_trie() {
        let mut t = PathTrie::new();
        t.insert("/etc");
        t.insert("/usr/lib/");
        assert!(t.matches("/etc") && t.matches("/etc/") && t.matches("/etc/passwd"));
        assert!(!t.matches("/etcd/x") && !t.matches("/usr") && t.matches("/usr/lib/x"));
        let mut root = PathTrie::new();
        root.insert("/");
        assert!(root.matches("/anything"));
    }

    #[test]
    fn nets() {
        let n = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(!n.contains("11.1.2.3".parse().unwrap()));
        assert!(n.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(IpNet::parse("fd00::/8")
            .unwrap()
            .contains("fd12::1".parse().unwrap()));
        assert!(IpNet::parse("1.2.3.4/33").is_none());
        assert!(IpNet::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
    }
}
