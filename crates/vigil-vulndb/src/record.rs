//! The stored form of an advisory and OSV range evaluation.
//!
//! Import turns each OSV document into a [`Record`]: only what matching and reporting need,
//! with range events validated, their versions checked against the ecosystem's ordering and
//! sorted once, and explicit `versions` lists turned into sorted match keys. Query time then
//! only compares the queried version against a few pre-sorted events and binary-searches
//! the versions list. (Rejected: storing raw OSV JSON and re-parsing it per query, which
//! costs milliseconds per advisory for PyPI's long `versions` lists.)
//!
//! Range semantics follow the OSV schema's evaluation algorithm: events sorted by version
//! with `introduced: "0"` first; walking them, `introduced <= v` sets affected, `fixed <= v`
//! clears it, `last_affected < v` clears it; `limit` events bound the range from above
//! (`*` is unbounded). A version is affected if it is in `versions` or inside any range.
//! GIT ranges name commits, not package versions, so they are ignored for package matching
//! (counted in the import report).

use crate::cvss;
use crate::names;
use crate::osv::{self, Advisory, Event};
use crate::version::{self, Ecosystem, Version};
use crate::{Severity, Status};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// One advisory, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: String,
    pub severity: Severity,
    pub cvss: Option<(String, f32)>,
    pub published: Option<String>,
    pub modified: Option<String>,
    pub affected: Vec<RecAffected>,
}

/// One `affected[]` entry, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RecAffected {
    /// Index key (`names::key`).
    pub key: String,
    /// The ecosystem as the advisory wrote it.
    pub ecosystem: String,
    /// Ordering used for ECOSYSTEM ranges and `versions` keys (`None`: unsupported).
    pub family: Option<Ecosystem>,
    /// Package-level severity overriding the advisory's.
    pub severity: Option<Severity>,
    pub cvss: Option<(String, f32)>,
    pub will_not_fix: bool,
    pub ranges: Vec<RecRange>,
    /// Sorted, deduplicated match keys of `versions[]`.
    pub versions: Vec<String>,
}

/// A SEMVER or ECOSYSTEM range with events sorted by version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RecRange {
    /// Ordering of this range's versions (SemVer/Go for SEMVER ranges).
    pub family: Ecosystem,
    pub events: Vec<Event>,
}

/// Counters and messages from converting one advisory.
#[derive(Debug, Default)]
pub(crate) struct Conversion {
    pub warnings: Vec<String>,
    pub git_ranges: u64,
    /// Ecosystems whose ECOSYSTEM ranges could not be evaluated (no ordering).
    pub unordered: Vec<String>,
}

fn severity_word(s: &str) -> Option<Severity> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "critical" => Severity::Critical,
        "high" | "important" => Severity::High,
        "moderate" | "medium" => Severity::Medium,
        "low" | "negligible" | "unimportant" => Severity::Low,
        _ => return None,
    })
}

/// The first scorable CVSS v3 vector of a `severity[]` list.
fn cvss_of(
    entries: &[osv::SeverityEntry],
    warnings: &mut Vec<String>,
    at: &str,
) -> Option<(String, f32)> {
    for e in entries {
        if e.kind == "CVSS_V3" {
            match cvss::score(&e.score) {
                Ok(s) => return Some((e.score.clone(), s as f32)),
                Err(err) => warnings.push(format!("{at}: {err}")),
            }
        }
    }
    None
}

fn says_will_not_fix(v: Option<&serde_json::Value>) -> bool {
    let Some(obj) = v.and_then(|v| v.as_object()) else {
        return false;
    };
    obj.values().filter_map(|v| v.as_str()).any(|s| {
        let s = s.to_ascii_lowercase().replace(['_', '-', '\''], " ");
        s.contains("will not fix") || s.contains("wont fix") || s.contains("won t fix")
    })
}

/// Placeholder versions that order below / above everything.
fn is_zero(v: &str) -> bool {
    v == "0"
}

