//! The `vigil.yaml` schema and its validation.
//!
//! Loading is two stages, like vector's config compiler: (1) *shape*: every section (and every
//! entry of `outputs`) is deserialized on its own with `deny_unknown_fields`, so one typo does
//! not hide the errors after it; (2) *meaning*: a pure `validate` walks the typed config and
//! checks URLs, addresses, names and referenced files. Both stages append to one error list
//! whose entries carry the YAML key path (`outputs[2].webhook.url`). CLI flags are applied to
//! the typed config by [`Config::merge_cli`] and go through the same `validate`.
//!
//! Rejected alternative: a single `serde_yaml::from_str::<Config>` stops at the first error and
//! reports a line but no key path; users fixing a config one error per run is what we avoid.

use crate::units::{Dur, Size};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use vigil_event::Priority;

/// The whole configuration file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Rules files loaded by `vigil monitor`, in order.
    #[serde(default)]
    pub rules_files: Vec<PathBuf>,
    /// Alerts below this priority are discarded before any output.
    #[serde(default = "default_min_priority")]
    pub min_priority: Priority,
    /// Overrides the hostname put into alerts produced by the pipeline itself.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Where alerts go. Missing: one `stdout` output in text format.
    #[serde(default = "default_outputs")]
    pub outputs: Vec<OutputConfig>,
    #[serde(default)]
    pub pipeline: PipelineConfig,
    #[serde(default)]
    pub noise: NoiseConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub health: HealthConfig,
    #[serde(default)]
    pub spill: SpillConfig,
}

fn default_min_priority() -> Priority {
    Priority::Debug
}

fn default_outputs() -> Vec<OutputConfig> {
    vec![OutputConfig::new(OutputKind::Stdout(
        StdoutOutput::default(),
    ))]
}

impl Default for Config {
    fn default() -> Self {
        Config {
            rules_files: Vec::new(),
            min_priority: default_min_priority(),
            hostname: None,
            outputs: default_outputs(),
            pipeline: PipelineConfig::default(),
            noise: NoiseConfig::default(),
            metrics: MetricsConfig::default(),
            health: HealthConfig::default(),
            spill: SpillConfig::default(),
        }
    }
}

/// The dispatcher between detection and the outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Capacity of the queue between `Pipeline::send` and the dispatcher. When full, `send`
    /// drops the alert (counted as `vigil_alerts_dropped_total{reason="pipeline_full"}`).
    pub queue_capacity: usize,
    /// How often dropped-alert totals are logged and raised as an internal alert (if any).
    pub drop_report_interval: Dur,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            queue_capacity: 65_536,
            drop_report_interval: Dur::secs(60),
        }
    }
}

/// One output. Exactly one of the kind keys (`stdout`, `file`, `syslog`, `webhook`,
/// `program`, `nats`) must be present.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Name used in metrics, logs and the spill directory. Default: `<kind>` or `<kind>-<i>`.
    #[serde(default)]
    pub name: Option<String>,
    /// Only alerts at least this severe reach this output.
    #[serde(default)]
    pub min_priority: Option<Priority>,
    /// If non-empty, only alerts carrying at least one of these tags reach this output.
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub queue: QueueConfig,
    #[serde(default)]
    pub retry: RetryConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<StdoutOutput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileOutput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syslog: Option<SyslogOutput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookOutput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<ProgramOutput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nats: Option<NatsOutput>,
}

/// The kind-specific part of an output, borrowed from an [`OutputConfig`].
#[derive(Clone, Debug, PartialEq)]
pub enum OutputKind {
    Stdout(StdoutOutput),
    File(FileOutput),
    Syslog(SyslogOutput),
    Webhook(WebhookOutput),
    Program(ProgramOutput),
    Nats(NatsOutput),
}

impl OutputKind {
    pub fn kind_name(&self) -> &'static str {
        match self {
            OutputKind::Stdout(_) => "stdout",
            OutputKind::File(_) => "file",
            OutputKind::Syslog(_) => "syslog",
            OutputKind::Webhook(_) => "webhook",
            OutputKind::Program(_) => "program",
            OutputKind::Nats(_) => "nats",
        }
    }

    /// Outputs whose delivery is confirmed (written, acknowledged) and so can be spilled and
    /// replayed: at-least-once.
    pub fn supports_spill(&self) -> bool {
        matches!(
            self,
            OutputKind::File(_) | OutputKind::Webhook(_) | OutputKind::Nats(_)
        )
    }
}

