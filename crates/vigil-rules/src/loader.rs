//! From YAML trees to rule, macro and list definitions, with Falco's merge semantics.
//!
//! Files are processed in order. Within the merged namespace:
//! - a full redefinition of a rule/macro/list replaces the earlier one (keeping its place);
//! - `append: true` (deprecated) or `override: {key: append}` extends conditions (textually,
//!   joined by a space as Falco does), list items, exceptions, tags;
//! - `override: {key: replace}` replaces just those keys;
//! - a rule item with only `enabled:` toggles an existing rule.
//!
//! Conditions are kept as text plus the location of each piece, so a later stage can point an
//! error inside an appended condition at the right file and line.

use crate::diag::{line_col, Diagnostic, Severity};
use crate::yaml::{self, Kind, Node, Pos, Style};
use crate::RuleSource;
use vigil_event::Priority;

/// Where a definition or a piece of text comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc {
    /// Index into the sources.
    pub file: usize,
    pub pos: Pos,
}

/// A piece of condition text from one YAML scalar.
#[derive(Clone, Debug, PartialEq)]
pub struct Piece {
    /// Offset of this piece in the joined text.
    pub at: usize,
    pub len: usize,
    pub loc: Loc,
    pub style: Style,
    /// True for text vigil generated (exceptions): positions map to `loc` itself.
    pub synthetic: bool,
}

/// Condition text assembled from one or more YAML scalars.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Text {
    pub text: String,
    pub pieces: Vec<Piece>,
}

impl Text {
    fn from_node(n: &Node, file: usize, s: &str) -> Text {
        let style = match &n.kind {
            Kind::Scalar(_, st) => *st,
            _ => Style::Plain,
        };
        Text {
            text: s.to_string(),
            pieces: vec![Piece {
                at: 0,
                len: s.len(),
                loc: Loc { file, pos: n.pos },
                style,
                synthetic: false,
            }],
        }
    }

    fn append(&mut self, other: &Text) {
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        let base = self.text.len();
        self.text.push_str(&other.text);
        for p in &other.pieces {
            let mut p = p.clone();
            p.at += base;
            self.pieces.push(p);
        }
    }

    /// Appends generated text attributed to `loc`.
    pub fn push_synthetic(&mut self, s: &str, loc: Loc) {
        let at = self.text.len();
        self.text.push_str(s);
        self.pieces.push(Piece {
            at,
            len: s.len(),
            loc,
            style: Style::Plain,
            synthetic: true,
        });
    }

    /// Maps a byte offset of the joined text to file, line, column and the line's text.
    pub fn locate(
        &self,
        offset: usize,
        sources: &[RuleSource],
    ) -> (usize, u32, u32, Option<String>) {
        let piece = self
            .pieces
            .iter()
            .rev()
            .find(|p| p.at <= offset)
            .or(self.pieces.first());
        let Some(piece) = piece else {
            return (0, 0, 0, None);
        };
        let src = &sources[piece.loc.file].text;
        let node_off = offset_of(src, piece.loc.pos);
        if piece.synthetic {
            let (l, c, line) = line_col(src, node_off);
            return (piece.loc.file, l, c, Some(line.to_string()));
        }
        let rel = offset.saturating_sub(piece.at).min(piece.len);
        let value = &self.text[piece.at..piece.at + piece.len];
        let off = map_into_source(src, node_off, piece.style, value, rel);
        let (l, c, line) = line_col(src, off);
        (piece.loc.file, l, c, Some(line.to_string()))
    }
}

/// Byte offset of a 1-based line/column in `src`.
pub fn offset_of(src: &str, pos: Pos) -> usize {
    let mut off = 0;
    for _ in 1..pos.line.max(1) {
        match src[off..].find('\n') {
            Some(i) => off += i + 1,
            None => return src.len(),
        }
    }
    let line = &src[off..];
    off + line
        .char_indices()
        .nth(pos.col.saturating_sub(1) as usize)
        .map_or(line.len(), |(i, _)| i)
}

