//! Builders for synthetic images (tar layers, OCI layouts, docker archives) used by the tests.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// One tar entry to write.
pub enum E<'a> {
    File(&'a str, &'a [u8]),
    Exec(&'a str, &'a [u8]),
    Dir(&'a str),
    Link(&'a str, &'a str),
    /// A raw name written into the header bytes without the tar crate's checks.
    RawFile(&'a str, &'a [u8]),
}

pub fn tar(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        match e {
            E::File(p, d) | E::Exec(p, d) => {
                h.set_size(d.len() as u64);
                h.set_mode(if matches!(e, E::Exec(..)) {
                    0o755
                } else {
                    0o644
                });
                h.set_entry_type(tar::EntryType::Regular);
                b.append_data(&mut h, p, *d).unwrap();
            }
            E::Dir(p) => {
                h.set_size(0);
                h.set_mode(0o755);
                h.set_entry_type(tar::EntryType::Directory);
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
            E::Link(p, t) => {
                h.set_size(0);
                h.set_mode(0o777);
                h.set_entry_type(tar::EntryType::Symlink);
                b.append_link(&mut h, p, t).unwrap();
            }
            E::RawFile(p, d) => {
                h.set_size(d.len() as u64);
                h.set_mode(0o644);
                h.set_entry_type(tar::EntryType::Regular);
                let name = &mut h.as_old_mut().name;
                name.fill(0);
                name[..p.len()].copy_from_slice(p.as_bytes());
                h.set_cksum();
                b.append(&h, *d).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

fn put_blob(dir: &Path, data: &[u8]) -> String {
    let hex = format!("{:x}", Sha256::digest(data));
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("blobs/sha256").join(&hex), data).unwrap();
    format!("sha256:{hex}")
}

pub fn config_json(user: &str) -> serde_json::Value {
    serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"User": user, "Env": ["PATH=/usr/bin"]},
        "rootfs": {"type": "layers", "diff_ids": []},
    })
}

/// Write an OCI image layout with the given (already compressed) layer blobs, tagged `tag`.
pub fn oci_layout(dir: &Path, layers: &[Vec<u8>], tag: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let cfg = put_blob(dir, config_json("").to_string().as_bytes());
    let ls: Vec<_> = layers
        .iter()
        .map(|l| {
            let d = put_blob(dir, l);
            serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": l.len()})
        })
        .collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg, "size": 1},
        "layers": ls,
    });
    let m = manifest.to_string();
    let md = put_blob(dir, m.as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": m.len(),
                        "annotations": {"org.opencontainers.image.ref.name": tag}}],
    });
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
}

/// Write a docker-archive tarball with the given layer tars.
pub fn docker_archive(path: &Path, layers: &[Vec<u8>], tag: &str) {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    };
    let cfg = config_json("app").to_string();
    add("cfg.json", cfg.as_bytes());
    let names: Vec<String> = (0..layers.len())
        .map(|i| format!("l{i}/layer.tar"))
        .collect();
    for (n, l) in names.iter().zip(layers) {
        add(n, l);
    }
    let manifest = serde_json::json!([{"Config": "cfg.json", "RepoTags": [tag], "Layers": names}]);
    add("manifest.json", manifest.to_string().as_bytes());
    std::fs::write(path, b.into_inner().unwrap()).unwrap();
}

pub const DPKG_STATUS: &[u8] = b"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u4\n\nPackage: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib (1:1.2.13.dfsg-1)\nVersion: 1:1.2.13.dfsg-1\n";

pub const OS_RELEASE: &[u8] =
    b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n";

pub fn metadata(name: &str, version: &str) -> Vec<u8> {
    format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nbody\n").into_bytes()
}
