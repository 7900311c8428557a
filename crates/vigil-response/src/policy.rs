//! Enforcement policies: the YAML format (docs/policy.md), parsed with positions and
//! validated completely before anything reaches the kernel.
//!
//! Parsing is one pass over a positioned YAML tree that collects *every* error (file, line,
//! column, policy) instead of stopping at the first: an operator fixing a policy should see
//! all problems at once. We rejected serde derive: `deny_unknown_fields` stops at the first
//! unknown key and loses positions for semantic errors (bad CIDR, unsupported glob).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::yaml::{self, Kind, Node, Pos};

/// Largest policy file accepted (policies are small; this bounds parser work).
pub const MAX_FILE_BYTES: usize = 4 << 20;
/// Longest path pattern: the kernel key holds 251 bytes and exact matches need a NUL.
pub const MAX_PATH_PATTERN: usize = 250;

/// audit: report only; enforce: act in the kernel (kill / EPERM) and report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    Audit,
    Enforce,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Audit => "audit",
            Mode::Enforce => "enforce",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "audit" => Ok(Mode::Audit),
            "enforce" => Ok(Mode::Enforce),
            other => Err(format!(
                "unknown mode `{other}` (expected audit or enforce)"
            )),
        }
    }
}

/// Which containers a policy applies to. Every selector given must match (AND); within a
/// list any entry may match (OR). No selector at all (or `all: true`) = every container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub names: Vec<String>,
    pub images: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub k8s_namespaces: Vec<String>,
    pub k8s_pod_labels: BTreeMap<String, String>,
}

impl Scope {
    pub fn is_all(&self) -> bool {
        self.names.is_empty()
            && self.images.is_empty()
            && self.labels.is_empty()
            && self.k8s_namespaces.is_empty()
            && self.k8s_pod_labels.is_empty()
    }

    /// Does the scope select `c`? Image globs match the image reference as given and its
    /// repository (`registry/repo` without tag).
    pub fn matches(&self, c: &vigil_event::Container) -> bool {
        let any = |globs: &[String], v: &[&str]| {
            globs.is_empty() || globs.iter().any(|g| v.iter().any(|s| glob_match(g, s)))
        };
        let labels_ok = |want: &BTreeMap<String, String>, have: &BTreeMap<String, String>| {
            want.iter()
                .all(|(k, v)| have.get(k).is_some_and(|h| glob_match(v, h)))
        };
        let (ns, pod_labels) = match &c.k8s {
            Some(k) => (k.namespace.as_str(), Some(&k.pod_labels)),
            None => ("", None),
        };
        any(&self.names, &[&c.name])
            && any(&self.images, &[&c.image, &c.image_repository])
            && labels_ok(&self.labels, &c.labels)
            && (self.k8s_namespaces.is_empty()
                || (!ns.is_empty() && any(&self.k8s_namespaces, &[ns])))
            && (self.k8s_pod_labels.is_empty()
                || pod_labels.is_some_and(|pl| labels_ok(&self.k8s_pod_labels, pl)))
    }

    pub fn describe(&self) -> String {
        if self.is_all() {
            return "all containers".into();
        }
        let mut parts = Vec::new();
        if !self.names.is_empty() {
            parts.push(format!("names {:?}", self.names));
        }
        if !self.images.is_empty() {
            parts.push(format!("images {:?}", self.images));
        }
        if !self.labels.is_empty() {
            parts.push(format!("labels {:?}", self.labels));
        }
        if !self.k8s_namespaces.is_empty() {
            parts.push(format!("k8s namespaces {:?}", self.k8s_namespaces));
        }
        if !self.k8s_pod_labels.is_empty() {
            parts.push(format!("k8s pod labels {:?}", self.k8s_pod_labels));
        }
        parts.join(", ")
    }
}

/// `*` matches any run of characters, `?` one character; everything else is literal.
pub fn glob_match(pattern: &str, s: &str) -> bool {
    let p = pattern.as_bytes();
    let t = s.as_bytes();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// A path pattern the kernel can check with one longest-prefix lookup.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathPattern {
    /// `/etc/shadow`: the path itself and, if it is a directory, everything below it.
    Exact(String),
    /// `/root/.ssh/`: everything below the directory (and the directory itself).
    Dir(String),
    /// `/usr/bin/nc*`: every path starting with the bytes before the `*`.
    Prefix(String),
}

