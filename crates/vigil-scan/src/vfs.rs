//! The virtual file index: the final filesystem of an image after all layers are applied.
//!
//! Only metadata is kept (path -> layer, size, mode, link target), never file contents, so an
//! image of any size costs a few hundred bytes per file. Whiteouts (`.wh.NAME`) and opaque
//! directories (`.wh..wh..opq`) are applied as each layer streams by. Paths are normalized
//! relative strings without a leading `/`; `..` and absolute entries are refused before they get
//! here. A `BTreeMap` keeps a directory's subtree contiguous, so whiting out a directory is a
//! range removal; a tree of nodes was rejected as more code for no gain at these sizes.

use std::collections::BTreeMap;

/// What a path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    File,
    Dir,
    Symlink(String),
    Hardlink(String),
    Other,
}

/// One entry of the final filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub layer: usize,
    pub size: u64,
    pub mode: u32,
    pub kind: NodeKind,
}

/// Why an entry path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    Absolute,
    Traversal,
    Empty,
    TooLong,
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PathError::Absolute => "absolute path refused",
            PathError::Traversal => "path traversal ('..') refused",
            PathError::Empty => "empty path",
            PathError::TooLong => "path longer than 4096 bytes",
        })
    }
}

/// Normalize a tar entry name: drop `./` and empty components, refuse `..` and absolute paths.
pub fn normalize(raw: &str) -> Result<String, PathError> {
    if raw.len() > 4096 {
        return Err(PathError::TooLong);
    }
    if raw.starts_with('/') {
        return Err(PathError::Absolute);
    }
    let mut out = String::with_capacity(raw.len());
    for comp in raw.split('/') {
        match comp {
            "" | "." => {}
            ".." => return Err(PathError::Traversal),
            c => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(c);
            }
        }
    }
    if out.is_empty() {
        return Err(PathError::Empty);
    }
    Ok(out)
}

/// The file index.
#[derive(Debug, Default)]
pub struct Vfs {
    nodes: BTreeMap<String, Node>,
}

/// Keys of `map` equal to `path` or below it.
pub(crate) fn subtree_keys<V>(map: &BTreeMap<String, V>, path: &str) -> Vec<String> {
    let mut keys = Vec::new();
    if map.contains_key(path) {
        keys.push(path.to_string());
    }
    let prefix = format!("{path}/");
    for (k, _) in map.range(prefix.clone()..) {
        if !k.starts_with(&prefix) {
            break;
        }
        keys.push(k.clone());
    }
    keys
}

impl Vfs {
    pub fn new() -> Vfs {
        Vfs::default()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Node)> {
        self.nodes.iter()
    }

    /// Add or replace an entry. A non-directory replacing a directory hides its subtree, as
    /// overlayfs does. Returns the paths that disappeared (for callers tracking results).
    pub fn insert(&mut self, path: String, node: Node) -> Vec<String> {
        let mut removed = Vec::new();
        if node.kind != NodeKind::Dir {
            if let Some(old) = self.nodes.get(&path) {
                if old.kind == NodeKind::Dir {
                    removed = self.remove_subtree(&path, usize::MAX);
                }
            }
        }
        self.nodes.insert(path, node);
        removed
    }

    /// Remove `path` and everything below it whose layer is below `below_layer`.
    pub fn remove_subtree(&mut self, path: &str, below_layer: usize) -> Vec<String> {
        let keys = subtree_keys(&self.nodes, path);
        let mut removed = Vec::new();
        for k in keys {
            if self.nodes.get(&k).is_some_and(|n| n.layer < below_layer) {
                self.nodes.remove(&k);
                removed.push(k);
            }
        }
        removed
    }

