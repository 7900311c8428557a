//! Alpine's `lib/apk/db/installed`: single-letter fields, one blank-line separated block per
//! package (`P:` name, `V:` version, `A:` arch, `o:` origin, `L:` license).

use super::Outcome;
use crate::error::Warning;
use crate::package::{Package, PkgType};

pub fn parse(path: &str, data: &[u8], out: &mut Outcome) {
    let text = String::from_utf8_lossy(data);
    let mut cur: Vec<(char, &str)> = Vec::new();
    let mut start = 1;
    let flush = |cur: &mut Vec<(char, &str)>, line: usize, out: &mut Outcome| {
        if cur.is_empty() {
            return;
        }
        let get = |c: char| cur.iter().find(|(k, _)| *k == c).map(|(_, v)| *v);
        match (get('P'), get('V')) {
            (Some(n), Some(v)) => {
                let mut p = Package::new(PkgType::Apk, n, v, path);
                p.arch = get('A').map(String::from);
                p.source_name = Some(get('o').unwrap_or(n).to_string());
                p.source_version = Some(v.to_string());
                if let Some(l) = get('L') {
                    p.licenses.push(l.to_string());
                }
                out.packages.push(p);
            }
            _ => out
                .warnings
                .push(Warning::at(path, line, "package block without P: or V:")),
        }
        cur.clear();
    };
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            flush(&mut cur, start, out);
            start = i + 2;
            continue;
        }
        let b = line.as_bytes();
        if b.len() >= 2 && b[1] == b':' {
            cur.push((b[0] as char, &line[2..]));
        } else {
            out.warnings
                .push(Warning::at(path, i + 1, "expected 'X:value'"));
        }
    }
    flush(&mut cur, start, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_db() {
        let data = b"C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\n\nP:libcrypto3\nV:3.1.4-r1\no:openssl\n\n";
        let mut out = Outcome::default();
        parse("lib/apk/db/installed", data, &mut out);
        assert_eq!(out.packages.len(), 2);
        assert_eq!(out.packages[1].source_name.as_deref(), Some("openssl"));
        assert!(out.warnings.is_empty());
    }
}
