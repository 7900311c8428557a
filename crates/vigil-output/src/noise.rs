//! Noise control: duplicate suppression and per-rule token-bucket rate limits, with a summary
//! alert ("N similar alerts suppressed") when a suppression window closes.
//!
//! A plain synchronous state machine driven by the dispatcher with explicit `now` instants,
//! so it is unit-tested without sleeping. State is bounded by `max_keys`; past it new keys are
//! let through (fail open: losing detections is worse than noise) and counted.
//!
//! Rejected: sampling (emit 1 in N). It loses the count users need to judge an incident, and
//! the summary alert gives the same relief with an exact number.

use crate::config::{NoiseConfig, RateLimit};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use vigil_event::{Alert, FieldValue};

/// What to do with an alert.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Suppressed,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Debug)]
struct Suppression {
    /// The first suppressed alert, used as the template of the summary.
    first: Alert,
    count: u64,
    since: Instant,
    why: &'static str,
}

/// Noise-control state.
#[derive(Debug)]
pub struct Noise {
    cfg: NoiseConfig,
    buckets: HashMap<String, Bucket>,
    /// dedup key -> last time an alert with that key passed.
    seen: HashMap<String, Instant>,
    suppressed: HashMap<String, Suppression>,
    /// Alerts let through because state was full.
    pub overflow_passed: u64,
}

impl Noise {
    pub fn new(cfg: &NoiseConfig) -> Self {
        Noise {
            cfg: cfg.clone(),
            buckets: HashMap::new(),
            seen: HashMap::new(),
            suppressed: HashMap::new(),
            overflow_passed: 0,
        }
    }

    /// True when no dedup or rate limit is configured (the dispatcher then skips us).
    pub fn is_noop(&self) -> bool {
        self.cfg.dedup_window.0.is_zero() && self.cfg.rate_limits.is_empty()
    }

    fn limit_for(&self, rule: &str) -> Option<&RateLimit> {
        self.cfg
            .rate_limits
            .iter()
            .find(|r| r.rule == rule)
            .or_else(|| self.cfg.rate_limits.iter().find(|r| r.rule == "*"))
    }

    fn full(&self) -> bool {
        self.buckets.len() + self.seen.len() + self.suppressed.len() >= self.cfg.max_keys
    }

    /// Decides for one alert at time `now`.
    pub fn check(&mut self, a: &Alert, now: Instant) -> Verdict {
        if self.is_noop() || a.source == "internal" {
            return Verdict::Pass;
        }
        let dw = self.cfg.dedup_window.0;
        if !dw.is_zero() {
            let key = format!("{}\u{0}{}", a.rule, a.output);
            match self.seen.get_mut(&key) {
                Some(t) if now.duration_since(*t) < dw => {
                    self.note_suppressed(format!("dedup\u{0}{key}"), a, now, "duplicate");
                    return Verdict::Suppressed;
                }
                Some(t) => *t = now,
                None => {
                    if self.full() {
                        self.overflow_passed += 1;
                    } else {
                        self.seen.insert(key, now);
                    }
                }
            }
        }
        if let Some(lim) = self.limit_for(&a.rule) {
            let (rate, burst) = (lim.rate, lim.burst as f64);
            let mut key = a.rule.clone();
            for f in &lim.key_fields {
                key.push('\u{0}');
                match a.output_fields.get(f) {
                    Some(FieldValue::Null) | None => key.push_str("<NA>"),
                    Some(v) => key.push_str(&v.to_string()),
                }
            }
            if !self.buckets.contains_key(&key) && self.full() {
                self.overflow_passed += 1;
                return Verdict::Pass;
            }
            let b = self.buckets.entry(key.clone()).or_insert(Bucket {
                tokens: burst,
                last: now,
            });
            let dt = now.saturating_duration_since(b.last).as_secs_f64();
            b.tokens = (b.tokens + dt * rate).min(burst);
            b.last = now;
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
            } else {
                self.note_suppressed(format!("rate\u{0}{key}"), a, now, "rate limit");
                return Verdict::Suppressed;
            }
        }
        Verdict::Pass
    }

    fn note_suppressed(&mut self, key: String, a: &Alert, now: Instant, why: &'static str) {
        match self.suppressed.get_mut(&key) {
            Some(s) => s.count += 1,
            None => {
                self.suppressed.insert(
                    key,
                    Suppression {
                        first: a.clone(),
                        count: 1,
                        since: now,
                        why,
                    },
                );
            }
        }
    }

    /// Summary alerts for windows that closed by `now` (all of them if `flush_all`), and
    /// forgets idle state so memory stays bounded.
    pub fn tick(&mut self, now: Instant, flush_all: bool) -> Vec<Alert> {
        let iv = self.cfg.summary_interval.0;
        let mut done: Vec<String> = self
            .suppressed
            .iter()
            .filter(|(_, s)| flush_all || now.duration_since(s.since) >= iv)
            .map(|(k, _)| k.clone())
            .collect();
        done.sort();
        let mut out = Vec::with_capacity(done.len());
        for k in done {
            if let Some(s) = self.suppressed.remove(&k) {
                out.push(summary(
                    &s,
                    now.duration_since(s.since).max(Duration::from_millis(1)),
                ));
            }
        }
        let dw = self.cfg.dedup_window.0;
        self.seen.retain(|_, t| now.duration_since(*t) < dw);
        let limits = &self.cfg.rate_limits;
        self.buckets.retain(|k, b| {
            // A bucket that has refilled completely carries no information: drop it.
            let rule = k.split('\u{0}').next().unwrap_or("");
            let lim = limits
                .iter()
                .find(|r| r.rule == rule)
                .or_else(|| limits.iter().find(|r| r.rule == "*"));
            match lim {
                Some(l) => {
                    b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * l.rate
                        < l.burst as f64
                }
                None => false,
            }
        });
        out
    }
}

