//! Node.js: `package.json` of each installed package under `node_modules`, and
//! `package-lock.json` (lockfile versions 1, 2 and 3).

use super::Outcome;
use crate::error::Warning;
use crate::package::{Package, PkgType};

fn json(path: &str, data: &[u8], out: &mut Outcome) -> Option<serde_json::Value> {
    match serde_json::from_slice(data) {
        Ok(v) => Some(v),
        Err(e) => {
            out.warnings
                .push(Warning::at(path, e.line(), format!("invalid JSON: {e}")));
            None
        }
    }
}

pub fn parse_package_json(path: &str, data: &[u8], out: &mut Outcome) {
    let Some(v) = json(path, data, out) else {
        return;
    };
    let name = v.get("name").and_then(|n| n.as_str());
    let version = v.get("version").and_then(|n| n.as_str());
    let (Some(name), Some(version)) = (name, version) else {
        out.warnings
            .push(Warning::new(path, "package.json without name or version"));
        return;
    };
    let mut p = Package::new(PkgType::Npm, name, version, path);
    if let Some(l) = v.get("license").and_then(|l| l.as_str()) {
        p.licenses.push(l.to_string());
    }
    out.packages.push(p);
}

pub fn parse_package_lock(path: &str, data: &[u8], out: &mut Outcome) {
    let Some(v) = json(path, data, out) else {
        return;
    };
    if let Some(pkgs) = v.get("packages").and_then(|p| p.as_object()) {
        // Lockfile v2/v3: keys are install paths; "" is the project itself.
        for (key, info) in pkgs {
            let Some(idx) = key.rfind("node_modules/") else {
                continue;
            };
            if info.get("link").and_then(|l| l.as_bool()) == Some(true) {
                continue;
            }
            let name = info
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or(&key[idx + "node_modules/".len()..]);
            if let Some(ver) = info.get("version").and_then(|v| v.as_str()) {
                out.packages
                    .push(Package::new(PkgType::Npm, name, ver, path));
            }
        }
        return;
    }
    // Lockfile v1: nested "dependencies" objects.
    fn walk(
        deps: &serde_json::Map<String, serde_json::Value>,
        path: &str,
        depth: usize,
        out: &mut Outcome,
    ) {
        if depth > 64 {
            out.warnings.push(Warning::new(
                path,
                "dependencies nested deeper than 64 levels",
            ));
            return;
        }
        for (name, info) in deps {
            if let Some(ver) = info.get("version").and_then(|v| v.as_str()) {
                if !ver.starts_with("file:") && !ver.starts_with("git") {
                    out.packages
                        .push(Package::new(PkgType::Npm, name, ver, path));
                }
            }
            if let Some(sub) = info.get("dependencies").and_then(|d| d.as_object()) {
                walk(sub, path, depth + 1, out);
            }
        }
    }
    if let Some(deps) = v.get("dependencies").and_then(|d| d.as_object()) {
        walk(deps, path, 0, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_versions() {
        let mut out = Outcome::default();
        parse_package_lock(
            "package-lock.json",
            br#"{"lockfileVersion":3,"packages":{"":{"name":"app"},"node_modules/lodash":{"version":"4.17.20"},"node_modules/@a/b":{"version":"1.0.0"}}}"#,
            &mut out,
        );
        let mut got: Vec<_> = out
            .packages
            .iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect();
        got.sort();
        assert_eq!(got, vec!["@a/b@1.0.0", "lodash@4.17.20"]);
        let mut out = Outcome::default();
        parse_package_lock(
            "package-lock.json",
            br#"{"lockfileVersion":1,"dependencies":{"a":{"version":"1.0.0","dependencies":{"b":{"version":"2.0.0"}}}}}"#,
            &mut out,
        );
        assert_eq!(out.packages.len(), 2);
        let mut out = Outcome::default();
        parse_package_json("node_modules/x/package.json", b"{\"name\":", &mut out);
        assert_eq!(out.warnings.len(), 1);
    }
}
