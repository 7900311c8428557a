//! Each output against a real receiver on loopback: the bytes that arrive are exactly the
//! Falco JSON (or the RFC 5424 / Slack framing around it).

mod common;

use common::*;
use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;
use vigil_output::{Config, Metrics, Pipeline};

fn pipeline(yaml: &str) -> Pipeline {
    let cfg = Config::from_yaml_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    Pipeline::start(&cfg, Metrics::new()).unwrap()
}

#[test]
fn file_output_is_exact_jsonl_with_rotation_and_reopen() {
    let dir = tempdir("file");
    let path = dir.join("alerts.jsonl");
    let p = pipeline(&format!(
        "metrics: {{enabled: false}}\noutputs:\n  - file: {{path: {}, max_size: 4096, keep: 3}}\n",
        path.display()
    ));
    let n = 100;
    let expected: Vec<String> = (0..n).map(|i| alert(i).to_json()).collect();
    for i in 0..n {
        p.send(alert(i));
    }
    p.shutdown(Duration::from_secs(5));
    // Rotation keeps the newest 3 rotated files plus the live one; older ones are deleted.
    let rot = |i: u32| std::path::PathBuf::from(format!("{}.{i}", path.display()));
    assert!(
        rot(3).exists() && !rot(4).exists(),
        "keep=3 must keep .1..=.3 only"
    );
    let mut got = Vec::new();
    for i in [3, 2, 1] {
        got.extend(read_lines(&rot(i)));
    }
    got.extend(read_lines(&path));
    for f in [rot(1), rot(2), rot(3), path.clone()] {
        assert!(
            std::fs::metadata(&f).unwrap().len() <= 4096,
            "{} over max_size",
            f.display()
        );
    }
    // What survives is exactly the newest alerts, byte for byte, in order.
    assert!(
        got.len() >= 12 && got.len() < n as usize,
        "{} lines",
        got.len()
    );
    assert_eq!(got, expected[expected.len() - got.len()..].to_vec());

    // Reopen (SIGUSR1): after an external rename the pipeline writes a fresh file.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let p = pipeline(&format!(
        "metrics: {{enabled: false}}\noutputs:\n  - file: {{path: {}, max_size: 0}}\n",
        path.display()
    ));
    p.send(alert(1));
    assert!(wait_until(Duration::from_secs(5), || read_lines(&path)
        .len()
        == 1));
    let moved = dir.join("moved.jsonl");
    std::fs::rename(&path, &moved).unwrap();
    p.reopen_files();
    std::thread::sleep(Duration::from_millis(300));
    p.send(alert(2));
    assert!(
        wait_until(Duration::from_secs(5), || read_lines(&path).len() == 1),
        "reopened file gets new alerts"
    );
    assert_eq!(read_lines(&path), vec![alert(2).to_json()]);
    assert_eq!(read_lines(&moved), vec![alert(1).to_json()]);
    p.shutdown(Duration::from_secs(5));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stdout_sink_formats_text_and_json() {
    use vigil_output::config::Format;
    use vigil_output::outputs::{stdout::StdoutSink, Record, Sink};
    let dir = tempdir("stdout");
    for (fmt, want) in [
        (Format::Json, alert(7).to_json()),
        (
            Format::Text,
            "22:13:20.000007000: Warning A shell was spawned (id=7 proc=bash \"quoted\")"
                .to_string(),
        ),
    ] {
        let f = dir.join("out");
        let file = std::fs::File::create(&f).unwrap();
        let mut s = StdoutSink::with_writer(fmt, Box::new(file));
        s.write(&Record::new(alert(7))).unwrap();
        s.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), format!("{want}\n"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn check_syslog(frames: &[Vec<u8>], n: u64) {
    let mut ids = BTreeSet::new();
    for f in frames {
        let m = parse_rfc5424(f).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(f)));
        // local3 (19) * 8 + Warning (4)
        assert_eq!((m.pri, m.version), (19 * 8 + 4, 1));
        assert!(
            m.timestamp.starts_with("2023-11-14T22:13:20.")
                && m.timestamp.ends_with('Z')
                && m.timestamp.len() == 27,
            "{}",
            m.timestamp
        );
        assert_eq!(
            (
                m.hostname.as_str(),
                m.app.as_str(),
                m.msgid.as_str(),
                m.sd.as_str()
            ),
            ("testhost", "vigil-test", "alert", "-")
        );
        assert_eq!(m.procid, std::process::id().to_string());
        let id = id_of(&m.msg).unwrap();
        assert_eq!(
            m.msg,
            alert(id).to_json().into_bytes(),
            "MSG is the exact Falco JSON"
        );
        ids.insert(id);
    }
    assert_eq!(ids, (0..n).collect());
}

