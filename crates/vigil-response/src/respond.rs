//! Rule-triggered responses: which [`ResponseRule`]s an alert selects, read from the
//! Falco-format JSON alert every vigil output (and Falco itself) produces.
//!
//! The responder consumes alerts rather than sitting inside the rules engine: any alert
//! source that writes Falco JSON (`vigil monitor --json`, a `program` output, Falco) can
//! drive it, and the engine's hot path stays free of process-killing side effects. The
//! process and container come from `output_fields` (`proc.pid`, `container.id`), which
//! vigil appends to every syscall alert. We rejected keying responses on the rendered
//! `output` text: it is free-form and rules change it.
//!
//! `vigil monitor --policy` selects with the same function on its own alerts
//! ([`AlertRef::from_alert`], no JSON round trip), after the engine and off its hot path.
//!
//! Pure: parsing and selection only; [`crate::Executor::respond`] carries actions out,
//! [`crate::runner`] queues and dedupes them for the monitor.

use crate::action::RuleAction;
use crate::policy::{Priority, ResponseRule};

/// What a response needs to know about one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRef {
    pub rule: String,
    pub priority: Option<Priority>,
    pub tags: Vec<String>,
    /// `output_fields."proc.pid"`.
    pub pid: Option<u32>,
    /// `output_fields."container.id"` (12-char short id, or `host`); empty if absent.
    pub container_id: String,
    /// `container.name`, `container.image.repository`, `k8s.ns.name`, `k8s.pod.name` from
    /// `output_fields` (empty if absent or null).
    pub container_name: String,
    pub image_repository: String,
    pub k8s_namespace: String,
    pub k8s_pod: String,
    /// The alert's event time (`time`), nanoseconds since the Unix epoch.
    pub time_ns: Option<u64>,
}

impl AlertRef {
    /// Whether the alert is about a process in a container (responses act on nothing else).
    pub fn in_container(&self) -> bool {
        !self.container_id.is_empty() && self.container_id != "host"
    }

    /// The same view of an alert raised in this process (no JSON round trip): what
    /// `vigil monitor --policy` selects its responses with.
    pub fn from_alert(a: &vigil_event::Alert) -> AlertRef {
        use vigil_event::FieldValue;
        let text = |k: &str| match a.output_fields.get(k) {
            Some(FieldValue::Str(s)) => s.clone(),
            _ => String::new(),
        };
        let pid = match a.output_fields.get("proc.pid") {
            Some(FieldValue::U64(p)) => u32::try_from(*p).ok(),
            Some(FieldValue::I64(p)) => u32::try_from(*p).ok(),
            Some(FieldValue::Str(s)) => s.parse().ok(),
            _ => None,
        };
        AlertRef {
            rule: a.rule.clone(),
            priority: a.priority.as_str().parse().ok(),
            tags: a.tags.clone(),
            pid,
            container_id: text("container.id"),
            container_name: text("container.name"),
            image_repository: text("container.image.repository"),
            k8s_namespace: text("k8s.ns.name"),
            k8s_pod: text("k8s.pod.name"),
            time_ns: Some(a.time),
        }
    }

    /// The container as far as the alert describes it: enough for scopes that select by
    /// name, image or k8s namespace, and for the runtime (which accepts the short id).
    /// None when the alert lacks the container's name.
    pub fn container(&self) -> Option<vigil_event::Container> {
        if !self.in_container() || self.container_name.is_empty() {
            return None;
        }
        Some(vigil_event::Container {
            id: self.container_id.clone(),
            name: self.container_name.clone(),
            image: self.image_repository.clone(),
            image_repository: self.image_repository.clone(),
            k8s: (!self.k8s_namespace.is_empty()).then(|| vigil_event::K8sInfo {
                namespace: self.k8s_namespace.clone(),
                pod_name: self.k8s_pod.clone(),
                ..Default::default()
            }),
            ..Default::default()
        })
    }
}

/// Whether any response selects by container or pod labels, which alerts do not carry (the
/// runtime must then be asked for the container's labels).
pub fn needs_labels(responses: &[ResponseRule]) -> bool {
    responses
        .iter()
        .any(|r| !r.scope.labels.is_empty() || !r.scope.k8s_pod_labels.is_empty())
}

