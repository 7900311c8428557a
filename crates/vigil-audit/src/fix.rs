//! Fix suggestions built from a workload's findings: a strategic-merge patch (YAML) for
//! Kubernetes objects, a `services.<name>` snippet for compose, and `podman/docker run` flags
//! for engine and OCI configurations.
//!
//! Suggestions are generated from the finding IDs rather than by rewriting the source file:
//! editing YAML in place would have to preserve comments, anchors and Helm templating, which no
//! available Rust YAML library does; a patch the user applies with `kubectl patch` or merges by
//! hand keeps them in control. Values that depend on the workload (memory size, UID) are
//! marked with a comment.

use crate::model::{Platform, Workload};
use crate::report::Finding;
use std::collections::BTreeSet;
use std::fmt::Write as _;

fn has(ids: &BTreeSet<&str>, id: &str) -> bool {
    ids.contains(id)
}

/// Builds the fix text for one workload, or `None` when nothing is fixable.
pub fn suggest(w: &Workload, findings: &[&Finding]) -> Option<String> {
    if findings.is_empty() {
        return None;
    }
    match w.platform {
        Platform::Kubernetes => k8s_patch(w, findings),
        Platform::Compose => compose_snippet(w, findings),
        Platform::Engine | Platform::Oci => run_flags(findings),
    }
}