/// Event order: by version, `introduced: "0"` first and `limit: "*"` last. Events with equal
/// versions keep their order in the file (the sort is stable), as the OSV reference
/// evaluation does: `fixed: 3.1.1` followed by `introduced: 3.1.1` re-opens the range at
/// 3.1.1 (PYSEC-2022-236 relies on this).
fn sort_key_cmp(family: Ecosystem, a: &Event, b: &Event) -> Ordering {
    let (va, vb) = (a.version(), b.version());
    let zero = |e: &Event, v: &str| matches!(e, Event::Introduced(_)) && is_zero(v);
    let star = |e: &Event, v: &str| matches!(e, Event::Limit(_)) && v == "*";
    match (zero(a, va), zero(b, vb)) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        _ => {}
    }
    match (star(a, va), star(b, vb)) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        // Both parse: checked before sorting.
        _ => version::compare(family, va, vb).unwrap_or(Ordering::Equal),
    }
}

/// Stable insertion sort. Used instead of `slice::sort_by` because a comparator may not be
/// a total order on hostile input (Maven's `ComparableVersion` itself is not transitive on
/// some degenerate strings, e.g. `malpha < .final = 0 < malpha`), and the standard sort may
/// panic on such comparators; this one never does. Event lists are short.
fn insertion_sort<T>(v: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && cmp(&v[j - 1], &v[j]) == Ordering::Greater {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
}

impl Record {
    /// Convert a parsed advisory. Problems that make part of it unusable are returned as
    /// warnings (the rest is kept); the caller reports them with the file name.
    pub fn from_advisory(adv: &Advisory) -> (Record, Conversion) {
        let mut conv = Conversion::default();
        let summary = adv
            .summary
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .or_else(|| {
                adv.details
                    .as_deref()
                    .and_then(|d| d.lines().map(str::trim).find(|l| !l.is_empty()))
            })
            .unwrap_or("")
            .chars()
            .take(300)
            .collect();
        let db_severity =
            osv::str_field(adv.database_specific.as_ref(), "severity").and_then(severity_word);
        let adv_cvss = cvss_of(&adv.severity, &mut conv.warnings, "severity");
        let severity = db_severity
            .or_else(|| adv_cvss.as_ref().map(|(_, s)| cvss::rating(f64::from(*s))))
            .unwrap_or(Severity::Unknown);

        let mut affected = Vec::new();
        for (ai, aff) in adv.affected.iter().enumerate() {
            let at = format!("affected[{ai}]");
            let Some(pkg) = &aff.package else {
                conv.warnings
                    .push(format!("{at}: no package (entry ignored)"));
                continue;
            };
            if pkg.ecosystem.trim().is_empty() || pkg.name.trim().is_empty() {
                conv.warnings.push(format!(
                    "{at}: empty package ecosystem or name (entry ignored)"
                ));
                continue;
            }
            let family = Ecosystem::from_osv(&pkg.ecosystem);
            let pkg_severity = osv::str_field(aff.ecosystem_specific.as_ref(), "severity")
                .or_else(|| osv::str_field(aff.database_specific.as_ref(), "severity"))
                .and_then(severity_word);
            let pkg_cvss = cvss_of(&aff.severity, &mut conv.warnings, &format!("{at}.severity"));
            let will_not_fix = says_will_not_fix(aff.ecosystem_specific.as_ref())
                || says_will_not_fix(aff.database_specific.as_ref());
            let mut ranges = Vec::new();
            for (ri, r) in aff.ranges.iter().enumerate() {
                let at = format!("{at}.ranges[{ri}]");
                let rfamily = match r.kind.as_str() {
                    "GIT" => {
                        conv.git_ranges += 1;
                        continue;
                    }
                    "SEMVER" => {
                        if family == Some(Ecosystem::Go) {
                            Ecosystem::Go
                        } else {
                            Ecosystem::SemVer
                        }
                    }
                    "ECOSYSTEM" => match family {
                        Some(f) => f,
                        None => {
                            if !conv.unordered.contains(&pkg.ecosystem) {
                                conv.unordered.push(pkg.ecosystem.clone());
                            }
                            continue;
                        }
                    },
                    other => {
                        conv.warnings.push(format!(
                            "{at}: unknown range type {other:?} (range ignored)"
                        ));
                        continue;
                    }
                };
                let mut events = Vec::with_capacity(r.events.len());
                let mut bad = None;
                for (ei, e) in r.events.iter().enumerate() {
                    match e.validate() {
                        Ok(ev) => {
                            let v = ev.version();
                            let special = (is_zero(v) && matches!(ev, Event::Introduced(_)))
                                || (v == "*" && matches!(ev, Event::Limit(_)));
                            if !special {
                                if let Err(err) = version::validate(rfamily, v) {
                                    bad = Some(format!("{at}.events[{ei}]: {err}"));
                                    break;
                                }
                            }
                            events.push(ev);
                        }
                        Err(err) => {
                            bad = Some(format!("{at}.events[{ei}]: {err}"));
                            break;
                        }
                    }
                }
                if let Some(b) = bad {
                    conv.warnings.push(format!("{b} (range ignored)"));
                    continue;
                }
                if !events.iter().any(|e| matches!(e, Event::Introduced(_))) {
                    conv.warnings.push(format!(
                        "{at}: no \"introduced\" event (range can never match)"
                    ));
                }
                insertion_sort(&mut events, |a, b| sort_key_cmp(rfamily, a, b));
                ranges.push(RecRange {
                    family: rfamily,
                    events,
                });
            }
            let mut versions: Vec<String> = aff
                .versions
                .iter()
                .map(|v| version::match_key(family, v))
                .collect();
            versions.sort_unstable();
            versions.dedup();
            affected.push(RecAffected {
                key: names::key(&pkg.ecosystem, &pkg.name),
                ecosystem: pkg.ecosystem.clone(),
                family,
                severity: pkg_severity,
                cvss: pkg_cvss,
                will_not_fix,
                ranges,
                versions,
            });
        }
        let record = Record {
            id: adv.id.clone(),
            aliases: adv.aliases.clone(),
            summary,
            severity,
            cvss: adv_cvss,
            published: adv.published.clone(),
            modified: adv.modified.clone(),
            affected,
        };
        (record, conv)
    }
}

/// A record ready for matching: range event versions parsed once, when the record is
/// first queried.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub rec: Record,
    /// `ranges[i][j]` is `rec.affected[i].ranges[j]`.
    ranges: Vec<Vec<CompiledRange>>,
}

