//! RPM: the SQLite package database (`rpmdb.sqlite`, RPM >= 4.16) and RPM header blobs.
//!
//! SQLite is read through rusqlite (bundled SQLite, so no system library is needed) from a
//! private temporary copy, because the scanner only ever holds the file's bytes. The header
//! blob parser is hand-written and bounds-checks every offset: headers come from the image and
//! are untrusted. BerkeleyDB and NDB databases (older RHEL/CentOS, SUSE) are not read yet.

use super::Outcome;
use crate::error::Warning;
use crate::package::{Package, PkgType};

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_LICENSE: u32 = 1014;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// The fields vigil needs from one header.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RpmHeader {
    pub name: String,
    pub version: String,
    pub release: String,
    pub epoch: Option<u32>,
    pub arch: String,
    pub license: String,
    pub source_rpm: String,
}

fn be32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Parse an RPM header blob as stored in rpmdb (no leading magic): index count, data length,
/// index entries of 16 bytes, then the data store.
pub fn parse_header(blob: &[u8]) -> Result<RpmHeader, String> {
    let il = be32(blob, 0).ok_or("blob shorter than 8 bytes")? as usize;
    let dl = be32(blob, 4).ok_or("blob shorter than 8 bytes")? as usize;
    if il > 100_000 || dl > 256 << 20 {
        return Err(format!(
            "implausible header sizes ({il} entries, {dl} bytes)"
        ));
    }
    let data_start = 8 + il * 16;
    let data = blob.get(data_start..data_start + dl).ok_or_else(|| {
        format!(
            "header says {il} entries and {dl} data bytes, blob has {}",
            blob.len()
        )
    })?;
    let mut h = RpmHeader::default();
    let cstr = |off: usize| -> Result<String, String> {
        let rest = data.get(off..).ok_or("string offset outside data")?;
        let end = memchr::memchr(0, rest).ok_or("unterminated string")?;
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    };
    for i in 0..il {
        let e = 8 + i * 16;
        let (tag, ty, off) = (
            be32(blob, e).unwrap_or(0),
            be32(blob, e + 4).unwrap_or(0),
            be32(blob, e + 8).unwrap_or(0) as usize,
        );
        let is_str = matches!(ty, TYPE_STRING | TYPE_I18NSTRING | TYPE_STRING_ARRAY);
        match tag {
            TAG_NAME | TAG_VERSION | TAG_RELEASE | TAG_ARCH | TAG_LICENSE | TAG_SOURCERPM
                if is_str =>
            {
                let s = cstr(off)?;
                match tag {
                    TAG_NAME => h.name = s,
                    TAG_VERSION => h.version = s,
                    TAG_RELEASE => h.release = s,
                    TAG_ARCH => h.arch = s,
                    TAG_LICENSE => h.license = s,
                    _ => h.source_rpm = s,
                }
            }
            TAG_EPOCH if ty == TYPE_INT32 => {
                h.epoch = Some(be32(data, off).ok_or("epoch offset outside data")?);
            }
            _ => {}
        }
    }
    if h.name.is_empty() || h.version.is_empty() {
        return Err("header without name or version".into());
    }
    Ok(h)
}

/// Source package name from a source rpm file name (`openssl-3.0.7-24.el9.src.rpm`).
fn source_name(srpm: &str) -> Option<String> {
    let base = srpm.strip_suffix(".rpm")?;
    let base = base.rsplit_once('.')?.0; // arch (src/nosrc)
    let base = base.rsplit_once('-')?.0; // release
    let base = base.rsplit_once('-')?.0; // version
    Some(base.to_string())
}

