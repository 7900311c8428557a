//! Secret detection in layer files and the image config.
//!
//! Each rule has literal keywords; one Aho-Corasick automaton over all keywords decides in a
//! single pass which rules can possibly match a file, and only those rules' regexes run. Most
//! files contain no keyword and cost one linear scan. Generic "password = ..." rules also need
//! enough Shannon entropy and a non-placeholder value, and only apply to configuration-like
//! files, because on arbitrary text they mostly find documentation. Binaries (a NUL byte in the
//! first 8 KiB) and vendored paths are skipped. Matched values are never stored: findings carry
//! a redacted line. A plain `RegexSet` over every file was rejected: it runs every rule's
//! automaton on every byte, several times slower on images where matches are rare.

use aho_corasick::AhoCorasick;
use regex::Regex;
use serde::Serialize;

/// Largest file scanned for secrets.
pub const MAX_FILE: u64 = 2 << 20;

/// One secret found.
#[derive(Debug, Clone, Serialize)]
pub struct SecretFinding {
    pub rule: &'static str,
    pub title: &'static str,
    pub severity: &'static str,
    pub file: String,
    pub line: usize,
    /// The line with the secret replaced by `*****REDACTED*****`.
    pub redacted: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
    /// The file was deleted or replaced by a later layer (still extractable from the image).
    pub deleted_later: bool,
}

struct Rule {
    id: &'static str,
    title: &'static str,
    severity: &'static str,
    keywords: &'static [&'static str],
    re: Regex,
    /// Capture group holding the secret (0 = whole match).
    group: usize,
    /// Minimum Shannon entropy (bits per char) of the secret, 0 = none.
    min_entropy: f64,
    /// Only in configuration-like files.
    config_only: bool,
    /// Another literal the file must also contain (a service-account JSON must hold a key).
    requires: Option<&'static str>,
}

/// The compiled rule set; build once, share.
pub struct SecretScanner {
    rules: Vec<Rule>,
    ac: AhoCorasick,
    /// Keyword pattern index -> rule index.
    kw_rule: Vec<usize>,
}

impl std::fmt::Debug for SecretScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretScanner({} rules)", self.rules.len())
    }
}

fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

const SKIP_DIRS: &[&str] = &[
    "node_modules/",
    "site-packages/",
    "dist-packages/",
    "usr/share/doc/",
    "usr/share/man/",
    "usr/share/locale/",
    "usr/share/i18n/",
    "usr/share/zoneinfo/",
    "usr/share/perl",
    "usr/lib/python",
    "usr/lib/ruby/",
    "usr/lib/go/",
    "usr/local/go/",
    "usr/include/",
    "var/lib/dpkg/",
    "var/lib/apt/",
    "var/cache/",
    "go/pkg/mod/",
    "vendor/",
    ".git/",
    "proc/",
    "sys/",
];

const SKIP_EXT: &[&str] = &[
    ".png", ".jpg", ".jpeg", ".gif", ".ico", ".svg", ".woff", ".woff2", ".ttf", ".gz", ".zip",
    ".jar", ".so", ".a", ".o", ".pyc", ".mo", ".md5sums", ".list", ".wasm",
];

const CONFIG_EXT: &[&str] = &[
    ".env",
    ".ini",
    ".conf",
    ".cfg",
    ".cnf",
    ".yaml",
    ".yml",
    ".properties",
    ".json",
    ".toml",
    ".xml",
    ".sh",
    ".bashrc",
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".tf",
    ".tfvars",
];

fn is_config_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == ".env" || name.starts_with(".env.") || CONFIG_EXT.iter().any(|e| name.ends_with(e))
}

static SHARED: std::sync::OnceLock<SecretScanner> = std::sync::OnceLock::new();

impl SecretScanner {
    /// The process-wide compiled rule set (compiling the regexes once matters: scans of many
    /// small targets would otherwise spend their time in the regex compiler).
    pub fn shared() -> &'static SecretScanner {
        SHARED.get_or_init(SecretScanner::new)
    }
}

