//! docker-compose / Compose Specification files → [`Workload`]s, one per service.
//!
//! Compose mixes short string forms (`"127.0.0.1:8080:80"`, `"/:/host:ro"`, `KEY=value`) and
//! long mapping forms for the same settings; both are read. Engine `security_opt` strings are
//! shared with `docker inspect` and parsed by [`crate::engine::apply_security_opt`].

use crate::engine::{apply_security_opt, parse_bind};
use crate::model::{
    normalize_cap, Container, ContainerRole, EnvVar, Field, Loc, Mount, MountKind, Platform, Port,
    Workload,
};
use crate::yaml::Node;

/// True when a document looks like a compose file (a `services` mapping of mappings).
pub fn is_compose(doc: &Node) -> bool {
    doc.get("services").is_some_and(|s| {
        s.is_map()
            && s.entries()
                .iter()
                .all(|(_, _, v)| v.is_map() || v.is_null())
    }) && doc.get("apiVersion").is_none()
}

fn bool_at(n: &Node, key: &str, path: &str) -> Option<Field<bool>> {
    let (l, v) = n.get_with_line(key)?;
    v.as_bool()
        .map(|b| Field::new(b, Loc::new(l, format!("{path}.{key}"))))
}

fn str_at(n: &Node, key: &str, path: &str) -> Option<Field<String>> {
    let (l, v) = n.get_with_line(key)?;
    if v.is_null() {
        return None;
    }
    Some(Field::new(
        v.to_string(),
        Loc::new(l, format!("{path}.{key}")),
    ))
}

