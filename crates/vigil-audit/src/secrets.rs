//! Secret detection: a small pure API shared by the config audit (environment variables,
//! Dockerfile `ENV`/`ARG`/`RUN`) and the image scanner (file contents).
//!
//! * [`find_in_text`] finds credentials with a recognizable format (AWS access key IDs,
//!   GitHub/GitLab/Slack/Stripe/Google/npm tokens, PEM private keys, JWTs, passwords in URLs)
//!   anywhere in a text, with byte offsets;
//! * [`check_assignment`] judges a `NAME=value` pair: a known format in the value, a
//!   high-entropy value under a secret-like name, or any literal value under a secret-like
//!   name;
//! * [`shannon_entropy`], [`is_secret_name`] and [`redact`] are the building blocks.
//!
//! Matchers are hand-written prefix scans rather than a regex set: there are a dozen fixed
//! prefixes with simple character classes, the scan allocates nothing per byte, and the crate
//! stays free of a regex dependency. Every match is anchored on a literal prefix, so the
//! false-positive rate stays low; the entropy heuristic is only used together with a name.

/// What kind of secret was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretKind {
    AwsAccessKeyId,
    AwsSecretAccessKey,
    GithubToken,
    GitlabToken,
    SlackToken,
    SlackWebhook,
    StripeKey,
    GoogleApiKey,
    NpmToken,
    PrivateKey,
    Jwt,
    UrlCredentials,
    /// A high-entropy value under a secret-like name.
    HighEntropy,
    /// A literal value under a secret-like name (`DB_PASSWORD=hunter2`).
    NamedSecret,
}

impl SecretKind {
    /// Human description.
    pub fn description(self) -> &'static str {
        match self {
            Self::AwsAccessKeyId => "AWS access key ID",
            Self::AwsSecretAccessKey => "AWS secret access key",
            Self::GithubToken => "GitHub token",
            Self::GitlabToken => "GitLab personal access token",
            Self::SlackToken => "Slack token",
            Self::SlackWebhook => "Slack incoming-webhook URL",
            Self::StripeKey => "Stripe live secret key",
            Self::GoogleApiKey => "Google API key",
            Self::NpmToken => "npm access token",
            Self::PrivateKey => "PEM private key",
            Self::Jwt => "JSON Web Token",
            Self::UrlCredentials => "password embedded in a URL",
            Self::HighEntropy => "high-entropy value under a secret-like name",
            Self::NamedSecret => "literal value under a secret-like name",
        }
    }

    /// True for formats that are credentials by construction (not a name heuristic).
    pub fn is_known_format(self) -> bool {
        !matches!(self, Self::HighEntropy | Self::NamedSecret)
    }
}

/// One secret found in a text: byte range `start..end` of the secret itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretMatch {
    pub kind: SecretKind,
    pub start: usize,
    pub end: usize,
}

fn is_b32(c: u8) -> bool {
    c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c) || c.is_ascii_digit()
}
fn is_alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}
fn is_tok(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}
fn is_path_tok(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'/'
}
fn is_b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// Length of the run of bytes satisfying `f` starting at `i`.
fn run(b: &[u8], i: usize, f: fn(u8) -> bool) -> usize {
    b[i.min(b.len())..].iter().take_while(|c| f(**c)).count()
}

struct Prefix {
    lit: &'static [u8],
    kind: SecretKind,
    class: fn(u8) -> bool,
    min: usize,
    max: usize,
}

