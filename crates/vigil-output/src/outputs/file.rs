//! JSON Lines file with size-based rotation (`path` → `path.1` → … → `path.N`, oldest
//! deleted) and reopen on request (SIGUSR1 after an external logrotate).
//!
//! Writes go through a reused buffer flushed once per batch; with `fsync: true` the batch is
//! also `fdatasync`ed before it counts as delivered. Rejected: rotating by time; alert volume
//! is bursty, and size bounds the disk, which is what operators size for.

use super::{Record, Sink, SinkError};
use crate::config::FileOutput;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

pub struct FileSink {
    cfg: FileOutput,
    file: Option<File>,
    size: u64,
    buf: Vec<u8>,
}

impl FileSink {
    pub fn new(cfg: &FileOutput) -> Self {
        FileSink {
            cfg: cfg.clone(),
            file: None,
            size: 0,
            buf: Vec::with_capacity(64 * 1024),
        }
    }

    fn rotated(&self, i: u32) -> PathBuf {
        let mut p = self.cfg.path.clone().into_os_string();
        p.push(format!(".{i}"));
        PathBuf::from(p)
    }

    fn open(&mut self) -> Result<(), SinkError> {
        if self.file.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.cfg.path)
                .map_err(|e| SinkError::Retry(format!("open {}: {e}", self.cfg.path.display())))?;
            self.size = f.metadata().map(|m| m.len()).unwrap_or(0);
            self.file = Some(f);
        }
        Ok(())
    }

    fn write_buf(&mut self) -> Result<(), SinkError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.open()?;
        let path = &self.cfg.path;
        let Some(f) = self.file.as_mut() else {
            return Err(SinkError::Retry("file not open".into()));
        };
        let r = f.write_all(&self.buf);
        self.buf.clear();
        if let Err(e) = r {
            // Reopen next time: the file may have been removed or the disk filled.
            self.file = None;
            return Err(SinkError::Retry(format!("write {}: {e}", path.display())));
        }
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), SinkError> {
        self.write_buf()?;
        if let Some(f) = self.file.take() {
            if self.cfg.fsync {
                let _ = f.sync_data();
            }
        }
        let keep = self.cfg.keep;
        let err = |e: std::io::Error| {
            SinkError::Retry(format!("rotate {}: {e}", self.cfg.path.display()))
        };
        if keep == 0 {
            std::fs::remove_file(&self.cfg.path).map_err(err)?;
        } else {
            let _ = std::fs::remove_file(self.rotated(keep));
            for i in (1..keep).rev() {
                let from = self.rotated(i);
                if from.exists() {
                    std::fs::rename(&from, self.rotated(i + 1)).map_err(err)?;
                }
            }
            std::fs::rename(&self.cfg.path, self.rotated(1)).map_err(err)?;
        }
        self.size = 0;
        Ok(())
    }
}

impl Sink for FileSink {
    fn write(&mut self, rec: &Record) -> Result<(), SinkError> {
        self.open()?;
        let len = rec.json.len() as u64 + 1;
        let max = self.cfg.max_size.0;
        if max != 0 && self.size > 0 && self.size + len > max {
            self.rotate()?;
            self.open()?;
        }
        self.buf.extend_from_slice(rec.json.as_bytes());
        self.buf.push(b'\n');
        self.size += len;
        if self.buf.len() >= 256 * 1024 {
            self.write_buf()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.write_buf()?;
        if self.cfg.fsync {
            if let Some(f) = &self.file {
                f.sync_data().map_err(|e| {
                    SinkError::Retry(format!("fsync {}: {e}", self.cfg.path.display()))
                })?;
            }
        }
        Ok(())
    }

    fn reopen(&mut self) {
        let _ = self.write_buf();
        self.file = None;
    }
}
