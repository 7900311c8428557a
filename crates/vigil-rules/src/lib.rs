//! vigil's Falco-compatible rules engine.
//!
//! Rules files are compiled in stages, in the manner of `regex` (parse, translate, compile,
//! execute), each stage with its own types:
//!
//! 1. [`yaml`]: the YAML document is read into a small tree whose every node keeps its
//!    file/line/column ([`yaml-rust2`](yaml_rust2) marked events).
//! 2. [`loader`]: the tree becomes rule, macro and list *items* (with Falco's redefinition,
//!    `append` and `override` semantics applied, in file order).
//! 3. [`parser`]: each condition string becomes an [`ast::Expr`] with byte spans.
//! 4. [`compile`]: macros and lists are expanded, fields resolved against the [`fields`]
//!    registry to small ids, operators type-checked and constants pre-built (hash sets,
//!    path tries, compiled globs and regexes); rules are indexed by event type.
//! 5. [`eval`]: the immutable [`Ruleset`] evaluates a borrowed event against a reused
//!    [`Scratch`] without allocating; [`output`] renders alerts.
//!
//! All load errors are collected and returned at once as [`Diagnostics`], each pointing at a
//! file, line and column.

pub mod ast;
pub mod compile;
pub mod diag;
pub mod eval;
pub mod fields;
#[doc(hidden)]
pub mod fuzzing;
pub mod guard;
pub mod loader;
pub mod optimize;
pub mod output;
pub mod parser;
pub mod prefilter;
pub mod render;
pub mod typeset;
pub mod yaml;

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use eval::Scratch;
pub use typeset::EventTypeSet;

use std::path::PathBuf;
use vigil_event::{Alert, Event, Priority, StateView};

/// One rules document to load, with the name diagnostics show for it.
#[derive(Clone, Debug)]
pub struct RuleSource {
    /// File path (or `<embedded:...>`) shown in diagnostics.
    pub name: String,
    /// The YAML text.
    pub text: String,
}

/// How many rules may fire for one event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RuleMatching {
    /// Stop at the first matching rule in file order (Falco's default).
    #[default]
    First,
    /// Report every matching rule.
    All,
}

/// Options applied while loading.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Rules less severe than this are loaded but disabled.
    pub min_priority: Option<Priority>,
    pub rule_matching: RuleMatching,
    /// Evaluate conditions exactly as written, without the optimiser: the reference the
    /// optimised evaluation is tested against. Slow; for tests.
    #[doc(hidden)]
    pub unoptimized: bool,
}

/// Index of a rule in [`Ruleset::rules`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub u32);

/// Everything known about one rule, as defined after all files were merged.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RuleInfo {
    pub name: String,
    pub desc: String,
    pub priority: Priority,
    pub tags: Vec<String>,
    /// Enabled after `enabled:` flags and the minimum priority were applied.
    pub enabled: bool,
    /// Event source (`syscall`, `k8s_audit`, ...).
    pub source: String,
    pub output: String,
    pub file: String,
    pub line: u32,
    /// Why the rule is loaded but never evaluated (non-syscall source, unknown field with
    /// `skip-if-unknown-filter`), if it is.
    pub skipped: Option<String>,
}

/// Sizes of a loaded ruleset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub rules: usize,
    pub macros: usize,
    pub lists: usize,
    pub enabled_rules: usize,
    pub skipped_rules: usize,
}

/// A `required_plugin_versions` entry (accepted and reported; vigil has no plugins).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PluginRequirement {
    pub name: String,
    pub version: String,
    /// `(name, version)` alternatives.
    pub alternatives: Vec<(String, String)>,
}

/// The result of a successful load: the ruleset and the warnings found on the way.
#[derive(Debug)]
pub struct Loaded {
    pub ruleset: Ruleset,
    pub warnings: Vec<Diagnostic>,
}

/// Loads and compiles rules documents, in order (later definitions override earlier ones).
pub fn load(sources: &[RuleSource], opts: &LoadOptions) -> Result<Loaded, Diagnostics> {
    compile::load(sources, opts)
}

