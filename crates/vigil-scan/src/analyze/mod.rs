//! Per-file analyzers: which files are wanted, and what packages each one proves.
//!
//! Every analyzer is a pure function of (path, bytes), so the scanner can run it the moment a
//! wanted file streams past in its layer and keep only the result, never the contents. Whether
//! the file survives to the final filesystem is decided later from the file index. The
//! alternative, collecting contents and analyzing at the end, would hold every executable of an
//! image in memory at once.

pub mod apk;
pub mod binary;
pub mod dpkg;
pub mod java;
pub mod node;
pub mod python;
pub mod rpm;
pub mod rust;

use crate::error::Warning;
use crate::os::OsInfo;
use crate::package::Package;

/// What kind of file an analyzer wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    OsRelease,
    DpkgStatus,
    ApkInstalled,
    RpmSqlite,
    PythonMetadata,
    PythonRequirements,
    PoetryLock,
    PipfileLock,
    NodePackageJson,
    NodePackageLock,
    CargoLock,
    Jar,
    /// An executable that may be a Go or Rust binary with embedded dependency data.
    Executable,
}

/// What analyzing one file produced.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub packages: Vec<Package>,
    pub os: Option<OsInfo>,
    pub warnings: Vec<Warning>,
}

/// Largest size worth reading for each kind (bigger files are skipped with a warning).
pub fn max_size(kind: FileKind) -> u64 {
    match kind {
        FileKind::Executable => 256 << 20,
        FileKind::Jar => 128 << 20,
        FileKind::RpmSqlite => 512 << 20,
        FileKind::DpkgStatus | FileKind::ApkInstalled => 64 << 20,
        _ => 16 << 20,
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Decide from the path, mode and size whether a regular file is wanted.
pub fn classify(path: &str, mode: u32, size: u64) -> Option<FileKind> {
    let name = file_name(path);
    match path {
        "etc/os-release" | "usr/lib/os-release" => return Some(FileKind::OsRelease),
        "var/lib/dpkg/status" => return Some(FileKind::DpkgStatus),
        "lib/apk/db/installed" => return Some(FileKind::ApkInstalled),
        "var/lib/rpm/rpmdb.sqlite" | "usr/lib/sysimage/rpm/rpmdb.sqlite" => {
            return Some(FileKind::RpmSqlite)
        }
        _ => {}
    }
    if let Some(rest) = path.strip_prefix("var/lib/dpkg/status.d/") {
        if !rest.contains('/') && !rest.ends_with(".md5sums") {
            return Some(FileKind::DpkgStatus);
        }
    }
    let parent = path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    let parent_name = file_name(parent);
    if name == "METADATA" && parent_name.ends_with(".dist-info") {
        return Some(FileKind::PythonMetadata);
    }
    if (name == "PKG-INFO" && parent_name.ends_with(".egg-info"))
        || (name.ends_with(".egg-info") && !parent.contains("/.egg-info"))
    {
        return Some(FileKind::PythonMetadata);
    }
    let in_node_modules = path.contains("node_modules/");
    if name == "package.json" && in_node_modules {
        // Only the manifest at a package's root: node_modules/NAME/package.json or
        // node_modules/@scope/NAME/package.json.
        let mut comps = parent.rsplit('/');
        let last = comps.next().unwrap_or("");
        let before = comps.next().unwrap_or("");
        let ok = before == "node_modules"
            || (before.starts_with('@') && comps.next() == Some("node_modules"));
        if ok && !last.is_empty() {
            return Some(FileKind::NodePackageJson);
        }
        return None;
    }
    if in_node_modules {
        // Lock files and requirements inside dependencies describe their build, not the image.
        return None;
    }
    match name {
        "package-lock.json" | "npm-shrinkwrap.json" => return Some(FileKind::NodePackageLock),
        "Cargo.lock" => return Some(FileKind::CargoLock),
        "poetry.lock" => return Some(FileKind::PoetryLock),
        "Pipfile.lock" => return Some(FileKind::PipfileLock),
        _ => {}
    }
    if name.starts_with("requirements") && name.ends_with(".txt") {
        return Some(FileKind::PythonRequirements);
    }
    if name.ends_with(".jar") || name.ends_with(".war") || name.ends_with(".ear") {
        return Some(FileKind::Jar);
    }
    if mode & 0o111 != 0 && size >= 4096 && !path.starts_with("usr/share/") {
        return Some(FileKind::Executable);
    }
    None
}

/// Run the analyzer for `kind` on one file's contents.
pub fn analyze(kind: FileKind, path: &str, data: &[u8]) -> Outcome {
    let mut out = Outcome::default();
    match kind {
        FileKind::OsRelease => {
            let (os, w) = crate::os::parse_os_release(path, data);
            out.os = os;
            out.warnings = w;
        }
        FileKind::DpkgStatus => dpkg::parse(path, data, &mut out),
        FileKind::ApkInstalled => apk::parse(path, data, &mut out),
        FileKind::RpmSqlite => rpm::parse_sqlite(path, data, &mut out),
        FileKind::PythonMetadata => python::parse_metadata(path, data, &mut out),
        FileKind::PythonRequirements => python::parse_requirements(path, data, &mut out),
        FileKind::PoetryLock => python::parse_poetry_lock(path, data, &mut out),
        FileKind::PipfileLock => python::parse_pipfile_lock(path, data, &mut out),
        FileKind::NodePackageJson => node::parse_package_json(path, data, &mut out),
        FileKind::NodePackageLock => node::parse_package_lock(path, data, &mut out),
        FileKind::CargoLock => rust::parse_cargo_lock(path, data, &mut out),
        FileKind::Jar => java::parse_archive(path, data, 0, &mut out),
        FileKind::Executable => binary::parse(path, data, &mut out),
    }
    out
}

/// Parse RFC 822 style `Key: value` paragraphs (dpkg status, Python METADATA) with 1-based line
/// numbers. Continuation lines (leading space or tab) are appended to the previous value.
/// Returns `(first line, fields)` per paragraph; a line that is neither is reported.
pub(crate) fn rfc822_paragraphs<'a>(
    path: &str,
    text: &'a str,
    stop_at_blank: bool,
    warnings: &mut Vec<Warning>,
) -> Vec<(usize, Vec<(&'a str, String)>)> {
    let mut paras = Vec::new();
    let mut cur: Vec<(&'a str, String)> = Vec::new();
    let mut start = 0;
    let mut bad_para = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            if !cur.is_empty() && !bad_para {
                paras.push((start, std::mem::take(&mut cur)));
            }
            cur.clear();
            bad_para = false;
            if stop_at_blank {
                break;
            }
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            match cur.last_mut() {
                Some((_, v)) => {
                    v.push('\n');
                    v.push_str(line.trim());
                }
                None => {
                    warnings.push(Warning::at(
                        path,
                        i + 1,
                        "continuation line without a field",
                    ));
                    bad_para = true;
                }
            }
            continue;
        }
        match line.split_once(':') {
            Some((k, v)) if !k.is_empty() && !k.contains(' ') => {
                if cur.is_empty() {
                    start = i + 1;
                }
                cur.push((k, v.trim().to_string()));
            }
            _ => {
                warnings.push(Warning::at(
                    path,
                    i + 1,
                    format!("malformed line (expected 'Field: value'): {:.60}", line),
                ));
                bad_para = true;
            }
        }
    }
    if !cur.is_empty() && !bad_para {
        paras.push((start, cur));
    }
    paras
}

pub(crate) fn field<'a>(fields: &'a [(&str, String)], key: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_paths() {
        assert_eq!(
            classify("var/lib/dpkg/status", 0o644, 10),
            Some(FileKind::DpkgStatus)
        );
        assert_eq!(
            classify("var/lib/dpkg/status.d/base", 0o644, 10),
            Some(FileKind::DpkgStatus)
        );
        assert_eq!(
            classify("var/lib/dpkg/status.d/base.md5sums", 0o644, 10),
            None
        );
        assert_eq!(
            classify(
                "opt/venv/lib/python3.11/site-packages/urllib3-1.24.1.dist-info/METADATA",
                0o644,
                10
            ),
            Some(FileKind::PythonMetadata)
        );
        assert_eq!(
            classify("app/node_modules/@babel/core/package.json", 0o644, 10),
            Some(FileKind::NodePackageJson)
        );
        assert_eq!(
            classify("app/node_modules/x/lib/package.json", 0o644, 10),
            None
        );
        assert_eq!(classify("app/node_modules/x/Cargo.lock", 0o644, 10), None);
        assert_eq!(
            classify("usr/bin/app", 0o755, 1 << 20),
            Some(FileKind::Executable)
        );
        assert_eq!(classify("etc/motd", 0o644, 1 << 20), None);
    }
}
