//! Optimisation: each rule's compiled condition is rewritten, for every event type and
//! direction it is indexed under, into a smaller [`Expr`] that evaluation walks instead.
//!
//! Three rewrites, all exact (conditions are pure, so they change cost, never results):
//!
//! 1. **Specialisation.** Event-type tests (`evt.type in (...)`) and direction tests
//!    (`evt.dir = <`) are constants once the type and direction are known. They are folded
//!    away, and with them whole branches of macros written for several syscalls
//!    (`open_write` tests `open`, `openat` and `openat2` separately). A rule whose condition
//!    folds to false for a type is dropped from that type's index.
//! 2. **Shared comparisons.** Macro expansion copies the same comparison into many rules
//!    (`container.id != host`, `evt.is_open_read = true`). Identical comparisons are
//!    interned into one [`Leaf`] table; a leaf that several rules of one event type use gets
//!    a memo slot, so it is computed at most once per event ([`Memo`]).
//! 3. **Ordering by expected cost.** The operands of `and`/`or` are sorted by
//!    cost / probability of deciding the result, the classic rule for short-circuit
//!    evaluation. Costs come from the field (event fields are cheap, ancestors and
//!    multi-valued fields are not) and the operator (regexes cost more than set lookups);
//!    probabilities are fixed guesses per operator (an equality or set membership rarely
//!    holds, a negation usually does). Rule authors' order is the tiebreak.
//!
//! The alternative of evaluating macros as shared sub-programs with memoisation was
//! rejected: macro boundaries are not where sharing happens (the same comparison appears
//! in different macros), and leaf-level memoisation catches both.

use crate::ast::{Op, Transformer};
use crate::compile::{Cmp, Node, Operand, Rhs};
use crate::fields::{Arg, FieldRef, F};
use crate::typeset::EventTypeSet;
use std::collections::HashMap;
use std::sync::Arc;
use vigil_event::{Dir, EventType};

/// No memo slot.
pub const NO_MEMO: u32 = u32::MAX;

/// A specialised condition.
#[derive(Debug)]
pub enum Expr {
    And(Box<[Expr]>),
    Or(Box<[Expr]>),
    Not(Box<Expr>),
    /// An index into [`Plan::leaves`].
    Leaf(u32),
    /// The condition holds for every event of the type (e.g. `evt.type = execve`).
    True,
    /// Only in reference plans ([`plan_reference`]): an event-type test.
    Type(Box<EventTypeSet>),
    /// Only in reference plans: an `evt.dir` test, its value on entry and on exit events.
    Dir {
        enter: bool,
        exit: bool,
    },
    /// Only in reference plans: a constant.
    Const(bool),
}

/// One interned comparison.
#[derive(Debug)]
pub struct Leaf {
    pub cmp: Cmp,
    /// Memo slot, or [`NO_MEMO`].
    pub memo: u32,
}

/// A rule to try for an event type, with its condition specialised for it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub rule: u32,
    pub expr: Arc<Expr>,
    /// Skip the rule unless the event's path is in one of these sets ([`crate::guard`]).
    pub guard: Option<Arc<crate::guard::Guard>>,
}

/// The optimised index: what [`crate::eval`] runs.
#[derive(Debug, Default)]
pub struct Plan {
    pub leaves: Vec<Leaf>,
    /// Per event type: rules to try on exit events, in rule order.
    pub exit: Vec<Box<[Entry]>>,
    /// Per event type: rules that ask for entry events, in rule order.
    pub enter: Vec<Box<[Entry]>>,
    /// Memo slots an evaluation needs.
    pub memo_slots: u32,
    /// The path sets of the entries' guards.
    pub paths: crate::guard::PathIndex,
}

/// Per-event results of memoised leaves. An epoch tag instead of clearing: a slot holds
/// `epoch << 1 | result` and is valid only if its epoch is the current one.
#[derive(Debug, Default)]
pub struct Memo {
    slots: Vec<u32>,
    epoch: u32,
}

