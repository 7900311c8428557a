//! Parser and validator tests: valid documents, every error kind, positions.

use super::*;

fn parse(yaml: &str) -> Result<PolicyFile, Diagnostics> {
    parse_str(Path::new("p.yaml"), yaml)
}

fn errors(yaml: &str) -> Vec<String> {
    parse(yaml)
        .unwrap_err()
        .0
        .iter()
        .map(|d| d.to_string())
        .collect()
}

const FULL: &str = r#"
policies:
  - name: web-lockdown
    mode: enforce
    scope:
      names: [shop-web]
      images: ["registry.example/shop/*"]
      labels: {app: shop}
      k8s_namespaces: [shop]
      k8s_pod_labels: {tier: web}
    exec:
      allow: [/usr/sbin/nginx, "/usr/bin/*"]
      deny: ["/usr/bin/nc*", "/bin/nc*"]
    files:
      deny_read: [/etc/shadow, /root/.ssh/]
      deny_write: [/etc/, /usr/bin/, /bin/]
    network:
      egress:
        default: allow
        allow: [{cidr: 127.0.0.0/8, ports: [80, 443], protocol: tcp}]
        deny: [{cidr: 169.254.169.254/32}, {cidr: "::1"}]
      unix_deny: [/var/run/docker.sock, /run/containerd/containerd.sock]
"#;

#[test]
fn full_example_parses() {
    let f = parse(FULL).unwrap();
    let p = &f.policies[0];
    assert_eq!(p.name, "web-lockdown");
    assert_eq!(p.mode, Mode::Enforce);
    assert_eq!(p.pos, Pos { line: 3, col: 5 });
    assert_eq!(
        p.exec.allow[0],
        PathPattern::Exact("/usr/sbin/nginx".into())
    );
    assert_eq!(p.exec.deny[0], PathPattern::Prefix("/usr/bin/nc".into()));
    assert_eq!(p.files.deny_read[1], PathPattern::Dir("/root/.ssh/".into()));
    assert_eq!(p.network.allow[0].ports, vec![(80, 80), (443, 443)]);
    assert_eq!(p.network.allow[0].protocol, Protocol::Tcp);
    assert_eq!(p.network.deny[1].prefix, 128);
    assert_eq!(p.network.unix_deny.len(), 2);
    assert_eq!(p.scope.labels.get("app").map(String::as_str), Some("shop"));
}

#[test]
fn every_error_is_reported_with_position() {
    let errs = errors(
        "policies:\n- name: a\n  mode: enforcing\n  exec:\n    allow: [usr/bin/x, '/a/*/b']\n  network:\n    egress:\n      deny: [{cidr: 10.0.0.1/8}, {cidr: 300.1.1.1}, {cidr: 10.0.0.0/8, ports: [0, '9-3']}]\n  colour: red\n",
    );
    let want = [
        "p.yaml:3:9: policy `a`: unknown mode `enforcing`",
        "p.yaml:5:13: policy `a`: exec.allow: path `usr/bin/x` is not absolute",
        "p.yaml:5:24: policy `a`: exec.allow: pattern `/a/*/b`: only a trailing `*`",
        "p.yaml:8:21: policy `a`: network.egress.deny: `10.0.0.1/8` has host bits set",
        "p.yaml:8:41: policy `a`: network.egress.deny: `300.1.1.1` is not an IP",
        "port (1-65535)",
        "port range `9-3` is reversed",
        "p.yaml:9:3: policy `a`: policy: unknown key `colour`",
    ];
    for w in want {
        assert!(
            errs.iter().any(|e| e.contains(w)),
            "missing {w:?} in {errs:#?}"
        );
    }
    assert_eq!(errs.len(), want.len(), "{errs:#?}");
}

#[test]
fn missing_name_mode_and_duplicates() {
    let errs = errors("policies:\n- mode: audit\n- name: x\n- name: y\n  mode: audit\n- name: y\n  mode: enforce\n");
    assert!(
        errs.iter()
            .any(|e| e.contains("2:3: policy without `name`")),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("policy `x`: policy without `mode`")),
        "{errs:#?}"
    );
    assert!(errs.iter().any(|e| e.contains("6:3: policy `y`: duplicate policy name (first defined at line 4)")), "{errs:#?}");
}

