//! The condition syntax tree, exactly as written (before macros, lists and fields are
//! resolved). Every node carries a byte [`Span`] into the condition text so later stages can
//! point at the offending token.
//!
//! Kept separate from the compiled form (see `compile`) in the manner of `regex`'s `Ast`/`Hir`
//! split: the AST is cheap to build and to print in errors; the compiled tree is what runs.

/// Byte range in a condition string.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
}

/// Comparison operators (Falco names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    BContains,
    StartsWith,
    BStartsWith,
    EndsWith,
    Glob,
    IGlob,
    Regex,
    In,
    Intersects,
    Pmatch,
    Exists,
}

impl Op {
    /// Operators that are words (`contains`, `in`, ...).
    pub fn from_word(w: &str) -> Option<Op> {
        Some(match w {
            "contains" => Op::Contains,
            "icontains" => Op::IContains,
            "bcontains" => Op::BContains,
            "startswith" => Op::StartsWith,
            "bstartswith" => Op::BStartsWith,
            "endswith" => Op::EndsWith,
            "glob" => Op::Glob,
            "iglob" => Op::IGlob,
            "regex" => Op::Regex,
            "in" => Op::In,
            "intersects" => Op::Intersects,
            "pmatch" => Op::Pmatch,
            "exists" => Op::Exists,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::BContains => "bcontains",
            Op::StartsWith => "startswith",
            Op::BStartsWith => "bstartswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::Regex => "regex",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::Pmatch => "pmatch",
            Op::Exists => "exists",
        }
    }

    /// Operators whose right-hand side is a list.
    pub fn takes_list(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::Pmatch)
    }
}

/// Field transformers (`tolower(proc.name)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transformer {
    ToLower,
    ToUpper,
    B64,
    Basename,
    Len,
    Join,
    Concat,
}

impl Transformer {
    pub fn from_name(s: &str) -> Option<Transformer> {
        Some(match s {
            "tolower" => Transformer::ToLower,
            "toupper" => Transformer::ToUpper,
            "b64" => Transformer::B64,
            "basename" => Transformer::Basename,
            "len" => Transformer::Len,
            "join" => Transformer::Join,
            "concat" => Transformer::Concat,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transformer::ToLower => "tolower",
            Transformer::ToUpper => "toupper",
            Transformer::B64 => "b64",
            Transformer::Basename => "basename",
            Transformer::Len => "len",
            Transformer::Join => "join",
            Transformer::Concat => "concat",
        }
    }
}

/// Something that produces a value: a field, a transformed value, or (inside `join`/`concat`)
/// a literal string.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Field {
        name: String,
        arg: Option<String>,
        span: Span,
    },
    Transform {
        func: Transformer,
        args: Vec<Operand>,
        span: Span,
    },
    Literal {
        value: String,
        span: Span,
    },
}

impl Operand {
    pub fn span(&self) -> Span {
        match self {
            Operand::Field { span, .. }
            | Operand::Transform { span, .. }
            | Operand::Literal { span, .. } => *span,
        }
    }
}

/// One element of a `(a, b, (c))` list.
#[derive(Clone, Debug, PartialEq)]
pub enum ListItem {
    /// A value; `quoted` is false for bare words, which may name a list to splice in.
    Value {
        value: String,
        quoted: bool,
        span: Span,
    },
    Nested(Vec<ListItem>, Span),
}

/// The right-hand side of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub enum Rhs {
    /// Unary operators (`exists`).
    None,
    Value {
        value: String,
        quoted: bool,
        span: Span,
    },
    List(Vec<ListItem>, Span),
    /// `val(field)` or a transformer: compare with another value of the same event.
    Operand(Operand),
}

/// A boolean expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>, Span),
    /// A bare identifier: a macro reference.
    Ident(String, Span),
    Check {
        lhs: Operand,
        op: Op,
        op_span: Span,
        rhs: Rhs,
    },
}
