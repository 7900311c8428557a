//! dpkg database: `var/lib/dpkg/status` and distroless `var/lib/dpkg/status.d/*`.
//!
//! Only packages whose status is `installed` are reported (a package in `config-files` state has
//! no binaries left). The source package comes from `Source:`, which may carry its own version
//! in parentheses when it differs from the binary version (binNMUs); vulnerability matching
//! needs the source name and version because Debian advisories are per source package.

use super::{field, rfc822_paragraphs, Outcome};
use crate::error::Warning;
use crate::package::{Package, PkgType};

pub fn parse(path: &str, data: &[u8], out: &mut Outcome) {
    let text = match std::str::from_utf8(data) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        Err(e) => {
            out.warnings.push(Warning::new(
                path,
                format!(
                    "not valid UTF-8 at byte {}; decoding lossily",
                    e.valid_up_to()
                ),
            ));
            String::from_utf8_lossy(data)
        }
    };
    for (line, fields) in rfc822_paragraphs(path, &text, false, &mut out.warnings) {
        let Some(name) = field(&fields, "Package") else {
            out.warnings
                .push(Warning::at(path, line, "paragraph without a Package field"));
            continue;
        };
        // status.d entries carry no Status field: everything listed there is installed.
        if let Some(status) = field(&fields, "Status") {
            if status.split_whitespace().nth(2) != Some("installed") {
                continue;
            }
        }
        let Some(version) = field(&fields, "Version") else {
            out.warnings.push(Warning::at(
                path,
                line,
                format!("package {name}: no Version field"),
            ));
            continue;
        };
        let mut p = Package::new(PkgType::Deb, name, version, path);
        p.arch = field(&fields, "Architecture").map(String::from);
        let (src, src_ver) = match field(&fields, "Source") {
            Some(s) => match s.split_once('(') {
                Some((n, v)) => (
                    n.trim().to_string(),
                    v.trim_end_matches(')').trim().to_string(),
                ),
                None => (s.trim().to_string(), version.to_string()),
            },
            None => (name.to_string(), version.to_string()),
        };
        p.source_name = Some(src);
        p.source_version = Some(src_ver);
        out.packages.push(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_file() {
        let data = b"Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\nDescription: x\n more\n .\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: libgcc-s1\nStatus: install ok installed\nSource: gcc-12 (12.2.0-14)\nVersion: 12.2.0-14\nArchitecture: amd64\n";
        let mut out = Outcome::default();
        parse("var/lib/dpkg/status", data, &mut out);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert_eq!(out.packages.len(), 2);
        assert_eq!(out.packages[0].source_name.as_deref(), Some("openssl"));
        assert_eq!(
            out.packages[0].source_version.as_deref(),
            Some("3.0.11-1~deb12u2")
        );
        assert_eq!(out.packages[1].source_name.as_deref(), Some("gcc-12"));
        assert_eq!(out.packages[1].source_version.as_deref(), Some("12.2.0-14"));
    }

    #[test]
    fn malformed_is_named() {
        let data = b"Package: a\nVersion: 1\n\nthis is not a field\nVersion: 2\n\nVersion: 3\n";
        let mut out = Outcome::default();
        parse("var/lib/dpkg/status", data, &mut out);
        assert_eq!(out.packages.len(), 1);
        assert_eq!(out.warnings.len(), 2, "{:?}", out.warnings);
        assert_eq!(out.warnings[0].line, Some(4));
        assert!(out.warnings[1].message.contains("without a Package"));
    }
}
