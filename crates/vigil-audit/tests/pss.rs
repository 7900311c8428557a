//! Pod Security Standards matrix: each row is a pod and the profile it must reach, with the
//! controls that must be reported. Every baseline and restricted control of the Kubernetes
//! documentation appears in at least one row (checked by `every_control_is_covered`).

use vigil_audit::pss::Profile;
use vigil_audit::{audit_bytes, Hint, Options};

const RESTRICTED_POD: &str =
    "securityContext:\n  runAsNonRoot: true\n  seccompProfile: {type: RuntimeDefault}\n";
const RESTRICTED_CTR: &str =
    "securityContext:\n  allowPrivilegeEscalation: false\n  capabilities: {drop: [ALL]}\n";

/// Merges `extra` into `base`: lines under an extra `securityContext:` go into the base's
/// securityContext block (a later duplicate key replaces an earlier one in YAML).
fn merge(base: &str, extra: &str) -> String {
    let mut sc_body = String::new();
    let mut rest = String::new();
    let mut in_sc = false;
    for l in extra.lines() {
        if l == "securityContext:" {
            in_sc = true;
        } else if in_sc && l.starts_with("  ") {
            sc_body.push_str(l);
            sc_body.push('\n');
        } else {
            in_sc = false;
            rest.push_str(l);
            rest.push('\n');
        }
    }
    format!("{base}{sc_body}{rest}")
}

fn manifest(pod_extra: &str, ctr_extra: &str, annotations: &str) -> String {
    let ind = |s: &str, n: usize| {
        s.lines()
            .map(|l| format!("{}{l}\n", " ".repeat(n)))
            .collect::<String>()
    };
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n{annotations}spec:\n{}  containers:\n  - name: c\n    image: r/a:1\n{}",
        ind(&merge(RESTRICTED_POD, pod_extra), 2),
        ind(&merge(RESTRICTED_CTR, ctr_extra), 4),
    )
}

struct Row {
    name: &'static str,
    pod: &'static str,
    ctr: &'static str,
    annotations: &'static str,
    level: Profile,
    controls: &'static [&'static str],
}

const fn row(
    name: &'static str,
    pod: &'static str,
    ctr: &'static str,
    level: Profile,
    controls: &'static [&'static str],
) -> Row {
    Row {
        name,
        pod,
        ctr,
        annotations: "",
        level,
        controls,
    }
}

fn rows() -> Vec<Row> {
    use Profile::*;
    vec![
        row("fully restricted", "", "", Restricted, &[]),
        row("hostProcess pod", "securityContext:\n  windowsOptions: {hostProcess: true}", "", Privileged, &["HostProcess"]),
        row("hostProcess container", "", "securityContext:\n  windowsOptions: {hostProcess: true}", Privileged, &["HostProcess"]),
        row("hostNetwork", "hostNetwork: true", "", Privileged, &["Host Namespaces"]),
        row("hostPID", "hostPID: true", "", Privileged, &["Host Namespaces"]),
        row("hostIPC", "hostIPC: true", "", Privileged, &["Host Namespaces"]),
        row("host namespaces false", "hostNetwork: false\nhostPID: false\nhostIPC: false", "", Restricted, &[]),
        row("privileged", "", "securityContext:\n  privileged: true", Privileged, &["Privileged Containers"]),
        row("baseline capability", "", "securityContext:\n  capabilities: {add: [CHOWN]}", Baseline, &["Capabilities"]),
        row("NET_BIND_SERVICE allowed", "", "securityContext:\n  capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}", Restricted, &[]),
        row("SYS_ADMIN capability", "", "securityContext:\n  capabilities: {add: [SYS_ADMIN]}", Privileged, &["Capabilities"]),
        row("hostPath volume", "volumes:\n- name: v\n  hostPath: {path: /data}", "", Privileged, &["HostPath Volumes"]),
        row("hostPort", "", "ports:\n- {containerPort: 80, hostPort: 80}", Privileged, &["Host Ports"]),
        row("hostPort 0 is fine", "", "ports:\n- {containerPort: 80, hostPort: 0}", Restricted, &[]),
        row("AppArmor unconfined", "", "securityContext:\n  appArmorProfile: {type: Unconfined}", Privileged, &["AppArmor"]),
        row("AppArmor localhost", "securityContext:\n  appArmorProfile: {type: Localhost, localhostProfile: p}", "", Restricted, &[]),
        Row { annotations: "  annotations:\n    container.apparmor.security.beta.kubernetes.io/c: unconfined\n", ..row("AppArmor annotation", "", "", Privileged, &["AppArmor"]) },
        Row { annotations: "  annotations:\n    container.apparmor.security.beta.kubernetes.io/c: runtime/default\n", ..row("AppArmor annotation default", "", "", Restricted, &[]) },
        row("SELinux spc_t", "", "securityContext:\n  seLinuxOptions: {type: spc_t}", Privileged, &["SELinux"]),
        row("SELinux container_init_t", "", "securityContext:\n  seLinuxOptions: {type: container_init_t, level: s0}", Restricted, &[]),
        row("SELinux role", "securityContext:\n  seLinuxOptions: {role: sysadm_r}", "", Privileged, &["SELinux"]),
        row("procMount Unmasked", "", "securityContext:\n  procMount: Unmasked", Privileged, &["/proc Mount Type"]),
        row("seccomp Unconfined container", "", "securityContext:\n  seccompProfile: {type: Unconfined}", Privileged, &["Seccomp"]),
        row("unsafe sysctl", "securityContext:\n  sysctls:\n  - {name: kernel.msgmax, value: '1'}", "", Privileged, &["Sysctls"]),
        row("safe sysctl", "securityContext:\n  sysctls:\n  - {name: net.ipv4.ping_group_range, value: '0 1'}", "", Restricted, &[]),
        row("nfs volume", "volumes:\n- name: v\n  nfs: {server: s, path: /}", "", Baseline, &["Volume Types"]),
        row("allowed volumes", "volumes:\n- {name: a, emptyDir: {}}\n- {name: b, configMap: {name: c}}\n- {name: d, projected: {sources: []}}\n- {name: e, persistentVolumeClaim: {claimName: x}}", "", Restricted, &[]),
        row("privilege escalation", "", "securityContext:\n  allowPrivilegeEscalation: true", Baseline, &["Privilege Escalation"]),
        row("runAsNonRoot false", "", "securityContext:\n  runAsNonRoot: false", Baseline, &["Running as Non-root"]),
        row("runAsUser 0 pod", "securityContext:\n  runAsUser: 0", "", Baseline, &["Running as Non-root user"]),
        row("runAsUser 0 container", "", "securityContext:\n  runAsUser: 0", Baseline, &["Running as Non-root user"]),
        row("capabilities not dropped", "", "securityContext:\n  capabilities: {drop: [NET_RAW]}", Baseline, &["Capabilities"]),
    ]
}

