//! Pod Security Standards: evaluates a pod spec against the baseline and restricted profiles
//! control by control, as the Kubernetes documentation defines them, and reports the
//! strongest profile it satisfies.
//!
//! This is deliberately separate from the checks: the checks judge risk (with severities and
//! engine equivalents), while this module answers the admission question "would
//! `pod-security.kubernetes.io/enforce: restricted` accept this pod?" with the documented
//! allowed values and nothing else. Windows-specific exemptions of the restricted profile are
//! not modelled (pods are treated as Linux pods).

use crate::checks::{PSS_BASELINE_CAPS, PSS_RESTRICTED_VOLUMES, PSS_SELINUX_TYPES, SAFE_SYSCTLS};
use crate::model::{join, Field, Loc, Workload};

/// A Pod Security Standards profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Privileged,
    Baseline,
    Restricted,
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Profile::Privileged => "privileged",
            Profile::Baseline => "baseline",
            Profile::Restricted => "restricted",
        })
    }
}

/// One control a pod fails.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// The profile whose control is violated.
    pub profile: Profile,
    /// Control name as in the documentation ("Host Namespaces", ...).
    pub control: &'static str,
    /// YAML path of the offending (or missing) field.
    pub path: String,
    pub line: u32,
    /// What is wrong.
    pub detail: String,
}

/// The result for one workload.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PssResult {
    /// The strongest profile the pod satisfies.
    pub level: Profile,
    pub violations: Vec<Violation>,
}

struct V<'a> {
    out: &'a mut Vec<Violation>,
}

impl V<'_> {
    fn add(&mut self, profile: Profile, control: &'static str, loc: &Loc, detail: String) {
        self.out.push(Violation {
            profile,
            control,
            path: loc.path.clone(),
            line: loc.line,
            detail,
        });
    }
}

fn truthy(f: &Option<Field<bool>>) -> Option<&Field<bool>> {
    f.as_ref().filter(|f| f.value)
}

