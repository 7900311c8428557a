//! Normalization of ecosystem and package names into index keys.
//!
//! The index key is `ecosystem \0 name`, both normalized so that spellings a scanner sees
//! match the spellings advisories use: ecosystems compare case-insensitively (`PyPI` and
//! `pypi`), Alpine releases with or without their `v` (`Alpine:3.19` = `Alpine:v3.19`);
//! PyPI names per PEP 503 (`Jinja2` = `jinja2`, `zope.interface` = `zope-interface`),
//! crates.io names case-insensitively with `_` = `-` (as crates.io itself treats them).
//! Go module paths, npm names (including `@scope/name`) and Maven `group:artifact` are
//! case-sensitive and kept as written. The alternative of lowercasing everything was
//! rejected: Go module paths such as `github.com/BurntSushi/toml` are case-sensitive.

/// Normalized ecosystem (lowercase, trimmed, Alpine release with `v`).
pub fn ecosystem_key(eco: &str) -> String {
    let e = eco.trim().to_lowercase();
    if let Some(rel) = e.strip_prefix("alpine:") {
        if !rel.starts_with('v') && rel.starts_with(|c: char| c.is_ascii_digit()) {
            return format!("alpine:v{rel}");
        }
    }
    e
}

/// The ecosystem without its `:release` suffix, lowercase.
pub fn ecosystem_base(eco: &str) -> String {
    eco.split(':').next().unwrap_or(eco).trim().to_lowercase()
}

/// PEP 503 normalization: lowercase, runs of `-`, `_`, `.` become one `-`.
pub fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
            }
            in_sep = true;
        } else {
            out.extend(c.to_lowercase());
            in_sep = false;
        }
    }
    out
}

/// Normalized package name for an ecosystem.
pub fn name_key(eco: &str, name: &str) -> String {
    match ecosystem_base(eco).as_str() {
        "pypi" => pep503(name),
        "crates.io" => name.trim().to_lowercase().replace('_', "-"),
        _ => name.trim().to_string(),
    }
}

/// The index key for a package.
pub fn key(eco: &str, name: &str) -> String {
    let mut k = ecosystem_key(eco);
    k.push('\0');
    k.push_str(&name_key(eco, name));
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(key("PyPI", "Jinja2"), key("pypi", "jinja2"));
        assert_eq!(pep503("zope.interface"), "zope-interface");
        assert_eq!(pep503("Foo__Bar-._baz"), "foo-bar-baz");
        assert_eq!(
            key("crates.io", "Serde_Json"),
            key("crates.io", "serde-json")
        );
        assert_ne!(
            key("Go", "github.com/BurntSushi/toml"),
            key("Go", "github.com/burntsushi/toml")
        );
        assert_eq!(key("npm", "@babel/core"), "npm\0@babel/core");
        assert_eq!(ecosystem_key("Alpine:3.19"), "alpine:v3.19");
        assert_eq!(ecosystem_key("Alpine:v3.19"), "alpine:v3.19");
        assert_eq!(ecosystem_key("Debian:12"), "debian:12");
    }
}
