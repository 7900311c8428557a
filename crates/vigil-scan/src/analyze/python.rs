//! Python packages: installed distributions (`*.dist-info/METADATA`, `*.egg-info/PKG-INFO`) and
//! pinned lock files (`requirements*.txt`, `poetry.lock`, `Pipfile.lock`).
//!
//! Only exact pins (`==`) in requirements files are reported: a range says nothing about what
//! is installed.

use super::{field, rfc822_paragraphs, Outcome};
use crate::error::Warning;
use crate::package::{Package, PkgType};

pub fn parse_metadata(path: &str, data: &[u8], out: &mut Outcome) {
    let text = String::from_utf8_lossy(data);
    // Headers end at the first blank line; the body is the long description.
    let mut warnings = Vec::new();
    let paras = rfc822_paragraphs(path, &text, true, &mut warnings);
    out.warnings.extend(warnings);
    let Some((_, fields)) = paras.first() else {
        out.warnings
            .push(Warning::new(path, "no metadata headers (Name, Version)"));
        return;
    };
    match (field(fields, "Name"), field(fields, "Version")) {
        (Some(n), Some(v)) if !n.is_empty() && !v.is_empty() => {
            let mut p = Package::new(PkgType::Python, n, v, path);
            if let Some(l) = field(fields, "License-Expression").or(field(fields, "License")) {
                if !l.is_empty() && l.len() < 100 && !l.contains('\n') && l != "UNKNOWN" {
                    p.licenses.push(l.to_string());
                }
            }
            out.packages.push(p);
        }
        _ => out
            .warnings
            .push(Warning::new(path, "metadata without Name or Version")),
    }
}

pub fn parse_requirements(path: &str, data: &[u8], out: &mut Outcome) {
    let text = String::from_utf8_lossy(data);
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('-') {
            continue;
        }
        let line = line.split(';').next().unwrap_or("").trim();
        let Some((name, ver)) = line.split_once("==") else {
            continue;
        };
        let name = name.split('[').next().unwrap_or("").trim();
        let ver = ver
            .split(|c: char| c.is_whitespace() || c == ',')
            .next()
            .unwrap_or("");
        if !name.is_empty() && !ver.is_empty() && !ver.contains('*') {
            out.packages
                .push(Package::new(PkgType::Python, name, ver, path));
        }
    }
}

#[derive(serde::Deserialize)]
struct TomlLock {
    #[serde(default)]
    package: Vec<TomlPkg>,
}

#[derive(serde::Deserialize)]
struct TomlPkg {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<toml::Value>,
}

fn parse_toml_lock(path: &str, data: &[u8], out: &mut Outcome) -> Option<Vec<TomlPkg>> {
    let text = match std::str::from_utf8(data) {
        Ok(t) => t,
        Err(e) => {
            out.warnings
                .push(Warning::new(path, format!("not UTF-8: {e}")));
            return None;
        }
    };
    match toml::from_str::<TomlLock>(text) {
        Ok(l) => Some(l.package),
        Err(e) => {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            out.warnings.push(Warning {
                file: path.to_string(),
                line,
                message: format!("invalid lock file: {}", e.message()),
            });
            None
        }
    }
}

pub fn parse_poetry_lock(path: &str, data: &[u8], out: &mut Outcome) {
    if let Some(pkgs) = parse_toml_lock(path, data, out) {
        for p in pkgs {
            out.packages
                .push(Package::new(PkgType::Python, &p.name, &p.version, path));
        }
    }
}

pub(crate) fn parse_cargo_like(path: &str, data: &[u8], out: &mut Outcome) {
    if let Some(pkgs) = parse_toml_lock(path, data, out) {
        for p in pkgs {
            // Workspace members and path dependencies have no source: they are the project
            // itself, not third-party code.
            if p.source.is_none() {
                continue;
            }
            out.packages
                .push(Package::new(PkgType::Cargo, &p.name, &p.version, path));
        }
    }
}

pub fn parse_pipfile_lock(path: &str, data: &[u8], out: &mut Outcome) {
    let v: serde_json::Value = match serde_json::from_slice(data) {
        Ok(v) => v,
        Err(e) => {
            out.warnings
                .push(Warning::at(path, e.line(), format!("invalid JSON: {e}")));
            return;
        }
    };
    for section in ["default", "develop"] {
        let Some(obj) = v.get(section).and_then(|s| s.as_object()) else {
            continue;
        };
        for (name, info) in obj {
            if let Some(ver) = info
                .get("version")
                .and_then(|v| v.as_str())
                .and_then(|v| v.strip_prefix("=="))
            {
                out.packages
                    .push(Package::new(PkgType::Python, name, ver, path));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata() {
        let mut out = Outcome::default();
        parse_metadata(
            "x.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: urllib3\nVersion: 1.24.1\nLicense: MIT\n\nBody: text\n",
            &mut out,
        );
        assert_eq!(out.packages[0].name, "urllib3");
        assert_eq!(out.packages[0].licenses, vec!["MIT"]);
        let mut out = Outcome::default();
        parse_metadata("bad.dist-info/METADATA", b"\x00\x01garbage\n", &mut out);
        assert!(out.packages.is_empty());
        assert!(out
            .warnings
            .iter()
            .any(|w| w.file == "bad.dist-info/METADATA"));
    }

    #[test]
    fn requirements_and_locks() {
        let mut out = Outcome::default();
        parse_requirements(
            "requirements.txt",
            b"# c\nrequests[security]==2.19.1 ; python_version>'3'\nflask>=1.0\n-r other.txt\n",
            &mut out,
        );
        assert_eq!(out.packages.len(), 1);
        assert_eq!(out.packages[0].version, "2.19.1");
        let mut out = Outcome::default();
        parse_poetry_lock(
            "poetry.lock",
            b"[[package]]\nname = \"jinja2\"\nversion = \"2.10\"\n",
            &mut out,
        );
        assert_eq!(out.packages[0].name, "jinja2");
        let mut out = Outcome::default();
        parse_pipfile_lock(
            "Pipfile.lock",
            br#"{"default": {"pyyaml": {"version": "==5.3"}}, "develop": {}}"#,
            &mut out,
        );
        assert_eq!(out.packages[0].version, "5.3");
        let mut out = Outcome::default();
        parse_poetry_lock("poetry.lock", b"[[package]\nname=", &mut out);
        assert_eq!(out.warnings[0].line, Some(1));
    }
}