impl OutputConfig {
    /// An output of `kind` with every common option at its default.
    pub fn new(kind: OutputKind) -> Self {
        let mut o = OutputConfig {
            name: None,
            min_priority: None,
            tags: Vec::new(),
            queue: QueueConfig::default(),
            retry: RetryConfig::default(),
            stdout: None,
            file: None,
            syslog: None,
            webhook: None,
            program: None,
            nats: None,
        };
        match kind {
            OutputKind::Stdout(k) => o.stdout = Some(k),
            OutputKind::File(k) => o.file = Some(k),
            OutputKind::Syslog(k) => o.syslog = Some(k),
            OutputKind::Webhook(k) => o.webhook = Some(k),
            OutputKind::Program(k) => o.program = Some(k),
            OutputKind::Nats(k) => o.nats = Some(k),
        }
        o
    }

    const PLACEHOLDER: &'static str = "\u{0}unparsed";

    fn placeholder() -> Self {
        let mut o = OutputConfig::new(OutputKind::Stdout(StdoutOutput::default()));
        o.name = Some(Self::PLACEHOLDER.to_string());
        o
    }

    fn is_placeholder(&self) -> bool {
        self.name.as_deref() == Some(Self::PLACEHOLDER)
    }

    /// The kinds set on this entry (valid configs have exactly one).
    pub fn kinds(&self) -> Vec<OutputKind> {
        let mut v = Vec::new();
        if let Some(k) = &self.stdout {
            v.push(OutputKind::Stdout(k.clone()));
        }
        if let Some(k) = &self.file {
            v.push(OutputKind::File(k.clone()));
        }
        if let Some(k) = &self.syslog {
            v.push(OutputKind::Syslog(k.clone()));
        }
        if let Some(k) = &self.webhook {
            v.push(OutputKind::Webhook(k.clone()));
        }
        if let Some(k) = &self.program {
            v.push(OutputKind::Program(k.clone()));
        }
        if let Some(k) = &self.nats {
            v.push(OutputKind::Nats(k.clone()));
        }
        v
    }

    /// The single kind of a validated output.
    pub fn kind(&self) -> Option<OutputKind> {
        let mut k = self.kinds();
        if k.len() == 1 {
            k.pop()
        } else {
            None
        }
    }
}

/// Per-output bounded queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Alerts held in memory for this output.
    pub capacity: usize,
    /// What happens when the queue is full. Default: `spill` for file/webhook/nats when
    /// `spill.dir` is set, `drop_newest` otherwise.
    pub full: Option<FullPolicy>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 10_000,
            full: None,
        }
    }
}

/// Full-queue policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FullPolicy {
    /// Discard the alert being queued; counted as dropped (`reason="queue_full"`).
    DropNewest,
    /// Write it to the output's on-disk spill; replayed when the output recovers.
    Spill,
}

/// Retry schedule: exponential backoff with full jitter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    pub initial_backoff: Dur,
    pub max_backoff: Dur,
    /// Attempts per alert before it is dropped (counted). `0` = retry forever. Default: 0 for
    /// outputs with a spill, 5 otherwise.
    pub max_attempts: Option<u32>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            initial_backoff: Dur::millis(200),
            max_backoff: Dur::secs(30),
            max_attempts: None,
        }
    }
}

/// Text or Falco JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StdoutOutput {
    pub format: Format,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOutput {
    pub path: PathBuf,
    /// Rotate when the file would grow past this size. `0`: never rotate.
    #[serde(default = "default_file_max_size")]
    pub max_size: Size,
    /// Rotated files kept (`path.1` newest … `path.N`).
    #[serde(default = "default_keep")]
    pub keep: u32,
    /// `fdatasync` after every batch written (a batch is what was queued when the writer woke).
    #[serde(default)]
    pub fsync: bool,
}

