//! Streaming layer reader: compression sniffing, bomb limits and the tar entry walk.
//!
//! A layer is read once, front to back, straight from the compressed blob: nothing is unpacked
//! to disk, so a hostile layer cannot write anywhere, and only the entries an analyzer wants are
//! buffered (bounded). Compression is recognized by magic bytes (gzip, zstd, or a plain tar)
//! rather than trusted from the media type, because docker-archive layers carry no media type
//! and podman writes uncompressed ones. Limits count both sides of the decompressor: total
//! output, output/input ratio, and entry count.

use crate::error::ScanError;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

/// Resource limits for reading untrusted layers.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Maximum uncompressed bytes per layer.
    pub max_layer_bytes: u64,
    /// Maximum uncompressed/compressed ratio, checked once `ratio_floor` bytes were produced.
    pub max_ratio: u64,
    pub ratio_floor: u64,
    /// Maximum entries per layer.
    pub max_entries: u64,
    /// Maximum bytes of one file read for analysis (larger ones are skipped with a warning).
    pub max_file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_layer_bytes: 32 << 30,
            max_ratio: 200,
            ratio_floor: 64 << 20,
            max_entries: 4_000_000,
            max_file_bytes: 256 << 20,
        }
    }
}

/// Marker carried inside an `io::Error` when a limit trips.
#[derive(Debug)]
struct LimitTripped(String);

impl std::fmt::Display for LimitTripped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LimitTripped {}

/// Counts bytes read from the compressed side (shared with the reading thread).
struct CountIn<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountIn<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Enforces output size and ratio on the decompressed side.
struct Guard<R> {
    inner: R,
    out: u64,
    input: Arc<AtomicU64>,
    limits: Limits,
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        if self.out > self.limits.max_layer_bytes {
            return Err(io::Error::other(LimitTripped(format!(
                "more than {} uncompressed bytes",
                self.limits.max_layer_bytes
            ))));
        }
        let input = self.input.load(Ordering::Relaxed).max(1);
        if self.out > self.limits.ratio_floor && self.out / input > self.limits.max_ratio {
            return Err(io::Error::other(LimitTripped(format!(
                "compression ratio above {}:1 ({} bytes from {})",
                self.limits.max_ratio, self.out, input
            ))));
        }
        Ok(n)
    }
}

/// Compression detected from magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Chunk size handed from the decompressing thread to the tar walk, and how many chunks may
/// be in flight: the decompressor runs at most 4 MiB ahead, so a bomb is still stopped by the
/// guard on the walking side after at most that much extra work.
const CHUNK: usize = 1 << 20;
const IN_FLIGHT: usize = 4;

/// The reading end of the decompressing thread: a `Read` over the chunks it sends.
struct Chunks {
    rx: Receiver<io::Result<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.cur = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0), // the thread finished: end of stream
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Runs on its own thread: decompresses `br` into chunks until the end, an error, or the
/// walking side hanging up (it returned early), whichever comes first.
fn produce<R: Read>(
    br: BufReader<CountIn<R>>,
    comp: Compression,
    tx: SyncSender<io::Result<Vec<u8>>>,
) {
    let mut dec: Box<dyn Read + '_> = match comp {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(br)),
        Compression::Zstd => match ruzstd::decoding::StreamingDecoder::new(br) {
            Ok(d) => Box::new(d),
            Err(e) => {
                let _ = tx.send(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    e.to_string(),
                )));
                return;
            }
        },
        Compression::None => Box::new(br),
    };
    loop {
        let mut chunk = vec![0u8; CHUNK];
        let mut filled = 0;
        let mut eof = false;
        while filled < CHUNK {
            match dec.read(&mut chunk[filled..]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if filled > 0 {
                        chunk.truncate(filled);
                        let _ = tx.send(Ok(chunk));
                    }
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
        chunk.truncate(filled);
        if filled > 0 && tx.send(Ok(chunk)).is_err() {
            return;
        }
        if eof {
            return;
        }
    }
}

/// Sniffs the compression of `raw`: the buffered compressed stream, what it is compressed
/// with, and the compressed-bytes counter.
fn sniff<R: Read>(raw: R) -> io::Result<(BufReader<CountIn<R>>, Compression, Arc<AtomicU64>)> {
    let count = Arc::new(AtomicU64::new(0));
    let mut br = BufReader::with_capacity(
        256 << 10,
        CountIn {
            inner: raw,
            count: count.clone(),
        },
    );
    let head = br.fill_buf()?;
    let comp = if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    };
    Ok((br, comp, count))
}

/// The kind of a tar entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink(String),
    Hardlink(String),
    Other,
}

/// One entry as the walker reports it; `path` is the raw (unnormalized) name.
#[derive(Debug, Clone)]
pub struct RawEntry {
    pub path: String,
    pub kind: EntryKind,
    pub size: u64,
    pub mode: u32,
}

/// Totals for one layer.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LayerStats {
    pub entries: u64,
    pub compressed_bytes: u64,
    pub compression: String,
}

/// Map an I/O error from the layer stream to a scan error naming the layer.
fn layer_err(layer: usize, name: &str, e: io::Error, what: &str) -> ScanError {
    let limit = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<LimitTripped>())
        .map(|l| l.0.clone());
    match limit {
        Some(reason) => ScanError::Limit {
            layer,
            name: name.to_string(),
            reason,
        },
        None => ScanError::Layer {
            layer,
            name: name.to_string(),
            reason: format!("{what}: {e}"),
        },
    }
}

