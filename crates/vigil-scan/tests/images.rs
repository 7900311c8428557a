//! End-to-end tests of the scanner on synthetic images: OCI layouts and docker archives built
//! in temporary directories, covering layer semantics and hostile input.

mod common;
use common::*;
use vigil_scan::layer::Limits;
use vigil_scan::{scan_target, PkgType, ScanError, ScanOptions};

fn names(inv: &vigil_scan::Inventory) -> Vec<String> {
    inv.packages
        .iter()
        .map(|p| format!("{}:{}@{}", p.kind.as_str(), p.name, p.version))
        .collect()
}

fn base_layer() -> Vec<u8> {
    let urllib3 = metadata("urllib3", "1.24.1");
    let six = metadata("six", "1.16.0");
    let old = metadata("oldpkg", "0.1");
    tar(&[
        E::Dir("etc"),
        E::Link("etc/os-release", "../usr/lib/os-release"),
        E::File("usr/lib/os-release", OS_RELEASE),
        E::File("var/lib/dpkg/status", DPKG_STATUS),
        E::File(
            "opt/venv/lib/python3.11/site-packages/urllib3-1.24.1.dist-info/METADATA",
            &urllib3,
        ),
        E::File(
            "opt/venv/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA",
            &six,
        ),
        E::File("opt/old/oldpkg-0.1.dist-info/METADATA", &old),
        E::File("opt/app/.env", b"GITLAB_TOKEN=glpat-Xy7kP2mQ9rT4vW8zA1bC\n"),
    ])
}

fn upper_layer() -> Vec<u8> {
    let six2 = metadata("six", "1.17.0");
    tar(&[
        // Delete urllib3, replace six, make /opt/old opaque, delete the secret file.
        E::File(
            "opt/venv/lib/python3.11/site-packages/.wh.urllib3-1.24.1.dist-info",
            b"",
        ),
        E::File(
            "opt/venv/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA",
            &six2,
        ),
        E::File("opt/old/.wh..wh..opq", b""),
        E::File(
            "opt/old/new-2.0.dist-info/METADATA",
            &metadata("new", "2.0"),
        ),
        E::File("opt/app/.wh..env", b""),
    ])
}

#[test]
fn oci_layers_whiteouts_and_opaque_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("oci");
    oci_layout(&layout, &[gzip(&base_layer()), gzip(&upper_layer())], "v1");
    let target = format!("{}:v1", layout.display());
    let inv = scan_target(&target, &ScanOptions::default()).unwrap();
    assert_eq!(inv.os.as_ref().map(|o| o.id.as_str()), Some("debian"));
    assert_eq!(
        names(&inv),
        vec![
            "deb:libc6@2.36-9+deb12u4",
            "deb:zlib1g@1:1.2.13.dfsg-1",
            "python:new@2.0",
            "python:six@1.17.0",
        ]
    );
    let six = inv.packages.iter().find(|p| p.name == "six").unwrap();
    assert_eq!(six.layer, 1);
    assert!(six.layer_digest.as_deref().unwrap().starts_with("sha256:"));
    assert_eq!(six.purl, "pkg:pypi/six@1.17.0");
    let zlib = inv.packages.iter().find(|p| p.name == "zlib1g").unwrap();
    assert_eq!(zlib.source_version.as_deref(), Some("1:1.2.13.dfsg-1"));
    assert_eq!(
        zlib.purl,
        "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib"
    );
    // The secret's file was deleted in layer 1 but is still in layer 0 of the image.
    assert_eq!(inv.secrets.len(), 1, "{:?}", inv.secrets);
    assert!(inv.secrets[0].deleted_later);
    assert_eq!(inv.secrets[0].layer, Some(0));
    assert!(!inv.secrets[0].redacted.contains("Xy7kP2mQ"));
    // By digest, and the same image as a docker archive with plain tar layers.
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let digest = idx["manifests"][0]["digest"].as_str().unwrap();
    let by_digest = scan_target(
        &format!("{}@{digest}", layout.display()),
        &ScanOptions::default(),
    )
    .unwrap();
    assert_eq!(names(&by_digest), names(&inv));
    let archive = dir.path().join("img.tar");
    docker_archive(
        &archive,
        &[base_layer(), upper_layer()],
        "localhost/x:latest",
    );
    let inv2 = scan_target(archive.to_str().unwrap(), &ScanOptions::default()).unwrap();
    assert_eq!(names(&inv2), names(&inv));
    assert_eq!(inv2.format, "docker-archive");
    // The archive config sets USER app: no root finding; no healthcheck finding remains.
    let ids: Vec<_> = inv2.config_findings.iter().map(|c| c.id).collect();
    assert_eq!(ids, vec!["VIGIL-IMG-004"]);
}