fn default_file_max_size() -> Size {
    Size(100 << 20)
}
fn default_keep() -> u32 {
    5
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogOutput {
    /// `unix:/dev/log`, `udp://host:port` or `tcp://host:port`.
    #[serde(default = "default_syslog_addr")]
    pub address: String,
    #[serde(default = "default_facility")]
    pub facility: String,
    #[serde(default = "default_app_name")]
    pub app_name: String,
    /// Message body: the text output line, or the Falco JSON.
    #[serde(default)]
    pub format: Format,
}

fn default_syslog_addr() -> String {
    "unix:/dev/log".into()
}
fn default_facility() -> String {
    "local0".into()
}
fn default_app_name() -> String {
    "vigil".into()
}

/// Webhook body format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// The alert's Falco JSON as the body (what Falco's `http_output` sends).
    #[default]
    Falco,
    /// `{"text": "...", "attachments": [...]}` for Slack-compatible incoming webhooks.
    Slack,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookOutput {
    pub url: String,
    #[serde(default)]
    pub format: WebhookFormat,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Connect + request + response timeout.
    #[serde(default = "default_http_timeout")]
    pub timeout: Dur,
    /// Extra PEM CA certificates trusted for `https` (besides the built-in web PKI roots).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_http_timeout() -> Dur {
    Dur::secs(5)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramOutput {
    /// Run with `/bin/sh -c`; receives one Falco JSON alert per line on stdin.
    pub command: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsOutput {
    /// `nats://host:port`.
    pub url: String,
    pub subject: String,
    /// Wait for a JetStream PubAck for every alert (the subject must belong to a stream).
    #[serde(default)]
    pub jetstream: bool,
    #[serde(default = "default_http_timeout")]
    pub timeout: Dur,
}

/// Duplicate suppression and rate limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NoiseConfig {
    /// Alerts with the same rule and the same output line within this window are suppressed.
    /// `0s` disables dedup.
    pub dedup_window: Dur,
    /// Suppressed alerts are summarised ("N similar alerts suppressed") when their window
    /// closes, this long after the first suppression.
    pub summary_interval: Dur,
    /// Most (rule, key) states tracked; past this, new keys pass unthrottled (counted).
    pub max_keys: usize,
    pub rate_limits: Vec<RateLimit>,
}

impl Default for NoiseConfig {
    fn default() -> Self {
        NoiseConfig {
            dedup_window: Dur::secs(0),
            summary_interval: Dur::secs(60),
            max_keys: 10_000,
            rate_limits: Vec::new(),
        }
    }
}

/// A token bucket per rule (and per distinct values of `key_fields`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Rule name this limit applies to, or `*` for every rule without a more specific limit.
    pub rule: String,
    /// Output fields whose values split the bucket (e.g. `container.id`).
    #[serde(default)]
    pub key_fields: Vec<String>,
    /// Sustained alerts per second.
    pub rate: f64,
    /// Bucket size: alerts allowed in a burst.
    pub burst: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    pub enabled: bool,
    /// `host:port` of the HTTP server with `/metrics` and `/healthz`. Loopback by default.
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            listen: "127.0.0.1:9376".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// An output whose deliveries have failed with no success since, for this long, is unhealthy.
    pub output_failing_after: Dur,
    /// The event loop is stalled if it has not reported progress for this long.
    pub stall_after: Dur,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            output_failing_after: Dur::secs(60),
            stall_after: Dur::secs(30),
        }
    }
}

/// When spill files are flushed to stable storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// `fdatasync` after every spilled alert: survives power loss, slowest.
    Always,
    /// `fdatasync` at most every `fsync_interval` and when a segment is sealed.
    #[default]
    Interval,
    /// Leave it to the kernel: survives an agent crash, not a power loss.
    Never,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpillConfig {
    /// Directory for spill segments (one sub-directory per output). Unset: no spill.
    pub dir: Option<PathBuf>,
    /// Per-output cap; alerts past it are dropped (counted, `reason="spill_full"`).
    pub max_bytes: Size,
    pub segment_bytes: Size,
    pub fsync: FsyncPolicy,
    pub fsync_interval: Dur,
}

impl Default for SpillConfig {
    fn default() -> Self {
        SpillConfig {
            dir: None,
            max_bytes: Size(256 << 20),
            segment_bytes: Size(8 << 20),
            fsync: FsyncPolicy::Interval,
            fsync_interval: Dur::secs(1),
        }
    }
}

/// One problem, at a YAML key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// `outputs[2].webhook.url`, or empty for the document itself.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in a configuration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    /// The file, when loaded from one.
    pub file: Option<PathBuf>,
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        match &self.file {
            Some(p) => writeln!(
                f,
                "{}: {n} configuration error{}",
                p.display(),
                if n == 1 { "" } else { "s" }
            )?,
            None => writeln!(
                f,
                "{n} configuration error{}",
                if n == 1 { "" } else { "s" }
            )?,
        }
        for (i, e) in self.errors.iter().enumerate() {
            match &self.file {
                Some(p) => write!(f, "  {}: {e}", p.display())?,
                None => write!(f, "  {e}")?,
            }
            if i + 1 < n {
                writeln!(f)?;
            }
        }
        Ok(())
    }
}

#[derive(Default)]
struct Errs(Vec<ConfigError>);

impl Errs {
    fn push(&mut self, path: impl Into<String>, msg: impl Into<String>) {
        self.0.push(ConfigError {
            path: path.into(),
            message: msg.into(),
        });
    }
}

fn join(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_string(),
        (_, true) => prefix.to_string(),
        _ if rest.starts_with('[') => format!("{prefix}{rest}"),
        _ => format!("{prefix}.{rest}"),
    }
}

/// Deserializes `v` as `T`, recording the error (with its path under `prefix`) on failure.
fn section<T: DeserializeOwned>(v: serde_yaml::Value, prefix: &str, errs: &mut Errs) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(v) {
        Ok(t) => Some(t),
        Err(e) => {
            let inner = e.path().to_string();
            let inner = if inner == "." { String::new() } else { inner };
            errs.push(
                join(prefix, &inner),
                clean_serde_msg(&e.into_inner().to_string()),
            );
            None
        }
    }
}