impl PathPattern {
    pub fn text(&self) -> String {
        match self {
            PathPattern::Exact(p) | PathPattern::Dir(p) => p.clone(),
            PathPattern::Prefix(p) => format!("{p}*"),
        }
    }

    /// Does the pattern match an absolute, normalized path?
    pub fn matches(&self, path: &str) -> bool {
        match self {
            PathPattern::Exact(p) => {
                path == p || (path.starts_with(p.as_str()) && path.as_bytes()[p.len()] == b'/')
            }
            PathPattern::Dir(d) => path.starts_with(d.as_str()) || path == &d[..d.len() - 1],
            PathPattern::Prefix(p) => path.starts_with(p.as_str()),
        }
    }

    /// Byte strings whose prefixes, as kernel trie entries, implement this pattern
    /// (an exact entry ends with NUL).
    pub fn kernel_prefixes(&self) -> Vec<Vec<u8>> {
        match self {
            PathPattern::Exact(p) => {
                let mut exact = p.as_bytes().to_vec();
                exact.push(0);
                vec![exact, format!("{p}/").into_bytes()]
            }
            PathPattern::Dir(d) => {
                let mut me = d.as_bytes()[..d.len() - 1].to_vec();
                me.push(0);
                if d == "/" {
                    vec![d.as_bytes().to_vec()]
                } else {
                    vec![d.as_bytes().to_vec(), me]
                }
            }
            PathPattern::Prefix(p) => vec![p.as_bytes().to_vec()],
        }
    }

    fn parse(s: &str) -> Result<PathPattern, String> {
        if !s.starts_with('/') {
            return Err(format!("path `{s}` is not absolute"));
        }
        if s.len() > MAX_PATH_PATTERN {
            return Err(format!(
                "path `{}...` is longer than {MAX_PATH_PATTERN} bytes (the kernel key limit)",
                &s[..40.min(s.len())]
            ));
        }
        if s.contains('\0') {
            return Err("path contains a NUL byte".into());
        }
        if s.split('/').any(|c| c == "." || c == "..") || s.contains("//") {
            return Err(format!(
                "path `{s}` is not normalized (`.`, `..` or `//`): the kernel matches resolved paths"
            ));
        }
        let body = s.strip_suffix('*').unwrap_or(s);
        if body.contains(['*', '?', '[', ']', '{', '}']) {
            return Err(format!(
                "pattern `{s}`: only a trailing `*` can be checked in the kernel (prefix match)"
            ));
        }
        Ok(if s.ends_with('*') {
            PathPattern::Prefix(body.to_string())
        } else if s.ends_with('/') {
            PathPattern::Dir(s.to_string())
        } else {
            PathPattern::Exact(s.to_string())
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Any,
    Tcp,
    Udp,
}

impl Protocol {
    pub fn number(self) -> u8 {
        match self {
            Protocol::Any => 0,
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
        }
    }
}

/// One egress rule: destination network, ports (inclusive ranges; empty = all), protocol.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NetRule {
    pub addr: IpAddr,
    pub prefix: u8,
    pub ports: Vec<(u16, u16)>,
    pub protocol: Protocol,
    pub pos: Pos,
}

impl NetRule {
    pub fn cidr(&self) -> String {
        format!("{}/{}", self.addr, self.prefix)
    }

    /// Does this rule's network contain `other`'s network (same family)?
    pub fn contains_net(&self, other: &NetRule) -> bool {
        if self.prefix > other.prefix {
            return false;
        }
        match (self.addr, other.addr) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.prefix)
                };
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.prefix)
                };
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecRules {
    /// If non-empty, every executable not matching is denied.
    pub allow: Vec<PathPattern>,
    pub deny: Vec<PathPattern>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileRules {
    pub deny_read: Vec<PathPattern>,
    pub deny_write: Vec<PathPattern>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkRules {
    pub default_deny: bool,
    pub allow: Vec<NetRule>,
    pub deny: Vec<NetRule>,
    pub unix_deny: Vec<PathPattern>,
}

/// One validated policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub mode: Mode,
    pub scope: Scope,
    pub exec: ExecRules,
    pub files: FileRules,
    pub network: NetworkRules,
    /// Where it was defined.
    pub file: PathBuf,
    pub pos: Pos,
}

impl Policy {
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.file.display(), self.pos.line, self.pos.col)
    }
}

