//! Context fields appended to every syscall alert, like Falco's `append_output` with
//! `extra_fields`: upstream rules no longer name container or Kubernetes fields in their
//! outputs, yet a responder needs them. They are added to `output_fields` only (the rendered
//! `output` line is the rule's own), and never overwrite a field the rule already set.

use vigil_event::{Alert, FieldValue, StateView};

/// Fields added to every syscall alert when the rule's output does not name them.
pub const CONTEXT_FIELDS: [&str; 6] = [
    "container.id",
    "container.name",
    "container.image.repository",
    "k8s.ns.name",
    "k8s.pod.name",
    "proc.pid",
];

/// Adds the context of process `pid` to the alert's `output_fields`.
pub fn append_context<S: StateView + ?Sized>(alert: &mut Alert, pid: u32, state: &S) {
    if alert.source != "syscall" {
        return;
    }
    let f = &mut alert.output_fields;
    if CONTEXT_FIELDS.iter().all(|k| f.contains_key(*k)) {
        return;
    }
    let proc_ = state.process(pid);
    let cid = proc_.map(|p| p.container_id.as_str()).unwrap_or("");
    let container = if cid.is_empty() {
        None
    } else {
        state.container(cid)
    };
    let s = |v: &str| {
        if v.is_empty() {
            FieldValue::Null
        } else {
            FieldValue::Str(v.to_string())
        }
    };
    let id = if cid.is_empty() {
        FieldValue::Str("host".into())
    } else {
        FieldValue::Str(cid[..cid.len().min(12)].to_string())
    };
    let name = match (cid.is_empty(), container) {
        (true, _) => FieldValue::Str("host".into()),
        (false, Some(c)) => s(&c.name),
        (false, None) => FieldValue::Null,
    };
    let repo = container.map_or(FieldValue::Null, |c| s(&c.image_repository));
    let k8s = container.and_then(|c| c.k8s.as_ref());
    let ns = k8s.map_or(FieldValue::Null, |k| s(&k.namespace));
    let pod = k8s.map_or(FieldValue::Null, |k| s(&k.pod_name));
    for (k, v) in [
        ("container.id", id),
        ("container.name", name),
        ("container.image.repository", repo),
        ("k8s.ns.name", ns),
        ("k8s.pod.name", pod),
        ("proc.pid", FieldValue::U64(pid as u64)),
    ] {
        f.entry(k.to_string()).or_insert(v);
    }
}
