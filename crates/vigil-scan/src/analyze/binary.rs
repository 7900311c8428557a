//! Executables: Go module build information and cargo-auditable dependency lists.
//!
//! A minimal ELF reader (section and program headers only, every offset checked) finds the
//! `.go.buildinfo` and `.dep-v0` sections; when section headers are stripped, the Go build-info
//! magic is searched for directly. A general object-file crate was rejected: two sections and
//! address translation are all that is needed, and a small reader is easy to fuzz.
//!
//! Go build info exists in two layouts: Go >= 1.18 stores the version and module strings inline
//! after the 32-byte header (flag bit 2); older toolchains store two pointers to Go string
//! headers, which are resolved through the program headers' virtual address mapping.

use super::Outcome;
use crate::error::Warning;
use crate::package::{Package, PkgType};
use std::io::Read;

const GO_MAGIC: &[u8] = b"\xff Go buildinf:";

/// The parts of an ELF file vigil needs.
#[derive(Debug)]
pub struct Elf<'a> {
    data: &'a [u8],
    pub is64: bool,
    pub big_endian: bool,
    /// (name, file offset, size, virtual address)
    sections: Vec<(String, usize, usize, u64)>,
    /// (vaddr, file offset, file size) of PT_LOAD segments
    segments: Vec<(u64, u64, u64)>,
}

impl<'a> Elf<'a> {
    fn u16(&self, off: usize) -> Option<u16> {
        let b = self.data.get(off..off + 2)?;
        Some(if self.big_endian {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            u16::from_le_bytes([b[0], b[1]])
        })
    }
    fn u32(&self, off: usize) -> Option<u32> {
        let b: [u8; 4] = self.data.get(off..off + 4)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }
    fn u64(&self, off: usize) -> Option<u64> {
        let b: [u8; 8] = self.data.get(off..off + 8)?.try_into().ok()?;
        Some(if self.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }
    /// Parse the headers; `None` if this is not a well-formed ELF file.
    pub fn parse(data: &'a [u8]) -> Option<Elf<'a>> {
        if data.len() < 52 || &data[..4] != b"\x7fELF" {
            return None;
        }
        let mut e = Elf {
            data,
            is64: data[4] == 2,
            big_endian: data[5] == 2,
            sections: Vec::new(),
            segments: Vec::new(),
        };
        let (phoff, shoff, phentsize, phnum, shentsize, shnum, shstrndx) = if e.is64 {
            (
                e.u64(0x20)?,
                e.u64(0x28)?,
                e.u16(0x36)?,
                e.u16(0x38)?,
                e.u16(0x3A)?,
                e.u16(0x3C)?,
                e.u16(0x3E)?,
            )
        } else {
            (
                u64::from(e.u32(0x1C)?),
                u64::from(e.u32(0x20)?),
                e.u16(0x2A)?,
                e.u16(0x2C)?,
                e.u16(0x2E)?,
                e.u16(0x30)?,
                e.u16(0x32)?,
            )
        };
        for i in 0..phnum as usize {
            let at = usize::try_from(phoff)
                .ok()?
                .checked_add(i * phentsize as usize)?;
            if e.u32(at) != Some(1) {
                continue; // not PT_LOAD
            }
            let seg = if e.is64 {
                (e.u64(at + 0x10), e.u64(at + 8), e.u64(at + 0x20))
            } else {
                (
                    e.u32(at + 8).map(u64::from),
                    e.u32(at + 4).map(u64::from),
                    e.u32(at + 0x10).map(u64::from),
                )
            };
            if let (Some(v), Some(o), Some(s)) = seg {
                e.segments.push((v, o, s));
            }
        }
        let mut raw = Vec::new();
        for i in 0..shnum as usize {
            let Some(at) = usize::try_from(shoff)
                .ok()
                .and_then(|o| o.checked_add(i * shentsize as usize))
            else {
                break;
            };
            let sh = if e.is64 {
                (
                    e.u32(at),
                    e.u64(at + 0x10),
                    e.u64(at + 0x18),
                    e.u64(at + 0x20),
                )
            } else {
                (
                    e.u32(at),
                    e.u32(at + 0xC).map(u64::from),
                    e.u32(at + 0x10).map(u64::from),
                    e.u32(at + 0x14).map(u64::from),
                )
            };
            match sh {
                (Some(n), Some(a), Some(o), Some(s)) => raw.push((n, a, o, s)),
                _ => break,
            }
        }
        if let Some(&(_, _, stroff, strsize)) = raw.get(shstrndx as usize) {
            let strtab = usize::try_from(stroff)
                .ok()
                .zip(usize::try_from(strsize).ok())
                .and_then(|(o, s)| data.get(o..o.checked_add(s)?));
            if let Some(strtab) = strtab {
                for (n, a, o, s) in raw {
                    let name = strtab
                        .get(n as usize..)
                        .and_then(|r| r.split(|b| *b == 0).next())
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .unwrap_or_default();
                    e.sections.push((name, o as usize, s as usize, a));
                }
            }
        }
        Some(e)
    }

    /// Contents of the named section, if present and inside the file.
    pub fn section(&self, name: &str) -> Option<&'a [u8]> {
        let (_, off, size, _) = self.sections.iter().find(|s| s.0 == name)?;
        self.data.get(*off..off.checked_add(*size)?)
    }

    /// `len` bytes at virtual address `addr`.
    fn at_vaddr(&self, addr: u64, len: u64) -> Option<&'a [u8]> {
        for &(v, o, s) in &self.segments {
            if addr >= v && addr.checked_add(len)? <= v.checked_add(s)? {
                let start = usize::try_from(o.checked_add(addr - v)?).ok()?;
                return self
                    .data
                    .get(start..start.checked_add(usize::try_from(len).ok()?)?);
            }
        }
        None
    }
}

fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut x = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        x |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((x, i + 1));
        }
    }
    None
}

/// Extract (Go version, module info text) from a binary.
pub fn go_buildinfo(data: &[u8]) -> Option<Result<(String, String), String>> {
    let elf = Elf::parse(data);
    let (blob, _) = match elf.as_ref().and_then(|e| e.section(".go.buildinfo")) {
        Some(s) if s.starts_with(GO_MAGIC) => (s, ()),
        _ => {
            let at = memchr::memmem::find(data, GO_MAGIC)?;
            (&data[at..], ())
        }
    };
    if blob.len() < 32 {
        return Some(Err("build info header truncated".into()));
    }
    let ptr_size = blob[14] as usize;
    let flags = blob[15];
    let (version, modinfo) = if flags & 2 != 0 {
        let mut rest = &blob[32..];
        let mut read = || -> Option<String> {
            let (n, used) = uvarint(rest)?;
            let n = usize::try_from(n).ok()?;
            let s = rest.get(used..used.checked_add(n)?)?;
            rest = &rest[used + n..];
            Some(String::from_utf8_lossy(s).into_owned())
        };
        match (read(), read()) {
            (Some(v), Some(m)) => (v, m),
            _ => return Some(Err("inline build info strings truncated".into())),
        }
    } else {
        let Some(elf) = elf else {
            return Some(Err("pointer-format build info outside an ELF file".into()));
        };
        if ptr_size != 4 && ptr_size != 8 {
            return Some(Err(format!("bad pointer size {ptr_size}")));
        }
        let rd = |b: &[u8]| -> Option<u64> {
            let be = flags & 1 != 0;
            Some(match (ptr_size, be) {
                (8, false) => u64::from_le_bytes(b.get(..8)?.try_into().ok()?),
                (8, true) => u64::from_be_bytes(b.get(..8)?.try_into().ok()?),
                (_, false) => u64::from(u32::from_le_bytes(b.get(..4)?.try_into().ok()?)),
                (_, true) => u64::from(u32::from_be_bytes(b.get(..4)?.try_into().ok()?)),
            })
        };
        let read_string = |hdr_addr: u64| -> Option<String> {
            let hdr = elf.at_vaddr(hdr_addr, 2 * ptr_size as u64)?;
            let (ptr, len) = (rd(hdr)?, rd(&hdr[ptr_size..])?);
            if len > 1 << 20 {
                return None;
            }
            let s = elf.at_vaddr(ptr, len)?;
            Some(String::from_utf8_lossy(s).into_owned())
        };
        let p1 = rd(&blob[16..]);
        let p2 = rd(&blob[16 + ptr_size..]);
        match (p1.and_then(read_string), p2.and_then(read_string)) {
            (Some(v), Some(m)) => (v, m),
            _ => return Some(Err("build info pointers do not resolve".into())),
        }
    };
    // The module info is wrapped in 16-byte sentinels.
    let modinfo = if modinfo.len() >= 33 && modinfo.as_bytes()[modinfo.len() - 17] == b'\n' {
        modinfo[16..modinfo.len() - 16].to_string()
    } else {
        modinfo
    };
    Some(Ok((version, modinfo)))
}