/// serde_yaml appends " at line L column C" positions that refer to the re-serialized value,
/// not the user's file; drop them (the key path locates the problem).
fn clean_serde_msg(m: &str) -> String {
    match m.find(" at line ") {
        Some(i) => m[..i].to_string(),
        None => m.to_string(),
    }
}

const TOP_KEYS: &[&str] = &[
    "rules_files",
    "min_priority",
    "hostname",
    "outputs",
    "pipeline",
    "noise",
    "metrics",
    "health",
    "spill",
];

impl Config {
    /// The configuration as YAML (every key, defaults filled in).
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self)
            .unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
    }

    /// Reads and validates a configuration file; all problems are reported together.
    pub fn from_yaml_file(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
            file: Some(path.to_path_buf()),
            errors: vec![ConfigError {
                path: String::new(),
                message: format!("cannot read file: {e}"),
            }],
        })?;
        Config::from_yaml_str(&text).map_err(|mut e| {
            e.file = Some(path.to_path_buf());
            e
        })
    }

    /// Parses and validates configuration text.
    pub fn from_yaml_str(text: &str) -> Result<Config, ConfigErrors> {
        let mut errs = Errs::default();
        let doc: serde_yaml::Value = match serde_yaml::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                let msg = match e.location() {
                    Some(l) => format!(
                        "YAML syntax error at line {} column {}: {e}",
                        l.line(),
                        l.column()
                    ),
                    None => format!("YAML syntax error: {e}"),
                };
                return Err(ConfigErrors {
                    file: None,
                    errors: vec![ConfigError {
                        path: String::new(),
                        message: msg,
                    }],
                });
            }
        };
        let mut cfg = Config::default();
        let map = match doc {
            serde_yaml::Value::Null => serde_yaml::Mapping::new(),
            serde_yaml::Value::Mapping(m) => m,
            _ => {
                errs.push("", "the configuration must be a mapping of keys to values");
                return Err(ConfigErrors {
                    file: None,
                    errors: errs.0,
                });
            }
        };
        for (k, v) in map {
            let key = match k {
                serde_yaml::Value::String(s) => s,
                other => {
                    errs.push("", format!("keys must be strings, found {other:?}"));
                    continue;
                }
            };
            match key.as_str() {
                "rules_files" => {
                    if let Some(x) = section(v, "rules_files", &mut errs) {
                        cfg.rules_files = x;
                    }
                }
                "min_priority" => {
                    if let Some(x) = section(v, "min_priority", &mut errs) {
                        cfg.min_priority = x;
                    }
                }
                "hostname" => {
                    if let Some(x) = section(v, "hostname", &mut errs) {
                        cfg.hostname = x;
                    }
                }
                "outputs" => match v {
                    serde_yaml::Value::Sequence(items) => {
                        let mut outs = Vec::new();
                        for (i, item) in items.into_iter().enumerate() {
                            match section::<OutputConfig>(item, &format!("outputs[{i}]"), &mut errs)
                            {
                                Some(o) => outs.push(o),
                                // Keep indices aligned so later entries are still checked
                                // under their own path; the error is already recorded.
                                None => outs.push(OutputConfig::placeholder()),
                            }
                        }
                        cfg.outputs = outs;
                    }
                    _ => errs.push("outputs", "expected a list of outputs"),
                },
                "pipeline" => {
                    if let Some(x) = section(v, "pipeline", &mut errs) {
                        cfg.pipeline = x;
                    }
                }
                "noise" => {
                    if let Some(x) = section(v, "noise", &mut errs) {
                        cfg.noise = x;
                    }
                }
                "metrics" => {
                    if let Some(x) = section(v, "metrics", &mut errs) {
                        cfg.metrics = x;
                    }
                }
                "health" => {
                    if let Some(x) = section(v, "health", &mut errs) {
                        cfg.health = x;
                    }
                }
                "spill" => {
                    if let Some(x) = section(v, "spill", &mut errs) {
                        cfg.spill = x;
                    }
                }
                other => errs.push(
                    other,
                    format!("unknown key (expected one of {})", TOP_KEYS.join(", ")),
                ),
            }
        }
        cfg.validate_into(&mut errs);
        if errs.0.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigErrors {
                file: None,
                errors: errs.0,
            })
        }
    }

    /// Checks meaning: addresses, URLs, names, referenced files. Pure except that it reads
    /// referenced files (rules, CA) to prove they are readable.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errs = Errs::default();
        self.validate_into(&mut errs);
        if errs.0.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors {
                file: None,
                errors: errs.0,
            })
        }
    }

    fn validate_into(&self, errs: &mut Errs) {
        for (i, p) in self.rules_files.iter().enumerate() {
            if let Err(e) = std::fs::File::open(p).and_then(|f| f.metadata()) {
                errs.push(
                    format!("rules_files[{i}]"),
                    format!("cannot read '{}': {e}", p.display()),
                );
            } else if p.is_dir() {
                errs.push(
                    format!("rules_files[{i}]"),
                    format!("'{}' is a directory, expected a file", p.display()),
                );
            }
        }
        if self.outputs.is_empty() {
            errs.push("outputs", "at least one output is required");
        }
        if self.pipeline.queue_capacity == 0 {
            errs.push("pipeline.queue_capacity", "must be at least 1");
        }
        if self.pipeline.drop_report_interval.0.is_zero() {
            errs.push("pipeline.drop_report_interval", "must be greater than 0s");
        }
        let mut names = HashSet::new();
        for (i, o) in self.outputs.iter().enumerate() {
            if o.is_placeholder() {
                continue;
            }
            let at = format!("outputs[{i}]");
            let kinds = o.kinds();
            if kinds.len() != 1 {
                errs.push(
                    &at,
                    format!(
                        "exactly one of stdout, file, syslog, webhook, program, nats must be set (found {})",
                        if kinds.is_empty() { "none".to_string() } else { kinds.iter().map(|k| k.kind_name()).collect::<Vec<_>>().join(", ") }
                    ),
                );
                continue;
            }
            let kind = &kinds[0];
            let name = self.output_name(i);
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                || name.starts_with('.')
            {
                errs.push(
                    format!("{at}.name"),
                    format!("invalid name '{name}' (use letters, digits, '-', '_', '.')"),
                );
            } else if !names.insert(name.clone()) {
                errs.push(
                    format!("{at}.name"),
                    format!("duplicate output name '{name}'"),
                );
            }
            if o.queue.capacity == 0 {
                errs.push(format!("{at}.queue.capacity"), "must be at least 1");
            }
            if o.queue.full == Some(FullPolicy::Spill) {
                if !kind.supports_spill() {
                    errs.push(
                        format!("{at}.queue.full"),
                        format!(
                            "spill is only available for file, webhook and nats outputs, not {}",
                            kind.kind_name()
                        ),
                    );
                } else if self.spill.dir.is_none() {
                    errs.push(
                        format!("{at}.queue.full"),
                        "spill requires spill.dir to be set",
                    );
                }
            }
            if o.retry.initial_backoff.0.is_zero() {
                errs.push(
                    format!("{at}.retry.initial_backoff"),
                    "must be greater than 0s",
                );
            }
            if o.retry.max_backoff < o.retry.initial_backoff {
                errs.push(
                    format!("{at}.retry.max_backoff"),
                    "must not be less than initial_backoff",
                );
            }
            match kind {
                OutputKind::Stdout(_) => {}
                OutputKind::File(f) => {
                    let p = format!("{at}.file.path");
                    if f.path.as_os_str().is_empty() {
                        errs.push(p, "must not be empty");
                    } else if f.path.is_dir() {
                        errs.push(p, format!("'{}' is a directory", f.path.display()));
                    } else {
                        let parent = f
                            .path
                            .parent()
                            .filter(|p| !p.as_os_str().is_empty())
                            .unwrap_or(Path::new("."));
                        if !parent.is_dir() {
                            errs.push(
                                p,
                                format!("directory '{}' does not exist", parent.display()),
                            );
                        }
                    }
                    if f.max_size.0 != 0 && f.max_size.0 < 4096 {
                        errs.push(
                            format!("{at}.file.max_size"),
                            "must be 0 (no rotation) or at least 4096 bytes",
                        );
                    }
                }
                OutputKind::Syslog(s) => {
                    if let Err(e) = parse_syslog_address(&s.address) {
                        errs.push(format!("{at}.syslog.address"), e);
                    }
                    if facility_code(&s.facility).is_none() {
                        errs.push(
                            format!("{at}.syslog.facility"),
                            format!("unknown facility '{}' (expected kern, user, daemon, auth, syslog, local0..local7, ...)", s.facility),
                        );
                    }
                    if s.app_name.is_empty()
                        || s.app_name.len() > 48
                        || !s.app_name.bytes().all(|b| (33..=126).contains(&b))
                    {
                        errs.push(
                            format!("{at}.syslog.app_name"),
                            "must be 1-48 printable ASCII characters without spaces (RFC 5424)",
                        );
                    }
                }
                OutputKind::Webhook(w) => {
                    if let Err(e) = crate::outputs::http::HttpUrl::parse(&w.url) {
                        errs.push(
                            format!("{at}.webhook.url"),
                            format!("invalid URL '{}': {e}", w.url),
                        );
                    }
                    for (k, v) in &w.headers {
                        if k.is_empty()
                            || !k.bytes().all(|b| {
                                b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
                            })
                        {
                            errs.push(format!("{at}.webhook.headers.{k}"), "invalid header name");
                        }
                        if v.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                            errs.push(
                                format!("{at}.webhook.headers.{k}"),
                                "header value must not contain CR, LF or NUL",
                            );
                        }
                    }
                    if w.timeout.0.is_zero() {
                        errs.push(format!("{at}.webhook.timeout"), "must be greater than 0s");
                    }
                    if let Some(ca) = &w.ca_file {
                        if let Err(e) = crate::outputs::http::load_ca_file(ca) {
                            errs.push(format!("{at}.webhook.ca_file"), e);
                        }
                    }
                }
                OutputKind::Program(p) => {
                    if p.command.trim().is_empty() {
                        errs.push(format!("{at}.program.command"), "must not be empty");
                    }
                }
                OutputKind::Nats(n) => {
                    if let Err(e) = crate::outputs::nats::parse_nats_url(&n.url) {
                        errs.push(
                            format!("{at}.nats.url"),
                            format!("invalid URL '{}': {e}", n.url),
                        );
                    }
                    if let Err(e) = crate::outputs::nats::check_subject(&n.subject) {
                        errs.push(format!("{at}.nats.subject"), e);
                    }
                    if n.timeout.0.is_zero() {
                        errs.push(format!("{at}.nats.timeout"), "must be greater than 0s");
                    }
                }
            }
        }
        for (i, r) in self.noise.rate_limits.iter().enumerate() {
            let at = format!("noise.rate_limits[{i}]");
            if r.rule.is_empty() {
                errs.push(format!("{at}.rule"), "must be a rule name or '*'");
            }
            if !(r.rate.is_finite() && r.rate > 0.0) {
                errs.push(
                    format!("{at}.rate"),
                    "must be a positive number of alerts per second",
                );
            }
            if r.burst == 0 {
                errs.push(format!("{at}.burst"), "must be at least 1");
            }
        }
        if self.noise.summary_interval.0.is_zero() {
            errs.push("noise.summary_interval", "must be greater than 0s");
        }
        if self.metrics.enabled {
            if let Err(e) = self.metrics.listen.parse::<SocketAddr>() {
                errs.push(
                    "metrics.listen",
                    format!(
                        "invalid address '{}': {e} (expected ip:port)",
                        self.metrics.listen
                    ),
                );
            }
        }
        if self.health.output_failing_after.0.is_zero() {
            errs.push("health.output_failing_after", "must be greater than 0s");
        }
        if self.health.stall_after.0.is_zero() {
            errs.push("health.stall_after", "must be greater than 0s");
        }
        if let Some(d) = &self.spill.dir {
            if d.exists() && !d.is_dir() {
                errs.push(
                    "spill.dir",
                    format!("'{}' exists and is not a directory", d.display()),
                );
            } else if !d.exists() {
                let parent = d
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                if !parent.is_dir() {
                    errs.push(
                        "spill.dir",
                        format!("neither '{}' nor its parent directory exists", d.display()),
                    );
                }
            }
        }
        if self.spill.segment_bytes.0 < 4096 {
            errs.push("spill.segment_bytes", "must be at least 4096 bytes");
        }
        if self.spill.max_bytes < self.spill.segment_bytes {
            errs.push("spill.max_bytes", "must be at least spill.segment_bytes");
        }
    }

    /// The name of output `i`: its `name`, or its kind (suffixed with the index when the kind
    /// appears more than once).
    pub fn output_name(&self, i: usize) -> String {
        let o = &self.outputs[i];
        if let Some(n) = &o.name {
            return n.clone();
        }
        let kind = o.kinds().first().map(|k| k.kind_name()).unwrap_or("output");
        let same = self
            .outputs
            .iter()
            .filter(|x| x.name.is_none() && x.kinds().first().map(|k| k.kind_name()) == Some(kind))
            .count();
        if same > 1 {
            format!("{kind}-{i}")
        } else {
            kind.to_string()
        }
    }

    /// Applies command-line overrides and re-validates with the same rules as the file.
    /// Errors about overridden keys name the flag that set them.
    pub fn merge_cli(mut self, cli: &CliOverrides) -> Result<Config, ConfigErrors> {
        let mut errs = Errs::default();
        let mut flags: Vec<(&str, &str)> = Vec::new();
        if !cli.rules_files.is_empty() {
            self.rules_files = cli.rules_files.clone();
            flags.push(("rules_files", "--rules"));
        }
        if let Some(p) = &cli.min_priority {
            match p.parse::<Priority>() {
                Ok(p) => self.min_priority = p,
                Err(e) => errs.push("min_priority (set by --min-priority)", e.to_string()),
            }
        }
        if let Some(f) = &cli.stdout_format {
            let fmt = match f.as_str() {
                "text" => Some(Format::Text),
                "json" => Some(Format::Json),
                _ => {
                    errs.push(
                        "outputs (set by --json)",
                        format!("unknown format '{f}' (expected text or json)"),
                    );
                    None
                }
            };
            if let Some(fmt) = fmt {
                let mut found = false;
                for o in &mut self.outputs {
                    if let Some(s) = &mut o.stdout {
                        s.format = fmt;
                        found = true;
                    }
                }
                if !found {
                    self.outputs
                        .push(OutputConfig::new(OutputKind::Stdout(StdoutOutput {
                            format: fmt,
                        })));
                }
            }
        }
        if let Some(l) = &cli.metrics_listen {
            self.metrics.listen = l.clone();
            self.metrics.enabled = true;
            flags.push(("metrics.listen", "--metrics-listen"));
        }
        if cli.no_metrics {
            self.metrics.enabled = false;
        }
        if let Some(d) = &cli.spill_dir {
            self.spill.dir = Some(d.clone());
            flags.push(("spill.dir", "--spill-dir"));
        }
        self.validate_into(&mut errs);
        for e in &mut errs.0 {
            if let Some((_, flag)) = flags
                .iter()
                .find(|(k, _)| e.path == *k || e.path.starts_with(&format!("{k}[")))
            {
                e.path = format!("{} (set by {flag})", e.path);
            }
        }
        if errs.0.is_empty() {
            Ok(self)
        } else {
            Err(ConfigErrors {
                file: None,
                errors: errs.0,
            })
        }
    }
}

