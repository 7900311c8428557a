//! Load diagnostics: what went wrong, where (file, line, column, rule/macro/list), and how to
//! show it (the source line with a caret under the column, like rustc and `regex`).
//!
//! Diagnostics carry a copy of their source line rather than a reference to the loaded text,
//! so they can outlive the sources and be printed by the CLI after loading failed. We rejected
//! returning the first error only (`?` style): a rules author fixing ten typos should see all
//! ten at once.

use std::fmt;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found while loading rules.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based line; 0 when the problem is about the whole file.
    pub line: u32,
    /// 1-based column; 0 when unknown.
    pub column: u32,
    /// The rule, macro or list the problem belongs to, as `rule 'X'`.
    pub item: Option<String>,
    pub message: String,
    pub severity: Severity,
    /// The source line the position points into (for the caret display).
    #[serde(skip)]
    pub source_line: Option<String>,
}

impl Diagnostic {
    /// An error without source context.
    pub fn error(
        file: impl Into<String>,
        line: u32,
        column: u32,
        item: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.into(),
            line,
            column,
            item,
            message: message.into(),
            severity: Severity::Error,
            source_line: None,
        }
    }

    /// True for errors (as opposed to warnings).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {sev}: {}",
            self.file, self.line, self.column, self.message
        )?;
        if let Some(item) = &self.item {
            write!(f, " (in {item})")?;
        }
        if let Some(src) = &self.source_line {
            if self.column > 0 {
                let shown: String = src.chars().take(200).collect();
                write!(f, "\n  | {shown}\n  | ")?;
                // The caret lines up with tabs kept as tabs.
                for c in src.chars().take(self.column as usize - 1).take(200) {
                    f.write_str(if c == '\t' { "\t" } else { " " })?;
                }
                f.write_str("^")?;
            }
        }
        Ok(())
    }
}

/// All the problems of one failed load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Number of errors (warnings excluded).
    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }
}

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

/// Maps a byte offset in a source text to a 1-based line and column (in characters) plus the
/// text of that line.
pub(crate) fn line_col(text: &str, offset: usize) -> (u32, u32, &str) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() as u32 + 1;
    let col = before[line_start..].chars().count() as u32 + 1;
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    (line, col, &text[line_start..line_end])
}

pub(crate) fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_with_caret() {
        let mut d = Diagnostic::error("r.yaml", 3, 5, Some("rule 'X'".into()), "bad");
        d.source_line = Some("abc defg".into());
        assert_eq!(
            d.to_string(),
            "r.yaml:3:5: error: bad (in rule 'X')\n  | abc defg\n  |     ^"
        );
    }

    #[test]
    fn line_col_counts_chars() {
        let t = "ab\ncdé f\n";
        assert_eq!(line_col(t, 0), (1, 1, "ab"));
        assert_eq!(line_col(t, 3), (2, 1, "cdé f"));
        assert_eq!(line_col(t, 8), (2, 5, "cdé f"));
    }
}
