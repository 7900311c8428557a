//! Alerts: what a rule produces when it matches, and their Falco-compatible JSON form.
//!
//! The JSON layout is Falco's (`json_output: true`): keys `hostname, output, output_fields,
//! priority, rule, source, tags, time` in that (sorted) order, `time` as RFC 3339 with
//! nanoseconds in UTC, `output_fields` sorted by field name with `null` for values that were
//! not available. Tools that parse Falco's alerts (Falcosidekick, SIEM pipelines) read ours
//! unchanged.

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Rule priority, most severe first (Falco's syslog-like scale).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    Emergency = 0,
    Alert = 1,
    Critical = 2,
    Error = 3,
    Warning = 4,
    Notice = 5,
    Informational = 6,
    Debug = 7,
}

impl Priority {
    /// All priorities from most to least severe.
    pub const ALL: [Priority; 8] = [
        Priority::Emergency,
        Priority::Alert,
        Priority::Critical,
        Priority::Error,
        Priority::Warning,
        Priority::Notice,
        Priority::Informational,
        Priority::Debug,
    ];

    /// The spelling Falco uses in JSON and text output.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }

    /// True if `self` is at least as severe as `min`.
    pub fn at_least(self, min: Priority) -> bool {
        self <= min
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for an unknown priority name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPriority(pub String);

impl fmt::Display for UnknownPriority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown priority '{}' (expected one of emergency, alert, critical, error, warning, notice, informational, debug)",
            self.0
        )
    }
}

impl std::error::Error for UnknownPriority {}

impl FromStr for Priority {
    type Err = UnknownPriority;

    /// Case-insensitive, accepting Falco's aliases (`info`, `warn`, `crit`, `err`, `emerg`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "emergency" | "emerg" => Priority::Emergency,
            "alert" => Priority::Alert,
            "critical" | "crit" => Priority::Critical,
            "error" | "err" => Priority::Error,
            "warning" | "warn" => Priority::Warning,
            "notice" => Priority::Notice,
            "informational" | "info" => Priority::Informational,
            "debug" => Priority::Debug,
            _ => return Err(UnknownPriority(s.to_string())),
        })
    }
}

impl Serialize for Priority {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Priority {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The value of one output field in an alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// The field had no value for this event (`<NA>` in text, `null` in JSON).
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    Str(String),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Null => f.write_str("<NA>"),
            FieldValue::Bool(b) => write!(f, "{b}"),
            FieldValue::U64(v) => write!(f, "{v}"),
            FieldValue::I64(v) => write!(f, "{v}"),
            FieldValue::Str(s) => f.write_str(s),
        }
    }
}

/// One alert: a rule matched an event.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Alert {
    /// Event time, ns since the Unix epoch.
    #[serde(deserialize_with = "de_time")]
    pub time: u64,
    pub rule: String,
    pub priority: Priority,
    /// Event source (`syscall`, or `internal` for vigil's own notifications).
    pub source: String,
    pub hostname: String,
    /// The rendered output line (without the time/priority prefix).
    pub output: String,
    pub tags: Vec<String>,
    /// Every field referenced by the rule's output, by Falco field name.
    pub output_fields: BTreeMap<String, FieldValue>,
}

impl Alert {
    /// Falco-compatible JSON on one line (no trailing newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("alert serialization cannot fail")
    }

    /// Appends the JSON form to `buf` (reusing the caller's buffer).
    pub fn write_json(&self, buf: &mut Vec<u8>) {
        serde_json::to_writer(buf, self).expect("alert serialization cannot fail");
    }

    /// Falco's text form: `HH:MM:SS.nnnnnnnnn: Priority output`.
    pub fn to_text(&self) -> String {
        format!(
            "{}: {} {}",
            format_time_of_day(self.time),
            self.priority,
            self.output
        )
    }

    /// The time as RFC 3339 UTC with nanoseconds, as in Falco JSON.
    pub fn time_rfc3339(&self) -> String {
        format_rfc3339(self.time)
    }
}

impl Serialize for Alert {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(8))?;
        m.serialize_entry("hostname", &self.hostname)?;
        m.serialize_entry("output", &self.output)?;
        m.serialize_entry("output_fields", &self.output_fields)?;
        m.serialize_entry("priority", &self.priority)?;
        m.serialize_entry("rule", &self.rule)?;
        m.serialize_entry("source", &self.source)?;
        m.serialize_entry("tags", &self.tags)?;
        m.serialize_entry("time", &format_rfc3339(self.time))?;
        m.end()
    }
}

fn de_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let s = String::deserialize(d)?;
    parse_rfc3339(&s).ok_or_else(|| serde::de::Error::custom(format!("invalid time '{s}'")))
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's method).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats ns since the epoch as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
pub fn format_rfc3339(ns: u64) -> String {
    let secs = (ns / 1_000_000_000) as i64;
    let nanos = ns % 1_000_000_000;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Formats the UTC time of day as `HH:MM:SS.nnnnnnnnn` (Falco's text prefix).
pub fn format_time_of_day(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let sod = secs % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:09}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60,
        ns % 1_000_000_000
    )
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac]Z` back to ns since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !s.ends_with('Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let (y, mo, d) = (num(0..4)? as i64, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut nanos = 0u64;
    let rest = &s[19..s.len() - 1];
    if let Some(frac) = rest.strip_prefix('.') {
        if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        nanos = frac.parse::<u64>().ok()? * 10u64.pow(9 - frac.len() as u32);
    } else if !rest.is_empty() {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + (h as i64) * 3600 + (mi as i64) * 60 + se as i64;
    u64::try_from(secs)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_round_trip() {
        let ns = 1_700_000_000_123_456_789;
        let s = format_rfc3339(ns);
        assert_eq!(s, "2023-11-14T22:13:20.123456789Z");
        assert_eq!(parse_rfc3339(&s), Some(ns));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2024-02-29T12:00:00.5Z"),
            Some(1_709_208_000_500_000_000)
        );
        assert_eq!(parse_rfc3339("garbage"), None);
    }

    #[test]
    fn priority_parse() {
        assert_eq!("WARNING".parse::<Priority>().unwrap(), Priority::Warning);
        assert_eq!("info".parse::<Priority>().unwrap(), Priority::Informational);
        assert!("loud".parse::<Priority>().is_err());
        assert!(Priority::Critical.at_least(Priority::Warning));
        assert!(!Priority::Notice.at_least(Priority::Warning));
    }

    #[test]
    fn alert_json_is_falco_shaped() {
        let mut f = BTreeMap::new();
        f.insert("proc.name".to_string(), FieldValue::Str("bash".into()));
        f.insert("container.id".to_string(), FieldValue::Null);
        let a = Alert {
            time: 1_700_000_000_000_000_000,
            rule: "R".into(),
            priority: Priority::Warning,
            source: "syscall".into(),
            hostname: "h".into(),
            output: "o".into(),
            tags: vec!["t".into()],
            output_fields: f,
        };
        let j = a.to_json();
        assert_eq!(
            j,
            r#"{"hostname":"h","output":"o","output_fields":{"container.id":null,"proc.name":"bash"},"priority":"Warning","rule":"R","source":"syscall","tags":["t"],"time":"2023-11-14T22:13:20.000000000Z"}"#
        );
        let back: Alert = serde_json::from_str(&j).unwrap();
        assert_eq!(back, a);
    }
}
