//! The webhook over HTTPS: a real TLS server (rustls) on loopback with a certificate issued by
//! a throwaway CA made with the `openssl` CLI; the output trusts it through `ca_file` and must
//! refuse the same server when it does not.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vigil_output::{Config, Metrics, Pipeline};

fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// CA + leaf for 127.0.0.1; `None` (after a loud SKIP) without the openssl CLI.
fn make_certs(dir: &Path) -> Option<()> {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("SKIP: openssl CLI not installed (scripts/setup.sh installs it)");
        return None;
    }
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let ok = openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=vigil test CA",
        ],
    ) && openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    ) && openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    assert!(ok, "openssl failed to make test certificates");
    Some(())
}

/// A one-thread HTTPS server recording request bodies.
fn tls_server(dir: &Path) -> (u16, Arc<Mutex<Vec<Vec<u8>>>>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("leaf.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("leaf.key")).unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let cfg = Arc::new(cfg);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let b = bodies.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { continue };
            let (cfg, b) = (cfg.clone(), b.clone());
            std::thread::spawn(move || {
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let conn = rustls::ServerConnection::new(cfg).unwrap();
                let mut r = BufReader::new(rustls::StreamOwned::new(conn, s));
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut len = 0;
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        if h.trim().is_empty() {
                            break;
                        }
                        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    b.lock().unwrap().push(body);
                    let w = r.get_mut();
                    if w.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
                        .and_then(|_| w.flush())
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (port, bodies)
}

#[test]
fn https_webhook_with_custom_ca() {
    let dir = tempdir("tls");
    if make_certs(&dir).is_none() {
        return;
    }
    let (port, bodies) = tls_server(&dir);
    let cfg = Config::from_yaml_str(&format!(
        "metrics: {{enabled: false}}\noutputs:\n  - webhook: {{url: 'https://127.0.0.1:{port}/alerts', ca_file: {}}}\n",
        dir.join("ca.pem").display()
    ))
    .unwrap();
    let p = Pipeline::start(&cfg, Metrics::new()).unwrap();
    for i in 0..20 {
        p.send(alert(i));
    }
    assert!(wait_until(Duration::from_secs(10), || bodies
        .lock()
        .unwrap()
        .len()
        == 20));
    p.shutdown(Duration::from_secs(2));
    for (i, b) in bodies.lock().unwrap().iter().enumerate() {
        assert_eq!(b, &alert(i as u64).to_json().into_bytes());
    }

    // Without the CA the certificate is not trusted: nothing is delivered, the failure says why.
    let m = Metrics::new();
    let cfg = Config::from_yaml_str(&format!(
        "metrics: {{enabled: false}}\nhealth: {{output_failing_after: 1s}}\noutputs:\n  - webhook: {{url: 'https://127.0.0.1:{port}/alerts'}}\n"
    ))
    .unwrap();
    let p = Pipeline::start(&cfg, m.clone()).unwrap();
    p.send(alert(99));
    assert!(wait_until(Duration::from_secs(10), || !m.health().healthy));
    let reasons = m.health().reasons.join("; ");
    assert!(
        reasons.contains("certificate") || reasons.contains("UnknownIssuer"),
        "{reasons}"
    );
    assert_eq!(bodies.lock().unwrap().len(), 20);
    p.shutdown(Duration::from_millis(100));

    // A CA file that is not PEM is a configuration error with its key path.
    std::fs::write(dir.join("bad.pem"), "not a certificate").unwrap();
    let e = Config::from_yaml_str(&format!(
        "outputs:\n  - webhook: {{url: 'https://x/', ca_file: {}}}\n",
        dir.join("bad.pem").display()
    ))
    .unwrap_err();
    assert!(
        e.to_string().contains("outputs[0].webhook.ca_file:")
            && e.to_string().contains("no PEM certificate"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
