//! Errors of capture reading and writing.
//!
//! Every error says where: a binary capture names the byte offset of the bad record, a text
//! fixture names the line (and the key inside the record). One enum with a free-form message
//! per position kind was chosen over one variant per failure: callers only print these, and
//! the message is where the detail belongs.

use std::fmt;

/// A failure reading, parsing or writing a capture.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened, read or written.
    #[error("{origin}: {source}")]
    Io {
        origin: String,
        #[source]
        source: std::io::Error,
    },
    /// A binary capture is corrupt, truncated or uses an unsupported feature.
    #[error("{origin}: byte offset {offset}: {msg}")]
    Binary {
        origin: String,
        offset: u64,
        msg: String,
    },
    /// A JSON Lines (or YAML case) record is malformed.
    #[error("{origin}:{line}: {msg}")]
    Text {
        origin: String,
        line: usize,
        msg: String,
    },
}

/// A problem inside one text record, before the caller adds the file and line.
///
/// `key` is the dotted path of the offending key (`args.flags`, `fd.type`), empty when the
/// problem concerns the record as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub key: String,
    pub msg: String,
}

impl FieldError {
    pub fn new(key: impl Into<String>, msg: impl Into<String>) -> Self {
        FieldError {
            key: key.into(),
            msg: msg.into(),
        }
    }

    /// Prefixes the key with `outer` (`fd` + `type` = `fd.type`).
    pub fn within(mut self, outer: &str) -> Self {
        self.key = if self.key.is_empty() {
            outer.to_string()
        } else if self.key.starts_with('[') {
            format!("{outer}{}", self.key)
        } else {
            format!("{outer}.{}", self.key)
        };
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.msg)
        } else {
            write!(f, "key '{}': {}", self.key, self.msg)
        }
    }
}

impl std::error::Error for FieldError {}
