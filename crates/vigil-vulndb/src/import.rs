//! Import: read OSV JSON from directories (recursively), zip archives (as osv.dev publishes
//! `all.zip` per ecosystem) or single files, convert, and write a new database atomically.
//!
//! Every input file is accounted for: imported, skipped as withdrawn, replaced by a newer
//! duplicate, ignored as not JSON, or reported as an error naming the file (and, for JSON
//! errors, line and column). One bad file never aborts the rest. Inputs are bounded: a JSON
//! document over [`MAX_JSON_BYTES`] is refused, and zip members are read through a byte
//! limit whatever size their header claims, so a decompression bomb costs at most that.
//! Nothing here touches the network. Rejected alternatives: aborting on the first bad file
//! (one malformed advisory in a 300,000-file archive would block every update), and merging
//! into the existing database (stale advisories would never leave; a rebuild is cheap).

use crate::osv;
use crate::record::Record;
use crate::store::{self, Meta};
use crate::timefmt;
use crate::{DbError, FileError, ImportReport};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest accepted OSV document (the largest real ones, PyPI advisories with long
/// `versions` lists, are well under 2 MiB).
pub const MAX_JSON_BYTES: u64 = 16 * 1024 * 1024;
/// Largest number of members read from one zip archive.
pub const MAX_ZIP_MEMBERS: usize = 2_000_000;
/// Deepest directory nesting followed.
const MAX_DEPTH: usize = 32;

struct Builder {
    report: ImportReport,
    /// id -> (modified seconds, record)
    records: HashMap<String, (i64, Record)>,
}

impl Builder {
    fn error(&mut self, file: String, error: String) {
        self.report.errors.push(FileError { file, error });
    }

    fn document(&mut self, file: String, bytes: &[u8]) {
        self.report.files_read += 1;
        let adv = match osv::parse(bytes) {
            Ok(a) => a,
            Err(e) => return self.error(file, e),
        };
        if adv.withdrawn.is_some() {
            self.report.withdrawn += 1;
            return;
        }
        let modified = adv
            .modified
            .as_deref()
            .and_then(timefmt::parse_rfc3339)
            .unwrap_or(i64::MIN);
        if adv.modified.is_some() && modified == i64::MIN {
            self.report.warnings.push(FileError {
                file: file.clone(),
                error: format!(
                    "\"modified\" is not an RFC 3339 time: {:?}",
                    adv.modified.as_deref().unwrap_or("")
                ),
            });
        }
        let (record, conv) = Record::from_advisory(&adv);
        self.report.git_ranges_ignored += conv.git_ranges;
        for e in conv.unordered {
            *self.report.unordered_ranges.entry(e).or_default() += 1;
        }
        for w in conv.warnings {
            self.report.warnings.push(FileError {
                file: file.clone(),
                error: w,
            });
        }
        if record.affected.is_empty() {
            self.report.warnings.push(FileError {
                file: file.clone(),
                error: "no usable \"affected\" entry; the advisory can never match".into(),
            });
        }
        match self.records.get(&record.id) {
            Some((m, _)) if *m >= modified => {
                self.report.duplicates += 1;
            }
            Some(_) => {
                self.report.duplicates += 1;
                self.records.insert(record.id.clone(), (modified, record));
            }
            None => {
                self.records.insert(record.id.clone(), (modified, record));
            }
        }
    }

    fn file(&mut self, path: &Path) {
        let name = path.display().to_string();
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".zip") {
            return self.zip(path);
        }
        if !lower.ends_with(".json") {
            self.report.ignored_files += 1;
            return;
        }
        match read_bounded(path) {
            Ok(bytes) => self.document(name, &bytes),
            Err(e) => self.error(name, e),
        }
    }

    fn zip(&mut self, path: &Path) {
        let name = path.display().to_string();
        let f = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => return self.error(name, e.to_string()),
        };
        let mut archive = match zip::ZipArchive::new(std::io::BufReader::new(f)) {
            Ok(a) => a,
            Err(e) => return self.error(name, format!("not a readable zip archive: {e}")),
        };
        if archive.len() > MAX_ZIP_MEMBERS {
            return self.error(
                name,
                format!(
                    "{} members, more than the limit of {MAX_ZIP_MEMBERS}",
                    archive.len()
                ),
            );
        }
        for i in 0..archive.len() {
            let mut member = match archive.by_index(i) {
                Ok(m) => m,
                Err(e) => {
                    self.error(format!("{name}: member #{i}"), format!("unreadable: {e}"));
                    continue;
                }
            };
            let mname = format!("{name}!{}", member.name());
            if member.is_dir() {
                continue;
            }
            if !member.name().to_ascii_lowercase().ends_with(".json") {
                self.report.ignored_files += 1;
                continue;
            }
            if member.size() > MAX_JSON_BYTES {
                self.error(
                    mname,
                    format!(
                        "{} bytes uncompressed, over the {MAX_JSON_BYTES}-byte limit",
                        member.size()
                    ),
                );
                continue;
            }
            let mut buf = Vec::new();
            match (&mut member).take(MAX_JSON_BYTES + 1).read_to_end(&mut buf) {
                Ok(_) if buf.len() as u64 > MAX_JSON_BYTES => {
                    self.error(
                        mname,
                        format!("over the {MAX_JSON_BYTES}-byte limit when decompressed"),
                    );
                }
                Ok(_) => self.document(mname, &buf),
                Err(e) => self.error(mname, format!("cannot decompress: {e}")),
            }
        }
    }

    fn dir(&mut self, path: &Path, depth: usize) {
        if depth > MAX_DEPTH {
            return self.error(
                path.display().to_string(),
                format!("nested deeper than {MAX_DEPTH} directories"),
            );
        }
        let entries = match std::fs::read_dir(path) {
            Ok(e) => e,
            Err(e) => return self.error(path.display().to_string(), e.to_string()),
        };
        let mut paths: Vec<PathBuf> = Vec::new();
        for e in entries {
            match e {
                Ok(e) => paths.push(e.path()),
                Err(e) => self.error(path.display().to_string(), e.to_string()),
            }
        }
        paths.sort();
        for p in paths {
            // Do not follow symlinked directories (loops); symlinked files are read.
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => self.dir(&p, depth + 1),
                Ok(m) if m.file_type().is_symlink() && p.is_dir() => {
                    self.report.ignored_files += 1;
                }
                Ok(_) => self.file(&p),
                Err(e) => self.error(p.display().to_string(), e.to_string()),
            }
        }
    }
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let len = f.metadata().map_err(|e| e.to_string())?.len();
    if len > MAX_JSON_BYTES {
        return Err(format!("{len} bytes, over the {MAX_JSON_BYTES}-byte limit"));
    }
    let mut buf = Vec::with_capacity(len as usize);
    f.take(MAX_JSON_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    if buf.len() as u64 > MAX_JSON_BYTES {
        return Err(format!("over the {MAX_JSON_BYTES}-byte limit"));
    }
    Ok(buf)
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Build a database in directory `db_dir` from `sources`.
pub(crate) fn run(db_dir: &Path, sources: &[PathBuf]) -> Result<ImportReport, DbError> {
    if sources.is_empty() {
        return Err(DbError::NoSources);
    }
    let started = std::time::Instant::now();
    let mut b = Builder {
        report: ImportReport::default(),
        records: HashMap::new(),
    };
    for src in sources {
        match std::fs::metadata(src) {
            Ok(m) if m.is_dir() => b.dir(src, 0),
            Ok(_) => {
                let lower = src.display().to_string().to_ascii_lowercase();
                if lower.ends_with(".zip") || lower.ends_with(".json") {
                    b.file(src);
                } else {
                    b.error(
                        src.display().to_string(),
                        "not a directory, .zip archive or .json file".into(),
                    );
                }
            }
            Err(e) => b.error(src.display().to_string(), e.to_string()),
        }
    }
    let Builder {
        mut report,
        records,
    } = b;
    if records.is_empty() {
        return Err(DbError::NothingImported {
            report: Box::new(report),
        });
    }
    // Deterministic output: records in id order.
    let mut recs: Vec<(i64, Record)> = records.into_values().collect();
    recs.sort_by(|a, b| a.1.id.cmp(&b.1.id));

    let mut index: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut per_ecosystem: BTreeMap<String, u64> = BTreeMap::new();
    let mut blob = Vec::new();
    let mut offsets = Vec::with_capacity(recs.len() + 1);
    let mut newest: Option<(String, i64)> = None;
    for (i, (modified, rec)) in recs.iter().enumerate() {
        let id = i as u32;
        offsets.push(blob.len() as u64);
        let bytes = postcard::to_allocvec(rec).map_err(|e| DbError::Format {
            path: db_dir.to_path_buf(),
            reason: format!("cannot encode {}: {e}", rec.id),
        })?;
        blob.extend_from_slice(&bytes);
        let mut ecos: Vec<&str> = Vec::new();
        for a in &rec.affected {
            let ids = index.entry(a.key.clone()).or_default();
            if ids.last() != Some(&id) {
                ids.push(id);
            }
            if !ecos.contains(&a.ecosystem.as_str()) {
                ecos.push(&a.ecosystem);
            }
        }
        for e in ecos {
            *per_ecosystem.entry(e.to_string()).or_default() += 1;
        }
        let newer = match &newest {
            Some((_, n)) => modified > n,
            None => true,
        };
        if *modified != i64::MIN && newer {
            newest = Some((rec.modified.clone().unwrap_or_default(), *modified));
        }
    }
    offsets.push(blob.len() as u64);
    let meta = Meta {
        imported_at: now_unix(),
        newest_modified: newest,
        advisories: recs.len() as u64,
        per_ecosystem: per_ecosystem.clone(),
        sources: sources.iter().map(|s| s.display().to_string()).collect(),
        index: index.into_iter().collect(),
        offsets,
    };
    let (path, size) = store::write(db_dir, &meta, &blob)?;
    report.imported = recs.len() as u64;
    report.packages = meta.index.len() as u64;
    report.per_ecosystem = per_ecosystem;
    report.db_path = path;
    report.db_size = size;
    report.elapsed = started.elapsed();
    Ok(report)
}
