//! The upstream Falco rules files load unmodified: alone and all three together, with every
//! rule compiled (no unknown field, no unsupported operator).

use std::path::PathBuf;
use vigil_rules::{load_files, LoadOptions};

fn corpus() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/falco-rules");
    assert!(
        dir.is_dir(),
        "missing test corpus {} (../shared beside the repository)",
        dir.display()
    );
    dir
}

fn check(files: &[&str]) -> vigil_rules::Loaded {
    let paths: Vec<PathBuf> = files.iter().map(|f| corpus().join(f)).collect();
    match load_files(&paths, &LoadOptions::default()) {
        Ok(l) => l,
        Err(d) => panic!("{files:?} failed to load:\n{d}"),
    }
}

#[test]
fn stable_rules_load() {
    let l = check(&["falco_rules.yaml"]);
    let c = l.ruleset.counts();
    assert!(c.rules >= 20, "{c:?}");
    assert_eq!(c.skipped_rules, 0, "every stable rule compiles");
    assert!(c.macros > 50 && c.lists > 20, "{c:?}");
    assert!(l.ruleset.required_engine_version().is_some());
    let types = l.ruleset.event_types();
    for t in ["execve", "openat", "connect"] {
        assert!(
            types.contains(vigil_event::EventType::from_name(t).unwrap()),
            "{t}"
        );
    }
}

#[test]
fn incubating_and_sandbox_load_alone() {
    for f in ["falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"] {
        let l = check(&[f]);
        assert!(l.ruleset.counts().rules > 10);
        assert_eq!(l.ruleset.counts().skipped_rules, 0, "{f}");
    }
}

#[test]
fn all_three_load_together() {
    let l = check(&[
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ]);
    let c = l.ruleset.counts();
    assert!(c.rules > 80, "{c:?}");
    assert_eq!(c.skipped_rules, 0);
}