impl Memo {
    /// Starts a new event: every slot becomes unknown.
    pub fn next_event(&mut self, slots: u32) {
        if self.slots.len() < slots as usize {
            self.slots.resize(slots as usize, 0);
        }
        self.epoch += 1;
        if self.epoch >= u32::MAX >> 1 {
            self.slots.iter_mut().for_each(|s| *s = 0);
            self.epoch = 1;
        }
    }

    #[inline]
    pub fn get(&self, slot: u32) -> Option<bool> {
        let v = *self.slots.get(slot as usize)?;
        (v >> 1 == self.epoch).then_some(v & 1 == 1)
    }

    #[inline]
    pub fn set(&mut self, slot: u32, result: bool) {
        if let Some(s) = self.slots.get_mut(slot as usize) {
            *s = (self.epoch << 1) | result as u32;
        }
    }
}

/// The condition with comparisons moved into the leaf table; event-type and direction
/// tests kept symbolic until specialisation.
enum G {
    And(Vec<G>),
    Or(Vec<G>),
    Not(Box<G>),
    Const(bool),
    Type(Box<EventTypeSet>),
    /// An `evt.dir` test: its value on entry and on exit events.
    Dir {
        enter: bool,
        exit: bool,
    },
    Leaf(u32),
}

/// Builds a plan that evaluates every condition exactly as written: no specialisation, no
/// sharing, no reordering, each rule indexed under every type it can match. It is the
/// reference the optimised [`plan`] is tested against.
pub fn plan_reference(rules: Vec<Option<(Node, EventTypeSet, bool)>>) -> Plan {
    fn lower(n: Node, leaves: &mut Vec<Leaf>) -> Expr {
        match n {
            Node::And(items) => Expr::And(
                items
                    .into_vec()
                    .into_iter()
                    .map(|i| lower(i, leaves))
                    .collect(),
            ),
            Node::Or(items) => Expr::Or(
                items
                    .into_vec()
                    .into_iter()
                    .map(|i| lower(i, leaves))
                    .collect(),
            ),
            Node::Not(inner) => Expr::Not(Box::new(lower(*inner, leaves))),
            Node::Const(b) => Expr::Const(b),
            Node::Type(s) => Expr::Type(s),
            Node::Cmp(c) => {
                leaves.push(Leaf {
                    cmp: *c,
                    memo: NO_MEMO,
                });
                Expr::Leaf(leaves.len() as u32 - 1)
            }
        }
    }
    let mut leaves = Vec::new();
    let mut exit: Vec<Vec<Entry>> = vec![Vec::new(); EventType::MAX];
    let mut enter: Vec<Vec<Entry>> = vec![Vec::new(); EventType::MAX];
    for (i, r) in rules.into_iter().enumerate() {
        let Some((n, types, wants_enter)) = r else {
            continue;
        };
        let expr = Arc::new(lower(n, &mut leaves));
        for t in types.iter() {
            let entry = Entry {
                rule: i as u32,
                expr: expr.clone(),
                guard: None,
            };
            if wants_enter {
                enter[t.index()].push(entry.clone());
            }
            exit[t.index()].push(entry);
        }
    }
    Plan {
        leaves,
        exit: exit.into_iter().map(Vec::into_boxed_slice).collect(),
        enter: enter.into_iter().map(Vec::into_boxed_slice).collect(),
        memo_slots: 0,
        paths: crate::guard::PathIndex::default(),
    }
}