/// Reads the files and loads them in order. An unreadable file is a diagnostic too.
pub fn load_files(paths: &[PathBuf], opts: &LoadOptions) -> Result<Loaded, Diagnostics> {
    let mut sources = Vec::with_capacity(paths.len());
    let mut errors = Vec::new();
    for p in paths {
        match std::fs::read_to_string(p) {
            Ok(text) => sources.push(RuleSource {
                name: p.display().to_string(),
                text,
            }),
            Err(e) => errors.push(Diagnostic::error(
                p.display().to_string(),
                0,
                0,
                None,
                format!("cannot read rules file: {e}"),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    load(&sources, opts)
}

/// A compiled, immutable ruleset. Share it between threads; give each thread a [`Scratch`].
#[derive(Debug)]
pub struct Ruleset {
    pub(crate) rules: Vec<RuleInfo>,
    pub(crate) counts: Counts,
    pub(crate) program: compile::Program,
    pub(crate) required_engine_version: Option<String>,
    pub(crate) required_plugin_versions: Vec<PluginRequirement>,
    pub(crate) matching: RuleMatching,
}

impl Ruleset {
    /// Every rule, in definition order; [`RuleId`] indexes this slice.
    pub fn rules(&self) -> &[RuleInfo] {
        &self.rules
    }

    /// The rule with this id.
    pub fn rule(&self, id: RuleId) -> &RuleInfo {
        &self.rules[id.0 as usize]
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Event types some enabled rule can match; the sensor filters in the kernel with this.
    pub fn event_types(&self) -> EventTypeSet {
        self.program.event_types()
    }

    /// For each event type some rule matches, how many enabled rules are checked against
    /// events of that type (the evaluation work per event).
    pub fn rules_per_type(&self) -> Vec<(vigil_event::EventType, usize)> {
        self.program
            .plan
            .exit
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.is_empty())
            .map(|(i, r)| (vigil_event::EventType(i as u16), r.len()))
            .collect()
    }

    /// Event types for which an enabled rule asks for entry events (`evt.dir = >`).
    pub fn needs_enter_events(&self) -> EventTypeSet {
        self.program.needs_enter.clone()
    }

    pub fn required_plugin_versions(&self) -> &[PluginRequirement] {
        &self.required_plugin_versions
    }

    pub fn required_engine_version(&self) -> Option<&str> {
        self.required_engine_version.as_deref()
    }

    /// Rule matching mode chosen at load.
    pub fn rule_matching(&self) -> RuleMatching {
        self.matching
    }

    /// A necessary condition, testable in the kernel, for any enabled rule to match an exit
    /// event of open type `t`; `None` when every such event must be reported (see
    /// [`prefilter`]).
    pub fn open_prefilter(&self, t: vigil_event::EventType) -> Option<prefilter::OpenFilter> {
        prefilter::open_filter(&self.program.plan, t)
    }

    /// True if an enabled rule's condition or output reads one of `fields` (by id), so the
    /// sensor can collect what only some rules need (e.g. `evt.latency`).
    pub fn uses_any_field(&self, fields: &[fields::F]) -> bool {
        fn walk(o: &compile::Operand, fields: &[fields::F]) -> bool {
            match o {
                compile::Operand::Field(f) => fields.contains(&f.id),
                compile::Operand::Transform(_, args) => args.iter().any(|a| walk(a, fields)),
                compile::Operand::Lit(_) => false,
            }
        }
        let in_leaves = self.program.plan.leaves.iter().any(|l| {
            walk(&l.cmp.lhs, fields)
                || matches!(&l.cmp.rhs, compile::Rhs::Operand(o) if walk(o, fields))
        });
        let in_outputs = self
            .program
            .rules
            .iter()
            .zip(&self.rules)
            .filter(|(_, info)| info.enabled)
            .filter_map(|(r, _)| r.as_ref())
            .any(|r| r.output.operands().any(|o| walk(o, fields)));
        in_leaves || in_outputs
    }

    /// True if a rule needs syscall latency (`evt.latency`, `evt.latency.s`, `evt.latency.ns`).
    pub fn needs_latency(&self) -> bool {
        use fields::F;
        self.uses_any_field(&[F::EvtLatency, F::EvtLatencyS, F::EvtLatencyNs])
    }

    /// Fresh per-thread evaluation state.
    pub fn new_scratch(&self) -> Scratch {
        Scratch::new()
    }

    /// Appends to `matched` the rules matching `event` (at most one with
    /// [`RuleMatching::First`]). Allocates nothing once `scratch` and `matched` have grown.
    pub fn evaluate<S: StateView + ?Sized>(
        &self,
        event: &Event<'_>,
        state: &S,
        scratch: &mut Scratch,
        matched: &mut Vec<RuleId>,
    ) {
        eval::evaluate(self, event, state, scratch, matched)
    }

    /// Builds the alert of `rule` for `event` (renders the output and its fields).
    pub fn alert<S: StateView + ?Sized>(
        &self,
        rule: RuleId,
        event: &Event<'_>,
        state: &S,
        scratch: &mut Scratch,
    ) -> Alert {
        output::alert(self, rule, event, state, scratch)
    }
}

#[doc(hidden)]
impl Ruleset {
    /// The specialised conditions of the rules tried on exit events of `t`, one per line
    /// (a debugging aid for the optimiser).
    pub fn plan_dump(&self, t: vigil_event::EventType) -> String {
        self.program.plan.dump(t, &self.rules)
    }
}