/// An event bound: the special `introduced: "0"` and `limit: "*"`, or a parsed version.
#[derive(Debug)]
enum Bound {
    Zero,
    Star,
    V(Version),
    /// Did not parse (only possible with a damaged database: versions are checked at
    /// import); a range holding one never matches.
    Bad,
}

#[derive(Debug)]
struct CompiledRange {
    family: Ecosystem,
    events: Vec<(Event, Bound)>,
}

impl Compiled {
    pub fn new(rec: Record) -> Compiled {
        let ranges = rec
            .affected
            .iter()
            .map(|a| {
                a.ranges
                    .iter()
                    .map(|r| CompiledRange {
                        family: r.family,
                        events: r
                            .events
                            .iter()
                            .map(|e| {
                                let v = e.version();
                                let b = match e {
                                    Event::Introduced(_) if is_zero(v) => Bound::Zero,
                                    Event::Limit(_) if v == "*" => Bound::Star,
                                    _ => Version::parse(r.family, v).map_or(Bound::Bad, Bound::V),
                                };
                                (e.clone(), b)
                            })
                            .collect(),
                    })
                    .collect()
            })
            .collect();
        Compiled { rec, ranges }
    }

    /// Whether affected entry `i` matches: `Some(fixed version)` if the version is affected.
    pub fn matches(&self, i: usize, q: &mut QueryVersion<'_>) -> Option<Option<String>> {
        let a = self.rec.affected.get(i)?;
        let mut hit: Option<Option<String>> = None;
        if !a.versions.is_empty() {
            let k = q.key(a.family);
            if a.versions.binary_search_by(|x| x.as_str().cmp(k)).is_ok() {
                hit = Some(None);
            }
        }
        for r in self.ranges.get(i).into_iter().flatten() {
            let Some(p) = q.get(r.family) else {
                continue;
            };
            if let Some(fixed) = r.evaluate(p) {
                match &mut hit {
                    Some(Some(_)) => {}
                    Some(f) => *f = fixed,
                    None => hit = Some(fixed),
                }
            }
        }
        hit
    }
}