const PREFIXES: &[Prefix] = &[
    Prefix {
        lit: b"AKIA",
        kind: SecretKind::AwsAccessKeyId,
        class: is_b32,
        min: 16,
        max: 16,
    },
    Prefix {
        lit: b"ASIA",
        kind: SecretKind::AwsAccessKeyId,
        class: is_b32,
        min: 16,
        max: 16,
    },
    Prefix {
        lit: b"AGPA",
        kind: SecretKind::AwsAccessKeyId,
        class: is_b32,
        min: 16,
        max: 16,
    },
    Prefix {
        lit: b"AIDA",
        kind: SecretKind::AwsAccessKeyId,
        class: is_b32,
        min: 16,
        max: 16,
    },
    Prefix {
        lit: b"AROA",
        kind: SecretKind::AwsAccessKeyId,
        class: is_b32,
        min: 16,
        max: 16,
    },
    Prefix {
        lit: b"ANPA",
        kind: SecretKind::AwsAccessKeyId,
        class: is_b32,
        min: 16,
        max: 16,
    },
    Prefix {
        lit: b"ghp_",
        kind: SecretKind::GithubToken,
        class: is_alnum,
        min: 36,
        max: 36,
    },
    Prefix {
        lit: b"gho_",
        kind: SecretKind::GithubToken,
        class: is_alnum,
        min: 36,
        max: 36,
    },
    Prefix {
        lit: b"ghu_",
        kind: SecretKind::GithubToken,
        class: is_alnum,
        min: 36,
        max: 36,
    },
    Prefix {
        lit: b"ghs_",
        kind: SecretKind::GithubToken,
        class: is_alnum,
        min: 36,
        max: 36,
    },
    Prefix {
        lit: b"ghr_",
        kind: SecretKind::GithubToken,
        class: is_alnum,
        min: 36,
        max: 36,
    },
    Prefix {
        lit: b"github_pat_",
        kind: SecretKind::GithubToken,
        class: is_tok,
        min: 70,
        max: 90,
    },
    Prefix {
        lit: b"glpat-",
        kind: SecretKind::GitlabToken,
        class: is_tok,
        min: 20,
        max: 64,
    },
    Prefix {
        lit: b"xoxb-",
        kind: SecretKind::SlackToken,
        class: is_tok,
        min: 10,
        max: 200,
    },
    Prefix {
        lit: b"xoxp-",
        kind: SecretKind::SlackToken,
        class: is_tok,
        min: 10,
        max: 200,
    },
    Prefix {
        lit: b"xoxa-",
        kind: SecretKind::SlackToken,
        class: is_tok,
        min: 10,
        max: 200,
    },
    Prefix {
        lit: b"xoxr-",
        kind: SecretKind::SlackToken,
        class: is_tok,
        min: 10,
        max: 200,
    },
    // The webhook URL is the credential: whoever has it can post to the channel.
    Prefix {
        lit: b"hooks.slack.com/services/",
        kind: SecretKind::SlackWebhook,
        class: is_path_tok,
        min: 20,
        max: 200,
    },
    Prefix {
        lit: b"sk_live_",
        kind: SecretKind::StripeKey,
        class: is_alnum,
        min: 24,
        max: 200,
    },
    Prefix {
        lit: b"rk_live_",
        kind: SecretKind::StripeKey,
        class: is_alnum,
        min: 24,
        max: 200,
    },
    Prefix {
        lit: b"AIza",
        kind: SecretKind::GoogleApiKey,
        class: is_tok,
        min: 35,
        max: 35,
    },
    Prefix {
        lit: b"npm_",
        kind: SecretKind::NpmToken,
        class: is_alnum,
        min: 36,
        max: 36,
    },
];

/// Finds credentials with a recognizable format anywhere in `text`. Matches do not overlap
/// and are returned in text order.
pub fn find_in_text(text: &str) -> Vec<SecretMatch> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let boundary = i == 0 || !is_tok(b[i - 1]);
        if let Some(m) = match_at(b, i, boundary) {
            i = m.end.max(i + 1);
            out.push(m);
        } else {
            i += 1;
        }
    }
    out
}

