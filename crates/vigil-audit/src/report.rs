//! Findings and the three output formats: a table grouped by workload, JSON, SARIF 2.1.0.
//!
//! Rendering is pure (returns a `String`) so tests compare outputs and the CLI decides where
//! to write. The JSON format is documented in `docs/audit-checks.md`; SARIF carries the check
//! catalogue as rule metadata so code-scanning UIs show rationale and remediation.

use crate::checks::{CheckInfo, CHECKS};
use crate::pss::PssResult;
use std::fmt::Write as _;

/// Severity of a check, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Parses `info|low|medium|high|critical` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "info" => Self::Info,
            "low" => Self::Low,
            "medium" => Self::Medium,
            "high" => Self::High,
            "critical" => Self::Critical,
            _ => return None,
        })
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    fn sarif_level(self) -> &'static str {
        match self {
            Self::Critical | Self::High => "error",
            Self::Medium => "warning",
            Self::Low | Self::Info => "note",
        }
    }

    fn color(self) -> &'static str {
        match self {
            Self::Critical => "\x1b[1;31m",
            Self::High => "\x1b[31m",
            Self::Medium => "\x1b[33m",
            Self::Low => "\x1b[36m",
            Self::Info => "\x1b[2m",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Check ID (`VGL-A001`).
    pub check: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    /// What exactly is wrong here.
    pub message: String,
    pub file: String,
    /// 1-based line; 0 when the source has no lines (live containers).
    pub line: u32,
    /// Path of the field in the source.
    pub path: String,
    /// `Kind/name` of the workload.
    pub workload: String,
    pub container: Option<String>,
}

/// A workload that was audited (even when it has no findings).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WorkloadSummary {
    pub name: String,
    pub file: String,
    pub line: u32,
    pub platform: String,
    /// Pod Security Standards result (Kubernetes only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pss: Option<PssResult>,
    /// Suggested fix (YAML patch or run flags), when there is something to fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// A file (or document) that could not be audited.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InputError {
    pub file: String,
    pub message: String,
}

/// Something that was read but is not auditable (a Service, a values file), counted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub file: String,
    pub line: u32,
    pub reason: String,
}

/// The result of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub files: usize,
    pub workloads: Vec<WorkloadSummary>,
    pub findings: Vec<Finding>,
    pub errors: Vec<InputError>,
    pub skipped: Vec<Skipped>,
}

impl Report {
    /// Appends another report.
    pub fn merge(&mut self, other: Report) {
        self.files += other.files;
        self.workloads.extend(other.workloads);
        self.findings.extend(other.findings);
        self.errors.extend(other.errors);
        self.skipped.extend(other.skipped);
    }

    /// The highest severity among findings.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Count of findings per severity, most severe first.
    pub fn counts(&self) -> [(Severity, usize); 5] {
        let mut out = [
            (Severity::Critical, 0),
            (Severity::High, 0),
            (Severity::Medium, 0),
            (Severity::Low, 0),
            (Severity::Info, 0),
        ];
        for f in &self.findings {
            if let Some(e) = out.iter_mut().find(|(s, _)| *s == f.severity) {
                e.1 += 1;
            }
        }
        out
    }

    /// Keeps only findings at or above `min`.
    pub fn filter_min(&mut self, min: Severity) {
        self.findings.retain(|f| f.severity >= min);
    }
}

/// Renders the human-readable table, grouped by workload.
pub fn render_table(r: &Report, color: bool, show_fixes: bool) -> String {
    let (b, d, reset) = if color {
        ("\x1b[1m", "\x1b[2m", "\x1b[0m")
    } else {
        ("", "", "")
    };
    let mut s = String::new();
    for w in &r.workloads {
        let mine: Vec<&Finding> = r
            .findings
            .iter()
            .filter(|f| f.workload == w.name && f.file == w.file)
            .collect();
        let loc = if w.line > 0 {
            format!("{}:{}", w.file, w.line)
        } else {
            w.file.clone()
        };
        let pss = w
            .pss
            .as_ref()
            .map(|p| format!("  [PSS: {}]", p.level))
            .unwrap_or_default();
        let _ = writeln!(s, "{b}{}{reset}  {d}{loc}{reset}{pss}", w.name);
        if mine.is_empty() {
            let _ = writeln!(s, "  no findings");
        }
        for f in &mine {
            let sev = if color {
                format!(
                    "{}{:<8}{reset}",
                    f.severity.color(),
                    f.severity.as_str().to_uppercase()
                )
            } else {
                format!("{:<8}", f.severity.as_str().to_uppercase())
            };
            let ctr = f
                .container
                .as_ref()
                .map(|c| format!("[{c}] "))
                .unwrap_or_default();
            let line = if f.line > 0 {
                format!("line {:<4} ", f.line)
            } else {
                String::new()
            };
            let _ = writeln!(s, "  {sev} {} {ctr}{}: {}", f.check, f.title, f.message);
            let _ = writeln!(s, "           {d}{line}{}{reset}", f.path);
        }
        if show_fixes {
            if let Some(fix) = &w.fix {
                let _ = writeln!(s, "  {b}suggested fix:{reset}");
                for l in fix.lines() {
                    let _ = writeln!(s, "    {l}");
                }
            }
        }
        s.push('\n');
    }
    for e in &r.errors {
        let _ = writeln!(s, "error: {}: {}", e.file, e.message);
    }
    let c = r.counts();
    let _ = writeln!(
        s,
        "{} files, {} workloads, {} findings (critical {}, high {}, medium {}, low {}), {} skipped documents, {} errors",
        r.files,
        r.workloads.len(),
        r.findings.len(),
        c[0].1,
        c[1].1,
        c[2].1,
        c[3].1,
        r.skipped.len(),
        r.errors.len()
    );
    s
}