#[test]
fn scope_contradictions_and_types() {
    let errs = errors("policies:\n- name: a\n  mode: audit\n  scope: {all: true, names: [x]}\n- name: b\n  mode: audit\n  scope: {all: false}\n- name: c\n  mode: audit\n  scope: [x]\n- name: d\n  mode: audit\n  exec: {allow: []}\n");
    assert!(
        errs.iter().any(|e| e.contains("`all: true` contradicts")),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("`all: false` without selectors")),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("scope must be a mapping, found a list")),
        "{errs:#?}"
    );
    assert!(
        errs.iter().any(|e| e.contains("exec.allow is empty")),
        "{errs:#?}"
    );
}

#[test]
fn yaml_syntax_error_has_position() {
    let errs = errors("policies:\n  - name: [unclosed\n");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("p.yaml:"), "{errs:?}");
    assert!(errs[0].contains("YAML syntax"), "{errs:?}");
}

#[test]
fn unnormalized_and_long_paths_are_rejected() {
    let long = format!("/{}", "a".repeat(300));
    let errs = errors(&format!("policies:\n- name: a\n  mode: audit\n  files:\n    deny_read: [/etc/../etc/shadow, '//x', {long}]\n"));
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert!(errs[0].contains("not normalized"));
    assert!(errs[2].contains("longer than 250 bytes"));
}

#[test]
fn pattern_semantics() {
    let exact = PathPattern::parse("/etc/shadow").unwrap();
    assert!(exact.matches("/etc/shadow"));
    assert!(exact.matches("/etc/shadow/x"));
    assert!(!exact.matches("/etc/shadow-"));
    let dir = PathPattern::parse("/root/.ssh/").unwrap();
    assert!(dir.matches("/root/.ssh"));
    assert!(dir.matches("/root/.ssh/id_rsa"));
    assert!(!dir.matches("/root/.sshx"));
    let pre = PathPattern::parse("/usr/bin/nc*").unwrap();
    assert!(pre.matches("/usr/bin/nc.openbsd"));
    assert!(!pre.matches("/usr/bin/n"));
}

#[test]
fn scope_matching() {
    let f = parse("policies:\n- name: a\n  mode: audit\n  scope:\n    names: ['web-*']\n    images: ['localhost/vigil-*']\n    labels: {app: shop}\n").unwrap();
    let s = &f.policies[0].scope;
    let mut c = vigil_event::Container {
        name: "web-1".into(),
        image: "localhost/vigil-test-debian:latest".into(),
        image_repository: "localhost/vigil-test-debian".into(),
        ..Default::default()
    };
    assert!(!s.matches(&c), "label missing");
    c.labels.insert("app".into(), "shop".into());
    assert!(s.matches(&c));
    c.name = "db-1".into();
    assert!(!s.matches(&c));
    assert!(Scope::default().matches(&c));
    let k =
        parse("policies:\n- name: a\n  mode: audit\n  scope: {k8s_namespaces: [shop]}\n").unwrap();
    assert!(
        !k.policies[0].scope.matches(&c),
        "no k8s info = not in a namespace"
    );
    c.k8s = Some(vigil_event::K8sInfo {
        namespace: "shop".into(),
        ..Default::default()
    });
    assert!(k.policies[0].scope.matches(&c));
}

#[test]
fn globs() {
    assert!(glob_match("a*b?", "axxbc"));
    assert!(glob_match("*", ""));
    assert!(!glob_match("a*b", "ac"));
    assert!(glob_match("registry/*/x", "registry/a/b/x"));
}

#[test]
fn duplicate_names_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.yaml");
    let b = dir.path().join("b.yaml");
    std::fs::write(&a, "policies:\n- name: x\n  mode: audit\n").unwrap();
    std::fs::write(&b, "policies:\n- name: x\n  mode: enforce\n").unwrap();
    let errs = load_files(&[a, b.clone()]).unwrap_err();
    assert_eq!(errs.0.len(), 1);
    assert!(
        errs.0[0]
            .to_string()
            .contains("duplicate policy name (first defined at"),
        "{errs}"
    );
    let missing = load_files(&[dir.path().join("nope.yaml")]).unwrap_err();
    assert!(
        missing.to_string().contains("nope.yaml:1:1: cannot read"),
        "{missing}"
    );
}

