//! The package record every analyzer produces, and package URLs (purl).
//!
//! One flat struct for all ecosystems rather than an enum per ecosystem: SBOM writers, the
//! vulnerability matcher and the reports all treat packages uniformly, and the few
//! ecosystem-specific fields (source package, architecture) are optional.

use serde::Serialize;

/// Which packaging system a package belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PkgType {
    Deb,
    Apk,
    Rpm,
    Python,
    Npm,
    Cargo,
    Go,
    Maven,
}

impl PkgType {
    pub fn as_str(self) -> &'static str {
        match self {
            PkgType::Deb => "deb",
            PkgType::Apk => "apk",
            PkgType::Rpm => "rpm",
            PkgType::Python => "python",
            PkgType::Npm => "npm",
            PkgType::Cargo => "cargo",
            PkgType::Go => "go",
            PkgType::Maven => "maven",
        }
    }

    /// The purl type.
    fn purl_type(self) -> &'static str {
        match self {
            PkgType::Deb => "deb",
            PkgType::Apk => "apk",
            PkgType::Rpm => "rpm",
            PkgType::Python => "pypi",
            PkgType::Npm => "npm",
            PkgType::Cargo => "cargo",
            PkgType::Go => "golang",
            PkgType::Maven => "maven",
        }
    }
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    #[serde(rename = "type")]
    pub kind: PkgType,
    pub name: String,
    pub version: String,
    /// Distribution source package (dpkg `Source:`, apk origin, rpm source rpm name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
    /// Package URL, filled in by [`Package::finish`].
    pub purl: String,
    /// Index of the layer the evidence came from (0 for a rootfs directory).
    pub layer: usize,
    /// Digest of that layer, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_digest: Option<String>,
    /// Files that prove the package is present (image paths, `!` separates nested archives).
    pub files: Vec<String>,
}

impl Package {
    /// A package with the required fields; optional ones start empty.
    pub fn new(kind: PkgType, name: &str, version: &str, evidence: &str) -> Package {
        Package {
            kind,
            name: name.to_string(),
            version: version.to_string(),
            source_name: None,
            source_version: None,
            arch: None,
            licenses: Vec::new(),
            purl: String::new(),
            layer: 0,
            layer_digest: None,
            files: vec![evidence.to_string()],
        }
    }

    /// Compute the purl given the OS (`namespace` for distro packages, e.g. "debian").
    pub fn finish(&mut self, distro: Option<&crate::os::OsInfo>) {
        self.purl = purl(self, distro);
    }
}

/// Percent-encode a purl component (letters, digits, `.-_~` stay).
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn purl(p: &Package, distro: Option<&crate::os::OsInfo>) -> String {
    let t = p.kind.purl_type();
    let mut quals: Vec<(String, String)> = Vec::new();
    let (namespace, name) = match p.kind {
        PkgType::Deb | PkgType::Apk | PkgType::Rpm => {
            if let Some(a) = &p.arch {
                quals.push(("arch".into(), a.clone()));
            }
            if let Some(d) = distro {
                quals.push(("distro".into(), format!("{}-{}", d.id, d.version_id)));
            }
            if let Some(s) = &p.source_name {
                if s != &p.name {
                    quals.push(("upstream".into(), s.clone()));
                }
            }
            (distro.map(|d| enc(&d.id)), enc(&p.name))
        }
        PkgType::Python => (None, enc(&normalize_python_name(&p.name))),
        PkgType::Npm => match p.name.strip_prefix('@').and_then(|s| s.split_once('/')) {
            Some((scope, n)) => (Some(format!("%40{}", enc(scope))), enc(n)),
            None => (None, enc(&p.name)),
        },
        PkgType::Cargo => (None, enc(&p.name)),
        PkgType::Go => match p.name.rsplit_once('/') {
            Some((ns, n)) => (
                Some(ns.split('/').map(enc).collect::<Vec<_>>().join("/")),
                enc(n),
            ),
            None => (None, enc(&p.name)),
        },
        PkgType::Maven => match p.name.split_once(':') {
            Some((g, a)) => (Some(enc(g)), enc(a)),
            None => (None, enc(&p.name)),
        },
    };
    let mut s = format!("pkg:{t}/");
    if let Some(ns) = namespace {
        s.push_str(&ns);
        s.push('/');
    }
    s.push_str(&name);
    if !p.version.is_empty() {
        s.push('@');
        s.push_str(&enc(&p.version));
    }
    quals.sort();
    for (i, (k, v)) in quals.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        s.push('=');
        s.push_str(&enc(v));
    }
    s
}

/// PEP 503 name normalization: lowercase, runs of `-_.` become `-`.
pub fn normalize_python_name(n: &str) -> String {
    let mut out = String::with_capacity(n.len());
    let mut dash = false;
    for c in n.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !dash {
                out.push('-');
            }
            dash = true;
        } else {
            out.push(c.to_ascii_lowercase());
            dash = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls() {
        let os = crate::os::OsInfo {
            id: "debian".into(),
            version_id: "12".into(),
            ..Default::default()
        };
        let mut p = Package::new(PkgType::Deb, "libssl3", "3.0.11-1~deb12u2", "x");
        p.arch = Some("amd64".into());
        p.source_name = Some("openssl".into());
        p.finish(Some(&os));
        assert_eq!(
            p.purl,
            "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl"
        );
        let mut p = Package::new(PkgType::Python, "PyYAML", "5.3", "x");
        p.finish(None);
        assert_eq!(p.purl, "pkg:pypi/pyyaml@5.3");
        let mut p = Package::new(PkgType::Npm, "@babel/core", "7.0.0", "x");
        p.finish(None);
        assert_eq!(p.purl, "pkg:npm/%40babel/core@7.0.0");
        let mut p = Package::new(PkgType::Go, "golang.org/x/net", "v0.1.0", "x");
        p.finish(None);
        assert_eq!(p.purl, "pkg:golang/golang.org/x/net@v0.1.0");
        let mut p = Package::new(PkgType::Maven, "org.apache:commons-text", "1.9", "x");
        p.finish(None);
        assert_eq!(p.purl, "pkg:maven/org.apache/commons-text@1.9");
        assert_eq!(
            normalize_python_name("Zope.Interface__x"),
            "zope-interface-x"
        );
    }
}