/// Builds the plan. `rules[i]` is rule `i`'s condition and the types it can match, `None`
/// for rules that are never evaluated; `enabled` and `wants_enter` say where to index it.
pub fn plan(rules: Vec<Option<(Node, EventTypeSet, bool)>>) -> Plan {
    let mut interner = Interner::default();
    let generic: Vec<Option<(G, EventTypeSet, bool)>> = rules
        .into_iter()
        .map(|r| r.map(|(n, types, enter)| (interner.lower(n), types, enter)))
        .collect();
    let costs: Vec<(f32, f32)> = interner
        .leaves
        .iter()
        .map(|l| (leaf_cost(&l.cmp), leaf_pass(&l.cmp)))
        .collect();

    let mut exit: Vec<Vec<Entry>> = vec![Vec::new(); EventType::MAX];
    let mut enter: Vec<Vec<Entry>> = vec![Vec::new(); EventType::MAX];
    for (i, r) in generic.iter().enumerate() {
        let Some((g, types, wants_enter)) = r else {
            continue;
        };
        // Types whose Type tests all answer alike share one specialised tree.
        let mut shared: HashMap<(Vec<bool>, bool), Option<Arc<Expr>>> = HashMap::new();
        for t in types.iter() {
            for dir in [Dir::Exit, Dir::Enter] {
                if dir == Dir::Enter && !wants_enter {
                    continue;
                }
                let mut sig = Vec::new();
                signature(g, t, &mut sig);
                let e = shared
                    .entry((sig, dir == Dir::Enter))
                    .or_insert_with(|| match specialise(g, t, dir, &costs) {
                        S::Const(false) => None,
                        S::Const(true) => Some(Arc::new(Expr::True)),
                        S::E(e, _, _) => Some(Arc::new(e)),
                    })
                    .clone();
                if let Some(expr) = e {
                    let list = if dir == Dir::Exit {
                        &mut exit[t.index()]
                    } else {
                        &mut enter[t.index()]
                    };
                    list.push(Entry {
                        rule: i as u32,
                        expr,
                        guard: None,
                    });
                }
            }
        }
    }

    // A leaf gets a memo slot if two rules tried on the same events use it (or one rule
    // uses it twice).
    let mut leaves = interner.leaves;
    let mut uses = vec![0u32; leaves.len()];
    let mut seen_in = vec![u32::MAX; leaves.len()];
    let mut memo_slots = 0;
    for (list_no, list) in exit.iter().chain(enter.iter()).enumerate() {
        for entry in list {
            for_each_leaf(&entry.expr, &mut |l| {
                let l = l as usize;
                if seen_in[l] != list_no as u32 {
                    seen_in[l] = list_no as u32;
                    uses[l] = 0;
                }
                uses[l] += 1;
                if uses[l] == 2 && leaves[l].memo == NO_MEMO {
                    leaves[l].memo = memo_slots;
                    memo_slots += 1;
                }
            });
        }
    }
    let mut plan = Plan {
        leaves,
        exit: exit.into_iter().map(Vec::into_boxed_slice).collect(),
        enter: enter.into_iter().map(Vec::into_boxed_slice).collect(),
        memo_slots,
        paths: crate::guard::PathIndex::default(),
    };
    attach_guards(&mut plan);
    plan
}

/// Gives each entry the path guard its condition allows (see [`crate::guard`]).
fn attach_guards(plan: &mut Plan) {
    let mut paths = crate::guard::PathIndex::default();
    let mut shared: HashMap<*const Expr, Option<Arc<crate::guard::Guard>>> = HashMap::new();
    let mut guards: Vec<Vec<Option<Arc<crate::guard::Guard>>>> = Vec::new();
    for (t, list) in plan.exit.iter().chain(plan.enter.iter()).enumerate() {
        let t = EventType((t % EventType::MAX) as u16);
        guards.push(
            list.iter()
                .map(|e| {
                    // Types sharing a specialised tree share its guard.
                    shared
                        .entry(Arc::as_ptr(&e.expr))
                        .or_insert_with(|| {
                            crate::prefilter::path_guard(plan, &e.expr, t, &mut paths).map(Arc::new)
                        })
                        .clone()
                })
                .collect(),
        );
    }
    let lists = plan.exit.iter_mut().chain(plan.enter.iter_mut());
    for (list, gs) in lists.zip(guards) {
        for (e, g) in list.iter_mut().zip(gs) {
            e.guard = g;
        }
    }
    plan.paths = paths;
}

#[derive(Default)]
struct Interner {
    leaves: Vec<Leaf>,
    /// Comparisons by their full debug form: equal forms are the same comparison.
    by_form: HashMap<String, u32>,
}