    /// Remove only the children of `dir` from layers below `layer` (opaque directory).
    pub fn make_opaque(&mut self, dir: &str, layer: usize) -> Vec<String> {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let keys: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, n)| k.len() > prefix.len() && n.layer < layer)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &keys {
            self.nodes.remove(k);
        }
        keys
    }

    /// Resolve symlinks in `path` inside the image. `..` at the root stays at the root and
    /// absolute link targets are taken relative to the image root, so resolution can never
    /// leave the image. Returns `None` for a dangling link or a loop (more than 40 links).
    pub fn resolve(&self, path: &str) -> Option<String> {
        let mut pending: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .rev()
            .map(String::from)
            .collect();
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(comp) = pending.pop() {
            match comp.as_str() {
                "." => continue,
                ".." => {
                    done.pop();
                    continue;
                }
                _ => {}
            }
            done.push(comp);
            let cur = done.join("/");
            match self.nodes.get(&cur).map(|n| &n.kind) {
                Some(NodeKind::Symlink(target)) => {
                    hops += 1;
                    if hops > 40 {
                        return None;
                    }
                    done.pop();
                    if target.starts_with('/') {
                        done.clear();
                    }
                    for c in target.split('/').filter(|c| !c.is_empty()).rev() {
                        pending.push(c.to_string());
                    }
                }
                Some(_) => {}
                // Tars often omit parent directory entries: a missing middle component is
                // taken as a directory; only the final path must exist.
                None if pending.is_empty() => return None,
                None => {}
            }
        }
        Some(done.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(layer: usize, kind: NodeKind) -> Node {
        Node {
            layer,
            size: 0,
            mode: 0o644,
            kind,
        }
    }

    #[test]
    fn normalize_paths() {
        assert_eq!(normalize("./etc//passwd").as_deref(), Ok("etc/passwd"));
        assert_eq!(normalize("/etc/passwd"), Err(PathError::Absolute));
        assert_eq!(normalize("a/../../x"), Err(PathError::Traversal));
        assert_eq!(normalize("./"), Err(PathError::Empty));
    }

    #[test]
    fn whiteout_and_opaque() {
        let mut v = Vfs::new();
        v.insert("a".into(), node(0, NodeKind::Dir));
        v.insert("a/x".into(), node(0, NodeKind::File));
        v.insert("a/y".into(), node(0, NodeKind::File));
        v.insert("ab".into(), node(0, NodeKind::File));
        v.insert("a/z".into(), node(1, NodeKind::File));
        assert_eq!(v.make_opaque("a", 1), vec!["a/x", "a/y"]);
        assert!(v.get("a/z").is_some() && v.get("ab").is_some() && v.get("a").is_some());
        assert_eq!(v.remove_subtree("a", 2), vec!["a", "a/z"]);
        assert!(v.get("ab").is_some());
    }

    #[test]
    fn file_hides_directory() {
        let mut v = Vfs::new();
        v.insert("d".into(), node(0, NodeKind::Dir));
        v.insert("d/f".into(), node(0, NodeKind::File));
        assert_eq!(
            v.insert("d".into(), node(1, NodeKind::File)),
            vec!["d", "d/f"]
        );
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn symlinks_stay_inside() {
        let mut v = Vfs::new();
        v.insert("etc".into(), node(0, NodeKind::Dir));
        v.insert("usr/lib/os-release".into(), node(0, NodeKind::File));
        v.insert(
            "etc/os-release".into(),
            node(0, NodeKind::Symlink("../usr/lib/os-release".into())),
        );
        v.insert(
            "etc/escape".into(),
            node(
                0,
                NodeKind::Symlink("../../../../usr/lib/os-release".into()),
            ),
        );
        v.insert("loop1".into(), node(0, NodeKind::Symlink("loop2".into())));
        v.insert("loop2".into(), node(0, NodeKind::Symlink("/loop1".into())));
        assert_eq!(
            v.resolve("etc/os-release").as_deref(),
            Some("usr/lib/os-release")
        );
        assert_eq!(
            v.resolve("etc/escape").as_deref(),
            Some("usr/lib/os-release")
        );
        assert_eq!(v.resolve("loop1"), None);
        assert_eq!(v.resolve("missing"), None);
    }
}
