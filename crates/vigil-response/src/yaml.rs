//! A YAML tree with line and column on every node, for policy diagnostics that point.
//!
//! Built from `yaml-rust2`'s marked parser events. We rejected `serde_yaml`: its spans stop
//! at the first error, and policy validation must report every problem with its position.
//! Anchors and aliases are refused (policies do not need them, and they enable
//! exponential "billion laughs" documents); nesting is capped.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, PartialOrd, Ord)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A scalar and whether it was quoted (quoted scalars are never null/bool/number).
    Scalar(String, bool),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar(s, false) if s.is_empty() || s == "~" || s == "null")
    }

    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar(..) if self.is_null() => "null",
            Kind::Scalar(..) => "a scalar",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

/// A syntax error with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

const MAX_DEPTH: usize = 64;

struct Builder {
    stack: Vec<(Pos, Kind, Option<Node>)>,
    docs: Vec<Node>,
    error: Option<YamlError>,
}

fn pos_of(m: &Marker) -> Pos {
    Pos {
        line: m.line() as u32,
        col: m.col() as u32 + 1,
    }
}

impl Builder {
    fn fail(&mut self, pos: Pos, message: String) {
        if self.error.is_none() {
            self.error = Some(YamlError { pos, message });
        }
    }

    fn push_node(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some((_, Kind::Seq(items), _)) => items.push(node),
            Some((_, Kind::Map(entries), pending)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => entries.push((key, node)),
            },
            Some((_, Kind::Scalar(..), _)) => {}
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let pos = pos_of(&mark);
        match ev {
            Event::Scalar(s, style, anchor, _) => {
                if anchor != 0 {
                    return self.fail(pos, "YAML anchors are not supported in policies".into());
                }
                let quoted = !matches!(style, TScalarStyle::Plain);
                self.push_node(Node {
                    pos,
                    kind: Kind::Scalar(s, quoted),
                });
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if anchor != 0 {
                    return self.fail(pos, "YAML anchors are not supported in policies".into());
                }
                if self.stack.len() >= MAX_DEPTH {
                    return self.fail(pos, format!("nesting deeper than {MAX_DEPTH} levels"));
                }
                let kind = if matches!(ev, Event::SequenceStart(..)) {
                    Kind::Seq(Vec::new())
                } else {
                    Kind::Map(Vec::new())
                };
                self.stack.push((pos, kind, None));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((p, kind, _)) = self.stack.pop() {
                    self.push_node(Node { pos: p, kind });
                }
            }
            Event::Alias(_) => self.fail(pos, "YAML aliases are not supported in policies".into()),
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// Parses every document in `text`.
pub fn parse(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut b = Builder {
        stack: Vec::new(),
        docs: Vec::new(),
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut b, true) {
        let m = e.marker();
        return Err(YamlError {
            pos: pos_of(m),
            message: e.info().to_string(),
        });
    }
    match b.error {
        Some(e) => Err(e),
        None => Ok(b.docs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let docs = parse("a:\n  b: [x, 'y']\n").unwrap();
        let Kind::Map(m) = &docs[0].kind else {
            panic!()
        };
        assert_eq!(m[0].0.pos, Pos { line: 1, col: 1 });
        let Kind::Map(inner) = &m[0].1.kind else {
            panic!()
        };
        assert_eq!(inner[0].0.pos, Pos { line: 2, col: 3 });
        let Kind::Seq(items) = &inner[0].1.kind else {
            panic!()
        };
        assert_eq!(items[1].kind, Kind::Scalar("y".into(), true));
    }

    #[test]
    fn aliases_and_syntax_errors_are_reported() {
        assert!(parse("a: &x 1\nb: *x\n")
            .unwrap_err()
            .message
            .contains("anchors"));
        let e = parse("a: [1, 2\n").unwrap_err();
        assert!(e.pos.line >= 1);
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(parse(&deep).unwrap_err().message.contains("nesting"));
    }
}