pub fn parse_sqlite(path: &str, data: &[u8], out: &mut Outcome) {
    let tmp = match tempfile::NamedTempFile::new()
        .and_then(|mut f| std::io::Write::write_all(&mut f, data).map(|_| f))
    {
        Ok(f) => f,
        Err(e) => {
            out.warnings.push(Warning::new(
                path,
                format!("cannot stage database copy: {e}"),
            ));
            return;
        }
    };
    let conn = match rusqlite::Connection::open_with_flags(
        tmp.path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) {
        Ok(c) => c,
        Err(e) => {
            out.warnings
                .push(Warning::new(path, format!("not an SQLite database: {e}")));
            return;
        }
    };
    let rows: Result<Vec<(i64, Vec<u8>)>, rusqlite::Error> = conn
        .prepare("SELECT hnum, blob FROM Packages")
        .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect());
    let rows = match rows {
        Ok(r) => r,
        Err(e) => {
            out.warnings.push(Warning::new(
                path,
                format!("cannot read Packages table: {e}"),
            ));
            return;
        }
    };
    for (hnum, blob) in rows {
        match parse_header(&blob) {
            Ok(h) => {
                if h.name == "gpg-pubkey" {
                    continue;
                }
                let version = match h.epoch {
                    Some(e) if e > 0 => format!("{e}:{}-{}", h.version, h.release),
                    _ => format!("{}-{}", h.version, h.release),
                };
                let mut p = Package::new(PkgType::Rpm, &h.name, &version, path);
                p.arch = (!h.arch.is_empty()).then(|| h.arch.clone());
                p.source_name = source_name(&h.source_rpm).or_else(|| Some(h.name.clone()));
                p.source_version = Some(version.clone());
                if !h.license.is_empty() {
                    p.licenses.push(h.license);
                }
                out.packages.push(p);
            }
            Err(e) => out
                .warnings
                .push(Warning::new(path, format!("package header {hnum}: {e}"))),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Build a header blob the way rpm stores it.
    pub(crate) fn blob(entries: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut data = Vec::new();
        let mut index = Vec::new();
        for (tag, ty, bytes) in entries {
            index.extend_from_slice(&tag.to_be_bytes());
            index.extend_from_slice(&ty.to_be_bytes());
            index.extend_from_slice(&(data.len() as u32).to_be_bytes());
            index.extend_from_slice(&1u32.to_be_bytes());
            data.extend_from_slice(bytes);
        }
        let mut b = Vec::new();
        b.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        b.extend_from_slice(&(data.len() as u32).to_be_bytes());
        b.extend_from_slice(&index);
        b.extend_from_slice(&data);
        b
    }

    #[test]
    fn header_and_sqlite() {
        let b = blob(&[
            (TAG_NAME, TYPE_STRING, b"openssl-libs\0"),
            (TAG_VERSION, TYPE_STRING, b"3.0.7\0"),
            (TAG_RELEASE, TYPE_STRING, b"24.el9\0"),
            (TAG_EPOCH, TYPE_INT32, &1u32.to_be_bytes()),
            (TAG_ARCH, TYPE_STRING, b"x86_64\0"),
            (
                TAG_SOURCERPM,
                TYPE_STRING,
                b"openssl-3.0.7-24.el9.src.rpm\0",
            ),
        ]);
        let h = parse_header(&b).unwrap();
        assert_eq!(h.epoch, Some(1));
        assert_eq!(source_name(&h.source_rpm).as_deref(), Some("openssl"));
        assert!(parse_header(&b[..b.len() - 3]).is_err());
        assert!(parse_header(&[0xff; 8]).is_err());

        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("rpmdb.sqlite");
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB NOT NULL)",
            [],
        )
        .unwrap();
        conn.execute("INSERT INTO Packages VALUES (1, ?1)", [&b])
            .unwrap();
        conn.execute("INSERT INTO Packages VALUES (2, ?1)", [&b"junk".to_vec()])
            .unwrap();
        drop(conn);
        let bytes = std::fs::read(&db).unwrap();
        let mut out = Outcome::default();
        parse_sqlite("var/lib/rpm/rpmdb.sqlite", &bytes, &mut out);
        assert_eq!(out.packages.len(), 1);
        assert_eq!(out.packages[0].version, "1:3.0.7-24.el9");
        assert_eq!(out.packages[0].source_name.as_deref(), Some("openssl"));
        assert_eq!(out.warnings.len(), 1);
        assert!(out.warnings[0].message.contains("header 2"));
    }
}
