//! Container-engine configurations → [`Workload`]s: `docker inspect` / `podman inspect` JSON
//! (also what the engine APIs return for live containers) and OCI runtime `config.json`.
//!
//! Both are read from the same position-keeping tree as YAML (JSON is YAML), so findings in a
//! saved `inspect.json` name lines. The engine's string options (`--security-opt`, `-v`) are
//! parsed here and shared with the compose translator.

use crate::model::{
    join, normalize_cap, Container, ContainerRole, EnvVar, Field, Loc, Mount, MountKind, Platform,
    Port, SecurityContext, Workload,
};
use crate::yaml::Node;

/// True for one element of `docker inspect` / `podman inspect` output.
pub fn is_inspect_object(n: &Node) -> bool {
    n.get("HostConfig").is_some() && n.get("Config").is_some()
}

/// True for `docker inspect` output: an array of inspect objects (or one object).
pub fn is_inspect(doc: &Node) -> bool {
    is_inspect_object(doc) || (!doc.items().is_empty() && doc.items().iter().all(is_inspect_object))
}

/// True for an OCI runtime bundle `config.json`.
pub fn is_oci(doc: &Node) -> bool {
    doc.get("ociVersion").is_some() && doc.get("process").is_some()
}

/// Applies one engine security option (`no-new-privileges`, `seccomp=unconfined`,
/// `apparmor=unconfined`, `label=disable`, `label=type:spc_t`, `systempaths=unconfined`,
/// `unmask=ALL`) to a security context. Both `=` and the legacy `:` separator are accepted.
pub fn apply_security_opt(opt: &str, loc: Loc, sc: &mut SecurityContext) {
    let opt = opt.trim();
    let (key, value) = match opt.find(['=', ':']) {
        Some(i) => (&opt[..i], &opt[i + 1..]),
        None => (opt, ""),
    };
    match key {
        "no-new-privileges" => {
            let on = matches!(value, "" | "true" | "1");
            sc.allow_privilege_escalation = Some(Field::new(!on, loc));
        }
        "seccomp" => {
            let t = match value {
                "unconfined" => "Unconfined",
                "" | "default" | "builtin" => "RuntimeDefault",
                _ => "Localhost",
            };
            sc.seccomp = Some(Field::new(t.to_string(), loc));
        }
        "apparmor" => {
            let t = match value {
                "unconfined" => "Unconfined",
                "" | "docker-default" | "containers-default" | "runtime/default" => {
                    "RuntimeDefault"
                }
                _ => "Localhost",
            };
            sc.apparmor = Some(Field::new(t.to_string(), loc));
        }
        "label" => {
            if value == "disable" {
                sc.selinux_disabled = Some(Field::new(true, loc));
            } else if let Some(t) = value.strip_prefix("type:") {
                sc.selinux_type = Some(Field::new(t.to_string(), loc));
            } else if let Some(t) = value.strip_prefix("user:") {
                sc.selinux_user = Some(Field::new(t.to_string(), loc));
            } else if let Some(t) = value.strip_prefix("role:") {
                sc.selinux_role = Some(Field::new(t.to_string(), loc));
            }
        }
        "systempaths" if value == "unconfined" => {
            sc.proc_mount = Some(Field::new("Unmasked".to_string(), loc));
        }
        "unmask" if value.eq_ignore_ascii_case("all") || value.contains("/proc") => {
            sc.proc_mount = Some(Field::new("Unmasked".to_string(), loc));
        }
        _ => {}
    }
}

/// Parses a `-v`/`Binds` string: `SRC:DST[:OPTS]` (bind when SRC is a path) or `DST`.
pub fn parse_bind(spec: &str, loc: Loc) -> Mount {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [d] => (None, *d, ""),
        [s, d] => (Some(*s), *d, ""),
        [s, d, o, ..] => (Some(*s), *d, *o),
        [] => (None, "", ""),
    };
    let opts: Vec<&str> = opts.split(',').collect();
    let is_path =
        src.is_some_and(|s| s.starts_with('/') || s.starts_with('.') || s.starts_with('~'));
    Mount {
        kind: if is_path {
            MountKind::Host
        } else {
            MountKind::Volume
        },
        source: if is_path {
            src.map(str::to_string)
        } else {
            None
        },
        target: dst.to_string(),
        read_only: opts.contains(&"ro") || opts.contains(&"readonly"),
        propagation: opts
            .iter()
            .find(|o| o.ends_with("shared") || o.ends_with("slave") || o.ends_with("private"))
            .map(|s| s.to_string()),
        loc,
    }
}