fn match_at(b: &[u8], i: usize, boundary: bool) -> Option<SecretMatch> {
    let c = b[i];
    if boundary {
        for p in PREFIXES {
            if b[i..].starts_with(p.lit) {
                let body = i + p.lit.len();
                let n = run(b, body, p.class);
                // Exactly-sized formats must not continue into more token characters.
                if n >= p.min && (n <= p.max || p.min != p.max) {
                    let n = n.min(p.max);
                    if p.min == p.max && body + n < b.len() && is_alnum(b[body + n]) {
                        continue;
                    }
                    return Some(SecretMatch {
                        kind: p.kind,
                        start: i,
                        end: body + n,
                    });
                }
            }
        }
        if c == b'e' && b[i..].starts_with(b"eyJ") {
            if let Some(end) = jwt_end(b, i) {
                return Some(SecretMatch {
                    kind: SecretKind::Jwt,
                    start: i,
                    end,
                });
            }
        }
    }
    if c == b'-' && b[i..].starts_with(b"-----BEGIN ") {
        let line_end = b[i..]
            .iter()
            .position(|c| *c == b'\n')
            .map_or(b.len(), |p| i + p);
        let header = &b[i..line_end];
        if header.windows(16).any(|w| w == b"PRIVATE KEY-----") {
            let end = find(b, i, b"-----END ")
                .and_then(|e| find(b, e + 9, b"-----").map(|x| x + 5))
                .unwrap_or(line_end);
            return Some(SecretMatch {
                kind: SecretKind::PrivateKey,
                start: i,
                end,
            });
        }
    }
    if c == b':' && b[i..].starts_with(b"://") {
        return url_credentials(b, i + 3);
    }
    None
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

fn jwt_end(b: &[u8], i: usize) -> Option<usize> {
    let h = run(b, i, is_b64url);
    if h < 10 || b.get(i + h) != Some(&b'.') {
        return None;
    }
    let p = i + h + 1;
    if !b[p..].starts_with(b"eyJ") {
        return None;
    }
    let pl = run(b, p, is_b64url);
    if pl < 10 || b.get(p + pl) != Some(&b'.') {
        return None;
    }
    let s = p + pl + 1;
    let sl = run(b, s, is_b64url);
    (sl >= 10).then_some(s + sl)
}

/// `scheme://user:password@host`: the password must be literal (not `${VAR}`, `$(..)`, `<..>`).
fn url_credentials(b: &[u8], start: usize) -> Option<SecretMatch> {
    let userinfo_len = b[start..]
        .iter()
        .take_while(|c| !matches!(c, b'/' | b'@' | b' ' | b'\n' | b'"' | b'\'' | b'?' | b'#'))
        .count();
    let at = start + userinfo_len;
    if b.get(at) != Some(&b'@') {
        return None;
    }
    let userinfo = &b[start..at];
    let colon = userinfo.iter().position(|c| *c == b':')?;
    let pass = &userinfo[colon + 1..];
    if pass.is_empty() || pass[0] == b'$' || pass[0] == b'<' || pass[0] == b'{' || pass == b"*****"
    {
        return None;
    }
    Some(SecretMatch {
        kind: SecretKind::UrlCredentials,
        start: start + colon + 1,
        end: at,
    })
}

/// Shannon entropy of the bytes of `s`, in bits per byte.
pub fn shannon_entropy(s: &str) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}

const SECRET_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "PASS",
    "PWD",
    "SECRET",
    "TOKEN",
    "APIKEY",
    "API_KEY",
    "ACCESS_KEY",
    "ACCESSKEY",
    "PRIVATE_KEY",
    "PRIVATEKEY",
    "CREDENTIAL",
    "CREDENTIALS",
    "AUTH_KEY",
    "CLIENT_SECRET",
    "SIGNING_KEY",
    "ENCRYPTION_KEY",
    "MASTER_KEY",
    "DSN",
];

const NOT_A_SECRET_SUFFIXES: &[&str] = &[
    "_FILE",
    "_PATH",
    "_DIR",
    "_ENABLED",
    "_LENGTH",
    "_TTL",
    "_TIMEOUT",
    "_EXPIRY",
    "_SECONDS",
    "_MINUTES",
    "_HOURS",
    "_DAYS",
    "_COUNT",
    "_SIZE",
    "_ALGORITHM",
    "_TYPE",
    "_NAME",
    "_HEADER",
    "_ID",
    "_ROTATION",
    "_POLICY",
    "_FORMAT",
    "_MIN",
    "_MAX",
    "_REQUIRED",
];

/// True for variable names that conventionally hold a secret (`DB_PASSWORD`, `apiKey`,
/// `GITHUB_TOKEN`) and not for names about secrets (`PASSWORD_FILE`, `TOKEN_TTL`).
pub fn is_secret_name(name: &str) -> bool {
    // camelCase → SNAKE so `apiKey` and `API_KEY` match alike.
    let mut up = String::with_capacity(name.len() + 4);
    let mut prev_lower = false;
    for ch in name.chars() {
        if ch.is_ascii_uppercase() && prev_lower {
            up.push('_');
        }
        prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        up.push(if ch == '-' || ch == '.' {
            '_'
        } else {
            ch.to_ascii_uppercase()
        });
    }
    if NOT_A_SECRET_SUFFIXES.iter().any(|s| up.ends_with(s)) {
        return false;
    }
    let tokens: Vec<&str> = up.split('_').filter(|t| !t.is_empty()).collect();
    SECRET_WORDS.iter().any(|w| {
        if w.contains('_') {
            up.contains(w)
        } else {
            tokens.iter().any(|t| t == w)
        }
    })
}

