//! OSV schema 1.x documents: typed parsing and validation of one advisory.
//!
//! Parsing is strict about types (a `versions` that is not a list of strings is an error
//! naming line and column, via serde_json) and about the parts matching depends on (every
//! range event has exactly one of `introduced`/`fixed`/`last_affected`/`limit`), and lenient
//! about everything else: unknown fields are ignored, as the schema allows extensions, and
//! `null` is read as absent. The rejected alternative, walking an untyped `serde_json::Value`,
//! would turn wrong types into silent omissions instead of per-file errors.

use serde::{Deserialize, Deserializer};

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One OSV advisory as published.
#[derive(Debug, Clone, Deserialize)]
pub struct Advisory {
    #[serde(default)]
    pub schema_version: Option<String>,
    pub id: String,
    #[serde(default)]
    pub modified: Option<String>,
    #[serde(default)]
    pub published: Option<String>,
    #[serde(default)]
    pub withdrawn: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub severity: Vec<SeverityEntry>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub affected: Vec<Affected>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

/// `severity[]`: a scoring system and its vector.
#[derive(Debug, Clone, Deserialize)]
pub struct SeverityEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

/// `affected[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Affected {
    #[serde(default)]
    pub package: Option<Package>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub severity: Vec<SeverityEntry>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub ranges: Vec<Range>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub versions: Vec<String>,
    #[serde(default)]
    pub ecosystem_specific: Option<serde_json::Value>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

/// `affected[].package`.
#[derive(Debug, Clone, Deserialize)]
pub struct Package {
    pub ecosystem: String,
    pub name: String,
    #[serde(default)]
    pub purl: Option<String>,
}

/// `affected[].ranges[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub repo: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub events: Vec<RawEvent>,
}

/// A range event as written: exactly one field must be set.
#[derive(Debug, Clone, Deserialize)]
pub struct RawEvent {
    #[serde(default)]
    pub introduced: Option<String>,
    #[serde(default)]
    pub fixed: Option<String>,
    #[serde(default)]
    pub last_affected: Option<String>,
    #[serde(default)]
    pub limit: Option<String>,
}

/// A validated range event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

impl Event {
    /// The version the event names.
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }
}

impl RawEvent {
    /// Check that exactly one field is set.
    pub fn validate(&self) -> Result<Event, String> {
        let set: Vec<Event> = [
            self.introduced.clone().map(Event::Introduced),
            self.fixed.clone().map(Event::Fixed),
            self.last_affected.clone().map(Event::LastAffected),
            self.limit.clone().map(Event::Limit),
        ]
        .into_iter()
        .flatten()
        .collect();
        match <[Event; 1]>::try_from(set) {
            Ok([e]) => Ok(e),
            Err(v) if v.is_empty() => {
                Err("event has none of introduced/fixed/last_affected/limit".into())
            }
            Err(_) => {
                Err("event sets more than one of introduced/fixed/last_affected/limit".into())
            }
        }
    }
}

/// Parse one OSV JSON document. The error names line and column.
pub fn parse(bytes: &[u8]) -> Result<Advisory, String> {
    let adv: Advisory = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if adv.id.trim().is_empty() {
        return Err("empty \"id\"".into());
    }
    Ok(adv)
}

/// A string field of a JSON object, if it is a string.
pub(crate) fn str_field<'a>(v: Option<&'a serde_json::Value>, key: &str) -> Option<&'a str> {
    v?.get(key)?.as_str()
}
