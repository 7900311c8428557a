//! Checks on the image configuration (the OCI/Docker config JSON): root user, secrets in the
//! environment, SSH exposed, no health check.
//!
//! Pure functions over the JSON value, so they run the same on OCI and docker-archive configs
//! and are tested without images. The image's `Env` values go through the same secret rules as
//! files, plus a name-based check for variables called like credentials.

use crate::secrets::SecretScanner;
use serde::Serialize;
use serde_json::Value;

/// One configuration finding.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConfigFinding {
    pub id: &'static str,
    pub severity: &'static str,
    pub title: &'static str,
    pub detail: String,
}

const SECRET_ENV_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "ACCESS_KEY",
    "CREDENTIALS",
];

pub fn check(cfg: &Value, scanner: Option<&SecretScanner>) -> Vec<ConfigFinding> {
    let c = &cfg["config"];
    let mut out = Vec::new();
    let user = c["User"].as_str().unwrap_or("");
    let user_name = user.split(':').next().unwrap_or("");
    if user_name.is_empty() || user_name == "root" || user_name == "0" {
        out.push(ConfigFinding {
            id: "VIGIL-IMG-001",
            severity: "HIGH",
            title: "Image runs as root",
            detail: if user.is_empty() {
                "no USER is set, so containers run as root (uid 0)".into()
            } else {
                format!("USER is '{user}'")
            },
        });
    }
    for e in c["Env"].as_array().into_iter().flatten() {
        let Some(e) = e.as_str() else { continue };
        let Some((name, value)) = e.split_once('=') else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        let upper = name.to_ascii_uppercase();
        let by_name = SECRET_ENV_WORDS.iter().any(|w| upper.contains(w))
            && !upper.ends_with("_FILE")
            && !upper.ends_with("_PATH");
        let by_value =
            scanner.is_some_and(|s| !s.scan_text("ENV", value.as_bytes(), false).is_empty());
        if by_name || by_value {
            out.push(ConfigFinding {
                id: "VIGIL-IMG-002",
                severity: "CRITICAL",
                title: "Secret in image environment",
                detail: format!("ENV {name}=*****REDACTED*****"),
            });
        }
    }
    if let Some(ports) = c["ExposedPorts"].as_object() {
        for p in ports.keys() {
            if p == "22" || p == "22/tcp" {
                out.push(ConfigFinding {
                    id: "VIGIL-IMG-003",
                    severity: "MEDIUM",
                    title: "SSH port exposed",
                    detail: format!("EXPOSE {p}"),
                });
            }
        }
    }
    let hc = &c["Healthcheck"]["Test"];
    let no_hc = hc.is_null()
        || hc
            .as_array()
            .is_some_and(|a| a.first().and_then(|v| v.as_str()) == Some("NONE"));
    if no_hc {
        out.push(ConfigFinding {
            id: "VIGIL-IMG-004",
            severity: "LOW",
            title: "No health check",
            detail: "the image defines no HEALTHCHECK".into(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks() {
        let cfg = serde_json::json!({"config": {
            "User": "",
            "Env": ["PATH=/usr/bin", "DB_PASSWORD=hunter22", "GH=ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "PASSWORD_FILE=/run/s"],
            "ExposedPorts": {"22/tcp": {}, "80/tcp": {}}
        }});
        let s = SecretScanner::new();
        let f = check(&cfg, Some(&s));
        let ids: Vec<_> = f.iter().map(|f| f.id).collect();
        assert_eq!(
            ids,
            vec![
                "VIGIL-IMG-001",
                "VIGIL-IMG-002",
                "VIGIL-IMG-002",
                "VIGIL-IMG-003",
                "VIGIL-IMG-004"
            ]
        );
        assert!(f.iter().all(|f| !f.detail.contains("hunter22")));
        let ok = serde_json::json!({"config": {"User": "app", "Healthcheck": {"Test": ["CMD", "true"]}}});
        assert!(check(&ok, Some(&s)).is_empty());
    }
}
