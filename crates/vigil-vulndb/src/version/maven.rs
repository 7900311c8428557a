//! Maven version ordering, following `ComparableVersion` as of Maven 3.9 / 4 (including
//! MNG-5568, MNG-6572, MNG-6964, MNG-7644 and MNG-7714).
//!
//! A version is split on `.`, `-` and digit/letter transitions into a tree of items:
//! numbers, qualifiers, "combinations" (a qualifier directly followed by a number, `rc1`)
//! and sub-lists (opened by `-` and by transitions). Qualifiers rank
//! `alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp`, then any
//! other qualifier, lexically; `a`, `b`, `m` directly followed by a digit mean alpha, beta,
//! milestone. Trailing "null" items (0, "", empty lists) are dropped so `1 = 1.0 = 1-0`, and
//! comparison pads the shorter list with "null".
//!
//! The tree is built once per version and compared recursively, mirroring Maven's item
//! types one to one; the rejected alternative, a flat token comparison, cannot express the
//! padding and normalization rules across nested lists (e.g. `2-x == 2.0.x == 2.0.0.x`).

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// A number: `class` is Maven's int/long/BigInteger choice by digit count (it decides
    /// comparisons between numbers of different classes), `digits` has no leading zeros.
    Int {
        class: u8,
        digits: String,
    },
    /// A qualifier after alias mapping (`cr` becomes `rc`, `a1` becomes `alpha`...).
    Str(String),
    /// A qualifier immediately followed by a number: `rc1`.
    Comb(String, Box<Item>),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const RELEASE_KEY: &str = "5";

fn qualifier_key(q: &str) -> String {
    if matches!(q, "ga" | "final" | "release") {
        return RELEASE_KEY.to_string();
    }
    match QUALIFIERS.iter().position(|x| *x == q) {
        Some(i) => i.to_string(),
        None => format!("7-{q}"),
    }
}

fn string_item(s: &str, followed_by_digit: bool) -> Item {
    let s = if followed_by_digit && s.len() == 1 {
        match s {
            "a" => "alpha",
            "b" => "beta",
            "m" => "milestone",
            other => other,
        }
    } else {
        s
    };
    Item::Str(if s == "cr" { "rc".into() } else { s.into() })
}

fn int_item(s: &str) -> Item {
    // Maven strips leading zeros but keeps an all-zero string whole.
    let stripped = s.trim_start_matches('0');
    let kept = if stripped.is_empty() { s } else { stripped };
    let class = match kept.len() {
        0..=9 => 0,
        10..=18 => 1,
        _ => 2,
    };
    Item::Int {
        class,
        digits: stripped.to_string(),
    }
}

fn comb_item(v: &str) -> Item {
    let v: String = v.chars().filter(|&c| c != '-').collect();
    let idx = v.find(|c: char| c.is_ascii_digit()).unwrap_or(0);
    let (s, d) = v.split_at(idx);
    match string_item(s, true) {
        Item::Str(q) => Item::Comb(q, Box::new(int_item(d))),
        other => other,
    }
}

fn parse_item(comb: bool, digit: bool, s: &str) -> Item {
    if comb {
        comb_item(s)
    } else if digit {
        int_item(s)
    } else {
        string_item(s, false)
    }
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Int { digits, .. } => digits.is_empty(),
            Item::Str(s) => s.is_empty(),
            Item::Comb(..) => false,
            Item::List(l) => l.is_empty(),
        }
    }
}

/// Maven's `ListItem.normalize`: a null item is dropped when it is last, when a qualifier
/// follows it, or when a sub-list starting with a qualifier follows it.
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if !list[i].is_null() {
            continue;
        }
        let drop = match list.get(i + 1) {
            None => true,
            Some(Item::Str(_)) => true,
            Some(Item::List(l)) => matches!(l.first(), Some(Item::Comb(..) | Item::Str(_))),
            Some(_) => false,
        };
        if drop {
            list.remove(i);
        }
    }
}

/// A parsed Maven version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MavenVersion {
    items: Vec<Item>,
}