fn s<'a>(n: &'a Node, keys: &[&str]) -> Option<&'a str> {
    n.path(keys)
        .and_then(Node::as_str)
        .filter(|s| !s.is_empty())
}

fn line_of(n: &Node, keys: &[&str]) -> u32 {
    let mut cur = n;
    let mut line = n.line;
    for k in keys {
        match cur.get_with_line(k) {
            Some((l, next)) => {
                line = l;
                cur = next;
            }
            None => break,
        }
    }
    line
}

/// Translates `docker inspect` output (array or single object). `prefix_index` controls
/// whether paths start with `[i].` (files) or not (one live container).
pub fn inspect_workloads(doc: &Node, live: bool) -> Vec<Workload> {
    let objs: Vec<(String, &Node)> = if is_inspect_object(doc) {
        vec![(String::new(), doc)]
    } else {
        doc.items()
            .iter()
            .enumerate()
            .map(|(i, n)| {
                (
                    if live {
                        String::new()
                    } else {
                        format!("[{i}]")
                    },
                    n,
                )
            })
            .collect()
    };
    objs.into_iter()
        .map(|(prefix, o)| inspect_one(o, &prefix, live))
        .collect()
}

fn inspect_one(o: &Node, prefix: &str, live: bool) -> Workload {
    let p = |k: &str| join(prefix, k);
    let at = |keys: &[&str]| -> Loc {
        Loc::new(
            if live { 0 } else { line_of(o, keys) },
            join(prefix, &keys.join(".")),
        )
    };
    let name = s(o, &["Name"])
        .map(|n| n.trim_start_matches('/').to_string())
        .or_else(|| s(o, &["Id"]).map(|i| i.chars().take(12).collect()))
        .unwrap_or_else(|| "<unnamed>".into());
    let loc = Loc::new(if live { 0 } else { o.line }, prefix);
    let mut w = Workload::new(
        Platform::Engine,
        "container",
        name.clone(),
        loc.clone(),
        loc.clone(),
    );
    let hc = o.get("HostConfig");
    let mut c = Container::new(name, ContainerRole::Regular, loc.clone());
    c.sc.loc = at(&["HostConfig"]);
    c.limits_loc = at(&["HostConfig"]);
    c.image = s(o, &["Config", "Image"])
        .or_else(|| s(o, &["ImageName"]))
        .map(|i| Field::new(i.to_string(), at(&["Config", "Image"])));
    c.user = Some(Field::new(
        s(o, &["Config", "User"]).unwrap_or("").to_string(),
        at(&["Config", "User"]),
    ));
    if let Some(hc) = hc {
        let b = |k: &str| hc.get(k).and_then(Node::as_bool);
        if let Some(v) = b("Privileged") {
            c.sc.privileged = Some(Field::new(v, at(&["HostConfig", "Privileged"])));
        }
        if let Some(v) = b("ReadonlyRootfs") {
            c.sc.read_only_root_fs = Some(Field::new(v, at(&["HostConfig", "ReadonlyRootfs"])));
        }
        for (key, add) in [("CapAdd", true), ("CapDrop", false)] {
            for (i, cap) in hc
                .get(key)
                .map(Node::items)
                .unwrap_or(&[])
                .iter()
                .enumerate()
            {
                let f = Field::new(
                    normalize_cap(&cap.to_string()),
                    Loc::new(
                        if live { 0 } else { cap.line },
                        p(&format!("HostConfig.{key}[{i}]")),
                    ),
                );
                if add {
                    c.sc.caps_add.push(f);
                } else {
                    c.sc.caps_drop.push(f);
                }
            }
        }
        for (i, opt) in hc
            .get("SecurityOpt")
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            apply_security_opt(
                &opt.to_string(),
                Loc::new(
                    if live { 0 } else { opt.line },
                    p(&format!("HostConfig.SecurityOpt[{i}]")),
                ),
                &mut c.sc,
            );
        }
        let mode = |k: &str| {
            hc.get(k)
                .and_then(Node::as_str)
                .map(|m| Field::new(m == "host", at(&["HostConfig", k])))
        };
        w.host_pid = mode("PidMode");
        w.host_ipc = mode("IpcMode");
        w.host_uts = mode("UTSMode");
        w.network_mode = s(hc, &["NetworkMode"])
            .map(|m| Field::new(m.to_string(), at(&["HostConfig", "NetworkMode"])));
        w.host_network = w
            .network_mode
            .as_ref()
            .map(|f| Field::new(f.value == "host", f.loc.clone()));
        w.userns_mode = Some(Field::new(
            s(hc, &["UsernsMode"]).unwrap_or("").to_string(),
            at(&["HostConfig", "UsernsMode"]),
        ));
        let num = |k: &str| hc.get(k).and_then(Node::as_i64).filter(|v| *v > 0);
        if let Some(m) = num("Memory") {
            c.memory_limit = Some(Field::new(m.to_string(), at(&["HostConfig", "Memory"])));
        }
        if let Some(v) = num("NanoCpus") {
            c.cpu_limit = Some(Field::new(
                format!("{}", v as f64 / 1e9),
                at(&["HostConfig", "NanoCpus"]),
            ));
        } else if let Some(v) = num("CpuQuota") {
            c.cpu_limit = Some(Field::new(
                format!("quota {v}"),
                at(&["HostConfig", "CpuQuota"]),
            ));
        }
        if let Some(v) = num("PidsLimit") {
            c.pids_limit = Some(Field::new(v, at(&["HostConfig", "PidsLimit"])));
        }
        for (i, d) in hc
            .get("Devices")
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            let path = d
                .get("PathOnHost")
                .map(|x| x.to_string())
                .unwrap_or_default();
            c.devices.push(Field::new(
                path,
                Loc::new(
                    if live { 0 } else { d.line },
                    p(&format!("HostConfig.Devices[{i}]")),
                ),
            ));
        }
        for (k, l, v) in hc.get("Sysctls").map(Node::entries).unwrap_or(&[]) {
            c.sysctls.push(Field::new(
                (k.clone(), v.to_string()),
                Loc::new(
                    if live { 0 } else { *l },
                    p(&format!("HostConfig.Sysctls.{k}")),
                ),
            ));
        }
        for (port, l, binds) in hc.get("PortBindings").map(Node::entries).unwrap_or(&[]) {
            let cp = port.split('/').next().and_then(|x| x.parse().ok());
            for b in binds.items() {
                c.ports.push(Port {
                    container_port: cp,
                    host_port: b.get("HostPort").and_then(|h| h.to_string().parse().ok()),
                    host_ip: b
                        .get("HostIp")
                        .map(|h| h.to_string())
                        .filter(|h| !h.is_empty()),
                    loc: Loc::new(
                        if live { 0 } else { *l },
                        p(&format!("HostConfig.PortBindings.{port}")),
                    ),
                });
            }
        }
    }
    for (port, l, _) in o
        .path(&["Config", "ExposedPorts"])
        .map(Node::entries)
        .unwrap_or(&[])
    {
        let cp: Option<u32> = port.split('/').next().and_then(|x| x.parse().ok());
        if !c.ports.iter().any(|x| x.container_port == cp) {
            c.ports.push(Port {
                container_port: cp,
                host_port: None,
                host_ip: None,
                loc: Loc::new(
                    if live { 0 } else { *l },
                    p(&format!("Config.ExposedPorts.{port}")),
                ),
            });
        }
    }
    for (i, e) in o
        .path(&["Config", "Env"])
        .map(Node::items)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let text = e.to_string();
        let (k, v) = text.split_once('=').unwrap_or((&text, ""));
        c.env.push(EnvVar {
            name: k.to_string(),
            value: Some(v.to_string()),
            from_secret: false,
            loc: Loc::new(
                if live { 0 } else { e.line },
                p(&format!("Config.Env[{i}]")),
            ),
        });
    }
    if let Some(mounts) = o.get("Mounts").filter(|m| !m.items().is_empty()) {
        for (i, m) in mounts.items().iter().enumerate() {
            let ty = m.get("Type").map(|x| x.to_string()).unwrap_or_default();
            let kind = match ty.as_str() {
                "bind" => MountKind::Host,
                "volume" => MountKind::Volume,
                "tmpfs" => MountKind::Tmpfs,
                _ => MountKind::Other,
            };
            c.mounts.push(Mount {
                source: (kind == MountKind::Host)
                    .then(|| m.get("Source").map(|x| x.to_string()))
                    .flatten(),
                kind,
                target: m
                    .get("Destination")
                    .map(|x| x.to_string())
                    .unwrap_or_default(),
                read_only: m.get("RW").and_then(Node::as_bool) == Some(false),
                propagation: m
                    .get("Propagation")
                    .map(|x| x.to_string())
                    .filter(|x| !x.is_empty()),
                loc: Loc::new(if live { 0 } else { m.line }, p(&format!("Mounts[{i}]"))),
            });
        }
    } else if let Some(binds) = hc.and_then(|h| h.get("Binds")) {
        for (i, b) in binds.items().iter().enumerate() {
            c.mounts.push(parse_bind(
                &b.to_string(),
                Loc::new(
                    if live { 0 } else { b.line },
                    p(&format!("HostConfig.Binds[{i}]")),
                ),
            ));
        }
    }
    w.containers.push(c);
    w
}