impl Default for SecretScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl SecretScanner {
    pub fn new() -> SecretScanner {
        let r = |id, title, severity, keywords, re: &str, group, min_entropy, config_only| Rule {
            id,
            title,
            severity,
            keywords,
            // The patterns are constants checked by the unit tests.
            re: Regex::new(re).unwrap_or_else(|e| panic!("secret rule {id}: {e}")),
            group,
            min_entropy,
            config_only,
            requires: (id == "gcp-service-account").then_some("\"private_key\""),
        };
        let rules = vec![
            r(
                "private-key",
                "Private key",
                "HIGH",
                &["PRIVATE KEY"],
                r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----[\s\S]{32,}?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----",
                0,
                0.0,
                false,
            ),
            r(
                "aws-access-key-id",
                "AWS access key ID",
                "CRITICAL",
                &["AKIA", "ASIA", "ABIA", "ACCA"],
                r"\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b",
                1,
                3.0,
                false,
            ),
            r(
                "aws-secret-access-key",
                "AWS secret access key",
                "CRITICAL",
                &[
                    "aws_secret",
                    "AWS_SECRET",
                    "aws-secret",
                    "SecretAccessKey",
                    "secret_access_key",
                    "SECRET_ACCESS_KEY",
                ],
                r#"(?i)(?:aws)?_?secret_?access_?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})\b"#,
                1,
                4.0,
                false,
            ),
            r(
                "gcp-service-account",
                "GCP service account key",
                "CRITICAL",
                &["service_account"],
                r#""type"\s*:\s*"service_account""#,
                0,
                0.0,
                false,
            ),
            r(
                "github-token",
                "GitHub token",
                "CRITICAL",
                &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
                r"\b(gh[pousr]_[A-Za-z0-9]{36,255})\b",
                1,
                3.5,
                false,
            ),
            r(
                "github-fine-grained-pat",
                "GitHub fine-grained token",
                "CRITICAL",
                &["github_pat_"],
                r"\b(github_pat_[A-Za-z0-9_]{82})\b",
                1,
                3.5,
                false,
            ),
            r(
                "gitlab-token",
                "GitLab personal access token",
                "CRITICAL",
                &["glpat-"],
                r"\b(glpat-[A-Za-z0-9_\-]{20,})",
                1,
                3.0,
                false,
            ),
            r(
                "slack-token",
                "Slack token",
                "HIGH",
                &["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-"],
                r"\b(xox[bpars]-[0-9]{6,}-[0-9A-Za-z-]{10,})",
                1,
                3.0,
                false,
            ),
            r(
                "slack-webhook",
                "Slack webhook URL",
                "MEDIUM",
                &["hooks.slack.com"],
                r"(https://hooks\.slack\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{20,})",
                1,
                3.0,
                false,
            ),
            r(
                "generic-password",
                "Password or secret in a configuration file",
                "MEDIUM",
                &[
                    "password", "PASSWORD", "Password", "passwd", "PASSWD", "secret", "SECRET",
                    "Secret", "api_key", "API_KEY", "apikey", "APIKEY", "token", "TOKEN", "Token",
                ],
                r#"(?i)(?:password|passwd|secret|api_?key|auth_?token|access_?token)["']?\s*[:=]\s*["']?([^\s"'<>#$%{}(),;]{8,})"#,
                1,
                3.0,
                true,
            ),
        ];
        let mut patterns = Vec::new();
        let mut kw_rule = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            for k in rule.keywords {
                patterns.push(*k);
                kw_rule.push(i);
            }
        }
        let ac = AhoCorasick::new(&patterns).unwrap_or_else(|e| panic!("secret keywords: {e}"));
        SecretScanner { rules, ac, kw_rule }
    }

    /// Whether a file at `path` of `size` bytes is worth reading for secrets.
    pub fn wants(&self, path: &str, size: u64) -> bool {
        if size == 0 || size > MAX_FILE {
            return false;
        }
        if SKIP_DIRS
            .iter()
            .any(|d| path.starts_with(d) || path.contains(&format!("/{d}")))
        {
            return false;
        }
        !SKIP_EXT.iter().any(|e| path.ends_with(e))
    }

    /// Scan one file's contents.
    pub fn scan(&self, path: &str, data: &[u8]) -> Vec<SecretFinding> {
        let head = &data[..data.len().min(8192)];
        if memchr::memchr(0, head).is_some() {
            return Vec::new();
        }
        self.scan_text(path, data, is_config_file(path))
    }

    /// Scan text (also used for image config values).
    pub fn scan_text(&self, path: &str, data: &[u8], config_like: bool) -> Vec<SecretFinding> {
        let mut hit = vec![false; self.rules.len()];
        for m in self.ac.find_overlapping_iter(data) {
            hit[self.kw_rule[m.pattern().as_usize()]] = true;
        }
        if !hit.iter().any(|h| *h) {
            return Vec::new();
        }
        let text = String::from_utf8_lossy(data);
        let mut out = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            if !hit[i] || (rule.config_only && !config_like) {
                continue;
            }
            if rule
                .requires
                .is_some_and(|r| memchr::memmem::find(data, r.as_bytes()).is_none())
            {
                continue;
            }
            for caps in rule.re.captures_iter(&text) {
                let Some(m) = caps.get(rule.group) else {
                    continue;
                };
                let secret = m.as_str();
                if rule.min_entropy > 0.0 && entropy(secret) < rule.min_entropy {
                    continue;
                }
                if rule.config_only && is_placeholder(secret) {
                    continue;
                }
                let line_start = text[..m.start()].rfind('\n').map(|i| i + 1).unwrap_or(0);
                let line_end = text[m.start()..]
                    .find('\n')
                    .map(|i| m.start() + i)
                    .unwrap_or(text.len());
                let mut red = String::new();
                red.push_str(&text[line_start..m.start()]);
                red.push_str("*****REDACTED*****");
                if m.end() <= line_end {
                    red.push_str(&text[m.end()..line_end]);
                }
                let red: String = red.trim().chars().take(200).collect();
                out.push(SecretFinding {
                    rule: rule.id,
                    title: rule.title,
                    severity: rule.severity,
                    file: path.to_string(),
                    line: text[..m.start()].matches('\n').count() + 1,
                    redacted: red,
                    layer: None,
                    deleted_later: false,
                });
            }
        }
        out
    }
}

