//! A small JSON/YAML document tree that keeps the order of mapping keys.
//!
//! Fixture records are read from JSON Lines and from YAML test cases; both are deserialized
//! into [`Tree`] and then interpreted by one function, so the two formats accept exactly the
//! same records. `serde_json::Value` was rejected because, without the crate-wide
//! `preserve_order` feature, it sorts keys, and parameter order matters (`evt.arg[0]`).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Deepest nesting a tree may have (records are shallow; this bounds recursion).
pub const MAX_DEPTH: usize = 32;

/// A parsed document node.
#[derive(Clone, Debug, PartialEq)]
pub enum Tree {
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(String),
    Seq(Vec<Tree>),
    /// Keys in document order.
    Map(Vec<(String, Tree)>),
}

impl Tree {
    /// A short description of the node's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Tree::Null => "null",
            Tree::Bool(_) => "a boolean",
            Tree::I64(_) | Tree::U64(_) => "an integer",
            Tree::F64(_) => "a float",
            Tree::Str(_) => "a string",
            Tree::Seq(_) => "a list",
            Tree::Map(_) => "a mapping",
        }
    }

    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Tree> {
        match self {
            Tree::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Converts to a `serde_json::Value` (mappings become JSON objects).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Tree::Null => J::Null,
            Tree::Bool(b) => J::Bool(*b),
            Tree::I64(v) => J::from(*v),
            Tree::U64(v) => J::from(*v),
            Tree::F64(v) => serde_json::Number::from_f64(*v).map_or(J::Null, J::Number),
            Tree::Str(s) => J::String(s.clone()),
            Tree::Seq(s) => J::Array(s.iter().map(Tree::to_json).collect()),
            Tree::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// Nesting depth (a scalar is 0).
    pub fn depth(&self) -> usize {
        match self {
            Tree::Seq(s) => 1 + s.iter().map(Tree::depth).max().unwrap_or(0),
            Tree::Map(m) => 1 + m.iter().map(|(_, v)| v.depth()).max().unwrap_or(0),
            _ => 0,
        }
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON or YAML value")
    }

    fn visit_unit<E>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }
    fn visit_none<E>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
        Tree::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Tree, E> {
        Ok(Tree::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Tree, E> {
        Ok(if v >= 0 {
            Tree::U64(v as u64)
        } else {
            Tree::I64(v)
        })
    }
    fn visit_u64<E>(self, v: u64) -> Result<Tree, E> {
        Ok(Tree::U64(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Tree, E> {
        Ok(Tree::F64(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Tree, E> {
        Ok(Tree::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Tree, E> {
        Ok(Tree::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Tree, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = a.next_element::<Tree>()? {
            v.push(x);
        }
        Ok(Tree::Seq(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Tree, A::Error> {
        let mut v: Vec<(String, Tree)> = Vec::new();
        while let Some(k) = a.next_key::<Tree>()? {
            let key = match k {
                Tree::Str(s) => s,
                Tree::U64(n) => n.to_string(),
                Tree::I64(n) => n.to_string(),
                Tree::Bool(b) => b.to_string(),
                other => {
                    return Err(de::Error::custom(format!(
                        "mapping keys must be strings, found {}",
                        other.kind()
                    )))
                }
            };
            let val = a.next_value::<Tree>()?;
            if v.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom(format!("duplicate key '{key}'")));
            }
            v.push((key, val));
        }
        Ok(Tree::Map(v))
    }
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Tree, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_order() {
        let t: Tree = serde_json::from_str(r#"{"z":1,"a":[true,null,"x"],"m":-2}"#).unwrap();
        let Tree::Map(m) = &t else { panic!() };
        let keys: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["z", "a", "m"]);
        assert_eq!(t.get("m"), Some(&Tree::I64(-2)));
        let y: Tree = serde_yaml::from_str("b: 1\na: {c: x}\n").unwrap();
        let Tree::Map(m) = &y else { panic!() };
        assert_eq!(m[0].0, "b");
        assert_eq!(y.depth(), 2);
        assert!(serde_json::from_str::<Tree>(r#"{"a":1,"a":2}"#).is_err());
    }
}
