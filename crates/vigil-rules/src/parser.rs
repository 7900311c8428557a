//! Recursive-descent parser for Falco's condition language.
//!
//! ```text
//! expr    := and ('or' and)*
//! and     := not ('and' not)*
//! not     := 'not' not | atom
//! atom    := '(' expr ')' | operand OP rhs | operand 'exists' | IDENT      (macro)
//! operand := FIELD ('[' ARG ']')? | TRANSFORMER '(' operand (',' operand)* ')'
//! rhs     := VALUE | 'val' '(' operand ')' | '(' item (',' item)* ')' | IDENT (list)
//! ```
//!
//! Hand-written rather than generated (pest/lalrpop) so error messages can say exactly what
//! was expected where, and so nesting is bounded ([`MAX_NESTING`]) instead of overflowing the
//! stack on hostile input. Keywords (`and`, `or`, `not`, operators) are case-sensitive, as in
//! Falco.

use crate::ast::{Expr, ListItem, Op, Operand, Rhs, Span, Transformer};

/// Deepest parenthesis/`not`/transformer nesting accepted.
pub const MAX_NESTING: usize = 256;
/// Longest condition accepted, in bytes.
pub const MAX_CONDITION_LEN: usize = 1 << 20;

/// A syntax error at a byte offset of the condition.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