fn summary(s: &Suppression, window: Duration) -> Alert {
    let a = &s.first;
    let mut fields = BTreeMap::new();
    fields.insert("vigil.suppressed".to_string(), FieldValue::U64(s.count));
    fields.insert(
        "vigil.suppressed_reason".to_string(),
        FieldValue::Str(s.why.to_string()),
    );
    fields.insert(
        "vigil.window_seconds".to_string(),
        FieldValue::U64(window.as_secs().max(1)),
    );
    for (k, v) in &a.output_fields {
        fields.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let mut tags = a.tags.clone();
    tags.push("vigil_suppressed".to_string());
    Alert {
        time: now_ns(),
        rule: a.rule.clone(),
        priority: a.priority,
        source: a.source.clone(),
        hostname: a.hostname.clone(),
        output: format!(
            "{} similar alert{} suppressed ({}) for rule '{}' in the last {}s; first: {}",
            s.count,
            if s.count == 1 { "" } else { "s" },
            s.why,
            a.rule,
            window.as_secs().max(1),
            a.output
        ),
        tags,
        output_fields: fields,
    }
}

/// Wall-clock ns since the epoch.
pub(crate) fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Dur;
    use vigil_event::Priority;

    fn alert(rule: &str, cid: &str, out: &str) -> Alert {
        let mut f = BTreeMap::new();
        f.insert("container.id".to_string(), FieldValue::Str(cid.into()));
        Alert {
            time: 1,
            rule: rule.into(),
            priority: Priority::Warning,
            source: "syscall".into(),
            hostname: "h".into(),
            output: out.into(),
            tags: vec![],
            output_fields: f,
        }
    }

    #[test]
    fn token_bucket_per_key_and_summary() {
        let cfg = NoiseConfig {
            rate_limits: vec![RateLimit {
                rule: "*".into(),
                key_fields: vec!["container.id".into()],
                rate: 1.0,
                burst: 2,
            }],
            summary_interval: Dur::secs(10),
            ..Default::default()
        };
        let mut n = Noise::new(&cfg);
        let t0 = Instant::now();
        let a = alert("R", "c1", "x");
        assert_eq!(n.check(&a, t0), Verdict::Pass);
        assert_eq!(n.check(&a, t0), Verdict::Pass);
        for _ in 0..5 {
            assert_eq!(n.check(&a, t0), Verdict::Suppressed);
        }
        // Another container has its own bucket.
        assert_eq!(n.check(&alert("R", "c2", "x"), t0), Verdict::Pass);
        // One token per second refills.
        assert_eq!(n.check(&a, t0 + Duration::from_millis(1000)), Verdict::Pass);
        assert_eq!(
            n.check(&a, t0 + Duration::from_millis(1000)),
            Verdict::Suppressed
        );
        assert!(
            n.tick(t0 + Duration::from_secs(5), false).is_empty(),
            "window still open"
        );
        let s = n.tick(t0 + Duration::from_secs(10), false);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].output_fields["vigil.suppressed"], FieldValue::U64(6));
        assert!(
            s[0].output
                .starts_with("6 similar alerts suppressed (rate limit) for rule 'R'"),
            "{}",
            s[0].output
        );
        assert!(n.tick(t0 + Duration::from_secs(20), false).is_empty());
    }

    #[test]
    fn dedup_window() {
        let cfg = NoiseConfig {
            dedup_window: Dur::secs(5),
            summary_interval: Dur::secs(5),
            ..Default::default()
        };
        let mut n = Noise::new(&cfg);
        let t0 = Instant::now();
        assert_eq!(n.check(&alert("R", "c", "same"), t0), Verdict::Pass);
        assert_eq!(
            n.check(&alert("R", "c", "same"), t0 + Duration::from_secs(1)),
            Verdict::Suppressed
        );
        assert_eq!(
            n.check(&alert("R", "c", "other"), t0 + Duration::from_secs(1)),
            Verdict::Pass
        );
        assert_eq!(
            n.check(&alert("R", "c", "same"), t0 + Duration::from_secs(6)),
            Verdict::Pass
        );
        let s = n.tick(t0 + Duration::from_secs(7), false);
        assert_eq!(s.len(), 1);
        assert_eq!(
            s[0].output_fields["vigil.suppressed_reason"],
            FieldValue::Str("duplicate".into())
        );
    }

    #[test]
    fn bounded_state_fails_open() {
        let cfg = NoiseConfig {
            max_keys: 2,
            rate_limits: vec![RateLimit {
                rule: "*".into(),
                key_fields: vec!["container.id".into()],
                rate: 0.001,
                burst: 1,
            }],
            ..Default::default()
        };
        let mut n = Noise::new(&cfg);
        let t0 = Instant::now();
        for c in ["a", "b", "c", "d"] {
            assert_eq!(n.check(&alert("R", c, "x"), t0), Verdict::Pass);
        }
        assert_eq!(n.overflow_passed, 2);
        assert_eq!(n.check(&alert("R", "a", "x"), t0), Verdict::Suppressed);
    }
}
