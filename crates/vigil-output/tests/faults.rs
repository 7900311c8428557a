//! Fault tests against real servers: outages under a steady alert stream, a pipeline restart
//! during an outage (spill replay), a slow receiver that must not delay other outputs,
//! drop accounting, reload, and noise control end to end.
//!
//! Outages last 30 s, as the issue asks (`VIGIL_TEST_OUTAGE_SECS` shortens them for local
//! iteration); the stream keeps running at 200 alerts/s throughout, so about 6,000 alerts go
//! through the spill while both servers are down.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil_output::{Config, Metrics, Pipeline};

/// Spill segment files of an output (the `.lock` file is not one).
fn segments(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("seg-"))
                .count()
        })
        .unwrap_or(0)
}

fn ids(bodies: &[Vec<u8>]) -> BTreeSet<u64> {
    bodies.iter().filter_map(|b| id_of(b)).collect()
}

/// Sends alerts at ~`rate`/s from a thread until stopped; returns how many were sent.
fn stream(
    p: Arc<Pipeline>,
    rate: u64,
    stop: Arc<AtomicBool>,
    next: Arc<AtomicU64>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let gap = Duration::from_micros(1_000_000 / rate);
        while !stop.load(Ordering::Relaxed) {
            let id = next.fetch_add(1, Ordering::Relaxed);
            p.send(alert(id));
            std::thread::sleep(gap);
        }
    })
}

