//! Output format strings (`"%proc.name opened %fd.name"`) and alert construction.
//!
//! A format is compiled once at load into literal pieces and compiled operands (the same
//! [`Operand`]s conditions use, so every field and transformer works in outputs too). Forms
//! accepted: `%field`, `%field[arg]`, `%evt.arg.name`, `%(field)` and `%transformer(field)`;
//! a trailing `.` after a field is punctuation, not part of the name. Rendering an alert
//! allocates (alerts are rare); evaluation does not.

use crate::ast::Operand as AOperand;
use crate::compile::{self, Operand};
use crate::eval::{self, Scratch};
use crate::fields::{Cx, V};
use crate::{RuleId, Ruleset};
use std::collections::BTreeMap;
use vigil_event::{Alert, Event, FieldValue, StateView};

#[derive(Debug)]
enum Part {
    Lit(String),
    Field { key: String, op: Operand },
}

/// A compiled output format.
#[derive(Debug)]
pub struct Format {
    parts: Vec<Part>,
}

impl Format {
    /// The operands the format renders.
    pub(crate) fn operands(&self) -> impl Iterator<Item = &Operand> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field { op, .. } => Some(op),
            Part::Lit(_) => None,
        })
    }

    /// Scratch buffers needed to render.
    pub fn max_depth(&self) -> Option<usize> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Field { op, .. } => Some(op.depth()),
                Part::Lit(_) => None,
            })
            .max()
    }

    /// The field names the output references, in order.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field { key, .. } => Some(key.as_str()),
            Part::Lit(_) => None,
        })
    }
}

fn is_field_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-'
}

/// Compiles a format string; errors carry a byte offset.
pub fn compile_format(s: &str) -> Result<Format, (usize, String)> {
    let b = s.as_bytes();
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    while i < b.len() {
        let Some(rel) = s[i..].find('%') else {
            lit.push_str(&s[i..]);
            break;
        };
        lit.push_str(&s[i..i + rel]);
        let start = i + rel;
        let mut j = start + 1;
        if j < b.len() && b[j] == b'%' {
            lit.push('%');
            i = j + 1;
            continue;
        }
        let parens = j < b.len() && b[j] == b'(';
        if parens {
            j += 1;
        }
        // Scan the name to decide between a field and a transformer call.
        let mut k = j;
        while k < b.len() && is_field_char(b[k]) {
            k += 1;
        }
        if k == j {
            // A lone '%' is literal text.
            lit.push('%');
            i = start + 1;
            continue;
        }
        let (ast, mut end) = if k < b.len() && b[k] == b'(' {
            crate::parser::parse_operand_at(s, j).map_err(|e| (e.offset, e.message))?
        } else {
            let mut name_end = k;
            while name_end > j && b[name_end - 1] == b'.' {
                name_end -= 1;
            }
            let name = &s[j..name_end];
            let mut end = name_end;
            let mut arg = None;
            if name_end == k && k < b.len() && b[k] == b'[' {
                let close = s[k..]
                    .find(']')
                    .ok_or((k, "unterminated '[' in output field".to_string()))?;
                arg = Some(s[k + 1..k + close].to_string());
                end = k + close + 1;
            }
            let span = crate::ast::Span::new(j, end);
            (
                AOperand::Field {
                    name: name.to_string(),
                    arg,
                    span,
                },
                end,
            )
        };
        if parens {
            if end < b.len() && b[end] == b')' {
                end += 1;
            } else {
                return Err((end, "expected ')' to close %(...)".to_string()));
            }
        }
        let key = key_of(&ast);
        let op = compile::operand_standalone(&ast).map_err(|m| (j, m))?;
        if !lit.is_empty() {
            parts.push(Part::Lit(std::mem::take(&mut lit)));
        }
        parts.push(Part::Field { key, op });
        i = end;
    }
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    Ok(Format { parts })
}

fn key_of(o: &AOperand) -> String {
    match o {
        AOperand::Field {
            name, arg: Some(a), ..
        } => format!("{name}[{a}]"),
        AOperand::Field { name, .. } => name.clone(),
        AOperand::Literal { value, .. } => format!("\"{value}\""),
        AOperand::Transform { func, args, .. } => {
            let a: Vec<String> = args.iter().map(key_of).collect();
            format!("{}({})", func.as_str(), a.join(", "))
        }
    }
}

/// Renders the alert of `rule` for `event`.
pub fn alert<S: StateView + ?Sized>(
    rs: &Ruleset,
    rule: RuleId,
    event: &Event<'_>,
    state: &S,
    scratch: &mut Scratch,
) -> Alert {
    let info = rs.rule(rule);
    let mut output = String::new();
    let mut output_fields = BTreeMap::new();
    if let Some(Some(c)) = rs.program.rules.get(rule.0 as usize) {
        let cx = Cx::new(event, state);
        let bufs = scratch.buffers(rs.program.buffers);
        for p in &c.output.parts {
            match p {
                Part::Lit(s) => output.push_str(s),
                Part::Field { key, op } => {
                    let fv = render_operand(op, &cx, bufs, &mut output);
                    output_fields.insert(key.clone(), fv);
                }
            }
        }
    } else {
        output.push_str(&info.output);
    }
    Alert {
        time: event.ts,
        rule: info.name.clone(),
        priority: info.priority,
        source: info.source.clone(),
        hostname: state.hostname().to_string(),
        output,
        tags: info.tags.clone(),
        output_fields,
    }
}

fn render_operand<S: StateView + ?Sized>(
    op: &Operand,
    cx: &Cx<'_, S>,
    bufs: &mut [String],
    out: &mut String,
) -> FieldValue {
    if op.multi() {
        // Several values: joined with ',' in both the text and the field.
        let mut joined = String::new();
        let mut any = false;
        for i in 0.. {
            let Some(v) = eval::eval_operand(op, cx, i, &mut *bufs) else {
                break;
            };
            if v == V::Na {
                continue;
            }
            if any {
                joined.push(',');
            }
            eval::write_v(&mut joined, &v);
            any = true;
        }
        if !any {
            out.push_str("<NA>");
            return FieldValue::Null;
        }
        out.push_str(&joined);
        return FieldValue::Str(joined);
    }
    match eval::eval_operand(op, cx, 0, bufs) {
        None | Some(V::Na) => {
            out.push_str("<NA>");
            FieldValue::Null
        }
        Some(v) => {
            let start = out.len();
            eval::write_v(out, &v);
            match v {
                V::N(n) => FieldValue::I64(n),
                V::B(b) => FieldValue::Bool(b),
                _ => FieldValue::Str(out[start..].to_string()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_forms() {
        let f = compile_format(
            "a %proc.name b=%proc.aname[2] c=%(fd.name) d=%evt.arg.flags. 100%% %tolower(proc.exe)",
        )
        .unwrap();
        let keys: Vec<&str> = f.fields().collect();
        assert_eq!(
            keys,
            [
                "proc.name",
                "proc.aname[2]",
                "fd.name",
                "evt.arg.flags",
                "tolower(proc.exe)"
            ]
        );
        assert!(compile_format("%proc.nope").is_err());
        assert!(compile_format("%proc.aname[2").is_err());
        assert!(compile_format("50% done").is_ok());
    }
}