fn is_placeholder(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "changeme",
        "example",
        "password",
        "placeholder",
        "your_",
        "xxxx",
        "dummy",
        "redacted",
        "secret",
        "none",
        "null",
        "undefined",
        "true",
        "false",
        "****",
        "test",
    ];
    WORDS.iter().any(|w| l.contains(w)) || l.starts_with("env.") || l.starts_with("os.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_redacts() {
        let s = SecretScanner::new();
        let key = "AKIAZ5T3MXQ7RJ2KLW4P";
        let data = format!(
            "[default]\naws_access_key_id = {key}\naws_secret_access_key = Zr8f3kQ9xL2mN7vB4cT1wY6uE0iO5pA3sD8gH2jK\n"
        );
        let found = s.scan("root/.aws/credentials", data.as_bytes());
        let rules: Vec<_> = found.iter().map(|f| f.rule).collect();
        assert!(rules.contains(&"aws-access-key-id"), "{found:?}");
        assert!(rules.contains(&"aws-secret-access-key"), "{found:?}");
        for f in &found {
            assert!(
                !f.redacted.contains(key) && !f.redacted.contains("Zr8f3kQ9"),
                "{f:?}"
            );
        }
        assert_eq!(found[0].line, 2);
    }

    #[test]
    fn tokens_and_keys() {
        let s = SecretScanner::new();
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1c2R3hJ7sK9pQ0zYw8xV5uT2rN4mL6kJ1hG3fD9sA7qW2eR5\n-----END RSA PRIVATE KEY-----\n";
        assert_eq!(s.scan("app/key.pem", pem.as_bytes())[0].rule, "private-key");
        let gh = "token: ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8\n";
        assert!(s
            .scan("app/x.txt", gh.as_bytes())
            .iter()
            .any(|f| f.rule == "github-token"));
        let gl = "GITLAB=glpat-Xy7kP2mQ9rT4vW8zA1bC\n";
        assert_eq!(s.scan("app/x.txt", gl.as_bytes())[0].rule, "gitlab-token");
        let gcp = r#"{"type": "service_account", "project_id": "p", "private_key": "-----BEGIN PRIVATE KEY-----\nabc"}"#;
        assert!(s
            .scan("app/sa.json", gcp.as_bytes())
            .iter()
            .any(|f| f.rule == "gcp-service-account"));
    }

    #[test]
    fn generic_passwords_need_config_files_and_entropy() {
        let s = SecretScanner::new();
        let conf = b"db_password = Hq7kL2p9Wz!\n";
        assert_eq!(s.scan("etc/app/db.conf", conf)[0].rule, "generic-password");
        assert!(s.scan("usr/share/app/README", conf).is_empty());
        assert!(s
            .scan("etc/app/db.conf", b"password = changeme123\n")
            .is_empty());
        assert!(s
            .scan("etc/app/db.conf", b"password = aaaaaaaaaa\n")
            .is_empty());
        assert!(s
            .scan("etc/app/db.conf", b"password\0 = Hq7kL2p9Wz!\n")
            .is_empty());
        assert!(!s.wants("usr/lib/python3/dist-packages/x/conf.py", 10));
        assert!(!s.wants("app/node_modules/x/.env", 10));
        assert!(s.wants("app/.env", 10));
    }
}