/// True for values that are not literal secrets: references, placeholders, booleans, paths.
fn is_placeholder(v: &str) -> bool {
    let v = v.trim();
    v.len() < 4
        || v.starts_with('$')
        || v.starts_with("{{")
        || v.starts_with('<')
        || v.starts_with("/run/secrets/")
        || v.starts_with("/var/run/secrets/")
        || v.starts_with("file:")
        || v.starts_with("vault:")
        || v.starts_with("arn:aws:secretsmanager")
        || v.starts_with("ref+")
        || matches!(
            v.to_ascii_lowercase().as_str(),
            "true"
                | "false"
                | "none"
                | "null"
                | "yes"
                | "no"
                | "required"
                | "optional"
                | "xxxx"
                | "xxxxxx"
                | "********"
                | "redacted"
                | "secret"
                | "password"
                | "changeit!"
        )
}

/// Judges a `NAME=value` assignment (environment variable, `ENV`, `ARG`, compose
/// `environment`). The match range refers to `value`.
pub fn check_assignment(name: &str, value: &str) -> Option<SecretMatch> {
    if let Some(m) = find_in_text(value).into_iter().next() {
        return Some(m);
    }
    if !is_secret_name(name) || is_placeholder(value) {
        return None;
    }
    let up = name.to_ascii_uppercase();
    let v = value.trim();
    if up.contains("AWS") && up.contains("SECRET") && v.len() == 40 {
        return Some(SecretMatch {
            kind: SecretKind::AwsSecretAccessKey,
            start: 0,
            end: value.len(),
        });
    }
    let kind = if v.len() >= 16 && shannon_entropy(v) >= 3.5 {
        SecretKind::HighEntropy
    } else {
        SecretKind::NamedSecret
    };
    Some(SecretMatch {
        kind,
        start: 0,
        end: value.len(),
    })
}

/// Redacts a secret for display: the first four characters, then `…` and the length.
pub fn redact(secret: &str) -> String {
    let head: String = secret.chars().take(4).collect();
    format!("{head}…({} chars)", secret.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_formats() {
        let cases = [
            ("key=AKIAIOSFODNN7EXAMPLE rest", SecretKind::AwsAccessKeyId),
            (
                "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
                SecretKind::GithubToken,
            ),
            ("glpat-abcdefghij0123456789", SecretKind::GitlabToken),
            ("xoxb-1234567890-abcdefghij", SecretKind::SlackToken),
            (
                "url: https://hooks.slack.com/services/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",
                SecretKind::SlackWebhook,
            ),
            ("sk_live_abcdefghijklmnopqrstuvwx", SecretKind::StripeKey),
            ("AIzaSyA1234567890abcdefghijklmnopqrstuv", SecretKind::GoogleApiKey),
            ("npm_abcdefghijklmnopqrstuvwxyz0123456789", SecretKind::NpmToken),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
                SecretKind::PrivateKey,
            ),
            (
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                SecretKind::Jwt,
            ),
            ("postgres://app:s3cr3tpw@db:5432/app", SecretKind::UrlCredentials),
        ];
        for (text, kind) in cases {
            let m = find_in_text(text);
            assert_eq!(m.len(), 1, "{text}: {m:?}");
            assert_eq!(m[0].kind, kind, "{text}");
        }
    }

    #[test]
    fn no_false_positives_on_ordinary_text() {
        for text in [
            "AKIA is a prefix",
            "postgres://db:5432/app",
            "https://${USER}:${PASS}@host",
            "image: nginx:1.25",
            "-----BEGIN CERTIFICATE-----",
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ] {
            assert!(find_in_text(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn assignment_names() {
        assert!(is_secret_name("DB_PASSWORD"));
        assert!(is_secret_name("apiKey"));
        assert!(is_secret_name("GITHUB_TOKEN"));
        assert!(!is_secret_name("PASSWORD_FILE"));
        assert!(!is_secret_name("TOKEN_TTL"));
        assert!(!is_secret_name("PATH"));
        assert!(!is_secret_name("PASSENGER_COUNT"));
        assert_eq!(
            check_assignment("DB_PASSWORD", "hunter2hunter2").map(|m| m.kind),
            Some(SecretKind::NamedSecret)
        );
        assert_eq!(
            check_assignment("API_TOKEN", "q8Zr2LkP0vX9mWn4Tb7Yc1Hd").map(|m| m.kind),
            Some(SecretKind::HighEntropy)
        );
        assert_eq!(
            check_assignment(
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
            )
            .map(|m| m.kind),
            Some(SecretKind::AwsSecretAccessKey)
        );
        assert_eq!(check_assignment("DB_PASSWORD", "${DB_PASSWORD}"), None);
        assert_eq!(check_assignment("LOG_LEVEL", "debug"), None);
        assert!(shannon_entropy("aaaa") < 0.01);
        assert_eq!(redact("hunter2"), "hunt…(7 chars)");
    }
}