fn k8s_patch(w: &Workload, findings: &[&Finding]) -> Option<String> {
    let pod_ids: BTreeSet<&str> = findings
        .iter()
        .filter(|f| f.container.is_none())
        .map(|f| f.check)
        .collect();
    let all_ids: BTreeSet<&str> = findings.iter().map(|f| f.check).collect();
    // Strip a List prefix (`items[3].`) — the patch applies to the object itself.
    let pod_path = match w.pod_loc.path.rfind("].") {
        Some(i) if w.pod_loc.path.starts_with("items[") => &w.pod_loc.path[i + 2..],
        _ => w.pod_loc.path.as_str(),
    };
    let keys: Vec<&str> = pod_path.split('.').filter(|k| !k.is_empty()).collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# strategic merge patch: kubectl patch {} {} --patch-file fix.yaml",
        w.kind.to_ascii_lowercase(),
        w.name
    );
    let mut indent = 0;
    for k in &keys {
        let _ = writeln!(s, "{}{k}:", "  ".repeat(indent));
        indent += 1;
    }
    let pad = "  ".repeat(indent);
    let mut body = String::new();
    for (id, line) in [
        ("VGL-A012", "hostPID: false"),
        ("VGL-A013", "hostIPC: false"),
        ("VGL-A014", "hostNetwork: false"),
        (
            "VGL-A033",
            "automountServiceAccountToken: false   # unless the pod calls the API",
        ),
        (
            "VGL-A016",
            "hostUsers: false   # Kubernetes 1.30+, needs a runtime with idmapped mounts",
        ),
    ] {
        if has(&pod_ids, id) {
            let _ = writeln!(body, "{pad}{line}");
        }
    }
    if has(&all_ids, "VGL-A022") || has(&all_ids, "VGL-A021") || has(&all_ids, "VGL-A005") {
        let _ = writeln!(body, "{pad}securityContext:");
        if has(&all_ids, "VGL-A005") {
            let _ = writeln!(body, "{pad}  runAsNonRoot: true");
        }
        if has(&all_ids, "VGL-A022") || has(&all_ids, "VGL-A021") {
            let _ = writeln!(
                body,
                "{pad}  seccompProfile:\n{pad}    type: RuntimeDefault"
            );
        }
    }
    if pod_ids
        .iter()
        .any(|i| matches!(*i, "VGL-A017" | "VGL-A018" | "VGL-A020"))
    {
        let _ = writeln!(
            body,
            "{pad}# remove the hostPath volumes listed above; use a PVC, ConfigMap or Secret"
        );
    }
    let mut containers = String::new();
    for (role_key, role) in [
        ("initContainers", crate::model::ContainerRole::Init),
        ("containers", crate::model::ContainerRole::Regular),
    ] {
        let mut section = String::new();
        for c in w.containers.iter().filter(|c| c.role == role) {
            let ids: BTreeSet<&str> = findings
                .iter()
                .filter(|f| f.container.as_deref() == Some(c.name.as_str()))
                .map(|f| f.check)
                .collect();
            let mut sc = String::new();
            let p = format!("{pad}    ");
            if has(&ids, "VGL-A001") {
                let _ = writeln!(sc, "{p}privileged: false");
            }
            if has(&ids, "VGL-A007") {
                let _ = writeln!(sc, "{p}allowPrivilegeEscalation: false");
            }
            if has(&ids, "VGL-A005") || has(&ids, "VGL-A006") {
                let _ = writeln!(sc, "{p}runAsNonRoot: true\n{p}runAsUser: 10001   # a UID that exists in the image or owns nothing on the host");
            }
            if has(&ids, "VGL-A008") {
                let _ = writeln!(
                    sc,
                    "{p}readOnlyRootFilesystem: true   # mount an emptyDir where the app writes"
                );
            }
            if has(&ids, "VGL-A004") || has(&ids, "VGL-A002") || has(&ids, "VGL-A003") {
                let _ = writeln!(sc, "{p}capabilities:\n{p}  drop: [\"ALL\"]");
                let kept: Vec<&Finding> = findings
                    .iter()
                    .copied()
                    .filter(|f| {
                        f.container.as_deref() == Some(c.name.as_str())
                            && matches!(f.check, "VGL-A002" | "VGL-A003")
                    })
                    .collect();
                if kept.is_empty() {
                    let _ = writeln!(
                        sc,
                        "{p}  add: []   # NET_BIND_SERVICE only if it binds ports < 1024"
                    );
                } else {
                    let _ = writeln!(
                        sc,
                        "{p}  add: []   # was: {}",
                        kept.iter()
                            .map(|f| f
                                .message
                                .trim_start_matches("adds ")
                                .trim_start_matches("non-default ")
                                .trim_start_matches("capability "))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
            if has(&ids, "VGL-A021") {
                let _ = writeln!(sc, "{p}seccompProfile:\n{p}  type: RuntimeDefault");
            }
            if has(&ids, "VGL-A023") {
                let _ = writeln!(sc, "{p}appArmorProfile:\n{p}  type: RuntimeDefault");
            }
            if has(&ids, "VGL-A035") {
                let _ = writeln!(sc, "{p}procMount: Default");
            }
            if has(&ids, "VGL-A024") {
                let _ = writeln!(
                    sc,
                    "{p}seLinuxOptions: null   # drop custom SELinux options"
                );
            }
            let mut res = String::new();
            if has(&ids, "VGL-A009") {
                let _ = writeln!(res, "{p}  memory: 256Mi   # size for the workload");
            }
            if has(&ids, "VGL-A010") {
                let _ = writeln!(res, "{p}  cpu: 500m   # size for the workload");
            }
            if sc.is_empty() && res.is_empty() {
                continue;
            }
            let _ = writeln!(section, "{pad}- name: {}", c.name);
            if !sc.is_empty() {
                let _ = write!(section, "{pad}  securityContext:\n{sc}");
            }
            if !res.is_empty() {
                let _ = write!(section, "{pad}  resources:\n{pad}    limits:\n{res}");
            }
        }
        if !section.is_empty() {
            let _ = write!(containers, "{pad}{role_key}:\n{section}");
        }
    }
    body.push_str(&containers);
    if body.is_empty() {
        return None;
    }
    s.push_str(&body);
    Some(s)
}

fn compose_snippet(w: &Workload, findings: &[&Finding]) -> Option<String> {
    let ids: BTreeSet<&str> = findings.iter().map(|f| f.check).collect();
    let mut s = String::new();
    let p = "    ";
    for (id, line) in [
        ("VGL-A001", "privileged: false"),
        ("VGL-A004", "cap_drop: [\"ALL\"]"),
        (
            "VGL-A005",
            "user: \"10001:10001\"   # a UID the image can run as",
        ),
        (
            "VGL-A006",
            "user: \"10001:10001\"   # a UID the image can run as",
        ),
        (
            "VGL-A008",
            "read_only: true   # add tmpfs: [/tmp] where the app writes",
        ),
        ("VGL-A009", "mem_limit: 256m   # size for the workload"),
        ("VGL-A010", "cpus: 1.0"),
        ("VGL-A011", "pids_limit: 256"),
    ] {
        if has(&ids, id) && !(id == "VGL-A006" && has(&ids, "VGL-A005")) {
            let _ = writeln!(s, "{p}{line}");
        }
    }
    if has(&ids, "VGL-A007") {
        let _ = writeln!(s, "{p}security_opt: [\"no-new-privileges:true\"]");
    }
    for (id, what) in [
        ("VGL-A002", "remove the capabilities from cap_add"),
        ("VGL-A012", "remove pid: host"),
        ("VGL-A013", "remove ipc: host"),
        ("VGL-A014", "remove network_mode: host"),
        ("VGL-A015", "remove uts: host"),
        ("VGL-A017", "remove the sensitive host bind mounts"),
        ("VGL-A018", "remove the runtime socket mount"),
        ("VGL-A019", "append :ro to host bind mounts"),
        ("VGL-A021", "remove seccomp:unconfined"),
        ("VGL-A023", "remove apparmor:unconfined"),
        ("VGL-A024", "remove label:disable"),
    ] {
        if has(&ids, id) {
            let _ = writeln!(s, "{p}# {what}");
        }
    }
    if s.is_empty() {
        return None;
    }
    Some(format!("services:\n  {}:\n{s}", w.name))
}

fn run_flags(findings: &[&Finding]) -> Option<String> {
    let ids: BTreeSet<&str> = findings.iter().map(|f| f.check).collect();
    let mut add = Vec::new();
    let mut remove = Vec::new();
    for (id, flag) in [
        ("VGL-A004", "--cap-drop ALL"),
        ("VGL-A005", "--user 10001:10001"),
        ("VGL-A006", "--user 10001:10001"),
        ("VGL-A007", "--security-opt no-new-privileges"),
        ("VGL-A008", "--read-only --tmpfs /tmp"),
        ("VGL-A009", "--memory 256m"),
        ("VGL-A010", "--cpus 1"),
        ("VGL-A011", "--pids-limit 256"),
        (
            "VGL-A016",
            "--userns auto (podman) / userns-remap (docker daemon)",
        ),
        (
            "VGL-A028",
            "--network <user-defined network> (or --network none)",
        ),
    ] {
        if has(&ids, id) && !add.contains(&flag) {
            add.push(flag);
        }
    }
    for (id, flag) in [
        ("VGL-A001", "--privileged"),
        ("VGL-A002", "--cap-add <dangerous capability>"),
        ("VGL-A003", "--cap-add <non-default capability>"),
        ("VGL-A012", "--pid host"),
        ("VGL-A013", "--ipc host"),
        ("VGL-A014", "--network host"),
        ("VGL-A015", "--uts host"),
        ("VGL-A017", "-v <sensitive host path>"),
        ("VGL-A018", "-v <runtime socket>"),
        ("VGL-A021", "--security-opt seccomp=unconfined"),
        ("VGL-A023", "--security-opt apparmor=unconfined"),
        ("VGL-A024", "--security-opt label=disable"),
        (
            "VGL-A035",
            "--security-opt systempaths=unconfined / unmask=ALL",
        ),
        ("VGL-A036", "--device ..."),
    ] {
        if has(&ids, id) {
            remove.push(flag);
        }
    }
    if add.is_empty() && remove.is_empty() {
        return None;
    }
    let mut s = String::new();
    if !add.is_empty() {
        let _ = writeln!(s, "add:    {}", add.join(" "));
    }
    if !remove.is_empty() {
        let _ = writeln!(s, "remove: {}", remove.join(" "));
    }
    if has(&ids, "VGL-A019") {
        let _ = writeln!(s, "mount host paths read-only: -v SRC:DST:ro");
    }
    Some(s)
}
