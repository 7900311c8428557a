//! Kubernetes manifests → [`Workload`]s.
//!
//! Finds the pod spec of every workload kind (Pod, Deployment, StatefulSet, DaemonSet,
//! ReplicaSet, ReplicationController, Job, CronJob, PodTemplate, `List` items, and any unknown
//! kind that carries `spec.template.spec.containers`, e.g. Argo Rollouts) and reads the
//! security-relevant fields with their YAML paths. It reads the untyped tree instead of
//! deserializing into `k8s-openapi` types: those would reject manifests of newer or older API
//! versions outright and do not keep positions.

use crate::model::{
    join, normalize_cap, Container, ContainerRole, EnvVar, Field, Loc, Mount, MountKind, Platform,
    Port, SecurityContext, Volume, Workload,
};
use crate::yaml::Node;

/// What became of one Kubernetes document.
#[derive(Debug)]
pub enum K8sDoc {
    /// Workloads found (one per pod spec; a `List` yields several).
    Workloads(Vec<Workload>),
    /// A known kind without a pod spec (Service, ConfigMap, ...).
    NotAWorkload(String),
    /// A kind this tool does not know and that has no recognizable pod template.
    UnknownKind(String),
}

const NON_WORKLOAD_KINDS: &[&str] = &[
    "Service",
    "ConfigMap",
    "Secret",
    "Namespace",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ClusterRole",
    "ClusterRoleBinding",
    "Ingress",
    "IngressClass",
    "NetworkPolicy",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "StorageClass",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "LimitRange",
    "ResourceQuota",
    "CustomResourceDefinition",
    "Endpoints",
    "EndpointSlice",
    "PriorityClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "APIService",
    "Certificate",
    "Issuer",
    "ClusterIssuer",
    "ServiceMonitor",
    "PodMonitor",
    "PrometheusRule",
    "Gateway",
    "HTTPRoute",
    "VerticalPodAutoscaler",
    "CSIDriver",
    "RuntimeClass",
    "Lease",
    "Event",
];

/// True when a document looks like a Kubernetes object.
pub fn is_k8s(doc: &Node) -> bool {
    doc.get("apiVersion").and_then(Node::as_str).is_some()
        && doc.get("kind").and_then(Node::as_str).is_some()
}

/// Translates one Kubernetes document.
pub fn workloads(doc: &Node) -> K8sDoc {
    let mut out = Vec::new();
    let mut unknown = None;
    let mut non_workload = None;
    collect(doc, "", 0, &mut out, &mut unknown, &mut non_workload);
    if !out.is_empty() {
        K8sDoc::Workloads(out)
    } else if let Some(k) = unknown {
        K8sDoc::UnknownKind(k)
    } else {
        K8sDoc::NotAWorkload(non_workload.unwrap_or_default())
    }
}

