//! The on-disk database: one file, `vulndb.bin`, read whole into memory on open.
//!
//! Layout (all integers little-endian):
//! ```text
//! "VIGILVDB"            8-byte magic
//! format  u32           FORMAT_VERSION; any other value is refused (re-import)
//! meta_len u64, meta    postcard: Meta { imported_at, newest_modified, counts, sources,
//!                                        index: sorted (key, record ids), offsets }
//! blob_len u64, blob    postcard-encoded Records, back to back; offsets index into it
//! checksum u64          over every preceding byte
//! ```
//! Opening reads the file (tens of MB for whole ecosystems), checks magic, version and
//! checksum, and decodes only `Meta`; records are decoded on demand by the queries that
//! need them, so a warm open costs a file read plus an index decode.
//!
//! Rejected alternatives: an embedded key-value store (redb, sled) adds a large dependency
//! and write-ahead machinery for a database that is rebuilt wholesale by each import and
//! never updated in place; memory-mapping saves a copy but needs `unsafe` and misbehaves if
//! the file is replaced under a running reader, while import here replaces the file
//! atomically (temp file + rename) and readers keep their own copy.

use crate::record::Record;
use crate::DbError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub(crate) const MAGIC: &[u8; 8] = b"VIGILVDB";
pub(crate) const FORMAT_VERSION: u32 = 1;
/// Name of the database file inside the database directory.
pub const DB_FILE: &str = "vulndb.bin";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Meta {
    /// Unix seconds of the import.
    pub imported_at: i64,
    /// Newest `modified` among imported advisories (RFC 3339 as written, and Unix seconds).
    pub newest_modified: Option<(String, i64)>,
    pub advisories: u64,
    pub per_ecosystem: BTreeMap<String, u64>,
    pub sources: Vec<String>,
    /// Sorted by key.
    pub index: Vec<(String, Vec<u32>)>,
    /// Start of each record in the blob, plus the end of the last.
    pub offsets: Vec<u64>,
}

/// A 64-bit checksum (FNV-1a over 8-byte words, then the tail bytes); detects truncation
/// and corruption, not tampering.
pub(crate) fn checksum(data: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(PRIME);
        h ^= h >> 29;
    }
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(PRIME);
    }
    h
}

/// The database file for a path: the path itself if it is a file, else `path/vulndb.bin`.
pub fn db_file(path: &Path) -> PathBuf {
    if path.is_file() {
        path.to_path_buf()
    } else {
        path.join(DB_FILE)
    }
}

/// Serialize and atomically write a database file into directory `dir`.
pub(crate) fn write(dir: &Path, meta: &Meta, blob: &[u8]) -> Result<(PathBuf, u64), DbError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DbError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let meta_bytes = postcard::to_allocvec(meta).map_err(|e| DbError::Format {
        path: dir.to_path_buf(),
        reason: format!("cannot encode index: {e}"),
    })?;
    let mut out = Vec::with_capacity(meta_bytes.len() + blob.len() + 64);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(meta_bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(&meta_bytes);
    out.extend_from_slice(&(blob.len() as u64).to_le_bytes());
    out.extend_from_slice(blob);
    let sum = checksum(&out);
    out.extend_from_slice(&sum.to_le_bytes());

    let final_path = dir.join(DB_FILE);
    let tmp = dir.join(format!(".{DB_FILE}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&out).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, &final_path).map_err(io(&final_path))?;
        // Make the rename durable; not all filesystems allow syncing a directory.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok::<_, DbError>(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| (final_path, out.len() as u64))
}

/// A database file loaded into memory.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub path: PathBuf,
    pub size: u64,
    pub meta: Meta,
    /// The whole file; records live in `bytes[blob_start..blob_end]`.
    bytes: Vec<u8>,
    blob_start: usize,
    blob_end: usize,
}

fn take<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if data.len() < n {
        return None;
    }
    let (a, b) = data.split_at(n);
    *data = b;
    Some(a)
}

fn take_u64(data: &mut &[u8]) -> Option<u64> {
    let b = take(data, 8)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    Some(u64::from_le_bytes(w))
}

/// Read and verify a database file.
pub(crate) fn load(path: &Path) -> Result<Loaded, DbError> {
    let file = db_file(path);
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(DbError::NotFound { path: file });
        }
        Err(source) => return Err(DbError::Io { path: file, source }),
    };
    let bad = |reason: String| DbError::Format {
        path: file.clone(),
        reason,
    };
    if bytes.len() < 8 + 4 + 8 + 8 + 8 || &bytes[..8] != MAGIC {
        return Err(bad("not a vigil vulnerability database (bad magic)".into()));
    }
    let mut v = [0u8; 4];
    v.copy_from_slice(&bytes[8..12]);
    let version = u32::from_le_bytes(v);
    if version != FORMAT_VERSION {
        return Err(bad(format!(
            "format version {version}, this vigil reads version {FORMAT_VERSION}; run 'vigil db import' again"
        )));
    }
    let body_len = bytes.len() - 8;
    let mut s = [0u8; 8];
    s.copy_from_slice(&bytes[body_len..]);
    if checksum(&bytes[..body_len]) != u64::from_le_bytes(s) {
        return Err(bad("checksum mismatch (truncated or damaged file)".into()));
    }
    let mut rest = &bytes[12..body_len];
    let meta_len = take_u64(&mut rest).ok_or_else(|| bad("truncated header".into()))?;
    let meta_bytes = usize::try_from(meta_len)
        .ok()
        .and_then(|n| take(&mut rest, n))
        .ok_or_else(|| bad("truncated index".into()))?;
    let meta: Meta =
        postcard::from_bytes(meta_bytes).map_err(|e| bad(format!("cannot decode index: {e}")))?;
    let blob_len = take_u64(&mut rest).ok_or_else(|| bad("truncated record section".into()))?;
    if usize::try_from(blob_len).ok() != Some(rest.len()) {
        return Err(bad("record section length mismatch".into()));
    }
    if meta.offsets.windows(2).any(|w| w[0] > w[1])
        || meta.offsets.last().is_some_and(|&l| l > blob_len)
    {
        return Err(bad("record offsets out of range".into()));
    }
    let n_records = meta.offsets.len().saturating_sub(1);
    if meta
        .index
        .iter()
        .any(|(_, ids)| ids.iter().any(|&i| i as usize >= n_records))
    {
        return Err(bad("index points past the last record".into()));
    }
    let blob_start = body_len - rest.len();
    Ok(Loaded {
        path: file,
        size: bytes.len() as u64,
        meta,
        bytes,
        blob_start,
        blob_end: body_len,
    })
}

impl Loaded {
    /// Decode record `i` (bounds were checked at load).
    pub fn record(&self, i: u32) -> Option<Record> {
        let i = i as usize;
        let start = usize::try_from(*self.meta.offsets.get(i)?).ok()?;
        let end = usize::try_from(*self.meta.offsets.get(i + 1)?).ok()?;
        let blob = &self.bytes[self.blob_start..self.blob_end];
        postcard::from_bytes(blob.get(start..end)?).ok()
    }

    /// Record ids for an index key.
    pub fn lookup(&self, key: &str) -> &[u32] {
        match self
            .meta
            .index
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
        {
            Ok(i) => &self.meta.index[i].1,
            Err(_) => &[],
        }
    }
}