#[test]
fn zstd_layers() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("oci");
    oci_layout(&layout, &[zstd(&base_layer())], "z");
    let inv = scan_target(layout.to_str().unwrap(), &ScanOptions::default()).unwrap();
    assert_eq!(inv.layers[0].stats.compression, "zstd");
    assert!(names(&inv).contains(&"python:urllib3@1.24.1".to_string()));
}

#[test]
fn traversal_and_absolute_entries_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("oci");
    let evil_name = format!("evil-{}", std::process::id());
    let layer = tar(&[
        E::RawFile(&format!("../../../../tmp/{evil_name}"), b"x"),
        E::RawFile("/etc/absolute", b"x"),
        E::File("var/lib/dpkg/status", DPKG_STATUS),
    ]);
    oci_layout(&layout, &[gzip(&layer)], "t");
    let inv = scan_target(layout.to_str().unwrap(), &ScanOptions::default()).unwrap();
    let msgs: Vec<String> = inv.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains(&evil_name) && m.contains("traversal")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("/etc/absolute") && m.contains("absolute")),
        "{msgs:?}"
    );
    assert_eq!(inv.packages.len(), 2);
    assert!(!std::path::Path::new("/tmp").join(&evil_name).exists());
}

#[test]
fn symlink_loops_and_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("oci");
    let layer = tar(&[
        E::Link("etc/os-release", "/etc/loop"),
        E::Link("etc/loop", "../etc/os-release"),
        E::File("var/lib/dpkg/status", DPKG_STATUS),
    ]);
    oci_layout(&layout, &[gzip(&layer)], "t");
    let inv = scan_target(layout.to_str().unwrap(), &ScanOptions::default()).unwrap();
    assert!(inv.os.is_none());
    assert_eq!(inv.packages.len(), 2);

    // A rootfs whose os-release is an absolute link: resolved inside the rootfs, never on the
    // host (the host's /usr/lib/os-release says debian).
    let root = dir.path().join("rootfs");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("usr/lib")).unwrap();
    std::fs::write(root.join("usr/lib/os-release"), "ID=testos\nVERSION_ID=1\n").unwrap();
    std::os::unix::fs::symlink("/usr/lib/os-release", root.join("etc/os-release")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", root.join("etc/steal")).unwrap();
    let inv = scan_target(root.to_str().unwrap(), &ScanOptions::default()).unwrap();
    assert_eq!(inv.os.unwrap().id, "testos");
    assert_eq!(inv.format, "rootfs");
}

#[test]
fn decompression_bomb_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("oci");
    let zeros = vec![0u8; 24 << 20];
    oci_layout(&layout, &[gzip(&tar(&[E::File("zeros", &zeros)]))], "t");
    let opts = ScanOptions {
        limits: Limits {
            ratio_floor: 4 << 20,
            max_ratio: 100,
            ..Limits::default()
        },
        ..ScanOptions::default()
    };
    match scan_target(layout.to_str().unwrap(), &opts) {
        Err(e @ ScanError::Limit { .. }) => {
            let m = e.to_string();
            assert!(m.contains("layer 0") && m.contains("ratio"), "{m}");
        }
        other => panic!("expected a limit error, got {other:?}"),
    }
    let opts = ScanOptions {
        limits: Limits {
            max_layer_bytes: 1 << 20,
            ..Limits::default()
        },
        ..ScanOptions::default()
    };
    assert!(matches!(
        scan_target(layout.to_str().unwrap(), &opts),
        Err(ScanError::Limit { .. })
    ));
}