fn evaluate(text: &str) -> vigil_audit::pss::PssResult {
    let r = audit_bytes(
        "p.yaml",
        text.as_bytes(),
        Hint::Structured,
        true,
        &Options::default(),
    );
    assert!(r.errors.is_empty(), "{:?}\n{text}", r.errors);
    r.workloads[0].pss.clone().expect("pss result for a pod")
}

#[test]
fn matrix() {
    let mut bad = Vec::new();
    for row in rows() {
        let text = manifest(row.pod, row.ctr, row.annotations);
        let res = evaluate(&text);
        let got: Vec<&str> = res.violations.iter().map(|v| v.control).collect();
        if res.level != row.level {
            bad.push(format!(
                "{}: level {:?}, want {:?}; violations {got:?}",
                row.name, res.level, row.level
            ));
        }
        for c in row.controls {
            if !got.contains(c) {
                bad.push(format!(
                    "{}: control {c} not reported; got {got:?}",
                    row.name
                ));
            }
        }
        if row.controls.is_empty() && !got.is_empty() {
            bad.push(format!("{}: unexpected violations {got:?}", row.name));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn default_pod_is_baseline_and_lists_restricted_controls() {
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: 'r/a:1'}\n";
    let res = evaluate(text);
    assert_eq!(res.level, Profile::Baseline);
    let got: Vec<&str> = res.violations.iter().map(|v| v.control).collect();
    for c in [
        "Privilege Escalation",
        "Running as Non-root",
        "Seccomp",
        "Capabilities",
    ] {
        assert!(got.contains(&c), "{c} missing from {got:?}");
    }
    // Violations point at the field that must be set.
    let pe = res
        .violations
        .iter()
        .find(|v| v.control == "Privilege Escalation")
        .unwrap();
    assert_eq!(
        pe.path,
        "spec.containers[0].securityContext.allowPrivilegeEscalation"
    );
}

#[test]
fn container_level_settings_satisfy_restricted_without_pod_level() {
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: r/a:1\n    securityContext:\n      runAsNonRoot: true\n      allowPrivilegeEscalation: false\n      seccompProfile: {type: Localhost, localhostProfile: p.json}\n      capabilities: {drop: [ALL]}\n";
    assert_eq!(evaluate(text).level, Profile::Restricted);
}

#[test]
fn every_control_is_covered() {
    let all: Vec<&str> = rows()
        .iter()
        .flat_map(|r| r.controls.iter().copied())
        .collect();
    for c in [
        "HostProcess",
        "Host Namespaces",
        "Privileged Containers",
        "Capabilities",
        "HostPath Volumes",
        "Host Ports",
        "AppArmor",
        "SELinux",
        "/proc Mount Type",
        "Seccomp",
        "Sysctls",
        "Volume Types",
        "Privilege Escalation",
        "Running as Non-root",
        "Running as Non-root user",
    ] {
        assert!(all.contains(&c), "no matrix row for {c}");
    }
}
