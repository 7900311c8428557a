//! A YAML (and therefore JSON) document tree that remembers where every node came from.
//!
//! Findings must name the file, line and YAML path, so the loader keeps the line of every key
//! and value. It is built from `yaml-rust2`'s marked event stream rather than its `Yaml` tree
//! (which drops positions) or `serde_yaml` (deprecated, no positions on untyped values).
//!
//! Untrusted input is bounded here, once, for every format built on top:
//! * aliases are expanded by copying, and every copied node is charged to a per-file node
//!   budget, so a "billion laughs" document fails with an error after a few hundred
//!   thousand nodes instead of exhausting memory;
//! * nesting is limited (the tree is dropped and walked recursively elsewhere);
//! * the caller caps the byte size before parsing.

use std::collections::HashMap;
use std::fmt;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Limits applied while loading one file.
#[derive(Debug, Clone, Copy)]
pub struct YamlLimits {
    /// Maximum number of nodes in all documents of a file, counting alias expansions.
    pub max_nodes: usize,
    /// Maximum nesting depth of mappings and sequences.
    pub max_depth: usize,
}

impl Default for YamlLimits {
    fn default() -> Self {
        Self {
            max_nodes: 500_000,
            max_depth: 128,
        }
    }
}

/// Why a YAML file could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    /// The scanner or parser rejected the text.
    #[error("invalid YAML at line {line}, column {col}: {msg}")]
    Syntax { line: u32, col: u32, msg: String },
    /// Alias expansion or plain size exceeded the node budget (a "YAML bomb").
    #[error("document too large after alias expansion (more than {max} nodes) at line {line}; refusing a possible YAML bomb")]
    TooManyNodes { line: u32, max: usize },
    /// Mappings or sequences nested deeper than the limit.
    #[error("nesting deeper than {max} levels at line {line}")]
    TooDeep { line: u32, max: usize },
    /// An alias names an anchor that was never defined.
    #[error("unknown alias at line {line}")]
    UnknownAlias { line: u32 },
}

/// One node of a loaded document.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// 1-based line where the node starts.
    pub line: u32,
    /// What the node holds.
    pub value: Value,
}

/// The value of a node. Mapping keys are kept as strings (non-scalar keys are rendered
/// as `?` and never match a lookup), in document order, with the line of the key.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or an empty value.
    Null,
    /// A scalar; `quoted` is true for single- or double-quoted scalars (always strings).
    Scalar { text: String, quoted: bool },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping: (key, key line, value).
    Map(Vec<(String, u32, Node)>),
}

impl Node {
    /// Looks up a mapping key.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _, _)| k == key).map(|(_, _, v)| v),
            _ => None,
        }
    }

    /// Looks up a mapping key and returns the line of the key as well.
    pub fn get_with_line(&self, key: &str) -> Option<(u32, &Node)> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _, _)| k == key)
                .map(|(_, l, v)| (*l, v)),
            _ => None,
        }
    }

    /// Follows a dotted list of keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |n, k| n.get(k))
    }

    /// The scalar text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// A YAML 1.2 core-schema boolean (plus the YAML 1.1 forms Kubernetes and compose accept).
    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Scalar {
                text,
                quoted: false,
            } => match text.as_str() {
                "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
                "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
                    Some(false)
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// An integer scalar (decimal, optionally signed).
    pub fn as_i64(&self) -> Option<i64> {
        match &self.value {
            Value::Scalar { text, .. } => text.trim().parse().ok(),
            _ => None,
        }
    }

    /// Sequence items, or an empty slice for anything else.
    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(v) => v,
            _ => &[],
        }
    }

    /// Mapping entries, or an empty slice for anything else.
    pub fn entries(&self) -> &[(String, u32, Node)] {
        match &self.value {
            Value::Map(v) => v,
            _ => &[],
        }
    }

    /// True for `null`, `~` and empty values.
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// True for a mapping.
    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }

    /// Number of nodes in this subtree (used to charge alias expansions).
    fn count(&self) -> usize {
        1 + match &self.value {
            Value::Seq(v) => v.iter().map(Node::count).sum(),
            Value::Map(v) => v.iter().map(|(_, _, n)| n.count()).sum(),
            _ => 0,
        }
    }

    /// Converts a JSON value (used when the YAML scanner rejects a JSON file that
    /// `serde_json` accepts); every node gets `line`.
    pub fn from_json(v: &serde_json::Value, line: u32) -> Node {
        let value = match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Scalar {
                text: b.to_string(),
                quoted: false,
            },
            serde_json::Value::Number(n) => Value::Scalar {
                text: n.to_string(),
                quoted: false,
            },
            serde_json::Value::String(s) => Value::Scalar {
                text: s.clone(),
                quoted: true,
            },
            serde_json::Value::Array(a) => {
                Value::Seq(a.iter().map(|x| Node::from_json(x, line)).collect())
            }
            serde_json::Value::Object(o) => Value::Map(
                o.iter()
                    .map(|(k, x)| (k.clone(), line, Node::from_json(x, line)))
                    .collect(),
            ),
        };
        Node { line, value }
    }
}

