//! Kernel prefilters for open events: a necessary condition for some rule to match, over
//! facts the sensor can test in the kernel (access mode, success, the `../` idiom in the
//! path argument, the resolved path).
//!
//! The rules engine derives them from the loaded rules (`vigil_rules::prefilter`), the
//! sensor compiles them into kernel maps (`vigil_sensor::prefilter`). The types live here,
//! in the event model both depend on, with [`OpenFilter::passes`]: the meaning the kernel
//! implementation must reproduce, used as the reference in both crates' tests.

/// Longest path (in bytes) a prefix or exact entry may have: the kernel compares at most
/// this many bytes of a path.
pub const MAX_PATH_BYTES: usize = 254;
/// Most clauses a filter may have.
pub const MAX_CLAUSES: usize = 32;
/// Longest last component (in bytes) a `names` entry may have.
pub const MAX_NAME_BYTES: usize = 63;
/// Most path sets one clause may require.
pub const MAX_CLAUSE_PATHS: usize = 2;

/// Paths a test accepts: equal to one of `exact`, starting with one of `prefixes`, or whose
/// last component is one of `names`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct PathSet {
    pub exact: Vec<String>,
    pub prefixes: Vec<String>,
    pub names: Vec<String>,
}

/// A conjunction of conditions on an open event; `None` means "either".
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct OpenClause {
    /// `evt.is_open_write`.
    pub write: Option<bool>,
    /// `evt.is_open_read`.
    pub read: Option<bool>,
    /// The call succeeded (`fd.num >= 0`).
    pub ok: Option<bool>,
    /// The path argument contains `../` (`fd.nameraw contains "../"`).
    pub dotdot: Option<bool>,
    /// `O_CREAT` is set (`evt.is_open_create`; always for `creat`).
    pub create: Option<bool>,
    /// Each set must contain the resolved path (`fd.name`).
    pub paths: Vec<PathSet>,
}

/// A necessary condition for some rule to match an open event: a disjunction of clauses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenFilter {
    pub clauses: Vec<OpenClause>,
}

/// What the kernel knows of an open event when it applies a filter.
#[derive(Clone, Copy, Debug)]
pub struct OpenFacts<'a> {
    /// Opened for writing (`O_WRONLY` or `O_RDWR`; `creat`).
    pub write: bool,
    /// Opened for reading (`O_RDONLY` or `O_RDWR`).
    pub read: bool,
    /// The call returned a descriptor.
    pub ok: bool,
    /// The path argument contains `../`.
    pub dotdot: bool,
    /// `O_CREAT` is set.
    pub create: bool,
    /// The resolved path, `None` when there is no descriptor.
    pub path: Option<&'a str>,
}

impl PathSet {
    /// A set from string slices (tests, hand-built filters).
    pub fn of(exact: &[&str], prefixes: &[&str], names: &[&str]) -> PathSet {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        PathSet {
            exact: v(exact),
            prefixes: v(prefixes),
            names: v(names),
        }
    }

    /// True if `path` is one of the exact paths or starts with one of the prefixes.
    pub fn contains(&self, path: &str) -> bool {
        let base = path.rsplit('/').next().unwrap_or(path);
        self.exact.iter().any(|e| e == path)
            || self.prefixes.iter().any(|p| path.starts_with(p))
            || self.names.iter().any(|n| n == base)
    }
}

impl OpenFilter {
    /// The filter's meaning, which the kernel implementation must reproduce: does an open
    /// event pass? `path` is the resolved path, `None` when the call returned no descriptor
    /// (then no path test holds, as `fd.name` is missing).
    pub fn passes(&self, f: &OpenFacts<'_>) -> bool {
        let flag = |want: Option<bool>, have: bool| match want {
            Some(w) => w == have,
            None => true,
        };
        self.clauses.iter().any(|c| {
            flag(c.write, f.write)
                && flag(c.read, f.read)
                && flag(c.ok, f.ok)
                && flag(c.dotdot, f.dotdot)
                && flag(c.create, f.create)
                && c.paths
                    .iter()
                    .all(|s| f.path.is_some_and(|p| s.contains(p)))
        })
    }
}