/// Falco alert priorities, most severe first (the order `min_priority` compares in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Informational,
    Debug,
}

impl std::str::FromStr for Priority {
    type Err = String;
    /// Falco's names, any case (`info` for informational).
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "emergency" => Priority::Emergency,
            "alert" => Priority::Alert,
            "critical" => Priority::Critical,
            "error" => Priority::Error,
            "warning" => Priority::Warning,
            "notice" => Priority::Notice,
            "informational" | "info" => Priority::Informational,
            "debug" => Priority::Debug,
            o => return Err(format!("unknown priority `{o}` (emergency, alert, critical, error, warning, notice, informational, debug)")),
        })
    }
}

/// A rule-triggered response: when an alert of a matching rule fires for a container in
/// `scope`, run `actions` from user space (see docs/policy.md, "Rule-triggered responses").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseRule {
    /// Optional name (as a policy name: `[A-Za-z0-9-_.]`, at most 128), reported as the
    /// action's `policy`; the response's file:line:col otherwise.
    pub name: Option<String>,
    /// Rule name globs (any may match); empty = any rule.
    pub rules: Vec<String>,
    /// Tags (any may match); empty = any tags.
    pub tags: Vec<String>,
    /// Only alerts at least this severe.
    pub min_priority: Option<Priority>,
    pub scope: Scope,
    /// In order; at least one.
    pub actions: Vec<crate::action::RuleAction>,
    pub file: PathBuf,
    pub pos: Pos,
}

impl ResponseRule {
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.file.display(), self.pos.line, self.pos.col)
    }

    /// What reports call the response: its `name`, else its location.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.location())
    }

    /// Does an alert of `rule` with `tags` and `priority`, about container `c` (None: not
    /// in a container, which no response acts on), select this response?
    pub fn selects(
        &self,
        rule: &str,
        tags: &[String],
        priority: Option<Priority>,
        c: Option<&vigil_event::Container>,
    ) -> bool {
        let Some(c) = c else { return false };
        (self.rules.is_empty() || self.rules.iter().any(|g| glob_match(g, rule)))
            && (self.tags.is_empty() || self.tags.iter().any(|t| tags.contains(t)))
            && self
                .min_priority
                .is_none_or(|min| priority.is_some_and(|p| p <= min))
            && self.scope.matches(c)
    }
}

/// The validated policies and responses of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFile {
    pub path: PathBuf,
    pub policies: Vec<Policy>,
    pub responses: Vec<ResponseRule>,
}