#[test]
fn outage_of_nats_and_webhook_loses_nothing() {
    let Some(mut nats) = Nats::start(true) else {
        return;
    };
    nats.create_stream("VIGIL", "vigil.alerts");
    let mut rx = Receiver::start();
    let spill = tempdir("outage-spill");
    let m = Metrics::new();
    let cfg = Config::from_yaml_str(&format!(
        "metrics: {{enabled: false}}\nspill: {{dir: {}}}\noutputs:\n  - nats: {{url: '{}', subject: vigil.alerts, jetstream: true, timeout: 2s}}\n    retry: {{initial_backoff: 100ms, max_backoff: 1s}}\n    queue: {{capacity: 100}}\n  - webhook: {{url: '{}', timeout: 2s}}\n    retry: {{initial_backoff: 100ms, max_backoff: 1s}}\n    queue: {{capacity: 100}}\n",
        spill.display(),
        nats.url(),
        rx.url("/hook")
    ))
    .unwrap();
    let p = Arc::new(Pipeline::start(&cfg, m.clone()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(0));
    let t = stream(p.clone(), 200, stop.clone(), next.clone());
    std::thread::sleep(Duration::from_secs(2));
    let outage = outage();
    eprintln!("outage of {outage:?} starts");
    nats.stop();
    rx.stop();
    std::thread::sleep(outage);
    nats.restart();
    rx.restart();
    eprintln!("servers back");
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    t.join().unwrap();
    let n = next.load(Ordering::Relaxed);
    let all: BTreeSet<u64> = (0..n).collect();
    let ok = wait_until(Duration::from_secs(60), || {
        ids(&rx.bodies()).len() as u64 == n
    });
    assert!(ok, "webhook got {} of {n}", ids(&rx.bodies()).len());
    assert_eq!(ids(&rx.bodies()), all, "webhook: every alert at least once");
    let ok = wait_until(Duration::from_secs(60), || {
        m.render_prometheus()
            .contains("vigil_output_spill_bytes{output=\"nats\",type=\"nats\"} 0")
            && m.outputs_idle()
    });
    assert!(ok, "nats output did not drain:\n{}", m.render_prometheus());
    let stored = nats.stream_messages("VIGIL");
    assert_eq!(ids(&stored), all, "nats: every alert at least once");
    let prom = m.render_prometheus();
    assert!(prom.contains("vigil_pipeline_dropped_total 0"), "{prom}");
    for o in ["nats", "webhook"] {
        for reason in [
            "queue_full",
            "spill_full",
            "rejected",
            "retries_exhausted",
            "shutdown",
        ] {
            let line = format!(
                "vigil_output_dropped_total{{output=\"{o}\",type=\"{o}\",reason=\"{reason}\"}} 0"
            );
            assert!(prom.contains(&line), "expected {line}\n{prom}");
        }
    }
    let spilled: u64 = prom
        .lines()
        .filter(|l| l.starts_with("vigil_output_spilled_total"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(
        spilled > 0,
        "the outage must have gone through the spill:\n{prom}"
    );
    eprintln!("{n} alerts, {} webhook requests, {} JetStream messages (duplicates allowed), {spilled} spilled", rx.bodies().len(), stored.len());
    match Arc::try_unwrap(p) {
        Ok(p) => {
            p.shutdown(Duration::from_secs(5));
        }
        Err(_) => panic!("pipeline still shared"),
    }
    let _ = std::fs::remove_dir_all(&spill);
}

#[test]
fn restart_during_outage_replays_spill() {
    let mut rx = Receiver::start();
    rx.stop(); // receiver down from the start
    let spill = tempdir("restart-spill");
    let yaml = format!(
        "metrics: {{enabled: false}}\nspill: {{dir: {}, fsync: always}}\noutputs:\n  - webhook: {{url: '{}', timeout: 1s}}\n    retry: {{initial_backoff: 100ms, max_backoff: 500ms}}\n    queue: {{capacity: 50}}\n",
        spill.display(),
        rx.url("/")
    );
    let cfg = Config::from_yaml_str(&yaml).unwrap();
    let n = 500;
    let m1 = Metrics::new();
    let p1 = Pipeline::start(&cfg, m1.clone()).unwrap();
    for i in 0..n {
        p1.send(alert(i));
        if i % 50 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    std::thread::sleep(Duration::from_secs(1));
    let rep = p1.shutdown(Duration::from_millis(500));
    assert_eq!(rep.dropped, 0, "{rep:?}");
    let seg_count = segments(&spill.join("webhook"));
    assert!(seg_count > 0, "alerts are on disk");
    assert!(rx.bodies().is_empty());

    // "Agent restart": a new pipeline on the same spill directory, receiver back.
    rx.restart();
    let m2 = Metrics::new();
    let p2 = Pipeline::start(&cfg, m2.clone()).unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || ids(&rx.bodies()).len()
            == n as usize),
        "got {}",
        ids(&rx.bodies()).len()
    );
    assert_eq!(ids(&rx.bodies()), (0..n).collect::<BTreeSet<_>>());
    // Bodies are byte-exact after the disk round trip.
    for b in rx.bodies() {
        assert_eq!(b, alert(id_of(&b).unwrap()).to_json().into_bytes());
    }
    assert!(
        wait_until(Duration::from_secs(5), || segments(&spill.join("webhook"))
            == 0),
        "spill emptied"
    );
    p2.shutdown(Duration::from_secs(5));
    let _ = std::fs::remove_dir_all(&spill);
}

#[test]
fn slow_webhook_does_not_delay_file_output() {
    let rx = Receiver::start();
    *rx.delay.lock().unwrap() = Duration::from_secs(5);
    let dir = tempdir("slow");
    let path = dir.join("a.jsonl");
    let cfg = Config::from_yaml_str(&format!(
        "metrics: {{enabled: false}}\noutputs:\n  - webhook: {{url: '{}', timeout: 10s}}\n    queue: {{capacity: 10}}\n  - file: {{path: {}}}\n",
        rx.url("/"),
        path.display()
    ))
    .unwrap();
    let m = Metrics::new();
    let p = Pipeline::start(&cfg, m.clone()).unwrap();
    let t0 = Instant::now();
    for i in 0..200 {
        p.send(alert(i));
    }
    assert!(
        wait_until(Duration::from_secs(3), || read_lines(&path).len() == 200),
        "file output stalled behind the slow webhook"
    );
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(2), "file output took {took:?}");
    assert!(
        rx.bodies().is_empty(),
        "the webhook is still sleeping on its first request"
    );
    // The webhook's own queue overflowed and that is counted, not silent.
    let prom = m.render_prometheus();
    let dropped: u64 = prom
        .lines()
        .find(|l| l.starts_with("vigil_output_dropped_total{output=\"webhook\",type=\"webhook\",reason=\"queue_full\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(dropped >= 180, "{prom}");
    p.shutdown(Duration::from_millis(100));
    let _ = std::fs::remove_dir_all(&dir);
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Helper process for `slow_webhook_does_not_delay_stdout_or_senders`: a pipeline with a
/// webhook output (the receiver answers after 5 s) and the real stdout output in JSON. Sends
/// one alert every 10 ms, each stamped with its send time, and finally prints the slowest
/// `send` call.
#[test]
#[ignore = "helper process started by slow_webhook_does_not_delay_stdout_or_senders"]
fn slow_stdout_child() {
    let url = std::env::var("VIGIL_SLOW_CHILD_URL")
        .expect("run by slow_webhook_does_not_delay_stdout_or_senders");
    let cfg = Config::from_yaml_str(&format!(
        "metrics: {{enabled: false}}\noutputs:\n  - webhook: {{url: '{url}', timeout: 10s}}\n    queue: {{capacity: 10}}\n  - stdout: {{format: json}}\n"
    ))
    .unwrap();
    let p = Pipeline::start(&cfg, Metrics::new()).unwrap();
    let mut slowest = Duration::ZERO;
    for i in 0..300 {
        let mut a = alert(i);
        a.time = now_nanos();
        let t = Instant::now();
        p.send(a);
        slowest = slowest.max(t.elapsed());
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(500));
    println!("SLOWEST_SEND_US {}", slowest.as_micros());
    std::io::Write::flush(&mut std::io::stdout()).unwrap();
    p.shutdown(Duration::from_millis(100));
}

/// The case: a webhook answering after 5 s must delay neither the stdout output nor
/// the sender (the detection loop calls `Pipeline::send`). The pipeline runs in a child
/// process so that its stdout output is the process's real standard output, read here through
/// a pipe as alerts arrive; each alert carries its send time, so the latency of every stdout
/// line is measured, while the webhook is stuck on its first request the whole time.
#[test]
fn slow_webhook_does_not_delay_stdout_or_senders() {
    use std::io::BufRead;
    let rx = Receiver::start();
    *rx.delay.lock().unwrap() = Duration::from_secs(5);
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "slow_stdout_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("VIGIL_SLOW_CHILD_URL", rx.url("/"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut latencies = Vec::new();
    let mut seen = BTreeSet::new();
    let mut slowest_send = None;
    for line in out.lines().map_while(Result::ok) {
        let arrived = now_nanos();
        if let Some(us) = line.strip_prefix("SLOWEST_SEND_US ") {
            slowest_send = us.trim().parse::<u64>().ok();
            continue;
        }
        // libtest prints "test slow_stdout_child ... " without a newline before the first
        // alert; everything from the first brace on is the alert.
        let Some(start) = line.find("{\"") else {
            continue;
        };
        let line = &line[start..];
        // The alert as vigil_event parses Falco JSON: `time` back to nanoseconds.
        let a: vigil_event::Alert =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if a.source == "internal" {
            // The report of the webhook's queue overflow, also a stdout alert.
            continue;
        }
        latencies.push(Duration::from_nanos(arrived.saturating_sub(a.time)));
        seen.insert(id_of(line.as_bytes()).unwrap());
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(
        seen,
        (0..300).collect::<BTreeSet<_>>(),
        "every alert on stdout"
    );
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    let max = *latencies.last().unwrap();
    eprintln!(
        "stdout latency with a 5 s webhook: median {:?}, p99 {p99:?}, max {max:?}; slowest send {:?} us",
        latencies[latencies.len() / 2],
        slowest_send
    );
    // A stdout output stuck behind the webhook would show the webhook's 5 s; the bounds leave
    // room for a loaded CI machine (measured: 83 ms worst at load average 13).
    assert!(max < Duration::from_secs(1), "stdout delayed: max {max:?}");
    let slowest_send = slowest_send.expect("child reported its slowest send");
    assert!(
        slowest_send < 250_000,
        "Pipeline::send blocked for {slowest_send} us"
    );
    // The webhook really was stuck: at most its first request can have completed.
    assert!(
        rx.bodies().len() <= 1,
        "{} webhook bodies",
        rx.bodies().len()
    );
}

#[test]
fn drops_are_reported_as_internal_alert_and_log() {
    let dir = tempdir("drops");
    let path = dir.join("a.jsonl");
    let dead = free_port();
    let cfg = Config::from_yaml_str(&format!(
        "metrics: {{enabled: false}}\npipeline: {{drop_report_interval: 1s}}\noutputs:\n  - webhook: {{url: 'http://127.0.0.1:{dead}/'}}\n    queue: {{capacity: 1}}\n    retry: {{max_attempts: 2, initial_backoff: 50ms}}\n  - file: {{path: {}}}\n",
        path.display()
    ))
    .unwrap();
    let p = Pipeline::start(&cfg, Metrics::new()).unwrap();
    for i in 0..20 {
        p.send(alert(i));
    }
    assert!(
        wait_until(Duration::from_secs(10), || read_lines(&path)
            .iter()
            .any(|l| l.contains("\"rule\":\"vigil: alerts dropped\""))),
        "no internal drop alert in {:?}",
        read_lines(&path)
    );
    let line = read_lines(&path)
        .into_iter()
        .find(|l| l.contains("vigil: alerts dropped"))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["source"], "internal");
    assert_eq!(v["priority"], "Error");
    assert!(
        v["output_fields"]["vigil.dropped.webhook"]
            .as_u64()
            .unwrap()
            >= 18,
        "{v}"
    );
    p.shutdown(Duration::from_millis(100));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rate_limit_emits_summary_alert() {
    let dir = tempdir("noise");
    let path = dir.join("a.jsonl");
    let cfg = Config::from_yaml_str(&format!(
        "metrics: {{enabled: false}}\nnoise: {{summary_interval: 1s, rate_limits: [{{rule: '*', key_fields: [proc.name], rate: 0.01, burst: 3}}]}}\noutputs:\n  - file: {{path: {}}}\n",
        path.display()
    ))
    .unwrap();
    let m = Metrics::new();
    let p = Pipeline::start(&cfg, m.clone()).unwrap();
    for i in 0..50 {
        p.send(alert(i));
    }
    assert!(
        wait_until(Duration::from_secs(5), || read_lines(&path).len() == 4),
        "{:?}",
        read_lines(&path).len()
    );
    let lines = read_lines(&path);
    for (i, l) in lines[..3].iter().enumerate() {
        assert_eq!(l, &alert(i as u64).to_json());
    }
    let v: serde_json::Value = serde_json::from_str(&lines[3]).unwrap();
    assert_eq!(v["output_fields"]["vigil.suppressed"], 47);
    assert!(
        v["output"].as_str().unwrap().starts_with(
            "47 similar alerts suppressed (rate limit) for rule 'Terminal shell in container'"
        ),
        "{v}"
    );
    assert!(m
        .render_prometheus()
        .contains("vigil_alerts_suppressed_total{rule_name=\"Terminal shell in container\"} 47"));
    // Matches are counted before suppression, as Falco counts rule matches.
    assert_eq!(m.rule_matches("Terminal shell in container"), 50);
    p.shutdown(Duration::from_secs(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reload_keeps_old_config_when_invalid_and_applies_valid() {
    let dir = tempdir("reload");
    let (a, b) = (dir.join("a.jsonl"), dir.join("b.jsonl"));
    let cfg = Config::from_yaml_str(&format!(
        "metrics: {{enabled: false}}\noutputs:\n  - name: a\n    file: {{path: {}}}\n",
        a.display()
    ))
    .unwrap();
    let mut p = Pipeline::start(&cfg, Metrics::new()).unwrap();
    p.send(alert(1));
    assert!(wait_until(Duration::from_secs(5), || read_lines(&a).len() == 1));
    // Invalid: a bad URL. The error says why; the old outputs keep working.
    let mut bad = cfg.clone();
    bad.outputs.push(vigil_output::config::OutputConfig::new(
        vigil_output::config::OutputKind::Webhook(vigil_output::config::WebhookOutput {
            url: "ftp://nope".into(),
            format: Default::default(),
            headers: Default::default(),
            timeout: vigil_output::units::Dur::secs(1),
            ca_file: None,
        }),
    ));
    let e = p.reload(&bad).unwrap_err().to_string();
    assert!(
        e.contains("outputs[1].webhook.url: invalid URL 'ftp://nope'"),
        "{e}"
    );
    p.send(alert(2));
    assert!(wait_until(Duration::from_secs(5), || read_lines(&a).len() == 2));
    // Valid: add output b; a keeps running.
    let good = Config::from_yaml_str(&format!(
        "metrics: {{enabled: false}}\noutputs:\n  - name: a\n    file: {{path: {}}}\n  - name: b\n    file: {{path: {}}}\n",
        a.display(),
        b.display()
    ))
    .unwrap();
    p.reload(&good).unwrap();
    assert_eq!(p.output_names(), vec!["a".to_string(), "b".to_string()]);
    p.send(alert(3));
    assert!(wait_until(Duration::from_secs(5), || read_lines(&a).len()
        == 3
        && read_lines(&b).len() == 1));
    assert_eq!(read_lines(&b), vec![alert(3).to_json()]);
    p.shutdown(Duration::from_secs(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Helper process for `sigkill_during_outage_loses_nothing`: runs a pipeline whose webhook is
/// down, sends alerts, says READY once all are in the spill, then waits to be killed.
#[test]
#[ignore = "helper process started by sigkill_during_outage_loses_nothing"]
fn kill_child() {
    let cfg_path = std::env::var("VIGIL_KILL_CHILD_CONFIG")
        .expect("run by sigkill_during_outage_loses_nothing");
    let n: u64 = std::env::var("VIGIL_KILL_CHILD_N")
        .unwrap()
        .parse()
        .unwrap();
    let cfg = Config::from_yaml_file(std::path::Path::new(&cfg_path)).unwrap();
    let m = Metrics::new();
    let p = Pipeline::start(&cfg, m.clone()).unwrap();
    for i in 0..n {
        p.send(alert(i));
    }
    let st = m.output("webhook", "webhook");
    assert!(
        wait_until(Duration::from_secs(30), || st
            .spilled
            .load(Ordering::Relaxed)
            >= n),
        "spilled {}",
        st.spilled.load(Ordering::Relaxed)
    );
    println!("READY");
    std::io::Write::flush(&mut std::io::stdout()).unwrap();
    std::thread::sleep(Duration::from_secs(120));
    drop(p);
}

#[test]
fn sigkill_during_outage_loses_nothing() {
    use std::io::BufRead;
    let mut rx = Receiver::start();
    rx.stop();
    let dir = tempdir("sigkill");
    let cfg_path = dir.join("vigil.yaml");
    std::fs::write(
        &cfg_path,
        format!(
            "metrics: {{enabled: false}}\nspill: {{dir: {}}}\noutputs:\n  - webhook: {{url: '{}', timeout: 1s}}\n    retry: {{initial_backoff: 100ms, max_backoff: 500ms}}\n",
            dir.join("spill").display(),
            rx.url("/")
        ),
    )
    .unwrap();
    let n = 2000u64;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "kill_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("VIGIL_KILL_CHILD_CONFIG", &cfg_path)
        .env("VIGIL_KILL_CHILD_N", n.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, ready) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if l.contains("READY") {
                let _ = tx.send(());
            }
        }
    });
    ready
        .recv_timeout(Duration::from_secs(60))
        .expect("child pipeline did not spill its alerts");
    child.kill().unwrap(); // SIGKILL: no shutdown, no flush
    child.wait().unwrap();

    rx.restart();
    let cfg = Config::from_yaml_file(&cfg_path).unwrap();
    let p = Pipeline::start(&cfg, Metrics::new()).unwrap();
    assert!(
        wait_until(Duration::from_secs(60), || ids(&rx.bodies()).len() as u64
            == n),
        "after SIGKILL + restart got {} of {n}",
        ids(&rx.bodies()).len()
    );
    assert_eq!(ids(&rx.bodies()), (0..n).collect::<BTreeSet<_>>());
    p.shutdown(Duration::from_secs(5));
    let _ = std::fs::remove_dir_all(&dir);
}
