//! The embedded default ruleset (`rules/default_rules.yaml`), used by `vigil monitor` and
//! `vigil replay` when no `-r` is given. Embedding it means the binary alone is a working
//! deployment; users extend or tune it by loading their own files after it.

/// Name shown in diagnostics for the embedded file.
pub const DEFAULT_RULES_NAME: &str = "<embedded>/default_rules.yaml";

/// Text of the default ruleset.
pub const DEFAULT_RULES: &str = include_str!("../../../rules/default_rules.yaml");