/// One problem, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub pos: Pos,
    pub policy: Option<String>,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: ",
            self.file.display(),
            self.pos.line,
            self.pos.col
        )?;
        if let Some(p) = &self.policy {
            write!(f, "policy `{p}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in the inputs, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

struct Ctx<'a> {
    file: &'a Path,
    policy: Option<String>,
    errors: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn err(&mut self, pos: Pos, message: impl Into<String>) {
        self.errors.push(Diagnostic {
            file: self.file.to_path_buf(),
            pos,
            policy: self.policy.clone(),
            message: message.into(),
        });
    }

    fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
        match &node.kind {
            Kind::Map(m) => Some(m),
            _ if node.is_null() => Some(&[]),
            _ => {
                self.err(
                    node.pos,
                    format!("{what} must be a mapping, found {}", node.kind_name()),
                );
                None
            }
        }
    }

    /// Iterates a mapping's entries, reporting unknown and duplicate keys.
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        known: &[&str],
    ) -> Vec<(&'n str, &'n Node)> {
        let mut out: Vec<(&str, &Node)> = Vec::new();
        let Some(entries) = self.map(node, what) else {
            return out;
        };
        for (k, v) in entries {
            let Some(key) = k.as_str() else {
                self.err(k.pos, format!("{what}: keys must be strings"));
                continue;
            };
            if !known.contains(&key) {
                self.err(
                    k.pos,
                    format!(
                        "{what}: unknown key `{key}` (expected one of: {})",
                        known.join(", ")
                    ),
                );
                continue;
            }
            if out.iter().any(|(seen, _)| *seen == key) {
                self.err(k.pos, format!("{what}: duplicate key `{key}`"));
                continue;
            }
            out.push((key, v));
        }
        out
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            Kind::Scalar(s, _) if !node.is_null() => Some(s.clone()),
            _ => {
                self.err(
                    node.pos,
                    format!("{what} must be a string, found {}", node.kind_name()),
                );
                None
            }
        }
    }

    fn strings(&mut self, node: &Node, what: &str) -> Vec<(String, Pos)> {
        match &node.kind {
            Kind::Seq(items) => items
                .iter()
                .filter_map(|n| self.string(n, what).map(|s| (s, n.pos)))
                .collect(),
            Kind::Scalar(..) if !node.is_null() => self
                .string(node, what)
                .map(|s| vec![(s, node.pos)])
                .unwrap_or_default(),
            _ if node.is_null() => Vec::new(),
            _ => {
                self.err(node.pos, format!("{what} must be a list of strings"));
                Vec::new()
            }
        }
    }

    fn string_map(&mut self, node: &Node, what: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(entries) = self.map(node, what) else {
            return out;
        };
        for (k, v) in entries {
            if let (Some(k), Some(v)) = (self.string(k, what), self.string(v, what)) {
                out.insert(k, v);
            }
        }
        out
    }

    fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        match &node.kind {
            Kind::Scalar(s, false) if s == "true" => Some(true),
            Kind::Scalar(s, false) if s == "false" => Some(false),
            _ => {
                self.err(node.pos, format!("{what} must be true or false"));
                None
            }
        }
    }

    fn paths(&mut self, node: &Node, what: &str) -> Vec<PathPattern> {
        let mut out = Vec::new();
        for (s, pos) in self.strings(node, what) {
            match PathPattern::parse(&s) {
                Ok(p) => out.push(p),
                Err(e) => self.err(pos, format!("{what}: {e}")),
            }
        }
        out
    }
}