/// Finds the source offset of byte `rel` of a scalar's value by walking the value and the
/// source text together (the value is, escapes aside, a subsequence of the source).
fn map_into_source(src: &str, start: usize, style: Style, value: &str, rel: usize) -> usize {
    let b = src.as_bytes();
    let mut s = start;
    match style {
        Style::SingleQuoted | Style::DoubleQuoted => s += 1,
        // Block scalars are marked where their content starts.
        Style::Literal | Style::Folded | Style::Plain => {}
    }
    let vb = value.as_bytes();
    let limit = (s + value.len() * 2 + 4096).min(b.len());
    for &c in &vb[..rel.min(vb.len())] {
        if c.is_ascii_whitespace() {
            if s < limit && b[s].is_ascii_whitespace() {
                while s < limit && b[s].is_ascii_whitespace() {
                    s += 1;
                }
            }
            continue;
        }
        while s < limit && b[s] != c {
            s += 1;
        }
        if s < limit {
            s += 1;
        }
    }
    while s < limit && b[s].is_ascii_whitespace() && b[s] != b'\n' {
        s += 1;
    }
    if s < b.len() && b[s] == b'\n' {
        // Land on the next line's first token rather than the end of this one.
        s += 1;
        while s < limit && (b[s] == b' ' || b[s] == b'\t') {
            s += 1;
        }
    }
    crate::diag::floor_char_boundary(src, s.min(src.len()))
}

/// An exception of a rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Exception {
    pub name: String,
    /// One field (single-field form) or several (tuple form).
    pub fields: Vec<String>,
    pub single: bool,
    pub comps: Vec<String>,
    pub values: Vec<Node>,
    pub loc: Loc,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ListDef {
    pub name: String,
    pub items: Vec<String>,
    pub loc: Loc,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MacroDef {
    pub name: String,
    pub cond: Text,
    pub loc: Loc,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RuleDef {
    pub name: String,
    pub desc: String,
    pub cond: Text,
    pub output: String,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub enabled: bool,
    pub source: String,
    pub exceptions: Vec<Exception>,
    pub skip_if_unknown_filter: bool,
    pub warn_evttypes: bool,
    pub loc: Loc,
}

/// Every definition of all files, merged.
#[derive(Debug, Default)]
pub struct Defs {
    pub lists: Vec<ListDef>,
    pub macros: Vec<MacroDef>,
    pub rules: Vec<RuleDef>,
    pub required_engine_version: Option<String>,
    pub required_plugin_versions: Vec<crate::PluginRequirement>,
}

pub(crate) struct Diags<'s> {
    pub sources: &'s [RuleSource],
    pub list: Vec<Diagnostic>,
}

impl Diags<'_> {
    pub fn at(&mut self, sev: Severity, loc: Loc, item: Option<String>, msg: impl Into<String>) {
        let src = &self.sources[loc.file];
        let off = offset_of(&src.text, loc.pos);
        let (_, _, line) = line_col(&src.text, off);
        self.list.push(Diagnostic {
            file: src.name.clone(),
            line: loc.pos.line,
            column: loc.pos.col,
            item,
            message: msg.into(),
            severity: sev,
            source_line: Some(line.to_string()),
        });
    }

    pub fn err(&mut self, loc: Loc, item: Option<String>, msg: impl Into<String>) {
        self.at(Severity::Error, loc, item, msg)
    }

    pub fn warn(&mut self, loc: Loc, item: Option<String>, msg: impl Into<String>) {
        self.at(Severity::Warning, loc, item, msg)
    }

    /// An error inside condition text, at byte `offset` of it.
    pub fn in_text(
        &mut self,
        sev: Severity,
        text: &Text,
        offset: usize,
        item: Option<String>,
        msg: impl Into<String>,
    ) {
        let (file, line, column, source_line) = text.locate(offset, self.sources);
        self.list.push(Diagnostic {
            file: self
                .sources
                .get(file)
                .map(|s| s.name.clone())
                .unwrap_or_default(),
            line,
            column,
            item,
            message: msg.into(),
            severity: sev,
            source_line,
        });
    }
}