/// A queried version parsed once per ordering family.
pub(crate) struct QueryVersion<'a> {
    raw: &'a str,
    parsed: Vec<(Ecosystem, Result<Version, version::VersionError>)>,
    keys: Vec<(Option<Ecosystem>, String)>,
}

impl<'a> QueryVersion<'a> {
    pub fn new(raw: &'a str) -> Self {
        QueryVersion {
            raw,
            parsed: Vec::new(),
            keys: Vec::new(),
        }
    }

    /// The `versions[]` match key of the query for `family`, computed once.
    pub fn key(&mut self, family: Option<Ecosystem>) -> &str {
        let i = match self.keys.iter().position(|(f, _)| *f == family) {
            Some(i) => i,
            None => {
                self.keys
                    .push((family, version::match_key(family, self.raw)));
                self.keys.len() - 1
            }
        };
        &self.keys[i].1
    }

    /// The parsed query for `family` (`None` if it does not parse there).
    pub fn get(&mut self, family: Ecosystem) -> Option<&Version> {
        if let Some(i) = self.parsed.iter().position(|(f, _)| *f == family) {
            return self.parsed[i].1.as_ref().ok();
        }
        self.parsed.push((family, Version::parse(family, self.raw)));
        self.parsed.last().and_then(|(_, p)| p.as_ref().ok())
    }

    /// Orderings in which the version did not parse.
    pub fn errors(&self) -> Vec<version::VersionError> {
        self.parsed
            .iter()
            .filter_map(|(_, p)| p.as_ref().err().cloned())
            .collect()
    }
}

impl CompiledRange {
    /// The OSV evaluation algorithm; `Some(fix)` when `q` is affected, where `fix` is the
    /// first `fixed` event above `q` (events are sorted), if any.
    fn evaluate(&self, q: &Version) -> Option<Option<String>> {
        // Ordering of q relative to a bound; None for a bad bound (never matches).
        let cmp = |b: &Bound| -> Option<Ordering> {
            match b {
                Bound::Zero => Some(Ordering::Greater),
                Bound::Star => Some(Ordering::Less),
                Bound::V(v) => q.cmp_to(v),
                Bound::Bad => None,
            }
        };
        let mut affected = false;
        let mut limited = false;
        let mut below_limit = false;
        for (e, b) in &self.events {
            let o = cmp(b)?;
            match e {
                Event::Introduced(_) => {
                    if o != Ordering::Less {
                        affected = true;
                    }
                }
                Event::Fixed(_) => {
                    if o != Ordering::Less {
                        affected = false;
                    }
                }
                Event::LastAffected(_) => {
                    if o == Ordering::Greater {
                        affected = false;
                    }
                }
                Event::Limit(_) => {
                    limited = true;
                    if o == Ordering::Less {
                        below_limit = true;
                    }
                }
            }
        }
        if !affected || (limited && !below_limit) {
            return None;
        }
        let fixed = self.events.iter().find_map(|(e, b)| match e {
            Event::Fixed(v) if cmp(b) == Some(Ordering::Less) => Some(v.clone()),
            _ => None,
        });
        Some(fixed)
    }
}

impl RecAffected {
    /// Status for a matched version.
    pub fn status(&self, fixed: &Option<String>) -> Status {
        if fixed.is_some() {
            Status::Fixed
        } else if self.will_not_fix {
            Status::WillNotFix
        } else {
            Status::Affected
        }
    }
}
