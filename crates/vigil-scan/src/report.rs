//! Scan reports: a human table, a documented JSON format, and SARIF 2.1.0 for code-scanning
//! UIs; plus the severity gate used by `--exit-code/--severity` in CI.
//!
//! All three renderers read the same [`Report`], so a finding cannot appear in one format and
//! be missing from another. Severities of vulnerabilities, secrets and configuration findings
//! share one scale (UNKNOWN < LOW < MEDIUM < HIGH < CRITICAL).

use crate::scan::Inventory;
use crate::vuln::MatchResult;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write;
use vigil_vulndb::Severity;

pub const SEVERITIES: [&str; 5] = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"];

pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "CRITICAL",
        Severity::High => "HIGH",
        Severity::Medium => "MEDIUM",
        Severity::Low => "LOW",
        Severity::Unknown => "UNKNOWN",
    }
}

/// Everything a report shows.
#[derive(Debug)]
pub struct Report<'a> {
    pub inventory: &'a Inventory,
    /// `None` when vulnerability scanning was off or no database was available.
    pub vulns: Option<&'a MatchResult>,
    /// Notes about the database (missing, old).
    pub notes: Vec<String>,
}

impl Report<'_> {
    /// Count of findings (vulnerabilities, secrets, config) per severity name.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut m: BTreeMap<&'static str, usize> = SEVERITIES.iter().map(|s| (*s, 0)).collect();
        if let Some(v) = self.vulns {
            for f in &v.findings {
                *m.entry(severity_name(f.advisory.severity)).or_default() += 1;
            }
        }
        for s in &self.inventory.secrets {
            *m.entry(s.severity).or_default() += 1;
        }
        for c in &self.inventory.config_findings {
            *m.entry(c.severity).or_default() += 1;
        }
        m
    }

    /// Whether any finding has one of `severities` (upper-case names).
    pub fn gate(&self, severities: &[String]) -> bool {
        let c = self.counts();
        severities
            .iter()
            .any(|s| c.get(s.as_str()).copied().unwrap_or(0) > 0)
    }

    pub fn json(&self) -> Value {
        let inv = self.inventory;
        json!({
            "schema": "vigil-scan/1",
            "target": inv.target,
            "format": inv.format,
            "config_digest": inv.config_digest,
            "os": inv.os,
            "layers": inv.layers,
            "files": inv.files,
            "packages": inv.packages,
            "vulnerabilities": self.vulns.map(|v| &v.findings),
            "ignored": self.vulns.map(|v| v.ignored.iter().map(|(id, p, r)| json!({"id": id, "package": p, "reason": r})).collect::<Vec<_>>()),
            "secrets": inv.secrets,
            "config_findings": inv.config_findings,
            "warnings": inv.warnings.iter().chain(self.vulns.map(|v| &v.warnings).into_iter().flatten()).collect::<Vec<_>>(),
            "notes": self.notes,
            "summary": self.counts(),
        })
    }

    pub fn table(&self) -> String {
        let inv = self.inventory;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "Target: {} ({}, {} layer{}, {} files)",
            inv.target,
            inv.format,
            inv.layers.len(),
            if inv.layers.len() == 1 { "" } else { "s" },
            inv.files
        );
        if let Some(os) = &inv.os {
            let _ = writeln!(
                o,
                "OS:     {}",
                if os.pretty_name.is_empty() {
                    &os.id
                } else {
                    &os.pretty_name
                }
            );
        }
        let mut per_type: BTreeMap<&str, usize> = BTreeMap::new();
        for p in &inv.packages {
            *per_type.entry(p.kind.as_str()).or_default() += 1;
        }
        let kinds: Vec<String> = per_type.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let _ = writeln!(o, "Packages: {} ({})", inv.packages.len(), kinds.join(", "));
        for n in &self.notes {
            let _ = writeln!(o, "Note: {n}");
        }
        let counts = self.counts();
        let summary: Vec<String> = SEVERITIES
            .iter()
            .map(|s| format!("{s}: {}", counts[s]))
            .collect();
        let _ = writeln!(o, "\nFindings by severity: {}", summary.join("  "));
        if let Some(v) = self.vulns {
            let _ = writeln!(
                o,
                "\nVulnerabilities ({}; {} ignored, {} unfixed hidden)",
                v.findings.len(),
                v.ignored.len(),
                v.unfixed_dropped
            );
            if !v.findings.is_empty() {
                let _ = writeln!(
                    o,
                    "{:<9} {:<20} {:<24} {:<22} {:<22} SUMMARY",
                    "SEVERITY", "ID", "PACKAGE", "INSTALLED", "FIXED"
                );
                for f in &v.findings {
                    let fixed = f.advisory.fixed_version.clone().unwrap_or_else(|| {
                        match f.advisory.status {
                            vigil_vulndb::Status::WillNotFix => "(will not fix)".into(),
                            _ => "(no fix)".into(),
                        }
                    });
                    let summary: String = f.advisory.summary.chars().take(60).collect();
                    let _ = writeln!(
                        o,
                        "{:<9} {:<20} {:<24} {:<22} {:<22} {}",
                        severity_name(f.advisory.severity),
                        f.advisory.id,
                        f.package,
                        f.version,
                        fixed,
                        summary
                    );
                }
            }
        }
        if !inv.secrets.is_empty() {
            let _ = writeln!(o, "\nSecrets ({})", inv.secrets.len());
            for s in &inv.secrets {
                let _ = writeln!(
                    o,
                    "{:<9} {:<26} /{}:{}{}  {}",
                    s.severity,
                    s.rule,
                    s.file,
                    s.line,
                    if s.deleted_later {
                        " (deleted in a later layer, still in the image)"
                    } else {
                        ""
                    },
                    s.redacted
                );
            }
        }
        if !inv.config_findings.is_empty() {
            let _ = writeln!(o, "\nImage configuration ({})", inv.config_findings.len());
            for c in &inv.config_findings {
                let _ = writeln!(
                    o,
                    "{:<9} {:<14} {}: {}",
                    c.severity, c.id, c.title, c.detail
                );
            }
        }
        let warnings: Vec<_> = inv
            .warnings
            .iter()
            .chain(self.vulns.map(|v| &v.warnings).into_iter().flatten())
            .collect();
        if !warnings.is_empty() {
            let _ = writeln!(o, "\nWarnings ({})", warnings.len());
            for w in warnings {
                let _ = writeln!(o, "  {w}");
            }
        }
        o
    }

    pub fn sarif(&self) -> Value {
        let inv = self.inventory;
        let mut rules: BTreeMap<String, Value> = BTreeMap::new();
        let mut results = Vec::new();
        let level = |s: &str| match s {
            "CRITICAL" | "HIGH" => "error",
            "MEDIUM" => "warning",
            _ => "note",
        };
        let score = |s: &str| match s {
            "CRITICAL" => "9.5",
            "HIGH" => "8.0",
            "MEDIUM" => "5.5",
            "LOW" => "2.0",
            _ => "0.0",
        };
        let loc = |file: &str, line: Option<usize>| {
            let mut pl = json!({"artifactLocation": {"uri": file}});
            if let Some(l) = line {
                pl["region"] = json!({"startLine": l});
            }
            json!([{"physicalLocation": pl}])
        };
        if let Some(v) = self.vulns {
            for f in &v.findings {
                let sev = severity_name(f.advisory.severity);
                let security_severity = f
                    .advisory
                    .cvss
                    .as_ref()
                    .map(|(_, s)| format!("{s:.1}"))
                    .unwrap_or_else(|| score(sev).to_string());
                rules.entry(f.advisory.id.clone()).or_insert_with(|| json!({
                    "id": f.advisory.id,
                    "shortDescription": {"text": if f.advisory.summary.is_empty() { f.advisory.id.clone() } else { f.advisory.summary.clone() }},
                    "properties": {"security-severity": security_severity, "tags": ["vulnerability", sev]},
                }));
                let fixed = f.advisory.fixed_version.as_deref().unwrap_or("none");
                results.push(json!({
                    "ruleId": f.advisory.id,
                    "level": level(sev),
                    "message": {"text": format!("{} {} is affected by {} ({}); fixed version: {}", f.package, f.version, f.advisory.id, sev, fixed)},
                    "locations": loc(f.files.first().map(String::as_str).unwrap_or(""), None),
                }));
            }
        }
        for s in &inv.secrets {
            rules.entry(format!("secret/{}", s.rule)).or_insert_with(|| json!({
                "id": format!("secret/{}", s.rule),
                "shortDescription": {"text": s.title},
                "properties": {"security-severity": score(s.severity), "tags": ["secret", s.severity]},
            }));
            results.push(json!({
                "ruleId": format!("secret/{}", s.rule),
                "level": level(s.severity),
                "message": {"text": format!("{}: {}", s.title, s.redacted)},
                "locations": loc(&s.file, Some(s.line)),
            }));
        }
        for c in &inv.config_findings {
            rules.entry(c.id.to_string()).or_insert_with(|| json!({
                "id": c.id,
                "shortDescription": {"text": c.title},
                "properties": {"security-severity": score(c.severity), "tags": ["configuration", c.severity]},
            }));
            results.push(json!({
                "ruleId": c.id,
                "level": level(c.severity),
                "message": {"text": format!("{}: {}", c.title, c.detail)},
                "locations": loc(&inv.target, None),
            }));
        }
        json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "vigil",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules.into_values().collect::<Vec<_>>(),
                }},
                "results": results,
            }],
        })
    }
}