fn collect(
    doc: &Node,
    prefix: &str,
    depth: usize,
    out: &mut Vec<Workload>,
    unknown: &mut Option<String>,
    non_workload: &mut Option<String>,
) {
    let kind = doc.get("kind").and_then(Node::as_str).unwrap_or("");
    if depth < 4 && (kind == "List" || kind.ends_with("List")) {
        for (i, item) in doc
            .get("items")
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            collect(
                item,
                &join(prefix, &format!("items[{i}]")),
                depth + 1,
                out,
                unknown,
                non_workload,
            );
        }
        if doc.get("items").is_some() {
            return;
        }
    }
    let pod_path: &[&str] = match kind {
        "Pod" => &["spec"],
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        "PodTemplate" => &["template", "spec"],
        _ => {
            if doc
                .path(&["spec", "template", "spec", "containers"])
                .is_some()
            {
                &["spec", "template", "spec"]
            } else if NON_WORKLOAD_KINDS.contains(&kind) {
                *non_workload = Some(kind.to_string());
                return;
            } else {
                *unknown = Some(kind.to_string());
                return;
            }
        }
    };
    let Some(pod) = doc.path(pod_path) else {
        *unknown = Some(format!("{kind} without {}", pod_path.join(".")));
        return;
    };
    let pod_path_s = join(prefix, &pod_path.join("."));
    // Pod metadata: the template's for controllers, the object's for a Pod.
    let meta_path: Vec<&str> = if pod_path.len() > 1 {
        let mut p = pod_path[..pod_path.len() - 1].to_vec();
        p.push("metadata");
        p
    } else {
        vec!["metadata"]
    };
    let name = doc
        .path(&["metadata", "name"])
        .and_then(Node::as_str)
        .or_else(|| {
            doc.path(&["metadata", "generateName"])
                .and_then(Node::as_str)
        })
        .unwrap_or("<unnamed>");
    let mut w = Workload::new(
        Platform::Kubernetes,
        kind,
        name,
        Loc::new(doc.line, prefix),
        Loc::new(pod.line, pod_path_s.clone()),
    );
    w.namespace = doc
        .path(&["metadata", "namespace"])
        .and_then(Node::as_str)
        .map(str::to_string);
    if let Some(ann) = doc.path(&meta_path).and_then(|m| m.get("annotations")) {
        let ann_path = join(prefix, &format!("{}.annotations", meta_path.join(".")));
        for (k, l, v) in ann.entries() {
            w.annotations.push(Field::new(
                (k.clone(), v.to_string()),
                Loc::new(*l, join(&ann_path, k)),
            ));
        }
    }
    read_pod(pod, &pod_path_s, &mut w);
    out.push(w);
}

fn bool_at(parent: &Node, key: &str, parent_path: &str) -> Option<Field<bool>> {
    let (l, n) = parent.get_with_line(key)?;
    n.as_bool()
        .map(|b| Field::new(b, Loc::new(l, join(parent_path, key))))
}

fn str_at(parent: &Node, key: &str, parent_path: &str) -> Option<Field<String>> {
    let (l, n) = parent.get_with_line(key)?;
    if n.is_null() {
        return None;
    }
    Some(Field::new(
        n.to_string(),
        Loc::new(l, join(parent_path, key)),
    ))
}

fn int_at(parent: &Node, key: &str, parent_path: &str) -> Option<Field<i64>> {
    let (l, n) = parent.get_with_line(key)?;
    n.as_i64()
        .map(|v| Field::new(v, Loc::new(l, join(parent_path, key))))
}

fn read_pod(pod: &Node, path: &str, w: &mut Workload) {
    w.host_pid = bool_at(pod, "hostPID", path);
    w.host_ipc = bool_at(pod, "hostIPC", path);
    w.host_network = bool_at(pod, "hostNetwork", path);
    w.host_users = bool_at(pod, "hostUsers", path);
    w.automount_sa_token = bool_at(pod, "automountServiceAccountToken", path);
    let sc_path = join(path, "securityContext");
    if let Some((l, sc)) = pod.get_with_line("securityContext") {
        w.pod_sc = read_sc(sc, Loc::new(l, sc_path.clone()));
        if let Some(sys) = sc.get("sysctls") {
            for (i, s) in sys.items().iter().enumerate() {
                let name = s.get("name").map(|n| n.to_string()).unwrap_or_default();
                let value = s.get("value").map(|n| n.to_string()).unwrap_or_default();
                w.sysctls.push(Field::new(
                    (name, value),
                    Loc::new(s.line, format!("{sc_path}.sysctls[{i}]")),
                ));
            }
        }
    }
    let mut host_volumes: Vec<(String, String)> = Vec::new();
    let mut volume_kinds: Vec<(String, MountKind)> = Vec::new();
    if let Some(vols) = pod.get("volumes") {
        for (i, v) in vols.items().iter().enumerate() {
            let name = v.get("name").map(|n| n.to_string()).unwrap_or_default();
            let source_type = v
                .entries()
                .iter()
                .map(|(k, _, _)| k.as_str())
                .find(|k| *k != "name")
                .unwrap_or("")
                .to_string();
            let host_path = v
                .path(&["hostPath", "path"])
                .map(|p| p.to_string())
                .or_else(|| v.get("hostPath").map(|_| String::new()));
            if let Some(hp) = &host_path {
                host_volumes.push((name.clone(), hp.clone()));
            }
            let mk = match source_type.as_str() {
                "hostPath" => MountKind::Host,
                "emptyDir" => MountKind::Tmpfs,
                "persistentVolumeClaim" | "ephemeral" => MountKind::Volume,
                _ => MountKind::Other,
            };
            volume_kinds.push((name.clone(), mk));
            w.volumes.push(Volume {
                name,
                source_type,
                host_path,
                loc: Loc::new(v.line, format!("{path}.volumes[{i}]")),
            });
        }
    }
    for (key, role) in [
        ("initContainers", ContainerRole::Init),
        ("containers", ContainerRole::Regular),
        ("ephemeralContainers", ContainerRole::Ephemeral),
    ] {
        let Some(list) = pod.get(key) else { continue };
        for (i, c) in list.items().iter().enumerate() {
            let cpath = format!("{path}.{key}[{i}]");
            w.containers.push(read_container(
                c,
                &cpath,
                role,
                &host_volumes,
                &volume_kinds,
                &w.annotations,
            ));
        }
    }
}

