//! Throughput of the alert pipeline: alerts/s through stdout-JSON (to /dev/null) and the
//! file output, end to end (send → dispatcher → JSON → output worker → write), printed.
//! Run: `cargo bench -p vigil-output --bench throughput` (N via VIGIL_BENCH_ALERTS).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use vigil_event::{Alert, FieldValue, Priority};
use vigil_output::config::Format;
use vigil_output::outputs::{stdout::StdoutSink, Sink};
use vigil_output::{Config, Metrics, Pipeline};

fn alert(i: u64) -> Alert {
    let mut f = BTreeMap::new();
    f.insert(
        "container.id".to_string(),
        FieldValue::Str("3ad7b26ded6d".into()),
    );
    f.insert("container.name".to_string(), FieldValue::Str("web".into()));
    f.insert("evt.num".to_string(), FieldValue::U64(i));
    f.insert(
        "proc.cmdline".to_string(),
        FieldValue::Str("bash -i".into()),
    );
    f.insert("proc.name".to_string(), FieldValue::Str("bash".into()));
    f.insert("proc.pid".to_string(), FieldValue::U64(4242));
    f.insert("user.name".to_string(), FieldValue::Str("root".into()));
    Alert {
        time: 1_700_000_000_000_000_000 + i,
        rule: "Terminal shell in container".into(),
        priority: Priority::Notice,
        source: "syscall".into(),
        hostname: "bench-host".into(),
        output: format!("A shell was spawned in a container with an attached terminal (user=root shell=bash parent=runc cmdline=bash -i pid=4242 container_id=3ad7b26ded6d evt={i})"),
        tags: vec!["container".into(), "shell".into(), "mitre_execution".into()],
        output_fields: f,
    }
}

/// User + system CPU seconds of this process.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass and has no other effects.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF is a valid `who`.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn run(
    label: &str,
    yaml: &str,
    sinks: BTreeMap<usize, Box<dyn Sink>>,
    names: &[(&str, &'static str)],
    n: u64,
) {
    let cfg = Config::from_yaml_str(yaml).unwrap_or_else(|e| panic!("{e}"));
    let m = Metrics::new();
    let p = Pipeline::start_with_sinks(&cfg, m.clone(), sinks).expect("start");
    let alerts: Vec<Alert> = (0..n).map(alert).collect();
    let c0 = cpu_seconds();
    let t0 = Instant::now();
    for a in alerts {
        p.send(a);
    }
    let sent_at = t0.elapsed();
    let stats: Vec<_> = names
        .iter()
        .map(|(name, kind)| m.output(name, kind))
        .collect();
    while stats
        .iter()
        .any(|s| s.sent.load(Relaxed) + s.dropped_total() < n)
    {
        std::thread::sleep(Duration::from_millis(1));
        if t0.elapsed() > Duration::from_secs(120) {
            break;
        }
    }
    let dt = t0.elapsed();
    let cpu = cpu_seconds() - c0;
    let dropped: u64 =
        stats.iter().map(|s| s.dropped_total()).sum::<u64>() + m.pipeline_dropped_total();
    println!(
        "{label:<30} {n} alerts in {:>6.3} s = {:>8.0} alerts/s wall; CPU {:.2} us/alert = {:>8.0} alerts per CPU-second (send loop {:.3} s), dropped {dropped}",
        dt.as_secs_f64(),
        n as f64 / dt.as_secs_f64(),
        cpu * 1e6 / n as f64,
        n as f64 / cpu,
        sent_at.as_secs_f64()
    );
    p.shutdown(Duration::from_secs(10));
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: u64 = std::env::var("VIGIL_BENCH_ALERTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500_000);
    let dir = std::env::temp_dir().join(format!("vigil-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("alerts.jsonl");
    let common = "metrics: {enabled: false}\npipeline: {queue_capacity: 1048576}\n";
    let devnull = || -> Box<dyn Sink> {
        Box::new(StdoutSink::with_writer(
            Format::Json,
            Box::new(std::fs::File::create("/dev/null").unwrap()),
        ))
    };
    let sample = alert(1).to_json();
    println!(
        "alert JSON size: {} bytes; {} cores",
        sample.len(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    let mut s = BTreeMap::new();
    s.insert(0, devnull());
    run(
        "stdout json -> /dev/null",
        &format!(
            "{common}outputs:\n  - stdout: {{format: json}}\n    queue: {{capacity: 1048576}}\n"
        ),
        s,
        &[("stdout", "stdout")],
        n,
    );

    run(
        "file (JSONL, rotation at 1GiB)",
        &format!("{common}outputs:\n  - file: {{path: {}, max_size: 1GiB}}\n    queue: {{capacity: 1048576}}\n", file.display()),
        BTreeMap::new(),
        &[("file", "file")],
        n,
    );
    let _ = std::fs::remove_file(&file);

    let mut s = BTreeMap::new();
    s.insert(0, devnull());
    run(
        "stdout json + file together",
        &format!(
            "{common}outputs:\n  - stdout: {{format: json}}\n    queue: {{capacity: 1048576}}\n  - file: {{path: {}, max_size: 1GiB}}\n    queue: {{capacity: 1048576}}\n",
            file.display()
        ),
        s,
        &[("stdout", "stdout"), ("file", "file")],
        n,
    );
    let _ = std::fs::remove_dir_all(&dir);
}