const RULE_KEYS: &[&str] = &[
    "rule",
    "desc",
    "condition",
    "output",
    "priority",
    "tags",
    "enabled",
    "source",
    "exceptions",
    "append",
    "override",
    "skip-if-unknown-filter",
    "warn_evttypes",
    "capture",
    "capture_duration",
];
const MACRO_KEYS: &[&str] = &["macro", "condition", "append", "override", "source", "desc"];
const LIST_KEYS: &[&str] = &["list", "items", "append", "override", "desc"];

fn scalar_str<'n>(
    d: &mut Diags<'_>,
    n: &'n Node,
    file: usize,
    what: &str,
    item: &Option<String>,
) -> Option<&'n str> {
    match &n.kind {
        Kind::Scalar(s, _) => Some(s),
        _ => {
            d.err(
                Loc { file, pos: n.pos },
                item.clone(),
                format!("'{what}' must be a string, found {}", n.kind_name()),
            );
            None
        }
    }
}

fn string_list(
    d: &mut Diags<'_>,
    n: &Node,
    file: usize,
    what: &str,
    item: &Option<String>,
) -> Option<Vec<String>> {
    match &n.kind {
        Kind::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for it in items {
                match &it.kind {
                    Kind::Scalar(s, _) => out.push(s.clone()),
                    _ => {
                        d.err(
                            Loc { file, pos: it.pos },
                            item.clone(),
                            format!("'{what}' entries must be strings, found {}", it.kind_name()),
                        );
                        return None;
                    }
                }
            }
            Some(out)
        }
        _ if n.is_null() => Some(Vec::new()),
        _ => {
            d.err(
                Loc { file, pos: n.pos },
                item.clone(),
                format!("'{what}' must be a list, found {}", n.kind_name()),
            );
            None
        }
    }
}

/// How an `override`/`append` item changes keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Append,
    Replace,
}

fn override_modes(
    d: &mut Diags<'_>,
    item: &Node,
    file: usize,
    name: &Option<String>,
    allowed_append: &[&str],
    allowed_replace: &[&str],
) -> Option<Vec<(String, Mode)>> {
    let ov = item.get("override")?;
    let Kind::Map(entries) = &ov.kind else {
        d.err(
            Loc { file, pos: ov.pos },
            name.clone(),
            "'override' must be a mapping of key: append|replace",
        );
        return Some(Vec::new());
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let (Some(key), Some(mode)) = (k.as_str(), v.as_str()) else {
            d.err(
                Loc { file, pos: k.pos },
                name.clone(),
                "'override' entries must be key: append|replace",
            );
            continue;
        };
        let mode = match mode {
            "append" => Mode::Append,
            "replace" => Mode::Replace,
            other => {
                d.err(
                    Loc { file, pos: v.pos },
                    name.clone(),
                    format!("unknown override mode '{other}' (expected append or replace)"),
                );
                continue;
            }
        };
        let allowed = if mode == Mode::Append {
            allowed_append
        } else {
            allowed_replace
        };
        if !allowed.contains(&key) {
            d.err(
                Loc { file, pos: k.pos },
                name.clone(),
                format!(
                    "key '{key}' cannot be overridden with '{}'",
                    if mode == Mode::Append {
                        "append"
                    } else {
                        "replace"
                    }
                ),
            );
            continue;
        }
        if item.get(key).is_none() {
            d.err(
                Loc { file, pos: k.pos },
                name.clone(),
                format!("override of '{key}' but the item has no '{key}' key"),
            );
            continue;
        }
        out.push((key.to_string(), mode));
    }
    Some(out)
}

fn check_keys(
    d: &mut Diags<'_>,
    item: &Node,
    file: usize,
    allowed: &[&str],
    name: &Option<String>,
) {
    if let Kind::Map(entries) = &item.kind {
        for (k, _) in entries {
            match k.as_str() {
                Some(key) if allowed.contains(&key) => {}
                Some(key) => d.warn(
                    Loc { file, pos: k.pos },
                    name.clone(),
                    format!("unknown key '{key}' ignored"),
                ),
                None => d.err(
                    Loc { file, pos: k.pos },
                    name.clone(),
                    "mapping keys must be strings",
                ),
            }
        }
    }
}

