//! CycloneDX 1.5 and SPDX 2.3 output validated against the official JSON schemas (vendored in
//! `tests/schemas/`, see the README there for sources and licenses).

mod common;
use common::*;
use serde_json::Value;
use vigil_scan::sbom::{cyclonedx, spdx};
use vigil_scan::{scan_target, ScanOptions};

fn load(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/schemas")
        .join(name);
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

fn check(validator: &jsonschema::Validator, doc: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "schema errors:\n{}", errors.join("\n"));
}

pub fn cyclonedx_validator() -> jsonschema::Validator {
    let base = "http://cyclonedx.org/schema/";
    jsonschema::options()
        .with_resource(
            format!("{base}spdx.SNAPSHOT.schema.json"),
            jsonschema::Resource::from_contents(load("spdx.SNAPSHOT.schema.json")).unwrap(),
        )
        .with_resource(
            format!("{base}jsf-0.82.SNAPSHOT.schema.json"),
            jsonschema::Resource::from_contents(load("jsf-0.82.SNAPSHOT.schema.json")).unwrap(),
        )
        .should_validate_formats(true)
        .build(&load("bom-1.5.SNAPSHOT.schema.json"))
        .unwrap()
}

fn inventory() -> vigil_scan::Inventory {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("oci");
    let jar = {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file(
            "META-INF/maven/org.apache.commons/commons-text/pom.properties",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        w.write_all(b"groupId=org.apache.commons\nartifactId=commons-text\nversion=1.9\n")
            .unwrap();
        w.finish().unwrap().into_inner()
    };
    let layer = tar(&[
        E::File("usr/lib/os-release", OS_RELEASE),
        E::File("var/lib/dpkg/status", DPKG_STATUS),
        E::File("opt/venv/lib/python3.11/site-packages/PyYAML-5.3.dist-info/METADATA", b"Name: PyYAML\nVersion: 5.3\nLicense: MIT\n\n"),
        E::File("app/node_modules/@babel/core/package.json", br#"{"name":"@babel/core","version":"7.0.0","license":"MIT"}"#),
        E::File("app/Cargo.lock", b"[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n"),
        E::File("app/lib/commons-text-1.9.jar", &jar),
    ]);
    oci_layout(&layout, &[gzip(&layer)], "sbom");
    let inv = scan_target(layout.to_str().unwrap(), &ScanOptions::default()).unwrap();
    assert_eq!(inv.packages.len(), 6, "{:?}", inv.packages);
    inv
}

#[test]
fn cyclonedx_15_is_schema_valid() {
    let inv = inventory();
    let doc = cyclonedx(&inv);
    check(&cyclonedx_validator(), &doc);
    assert_eq!(doc["components"].as_array().unwrap().len(), 7); // 6 packages + the OS
    let maven = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["group"] == "org.apache.commons")
        .unwrap();
    assert_eq!(
        maven["purl"],
        "pkg:maven/org.apache.commons/commons-text@1.9"
    );
    // A broken document is rejected: the validator is not vacuous.
    let mut bad = doc.clone();
    bad["components"][0]["type"] = "not-a-type".into();
    assert!(!cyclonedx_validator().is_valid(&bad));
}

#[test]
fn spdx_23_is_schema_valid() {
    let inv = inventory();
    let doc = spdx(&inv);
    let v = jsonschema::options()
        .should_validate_formats(true)
        .build(&load("spdx-2.3.schema.json"))
        .unwrap();
    check(&v, &doc);
    assert_eq!(doc["packages"].as_array().unwrap().len(), 8); // image + OS + 6
    let mut bad = doc.clone();
    bad["packages"][2]
        .as_object_mut()
        .unwrap()
        .remove("downloadLocation");
    assert!(!v.is_valid(&bad));
}
