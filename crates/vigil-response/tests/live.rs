//! Kernel tests of the enforcer without containers: loading (verifier), map capacity
//! errors, mode switching, reload atomicity and cleanup. Root only; skip loudly otherwise.

use std::path::Path;

use vigil_response::{parse_str, Enforcer, Error, Mode, Options, PolicyFile};

/// The tests of this file load and count eBPF programs: they run one at a time so that one
/// test's programs are never counted by another.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn root_or_skip(test: &str) -> bool {
    if !vigil_response::have_root() {
        eprintln!("SKIP: {test}: needs root to load eBPF programs");
        return false;
    }
    true
}

fn pf(yaml: &str) -> PolicyFile {
    parse_str(Path::new("live.yaml"), yaml).unwrap()
}

const POLICY: &str = "policies:\n- name: lock\n  mode: enforce\n  scope: {names: ['t-*']}\n  exec:\n    allow: ['/usr/bin/*', '/bin/*']\n    deny: ['/usr/bin/nc*']\n  files:\n    deny_read: [/etc/shadow]\n    deny_write: [/etc/]\n  network:\n    egress:\n      allow: [{cidr: 127.0.0.0/8, ports: [80], protocol: tcp}]\n      deny: [{cidr: 127.0.0.0/8}, {cidr: '::1'}]\n    unix_deny: [/run/podman/podman.sock]\n";

fn container(name: &str) -> vigil_event::Container {
    vigil_event::Container {
        id: format!("{name}-id"),
        name: name.into(),
        ..Default::default()
    }
}

/// Ids of the loaded programs that are the enforcer's (named `vigil_resp_*`): other
/// processes on the machine (the sensor's tests, system services) load programs too.
fn prog_ids() -> Vec<u32> {
    aya::programs::loaded_programs()
        .filter_map(|p| p.ok())
        .filter(|p| p.name_as_str().is_some_and(|n| n.starts_with("vigil_resp")))
        .map(|p| p.id())
        .collect()
}

#[test]
fn loads_attaches_and_cleans_up() {
    let _serial = serial();
    if !root_or_skip("loads_attaches_and_cleans_up") {
        return;
    }
    let before = prog_ids();
    let mut e = Enforcer::open(&[pf(POLICY)]).expect("open");
    assert!(e.network_attached());
    // This kernel (6.18) has the cgroup unix socket hooks; an older one reports why not.
    eprintln!("unix sockets: {}", e.unix_enforcement());
    assert_eq!(
        e.unix_enforcement(),
        &vigil_response::UnixEnforcement::CgroupHooks
    );
    // Count the programs that are new, not the difference of totals: a program of an
    // earlier test may still be on its way out (they are freed asynchronously).
    let new_programs = prog_ids()
        .into_iter()
        .filter(|p| !before.contains(p))
        .count();
    assert_eq!(
        new_programs, 8,
        "2 tracepoint + 4 inet sock_addr + 2 unix sock_addr programs"
    );
    // Scope: only t-* containers get the policy.
    assert_eq!(
        e.container_started(0xdead_0001, &container("t-1")).unwrap(),
        vec!["lock".to_string()]
    );
    assert!(e
        .container_started(0xdead_0002, &container("other"))
        .unwrap()
        .is_empty());
    assert_eq!(e.containers(), vec![0xdead_0001]);
    e.set_mode("lock", Mode::Audit).unwrap();
    assert!(matches!(
        e.set_mode("nope", Mode::Audit),
        Err(Error::UnknownPolicy(_))
    ));
    assert!(e.container_stopped(0xdead_0001));
    assert!(!e.container_stopped(0xdead_0001));
    drop(e);
    // Programs are freed asynchronously after the last reference goes.
    let mut left = Vec::new();
    for _ in 0..100 {
        left = prog_ids()
            .into_iter()
            .filter(|p| !before.contains(p))
            .collect();
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(left.is_empty(), "programs left behind: {left:?}");
}

#[test]
fn full_container_map_is_a_clear_error() {
    let _serial = serial();
    if !root_or_skip("full_container_map_is_a_clear_error") {
        return;
    }
    let opts = Options {
        containers_capacity: 4,
        network: false,
        ..Default::default()
    };
    let mut e = Enforcer::open_with(&[pf(POLICY)], opts).unwrap();
    for i in 0..4 {
        e.container_started(100 + i, &container("t-x")).unwrap();
    }
    let err = e.container_started(200, &container("t-y")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::MapFull {
                map: "containers",
                capacity: 4,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("policy map `containers` is full (4 entries)"),
        "{err}"
    );
    // The failed container is not tracked; the others still are.
    assert_eq!(e.containers().len(), 4);
}

#[test]
fn full_path_map_fails_open_without_leftovers() {
    let _serial = serial();
    if !root_or_skip("full_path_map_fails_open_without_leftovers") {
        return;
    }
    let opts = Options {
        paths_capacity: 3,
        network: false,
        ..Default::default()
    };
    let err = Enforcer::open_with(&[pf(POLICY)], opts).unwrap_err();
    assert!(
        err.to_string()
            .contains("policy map `paths` is full (3 entries)"),
        "{err}"
    );
}

#[test]
fn reload_swaps_or_keeps_old() {
    let _serial = serial();
    if !root_or_skip("reload_swaps_or_keeps_old") {
        return;
    }
    let opts = Options {
        network: false,
        paths_capacity: 12,
        ..Default::default()
    };
    let mut e = Enforcer::open_with(&[pf(POLICY)], opts).unwrap();
    e.container_started(7, &container("t-1")).unwrap();
    // Too big for the remaining trie capacity: fails, old policy stays applied.
    let many: Vec<String> = (0..20).map(|i| format!("/x{i}")).collect();
    let big = pf(&format!(
        "policies:\n- name: big\n  mode: enforce\n  files:\n    deny_read: [{}]\n",
        many.join(", ")
    ));
    let err = e.reload(&[big]).unwrap_err();
    assert!(err.to_string().contains("is full"), "{err}");
    assert_eq!(e.applied(7), vec!["lock".to_string()]);
    // A small one swaps in.
    let small = pf("policies:\n- name: small\n  mode: audit\n  exec: {deny: [/bin/nc]}\n");
    e.reload(&[small]).unwrap();
    assert_eq!(e.applied(7), vec!["small".to_string()]);
    assert_eq!(e.policy_names(), vec![("small".to_string(), Mode::Audit)]);
}