/// Walk the tar stream of one layer, calling `visit` for each entry with a reader of its data.
/// The visitor may read as much of the data as it wants; the rest is skipped.
///
/// A compressed layer is decompressed on a second thread, a few chunks ahead of the tar walk
/// and the analyzers, so the two overlap: inflating a 400 MB gzip layer is most of the cost of
/// a scan, and the walk then adds almost nothing to the wall time. Rejected: decompressing
/// to a temporary file first (disk writes, and no overlap either).
pub fn walk<R: Read + Send>(
    layer: usize,
    name: &str,
    raw: R,
    limits: &Limits,
    visit: &mut dyn FnMut(RawEntry, &mut dyn Read) -> Result<(), ScanError>,
) -> Result<LayerStats, ScanError> {
    let (br, comp, count) = sniff(raw).map_err(|e| layer_err(layer, name, e, "reading layer"))?;
    std::thread::scope(|scope| {
        let (inner, producer): (Box<dyn Read + '_>, _) = if comp == Compression::None {
            (Box::new(br), None)
        } else {
            let (tx, rx) = sync_channel(IN_FLIGHT);
            let handle = std::thread::Builder::new()
                .name("vigil-inflate".into())
                .spawn_scoped(scope, move || produce(br, comp, tx))
                .map_err(|e| layer_err(layer, name, e, "starting the decompression thread"))?;
            let chunks = Chunks {
                rx,
                cur: Vec::new(),
                pos: 0,
            };
            (Box::new(chunks), Some(handle))
        };
        let guarded = Guard {
            inner,
            out: 0,
            input: count.clone(),
            limits: limits.clone(),
        };
        let stream = BufReader::with_capacity(256 << 10, guarded);
        // `walk_stream` consumes the stream: when it returns, early or not, the channel's
        // receiving end is gone, so a blocked `send` fails and the thread ends.
        let result = walk_stream(layer, name, stream, comp, &count, limits, visit);
        // Joined explicitly (the scope's own wait does not wait for the OS thread to exit,
        // which LeakSanitizer then reports as leaked thread state); a panic in the
        // decompressor is re-raised here, as it would have been without the thread.
        if let Some(h) = producer {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
        result
    })
}

fn walk_stream(
    layer: usize,
    name: &str,
    mut stream: impl BufRead,
    comp: Compression,
    count: &AtomicU64,
    limits: &Limits,
    visit: &mut dyn FnMut(RawEntry, &mut dyn Read) -> Result<(), ScanError>,
) -> Result<LayerStats, ScanError> {
    let mut stats = LayerStats {
        compression: format!("{comp:?}").to_lowercase(),
        ..Default::default()
    };
    {
        let mut archive = tar::Archive::new(&mut stream);
        let entries = archive
            .entries()
            .map_err(|e| layer_err(layer, name, e, "reading tar"))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| layer_err(layer, name, e, "reading tar entry"))?;
            stats.entries += 1;
            if stats.entries > limits.max_entries {
                return Err(ScanError::Limit {
                    layer,
                    name: name.to_string(),
                    reason: format!("more than {} entries", limits.max_entries),
                });
            }
            let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let header = entry.header();
            let mode = header.mode().unwrap_or(0);
            let size = header.entry_size().unwrap_or(0);
            let link = || {
                entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default()
            };
            let kind = match header.entry_type() {
                tar::EntryType::Regular
                | tar::EntryType::Continuous
                | tar::EntryType::GNUSparse => EntryKind::File,
                tar::EntryType::Directory => EntryKind::Dir,
                tar::EntryType::Symlink => EntryKind::Symlink(link()),
                tar::EntryType::Link => EntryKind::Hardlink(link()),
                _ => EntryKind::Other,
            };
            let raw_entry = RawEntry {
                path,
                kind,
                size,
                mode,
            };
            visit(raw_entry, &mut entry).map_err(|e| match e {
                ScanError::Io { source, .. } => layer_err(layer, name, source, "reading entry"),
                other => other,
            })?;
        }
    }
    // Read to the end so a truncated or corrupt compression trailer is noticed.
    io::copy(&mut stream, &mut io::sink())
        .map_err(|e| layer_err(layer, name, e, "reading end of layer"))?;
    stats.compressed_bytes = count.load(Ordering::Relaxed);
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tar_with(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (p, d) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(d.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, p, *d).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn names(data: &[u8], limits: &Limits) -> Result<Vec<String>, ScanError> {
        let mut out = Vec::new();
        walk(0, "t", data, limits, &mut |e, r| {
            let mut s = String::new();
            r.read_to_string(&mut s).ok();
            out.push(format!("{}={}", e.path, s));
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn plain_and_gzip() {
        let t = tar_with(&[("a", b"1"), ("b/c", b"22")]);
        let l = Limits::default();
        assert_eq!(names(&t, &l).unwrap(), vec!["a=1", "b/c=22"]);
        assert_eq!(names(&gz(&t), &l).unwrap(), vec!["a=1", "b/c=22"]);
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let t = tar_with(&[("a", &[7u8; 100_000])]);
        let g = gz(&t);
        let cut = &g[..g.len() - 20];
        let err = names(cut, &Limits::default()).unwrap_err().to_string();
        assert!(err.contains("layer 0 (t)"), "{err}");
    }

    #[test]
    fn bomb_is_stopped() {
        let t = tar_with(&[("zeros", &vec![0u8; 8 << 20])]);
        let g = gz(&t);
        let l = Limits {
            ratio_floor: 1 << 20,
            max_ratio: 100,
            ..Limits::default()
        };
        match names(&g, &l) {
            Err(ScanError::Limit { reason, .. }) => assert!(reason.contains("ratio"), "{reason}"),
            other => panic!("expected a limit error, got {other:?}"),
        }
    }
}
