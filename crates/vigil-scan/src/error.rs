//! Error and warning types of the scanner.
//!
//! Hard errors ([`ScanError`]) stop a scan: the target cannot be opened, a layer is corrupt or
//! a limit was hit. Problems confined to one file (a malformed dpkg status paragraph, a tar
//! entry with `../`) are [`Warning`]s: they name the file and are reported with the results,
//! so nothing is dropped silently. The alternative, failing the whole scan on any bad file,
//! was rejected because a single odd file in a large image would hide every real finding.

use std::path::PathBuf;

/// Errors that stop a scan.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The target is not something vigil can scan.
    #[error("{target}: {reason}")]
    Target { target: String, reason: String },
    /// An image manifest, index or config is malformed.
    #[error("{file}: invalid image metadata: {reason}")]
    Metadata { file: String, reason: String },
    /// A layer could not be read (corrupt tar, truncated compression stream).
    #[error("layer {layer} ({name}): {reason}")]
    Layer {
        layer: usize,
        name: String,
        reason: String,
    },
    /// A size, ratio or count limit was exceeded (decompression bomb protection).
    #[error("layer {layer} ({name}): limit exceeded: {reason}")]
    Limit {
        layer: usize,
        name: String,
        reason: String,
    },
    /// Running an external command (podman) failed.
    #[error("{command}: {reason}")]
    Command { command: String, reason: String },
    /// The vulnerability ignore file is malformed.
    #[error("{file}: {reason}")]
    IgnoreFile { file: String, reason: String },
}

/// A problem confined to one file or entry; the scan continues.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    /// The file (image path, or layer entry) the warning is about.
    pub file: String,
    /// Line number in that file, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl Warning {
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Warning {
        Warning {
            file: file.into(),
            line: None,
            message: message.into(),
        }
    }

    pub fn at(file: impl Into<String>, line: usize, message: impl Into<String>) -> Warning {
        Warning {
            file: file.into(),
            line: Some(line),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file, l, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}
