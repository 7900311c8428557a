//! Operating-system detection from `os-release`, and the OSV ecosystem names derived from it.
//!
//! `os-release` is the one file every modern distribution ships; `/etc/debian_version` style
//! files were rejected as a primary source because they differ per distribution.

use crate::error::Warning;
use serde::Serialize;

/// The distribution an image is built on.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct OsInfo {
    /// `ID` (e.g. "debian", "alpine", "rocky").
    pub id: String,
    /// `VERSION_ID` (e.g. "12", "3.19.1").
    pub version_id: String,
    /// `PRETTY_NAME`.
    pub pretty_name: String,
    /// `VERSION_CODENAME`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub codename: String,
}

impl OsInfo {
    /// The OSV ecosystem for this distribution's packages, if OSV covers it.
    pub fn osv_ecosystem(&self) -> Option<String> {
        let major_minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
        let major = |v: &str| v.split('.').next().unwrap_or("").to_string();
        match self.id.as_str() {
            "debian" if !self.version_id.is_empty() => {
                Some(format!("Debian:{}", major(&self.version_id)))
            }
            "ubuntu" => Some(format!("Ubuntu:{}", self.version_id)),
            "alpine" => Some(format!("Alpine:v{}", major_minor(&self.version_id))),
            "rocky" => Some(format!("Rocky Linux:{}", major(&self.version_id))),
            "almalinux" => Some(format!("AlmaLinux:{}", major(&self.version_id))),
            _ => None,
        }
    }
}

/// Parse an os-release file. Unknown keys are ignored; malformed lines produce warnings.
pub fn parse_os_release(path: &str, data: &[u8]) -> (Option<OsInfo>, Vec<Warning>) {
    let text = String::from_utf8_lossy(data);
    let mut info = OsInfo::default();
    let mut warnings = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            warnings.push(Warning::at(path, i + 1, "expected KEY=value"));
            continue;
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
            .unwrap_or(v)
            .to_string();
        match k {
            "ID" => info.id = v,
            "VERSION_ID" => info.version_id = v,
            "PRETTY_NAME" => info.pretty_name = v,
            "VERSION_CODENAME" => info.codename = v,
            _ => {}
        }
    }
    if info.id.is_empty() {
        warnings.push(Warning::new(path, "no ID= line"));
        return (None, warnings);
    }
    (Some(info), warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_and_alpine() {
        let (os, w) = parse_os_release(
            "etc/os-release",
            b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
        );
        assert!(w.is_empty());
        let os = os.unwrap();
        assert_eq!(os.osv_ecosystem().as_deref(), Some("Debian:12"));
        let (os, _) = parse_os_release("x", b"ID=alpine\nVERSION_ID=3.19.1\n");
        assert_eq!(os.unwrap().osv_ecosystem().as_deref(), Some("Alpine:v3.19"));
        let (os, w) = parse_os_release("x", b"garbage\n");
        assert!(os.is_none());
        assert_eq!(w[0].line, Some(1));
    }
}