impl MavenVersion {
    /// Parse any string: like `ComparableVersion`, every string is a version.
    ///
    /// The parser only appends to the innermost open list (a list opened by `-` or by a
    /// transition is never closed before the end), so open lists form a stack that is folded
    /// into the tree at the end, innermost first, normalizing each as Maven does.
    pub fn parse(v: &str) -> MavenVersion {
        let version = v.to_lowercase();
        let chars: Vec<(usize, char)> = version.char_indices().collect();
        let end = version.len();
        let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
        let (mut is_digit, mut is_comb) = (false, false);
        let mut start = 0usize;
        fn top(stack: &mut [Vec<Item>]) -> &mut Vec<Item> {
            let n = stack.len() - 1;
            &mut stack[n]
        }
        for (k, &(i, c)) in chars.iter().enumerate() {
            if c == '.' {
                let item = if i == start {
                    int_item("0")
                } else {
                    parse_item(is_comb, is_digit, &version[start..i])
                };
                top(&mut stack).push(item);
                is_comb = false;
                start = i + 1;
            } else if c == '-' {
                if i == start {
                    top(&mut stack).push(int_item("0"));
                } else {
                    // `X-1` is read as `X1`.
                    if !is_digit {
                        if let Some(&(_, next)) = chars.get(k + 1) {
                            if next.is_ascii_digit() {
                                is_comb = true;
                                continue;
                            }
                        }
                    }
                    top(&mut stack).push(parse_item(is_comb, is_digit, &version[start..i]));
                }
                start = i + 1;
                if !top(&mut stack).is_empty() {
                    stack.push(Vec::new());
                }
                is_comb = false;
            } else if c.is_ascii_digit() {
                if !is_digit && i > start {
                    is_comb = true;
                    if !top(&mut stack).is_empty() {
                        stack.push(Vec::new());
                    }
                }
                is_digit = true;
            } else {
                if is_digit && i > start {
                    top(&mut stack).push(parse_item(is_comb, true, &version[start..i]));
                    start = i;
                    stack.push(Vec::new());
                    is_comb = false;
                }
                is_digit = false;
            }
        }
        if end > start {
            // `1.0.0.X1 < 1.0.0-X2`: a trailing qualifier opens a sub-list.
            if !is_digit && !top(&mut stack).is_empty() {
                stack.push(Vec::new());
            }
            top(&mut stack).push(parse_item(is_comb, is_digit, &version[start..]));
        }
        let mut child: Option<Vec<Item>> = None;
        while let Some(mut list) = stack.pop() {
            if let Some(c) = child.take() {
                list.push(Item::List(c));
            }
            normalize(&mut list);
            child = Some(list);
        }
        MavenVersion {
            items: child.unwrap_or_default(),
        }
    }
}

fn cmp_str(a: &str, b: Option<&Item>) -> Ordering {
    match b {
        None => qualifier_key(a).as_str().cmp(RELEASE_KEY),
        Some(Item::Int { .. }) | Some(Item::List(_)) => Ordering::Less,
        Some(Item::Str(b)) => qualifier_key(a).cmp(&qualifier_key(b)),
        Some(Item::Comb(bs, _)) => match cmp_str(a, Some(&Item::Str(bs.clone()))) {
            Ordering::Equal => Ordering::Less,
            o => o,
        },
    }
}

/// `a.compareTo(b)` with `None` standing for Java's `null` (padding).
fn cmp_item(a: &Item, b: Option<&Item>) -> Ordering {
    match a {
        Item::Int { class, digits } => match b {
            None => {
                if digits.is_empty() {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            Some(Item::Int {
                class: bc,
                digits: bd,
            }) => class
                .cmp(bc)
                .then_with(|| super::dpkg::cmp_digits(digits.as_bytes(), bd.as_bytes())),
            Some(_) => Ordering::Greater,
        },
        Item::Str(s) => cmp_str(s, b),
        Item::Comb(s, d) => match b {
            None => cmp_str(s, None),
            Some(Item::Int { .. }) | Some(Item::List(_)) => Ordering::Less,
            Some(b @ Item::Str(_)) => match cmp_str(s, Some(b)) {
                Ordering::Equal => Ordering::Greater,
                o => o,
            },
            Some(Item::Comb(bs, bd)) => match cmp_str(s, Some(&Item::Str(bs.clone()))) {
                Ordering::Equal => cmp_item(d, Some(bd)),
                o => o,
            },
        },
        Item::List(l) => match b {
            None => l
                .iter()
                .map(|i| cmp_item(i, None))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal),
            Some(Item::Int { .. }) => Ordering::Less,
            Some(Item::Str(_)) | Some(Item::Comb(..)) => Ordering::Greater,
            Some(Item::List(r)) => cmp_lists(l, r),
        },
    }
}

fn cmp_lists(x: &[Item], y: &[Item]) -> Ordering {
    for i in 0..x.len().max(y.len()) {
        let o = match (x.get(i), y.get(i)) {
            (Some(l), r) => cmp_item(l, r),
            (None, Some(r)) => cmp_item(r, None).reverse(),
            (None, None) => Ordering::Equal,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

impl Ord for MavenVersion {
    fn cmp(&self, o: &Self) -> Ordering {
        cmp_lists(&self.items, &o.items)
    }
}
impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Compare two Maven versions (never fails: every string is a Maven version).
pub fn compare(a: &str, b: &str) -> Ordering {
    MavenVersion::parse(a).cmp(&MavenVersion::parse(b))
}