/// Parses a condition.
pub fn parse_condition(text: &str) -> Result<Expr, ParseError> {
    if text.len() > MAX_CONDITION_LEN {
        return Err(ParseError {
            offset: 0,
            message: format!(
                "condition is {} bytes long; the limit is {MAX_CONDITION_LEN} bytes",
                text.len()
            ),
        });
    }
    let mut p = Parser {
        s: text,
        b: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    if p.pos == p.b.len() {
        return Err(p.err("empty condition"));
    }
    let e = p.expr()?;
    p.skip_ws();
    if p.pos < p.b.len() {
        if p.b[p.pos] == b')' {
            return Err(p.err("unbalanced ')': no matching '('"));
        }
        return Err(p.err(format!(
            "expected 'and', 'or' or end of condition, found '{}'",
            p.snippet()
        )));
    }
    Ok(e)
}

/// Parses one operand (a field or a transformer call) starting at byte `pos` of `text`;
/// returns it and the offset just after it. Used for output format strings.
pub fn parse_operand_at(text: &str, pos: usize) -> Result<(Operand, usize), ParseError> {
    let mut p = Parser {
        s: text,
        b: text.as_bytes(),
        pos,
        depth: 0,
    };
    let o = p.operand()?;
    Ok((o, p.pos))
}

/// Parses a list value written in YAML (`items:` entries are plain strings; this handles the
/// quoted form `'"a b"'` some upstream files use).
pub fn unquote_list_item(item: &str) -> String {
    let t = item.trim();
    let bytes = t.as_bytes();
    if t.len() >= 2 && (bytes[0] == b'"' || bytes[0] == b'\'') && bytes[t.len() - 1] == bytes[0] {
        let mut p = Parser {
            s: t,
            b: bytes,
            pos: 0,
            depth: 0,
        };
        if let Ok((v, _)) = p.quoted() {
            if p.pos == t.len() {
                return v;
            }
        }
    }
    t.to_string()
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    depth: usize,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_field_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-'
}

impl<'a> Parser<'a> {
    fn err(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            offset: self.pos,
            message: message.into(),
        }
    }

    fn err_at(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            offset,
            message: message.into(),
        }
    }

    fn snippet(&self) -> String {
        let rest = &self.s[self.pos..];
        let end = rest
            .char_indices()
            .find(|(_, c)| c.is_whitespace())
            .map_or(rest.len(), |(i, _)| i)
            .min(40);
        let end = crate::diag::floor_char_boundary(rest, end);
        if end == 0 && !rest.is_empty() {
            rest.chars().next().map(String::from).unwrap_or_default()
        } else {
            rest[..end].to_string()
        }
    }

    fn skip_ws(&mut self) {
        while self.pos < self.b.len() && self.b[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    /// The word at the cursor (letters, digits, `_`, `.`, `-`) without consuming it.
    fn peek_word(&self) -> &'a str {
        let mut end = self.pos;
        while end < self.b.len() && is_field_char(self.b[end]) {
            end += 1;
        }
        &self.s[self.pos..end]
    }

    /// True if the keyword `kw` is at the cursor, followed by a non-word character.
    fn at_keyword(&self, kw: &str) -> bool {
        let w = self.peek_word();
        w == kw
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.err(format!("condition nested deeper than {MAX_NESTING} levels")));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        let first = self.and()?;
        let mut items = vec![first];
        loop {
            self.skip_ws();
            if self.at_keyword("or") {
                self.pos += 2;
                items.push(self.and()?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::And(Vec::new()))
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let first = self.not()?;
        let mut items = vec![first];
        loop {
            self.skip_ws();
            if self.at_keyword("and") {
                self.pos += 3;
                items.push(self.not()?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::And(Vec::new()))
        } else {
            Expr::And(items)
        })
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        self.skip_ws();
        if self.at_keyword("not") {
            let start = self.pos;
            self.pos += 3;
            self.enter()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner), Span::new(start, self.pos)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, ParseError> {
        self.skip_ws();
        match self.peek() {
            None => Err(self.err("unexpected end of condition: expected a field, macro or '('")),
            Some(b'(') => {
                let open = self.pos;
                self.pos += 1;
                self.enter()?;
                let e = self.expr()?;
                self.depth -= 1;
                self.skip_ws();
                if self.peek() != Some(b')') {
                    if self.pos >= self.b.len() {
                        return Err(self.err_at(open, "unbalanced '(': missing ')'"));
                    }
                    return Err(self.err(format!(
                        "expected ')' or 'and'/'or', found '{}'",
                        self.snippet()
                    )));
                }
                self.pos += 1;
                Ok(e)
            }
            Some(c) if is_ident_start(c) => {
                let start = self.pos;
                let word = self.peek_word();
                if matches!(word, "and" | "or") {
                    return Err(self.err(format!("expected a field, macro or '(' before '{word}'")));
                }
                // A transformer call, a field check, or a macro name.
                let after = self.pos + word.len();
                let next_nonws = self.s[after..].trim_start().as_bytes().first().copied();
                let is_call =
                    Transformer::from_name(word).is_some() && self.b.get(after) == Some(&b'(');
                let has_arg = self.b.get(after) == Some(&b'[');
                let looks_field = word.contains('.') || has_arg || is_call;
                if !looks_field {
                    // A macro unless an operator follows (fields without a dot do not exist,
                    // but report them as unknown fields rather than unknown macros).
                    let mut probe = Parser {
                        s: self.s,
                        b: self.b,
                        pos: after,
                        depth: 0,
                    };
                    probe.skip_ws();
                    if probe.operator().is_none() || next_nonws.is_none() {
                        self.pos = after;
                        return Ok(Expr::Ident(word.to_string(), Span::new(start, after)));
                    }
                }
                let lhs = self.operand()?;
                self.skip_ws();
                let op_start = self.pos;
                let Some(op) = self.operator() else {
                    return Err(if self.pos >= self.b.len() {
                        self.err("unexpected end of condition: expected an operator")
                    } else {
                        self.err(format!("expected an operator, found '{}'", self.snippet()))
                    });
                };
                let op_span = Span::new(op_start, self.pos);
                let rhs = if op == Op::Exists {
                    Rhs::None
                } else {
                    self.rhs(op)?
                };
                Ok(Expr::Check {
                    lhs,
                    op,
                    op_span,
                    rhs,
                })
            }
            Some(b')') => Err(self.err("unbalanced ')': no matching '('")),
            Some(_) => Err(self.err(format!(
                "expected a field, macro or '(', found '{}'",
                self.snippet()
            ))),
        }
    }

    /// Consumes an operator if one is at the cursor.
    fn operator(&mut self) -> Option<Op> {
        let rest = &self.b[self.pos..];
        let sym = |n: usize, op: Op| Some((n, op));
        let found = match rest {
            [b'=', b'=', ..] => sym(2, Op::Eq),
            [b'!', b'=', ..] => sym(2, Op::Ne),
            [b'<', b'=', ..] => sym(2, Op::Le),
            [b'>', b'=', ..] => sym(2, Op::Ge),
            [b'=', ..] => sym(1, Op::Eq),
            [b'<', ..] => sym(1, Op::Lt),
            [b'>', ..] => sym(1, Op::Gt),
            _ => {
                let w = self.peek_word();
                Op::from_word(w).map(|op| (w.len(), op))
            }
        };
        let (n, op) = found?;
        self.pos += n;
        Some(op)
    }

    fn operand(&mut self) -> Result<Operand, ParseError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some(b'"') | Some(b'\'') => {
                let (value, _) = self.quoted()?;
                return Ok(Operand::Literal {
                    value,
                    span: Span::new(start, self.pos),
                });
            }
            Some(c) if is_ident_start(c) => {}
            _ => return Err(self.err(format!("expected a field name, found '{}'", self.snippet()))),
        }
        let word = self.peek_word();
        self.pos += word.len();
        if let Some(func) = Transformer::from_name(word) {
            if self.peek() == Some(b'(') {
                self.pos += 1;
                self.enter()?;
                let mut args = Vec::new();
                loop {
                    args.push(self.operand()?);
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b')') => {
                            self.pos += 1;
                            break;
                        }
                        _ => {
                            return Err(self.err(format!(
                                "expected ',' or ')' in {}(...), found '{}'",
                                func.as_str(),
                                self.snippet()
                            )))
                        }
                    }
                }
                self.depth -= 1;
                return Ok(Operand::Transform {
                    func,
                    args,
                    span: Span::new(start, self.pos),
                });
            }
        }
        let name = word.trim_end_matches('.').to_string();
        let mut arg = None;
        if self.peek() == Some(b'[') {
            let open = self.pos;
            let Some(close) = self.s[open..].find(']') else {
                return Err(self.err_at(open, "unterminated field argument: missing ']'"));
            };
            arg = Some(self.s[open + 1..open + close].to_string());
            self.pos = open + close + 1;
        }
        Ok(Operand::Field {
            name,
            arg,
            span: Span::new(start, self.pos),
        })
    }

    fn rhs(&mut self, op: Op) -> Result<Rhs, ParseError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            None => Err(self.err(format!("expected a value after '{}'", op.as_str()))),
            Some(b'(') => {
                let items = self.list()?;
                Ok(Rhs::List(items, Span::new(start, self.pos)))
            }
            Some(b'"') | Some(b'\'') => {
                let (value, _) = self.quoted()?;
                Ok(Rhs::Value {
                    value,
                    quoted: true,
                    span: Span::new(start, self.pos),
                })
            }
            _ => {
                let w = self.peek_word();
                let after = self.pos + w.len();
                if self.b.get(after) == Some(&b'(') {
                    if w == "val" {
                        self.pos = after + 1;
                        self.enter()?;
                        let inner = self.operand()?;
                        self.depth -= 1;
                        self.skip_ws();
                        if self.peek() != Some(b')') {
                            return Err(self.err("expected ')' to close val("));
                        }
                        self.pos += 1;
                        return Ok(Rhs::Operand(inner));
                    }
                    if Transformer::from_name(w).is_some() {
                        return Ok(Rhs::Operand(self.operand()?));
                    }
                }
                let value = self.bare()?;
                Ok(Rhs::Value {
                    value,
                    quoted: false,
                    span: Span::new(start, self.pos),
                })
            }
        }
    }

    /// A bare (unquoted) value: everything up to whitespace, `(`, `)` or `,`.
    fn bare(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        while self.pos < self.b.len() {
            let c = self.b[self.pos];
            if c.is_ascii_whitespace()
                || c == b'('
                || c == b')'
                || c == b','
                || c == b'"'
                || c == b'\''
            {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err(format!("expected a value, found '{}'", self.snippet())));
        }
        Ok(self.s[start..self.pos].to_string())
    }

    /// A quoted string with backslash escapes; returns the value and the quote character.
    fn quoted(&mut self) -> Result<(String, u8), ParseError> {
        let start = self.pos;
        let q = self.b[self.pos];
        self.pos += 1;
        let mut out = String::new();
        let mut seg = self.pos;
        while self.pos < self.b.len() {
            let c = self.b[self.pos];
            if c == q {
                out.push_str(&self.s[seg..self.pos]);
                self.pos += 1;
                return Ok((out, q));
            }
            if c == b'\\' {
                out.push_str(&self.s[seg..self.pos]);
                let Some(&e) = self.b.get(self.pos + 1) else {
                    break;
                };
                match e {
                    b'\\' => out.push('\\'),
                    b'"' => out.push('"'),
                    b'\'' => out.push('\''),
                    b'n' => out.push('\n'),
                    b't' => out.push('\t'),
                    b'r' => out.push('\r'),
                    b'b' => out.push('\u{8}'),
                    b'f' => out.push('\u{c}'),
                    _ => {
                        // Unknown escapes keep their backslash (regexes rely on this).
                        out.push('\\');
                        self.pos += 1;
                        seg = self.pos;
                        continue;
                    }
                }
                self.pos += 2;
                seg = self.pos;
                continue;
            }
            self.pos += 1;
        }
        Err(self.err_at(start, "unterminated string: missing closing quote"))
    }

    fn list(&mut self) -> Result<Vec<ListItem>, ParseError> {
        // Cursor on '('.
        let open = self.pos;
        self.pos += 1;
        self.enter()?;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b')') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(items);
        }
        loop {
            self.skip_ws();
            let start = self.pos;
            match self.peek() {
                None => return Err(self.err_at(open, "unbalanced '(' in list: missing ')'")),
                Some(b'(') => {
                    let nested = self.list()?;
                    items.push(ListItem::Nested(nested, Span::new(start, self.pos)));
                }
                Some(b'"') | Some(b'\'') => {
                    let (value, _) = self.quoted()?;
                    items.push(ListItem::Value {
                        value,
                        quoted: true,
                        span: Span::new(start, self.pos),
                    });
                }
                Some(b',') | Some(b')') => {
                    return Err(self.err("empty list element"));
                }
                Some(_) => {
                    let value = self.bare()?;
                    items.push(ListItem::Value {
                        value,
                        quoted: false,
                        span: Span::new(start, self.pos),
                    });
                }
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b')') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(self.err_at(open, "unbalanced '(' in list: missing ')'")),
                Some(_) => {
                    return Err(self.err(format!(
                        "expected ',' or ')' in list, found '{}'",
                        self.snippet()
                    )))
                }
            }
        }
        self.depth -= 1;
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str) -> Operand {
        match parse_condition(&format!("{name} exists")).unwrap() {
            Expr::Check { lhs, .. } => lhs,
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn precedence_and_binds_tighter_than_or() {
        let e = parse_condition("a or b and not c").unwrap();
        let Expr::Or(items) = e else { panic!() };
        assert!(matches!(&items[0], Expr::Ident(n, _) if n == "a"));
        let Expr::And(inner) = &items[1] else {
            panic!()
        };
        assert!(matches!(&inner[1], Expr::Not(..)));
    }

    #[test]
    fn checks_and_values() {
        let e = parse_condition(
            "proc.name='bash' and fd.num>=0 and evt.type in (open, \"openat\", (x))",
        )
        .unwrap();
        let Expr::And(items) = e else { panic!() };
        assert!(
            matches!(&items[0], Expr::Check { op: Op::Eq, rhs: Rhs::Value { value, quoted: true, .. }, .. } if value == "bash")
        );
        assert!(
            matches!(&items[1], Expr::Check { op: Op::Ge, rhs: Rhs::Value { value, quoted: false, .. }, .. } if value == "0")
        );
        let Expr::Check {
            rhs: Rhs::List(l, _),
            ..
        } = &items[2]
        else {
            panic!()
        };
        assert_eq!(l.len(), 3);
        assert!(matches!(&l[2], ListItem::Nested(n, _) if n.len() == 1));
    }

    #[test]
    fn field_args_and_transformers() {
        assert!(matches!(field("proc.aname[2]"), Operand::Field { arg: Some(a), .. } if a == "2"));
        assert!(
            matches!(field("container.mount.dest[/var/run/docker.sock]"), Operand::Field { arg: Some(a), .. } if a == "/var/run/docker.sock")
        );
        let Operand::Transform { func, args, .. } = field("tolower(basename(proc.exe))") else {
            panic!()
        };
        assert_eq!(func, Transformer::ToLower);
        assert!(matches!(
            &args[0],
            Operand::Transform {
                func: Transformer::Basename,
                ..
            }
        ));
        let e = parse_condition("proc.name = val(proc.pname)").unwrap();
        assert!(matches!(
            e,
            Expr::Check {
                rhs: Rhs::Operand(Operand::Field { .. }),
                ..
            }
        ));
    }

    #[test]
    fn bare_strings_with_brackets_and_escapes() {
        let e = parse_condition("proc.pname in (runc:[0:PARENT], 'it\\'s', \"a\\\"b\")").unwrap();
        let Expr::Check {
            rhs: Rhs::List(l, _),
            ..
        } = e
        else {
            panic!()
        };
        let vals: Vec<_> = l
            .iter()
            .map(|i| match i {
                ListItem::Value { value, .. } => value.clone(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(vals, ["runc:[0:PARENT]", "it's", "a\"b"]);
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = parse_condition("(proc.name = x").unwrap_err();
        assert_eq!(e.offset, 0);
        assert!(e.message.contains("missing ')'"), "{e}");
        let e = parse_condition("proc.name = x)").unwrap_err();
        assert_eq!(e.offset, 13);
        let e = parse_condition("proc.name bogus x").unwrap_err();
        assert_eq!(e.offset, 10);
        assert!(e.message.contains("operator"));
        assert!(parse_condition("proc.name = 'abc")
            .unwrap_err()
            .message
            .contains("unterminated"));
        assert!(parse_condition("").is_err());
        assert!(parse_condition("a and").is_err());
        assert!(parse_condition("proc.name in (a,,b)").is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "(".repeat(10_000) + "a" + &")".repeat(10_000);
        assert!(parse_condition(&deep)
            .unwrap_err()
            .message
            .contains("nested"));
        let nots = "not ".repeat(10_000) + "a";
        assert!(parse_condition(&nots).is_err());
        let ok = "(".repeat(100) + "a" + &")".repeat(100);
        assert!(parse_condition(&ok).is_ok());
    }

    #[test]
    fn size_is_bounded() {
        let big = "a and ".repeat(2 << 20) + "a";
        assert!(parse_condition(&big).unwrap_err().message.contains("limit"));
    }

    #[test]
    fn list_item_unquoting() {
        assert_eq!(unquote_list_item("\"10.0.0.0/8\""), "10.0.0.0/8");
        assert_eq!(unquote_list_item("'a b'"), "a b");
        assert_eq!(unquote_list_item("plain"), "plain");
        assert_eq!(unquote_list_item("\"half"), "\"half");
    }
}