impl fmt::Display for Node {
    /// Renders scalars as their text; collections in a short form for messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Value::Null => f.write_str("null"),
            Value::Scalar { text, .. } => f.write_str(text),
            Value::Seq(v) => write!(f, "[{} items]", v.len()),
            Value::Map(v) => write!(f, "{{{} keys}}", v.len()),
        }
    }
}

fn line_of(m: &Marker) -> u32 {
    u32::try_from(m.line()).unwrap_or(u32::MAX)
}

enum Frame {
    Seq {
        line: u32,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        line: u32,
        anchor: usize,
        entries: Vec<(String, u32, Node)>,
        pending_key: Option<(String, u32)>,
    },
}

/// Loads every document of a YAML stream. Empty documents are returned as `Null` nodes.
pub fn load_all(text: &str, limits: YamlLimits) -> Result<Vec<Node>, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut budget = limits.max_nodes;
    let mut doc_root: Option<Node> = None;
    loop {
        let (ev, mark) = parser.next_token().map_err(|e| YamlError::Syntax {
            line: line_of(e.marker()),
            col: u32::try_from(e.marker().col() + 1).unwrap_or(u32::MAX),
            msg: e.info().to_string(),
        })?;
        let line = line_of(&mark);
        // A finished node to attach to the current frame (or the document root).
        let node: Node = match ev {
            Event::StreamEnd => break,
            Event::Nothing | Event::StreamStart => continue,
            Event::DocumentStart => {
                anchors.clear();
                continue;
            }
            Event::DocumentEnd => {
                docs.push(doc_root.take().unwrap_or(Node {
                    line,
                    value: Value::Null,
                }));
                continue;
            }
            Event::Alias(id) => {
                let target = anchors.get(&id).ok_or(YamlError::UnknownAlias { line })?;
                let cost = target.count();
                budget = budget.checked_sub(cost).ok_or(YamlError::TooManyNodes {
                    line,
                    max: limits.max_nodes,
                })?;
                let mut n = target.clone();
                n.line = line;
                n
            }
            Event::Scalar(text, style, anchor, tag) => {
                budget = budget.checked_sub(1).ok_or(YamlError::TooManyNodes {
                    line,
                    max: limits.max_nodes,
                })?;
                let quoted = !matches!(style, TScalarStyle::Plain);
                let is_null = !quoted
                    && tag.is_none()
                    && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL");
                let n = Node {
                    line,
                    value: if is_null {
                        Value::Null
                    } else {
                        Value::Scalar {
                            text,
                            quoted: quoted || tag.is_some_and(|t| t.suffix == "str"),
                        }
                    },
                };
                if anchor > 0 {
                    anchors.insert(anchor, n.clone());
                }
                n
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= limits.max_depth {
                    return Err(YamlError::TooDeep {
                        line,
                        max: limits.max_depth,
                    });
                }
                budget = budget.checked_sub(1).ok_or(YamlError::TooManyNodes {
                    line,
                    max: limits.max_nodes,
                })?;
                if matches!(ev, Event::SequenceStart(..)) {
                    stack.push(Frame::Seq {
                        line,
                        anchor,
                        items: Vec::new(),
                    });
                } else {
                    stack.push(Frame::Map {
                        line,
                        anchor,
                        entries: Vec::new(),
                        pending_key: None,
                    });
                }
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (n, anchor) = match stack.pop() {
                    Some(Frame::Seq {
                        line,
                        anchor,
                        items,
                    }) => (
                        Node {
                            line,
                            value: Value::Seq(items),
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        line,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            line,
                            value: Value::Map(entries),
                        },
                        anchor,
                    ),
                    None => {
                        return Err(YamlError::Syntax {
                            line,
                            col: 1,
                            msg: "unbalanced collection end".into(),
                        })
                    }
                };
                if anchor > 0 {
                    // The anchor keeps a copy: charge it, or nested anchors could multiply
                    // memory without a single alias.
                    budget = budget
                        .checked_sub(n.count())
                        .ok_or(YamlError::TooManyNodes {
                            line,
                            max: limits.max_nodes,
                        })?;
                    anchors.insert(anchor, n.clone());
                }
                n
            }
        };
        match stack.last_mut() {
            None => doc_root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => {
                    let key = match &node.value {
                        Value::Scalar { text, .. } => text.clone(),
                        Value::Null => String::new(),
                        _ => "?".to_string(),
                    };
                    *pending_key = Some((key, node.line));
                }
                Some((key, kline)) => {
                    if key == "<<" {
                        // Merge key: copy entries of the merged mapping(s) that are not set.
                        let sources: Vec<&Node> = match &node.value {
                            Value::Seq(v) => v.iter().collect(),
                            _ => vec![&node],
                        };
                        for src in sources {
                            for (k, l, v) in src.entries() {
                                if !entries.iter().any(|(e, _, _)| e == k) {
                                    entries.push((k.clone(), *l, v.clone()));
                                }
                            }
                        }
                    } else if let Some(slot) = entries.iter_mut().find(|(k, _, _)| *k == key) {
                        // Later duplicate keys win, as in most YAML loaders.
                        *slot = (key, kline, node);
                    } else {
                        entries.push((key, kline, node));
                    }
                }
            },
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_lookup() {
        let docs = load_all(
            "a: 1\nb:\n  c: [x, y]\n  d: \"true\"\n---\nkind: Pod\n",
            YamlLimits::default(),
        )
        .unwrap();
        assert_eq!(docs.len(), 2);
        let (l, b) = docs[0].get_with_line("b").unwrap();
        assert_eq!(l, 2);
        assert_eq!(b.get("c").unwrap().items().len(), 2);
        assert_eq!(b.get_with_line("d").unwrap().0, 4);
        assert_eq!(b.get("d").unwrap().as_bool(), None, "quoted is a string");
        assert_eq!(docs[1].get_with_line("kind").unwrap().0, 6);
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut s = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        let mut prev = 'a';
        for c in 'b'..='j' {
            s.push_str(&format!(
                "{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
            prev = c;
        }
        let e = load_all(&s, YamlLimits::default()).unwrap_err();
        assert!(matches!(e, YamlError::TooManyNodes { .. }), "{e}");
    }

    #[test]
    fn nested_anchors_are_charged() {
        let mut s = String::new();
        for i in 0..100 {
            s.push_str(&format!("{}k{i}: &a{i}\n", "  ".repeat(i)));
        }
        s.push_str(&format!(
            "{}leaf: [{}]\n",
            "  ".repeat(100),
            "x,".repeat(20_000)
        ));
        let e = load_all(&s, YamlLimits::default()).unwrap_err();
        assert!(matches!(e, YamlError::TooManyNodes { .. }), "{e}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let s = "[".repeat(1000) + &"]".repeat(1000);
        let e = load_all(&s, YamlLimits::default()).unwrap_err();
        // yaml-rust2's own recursion limit may trigger first; either way it is an error.
        assert!(
            matches!(e, YamlError::TooDeep { .. }) || e.to_string().contains("recursion"),
            "{e}"
        );
        let s = "- ".repeat(200) + "x";
        assert!(matches!(
            load_all(&s, YamlLimits::default()),
            Err(YamlError::TooDeep { .. })
        ));
    }

    #[test]
    fn merge_keys_and_aliases() {
        let docs = load_all(
            "base: &b {privileged: true}\nc:\n  <<: *b\n  x: 1\n",
            YamlLimits::default(),
        )
        .unwrap();
        assert_eq!(
            docs[0].path(&["c", "privileged"]).unwrap().as_bool(),
            Some(true)
        );
    }

    #[test]
    fn syntax_error_has_line() {
        let e = load_all("a: 1\nb: [\n", YamlLimits::default()).unwrap_err();
        assert!(matches!(e, YamlError::Syntax { .. }), "{e}");
    }
}