/// Renders the JSON report.
pub fn render_json(r: &Report) -> String {
    let mut out =
        serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    out.push('\n');
    out
}

fn rule_json(c: &CheckInfo) -> serde_json::Value {
    let mut tags = vec![format!("severity:{}", c.severity.as_str())];
    if !c.cis.is_empty() {
        tags.push(format!("CIS-Docker-1.6.0:{}", c.cis));
    }
    if !c.pss.is_empty() {
        tags.push(format!("PSS:{}", c.pss));
    }
    tags.extend(c.checkov.iter().map(|x| x.to_string()));
    tags.extend(c.trivy.iter().map(|x| x.to_string()));
    tags.extend(c.hadolint.iter().map(|x| x.to_string()));
    serde_json::json!({
        "id": c.id,
        "name": c.title,
        "shortDescription": { "text": c.title },
        "fullDescription": { "text": c.rationale },
        "help": { "text": c.remediation, "markdown": format!("**Why:** {}\n\n**Fix:** {}", c.rationale, c.remediation) },
        "defaultConfiguration": { "level": c.severity.sarif_level() },
        "properties": { "tags": tags, "security-severity": match c.severity {
            Severity::Critical => "9.5", Severity::High => "8.0", Severity::Medium => "5.5", Severity::Low => "3.0", Severity::Info => "0.0" } }
    })
}

/// Renders SARIF 2.1.0.
pub fn render_sarif(r: &Report, tool_version: &str) -> String {
    let results: Vec<serde_json::Value> = r
        .findings
        .iter()
        .map(|f| {
            let rule_index = CHECKS.iter().position(|c| c.id == f.check).unwrap_or(0);
            let mut region = serde_json::json!({});
            if f.line > 0 {
                region = serde_json::json!({ "startLine": f.line });
            }
            let mut loc = serde_json::json!({
                "physicalLocation": {
                    "artifactLocation": { "uri": f.file },
                },
                "logicalLocations": [{ "fullyQualifiedName": format!("{}#{}", f.workload, f.path), "kind": "member" }]
            });
            if f.line > 0 {
                loc["physicalLocation"]["region"] = region;
            }
            serde_json::json!({
                "ruleId": f.check,
                "ruleIndex": rule_index,
                "level": f.severity.sarif_level(),
                "message": { "text": format!("{}: {} ({})", f.workload, f.message, f.path) },
                "locations": [loc],
            })
        })
        .collect();
    let notifications: Vec<serde_json::Value> = r
        .errors
        .iter()
        .map(|e| {
            serde_json::json!({
                "level": "error",
                "message": { "text": e.message },
                "locations": [{ "physicalLocation": { "artifactLocation": { "uri": e.file } } }]
            })
        })
        .collect();
    let doc = serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "vigil-audit",
                "version": tool_version,
                "rules": CHECKS.iter().map(rule_json).collect::<Vec<_>>(),
            }},
            "results": results,
            "invocations": [{
                "executionSuccessful": r.errors.is_empty(),
                "toolExecutionNotifications": notifications,
            }],
        }]
    });
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}

/// Renders the check catalogue as JSON (for tooling such as `bench/audit-compare.sh`).
pub fn render_catalogue_json() -> String {
    let mut out = serde_json::to_string_pretty(CHECKS).unwrap_or_default();
    out.push('\n');
    out
}

/// Renders the check catalogue as Markdown (the body of `docs/audit-checks.md`).
pub fn render_catalogue_markdown() -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| ID | Severity | Title | Applies to | CIS Docker 1.6.0 | Pod Security Standards | Checkov | Trivy | hadolint |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    for c in CHECKS {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.id,
            c.severity.as_str(),
            c.title,
            c.applies_to,
            c.cis,
            c.pss,
            c.checkov.join(", "),
            c.trivy.join(", "),
            c.hadolint.join(", ")
        );
    }
    s.push('\n');
    for c in CHECKS {
        let _ = writeln!(s, "### {} — {}\n", c.id, c.title);
        let _ = writeln!(
            s,
            "*Severity:* {}. *Applies to:* {}.\n",
            c.severity.as_str(),
            c.applies_to
        );
        let _ = writeln!(s, "*Why:* {}\n", c.rationale);
        let _ = writeln!(s, "*Fix:* {}\n", c.remediation);
    }
    s
}