/// The capabilities a default Docker/Podman container has (the baseline for "added").
pub const ENGINE_DEFAULT_CAPS: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Translates an OCI runtime `config.json`.
pub fn oci_workload(doc: &Node) -> Workload {
    let at = |keys: &[&str]| Loc::new(line_of(doc, keys), keys.join("."));
    let name = s(doc, &["hostname"]).unwrap_or("oci-bundle").to_string();
    let root = Loc::new(doc.line, "");
    let mut w = Workload::new(
        Platform::Oci,
        "oci-bundle",
        name.clone(),
        root.clone(),
        root.clone(),
    );
    let mut c = Container::new(name, ContainerRole::Regular, Loc::new(doc.line, "process"));
    c.sc.loc = at(&["process"]);
    c.limits_loc = at(&["linux", "resources"]);
    if let Some(uid) = doc.path(&["process", "user", "uid"]).and_then(Node::as_i64) {
        c.sc.run_as_user = Some(Field::new(uid, at(&["process", "user", "uid"])));
    }
    if let Some(v) = doc
        .path(&["process", "noNewPrivileges"])
        .and_then(Node::as_bool)
    {
        c.sc.allow_privilege_escalation = Some(Field::new(!v, at(&["process", "noNewPrivileges"])));
    }
    if let Some(v) = doc.path(&["root", "readonly"]).and_then(Node::as_bool) {
        c.sc.read_only_root_fs = Some(Field::new(v, at(&["root", "readonly"])));
    }
    if let Some(p) = s(doc, &["process", "apparmorProfile"]) {
        let t = if p == "unconfined" {
            "Unconfined"
        } else {
            "Localhost"
        };
        c.sc.apparmor = Some(Field::new(t.into(), at(&["process", "apparmorProfile"])));
    }
    // Capabilities: the bounding set is the ceiling; everything in it beyond the engine
    // default counts as added; a set without the defaults counts as "ALL dropped".
    if let Some(bounding) = doc.path(&["process", "capabilities", "bounding"]) {
        let caps: Vec<(String, u32)> = bounding
            .items()
            .iter()
            .map(|c| (normalize_cap(&c.to_string()), c.line))
            .collect();
        for (i, (cap, line)) in caps.iter().enumerate() {
            if !ENGINE_DEFAULT_CAPS.contains(&cap.as_str()) {
                c.sc.caps_add.push(Field::new(
                    cap.clone(),
                    Loc::new(*line, format!("process.capabilities.bounding[{i}]")),
                ));
            }
        }
        if caps.iter().all(|(c, _)| c == "NET_BIND_SERVICE") {
            c.sc.caps_drop.push(Field::new(
                "ALL".into(),
                at(&["process", "capabilities", "bounding"]),
            ));
        }
    }
    for (i, e) in doc
        .path(&["process", "env"])
        .map(Node::items)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let text = e.to_string();
        let (k, v) = text.split_once('=').unwrap_or((&text, ""));
        c.env.push(EnvVar {
            name: k.to_string(),
            value: Some(v.to_string()),
            from_secret: false,
            loc: Loc::new(e.line, format!("process.env[{i}]")),
        });
    }
    for (i, m) in doc
        .get("mounts")
        .map(Node::items)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let ty = m.get("type").map(|x| x.to_string()).unwrap_or_default();
        let opts: Vec<String> = m
            .get("options")
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .map(|o| o.to_string())
            .collect();
        let is_bind = ty == "bind" || opts.iter().any(|o| o == "bind" || o == "rbind");
        if !is_bind {
            continue;
        }
        c.mounts.push(Mount {
            kind: MountKind::Host,
            source: m.get("source").map(|x| x.to_string()),
            target: m
                .get("destination")
                .map(|x| x.to_string())
                .unwrap_or_default(),
            read_only: opts.iter().any(|o| o == "ro"),
            propagation: opts.iter().find(|o| o.ends_with("shared")).cloned(),
            loc: Loc::new(m.line, format!("mounts[{i}]")),
        });
    }
    if let Some(linux) = doc.get("linux") {
        let ns: Vec<String> = linux
            .get("namespaces")
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .filter_map(|n| n.get("type").map(|t| t.to_string()))
            .collect();
        let ns_loc = at(&["linux", "namespaces"]);
        let shared = |t: &str| Some(Field::new(!ns.iter().any(|n| n == t), ns_loc.clone()));
        w.host_pid = shared("pid");
        w.host_ipc = shared("ipc");
        w.host_network = shared("network");
        w.host_uts = shared("uts");
        w.userns_mode = Some(Field::new(
            if ns.iter().any(|n| n == "user") {
                "private"
            } else {
                ""
            }
            .to_string(),
            ns_loc.clone(),
        ));
        let res = |keys: &[&str]| linux.path(keys).and_then(Node::as_i64).filter(|v| *v > 0);
        if let Some(m) = res(&["resources", "memory", "limit"]) {
            c.memory_limit = Some(Field::new(
                m.to_string(),
                at(&["linux", "resources", "memory", "limit"]),
            ));
        }
        if let Some(q) = res(&["resources", "cpu", "quota"]) {
            c.cpu_limit = Some(Field::new(
                q.to_string(),
                at(&["linux", "resources", "cpu", "quota"]),
            ));
        }
        if let Some(pl) = res(&["resources", "pids", "limit"]) {
            c.pids_limit = Some(Field::new(pl, at(&["linux", "resources", "pids", "limit"])));
        }
        match linux.get("seccomp") {
            None => {
                c.sc.seccomp = Some(Field::new("Unconfined".into(), at(&["linux"])));
            }
            Some(_) => {
                c.sc.seccomp = Some(Field::new("Localhost".into(), at(&["linux", "seccomp"])));
            }
        }
        if linux
            .get("maskedPaths")
            .is_none_or(|m| m.items().is_empty())
        {
            c.sc.proc_mount = Some(Field::new("Unmasked".into(), at(&["linux"])));
        }
        for (k, l, v) in linux.get("sysctl").map(Node::entries).unwrap_or(&[]) {
            c.sysctls.push(Field::new(
                (k.clone(), v.to_string()),
                Loc::new(*l, format!("linux.sysctl.{k}")),
            ));
        }
        for (i, d) in linux
            .get("devices")
            .map(Node::items)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            c.devices.push(Field::new(
                d.get("path").map(|x| x.to_string()).unwrap_or_default(),
                Loc::new(d.line, format!("linux.devices[{i}]")),
            ));
        }
    }
    w.containers.push(c);
    w
}