/// Parses one Falco JSON alert line.
pub fn parse_alert(line: &str) -> Result<AlertRef, String> {
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not a JSON alert: {e}"))?;
    let rule = v
        .get("rule")
        .and_then(|r| r.as_str())
        .ok_or("alert without `rule`")?
        .to_string();
    let f = v.get("output_fields");
    let field = |k: &str| f.and_then(|f| f.get(k));
    let text = |k: &str| {
        field(k)
            .and_then(|c| c.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let pid = field("proc.pid").and_then(|p| {
        p.as_u64()
            .or_else(|| p.as_str().and_then(|s| s.parse().ok()))
            .and_then(|p| u32::try_from(p).ok())
    });
    Ok(AlertRef {
        rule,
        priority: v
            .get("priority")
            .and_then(|p| p.as_str())
            .and_then(|p| p.parse().ok()),
        tags: v
            .get("tags")
            .and_then(|t| t.as_array())
            .map(|t| {
                t.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        pid,
        container_id: text("container.id"),
        container_name: text("container.name"),
        image_repository: text("container.image.repository"),
        k8s_namespace: text("k8s.ns.name"),
        k8s_pod: text("k8s.pod.name"),
        time_ns: v
            .get("time")
            .and_then(|t| t.as_str())
            .and_then(rfc3339_unix_ns),
    })
}

/// The actions an alert selects, in file order, each once (first selecting response wins),
/// with the response that selected it.
pub fn select<'r>(
    responses: &'r [ResponseRule],
    alert: &AlertRef,
    container: Option<&vigil_event::Container>,
) -> Vec<(RuleAction, &'r ResponseRule)> {
    let mut out: Vec<(RuleAction, &ResponseRule)> = Vec::new();
    for r in responses {
        if !r.selects(&alert.rule, &alert.tags, alert.priority, container) {
            continue;
        }
        for &a in &r.actions {
            if !out.iter().any(|(x, _)| *x == a) {
                out.push((a, r));
            }
        }
    }
    out
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` → nanoseconds since the Unix epoch.
pub fn rfc3339_unix_ns(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut nanos: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &s[start..i];
        let mut digits: String = frac.chars().take(9).collect();
        while digits.len() < 9 {
            digits.push('0');
        }
        nanos = digits.parse().ok()?;
    }
    let offset_secs = match b.get(i)? {
        b'Z' | b'z' => 0,
        c @ (b'+' | b'-') => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let o = oh * 3600 + om * 60;
            if *c == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let (y2, m2) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_secs;
    u64::try_from(secs)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(nanos as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn times() {
        assert_eq!(rfc3339_unix_ns("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            rfc3339_unix_ns("2024-02-29T12:00:00.000000123Z"),
            Some(1_709_208_000_000_000_123)
        );
        assert_eq!(
            rfc3339_unix_ns("2024-02-29T14:00:00.5+02:00"),
            Some(1_709_208_000_500_000_000)
        );
        assert_eq!(rfc3339_unix_ns("2024-02-29"), None);
        assert_eq!(rfc3339_unix_ns("2024-13-29T14:00:00Z"), None);
    }

    const ALERT: &str = r#"{"hostname":"h","output":"x","output_fields":{"container.id":"0123456789ab","container.name":"web-1","container.image.repository":"docker.io/library/nginx","k8s.ns.name":null,"proc.pid":4242,"proc.name":"sh"},"priority":"Critical","rule":"Terminal shell in container","source":"syscall","tags":["container","shell"],"time":"2024-02-29T12:00:00.000000001Z"}"#;

    #[test]
    fn parses_falco_alert() {
        let a = parse_alert(ALERT).unwrap();
        assert_eq!(a.rule, "Terminal shell in container");
        assert_eq!(a.priority, Some(Priority::Critical));
        assert_eq!(a.pid, Some(4242));
        assert_eq!(a.container_id, "0123456789ab");
        assert!(a.in_container());
        assert_eq!(a.tags, ["container", "shell"]);
        assert_eq!(a.time_ns, Some(1_709_208_000_000_000_001));
        let c = a.container().unwrap();
        assert_eq!(
            (c.id.as_str(), c.name.as_str(), c.image_repository.as_str()),
            ("0123456789ab", "web-1", "docker.io/library/nginx")
        );
        assert!(c.k8s.is_none());
        assert!(parse_alert("{").unwrap_err().contains("not a JSON alert"));
        assert!(parse_alert("{}").unwrap_err().contains("rule"));
    }

    #[test]
    fn alert_in_process_reads_like_its_json() {
        let a = parse_alert(ALERT).unwrap();
        let parsed: vigil_event::Alert = serde_json::from_str(ALERT).unwrap();
        assert_eq!(AlertRef::from_alert(&parsed), a);
    }

    #[test]
    fn selection_by_rule_tag_priority_scope() {
        let f = crate::parse_str(
            Path::new("r.yaml"),
            "responses:\n- rules: ['Terminal shell*']\n  actions: [kill_process]\n- tags: [shell]\n  min_priority: error\n  scope: {names: ['web*']}\n  actions: [kill_process, isolate_network]\n- min_priority: emergency\n  actions: [stop_container]\n",
        )
        .unwrap();
        let a = parse_alert(ALERT).unwrap();
        let web = vigil_event::Container {
            name: "web-1".into(),
            ..Default::default()
        };
        let db = vigil_event::Container {
            name: "db".into(),
            ..Default::default()
        };
        let acts = |c: Option<&vigil_event::Container>| -> Vec<&str> {
            select(&f.responses, &a, c)
                .iter()
                .map(|(x, _)| x.as_str())
                .collect()
        };
        assert_eq!(acts(Some(&web)), ["kill_process", "isolate_network"]);
        assert_eq!(acts(Some(&db)), ["kill_process"]);
        assert!(acts(None).is_empty(), "host processes are never acted on");
    }
}