#[test]
fn corrupt_and_truncated_input() {
    let dir = tempfile::tempdir().unwrap();
    // Truncated gzip layer.
    let layout = dir.path().join("oci");
    let g = gzip(&base_layer());
    oci_layout(&layout, &[g[..g.len() / 2].to_vec()], "t");
    let err = scan_target(layout.to_str().unwrap(), &ScanOptions::default()).unwrap_err();
    assert!(matches!(err, ScanError::Layer { layer: 0, .. }), "{err}");
    // Garbage instead of a tar.
    let junk = dir.path().join("junk.tar");
    std::fs::write(&junk, b"this is not a tar archive at all, just some bytes").unwrap();
    let err = scan_target(junk.to_str().unwrap(), &ScanOptions::default()).unwrap_err();
    assert!(err.to_string().contains("junk.tar"), "{err}");
    // Broken manifest.json.
    let arch = dir.path().join("bad-manifest.tar");
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    b.append_data(&mut h, "manifest.json", &b"[{,,}"[..])
        .unwrap();
    std::fs::write(&arch, b.into_inner().unwrap()).unwrap();
    let err = scan_target(arch.to_str().unwrap(), &ScanOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("manifest.json") && err.to_string().contains("invalid JSON"),
        "{err}"
    );
    // Manifest pointing outside the archive.
    let arch = dir.path().join("escape.tar");
    let mut b = tar::Builder::new(Vec::new());
    let m = br#"[{"Config": "../../etc/passwd", "Layers": []}]"#;
    let mut h = tar::Header::new_gnu();
    h.set_size(m.len() as u64);
    b.append_data(&mut h, "manifest.json", &m[..]).unwrap();
    std::fs::write(&arch, b.into_inner().unwrap()).unwrap();
    let err = scan_target(arch.to_str().unwrap(), &ScanOptions::default()).unwrap_err();
    assert!(err.to_string().contains("traversal"), "{err}");
    // Missing target.
    let err = scan_target("./does/not/exist", &ScanOptions::default()).unwrap_err();
    assert!(err.to_string().contains("does/not/exist"), "{err}");
}

#[test]
fn malformed_package_files_warn_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("oci");
    let layer = tar(&[
        E::File(
            "var/lib/dpkg/status",
            b"Package: ok\nVersion: 1\n\nnot a field line\nVersion: 2\n",
        ),
        E::File(
            "usr/lib/python3/dist-packages/bad-1.dist-info/METADATA",
            b"\xff\xfe garbage without headers",
        ),
        E::File(
            "app/package-lock.json",
            b"{\"lockfileVersion\": 3, \"packages\": {",
        ),
    ]);
    oci_layout(&layout, &[gzip(&layer)], "t");
    let inv = scan_target(layout.to_str().unwrap(), &ScanOptions::default()).unwrap();
    let msgs: Vec<String> = inv.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        msgs.iter().any(|m| m.starts_with("var/lib/dpkg/status:4:")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("usr/lib/python3/dist-packages/bad-1.dist-info/METADATA")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("app/package-lock.json:1:")),
        "{msgs:?}"
    );
    assert_eq!(names(&inv), vec!["deb:ok@1"]);
}

#[test]
fn language_ecosystems_from_a_rootfs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let w = |p: &str, d: &[u8]| {
        let f = root.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, d).unwrap();
    };
    w(
        "app/node_modules/lodash/package.json",
        br#"{"name":"lodash","version":"4.17.20","license":"MIT"}"#,
    );
    w(
        "app/node_modules/@babel/core/package.json",
        br#"{"name":"@babel/core","version":"7.0.0"}"#,
    );
    w("srv/Cargo.lock", b"[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n");
    w("srv/requirements.txt", b"jinja2==2.10\n");
    w(
        "lib/apk/db/installed",
        b"P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\n",
    );
    let inv = scan_target(root.to_str().unwrap(), &ScanOptions::default()).unwrap();
    let got = names(&inv);
    for want in [
        "apk:musl@1.2.4-r2",
        "python:jinja2@2.10",
        "npm:lodash@4.17.20",
        "npm:@babel/core@7.0.0",
        "cargo:smallvec@1.6.0",
    ] {
        assert!(
            got.contains(&want.to_string()),
            "{want} missing from {got:?}"
        );
    }
    assert!(inv.packages.iter().all(|p| p.kind != PkgType::Deb));
}
