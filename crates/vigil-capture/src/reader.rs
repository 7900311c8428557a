//! Opening a capture file of either format, chosen by its first bytes.
//!
//! A binary capture starts with [`MAGIC`](crate::binary::MAGIC); anything else is read as
//! JSON Lines. Detection by content rather than by file extension lets a capture be renamed
//! or piped (`vigil replay /dev/stdin`) without flags.

use crate::binary::{BinaryReader, MAGIC};
use crate::error::CaptureError;
use crate::jsonl::JsonlReader;
use crate::record::Record;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// The format of a capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Binary,
    Jsonl,
}

/// A capture reader of either format.
pub enum CaptureReader<R: BufRead> {
    Binary(BinaryReader<R>),
    Jsonl(JsonlReader<R>),
}

impl CaptureReader<BufReader<File>> {
    /// Opens `path` and detects its format.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let origin = path.display().to_string();
        let f = File::open(path).map_err(|source| CaptureError::Io {
            origin: origin.clone(),
            source,
        })?;
        CaptureReader::new(BufReader::with_capacity(256 << 10, f), origin)
    }
}

impl<R: BufRead> CaptureReader<R> {
    /// Detects the format of `src` from its first bytes (without consuming them).
    pub fn new(mut src: R, origin: impl Into<String>) -> Result<Self, CaptureError> {
        let origin = origin.into();
        let head = src.fill_buf().map_err(|source| CaptureError::Io {
            origin: origin.clone(),
            source,
        })?;
        // The magic's first byte is not valid as the first byte of UTF-8 text.
        if !head.is_empty() && head[0] == MAGIC[0] {
            Ok(CaptureReader::Binary(BinaryReader::new(src, origin)?))
        } else {
            Ok(CaptureReader::Jsonl(JsonlReader::new(src, origin)))
        }
    }

    pub fn format(&self) -> Format {
        match self {
            CaptureReader::Binary(_) => Format::Binary,
            CaptureReader::Jsonl(_) => Format::Jsonl,
        }
    }

    /// Reads the next record and lends it to `f`; `Ok(None)` at the end.
    pub fn next_record<T>(
        &mut self,
        f: impl FnOnce(Record<'_>) -> T,
    ) -> Result<Option<T>, CaptureError> {
        match self {
            CaptureReader::Binary(r) => r.next_record(f),
            CaptureReader::Jsonl(r) => r.next_record(f),
        }
    }
}

/// Reads the whole of `src` through `f` (a convenience for tests and tools).
pub fn for_each<R: BufRead>(
    r: &mut CaptureReader<R>,
    mut f: impl FnMut(Record<'_>),
) -> Result<u64, CaptureError> {
    let mut n = 0;
    while r.next_record(&mut f)?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// Reads all of `src` into memory first (used by fuzzing and tests on byte slices).
pub fn from_bytes<'a>(
    bytes: &'a [u8],
    origin: &str,
) -> Result<CaptureReader<&'a [u8]>, CaptureError> {
    CaptureReader::new(bytes, origin)
}
