//! A YAML tree whose every node remembers where it came from.
//!
//! Built from `yaml-rust2`'s marked parser events. We chose it over `serde_yaml` because serde
//! only reports a location for *syntax* errors; Falco-style diagnostics need the line and
//! column of every rule, key and condition, including for semantic errors found much later
//! (an unknown field inside a macro used by a rule). Anchors and aliases are rejected: Falco
//! rules do not use them and they allow exponential "billion laughs" documents.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest nesting accepted; rules files are three or four levels deep.
pub const MAX_DEPTH: usize = 64;

/// Position of a node: 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// How a scalar was written (needed to map condition offsets back to the file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

/// A YAML node.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Scalar(String, Style),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub pos: Pos,
}

impl Node {
    /// The scalar's text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    /// True for an explicit or implicit YAML null (`~`, `null`, empty).
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar(s, Style::Plain) if s.is_empty() || s == "~" || s == "null" || s == "Null" || s == "NULL")
    }

    /// YAML 1.2 core-schema boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match &self.kind {
            Kind::Scalar(s, Style::Plain) => match s.as_str() {
                "true" | "True" | "TRUE" => Some(true),
                "false" | "False" | "FALSE" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// Short description of the node's kind for error messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar(..) if self.is_null() => "null",
            Kind::Scalar(..) => "a scalar",
            Kind::Seq(_) => "a sequence",
            Kind::Map(_) => "a mapping",
        }
    }

    /// Looks a key up in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(m) => m
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A YAML syntax (or structure) error with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

enum Frame {
    Seq(Pos, Vec<Node>),
    Map(Pos, Vec<(Node, Node)>, Option<Node>),
}

struct Builder {
    stack: Vec<Frame>,
    docs: Vec<Node>,
    error: Option<YamlError>,
}

fn pos_of(m: &Marker) -> Pos {
    // yaml-rust2 lines are 1-based, columns 0-based.
    Pos {
        line: m.line() as u32,
        col: m.col() as u32 + 1,
    }
}

impl Builder {
    fn push_value(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq(_, items)) => items.push(node),
            Some(Frame::Map(_, entries, key)) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }

    fn fail(&mut self, pos: Pos, message: String) {
        if self.error.is_none() {
            self.error = Some(YamlError { pos, message });
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
                    return self.fail(pos, "YAML anchors are not supported in rules files".into());
                }
                let style = match style {
                    TScalarStyle::Plain => Style::Plain,
                    TScalarStyle::SingleQuoted => Style::SingleQuoted,
                    TScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                    TScalarStyle::Literal => Style::Literal,
                    TScalarStyle::Folded => Style::Folded,
                };
                self.push_value(Node {
                    kind: Kind::Scalar(s, style),
                    pos,
                });
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if anchor != 0 {
                    return self.fail(pos, "YAML anchors are not supported in rules files".into());
                }
                if self.stack.len() >= MAX_DEPTH {
                    return self.fail(pos, format!("YAML nesting deeper than {MAX_DEPTH} levels"));
                }
                if matches!(ev, Event::SequenceStart(..)) {
                    self.stack.push(Frame::Seq(pos, Vec::new()));
                } else {
                    self.stack.push(Frame::Map(pos, Vec::new(), None));
                }
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq(p, items)) => self.push_value(Node {
                    kind: Kind::Seq(items),
                    pos: p,
                }),
                Some(Frame::Map(p, entries, _)) => {
                    // yaml-rust2 marks a block mapping at its first ':'; the first key is
                    // where a reader expects the item to start.
                    let pos = entries.first().map_or(p, |(k, _)| k.pos);
                    self.push_value(Node {
                        kind: Kind::Map(entries),
                        pos,
                    })
                }
                None => self.fail(pos, "unbalanced YAML structure".into()),
            },
            Event::Alias(_) => {
                self.fail(pos, "YAML aliases are not supported in rules files".into())
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// Parses every document of `text`.
///
/// Falco reads rules with yaml-cpp, which accepts a flow collection whose closing bracket is
/// not indented past its key (`items: [\n  a\n]` inside a mapping at the same column); the
/// upstream sandbox rules rely on it. YAML 1.2 and yaml-rust2 reject it, so when strict parsing
/// fails we retry once with such lines re-indented ([`relax_flow_indentation`]). Positions
/// stay exact except for columns on the re-indented lines.
pub fn parse(text: &str) -> Result<Vec<Node>, YamlError> {
    match parse_strict(text) {
        Ok(d) => Ok(d),
        Err(e) => match relax_flow_indentation(text) {
            Some(relaxed) => parse_strict(&relaxed).map_err(|_| e),
            None => Err(e),
        },
    }
}

/// Re-indents lines inside flow collections that start at or left of the column of the line
/// that opened the collection. Returns `None` if nothing needed changing.
pub fn relax_flow_indentation(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut depth = 0usize;
    let mut open_indent = 0usize;
    let mut block_indent: Option<usize> = None;
    let mut changed = false;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let content = line.trim();
        if let Some(bi) = block_indent {
            if content.is_empty() || indent > bi {
                out.push_str(line);
                continue;
            }
            block_indent = None;
        }
        if depth > 0 && !content.is_empty() && indent <= open_indent {
            for _ in 0..(open_indent + 2 - indent) {
                out.push(' ');
            }
            changed = true;
        }
        out.push_str(line);
        let start_depth = depth;
        let (mut in_s, mut in_d, mut prev) = (false, false, b' ');
        for &c in content.as_bytes() {
            match c {
                b'\'' if !in_d => in_s = !in_s,
                b'"' if !in_s && prev != b'\\' => in_d = !in_d,
                b'#' if !in_s && !in_d && (prev == b' ' || prev == b'\t') => break,
                b'[' | b'{' if !in_s && !in_d => depth += 1,
                b']' | b'}' if !in_s && !in_d => depth = depth.saturating_sub(1),
                _ => {}
            }
            prev = c;
        }
        if start_depth == 0 && depth > 0 {
            open_indent = indent;
        }
        if depth == 0 {
            let t = content.trim_end_matches(|c: char| c == '-' || c == '+' || c.is_ascii_digit());
            if t.ends_with(": |")
                || t.ends_with(": >")
                || t == "|"
                || t == ">"
                || t.ends_with("- |")
                || t.ends_with("- >")
            {
                block_indent = Some(indent);
            }
        }
    }
    changed.then_some(out)
}