/// Command-line flags that override `vigil.yaml` (what `vigil monitor` exposes).
#[derive(Clone, Debug, Default)]
pub struct CliOverrides {
    /// `--rules FILE` (repeatable): replaces `rules_files`.
    pub rules_files: Vec<PathBuf>,
    /// `--min-priority P`.
    pub min_priority: Option<String>,
    /// `text` or `json` (`--json`): format of the stdout output (added if there is none).
    pub stdout_format: Option<String>,
    /// `--metrics-listen ADDR`.
    pub metrics_listen: Option<String>,
    /// `--no-metrics`.
    pub no_metrics: bool,
    /// `--spill-dir DIR`.
    pub spill_dir: Option<PathBuf>,
}

/// A parsed syslog destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyslogAddr {
    Unix(PathBuf),
    Udp(String),
    Tcp(String),
}

/// Parses `unix:/path`, `udp://host:port`, `tcp://host:port`.
pub fn parse_syslog_address(s: &str) -> Result<SyslogAddr, String> {
    let hostport = |rest: &str| -> Result<String, String> {
        match rest.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p != 0) => {
                Ok(rest.to_string())
            }
            _ => Err(format!(
                "invalid address '{s}': expected host:port after the scheme"
            )),
        }
    };
    if let Some(p) = s
        .strip_prefix("unix://")
        .or_else(|| s.strip_prefix("unix:"))
    {
        if p.is_empty() || !p.starts_with('/') {
            return Err(format!(
                "invalid address '{s}': unix socket path must be absolute"
            ));
        }
        Ok(SyslogAddr::Unix(PathBuf::from(p)))
    } else if let Some(r) = s.strip_prefix("udp://") {
        hostport(r).map(SyslogAddr::Udp)
    } else if let Some(r) = s.strip_prefix("tcp://") {
        hostport(r).map(SyslogAddr::Tcp)
    } else {
        Err(format!(
            "invalid address '{s}': expected unix:/path, udp://host:port or tcp://host:port"
        ))
    }
}

