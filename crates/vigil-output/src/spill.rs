//! Bounded on-disk spill for at-least-once outputs: alerts that cannot be delivered now are
//! appended (Falco JSON, one per line) to segment files `seg-<20-digit seq>.jsonl` in the
//! output's own directory, and replayed oldest-first when the output works again, including
//! after an agent restart.
//!
//! A segment is deleted only after every alert in it was confirmed by the output, so a crash
//! during replay re-delivers that segment's alerts (duplicates, never losses). A torn last
//! line after a crash is skipped and counted. Durability follows [`FsyncPolicy`].
//!
//! Rejected: one append-only file with a read offset persisted next to it. It needs a second
//! fsynced write per ack to be crash-safe and compaction to reclaim space; whole-segment
//! deletion gets both for free.

use crate::config::{FsyncPolicy, SpillConfig};
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Why an alert could not be spilled.
#[derive(Debug, thiserror::Error)]
pub enum SpillError {
    #[error("spill is full ({0} bytes)")]
    Full(u64),
    #[error("spill I/O error in {path}: {err}")]
    Io { path: PathBuf, err: io::Error },
    #[error("spill directory {0} is in use by another pipeline (lock held on its .lock file)")]
    Locked(PathBuf),
}

#[derive(Debug)]
struct Segment {
    seq: u64,
    bytes: u64,
}

#[derive(Debug)]
struct State {
    /// Segments on disk, oldest first; the last may be `active`.
    segments: VecDeque<Segment>,
    active: Option<(u64, File)>,
    next_seq: u64,
    total: u64,
    last_sync: Instant,
    dirty: bool,
}

/// One output's spill directory.
#[derive(Debug)]
pub struct Spill {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    fsync: FsyncPolicy,
    fsync_interval: Duration,
    state: Mutex<State>,
    /// Holds an exclusive `flock` on `dir/.lock` while open: two agents (or two pipelines in
    /// one process) sharing a spill would interleave segments and replay each other's alerts.
    _lock: File,
}

fn seg_name(seq: u64) -> String {
    format!("seg-{seq:020}.jsonl")
}

fn io_err(path: &Path, err: io::Error) -> SpillError {
    SpillError::Io {
        path: path.to_path_buf(),
        err,
    }
}

impl Spill {
    /// Opens (creating) `dir` and indexes the segments already there.
    pub fn open(dir: &Path, cfg: &SpillConfig) -> Result<Spill, SpillError> {
        std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        let lock_path = dir.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_err(&lock_path, e))?;
        // SAFETY: flock on a file descriptor we own; no memory is passed.
        let rc = unsafe {
            libc::flock(
                std::os::fd::AsRawFd::as_raw_fd(&lock),
                libc::LOCK_EX | libc::LOCK_NB,
            )
        };
        if rc != 0 {
            let e = io::Error::last_os_error();
            return Err(if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                SpillError::Locked(dir.to_path_buf())
            } else {
                io_err(&lock_path, e)
            });
        }
        let mut segs = Vec::new();
        for ent in std::fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
            let ent = ent.map_err(|e| io_err(dir, e))?;
            let name = ent.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(seq) = name
                .strip_prefix("seg-")
                .and_then(|s| s.strip_suffix(".jsonl"))
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let bytes = ent.metadata().map_err(|e| io_err(&ent.path(), e))?.len();
            segs.push(Segment { seq, bytes });
        }
        segs.sort_by_key(|s| s.seq);
        let next_seq = segs.last().map(|s| s.seq + 1).unwrap_or(1);
        let total = segs.iter().map(|s| s.bytes).sum();
        Ok(Spill {
            dir: dir.to_path_buf(),
            max_bytes: cfg.max_bytes.0,
            segment_bytes: cfg.segment_bytes.0,
            fsync: cfg.fsync,
            fsync_interval: cfg.fsync_interval.0,
            state: Mutex::new(State {
                segments: segs.into(),
                active: None,
                next_seq,
                total,
                last_sync: Instant::now(),
                dirty: false,
            }),
            _lock: lock,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes waiting on disk.
    pub fn bytes(&self) -> u64 {
        self.lock().total
    }

    pub fn is_empty(&self) -> bool {
        self.lock().total == 0
    }

    /// Appends one alert (its JSON, without newline).
    pub fn append(&self, json: &[u8]) -> Result<(), SpillError> {
        let mut st = self.lock();
        let len = json.len() as u64 + 1;
        if st.total + len > self.max_bytes {
            return Err(SpillError::Full(self.max_bytes));
        }
        let need_new = match (&st.active, st.segments.back()) {
            (Some((seq, _)), Some(last)) => {
                last.seq != *seq || last.bytes + len > self.segment_bytes
            }
            _ => true,
        };
        if need_new {
            self.seal(&mut st)?;
            let seq = st.next_seq;
            st.next_seq += 1;
            let path = self.dir.join(seg_name(seq));
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| io_err(&path, e))?;
            st.segments.push_back(Segment { seq, bytes: 0 });
            st.active = Some((seq, f));
            if self.fsync != FsyncPolicy::Never {
                // Make the new directory entry durable too.
                if let Ok(d) = File::open(&self.dir) {
                    let _ = d.sync_all();
                }
            }
        }
        let path = self
            .dir
            .join(seg_name(st.active.as_ref().map(|a| a.0).unwrap_or(0)));
        let mut buf = Vec::with_capacity(json.len() + 1);
        buf.extend_from_slice(json);
        buf.push(b'\n');
        if let Some((_, f)) = st.active.as_mut() {
            f.write_all(&buf).map_err(|e| io_err(&path, e))?;
        }
        if let Some(last) = st.segments.back_mut() {
            last.bytes += len;
        }
        st.total += len;
        st.dirty = true;
        let sync_now = match self.fsync {
            FsyncPolicy::Always => true,
            FsyncPolicy::Interval => st.last_sync.elapsed() >= self.fsync_interval,
            FsyncPolicy::Never => false,
        };
        if sync_now {
            Self::sync(&mut st);
        }
        Ok(())
    }

    fn sync(st: &mut State) {
        if let Some((_, f)) = &st.active {
            let _ = f.sync_data();
        }
        st.last_sync = Instant::now();
        st.dirty = false;
    }

    /// Flushes pending data per the fsync policy (called periodically by the worker).
    pub fn maybe_sync(&self) {
        let mut st = self.lock();
        if st.dirty
            && self.fsync != FsyncPolicy::Never
            && st.last_sync.elapsed() >= self.fsync_interval
        {
            Self::sync(&mut st);
        }
    }

    fn seal(&self, st: &mut State) -> Result<(), SpillError> {
        if let Some((_, f)) = st.active.take() {
            if self.fsync != FsyncPolicy::Never {
                let _ = f.sync_data();
            }
        }
        Ok(())
    }

    /// Seals everything (for shutdown).
    pub fn close(&self) {
        let mut st = self.lock();
        let _ = self.seal(&mut st);
    }

    /// The oldest segment, sealed so no more writes go to it; `None` when empty.
    pub fn oldest(&self) -> Option<SegmentRef> {
        let mut st = self.lock();
        let first = st.segments.front()?;
        let seq = first.seq;
        if st.active.as_ref().map(|a| a.0) == Some(seq) {
            let _ = self.seal(&mut st);
        }
        Some(SegmentRef {
            seq,
            path: self.dir.join(seg_name(seq)),
        })
    }

    /// Deletes a fully delivered segment.
    pub fn remove(&self, seg: &SegmentRef) -> Result<(), SpillError> {
        let mut st = self.lock();
        if let Some(i) = st.segments.iter().position(|s| s.seq == seg.seq) {
            let s = st.segments.remove(i).unwrap_or(Segment {
                seq: seg.seq,
                bytes: 0,
            });
            st.total = st.total.saturating_sub(s.bytes);
        }
        match std::fs::remove_file(&seg.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&seg.path, e)),
        }
    }
}