fn parse_strict(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut b = Builder {
        stack: Vec::new(),
        docs: Vec::new(),
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut b, true) {
        return Err(YamlError {
            pos: pos_of(e.marker()),
            message: e.info().to_string(),
        });
    }
    if let Some(e) = b.error {
        return Err(e);
    }
    Ok(b.docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let docs = parse("- rule: a\n  condition: >\n    x = 1\n").unwrap();
        let Kind::Seq(items) = &docs[0].kind else {
            panic!()
        };
        assert_eq!(items[0].pos, Pos { line: 1, col: 3 });
        let cond = items[0].get("condition").unwrap();
        assert_eq!(cond.as_str(), Some("x = 1\n"));
        // Block scalars are marked where their content starts.
        assert_eq!(cond.pos, Pos { line: 3, col: 5 });
        let rule = items[0].get("rule").unwrap();
        assert_eq!(rule.pos, Pos { line: 1, col: 9 });
    }

    #[test]
    fn syntax_error_has_position() {
        let e = parse("- rule: a\n  x: [1, 2\n").unwrap_err();
        assert!(e.pos.line >= 2, "{e:?}");
    }

    #[test]
    fn lenient_flow_closing_bracket() {
        let text = "- list: l\n  items: [\n    a,\n    \"b\"\n  ]\n\n- list: m\n  items: [c]\n";
        let docs = parse(text).unwrap();
        let Kind::Seq(items) = &docs[0].kind else {
            panic!()
        };
        let Kind::Seq(l) = &items[0].get("items").unwrap().kind else {
            panic!()
        };
        assert_eq!(l.len(), 2);
        assert_eq!(items[1].pos.line, 7);
        // Brackets inside block scalars and quotes do not confuse the relaxation.
        let text =
            "- macro: m\n  condition: >\n    a[ and\n- list: l\n  items: [\n    \"]\",\n  ]\n";
        let docs = parse(text).unwrap();
        let Kind::Seq(items) = &docs[0].kind else {
            panic!()
        };
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn aliases_and_depth_rejected() {
        assert!(parse("a: &x 1\nb: *x\n").is_err());
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(parse(&deep).unwrap_err().message.contains("nesting"));
    }
}