/// Packages from Go module info: the toolchain (`stdlib`), the main module and dependencies
/// (replacements applied).
pub fn go_packages(path: &str, go_version: &str, modinfo: &str) -> Vec<Package> {
    let mut pkgs: Vec<Package> = Vec::new();
    if let Some(v) = go_version.strip_prefix("go") {
        let v = v.split([' ', '-']).next().unwrap_or(v);
        pkgs.push(Package::new(PkgType::Go, "stdlib", &format!("v{v}"), path));
    }
    for line in modinfo.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["mod", m, v, ..] | ["dep", m, v, ..] => {
                pkgs.push(Package::new(PkgType::Go, m, v, path))
            }
            ["=>", m, v, ..] => {
                if let Some(last) = pkgs.last_mut() {
                    if !v.is_empty() {
                        last.name = m.to_string();
                        last.version = v.to_string();
                    }
                }
            }
            _ => {}
        }
    }
    pkgs
}

#[derive(serde::Deserialize)]
struct Auditable {
    packages: Vec<AuditablePkg>,
}

#[derive(serde::Deserialize)]
struct AuditablePkg {
    name: String,
    version: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    root: bool,
}

/// Packages from a cargo-auditable `.dep-v0` section (zlib-compressed JSON).
pub fn auditable_packages(path: &str, section: &[u8]) -> Result<Vec<Package>, String> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(section)
        .take(8 << 20)
        .read_to_end(&mut json)
        .map_err(|e| format!(".dep-v0: bad zlib stream: {e}"))?;
    let a: Auditable =
        serde_json::from_slice(&json).map_err(|e| format!(".dep-v0: bad JSON: {e}"))?;
    Ok(a.packages
        .into_iter()
        .filter(|p| !p.root || p.source == "crates.io")
        .filter(|p| p.source != "local")
        .map(|p| Package::new(PkgType::Cargo, &p.name, &p.version, path))
        .collect())
}

pub fn parse(path: &str, data: &[u8], out: &mut Outcome) {
    if !data.starts_with(b"\x7fELF") {
        return;
    }
    if let Some(elf) = Elf::parse(data) {
        if let Some(sec) = elf.section(".dep-v0") {
            match auditable_packages(path, sec) {
                Ok(p) => out.packages.extend(p),
                Err(e) => out.warnings.push(Warning::new(path, e)),
            }
        }
    }
    match go_buildinfo(data) {
        None => {}
        Some(Ok((v, m))) => out.packages.extend(go_packages(path, &v, &m)),
        Some(Err(e)) => out
            .warnings
            .push(Warning::new(path, format!("Go build info: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_go_buildinfo() {
        let modinfo = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgolang.org/x/net\tv0.0.1\th1:x\n=>\tgolang.org/x/net\tv0.7.0\th1:y\ndep\tgithub.com/a/b\tv1.2.3\th1:z\n";
        let wrapped = format!("{}{}{}", "3077af0c92740802", modinfo, "f932433186182072");
        let mut blob = GO_MAGIC.to_vec();
        blob.extend_from_slice(&[8, 2]);
        blob.resize(32, 0);
        for s in ["go1.21.3", wrapped.as_str()] {
            blob.push(s.len() as u8 | 0x80);
            blob.push((s.len() >> 7) as u8);
            blob.extend_from_slice(s.as_bytes());
        }
        let mut data = vec![0u8; 64];
        data.extend_from_slice(&blob);
        let (v, m) = go_buildinfo(&data).unwrap().unwrap();
        assert_eq!(v, "go1.21.3");
        let pkgs = go_packages("bin/app", &v, &m);
        let got: Vec<_> = pkgs
            .iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect();
        assert_eq!(
            got,
            vec![
                "stdlib@v1.21.3",
                "example.com/app@(devel)",
                "golang.org/x/net@v0.7.0",
                "github.com/a/b@v1.2.3"
            ]
        );
        // Truncated: an error, not a panic.
        assert!(go_buildinfo(&data[..100]).unwrap().is_err());
    }

    #[test]
    fn auditable_json() {
        use std::io::Write;
        let json = br#"{"packages":[{"name":"app","version":"0.1.0","source":"local","root":true},{"name":"smallvec","version":"1.6.0","source":"crates.io","kind":"runtime"}]}"#;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(json).unwrap();
        let pkgs = auditable_packages("bin/app", &z.finish().unwrap()).unwrap();
        assert_eq!(pkgs.len(), 1);
        assert_eq!(pkgs[0].name, "smallvec");
        assert!(auditable_packages("bin/app", b"nope").is_err());
    }
}
