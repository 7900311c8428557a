//! vigil's alert delivery: the `vigil.yaml` configuration, the output pipeline (stdout, file,
//! syslog, webhook, program, NATS) with bounded queues, retries, on-disk spill and noise
//! control, and the metrics registry with its Prometheus/health HTTP endpoint.
//!
//! ```no_run
//! # use vigil_output::{Config, Metrics, Pipeline};
//! # use std::time::Duration;
//! let cfg = Config::from_yaml_file("vigil.yaml".as_ref()).unwrap_or_else(|e| panic!("{e}"));
//! let metrics = Metrics::new();
//! let pipeline = Pipeline::start(&cfg, metrics.clone()).expect("start");
//! // pipeline.send(alert) for each alert; metrics.add_events_received(..) per event batch.
//! pipeline.shutdown(Duration::from_secs(5));
//! ```
//!
//! - [`config`]: schema, validation with key paths, CLI overrides.
//! - [`pipeline`]: dispatcher, per-output workers, reload/reopen/shutdown.
//! - [`outputs`]: the sinks.
//! - [`spill`]: the on-disk buffer for at-least-once outputs.
//! - [`noise`]: dedup and rate limits with summary alerts.
//! - [`metrics`], [`server`]: counters, Prometheus text, `/healthz`.

pub mod config;
pub mod metrics;
pub mod noise;
pub mod outputs;
pub mod pipeline;
pub mod server;
pub mod spill;
pub mod units;

pub use config::{CliOverrides, Config, ConfigError, ConfigErrors};
pub use metrics::Metrics;
pub use pipeline::{Pipeline, PipelineError, ShutdownReport};