/// Reads and parses one policy file (all errors at once).
pub fn load_file(path: &Path) -> Result<PolicyFile, Diagnostics> {
    let diag = |message: String| {
        Diagnostics(vec![Diagnostic {
            file: path.to_path_buf(),
            pos: Pos { line: 1, col: 1 },
            policy: None,
            message,
        }])
    };
    let meta = std::fs::metadata(path).map_err(|e| diag(format!("cannot read: {e}")))?;
    if meta.len() > MAX_FILE_BYTES as u64 {
        return Err(diag(format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| diag(format!("cannot read: {e}")))?;
    parse_str(path, &text)
}

/// Parses policy YAML text; `path` is only used in diagnostics.
pub fn parse_str(path: &Path, text: &str) -> Result<PolicyFile, Diagnostics> {
    let mut ctx = Ctx {
        file: path,
        policy: None,
        errors: Vec::new(),
    };
    if text.len() > MAX_FILE_BYTES {
        ctx.err(
            Pos { line: 1, col: 1 },
            format!("larger than {MAX_FILE_BYTES} bytes"),
        );
        return Err(Diagnostics(ctx.errors));
    }
    let docs = match yaml::parse(text) {
        Ok(d) => d,
        Err(e) => {
            ctx.err(e.pos, format!("YAML syntax: {}", e.message));
            return Err(Diagnostics(ctx.errors));
        }
    };
    let mut policies = Vec::new();
    let mut responses = Vec::new();
    for doc in &docs {
        for (key, value) in ctx.fields(doc, "top level", &["policies", "responses"]) {
            match &value.kind {
                Kind::Seq(items) => {
                    for item in items {
                        if key == "policies" {
                            if let Some(p) = parse_policy(&mut ctx, item) {
                                policies.push(p);
                            }
                        } else if let Some(r) = parse_response(&mut ctx, item) {
                            responses.push(r);
                        }
                    }
                }
                _ => ctx.err(value.pos, format!("`{key}` must be a list")),
            }
        }
    }
    // Names are how modes are switched: they must be unique within a file.
    for (i, p) in policies.iter().enumerate() {
        if let Some(first) = policies[..i].iter().find(|q| q.name == p.name) {
            ctx.policy = Some(p.name.clone());
            ctx.err(
                p.pos,
                format!(
                    "duplicate policy name (first defined at line {})",
                    first.pos.line
                ),
            );
        }
    }
    if ctx.errors.is_empty() {
        Ok(PolicyFile {
            path: path.to_path_buf(),
            policies,
            responses,
        })
    } else {
        Err(Diagnostics(ctx.errors))
    }
}

fn parse_policy(ctx: &mut Ctx<'_>, node: &Node) -> Option<Policy> {
    let before = ctx.errors.len();
    // A block mapping's start mark is unreliable; its first key is where the policy starts.
    let start = match &node.kind {
        Kind::Map(m) if !m.is_empty() => m[0].0.pos,
        _ => node.pos,
    };
    let node = &Node {
        pos: start,
        kind: node.kind.clone(),
    };
    // Know the name before reporting anything else, so every error can name the policy.
    ctx.policy = match &node.kind {
        Kind::Map(m) => m
            .iter()
            .find(|(k, _)| k.as_str() == Some("name"))
            .and_then(|(_, v)| v.as_str().map(str::to_string)),
        _ => None,
    };
    let fields = ctx.fields(
        node,
        "policy",
        &[
            "name",
            "mode",
            "scope",
            "exec",
            "files",
            "network",
            "description",
        ],
    );
    let name = match fields.iter().find(|(k, _)| *k == "name") {
        Some((_, v)) => ctx.string(v, "name"),
        None => {
            ctx.err(node.pos, "policy without `name`");
            None
        }
    };
    if let Some(n) = &name {
        if !valid_name(n) {
            ctx.err(
                node.pos,
                format!("invalid name `{n}` (1-128 of [A-Za-z0-9-_.])"),
            );
        }
    }
    ctx.policy = name.clone();
    let mut p = Policy {
        name: name.clone().unwrap_or_default(),
        mode: Mode::Audit,
        scope: Scope::default(),
        exec: ExecRules::default(),
        files: FileRules::default(),
        network: NetworkRules::default(),
        file: ctx.file.to_path_buf(),
        pos: node.pos,
    };
    let mut saw_mode = false;
    for (key, v) in &fields {
        match *key {
            "mode" => {
                saw_mode = true;
                if let Some(s) = ctx.string(v, "mode") {
                    match s.parse() {
                        Ok(m) => p.mode = m,
                        Err(e) => ctx.err(v.pos, e),
                    }
                }
            }
            "scope" => p.scope = parse_scope(ctx, v),
            "exec" => {
                for (k, v) in ctx.fields(v, "exec", &["allow", "deny"]) {
                    let list = ctx.paths(v, &format!("exec.{k}"));
                    if k == "allow" {
                        if matches!(&v.kind, Kind::Seq(items) if items.is_empty()) || v.is_null() {
                            ctx.err(v.pos, "exec.allow is empty: that would deny every executable (omit it to allow all)");
                        }
                        p.exec.allow = list;
                    } else {
                        p.exec.deny = list;
                    }
                }
            }
            "files" => {
                for (k, v) in ctx.fields(v, "files", &["deny_read", "deny_write"]) {
                    let list = ctx.paths(v, &format!("files.{k}"));
                    if k == "deny_read" {
                        p.files.deny_read = list;
                    } else {
                        p.files.deny_write = list;
                    }
                }
            }
            "network" => parse_network(ctx, v, &mut p.network),
            _ => {}
        }
    }
    if !saw_mode {
        ctx.err(
            node.pos,
            "policy without `mode` (audit or enforce): say which explicitly",
        );
    }
    if ctx.errors.len() == before && name.is_some() {
        Some(p)
    } else {
        None
    }
}

/// Policy and response names: 1-128 of `[A-Za-z0-9-_.]`.
fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn parse_response(ctx: &mut Ctx<'_>, node: &Node) -> Option<ResponseRule> {
    let before = ctx.errors.len();
    ctx.policy = None;
    let start = match &node.kind {
        Kind::Map(m) if !m.is_empty() => m[0].0.pos,
        _ => node.pos,
    };
    let mut r = ResponseRule {
        name: None,
        rules: Vec::new(),
        tags: Vec::new(),
        min_priority: None,
        scope: Scope::default(),
        actions: Vec::new(),
        file: ctx.file.to_path_buf(),
        pos: start,
    };
    let mut saw_actions = false;
    for (key, v) in ctx.fields(
        node,
        "response",
        &["name", "rules", "tags", "min_priority", "scope", "actions"],
    ) {
        match key {
            "name" => {
                if let Some(n) = ctx.string(v, "name") {
                    if !valid_name(&n) {
                        ctx.err(
                            v.pos,
                            format!("invalid name `{n}` (1-128 of [A-Za-z0-9-_.])"),
                        );
                    }
                    r.name = Some(n);
                }
            }
            "rules" => r.rules = ctx.strings(v, "rules").into_iter().map(|s| s.0).collect(),
            "tags" => r.tags = ctx.strings(v, "tags").into_iter().map(|s| s.0).collect(),
            "min_priority" => {
                if let Some(s) = ctx.string(v, "min_priority") {
                    match s.parse() {
                        Ok(p) => r.min_priority = Some(p),
                        Err(e) => ctx.err(v.pos, e),
                    }
                }
            }
            "scope" => r.scope = parse_scope(ctx, v),
            _ => {
                saw_actions = true;
                for (a, pos) in ctx.strings(v, "actions") {
                    match a.parse::<crate::action::RuleAction>() {
                        Ok(a) if r.actions.contains(&a) => {
                            ctx.err(pos, format!("action `{}` listed twice", a.as_str()))
                        }
                        Ok(a) => r.actions.push(a),
                        Err(e) => ctx.err(pos, e),
                    }
                }
            }
        }
    }
    if !saw_actions || (r.actions.is_empty() && ctx.errors.len() == before) {
        ctx.err(start, "response without `actions` (kill_process, kill_container, pause_container, stop_container, isolate_network)");
    }
    if r.rules.is_empty() && r.tags.is_empty() && r.min_priority.is_none() {
        ctx.err(
            start,
            "response selects no alerts: give `rules`, `tags` or `min_priority`",
        );
    }
    (ctx.errors.len() == before).then_some(r)
}

fn parse_scope(ctx: &mut Ctx<'_>, node: &Node) -> Scope {
    let mut s = Scope::default();
    let mut all = None;
    for (k, v) in ctx.fields(
        node,
        "scope",
        &[
            "all",
            "names",
            "images",
            "labels",
            "k8s_namespaces",
            "k8s_pod_labels",
        ],
    ) {
        match k {
            "all" => all = ctx.bool(v, "scope.all").map(|b| (b, v.pos)),
            "names" => {
                s.names = ctx
                    .strings(v, "scope.names")
                    .into_iter()
                    .map(|x| x.0)
                    .collect()
            }
            "images" => {
                s.images = ctx
                    .strings(v, "scope.images")
                    .into_iter()
                    .map(|x| x.0)
                    .collect()
            }
            "labels" => s.labels = ctx.string_map(v, "scope.labels"),
            "k8s_namespaces" => {
                s.k8s_namespaces = ctx
                    .strings(v, "scope.k8s_namespaces")
                    .into_iter()
                    .map(|x| x.0)
                    .collect()
            }
            "k8s_pod_labels" => s.k8s_pod_labels = ctx.string_map(v, "scope.k8s_pod_labels"),
            _ => {}
        }
    }
    match all {
        Some((true, pos)) if !s.is_all() => ctx.err(
            pos,
            "scope: `all: true` contradicts the selectors next to it",
        ),
        Some((false, pos)) if s.is_all() => ctx.err(
            pos,
            "scope: `all: false` without selectors selects nothing; give names, images or labels",
        ),
        _ => {}
    }
    s
}

fn parse_network(ctx: &mut Ctx<'_>, node: &Node, out: &mut NetworkRules) {
    for (k, v) in ctx.fields(node, "network", &["egress", "unix_deny"]) {
        if k == "unix_deny" {
            out.unix_deny = ctx.paths(v, "network.unix_deny");
            continue;
        }
        for (k, v) in ctx.fields(v, "network.egress", &["default", "allow", "deny"]) {
            match k {
                "default" => match ctx.string(v, "network.egress.default").as_deref() {
                    Some("allow") => out.default_deny = false,
                    Some("deny") => out.default_deny = true,
                    Some(o) => ctx.err(
                        v.pos,
                        format!("network.egress.default: `{o}` is not allow or deny"),
                    ),
                    None => {}
                },
                _ => {
                    let what = format!("network.egress.{k}");
                    let rules = match &v.kind {
                        Kind::Seq(items) => items
                            .iter()
                            .filter_map(|n| parse_net_rule(ctx, n, &what))
                            .collect(),
                        _ if v.is_null() => Vec::new(),
                        _ => {
                            ctx.err(v.pos, format!("{what} must be a list"));
                            Vec::new()
                        }
                    };
                    if k == "allow" {
                        out.allow = rules;
                    } else {
                        out.deny = rules;
                    }
                }
            }
        }
    }
}

fn parse_net_rule(ctx: &mut Ctx<'_>, node: &Node, what: &str) -> Option<NetRule> {
    let before = ctx.errors.len();
    let mut rule = NetRule {
        addr: IpAddr::from([0, 0, 0, 0]),
        prefix: 0,
        ports: Vec::new(),
        protocol: Protocol::Any,
        pos: node.pos,
    };
    let fields = ctx.fields(node, what, &["cidr", "ports", "protocol"]);
    if !fields.iter().any(|(k, _)| *k == "cidr") {
        ctx.err(node.pos, format!("{what}: rule without `cidr`"));
    }
    for (k, v) in fields {
        match k {
            "cidr" => {
                if let Some(s) = ctx.string(v, "cidr") {
                    match parse_cidr(&s) {
                        Ok((a, p)) => {
                            rule.addr = a;
                            rule.prefix = p;
                        }
                        Err(e) => ctx.err(v.pos, format!("{what}: {e}")),
                    }
                }
            }
            "protocol" => match ctx.string(v, "protocol").as_deref() {
                Some("tcp") => rule.protocol = Protocol::Tcp,
                Some("udp") => rule.protocol = Protocol::Udp,
                Some("any") => rule.protocol = Protocol::Any,
                Some(o) => ctx.err(
                    v.pos,
                    format!("{what}: protocol `{o}` is not tcp, udp or any"),
                ),
                None => {}
            },
            "ports" => {
                let items: Vec<&Node> = match &v.kind {
                    Kind::Seq(items) => items.iter().collect(),
                    _ => vec![v],
                };
                for item in items {
                    match item.as_str().map(parse_port_range) {
                        Some(Ok(r)) => rule.ports.push(r),
                        Some(Err(e)) => ctx.err(item.pos, format!("{what}: {e}")),
                        None => ctx.err(
                            item.pos,
                            format!("{what}: ports must be numbers or ranges like 8000-8100"),
                        ),
                    }
                }
            }
            _ => {}
        }
    }
    (ctx.errors.len() == before).then_some(rule)
}

fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let port = |p: &str| {
        p.trim()
            .parse::<u16>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("`{p}` is not a port (1-65535)"))
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (port(a)?, port(b)?);
            if a > b {
                return Err(format!("port range `{s}` is reversed"));
            }
            Ok((a, b))
        }
        None => port(s).map(|p| (p, p)),
    }
}