/// Evaluates a Kubernetes workload.
pub fn evaluate(w: &Workload) -> PssResult {
    use Profile::{Baseline, Restricted};
    let mut out = Vec::new();
    let mut v = V { out: &mut out };
    let psc = &w.pod_sc;

    // ---- Baseline ----
    if let Some(f) = truthy(&psc.host_process) {
        v.add(Baseline, "HostProcess", &f.loc, "hostProcess: true".into());
    }
    for (f, n) in [
        (&w.host_network, "hostNetwork"),
        (&w.host_pid, "hostPID"),
        (&w.host_ipc, "hostIPC"),
    ] {
        if let Some(f) = truthy(f) {
            v.add(Baseline, "Host Namespaces", &f.loc, format!("{n}: true"));
        }
    }
    for vol in &w.volumes {
        if vol.source_type == "hostPath" {
            v.add(
                Baseline,
                "HostPath Volumes",
                &Loc::new(vol.loc.line, join(&vol.loc.path, "hostPath")),
                format!("volume '{}' is a hostPath", vol.name),
            );
        }
    }
    let pod_apparmor_bad = psc
        .apparmor
        .as_ref()
        .filter(|f| !matches!(f.value.as_str(), "RuntimeDefault" | "Localhost"));
    if let Some(f) = pod_apparmor_bad {
        v.add(
            Baseline,
            "AppArmor",
            &f.loc,
            format!("appArmorProfile.type: {}", f.value),
        );
    }
    // AppArmor annotations (any container, including ones that no longer exist).
    for a in &w.annotations {
        if let Some(_c) = a
            .value
            .0
            .strip_prefix("container.apparmor.security.beta.kubernetes.io/")
        {
            let val = a.value.1.as_str();
            if !(val == "runtime/default" || val.starts_with("localhost/")) {
                v.add(
                    Baseline,
                    "AppArmor",
                    &a.loc,
                    format!("AppArmor annotation '{val}'"),
                );
            }
        }
    }
    selinux(&mut v, psc);
    if let Some(f) = psc.seccomp.as_ref().filter(|f| f.value == "Unconfined") {
        v.add(
            Baseline,
            "Seccomp",
            &f.loc,
            "seccompProfile.type: Unconfined".into(),
        );
    }
    for s in &w.sysctls {
        if !SAFE_SYSCTLS.contains(&s.value.0.as_str()) {
            v.add(
                Baseline,
                "Sysctls",
                &s.loc,
                format!("sysctl {} is not in the safe set", s.value.0),
            );
        }
    }
    for c in &w.containers {
        let sc = &c.sc;
        if let Some(f) = truthy(&sc.host_process) {
            v.add(Baseline, "HostProcess", &f.loc, "hostProcess: true".into());
        }
        if let Some(f) = truthy(&sc.privileged) {
            v.add(
                Baseline,
                "Privileged Containers",
                &f.loc,
                "privileged: true".into(),
            );
        }
        for cap in &sc.caps_add {
            if !PSS_BASELINE_CAPS.contains(&cap.value.as_str()) {
                v.add(
                    Baseline,
                    "Capabilities",
                    &cap.loc,
                    format!("adds {}", cap.value),
                );
            }
        }
        for p in &c.ports {
            if p.host_port.is_some_and(|h| h != 0) {
                v.add(
                    Baseline,
                    "Host Ports",
                    &p.loc,
                    format!("hostPort {}", p.host_port.unwrap_or(0)),
                );
            }
        }
        // Only the field, not the annotation (already handled above for all containers).
        if let Some(f) = sc.apparmor.as_ref().filter(|f| {
            !matches!(f.value.as_str(), "RuntimeDefault" | "Localhost")
                && f.loc.path.ends_with("appArmorProfile.type")
        }) {
            v.add(
                Baseline,
                "AppArmor",
                &f.loc,
                format!("appArmorProfile.type: {}", f.value),
            );
        }
        selinux(&mut v, sc);
        if let Some(f) = sc.proc_mount.as_ref().filter(|f| f.value != "Default") {
            v.add(
                Baseline,
                "/proc Mount Type",
                &f.loc,
                format!("procMount: {}", f.value),
            );
        }
        if let Some(f) = sc.seccomp.as_ref().filter(|f| f.value == "Unconfined") {
            v.add(
                Baseline,
                "Seccomp",
                &f.loc,
                "seccompProfile.type: Unconfined".into(),
            );
        }
    }

    // ---- Restricted ----
    for vol in &w.volumes {
        if !PSS_RESTRICTED_VOLUMES.contains(&vol.source_type.as_str()) {
            v.add(
                Restricted,
                "Volume Types",
                &vol.loc,
                format!("volume '{}' has type {}", vol.name, vol.source_type),
            );
        }
    }
    let pod_non_root = psc.run_as_non_root.as_ref().is_some_and(|f| f.value);
    if let Some(f) = psc.run_as_user.as_ref().filter(|f| f.value == 0) {
        v.add(
            Restricted,
            "Running as Non-root user",
            &f.loc,
            "runAsUser: 0".into(),
        );
    }
    let pod_seccomp_ok = psc
        .seccomp
        .as_ref()
        .is_some_and(|f| matches!(f.value.as_str(), "RuntimeDefault" | "Localhost"));
    for c in &w.containers {
        let sc = &c.sc;
        if sc
            .allow_privilege_escalation
            .as_ref()
            .is_none_or(|f| f.value)
        {
            let loc = sc.allow_privilege_escalation.as_ref().map_or_else(
                || Loc::new(sc.loc.line, join(&sc.loc.path, "allowPrivilegeEscalation")),
                |f| f.loc.clone(),
            );
            v.add(
                Restricted,
                "Privilege Escalation",
                &loc,
                format!(
                    "container '{}' does not set allowPrivilegeEscalation: false",
                    c.name
                ),
            );
        }
        match &sc.run_as_non_root {
            Some(f) if !f.value => {
                v.add(
                    Restricted,
                    "Running as Non-root",
                    &f.loc,
                    "runAsNonRoot: false".into(),
                );
            }
            None if !pod_non_root => {
                let loc = Loc::new(sc.loc.line, join(&sc.loc.path, "runAsNonRoot"));
                v.add(
                    Restricted,
                    "Running as Non-root",
                    &loc,
                    format!(
                        "container '{}' and the pod do not set runAsNonRoot: true",
                        c.name
                    ),
                );
            }
            _ => {}
        }
        if let Some(f) = sc.run_as_user.as_ref().filter(|f| f.value == 0) {
            v.add(
                Restricted,
                "Running as Non-root user",
                &f.loc,
                "runAsUser: 0".into(),
            );
        }
        match &sc.seccomp {
            // Unconfined is already a baseline violation; other values are invalid.
            Some(f)
                if !matches!(
                    f.value.as_str(),
                    "RuntimeDefault" | "Localhost" | "Unconfined"
                ) =>
            {
                v.add(
                    Restricted,
                    "Seccomp",
                    &f.loc,
                    format!("seccompProfile.type: {}", f.value),
                );
            }
            None if !pod_seccomp_ok => {
                let loc = Loc::new(sc.loc.line, join(&sc.loc.path, "seccompProfile.type"));
                v.add(Restricted, "Seccomp", &loc, format!("container '{}' and the pod set no RuntimeDefault/Localhost seccomp profile", c.name));
            }
            _ => {}
        }
        if !sc.caps_drop.iter().any(|d| d.value == "ALL") {
            let loc = Loc::new(sc.loc.line, join(&sc.loc.path, "capabilities.drop"));
            v.add(
                Restricted,
                "Capabilities",
                &loc,
                format!("container '{}' does not drop ALL", c.name),
            );
        }
        for cap in &sc.caps_add {
            if cap.value != "NET_BIND_SERVICE" && PSS_BASELINE_CAPS.contains(&cap.value.as_str()) {
                v.add(
                    Restricted,
                    "Capabilities",
                    &cap.loc,
                    format!("adds {}", cap.value),
                );
            }
        }
    }
    // A pod-level Unconfined seccomp is a baseline violation; nothing more to add.
    let level = if out.iter().any(|x| x.profile == Baseline) {
        Profile::Privileged
    } else if out.iter().any(|x| x.profile == Restricted) {
        Profile::Baseline
    } else {
        Profile::Restricted
    };
    PssResult {
        level,
        violations: out,
    }
}

fn selinux(v: &mut V<'_>, sc: &crate::model::SecurityContext) {
    if let Some(f) = sc
        .selinux_type
        .as_ref()
        .filter(|f| !f.value.is_empty() && !PSS_SELINUX_TYPES.contains(&f.value.as_str()))
    {
        v.add(
            Profile::Baseline,
            "SELinux",
            &f.loc,
            format!("seLinuxOptions.type: {}", f.value),
        );
    }
    for f in [&sc.selinux_user, &sc.selinux_role].into_iter().flatten() {
        if !f.value.is_empty() {
            v.add(
                Profile::Baseline,
                "SELinux",
                &f.loc,
                format!("seLinuxOptions user/role set: {}", f.value),
            );
        }
    }
}
