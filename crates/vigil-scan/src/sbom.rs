//! SBOM writers: CycloneDX 1.5 JSON and SPDX 2.3 JSON, built from an [`Inventory`].
//!
//! Documents are assembled as `serde_json::Value` with the field names of the specifications
//! rather than typed structs per schema: the documents are write-only here, and the tests
//! validate the output against the official JSON schemas, which is a stronger check than any
//! struct definition. Where vigil knows more than the formats have fields for (the layer a
//! package came from, the evidence files), it is recorded as CycloneDX properties and SPDX
//! `sourceInfo`. `SOURCE_DATE_EPOCH` fixes the timestamp for reproducible documents.

use crate::package::{Package, PkgType};
use crate::scan::Inventory;
use serde_json::{json, Value};

/// Supported SBOM formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SbomFormat {
    CycloneDxJson,
    SpdxJson,
}

impl std::str::FromStr for SbomFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<SbomFormat, String> {
        match s {
            "cyclonedx-json" | "cyclonedx" => Ok(SbomFormat::CycloneDxJson),
            "spdx-json" | "spdx" => Ok(SbomFormat::SpdxJson),
            _ => Err(format!(
                "unknown SBOM format '{s}' (cyclonedx-json, spdx-json)"
            )),
        }
    }
}

fn now_secs() -> u64 {
    if let Some(s) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return s;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// RFC 3339 UTC timestamp with second precision.
pub fn timestamp(secs: u64) -> String {
    let date = crate::vuln::civil_date((secs / 86_400) as i64);
    let t = secs % 86_400;
    format!("{date}T{:02}:{:02}:{:02}Z", t / 3600, t / 60 % 60, t % 60)
}

/// A random (version 4) UUID; falls back to a time-derived one if /dev/urandom is unreadable.
fn uuid4() -> String {
    use std::io::Read;
    let mut b = [0u8; 16];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok();
    if !ok {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b = n.to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn props(p: &Package) -> Vec<Value> {
    let mut v = vec![
        json!({"name": "vigil:package:type", "value": p.kind.as_str()}),
        json!({"name": "vigil:layer:index", "value": p.layer.to_string()}),
    ];
    if let Some(d) = &p.layer_digest {
        v.push(json!({"name": "vigil:layer:digest", "value": d}));
    }
    if let Some(s) = &p.source_name {
        v.push(json!({"name": "vigil:package:source-name", "value": s}));
    }
    if let Some(s) = &p.source_version {
        v.push(json!({"name": "vigil:package:source-version", "value": s}));
    }
    for f in &p.files {
        v.push(json!({"name": "vigil:file", "value": f}));
    }
    v
}

/// CycloneDX 1.5.
pub fn cyclonedx(inv: &Inventory) -> Value {
    let mut components = Vec::new();
    let mut refs = Vec::new();
    if let Some(os) = &inv.os {
        components.push(json!({
            "type": "operating-system",
            "bom-ref": "os",
            "name": os.id,
            "version": os.version_id,
            "description": os.pretty_name,
        }));
        refs.push(json!("os"));
    }
    for (i, p) in inv.packages.iter().enumerate() {
        let r = format!("pkg-{i}");
        let mut c = json!({
            "type": "library",
            "bom-ref": r,
            "name": p.name,
            "version": p.version,
            "purl": p.purl,
            "properties": props(p),
        });
        if p.kind == PkgType::Maven {
            if let Some((g, a)) = p.name.split_once(':') {
                c["group"] = json!(g);
                c["name"] = json!(a);
            }
        }
        if !p.licenses.is_empty() {
            c["licenses"] = Value::Array(
                p.licenses
                    .iter()
                    .map(|l| json!({"license": {"name": l}}))
                    .collect(),
            );
        }
        components.push(c);
        refs.push(json!(r));
    }
    let mut root = json!({
        "type": "container",
        "bom-ref": "image",
        "name": inv.target,
    });
    if let Some(d) = &inv.config_digest {
        root["version"] = json!(d);
    }
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{}", uuid4()),
        "version": 1,
        "metadata": {
            "timestamp": timestamp(now_secs()),
            "tools": {"components": [{
                "type": "application",
                "name": "vigil",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
            "component": root,
        },
        "components": components,
        "dependencies": [{"ref": "image", "dependsOn": refs}],
    })
}

fn spdx_id(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// SPDX 2.3.
pub fn spdx(inv: &Inventory) -> Value {
    let mut packages = vec![json!({
        "SPDXID": "SPDXRef-Image",
        "name": inv.target,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
        "versionInfo": inv.config_digest.clone().unwrap_or_default(),
    })];
    let mut rels = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Image",
    })];
    if let Some(os) = &inv.os {
        packages.push(json!({
            "SPDXID": "SPDXRef-OperatingSystem",
            "name": os.id,
            "versionInfo": os.version_id,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "OPERATING_SYSTEM",
        }));
        rels.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": "SPDXRef-OperatingSystem",
        }));
    }
    for (i, p) in inv.packages.iter().enumerate() {
        let id = format!("SPDXRef-Package-{}-{}", p.kind.as_str(), i);
        let mut pkg = json!({
            "SPDXID": spdx_id(&id),
            "name": p.name,
            "versionInfo": p.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "LIBRARY",
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": p.purl,
            }],
            "sourceInfo": format!("layer {}: {}", p.layer, p.files.join(", ")),
        });
        if !p.licenses.is_empty() {
            pkg["licenseComments"] = json!(format!("declared: {}", p.licenses.join("; ")));
        }
        packages.push(pkg);
        rels.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": spdx_id(&id),
        }));
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": inv.target,
        "documentNamespace": format!("https://vigil.invalid/spdx/{}-{}", spdx_id(&inv.target), uuid4()),
        "creationInfo": {
            "created": timestamp(now_secs()),
            "creators": [format!("Tool: vigil-{}", env!("CARGO_PKG_VERSION"))],
        },
        "packages": packages,
        "relationships": rels,
    })
}

/// Render an SBOM.
pub fn render(inv: &Inventory, format: SbomFormat) -> Value {
    match format {
        SbomFormat::CycloneDxJson => cyclonedx(inv),
        SbomFormat::SpdxJson => spdx(inv),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_700_000_000), "2023-11-14T22:13:20Z");
        let u = uuid4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