impl Interner {
    fn lower(&mut self, n: Node) -> G {
        match n {
            Node::And(items) => G::And(
                items
                    .into_vec()
                    .into_iter()
                    .map(|i| self.lower(i))
                    .collect(),
            ),
            Node::Or(items) => G::Or(
                items
                    .into_vec()
                    .into_iter()
                    .map(|i| self.lower(i))
                    .collect(),
            ),
            Node::Not(inner) => G::Not(Box::new(self.lower(*inner))),
            Node::Const(b) => G::Const(b),
            Node::Type(s) => G::Type(s),
            Node::Cmp(c) => {
                if let Some((enter, exit)) = dir_test(&c) {
                    return G::Dir { enter, exit };
                }
                if never_holds(&c) {
                    return G::Const(false);
                }
                let form = format!("{c:?}");
                if let Some(&i) = self.by_form.get(&form) {
                    return G::Leaf(i);
                }
                let i = self.leaves.len() as u32;
                self.leaves.push(Leaf {
                    cmp: *c,
                    memo: NO_MEMO,
                });
                self.by_form.insert(form, i);
                G::Leaf(i)
            }
        }
    }
}

/// The value of an `evt.dir` comparison on entry and exit events, if `c` is one.
fn dir_test(c: &Cmp) -> Option<(bool, bool)> {
    let Operand::Field(f) = &c.lhs else {
        return None;
    };
    if f.id != F::EvtDir || c.multi {
        return None;
    }
    let holds = |d: &str| -> Option<bool> {
        Some(match (&c.op, &c.rhs) {
            (Op::Eq, Rhs::Str(s)) => &**s == d,
            (Op::Ne, Rhs::Str(s)) => &**s != d,
            (Op::In | Op::Intersects, Rhs::StrSet(set)) => set.contains(d),
            (Op::Exists, _) => true,
            _ => return None,
        })
    };
    Some((holds(">")?, holds("<")?))
}

/// True for `x in ()`: membership in an empty list (an empty tuning list, typically).
fn never_holds(c: &Cmp) -> bool {
    if c.multi || !matches!(c.op, Op::In | Op::Intersects) {
        return false;
    }
    match &c.rhs {
        Rhs::StrSet(s) => s.is_empty(),
        Rhs::NumSet(s) => s.is_empty(),
        Rhs::Nets(n) => n.is_empty(),
        Rhs::BoolSet(t, f) => !t && !f,
        _ => false,
    }
}

/// Which `Type` tests of `g` contain `t`, in walk order.
fn signature(g: &G, t: EventType, out: &mut Vec<bool>) {
    match g {
        G::And(items) | G::Or(items) => items.iter().for_each(|i| signature(i, t, out)),
        G::Not(inner) => signature(inner, t, out),
        G::Type(s) => out.push(s.contains(t)),
        G::Const(_) | G::Dir { .. } | G::Leaf(_) => {}
    }
}

/// A specialised subtree: a constant, or an expression with its expected cost and the
/// probability that it holds.
enum S {
    Const(bool),
    E(Expr, f32, f32),
}

fn specialise(g: &G, t: EventType, dir: Dir, costs: &[(f32, f32)]) -> S {
    match g {
        G::Const(b) => S::Const(*b),
        G::Type(s) => S::Const(s.contains(t)),
        G::Dir { enter, exit } => S::Const(if dir == Dir::Enter { *enter } else { *exit }),
        G::Leaf(i) => {
            let (c, p) = costs[*i as usize];
            S::E(Expr::Leaf(*i), c, p)
        }
        G::Not(inner) => match specialise(inner, t, dir, costs) {
            S::Const(b) => S::Const(!b),
            S::E(Expr::Not(e), c, p) => S::E(*e, c, 1.0 - p),
            S::E(e, c, p) => S::E(Expr::Not(Box::new(e)), c, 1.0 - p),
        },
        G::And(items) | G::Or(items) => {
            let is_and = matches!(g, G::And(_));
            // The value that decides the whole `and` (false) or `or` (true).
            let decisive = !is_and;
            let mut kept: Vec<(Expr, f32, f32)> = Vec::with_capacity(items.len());
            for it in items {
                match specialise(it, t, dir, costs) {
                    S::Const(b) if b == decisive => return S::Const(decisive),
                    S::Const(_) => {}
                    // Nested operators of the same kind flatten into this one.
                    S::E(Expr::And(sub), _, _) if is_and => {
                        for e in sub.into_vec() {
                            let (c, p) = estimate(&e, costs);
                            kept.push((e, c, p));
                        }
                    }
                    S::E(Expr::Or(sub), _, _) if !is_and => {
                        for e in sub.into_vec() {
                            let (c, p) = estimate(&e, costs);
                            kept.push((e, c, p));
                        }
                    }
                    S::E(e, c, p) => kept.push((e, c, p)),
                }
            }
            if kept.is_empty() {
                return S::Const(!decisive);
            }
            // Short-circuit order: ascending cost per chance of deciding the result.
            let rank = |&(_, c, p): &(Expr, f32, f32)| {
                let decide = if is_and { 1.0 - p } else { p };
                c / decide.max(1e-3)
            };
            kept.sort_by(|a, b| rank(a).total_cmp(&rank(b)));
            let (cost, prob) = combine(is_and, kept.iter().map(|(_, c, p)| (*c, *p)));
            if kept.len() == 1 {
                let (e, c, p) = kept.pop().expect("one operand");
                return S::E(e, c, p);
            }
            let exprs: Box<[Expr]> = kept.into_iter().map(|(e, _, _)| e).collect();
            S::E(
                if is_and {
                    Expr::And(exprs)
                } else {
                    Expr::Or(exprs)
                },
                cost,
                prob,
            )
        }
    }
}