/// Randomized robustness: mutated documents never panic and errors always carry a position
/// inside the document. (Stands in for cargo-fuzz when nightly is unavailable.)
#[test]
fn mutated_inputs_never_panic() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let base = FULL.as_bytes();
    let alphabet = b"{}[]:,-'\"*/\n #&!|>?0123456789abcdefxyz.";
    for _ in 0..3000 {
        let mut doc = base.to_vec();
        for _ in 0..(next() % 6 + 1) {
            let i = (next() as usize) % doc.len();
            match next() % 3 {
                0 => doc[i] = alphabet[(next() as usize) % alphabet.len()],
                1 => {
                    doc.remove(i);
                }
                _ => doc.insert(i, alphabet[(next() as usize) % alphabet.len()]),
            }
        }
        let text = String::from_utf8_lossy(&doc);
        let lines = text.lines().count() as u32 + 1;
        if let Err(d) = parse_str(Path::new("f.yaml"), &text) {
            assert!(!d.0.is_empty());
            for e in &d.0 {
                assert!(e.pos.line >= 1 && e.pos.line <= lines + 1, "{e} in\n{text}");
            }
        }
    }
}

#[test]
fn responses_parse_and_every_error_is_reported() {
    let f = parse("responses:\n  - rules: [\"Drift: *\"]\n    tags: [mitre_execution]\n    min_priority: Warning\n    scope: {names: [web]}\n    actions: [kill_process, isolate]\n").unwrap();
    let r = &f.responses[0];
    assert_eq!(r.rules, ["Drift: *"]);
    assert_eq!(r.min_priority, Some(Priority::Warning));
    assert_eq!(
        r.actions,
        [
            crate::RuleAction::KillProcess,
            crate::RuleAction::IsolateNetwork
        ]
    );
    assert_eq!(r.pos, Pos { line: 2, col: 5 });
    let e = errors("responses:\n  - rules: [x]\n    actions: [kill_process, explode, kill]\n  - actions: [stop]\n  - rules: [y]\n    min_priority: loud\n    frequency: 3\n");
    assert_eq!(e.len(), 6, "{e:#?}");
    assert!(
        e[0].starts_with("p.yaml:3:29: unknown response `explode`"),
        "{e:#?}"
    );
    assert!(
        e[1].contains("p.yaml:3:38: action `kill_process` listed twice"),
        "{e:#?}"
    );
    assert!(
        e[2].contains("p.yaml:4:5: response selects no alerts"),
        "{e:#?}"
    );
    assert!(
        e.iter().any(|m| m.contains("unknown priority `loud`")),
        "{e:#?}"
    );
    assert!(
        e.iter().any(|m| m.contains("unknown key `frequency`")),
        "{e:#?}"
    );
    assert!(
        e.iter()
            .any(|m| m.contains("p.yaml:5:5: response without `actions`")),
        "{e:#?}"
    );
    let e = errors("responses:\n  - rules: [x]\n");
    assert!(e[0].contains("response without `actions`"), "{e:#?}");
}

#[test]
fn responses_may_be_named() {
    let f = parse("responses:\n  - name: kill-shells\n    rules: [x]\n    actions: [kill]\n  - rules: [y]\n    actions: [kill]\n").unwrap();
    assert_eq!(f.responses[0].name.as_deref(), Some("kill-shells"));
    assert_eq!(f.responses[0].label(), "kill-shells");
    assert_eq!(f.responses[1].name, None);
    assert_eq!(f.responses[1].label(), "p.yaml:5:5");
    let e = errors("responses:\n  - name: 'no spaces'\n    rules: [x]\n    actions: [kill]\n");
    assert!(
        e[0].contains("p.yaml:2:11: invalid name `no spaces`"),
        "{e:#?}"
    );
}