/// Loads every source into merged definitions; problems go to `d`.
pub(crate) fn load_defs(sources: &[RuleSource], d: &mut Diags<'_>) -> Defs {
    let mut defs = Defs::default();
    for (file, src) in sources.iter().enumerate() {
        let docs = match yaml::parse(&src.text) {
            Ok(docs) => docs,
            Err(e) => {
                d.err(
                    Loc { file, pos: e.pos },
                    None,
                    format!("invalid YAML: {}", e.message),
                );
                continue;
            }
        };
        for doc in &docs {
            match &doc.kind {
                Kind::Seq(items) => {
                    for item in items {
                        load_item(&mut defs, d, item, file);
                    }
                }
                _ if doc.is_null() => {}
                _ => d.err(
                    Loc { file, pos: doc.pos },
                    None,
                    format!(
                        "a rules file must be a list of items, found {}",
                        doc.kind_name()
                    ),
                ),
            }
        }
    }
    defs
}

fn load_item(defs: &mut Defs, d: &mut Diags<'_>, item: &Node, file: usize) {
    let loc = Loc {
        file,
        pos: item.pos,
    };
    let Kind::Map(entries) = &item.kind else {
        d.err(
            loc,
            None,
            format!(
                "each item must be a mapping (rule, macro, list, ...), found {}",
                item.kind_name()
            ),
        );
        return;
    };
    let Some((first, _)) = entries.first() else {
        d.err(loc, None, "empty item");
        return;
    };
    let kinds = [
        "rule",
        "macro",
        "list",
        "required_engine_version",
        "required_plugin_versions",
    ];
    let kind = entries
        .iter()
        .find_map(|(k, _)| k.as_str().filter(|k| kinds.contains(k)));
    match kind {
        Some("rule") => load_rule(defs, d, item, file),
        Some("macro") => load_macro(defs, d, item, file),
        Some("list") => load_list(defs, d, item, file),
        Some("required_engine_version") => {
            if let Some(v) = item.get("required_engine_version") {
                match v.as_str() {
                    Some(s) => defs.required_engine_version = Some(s.to_string()),
                    None => d.err(
                        Loc { file, pos: v.pos },
                        None,
                        "required_engine_version must be a version string",
                    ),
                }
            }
        }
        Some("required_plugin_versions") => load_plugins(defs, d, item, file),
        _ => {
            let key = first.as_str().unwrap_or("?");
            d.err(Loc { file, pos: first.pos }, None, format!("unknown item type '{key}' (expected rule, macro, list, required_engine_version or required_plugin_versions)"));
        }
    }
}

fn load_plugins(defs: &mut Defs, d: &mut Diags<'_>, item: &Node, file: usize) {
    let Some(v) = item.get("required_plugin_versions") else {
        return;
    };
    let Kind::Seq(entries) = &v.kind else {
        d.err(
            Loc { file, pos: v.pos },
            None,
            "required_plugin_versions must be a list",
        );
        return;
    };
    for e in entries {
        let (Some(name), Some(version)) = (
            e.get("name").and_then(Node::as_str),
            e.get("version").and_then(Node::as_str),
        ) else {
            d.err(
                Loc { file, pos: e.pos },
                None,
                "each required plugin needs 'name' and 'version'",
            );
            continue;
        };
        let mut alternatives = Vec::new();
        if let Some(Kind::Seq(alts)) = e.get("alternatives").map(|a| &a.kind) {
            for a in alts {
                if let (Some(n), Some(v)) = (
                    a.get("name").and_then(Node::as_str),
                    a.get("version").and_then(Node::as_str),
                ) {
                    alternatives.push((n.to_string(), v.to_string()));
                }
            }
        }
        let req = crate::PluginRequirement {
            name: name.to_string(),
            version: version.to_string(),
            alternatives,
        };
        // Every upstream file repeats the same requirement; report it once.
        if !defs.required_plugin_versions.contains(&req) {
            defs.required_plugin_versions.push(req);
        }
    }
}

fn append_flag(d: &mut Diags<'_>, item: &Node, file: usize, name: &Option<String>) -> bool {
    match item.get("append") {
        None => false,
        Some(n) => match n.as_bool() {
            Some(b) => b,
            None => {
                d.err(
                    Loc { file, pos: n.pos },
                    name.clone(),
                    "'append' must be true or false",
                );
                false
            }
        },
    }
}