/// Translates every service of a compose document.
pub fn workloads(doc: &Node) -> Vec<Workload> {
    let mut out = Vec::new();
    let Some(services) = doc.get("services") else {
        return out;
    };
    for (name, line, svc) in services.entries() {
        let path = format!("services.{name}");
        let loc = Loc::new(*line, path.clone());
        let mut w = Workload::new(Platform::Compose, "service", name, loc.clone(), loc.clone());
        let mut c = Container::new(name, ContainerRole::Regular, loc.clone());
        c.sc.loc = loc.clone();
        c.limits_loc = loc.child("deploy.resources.limits");
        c.image = str_at(svc, "image", &path);
        c.sc.privileged = bool_at(svc, "privileged", &path);
        c.sc.read_only_root_fs = bool_at(svc, "read_only", &path);
        c.user = str_at(svc, "user", &path);
        for (key, add) in [("cap_add", true), ("cap_drop", false)] {
            if let Some(list) = svc.get(key) {
                for (i, cap) in list.items().iter().enumerate() {
                    let f = Field::new(
                        normalize_cap(&cap.to_string()),
                        Loc::new(cap.line, format!("{path}.{key}[{i}]")),
                    );
                    if add {
                        c.sc.caps_add.push(f);
                    } else {
                        c.sc.caps_drop.push(f);
                    }
                }
            }
        }
        if let Some(list) = svc.get("security_opt") {
            for (i, o) in list.items().iter().enumerate() {
                apply_security_opt(
                    &o.to_string(),
                    Loc::new(o.line, format!("{path}.security_opt[{i}]")),
                    &mut c.sc,
                );
            }
        }
        let host =
            |key: &str| str_at(svc, key, &path).map(|f| Field::new(f.value == "host", f.loc));
        w.host_pid = host("pid");
        w.host_ipc = host("ipc");
        w.host_uts = host("uts");
        w.network_mode = str_at(svc, "network_mode", &path);
        w.host_network = w
            .network_mode
            .as_ref()
            .map(|f| Field::new(f.value == "host", f.loc.clone()));
        w.userns_mode = str_at(svc, "userns_mode", &path);
        c.memory_limit = str_at(svc, "mem_limit", &path);
        c.cpu_limit = str_at(svc, "cpus", &path);
        c.pids_limit = svc.get_with_line("pids_limit").and_then(|(l, v)| {
            v.as_i64()
                .map(|x| Field::new(x, Loc::new(l, format!("{path}.pids_limit"))))
        });
        if let Some(lim) = svc.path(&["deploy", "resources", "limits"]) {
            let lp = format!("{path}.deploy.resources.limits");
            c.memory_limit = c.memory_limit.or_else(|| str_at(lim, "memory", &lp));
            c.cpu_limit = c.cpu_limit.or_else(|| str_at(lim, "cpus", &lp));
            c.pids_limit = c.pids_limit.or_else(|| {
                lim.get_with_line("pids").and_then(|(l, v)| {
                    v.as_i64()
                        .map(|x| Field::new(x, Loc::new(l, format!("{lp}.pids"))))
                })
            });
        }
        if let Some(ports) = svc.get("ports") {
            for (i, p) in ports.items().iter().enumerate() {
                let ploc = Loc::new(p.line, format!("{path}.ports[{i}]"));
                if p.is_map() {
                    c.ports.push(Port {
                        container_port: p
                            .get("target")
                            .and_then(Node::as_i64)
                            .and_then(|v| u32::try_from(v).ok()),
                        host_port: p
                            .get("published")
                            .and_then(|v| v.to_string().split('-').next()?.parse().ok()),
                        host_ip: p.get("host_ip").map(|v| v.to_string()),
                        loc: ploc,
                    });
                } else {
                    c.ports.push(parse_port_spec(&p.to_string(), ploc));
                }
            }
        }
        if let Some(expose) = svc.get("expose") {
            for (i, p) in expose.items().iter().enumerate() {
                c.ports.push(Port {
                    container_port: p.to_string().split('/').next().and_then(|s| s.parse().ok()),
                    host_port: None,
                    host_ip: None,
                    loc: Loc::new(p.line, format!("{path}.expose[{i}]")),
                });
            }
        }
        if let Some(env) = svc.get("environment") {
            for (k, l, v) in env.entries() {
                c.env.push(env_var(
                    k,
                    (!v.is_null()).then(|| v.to_string()),
                    *l,
                    &path,
                    k,
                ));
            }
            for (i, item) in env.items().iter().enumerate() {
                let s = item.to_string();
                let (k, v) = match s.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (s.clone(), None),
                };
                c.env
                    .push(env_var(&k, v, item.line, &path, &format!("[{i}]")));
            }
        }
        if let Some(vols) = svc.get("volumes") {
            for (i, v) in vols.items().iter().enumerate() {
                let vloc = Loc::new(v.line, format!("{path}.volumes[{i}]"));
                if v.is_map() {
                    let ty = v.get("type").map(|t| t.to_string()).unwrap_or_default();
                    let source = v.get("source").map(|t| t.to_string());
                    let kind = match ty.as_str() {
                        "bind" => MountKind::Host,
                        "tmpfs" => MountKind::Tmpfs,
                        "volume" => MountKind::Volume,
                        _ => MountKind::Other,
                    };
                    c.mounts.push(Mount {
                        source: if kind == MountKind::Host {
                            source
                        } else {
                            None
                        },
                        kind,
                        target: v.get("target").map(|t| t.to_string()).unwrap_or_default(),
                        read_only: v.get("read_only").and_then(Node::as_bool).unwrap_or(false),
                        propagation: v.path(&["bind", "propagation"]).map(|t| t.to_string()),
                        loc: vloc,
                    });
                } else {
                    c.mounts.push(parse_bind(&v.to_string(), vloc));
                }
            }
        }
        if let Some(devs) = svc.get("devices") {
            for (i, d) in devs.items().iter().enumerate() {
                c.devices.push(Field::new(
                    d.to_string(),
                    Loc::new(d.line, format!("{path}.devices[{i}]")),
                ));
            }
        }
        if let Some(sys) = svc.get("sysctls") {
            for (k, l, v) in sys.entries() {
                c.sysctls.push(Field::new(
                    (k.clone(), v.to_string()),
                    Loc::new(*l, format!("{path}.sysctls.{k}")),
                ));
            }
            for (i, item) in sys.items().iter().enumerate() {
                let s = item.to_string();
                let (k, v) = s.split_once('=').unwrap_or((&s, ""));
                c.sysctls.push(Field::new(
                    (k.to_string(), v.to_string()),
                    Loc::new(item.line, format!("{path}.sysctls[{i}]")),
                ));
            }
        }
        w.containers.push(c);
        out.push(w);
    }
    out
}

fn env_var(name: &str, value: Option<String>, line: u32, path: &str, key: &str) -> EnvVar {
    let sep = if key.starts_with('[') { "" } else { "." };
    // `${VAR}` interpolation is resolved by compose from the host environment: not literal.
    let value = value.filter(|v| !v.starts_with("${") && !v.starts_with('$'));
    EnvVar {
        name: name.to_string(),
        value,
        from_secret: false,
        loc: Loc::new(line, format!("{path}.environment{sep}{key}")),
    }
}

/// Parses a short port spec: `[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]`.
pub fn parse_port_spec(spec: &str, loc: Loc) -> Port {
    let spec = spec.split('/').next().unwrap_or("");
    // IPv6 host IPs are bracketed: [::1]:80:80
    let (host_ip, rest) = if let Some(r) = spec.strip_prefix('[') {
        match r.split_once("]:") {
            Some((ip, rest)) => (Some(ip.to_string()), rest),
            None => (None, spec),
        }
    } else {
        (None, spec)
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let first = |s: &str| s.split('-').next().and_then(|p| p.parse::<u32>().ok());
    let (ip, host, cont) = match parts.as_slice() {
        [c] => (None, None, first(c)),
        [h, c] => (None, first(h), first(c)),
        [ip, h, c] => (Some(ip.to_string()), first(h), first(c)),
        _ => (None, None, None),
    };
    Port {
        container_port: cont,
        host_port: host,
        host_ip: host_ip.or(ip),
        loc,
    }
}
