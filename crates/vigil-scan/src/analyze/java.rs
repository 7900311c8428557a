//! Java archives (JAR, WAR, EAR): Maven coordinates from `META-INF/maven/**/pom.properties`,
//! falling back to `META-INF/MANIFEST.MF` and then the file name; nested archives
//! (`WEB-INF/lib/*.jar`, `BOOT-INF/lib/*.jar`) are opened recursively up to a fixed depth.
//!
//! Archives are opened from memory with the `zip` crate; every entry read is capped, so a zip
//! bomb costs at most the cap.

use super::Outcome;
use crate::error::Warning;
use crate::package::{Package, PkgType};
use std::io::Read;

const MAX_DEPTH: usize = 3;
const MAX_TEXT: u64 = 1 << 20;
const MAX_NESTED: u64 = 64 << 20;

fn props(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('=').or_else(|| l.split_once(':')))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect()
}

fn get<'a>(p: &[(&'a str, &'a str)], k: &str) -> Option<&'a str> {
    p.iter().find(|(key, _)| *key == k).map(|(_, v)| *v)
}

/// `name-1.2.3.jar` -> ("name", "1.2.3").
fn from_file_name(path: &str) -> Option<(String, String)> {
    let name = path.rsplit(['/', '!']).next()?;
    let stem = name.rsplit_once('.')?.0;
    let idx = stem
        .match_indices('-')
        .find(|(i, _)| stem[i + 1..].starts_with(|c: char| c.is_ascii_digit()))?
        .0;
    Some((stem[..idx].to_string(), stem[idx + 1..].to_string()))
}

pub fn parse_archive(path: &str, data: &[u8], depth: usize, out: &mut Outcome) {
    let mut zip = match zip::ZipArchive::new(std::io::Cursor::new(data)) {
        Ok(z) => z,
        Err(e) => {
            out.warnings.push(Warning::new(
                path,
                format!("not a readable zip archive: {e}"),
            ));
            return;
        }
    };
    let mut found = 0;
    let mut manifest: Option<String> = None;
    let mut nested: Vec<String> = Vec::new();
    let names: Vec<String> = zip.file_names().map(String::from).collect();
    let read_entry = |zip: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>,
                      name: &str,
                      cap: u64|
     -> Option<Vec<u8>> {
        let f = zip.by_name(name).ok()?;
        let mut buf = Vec::new();
        f.take(cap).read_to_end(&mut buf).ok()?;
        Some(buf)
    };
    for name in &names {
        if name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties") {
            let Some(buf) = read_entry(&mut zip, name, MAX_TEXT) else {
                out.warnings
                    .push(Warning::new(format!("{path}!{name}"), "unreadable entry"));
                continue;
            };
            let text = String::from_utf8_lossy(&buf);
            let p = props(&text);
            if let (Some(g), Some(a), Some(v)) = (
                get(&p, "groupId"),
                get(&p, "artifactId"),
                get(&p, "version"),
            ) {
                let mut pkg = Package::new(PkgType::Maven, &format!("{g}:{a}"), v, path);
                pkg.files.push(format!("{path}!{name}"));
                out.packages.push(pkg);
                found += 1;
            }
        } else if name == "META-INF/MANIFEST.MF" {
            manifest = read_entry(&mut zip, name, MAX_TEXT)
                .map(|b| String::from_utf8_lossy(&b).into_owned());
        } else if name.ends_with(".jar") || name.ends_with(".war") {
            nested.push(name.clone());
        }
    }
    if found == 0 {
        let m = manifest.as_deref().map(props).unwrap_or_default();
        let title = get(&m, "Implementation-Title").or(get(&m, "Bundle-SymbolicName"));
        let version = get(&m, "Implementation-Version").or(get(&m, "Bundle-Version"));
        let vendor = get(&m, "Implementation-Vendor-Id").or(get(&m, "Bundle-Vendor"));
        let coords = match (title, version) {
            (Some(t), Some(v)) => {
                let t = t.split(';').next().unwrap_or(t);
                let name = match vendor {
                    Some(g) if !g.contains(' ') => format!("{g}:{t}"),
                    _ => t.to_string(),
                };
                Some((name, v.to_string()))
            }
            _ => from_file_name(path),
        };
        if let Some((n, v)) = coords {
            out.packages
                .push(Package::new(PkgType::Maven, &n, &v, path));
        }
    }
    if depth >= MAX_DEPTH {
        if !nested.is_empty() {
            out.warnings.push(Warning::new(
                path,
                format!("archives nested deeper than {MAX_DEPTH} levels not opened"),
            ));
        }
        return;
    }
    for name in nested {
        let inner_path = format!("{path}!{name}");
        match read_entry(&mut zip, &name, MAX_NESTED + 1) {
            Some(buf) if buf.len() as u64 <= MAX_NESTED => {
                parse_archive(&inner_path, &buf, depth + 1, out)
            }
            _ => out.warnings.push(Warning::new(
                inner_path,
                "nested archive unreadable or larger than 64 MiB",
            )),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    pub(crate) fn zip_with(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (n, d) in files {
            w.start_file(*n, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(d).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn pom_manifest_nested() {
        let inner = zip_with(&[(
            "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
            b"groupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion=2.14.1\n",
        )]);
        let other = zip_with(&[(
            "META-INF/MANIFEST.MF",
            b"Implementation-Title: foo\nImplementation-Version: 1.0\n",
        )]);
        let war = zip_with(&[
            ("WEB-INF/lib/log4j-core-2.14.1.jar", &inner),
            ("WEB-INF/lib/foo.jar", &other),
        ]);
        let mut out = Outcome::default();
        parse_archive("app/app.war", &war, 0, &mut out);
        let mut got: Vec<_> = out
            .packages
            .iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec!["foo@1.0", "org.apache.logging.log4j:log4j-core@2.14.1"]
        );
        assert_eq!(
            from_file_name("x/commons-text-1.9.jar"),
            Some(("commons-text".into(), "1.9".into()))
        );
        let mut out = Outcome::default();
        parse_archive("bad.jar", b"PK\x03\x04garbage", 0, &mut out);
        assert!(out.warnings[0].file == "bad.jar");
    }
}