/// A sealed segment being replayed.
#[derive(Debug, Clone)]
pub struct SegmentRef {
    pub seq: u64,
    pub path: PathBuf,
}

impl SegmentRef {
    /// The lines of the segment (each an alert's JSON). A last line without its newline was
    /// torn by a crash and is returned in `torn`.
    pub fn read(&self) -> io::Result<(Vec<String>, usize)> {
        let f = File::open(&self.path)?;
        let mut r = BufReader::new(f);
        let mut lines = Vec::new();
        let mut torn = 0;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = r.read_until(b'\n', &mut buf)?;
            if n == 0 {
                break;
            }
            if buf.last() != Some(&b'\n') {
                torn += 1;
                break;
            }
            buf.pop();
            match String::from_utf8(std::mem::take(&mut buf)) {
                Ok(s) => lines.push(s),
                Err(_) => torn += 1,
            }
        }
        Ok((lines, torn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Size;

    #[test]
    fn segments_roll_persist_and_cap() {
        let dir = std::env::temp_dir().join(format!("vigil-spill-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = SpillConfig {
            dir: None,
            max_bytes: Size(9_500),
            segment_bytes: Size(4096),
            fsync: FsyncPolicy::Always,
            ..Default::default()
        };
        let s = Spill::open(&dir, &cfg).unwrap();
        let line = vec![b'x'; 999];
        for _ in 0..9 {
            s.append(&line).unwrap();
        }
        assert!(matches!(s.append(&line), Err(SpillError::Full(9_500))));
        assert_eq!(s.bytes(), 9000);
        drop(s);
        // Reopen: same content, oldest first, 4 per segment. Only one opener at a time.
        let s = Spill::open(&dir, &cfg).unwrap();
        assert!(matches!(
            Spill::open(&dir, &cfg),
            Err(SpillError::Locked(_))
        ));
        assert_eq!(s.bytes(), 9000);
        let seg = s.oldest().unwrap();
        let (lines, torn) = seg.read().unwrap();
        assert_eq!((lines.len(), torn), (4, 0));
        s.remove(&seg).unwrap();
        assert_eq!(s.bytes(), 5000);
        s.append(b"new").unwrap();
        let mut n = 0;
        while let Some(seg) = s.oldest() {
            n += seg.read().unwrap().0.len();
            s.remove(&seg).unwrap();
        }
        assert_eq!(n, 6);
        assert!(s.is_empty());
        drop(s);
        // A torn tail is reported, not returned.
        std::fs::write(dir.join(seg_name(99)), b"{\"a\":1}\n{\"b\"").unwrap();
        let s = Spill::open(&dir, &cfg).unwrap();
        let (lines, torn) = s.oldest().unwrap().read().unwrap();
        assert_eq!((lines, torn), (vec!["{\"a\":1}".to_string()], 1));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