fn load_list(defs: &mut Defs, d: &mut Diags<'_>, item: &Node, file: usize) {
    let loc = Loc {
        file,
        pos: item.pos,
    };
    let Some(name_node) = item.get("list") else {
        return;
    };
    let Some(name) = scalar_str(d, name_node, file, "list", &None) else {
        return;
    };
    let label = Some(format!("list '{name}'"));
    check_keys(d, item, file, LIST_KEYS, &label);
    let append = append_flag(d, item, file, &label);
    let modes = override_modes(d, item, file, &label, &["items"], &["items"]);
    let Some(items_node) = item.get("items") else {
        d.err(loc, label, "list has no 'items'");
        return;
    };
    let Some(items) = string_list(d, items_node, file, "items", &label) else {
        return;
    };
    let existing = defs.lists.iter_mut().find(|l| l.name == name);
    let append = append
        || modes
            .as_ref()
            .is_some_and(|m| m.iter().any(|(_, m)| *m == Mode::Append));
    match (existing, append) {
        (Some(l), true) => l.items.extend(items),
        (None, true) => d.err(
            loc,
            label,
            "cannot append to list: no list with this name was defined before",
        ),
        (Some(l), false) => {
            l.items = items;
            l.loc = loc;
        }
        (None, false) => defs.lists.push(ListDef {
            name: name.to_string(),
            items,
            loc,
        }),
    }
}

fn load_macro(defs: &mut Defs, d: &mut Diags<'_>, item: &Node, file: usize) {
    let loc = Loc {
        file,
        pos: item.pos,
    };
    let Some(name_node) = item.get("macro") else {
        return;
    };
    let Some(name) = scalar_str(d, name_node, file, "macro", &None) else {
        return;
    };
    let label = Some(format!("macro '{name}'"));
    check_keys(d, item, file, MACRO_KEYS, &label);
    let append = append_flag(d, item, file, &label);
    let modes = override_modes(d, item, file, &label, &["condition"], &["condition"]);
    let Some(cond_node) = item.get("condition") else {
        d.err(loc, label, "macro has no 'condition'");
        return;
    };
    let Some(cond) = scalar_str(d, cond_node, file, "condition", &label) else {
        return;
    };
    let text = Text::from_node(cond_node, file, cond);
    let append = append
        || modes
            .as_ref()
            .is_some_and(|m| m.iter().any(|(_, m)| *m == Mode::Append));
    match (defs.macros.iter_mut().find(|m| m.name == name), append) {
        (Some(m), true) => m.cond.append(&text),
        (None, true) => d.err(
            loc,
            label,
            "cannot append to macro: no macro with this name was defined before",
        ),
        (Some(m), false) => {
            m.cond = text;
            m.loc = loc;
        }
        (None, false) => defs.macros.push(MacroDef {
            name: name.to_string(),
            cond: text,
            loc,
        }),
    }
}

