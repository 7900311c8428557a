//! CVSS v3.0/v3.1 base score from a vector string, per the CVSS v3.1 specification
//! (section 7.1 equations, Appendix A roundup).
//!
//! OSV carries CVSS as vectors only; severity needs the score. The base equations are small
//! and public, so they are implemented here rather than pulled from a crate (rejected: a
//! dependency for ~100 lines, and none of the candidates handled 3.0's different rounding).
//! CVSS v4 vectors are not scored: v4 scoring needs the specification's large macro-vector
//! lookup table; such vectors are kept only when a v3 vector is absent, without a score.

use crate::Severity;

/// A parsed v3 base vector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CvssV3 {
    minor: u8,
    av: f64,
    ac: f64,
    pr_unchanged: f64,
    pr_changed: f64,
    ui: f64,
    scope_changed: bool,
    c: f64,
    i: f64,
    a: f64,
}

/// Why a vector was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CVSS v3 vector {vector:?}: {reason}")]
pub struct CvssError {
    pub vector: String,
    pub reason: String,
}

fn cia(v: &str) -> Option<f64> {
    match v {
        "H" => Some(0.56),
        "L" => Some(0.22),
        "N" => Some(0.0),
        _ => None,
    }
}

impl CvssV3 {
    /// Parse `CVSS:3.x/AV:_/AC:_/PR:_/UI:_/S:_/C:_/I:_/A:_` (any order after the prefix;
    /// temporal and environmental metrics are accepted and ignored; each base metric exactly
    /// once).
    pub fn parse(vector: &str) -> Result<CvssV3, CvssError> {
        let err = |reason: &str| CvssError {
            vector: vector.chars().take(200).collect(),
            reason: reason.to_string(),
        };
        let mut parts = vector.trim().split('/');
        let minor = match parts.next() {
            Some("CVSS:3.1") => 1,
            Some("CVSS:3.0") => 0,
            _ => return Err(err("does not start with CVSS:3.0 or CVSS:3.1")),
        };
        let mut seen = [None::<&str>; 8];
        const NAMES: [&str; 8] = ["AV", "AC", "PR", "UI", "S", "C", "I", "A"];
        for p in parts {
            let (k, v) = p.split_once(':').ok_or_else(|| err("metric without ':'"))?;
            if let Some(idx) = NAMES.iter().position(|n| *n == k) {
                if seen[idx].replace(v).is_some() {
                    return Err(err(&format!("metric {k} given twice")));
                }
            } else if !matches!(
                k,
                "E" | "RL"
                    | "RC"
                    | "CR"
                    | "IR"
                    | "AR"
                    | "MAV"
                    | "MAC"
                    | "MPR"
                    | "MUI"
                    | "MS"
                    | "MC"
                    | "MI"
                    | "MA"
            ) {
                return Err(err(&format!("unknown metric {k}")));
            }
        }
        let get = |i: usize| seen[i].ok_or_else(|| err(&format!("missing metric {}", NAMES[i])));
        let av = match get(0)? {
            "N" => 0.85,
            "A" => 0.62,
            "L" => 0.55,
            "P" => 0.2,
            _ => return Err(err("bad AV value")),
        };
        let ac = match get(1)? {
            "L" => 0.77,
            "H" => 0.44,
            _ => return Err(err("bad AC value")),
        };
        let (pr_unchanged, pr_changed) = match get(2)? {
            "N" => (0.85, 0.85),
            "L" => (0.62, 0.68),
            "H" => (0.27, 0.5),
            _ => return Err(err("bad PR value")),
        };
        let ui = match get(3)? {
            "N" => 0.85,
            "R" => 0.62,
            _ => return Err(err("bad UI value")),
        };
        let scope_changed = match get(4)? {
            "U" => false,
            "C" => true,
            _ => return Err(err("bad S value")),
        };
        let c = cia(get(5)?).ok_or_else(|| err("bad C value"))?;
        let i = cia(get(6)?).ok_or_else(|| err("bad I value"))?;
        let a = cia(get(7)?).ok_or_else(|| err("bad A value"))?;
        Ok(CvssV3 {
            minor,
            av,
            ac,
            pr_unchanged,
            pr_changed,
            ui,
            scope_changed,
            c,
            i,
            a,
        })
    }

    fn roundup(&self, x: f64) -> f64 {
        if self.minor == 0 {
            (x * 10.0).ceil() / 10.0
        } else {
            // v3.1 Appendix A: avoid floating-point artefacts such as 4.000000001 -> 4.1.
            let int_input = (x * 100_000.0).round() as i64;
            if int_input % 10_000 == 0 {
                int_input as f64 / 100_000.0
            } else {
                ((int_input / 10_000) + 1) as f64 / 10.0
            }
        }
    }

    /// The base score, 0.0 to 10.0.
    pub fn base_score(&self) -> f64 {
        let iss = 1.0 - (1.0 - self.c) * (1.0 - self.i) * (1.0 - self.a);
        let impact = if self.scope_changed {
            7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
        } else {
            6.42 * iss
        };
        let pr = if self.scope_changed {
            self.pr_changed
        } else {
            self.pr_unchanged
        };
        let exploitability = 8.22 * self.av * self.ac * pr * self.ui;
        if impact <= 0.0 {
            return 0.0;
        }
        if self.scope_changed {
            self.roundup((1.08 * (impact + exploitability)).min(10.0))
        } else {
            self.roundup((impact + exploitability).min(10.0))
        }
    }
}

/// The qualitative rating of a score (CVSS v3.1 table 14). A 0.0 score ("None") maps to
/// `Low`: the advisory still exists and should not sort as unknown.
pub fn rating(score: f64) -> Severity {
    if score >= 9.0 {
        Severity::Critical
    } else if score >= 7.0 {
        Severity::High
    } else if score >= 4.0 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// Score a v3 vector.
pub fn score(vector: &str) -> Result<f64, CvssError> {
    CvssV3::parse(vector).map(|c| c.base_score())
}