#[test]
fn syslog_udp_tcp_and_unix() {
    let n = 50;
    // UDP
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let port = sock.local_addr().unwrap().port();
    let p = pipeline(&format!(
        "metrics: {{enabled: false}}\noutputs:\n  - syslog: {{address: 'udp://127.0.0.1:{port}', facility: local3, app_name: vigil-test, format: json}}\n"
    ));
    for i in 0..n {
        p.send(alert(i));
    }
    let mut frames = Vec::new();
    let mut buf = vec![0u8; 65536];
    while frames.len() < n as usize {
        let k = sock.recv(&mut buf).expect("UDP syslog datagram");
        frames.push(buf[..k].to_vec());
    }
    p.shutdown(Duration::from_secs(5));
    check_syslog(&frames, n);

    // TCP with octet counting.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let p = pipeline(&format!(
        "metrics: {{enabled: false}}\noutputs:\n  - syslog: {{address: 'tcp://127.0.0.1:{port}', facility: local3, app_name: vigil-test, format: json}}\n"
    ));
    for i in 0..n {
        p.send(alert(i));
    }
    let (s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let frames = read_octet_frames(s, n as usize);
    p.shutdown(Duration::from_secs(5));
    check_syslog(&frames, n);

    // Unix datagram socket (like /dev/log).
    let dir = tempdir("syslog");
    let path = dir.join("log.sock");
    let us = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    us.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let p = pipeline(&format!(
        "metrics: {{enabled: false}}\noutputs:\n  - syslog: {{address: 'unix:{}', facility: local3, app_name: vigil-test, format: json}}\n",
        path.display()
    ));
    for i in 0..n {
        p.send(alert(i));
    }
    let mut frames = Vec::new();
    while frames.len() < n as usize {
        let k = us.recv(&mut buf).expect("unix syslog datagram");
        frames.push(buf[..k].to_vec());
    }
    p.shutdown(Duration::from_secs(5));
    check_syslog(&frames, n);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn webhook_falco_and_slack_formats_with_headers() {
    let rx = Receiver::start();
    let n = 40;
    let p = pipeline(&format!(
        "metrics: {{enabled: false}}\noutputs:\n  - webhook: {{url: '{}', headers: {{X-Token: s3cret}}}}\n  - webhook: {{url: '{}', format: slack}}\n",
        rx.url("/falco?x=1"),
        rx.url("/slack")
    ));
    for i in 0..n {
        p.send(alert(i));
    }
    assert!(
        wait_until(Duration::from_secs(10), || rx.reqs.lock().unwrap().len()
            == 2 * n as usize),
        "got {}",
        rx.reqs.lock().unwrap().len()
    );
    p.shutdown(Duration::from_secs(5));
    let reqs = rx.reqs.lock().unwrap().clone();
    let falco: Vec<_> = reqs.iter().filter(|r| r.path == "/falco?x=1").collect();
    let slack: Vec<_> = reqs.iter().filter(|r| r.path == "/slack").collect();
    assert_eq!((falco.len(), slack.len()), (n as usize, n as usize));
    let mut ids = BTreeSet::new();
    for r in &falco {
        let id = id_of(&r.body).unwrap();
        assert_eq!(
            r.body,
            alert(id).to_json().into_bytes(),
            "body is the exact Falco JSON"
        );
        assert!(r
            .headers
            .iter()
            .any(|(k, v)| k == "X-Token" && v == "s3cret"));
        assert!(r
            .headers
            .iter()
            .any(|(k, v)| k == "Content-Type" && v == "application/json"));
        ids.insert(id);
    }
    assert_eq!(ids, (0..n).collect());
    let v: serde_json::Value = serde_json::from_slice(&slack[0].body).unwrap();
    assert!(
        v["text"]
            .as_str()
            .unwrap()
            .starts_with("Warning Terminal shell in container: A shell was spawned"),
        "{v}"
    );
    let fields = v["attachments"][0]["fields"].as_array().unwrap();
    assert!(
        fields
            .iter()
            .any(|f| f["title"] == "proc.name" && f["value"] == "bash"),
        "{v}"
    );
    assert_eq!(v["attachments"][0]["color"], "#ecb22e");
}

#[test]
fn webhook_rejection_is_counted_not_retried() {
    let rx = Receiver::start();
    *rx.status.lock().unwrap() = 400;
    let m = Metrics::new();
    let cfg = Config::from_yaml_str(&format!(
        "metrics: {{enabled: false}}\noutputs:\n  - webhook: {{url: '{}'}}\n",
        rx.url("/")
    ))
    .unwrap();
    let p = Pipeline::start(&cfg, m.clone()).unwrap();
    for i in 0..5 {
        p.send(alert(i));
    }
    let prom = || m.render_prometheus();
    assert!(
        wait_until(Duration::from_secs(10), || prom().contains(
            "vigil_output_dropped_total{output=\"webhook\",type=\"webhook\",reason=\"rejected\"} 5"
        )),
        "{}",
        prom()
    );
    p.shutdown(Duration::from_secs(2));
}

#[test]
fn program_output_pipes_json_lines_and_respawns() {
    let dir = tempdir("program");
    let out = dir.join("out.jsonl");
    // Each child takes 5 lines and exits: the output must notice and respawn it.
    let p = pipeline(&format!(
        "metrics: {{enabled: false}}\noutputs:\n  - program: {{command: 'head -n 5 >> {}'}}\n",
        out.display()
    ));
    for i in 0..5 {
        p.send(alert(i));
    }
    assert!(wait_until(Duration::from_secs(10), || read_lines(&out)
        .len()
        == 5));
    std::thread::sleep(Duration::from_millis(300)); // the first child exits
    for i in 5..10 {
        p.send(alert(i));
    }
    assert!(
        wait_until(Duration::from_secs(10), || read_lines(&out).len() == 10),
        "respawned child got the rest: {:?}",
        read_lines(&out).len()
    );
    p.shutdown(Duration::from_secs(5));
    let want: Vec<String> = (0..10).map(|i| alert(i).to_json()).collect();
    assert_eq!(read_lines(&out), want);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn nats_core_publish() {
    let Some(nats) = Nats::start(false) else {
        return;
    };
    let mut sub = nats.conn();
    sub.subscribe("vigil.alerts");
    sub.flush().unwrap();
    let n = 200;
    let p = pipeline(&format!(
        "metrics: {{enabled: false}}\noutputs:\n  - nats: {{url: '{}', subject: vigil.alerts}}\n",
        nats.url()
    ));
    for i in 0..n {
        p.send(alert(i));
    }
    let mut ids = BTreeSet::new();
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while ids.len() < n as usize {
        let m = sub.next_msg(end).unwrap().expect("message before timeout");
        assert_eq!(m.subject, "vigil.alerts");
        let id = id_of(&m.payload).unwrap();
        assert_eq!(m.payload, alert(id).to_json().into_bytes());
        ids.insert(id);
    }
    p.shutdown(Duration::from_secs(5));
    assert_eq!(ids, (0..n).collect());
}

#[test]
fn nats_jetstream_publish_with_acks() {
    let Some(nats) = Nats::start(true) else {
        return;
    };
    nats.create_stream("VIGIL", "vigil.js");
    let n = 300;
    let m = Metrics::new();
    let cfg = Config::from_yaml_str(&format!("metrics: {{enabled: false}}\noutputs:\n  - nats: {{url: '{}', subject: vigil.js, jetstream: true}}\n", nats.url())).unwrap();
    let p = Pipeline::start(&cfg, m.clone()).unwrap();
    for i in 0..n {
        p.send(alert(i));
    }
    assert!(wait_until(Duration::from_secs(20), || m
        .render_prometheus()
        .contains(&format!(
            "vigil_output_sent_total{{output=\"nats\",type=\"nats\"}} {n}"
        ))));
    p.shutdown(Duration::from_secs(5));
    let msgs = nats.stream_messages("VIGIL");
    assert_eq!(msgs.len(), n as usize, "each alert stored once");
    for (i, body) in msgs.iter().enumerate() {
        assert_eq!(body, &alert(i as u64).to_json().into_bytes());
    }

    // A subject no stream listens on: JetStream answers "no responders", the output keeps
    // retrying and reports the reason.
    let m = Metrics::new();
    let cfg = Config::from_yaml_str(&format!(
        "metrics: {{enabled: false}}\nhealth: {{output_failing_after: 1s}}\noutputs:\n  - nats: {{url: '{}', subject: nowhere, jetstream: true, timeout: 1s}}\n",
        nats.url()
    ))
    .unwrap();
    let p = Pipeline::start(&cfg, m.clone()).unwrap();
    p.send(alert(1));
    assert!(wait_until(Duration::from_secs(10), || !m.health().healthy));
    let h = m.health();
    assert!(
        h.reasons[0].contains("no JetStream stream listens on subject 'nowhere'"),
        "{:?}",
        h.reasons
    );
    p.shutdown(Duration::from_millis(200));
}

#[test]
fn metrics_and_health_endpoints() {
    let rx_port = free_port(); // nothing listens: the webhook fails
    let m = Metrics::new();
    let cfg = Config::from_yaml_str(&format!(
        "metrics: {{listen: '127.0.0.1:0'}}\nhealth: {{output_failing_after: 1s, stall_after: 60s}}\noutputs:\n  - stdout: {{format: json}}\n    min_priority: emergency\n  - webhook: {{url: 'http://127.0.0.1:{rx_port}/'}}\n    retry: {{initial_backoff: 100ms, max_backoff: 200ms, max_attempts: 0}}\n"
    ))
    .unwrap();
    let p = Pipeline::start(&cfg, m.clone()).unwrap();
    let addr = p.metrics_addr().unwrap();
    assert!(addr.ip().is_loopback());
    m.add_events_received(vigil_event::Category::Process, 10);
    m.heartbeat();
    p.send(alert(1));
    let get = |path: &str| -> (u16, String) {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut r = String::new();
        std::io::Read::read_to_string(&mut s, &mut r).unwrap();
        let status = r.split_whitespace().nth(1).unwrap().parse().unwrap();
        (status, r.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
    };
    assert!(wait_until(Duration::from_secs(10), || get("/healthz").0 == 503));
    let (_, body) = get("/healthz");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "unhealthy");
    assert!(
        v["reasons"][0]
            .as_str()
            .unwrap()
            .contains("output 'webhook' failing"),
        "{v}"
    );
    let (st, prom) = get("/metrics");
    assert_eq!(st, 200);
    for want in [
        "falcosecurity_scap_n_evts_total 10",
        "falcosecurity_falco_rules_matches_total{priority=\"4\",rule_name=\"Terminal shell in container\",source=\"syscall\"} 1",
        "vigil_output_healthy{output=\"webhook\",type=\"webhook\"} 0",
        "vigil_output_sent_total{output=\"stdout\",type=\"stdout\"} 0",
        "# TYPE vigil_rule_eval_latency_seconds histogram",
    ] {
        assert!(prom.contains(want), "missing {want}\n{prom}");
    }
    assert_eq!(get("/nope").0, 404);
    p.shutdown(Duration::from_millis(100));
}