/// `10.0.0.0/8`, `::1/128` or a bare address (= host route).
pub fn parse_cidr(s: &str) -> Result<(IpAddr, u8), String> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("`{s}` is not an IP address or CIDR"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|&n| n <= max)
            .ok_or_else(|| format!("`{s}`: prefix length must be 0-{max}"))?,
    };
    let host_bits_set = match addr {
        IpAddr::V4(a) => prefix < 32 && u32::from(a) & (u32::MAX >> prefix) != 0,
        IpAddr::V6(a) => prefix < 128 && u128::from(a) & (u128::MAX >> prefix) != 0,
    };
    if host_bits_set {
        return Err(format!(
            "`{s}` has host bits set beyond the /{prefix} prefix"
        ));
    }
    Ok((addr, prefix))
}

/// Loads several files; all errors of all files at once; policy names unique across files.
pub fn load_files(paths: &[PathBuf]) -> Result<Vec<PolicyFile>, Diagnostics> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        match load_file(p) {
            Ok(f) => files.push(f),
            Err(Diagnostics(d)) => errors.extend(d),
        }
    }
    let mut seen: Vec<&Policy> = Vec::new();
    for f in &files {
        for p in &f.policies {
            if let Some(first) = seen.iter().find(|q| q.name == p.name) {
                errors.push(Diagnostic {
                    file: p.file.clone(),
                    pos: p.pos,
                    policy: Some(p.name.clone()),
                    message: format!(
                        "duplicate policy name (first defined at {})",
                        first.location()
                    ),
                });
            } else {
                seen.push(p);
            }
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(Diagnostics(errors))
    }
}

#[cfg(test)]
mod tests;