/// Expected cost and probability of an `and` (or `or`) of operands evaluated in order.
fn combine(is_and: bool, ops: impl Iterator<Item = (f32, f32)>) -> (f32, f32) {
    let mut cost = 0.0;
    // Probability that evaluation reaches the next operand.
    let mut reach = 1.0;
    for (c, p) in ops {
        cost += reach * c;
        reach *= if is_and { p } else { 1.0 - p };
    }
    (cost, if is_and { reach } else { 1.0 - reach })
}

fn estimate(e: &Expr, costs: &[(f32, f32)]) -> (f32, f32) {
    match e {
        Expr::True | Expr::Type(_) | Expr::Dir { .. } | Expr::Const(_) => (0.0, 1.0),
        Expr::Leaf(i) => costs[*i as usize],
        Expr::Not(inner) => {
            let (c, p) = estimate(inner, costs);
            (c, 1.0 - p)
        }
        Expr::And(items) => combine(true, items.iter().map(|i| estimate(i, costs))),
        Expr::Or(items) => combine(false, items.iter().map(|i| estimate(i, costs))),
    }
}

fn for_each_leaf(e: &Expr, f: &mut impl FnMut(u32)) {
    match e {
        Expr::And(items) | Expr::Or(items) => items.iter().for_each(|i| for_each_leaf(i, f)),
        Expr::Not(inner) => for_each_leaf(inner, f),
        Expr::Leaf(i) => f(*i),
        Expr::True | Expr::Type(_) | Expr::Dir { .. } | Expr::Const(_) => {}
    }
}

/// Relative cost of extracting a field (an event field read is 1).
fn field_cost(f: &FieldRef) -> f32 {
    if f.multi {
        return 20.0;
    }
    let d = f.id as u16;
    let event_or_fd = d < F::ProcPid as u16 || (d >= F::FdNum as u16 && d < F::ContainerId as u16);
    match f.id {
        // Rendered from every parameter.
        F::EvtArgs | F::EvtInfo => 10.0,
        F::ProcEnv => 8.0,
        F::ProcPname | F::ProcPexe | F::ProcPexepath | F::ProcPcmdline | F::ProcPpidDuration => 4.0,
        F::ProcAname | F::ProcAexe | F::ProcAexepath | F::ProcApid | F::ProcAcmdline => {
            let n = match f.arg {
                Arg::Index(n) => n as f32,
                _ => 1.0,
            };
            3.0 + n
        }
        F::ProcCmdline | F::ProcArgs | F::ProcExeline | F::ProcCmdlenargs => 3.0,
        F::UserName
        | F::UserHomedir
        | F::UserShell
        | F::UserLoginname
        | F::GroupName
        | F::ProcVpgidName
        | F::ProcVpgidExe
        | F::ProcVpgidExepath
        | F::ProcSname => 4.0,
        F::FdCipName | F::FdSipName | F::FdLipName | F::FdRipName => 4.0,
        _ if event_or_fd => 1.0,
        _ if d < F::FdNum as u16 => 2.0,
        _ => 3.0,
    }
}

