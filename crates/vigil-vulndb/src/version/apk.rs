//! Alpine (apk) version ordering, following apk-tools 3's tokenizer.
//!
//! Grammar: `digit{.digit}...{letter}{_suffix{number}}...{~hash}{-rN}`. Versions are walked
//! token by token; tokens of the same kind compare by value (numbers numerically, except that
//! a number with a leading zero after a dot compares as a string, as Gentoo does), suffixes by
//! rank (`alpha < beta < pre < rc < (none) < cvs < svn < git < hg < p`). When one version runs
//! out first, the longer one is newer unless its next token is a pre-release suffix.
//!
//! Like apk, an invalid tail is not an error for comparison: the walk stops at the first
//! invalid token and the token kinds decide (this is what makes `1.0 < 1.0bc` hold).
//! The rejected alternative, refusing such versions, would make real Alpine advisories whose
//! versions apk itself orders unusable. [`validate`] tells whether a version is well formed.

use super::{Ecosystem, VersionError};
use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

/// Suffix ranks; `NONE` is the rank of "no suffix" used for pre/post-release decisions.
const SUFFIXES: [(&str, u8); 9] = [
    ("alpha", 1),
    ("beta", 2),
    ("pre", 3),
    ("rc", 4),
    ("cvs", 6),
    ("svn", 7),
    ("git", 8),
    ("hg", 9),
    ("p", 10),
];
const SUFFIX_NONE: u8 = 5;

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    /// The token's raw text (digits, letter, suffix name or hash).
    text: &'a [u8],
    suffix: u8,
}

struct Tokens<'a> {
    rest: &'a [u8],
    cur: Token<'a>,
}

fn take_while(s: &[u8], f: impl Fn(u8) -> bool) -> (&[u8], &[u8]) {
    let n = s.iter().take_while(|&&c| f(c)).count();
    s.split_at(n)
}

impl<'a> Tokens<'a> {
    fn first(s: &'a [u8]) -> Self {
        let (digits, rest) = take_while(s, |c| c.is_ascii_digit());
        let kind = if digits.is_empty() {
            Kind::Invalid
        } else {
            Kind::InitialDigit
        };
        Tokens {
            rest,
            cur: Token {
                kind,
                text: digits,
                suffix: 0,
            },
        }
    }

    fn advance(&mut self) {
        let prev = self.cur.kind;
        let s = self.rest;
        let Some(&c) = s.first() else {
            self.cur.kind = Kind::End;
            return;
        };
        let invalid = Token {
            kind: Kind::Invalid,
            text: &[],
            suffix: 0,
        };
        self.cur = match c {
            b'a'..=b'z' if prev <= Kind::Digit => {
                self.rest = &s[1..];
                Token {
                    kind: Kind::Letter,
                    text: &s[..1],
                    suffix: 0,
                }
            }
            b'.' | b'0'..=b'9' => {
                let body = if c == b'.' {
                    if prev > Kind::Digit {
                        self.cur = invalid;
                        return;
                    }
                    &s[1..]
                } else {
                    s
                };
                let kind = match prev {
                    Kind::InitialDigit | Kind::Digit => Kind::Digit,
                    Kind::Suffix => Kind::SuffixNo,
                    _ => {
                        self.cur = invalid;
                        return;
                    }
                };
                let (digits, rest) = take_while(body, |c| c.is_ascii_digit());
                self.rest = rest;
                if digits.is_empty() {
                    invalid
                } else {
                    Token {
                        kind,
                        text: digits,
                        suffix: 0,
                    }
                }
            }
            b'_' if prev <= Kind::SuffixNo => {
                let (name, rest) = take_while(&s[1..], |c| c.is_ascii_lowercase());
                self.rest = rest;
                match SUFFIXES.iter().find(|(n, _)| n.as_bytes() == name) {
                    Some(&(_, rank)) => Token {
                        kind: Kind::Suffix,
                        text: name,
                        suffix: rank,
                    },
                    None => invalid,
                }
            }
            b'~' if prev < Kind::CommitHash => {
                let (hash, rest) = take_while(&s[1..], |c| c.is_ascii_hexdigit());
                self.rest = rest;
                if hash.is_empty() {
                    invalid
                } else {
                    Token {
                        kind: Kind::CommitHash,
                        text: hash,
                        suffix: 0,
                    }
                }
            }
            b'-' if prev < Kind::RevisionNo && s.get(1) == Some(&b'r') => {
                let (digits, rest) = take_while(&s[2..], |c| c.is_ascii_digit());
                self.rest = rest;
                if digits.is_empty() {
                    invalid
                } else {
                    Token {
                        kind: Kind::RevisionNo,
                        text: digits,
                        suffix: 0,
                    }
                }
            }
            _ => invalid,
        };
    }
}

fn cmp_number(a: &[u8], b: &[u8]) -> Ordering {
    super::dpkg::cmp_digits(a, b)
}

fn cmp_token(a: &Token<'_>, b: &Token<'_>) -> Ordering {
    match a.kind {
        Kind::Digit if a.text.first() == Some(&b'0') || b.text.first() == Some(&b'0') => {
            a.text.cmp(b.text)
        }
        Kind::Digit | Kind::InitialDigit | Kind::SuffixNo | Kind::RevisionNo => {
            cmp_number(a.text, b.text)
        }
        Kind::Letter => a.text.cmp(b.text),
        Kind::Suffix => a.suffix.cmp(&b.suffix),
        _ => a.text.cmp(b.text),
    }
}

/// Compare two apk versions. `fuzzy` makes a version equal to any version it is a prefix of
/// in token terms (apk's `~` operator: `3.6.9 ~ 3.6`).
pub fn compare_fuzzy(a: &str, b: &str, fuzzy: bool) -> Ordering {
    let mut ta = Tokens::first(a.as_bytes());
    let mut tb = Tokens::first(b.as_bytes());
    while ta.cur.kind == tb.cur.kind && ta.cur.kind < Kind::End {
        let o = cmp_token(&ta.cur, &tb.cur);
        if o != Ordering::Equal {
            return o;
        }
        ta.advance();
        tb.advance();
    }
    let (ak, bk) = (ta.cur.kind, tb.cur.kind);
    if ak == bk || (bk == Kind::End && fuzzy) {
        return Ordering::Equal;
    }
    if ak == Kind::Suffix && ta.cur.suffix < SUFFIX_NONE {
        return Ordering::Less;
    }
    if bk == Kind::Suffix && tb.cur.suffix < SUFFIX_NONE {
        return Ordering::Greater;
    }
    // A version that still has tokens is newer; a lower token kind means "more to come".
    bk.cmp(&ak)
}

/// Whether `v` is a well-formed apk version.
pub fn validate(v: &str) -> Result<(), VersionError> {
    let mut t = Tokens::first(v.as_bytes());
    while t.cur.kind < Kind::End {
        t.advance();
    }
    if t.cur.kind == Kind::End {
        Ok(())
    } else {
        let pos = v.len() - t.rest.len();
        Err(VersionError::new(
            Ecosystem::Alpine,
            v,
            &format!("not an apk version (bad token near byte {pos})"),
        ))
    }
}

/// Compare two apk versions. Never fails for non-empty input: like apk, comparison stops at
/// the first invalid token (see the module docs).
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    for v in [a, b] {
        if v.is_empty() {
            return Err(VersionError::new(Ecosystem::Alpine, v, "empty version"));
        }
    }
    Ok(compare_fuzzy(a, b, false))
}