fn read_sc(sc: &Node, loc: Loc) -> SecurityContext {
    let p = loc.path.clone();
    let mut out = SecurityContext {
        privileged: bool_at(sc, "privileged", &p),
        allow_privilege_escalation: bool_at(sc, "allowPrivilegeEscalation", &p),
        run_as_user: int_at(sc, "runAsUser", &p),
        run_as_group: int_at(sc, "runAsGroup", &p),
        run_as_non_root: bool_at(sc, "runAsNonRoot", &p),
        read_only_root_fs: bool_at(sc, "readOnlyRootFilesystem", &p),
        proc_mount: str_at(sc, "procMount", &p),
        ..Default::default()
    };
    if let Some(caps) = sc.get("capabilities") {
        let cp = join(&p, "capabilities");
        for (key, dst) in [("add", &mut out.caps_add), ("drop", &mut out.caps_drop)] {
            if let Some(list) = caps.get(key) {
                for (i, c) in list.items().iter().enumerate() {
                    dst.push(Field::new(
                        normalize_cap(&c.to_string()),
                        Loc::new(c.line, format!("{cp}.{key}[{i}]")),
                    ));
                }
            }
        }
    }
    if let Some(s) = sc.get("seccompProfile") {
        out.seccomp = str_at(s, "type", &join(&p, "seccompProfile"));
    }
    if let Some(s) = sc.get("appArmorProfile") {
        out.apparmor = str_at(s, "type", &join(&p, "appArmorProfile"));
    }
    if let Some(s) = sc.get("seLinuxOptions") {
        let sp = join(&p, "seLinuxOptions");
        out.selinux_type = str_at(s, "type", &sp);
        out.selinux_user = str_at(s, "user", &sp);
        out.selinux_role = str_at(s, "role", &sp);
    }
    if let Some(s) = sc.get("windowsOptions") {
        out.host_process = bool_at(s, "hostProcess", &join(&p, "windowsOptions"));
    }
    out.loc = loc;
    out
}