fn load_exceptions(
    d: &mut Diags<'_>,
    n: &Node,
    file: usize,
    label: &Option<String>,
) -> Vec<Exception> {
    let Kind::Seq(items) = &n.kind else {
        if !n.is_null() {
            d.err(
                Loc { file, pos: n.pos },
                label.clone(),
                "'exceptions' must be a list",
            );
        }
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in items {
        let eloc = Loc { file, pos: e.pos };
        let Some(name) = e.get("name").and_then(Node::as_str) else {
            d.err(eloc, label.clone(), "exception has no 'name'");
            continue;
        };
        let Some(fields_node) = e.get("fields") else {
            d.err(
                eloc,
                label.clone(),
                format!("exception '{name}' has no 'fields'"),
            );
            continue;
        };
        let (fields, single) = match &fields_node.kind {
            Kind::Scalar(s, _) => (vec![s.clone()], true),
            _ => match string_list(d, fields_node, file, "fields", label) {
                Some(f) => (f, false),
                None => continue,
            },
        };
        let comps = match e.get("comps") {
            None => vec!["=".to_string(); fields.len()],
            Some(c) => match &c.kind {
                Kind::Scalar(s, _) if single => vec![s.clone()],
                _ => match string_list(d, c, file, "comps", label) {
                    Some(c) => c,
                    None => continue,
                },
            },
        };
        if comps.len() != fields.len() {
            d.err(
                eloc,
                label.clone(),
                format!(
                    "exception '{name}': {} fields but {} comps",
                    fields.len(),
                    comps.len()
                ),
            );
            continue;
        }
        let values = match e.get("values") {
            None => Vec::new(),
            Some(v) => match &v.kind {
                Kind::Seq(vals) => vals.clone(),
                _ if v.is_null() => Vec::new(),
                _ => {
                    d.err(
                        Loc { file, pos: v.pos },
                        label.clone(),
                        format!("exception '{name}': 'values' must be a list"),
                    );
                    continue;
                }
            },
        };
        out.push(Exception {
            name: name.to_string(),
            fields,
            single,
            comps,
            values,
            loc: eloc,
        });
    }
    out
}

fn load_rule(defs: &mut Defs, d: &mut Diags<'_>, item: &Node, file: usize) {
    let loc = Loc {
        file,
        pos: item.pos,
    };
    let Some(name_node) = item.get("rule") else {
        return;
    };
    let Some(name) = scalar_str(d, name_node, file, "rule", &None) else {
        return;
    };
    let label = Some(format!("rule '{name}'"));
    check_keys(d, item, file, RULE_KEYS, &label);
    let append = append_flag(d, item, file, &label);
    let modes = override_modes(
        d,
        item,
        file,
        &label,
        &["condition", "output", "desc", "tags", "exceptions"],
        &[
            "condition",
            "output",
            "desc",
            "priority",
            "tags",
            "exceptions",
            "enabled",
            "source",
            "warn_evttypes",
            "skip-if-unknown-filter",
        ],
    );

    let get_str = |d: &mut Diags<'_>, key: &str| -> Option<String> {
        let n = item.get(key)?;
        scalar_str(d, n, file, key, &label).map(|s| s.trim_end_matches('\n').to_string())
    };
    let get_bool = |d: &mut Diags<'_>, key: &str| -> Option<bool> {
        let n = item.get(key)?;
        match n.as_bool() {
            Some(b) => Some(b),
            None => {
                d.err(
                    Loc { file, pos: n.pos },
                    label.clone(),
                    format!("'{key}' must be true or false"),
                );
                None
            }
        }
    };
    let priority = match item.get("priority") {
        None => None,
        Some(n) => match n.as_str().map(str::parse::<Priority>) {
            Some(Ok(p)) => Some(p),
            Some(Err(e)) => {
                d.err(Loc { file, pos: n.pos }, label.clone(), e.to_string());
                None
            }
            None => {
                d.err(
                    Loc { file, pos: n.pos },
                    label.clone(),
                    "'priority' must be a string",
                );
                None
            }
        },
    };
    let cond = item.get("condition").and_then(|n| {
        scalar_str(d, n, file, "condition", &label).map(|s| Text::from_node(n, file, s))
    });
    let tags = match item.get("tags") {
        Some(n) => string_list(d, n, file, "tags", &label),
        None => None,
    };
    let exceptions = item
        .get("exceptions")
        .map(|n| load_exceptions(d, n, file, &label));
    let enabled = get_bool(d, "enabled");
    let skip = get_bool(d, "skip-if-unknown-filter");
    let warn_evttypes = get_bool(d, "warn_evttypes");
    let desc = get_str(d, "desc");
    let output = get_str(d, "output");
    let source = get_str(d, "source");

    let idx = defs.rules.iter().position(|r| r.name == name);
    let is_override = append || modes.is_some();
    if is_override {
        let Some(i) = idx else {
            d.err(
                loc,
                label,
                "cannot append to or override rule: no rule with this name was defined before",
            );
            return;
        };
        let r = &mut defs.rules[i];
        let mode_of = |key: &str| -> Option<Mode> {
            if append {
                return Some(Mode::Append);
            }
            modes
                .as_ref()?
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, m)| *m)
        };
        if append {
            // Deprecated form: condition and exceptions append, nothing else may change.
            for k in ["output", "desc", "priority", "source"] {
                if item.get(k).is_some() {
                    d.err(
                        loc,
                        label.clone(),
                        format!("'{k}' cannot be changed with append: true; use override"),
                    );
                }
            }
        } else if let Some(m) = &modes {
            let listed: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
            if let Kind::Map(entries) = &item.kind {
                for (k, _) in entries {
                    if let Some(key) = k.as_str() {
                        if !["rule", "override", "enabled"].contains(&key)
                            && !listed.contains(&key)
                            && RULE_KEYS.contains(&key)
                        {
                            d.err(
                                Loc { file, pos: k.pos },
                                label.clone(),
                                format!("key '{key}' is not listed in 'override'"),
                            );
                        }
                    }
                }
            }
        }
        if let Some(c) = &cond {
            match mode_of("condition") {
                Some(Mode::Append) => r.cond.append(c),
                Some(Mode::Replace) => r.cond = c.clone(),
                None => {}
            }
        }
        if let Some(o) = output {
            match mode_of("output") {
                Some(Mode::Append) => {
                    r.output.push(' ');
                    r.output.push_str(&o);
                }
                Some(Mode::Replace) => r.output = o,
                None => {}
            }
        }
        if let Some(s) = desc {
            match mode_of("desc") {
                Some(Mode::Append) => {
                    r.desc.push(' ');
                    r.desc.push_str(&s);
                }
                Some(Mode::Replace) => r.desc = s,
                None => {}
            }
        }
        if let Some(t) = tags {
            match mode_of("tags") {
                Some(Mode::Append) => r.tags.extend(t),
                Some(Mode::Replace) => r.tags = t,
                None => {}
            }
        }
        if let Some(e) = exceptions {
            match mode_of("exceptions") {
                Some(Mode::Append) => {
                    for ex in e {
                        match r.exceptions.iter_mut().find(|x| x.name == ex.name) {
                            // Appending to an existing exception adds values only.
                            Some(x) => x.values.extend(ex.values),
                            None => r.exceptions.push(ex),
                        }
                    }
                }
                Some(Mode::Replace) => r.exceptions = e,
                None => {}
            }
        }
        if let (Some(p), Some(Mode::Replace)) = (priority, mode_of("priority")) {
            r.priority = p;
        }
        if let (Some(s), Some(Mode::Replace)) = (source, mode_of("source")) {
            r.source = s;
        }
        if let Some(e) = enabled {
            r.enabled = e;
        }
        if let (Some(s), Some(Mode::Replace)) = (skip, mode_of("skip-if-unknown-filter")) {
            r.skip_if_unknown_filter = s;
        }
        if let (Some(w), Some(Mode::Replace)) = (warn_evttypes, mode_of("warn_evttypes")) {
            r.warn_evttypes = w;
        }
        return;
    }

    // `- rule: X\n  enabled: false` alone toggles an existing rule.
    let only_enabled = matches!(&item.kind, Kind::Map(e) if e.len() == 2) && enabled.is_some();
    if only_enabled {
        match idx {
            Some(i) => defs.rules[i].enabled = enabled.unwrap_or(true),
            None => d.err(
                loc,
                label,
                "rule has only 'enabled' but no rule with this name was defined before",
            ),
        }
        return;
    }

    let mut missing = Vec::new();
    if cond.is_none() {
        missing.push("condition");
    }
    if output.is_none() {
        missing.push("output");
    }
    if desc.is_none() {
        missing.push("desc");
    }
    if priority.is_none() && item.get("priority").is_none() {
        missing.push("priority");
    }
    if !missing.is_empty() {
        d.err(
            loc,
            label,
            format!("rule is missing required key(s): {}", missing.join(", ")),
        );
        return;
    }
    let (Some(cond), Some(output), Some(desc), Some(priority)) = (cond, output, desc, priority)
    else {
        return;
    };
    let def = RuleDef {
        name: name.to_string(),
        desc,
        cond,
        output,
        priority,
        tags: tags.unwrap_or_default(),
        enabled: enabled.unwrap_or(true),
        source: source.unwrap_or_else(|| "syscall".to_string()),
        exceptions: exceptions.unwrap_or_default(),
        skip_if_unknown_filter: skip.unwrap_or(false),
        warn_evttypes: warn_evttypes.unwrap_or(true),
        loc,
    };
    match idx {
        Some(i) => defs.rules[i] = def,
        None => defs.rules.push(def),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(texts: &[&str]) -> (Defs, Vec<Diagnostic>) {
        let sources: Vec<RuleSource> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| RuleSource {
                name: format!("f{i}.yaml"),
                text: t.to_string(),
            })
            .collect();
        let mut d = Diags {
            sources: &sources,
            list: Vec::new(),
        };
        let defs = load_defs(&sources, &mut d);
        (defs, d.list)
    }

    const BASE: &str = "- list: l\n  items: [a, b]\n- macro: m\n  condition: proc.name in (l)\n- rule: r\n  desc: d\n  condition: m\n  output: o\n  priority: warning\n  tags: [t1]\n";

    #[test]
    fn append_and_override() {
        let (defs, diags) = load(&[
            BASE,
            "- list: l\n  items: [c]\n  append: true\n- rule: r\n  condition: and proc.pid=1\n  override:\n    condition: append\n- rule: r\n  priority: ERROR\n  tags: [t2]\n  override:\n    priority: replace\n    tags: append\n",
        ]);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(defs.lists[0].items, ["a", "b", "c"]);
        assert_eq!(defs.rules[0].cond.text, "m and proc.pid=1");
        assert_eq!(defs.rules[0].cond.pieces.len(), 2);
        assert_eq!(defs.rules[0].priority, Priority::Error);
        assert_eq!(defs.rules[0].tags, ["t1", "t2"]);
    }

    #[test]
    fn enabled_only_and_redefinition() {
        let (defs, diags) = load(&[BASE, "- rule: r\n  enabled: false\n"]);
        assert!(diags.is_empty(), "{diags:?}");
        assert!(!defs.rules[0].enabled);
        let (defs, _) = load(&[
            BASE,
            "- rule: r\n  desc: d2\n  condition: x\n  output: o\n  priority: info\n",
        ]);
        assert_eq!(defs.rules.len(), 1);
        assert_eq!(defs.rules[0].desc, "d2");
        assert!(defs.rules[0].enabled);
    }

    #[test]
    fn errors_collected_with_locations() {
        let (_, diags) = load(&["- rule: a\n  desc: d\n- rule: b\n  priority: loud\n  desc: d\n  condition: x\n  output: o\n- bogus: 1\n- rule: c\n  condition: x\n  append: true\n"]);
        let msgs: Vec<String> = diags
            .iter()
            .map(|d| format!("{}:{} {}", d.line, d.column, d.message))
            .collect();
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("1:3 ") && m.contains("missing required")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("9:3 ") && m.contains("cannot append")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("4:13 ") && m.contains("unknown priority")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("8:3 ") && m.contains("unknown item type")),
            "{msgs:?}"
        );
    }

    #[test]
    fn condition_offsets_map_to_file_positions() {
        let src = "- macro: m\n  condition: >\n    proc.name = a and\n    bogus.field = 1\n";
        let sources = vec![RuleSource {
            name: "x".into(),
            text: src.into(),
        }];
        let mut d = Diags {
            sources: &sources,
            list: Vec::new(),
        };
        let defs = load_defs(&sources, &mut d);
        let t = &defs.macros[0].cond;
        let off = t.text.find("bogus").unwrap();
        let (_, line, col, _) = t.locate(off, &sources);
        assert_eq!((line, col), (4, 5));
        let src2 = "- macro: m\n  condition: proc.name = a and bogus = 1\n";
        let sources = vec![RuleSource {
            name: "x".into(),
            text: src2.into(),
        }];
        let mut d = Diags {
            sources: &sources,
            list: Vec::new(),
        };
        let defs = load_defs(&sources, &mut d);
        let t = &defs.macros[0].cond;
        let (_, line, col, _) = t.locate(t.text.find("bogus").unwrap(), &sources);
        assert_eq!((line, col), (2, 32));
    }
}