fn operand_cost(o: &Operand) -> f32 {
    match o {
        Operand::Field(f) => field_cost(f),
        Operand::Lit(_) => 0.0,
        Operand::Transform(t, args) => {
            let own = match t {
                Transformer::Len => 0.5,
                _ => 3.0,
            };
            own + args.iter().map(operand_cost).sum::<f32>()
        }
    }
}

fn leaf_cost(c: &Cmp) -> f32 {
    let op = match (&c.op, &c.rhs) {
        (_, Rhs::Operand(o)) => 1.0 + operand_cost(o),
        (Op::Regex, _) => 10.0,
        (Op::Glob | Op::IGlob, _) => 4.0,
        (Op::IContains, _) => 3.0,
        (Op::Contains | Op::BContains | Op::Pmatch, _) => 2.0,
        (Op::In | Op::Intersects, Rhs::Nets(_)) => 2.0,
        (Op::In | Op::Intersects, _) => 1.5,
        (Op::StartsWith | Op::EndsWith | Op::BStartsWith, _) => 0.5,
        _ => 0.2,
    };
    let lhs = operand_cost(&c.lhs);
    // Every value of a multi-valued field is compared.
    if c.multi {
        lhs + 4.0 * op
    } else {
        lhs + op
    }
}

/// A fixed guess of how often a comparison holds on ordinary events.
fn leaf_pass(c: &Cmp) -> f32 {
    match (&c.op, &c.rhs) {
        (Op::Exists, _) => 0.9,
        (Op::Ne, _) => 0.9,
        (Op::Eq, Rhs::Bool(_)) => 0.5,
        (Op::Lt | Op::Le | Op::Gt | Op::Ge, _) => 0.5,
        (Op::Eq, _) => 0.1,
        _ => 0.15,
    }
}

impl Plan {
    /// Debugging aid: the exit plan of `t`, a rule a line, leaves shown as `#id` with their
    /// comparison.
    pub fn dump(&self, t: EventType, rules: &[crate::RuleInfo]) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        fn walk(e: &Expr, p: &Plan, out: &mut String) {
            match e {
                Expr::True => out.push_str("true"),
                Expr::Const(b) => out.push_str(if *b { "true" } else { "false" }),
                Expr::Type(s) => {
                    let _ = write!(out, "evt.type in {s:?}");
                }
                Expr::Dir { enter, exit } => {
                    let _ = write!(out, "evt.dir(enter={enter}, exit={exit})");
                }
                Expr::Leaf(i) => {
                    let l = &p.leaves[*i as usize];
                    let lhs = match &l.cmp.lhs {
                        Operand::Field(f) => format!("{:?}{:?}", f.id, f.arg),
                        o => format!("{o:?}"),
                    };
                    let rhs = format!("{:?}", l.cmp.rhs);
                    let rhs: String = rhs.chars().take(40).collect();
                    let _ = write!(
                        out,
                        "#{i}{}[{lhs} {:?} {rhs}]",
                        if l.memo == NO_MEMO { "" } else { "m" },
                        l.cmp.op
                    );
                }
                Expr::Not(inner) => {
                    out.push_str("not ");
                    walk(inner, p, out);
                }
                Expr::And(items) | Expr::Or(items) => {
                    let sep = if matches!(e, Expr::And(_)) {
                        " and "
                    } else {
                        " or "
                    };
                    out.push('(');
                    for (k, it) in items.iter().enumerate() {
                        if k > 0 {
                            out.push_str(sep);
                        }
                        walk(it, p, out);
                    }
                    out.push(')');
                }
            }
        }
        for entry in self.exit.get(t.index()).map(|l| &l[..]).unwrap_or(&[]) {
            let _ = write!(out, "{}: ", rules[entry.rule as usize].name);
            walk(&entry.expr, self, &mut out);
            out.push('\n');
        }
        out
    }
}