/// RFC 5424 facility number for a name.
pub fn facility_code(name: &str) -> Option<u8> {
    Some(match name {
        "kern" => 0,
        "user" => 1,
        "mail" => 2,
        "daemon" => 3,
        "auth" => 4,
        "syslog" => 5,
        "lpr" => 6,
        "news" => 7,
        "uucp" => 8,
        "cron" => 9,
        "authpriv" => 10,
        "ftp" => 11,
        "local0" => 16,
        "local1" => 17,
        "local2" => 18,
        "local3" => 19,
        "local4" => 20,
        "local5" => 21,
        "local6" => 22,
        "local7" => 23,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(yaml: &str) -> Vec<String> {
        match Config::from_yaml_str(yaml) {
            Ok(_) => Vec::new(),
            Err(e) => e.errors.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn empty_document_is_default() {
        let c = Config::from_yaml_str("").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.outputs.len(), 1);
        assert_eq!(c.output_name(0), "stdout");
    }

    #[test]
    fn full_example_parses() {
        let y = r#"
min_priority: warning
outputs:
  - stdout: {format: json}
  - name: audit
    file: {path: /tmp/vigil-cfg-test.jsonl, max_size: 10MiB, keep: 3}
  - syslog: {address: "udp://127.0.0.1:514", facility: local3}
  - webhook:
      url: https://hooks.example.com/x
      format: slack
      headers: {Authorization: "Bearer t"}
      timeout: 2s
  - program: {command: "cat > /dev/null"}
  - nats: {url: "nats://127.0.0.1:4222", subject: vigil.alerts, jetstream: true}
noise:
  dedup_window: 10s
  rate_limits:
    - {rule: "*", key_fields: [container.id], rate: 0.5, burst: 5}
metrics: {listen: "127.0.0.1:0"}
"#;
        let c = Config::from_yaml_str(y).unwrap();
        assert_eq!(c.min_priority, Priority::Warning);
        assert_eq!(c.outputs.len(), 6);
        assert_eq!(c.output_name(1), "audit");
        assert_eq!(c.output_name(3), "webhook");
        assert_eq!(c.outputs[1].file.as_ref().unwrap().max_size, Size(10 << 20));
    }

    #[test]
    fn all_errors_with_key_paths() {
        let y = r#"
min_priorty: warning
outputs:
  - stdout: {format: xml}
  - webhook: {url: "htp:/nowhere"}
  - webhook: {url: "http://ok:80/", colour: red}
  - file: {path: /nonexistent-dir-vigil/x.log}
  - {}
  - stdout: {}
    file: {path: /tmp/x}
metrics: {listen: "localhost"}
"#;
        let e = errs(y);
        let joined = e.join("\n");
        assert!(joined.contains("min_priorty: unknown key"), "{joined}");
        assert!(
            joined.contains("outputs[0].stdout.format: unknown variant `xml`"),
            "{joined}"
        );
        assert!(
            joined.contains("outputs[1].webhook.url: invalid URL 'htp:/nowhere'"),
            "{joined}"
        );
        assert!(
            joined.contains("outputs[2].webhook.colour: unknown field `colour`"),
            "{joined}"
        );
        assert!(
            joined.contains(
                "outputs[3].file.path: directory '/nonexistent-dir-vigil' does not exist"
            ),
            "{joined}"
        );
        assert!(joined.contains("outputs[4]: exactly one of"), "{joined}");
        assert!(
            joined.contains("outputs[5]: exactly one of") && joined.contains("found stdout, file"),
            "{joined}"
        );
        assert!(
            joined.contains("metrics.listen: invalid address 'localhost'"),
            "{joined}"
        );
        assert_eq!(e.len(), 8, "{joined}");
    }

    #[test]
    fn semantic_checks() {
        let e = errs("rules_files: [/nonexistent/rules.yaml]\nspill: {dir: /nonexistent/a/b}\noutputs:\n  - stdout: {}\n    queue: {full: spill}\n  - nats: {url: 'http://x:1', subject: 'a b'}\n  - syslog: {address: 'udp://nohost', facility: local9}\n  - name: x\n    stdout: {}\n  - name: x\n    stdout: {}\nnoise: {rate_limits: [{rule: '*', rate: 0, burst: 0}]}\n");
        let j = e.join("\n");
        for want in [
            "rules_files[0]: cannot read '/nonexistent/rules.yaml'",
            "spill.dir: neither",
            "outputs[0].queue.full: spill is only available",
            "outputs[1].nats.url: invalid URL",
            "outputs[1].nats.subject:",
            "outputs[2].syslog.address:",
            "outputs[2].syslog.facility: unknown facility 'local9'",
            "outputs[4].name: duplicate output name 'x'",
            "noise.rate_limits[0].rate:",
            "noise.rate_limits[0].burst:",
        ] {
            assert!(j.contains(want), "missing '{want}' in:\n{j}");
        }
    }

    #[test]
    fn syntax_error_has_line() {
        let e = errs("outputs:\n  - stdout: {format: json\n");
        assert_eq!(e.len(), 1);
        assert!(e[0].contains("line"), "{}", e[0]);
    }

    #[test]
    fn cli_shares_validation() {
        let c = Config::default();
        let bad = c.clone().merge_cli(&CliOverrides {
            metrics_listen: Some("nope".into()),
            min_priority: Some("loud".into()),
            ..Default::default()
        });
        let e = bad.unwrap_err().to_string();
        assert!(
            e.contains("metrics.listen (set by --metrics-listen): invalid address 'nope'"),
            "{e}"
        );
        assert!(e.contains("--min-priority"), "{e}");
        let ok = c
            .merge_cli(&CliOverrides {
                stdout_format: Some("json".into()),
                min_priority: Some("error".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(ok.outputs[0].stdout.as_ref().unwrap().format, Format::Json);
        assert_eq!(ok.min_priority, Priority::Error);
    }

    #[test]
    fn syslog_addresses() {
        assert_eq!(
            parse_syslog_address("unix:/dev/log").unwrap(),
            SyslogAddr::Unix("/dev/log".into())
        );
        assert_eq!(
            parse_syslog_address("udp://127.0.0.1:514").unwrap(),
            SyslogAddr::Udp("127.0.0.1:514".into())
        );
        assert_eq!(
            parse_syslog_address("tcp://[::1]:601").unwrap(),
            SyslogAddr::Tcp("[::1]:601".into())
        );
        assert!(parse_syslog_address("tcp://host").is_err());
        assert!(parse_syslog_address("unix:rel").is_err());
    }
}