fn read_container(
    c: &Node,
    path: &str,
    role: ContainerRole,
    host_volumes: &[(String, String)],
    volume_kinds: &[(String, MountKind)],
    annotations: &[Field<(String, String)>],
) -> Container {
    let name = c.get("name").map(|n| n.to_string()).unwrap_or_default();
    let mut out = Container::new(name.clone(), role, Loc::new(c.line, path));
    out.image = str_at(c, "image", path);
    if let Some((l, sc)) = c.get_with_line("securityContext") {
        out.sc = read_sc(sc, Loc::new(l, join(path, "securityContext")));
    } else {
        out.sc.loc.line = c.line;
    }
    // Pre-1.30 AppArmor annotation for this container.
    let ann_key = format!("container.apparmor.security.beta.kubernetes.io/{name}");
    if out.sc.apparmor.is_none() {
        if let Some(a) = annotations.iter().find(|a| a.value.0 == ann_key) {
            let v = a.value.1.as_str();
            let t = if v == "runtime/default" {
                "RuntimeDefault"
            } else if v.starts_with("localhost/") {
                "Localhost"
            } else if v == "unconfined" {
                "Unconfined"
            } else {
                v
            };
            out.sc.apparmor = Some(Field::new(t.to_string(), a.loc.clone()));
        }
    }
    out.limits_loc = Loc::new(c.line, join(path, "resources.limits"));
    if let Some((l, lim)) = c
        .path(&["resources"])
        .and_then(|r| r.get_with_line("limits"))
    {
        let lp = join(path, "resources.limits");
        out.limits_loc = Loc::new(l, lp.clone());
        out.memory_limit = str_at(lim, "memory", &lp);
        out.cpu_limit = str_at(lim, "cpu", &lp);
    }
    if let Some(ports) = c.get("ports") {
        for (i, p) in ports.items().iter().enumerate() {
            let hp = p.get("hostPort").and_then(Node::as_i64).filter(|v| *v != 0);
            out.ports.push(Port {
                container_port: p
                    .get("containerPort")
                    .and_then(Node::as_i64)
                    .and_then(|v| u32::try_from(v).ok()),
                host_port: hp.and_then(|v| u32::try_from(v).ok()),
                host_ip: p.get("hostIP").map(|n| n.to_string()),
                loc: Loc::new(
                    p.get_with_line("hostPort").map_or(p.line, |(l, _)| l),
                    format!(
                        "{path}.ports[{i}]{}",
                        if hp.is_some() { ".hostPort" } else { "" }
                    ),
                ),
            });
        }
    }
    if let Some(env) = c.get("env") {
        for (i, e) in env.items().iter().enumerate() {
            let from_secret = e.path(&["valueFrom", "secretKeyRef"]).is_some();
            out.env.push(EnvVar {
                name: e.get("name").map(|n| n.to_string()).unwrap_or_default(),
                value: e
                    .get("value")
                    .filter(|v| !v.is_null())
                    .map(|v| v.to_string()),
                from_secret,
                loc: Loc::new(
                    e.get_with_line("value").map_or(e.line, |(l, _)| l),
                    format!("{path}.env[{i}]"),
                ),
            });
        }
    }
    if let Some(env_from) = c.get("envFrom") {
        for (i, e) in env_from.items().iter().enumerate() {
            if e.get("secretRef").is_some() {
                out.env.push(EnvVar {
                    name: e
                        .path(&["secretRef", "name"])
                        .map(|n| n.to_string())
                        .unwrap_or_default(),
                    value: None,
                    from_secret: true,
                    loc: Loc::new(e.line, format!("{path}.envFrom[{i}].secretRef")),
                });
            }
        }
    }
    if let Some(vms) = c.get("volumeMounts") {
        for (i, m) in vms.items().iter().enumerate() {
            let vname = m.get("name").map(|n| n.to_string()).unwrap_or_default();
            let kind = volume_kinds
                .iter()
                .find(|(n, _)| *n == vname)
                .map_or(MountKind::Other, |(_, k)| k.clone());
            out.mounts.push(Mount {
                source: host_volumes
                    .iter()
                    .find(|(n, _)| *n == vname)
                    .map(|(_, p)| p.clone()),
                kind,
                target: m
                    .get("mountPath")
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
                read_only: m.get("readOnly").and_then(Node::as_bool).unwrap_or(false),
                propagation: m.get("mountPropagation").map(|n| n.to_string()),
                loc: Loc::new(m.line, format!("{path}.volumeMounts[{i}]")),
            });
        }
    }
    out
}
