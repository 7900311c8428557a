//! Reading processes from a `/proc` tree, for seeding the process table at start.
//!
//! The root directory is a parameter ([`ProcFs::new`]) so tests point it at fixture trees
//! under `tests/fixtures/`. The text parsers ([`parse_stat`], [`parse_status`]) are pure and
//! never panic on malformed input: a process file is written by the kernel, but the `comm`
//! inside `stat` is chosen by the process (it may hold `)`, spaces or newlines), so the stat
//! parser splits at the *last* `)`.
//!
//! We rejected the `procfs` crate: it parses far more than we need, allocates a struct per
//! file with every field, and its root is fixed to `/proc` in most entry points.

use crate::error::StateError;
use std::fs;
use std::path::{Path, PathBuf};
use vigil_event::Process;

/// Byte limits for strings copied into process records (the table keeps one per process, so
/// an attacker with long argv/env must not be able to grow memory without bound).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Total bytes of `argv[1..]` kept per process.
    pub args_bytes: usize,
    /// Total bytes of environment kept per process.
    pub env_bytes: usize,
    /// Bytes of any single path (exe, exepath, cwd).
    pub path_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            args_bytes: 4096,
            env_bytes: 2048,
            path_bytes: 4096,
        }
    }
}

/// The fields of `/proc/<pid>/stat` vigil uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    pub pid: u32,
    pub comm: String,
    pub state: char,
    pub ppid: u32,
    pub pgrp: u32,
    pub session: u32,
    /// Field 7: controlling terminal device number.
    pub tty_nr: u32,
    /// Field 22: start time in clock ticks after boot.
    pub starttime_ticks: u64,
}

/// Parses `/proc/<pid>/stat`.
pub fn parse_stat(text: &str) -> Result<Stat, String> {
    let open = text.find('(').ok_or("no '(' before comm")?;
    let close = text.rfind(')').ok_or("no ')' after comm")?;
    if close < open {
        return Err("')' before '('".into());
    }
    let pid = text[..open]
        .trim()
        .parse::<u32>()
        .map_err(|_| format!("bad pid {:?}", text[..open].trim()))?;
    let comm = text[open + 1..close].to_string();
    let rest: Vec<&str> = text[close + 1..].split_ascii_whitespace().collect();
    let field = |i: usize, name: &str| -> Result<i64, String> {
        let s = rest
            .get(i)
            .ok_or_else(|| format!("missing field {} ({name})", i + 3))?;
        s.parse::<i64>()
            .map_err(|_| format!("field {} ({name}) is not a number: {s:?}", i + 3))
    };
    let state = rest
        .first()
        .and_then(|s| s.chars().next())
        .ok_or("missing state field")?;
    Ok(Stat {
        pid,
        comm,
        state,
        ppid: field(1, "ppid")? as u32,
        pgrp: field(2, "pgrp")? as u32,
        session: field(3, "session")? as u32,
        tty_nr: field(4, "tty_nr")? as u32,
        starttime_ticks: field(19, "starttime")? as u64,
    })
}

/// The fields of `/proc/<pid>/status` vigil uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// Real, effective, saved, filesystem uid.
    pub uid: [u32; 4],
    pub gid: [u32; 4],
    pub cap_inh: u64,
    pub cap_prm: u64,
    pub cap_eff: u64,
    /// Pid in the innermost pid namespace (last `NSpid` column); 0 if absent.
    pub vpid: u32,
    /// Process group in the innermost pid namespace (last `NSpgid` column).
    pub vpgid: u32,
}

/// Parses `/proc/<pid>/status`. Lines vigil does not use are ignored; a used line that is
/// malformed is an error naming the line.
pub fn parse_status(text: &str) -> Result<Status, String> {
    let mut st = Status::default();
    let mut seen_uid = false;
    for (n, line) in text.lines().enumerate() {
        let Some((key, val)) = line.split_once(':') else {
            continue;
        };
        let val = val.trim();
        let bad = |what: &str| format!("line {}: bad {key} value {val:?} ({what})", n + 1);
        match key {
            "Uid" | "Gid" => {
                let mut ids = [0u32; 4];
                let mut it = val.split_ascii_whitespace();
                for slot in ids.iter_mut() {
                    *slot = it
                        .next()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| bad("expected 4 ids"))?;
                }
                if key == "Uid" {
                    st.uid = ids;
                    seen_uid = true;
                } else {
                    st.gid = ids;
                }
            }
            "CapInh" | "CapPrm" | "CapEff" => {
                let v = u64::from_str_radix(val, 16).map_err(|_| bad("expected hex"))?;
                match key {
                    "CapInh" => st.cap_inh = v,
                    "CapPrm" => st.cap_prm = v,
                    _ => st.cap_eff = v,
                }
            }
            "NSpid" | "NSpgid" => {
                let last = val
                    .split_ascii_whitespace()
                    .last()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| bad("expected pids"))?;
                if key == "NSpid" {
                    st.vpid = last;
                } else {
                    st.vpgid = last;
                }
            }
            _ => {}
        }
    }
    if !seen_uid {
        return Err("no Uid line".into());
    }
    Ok(st)
}

/// Splits a NUL-separated buffer (cmdline, environ) into strings, keeping at most `max_bytes`
/// of content in total; the rest is dropped (the caller's limit, documented per field).
pub fn split_nul(buf: &[u8], max_bytes: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut used = 0usize;
    for part in buf.split(|b| *b == 0) {
        if part.is_empty() {
            continue;
        }
        // Invalid UTF-8 grows when replaced, so the limit applies to the converted text.
        let s = String::from_utf8_lossy(part);
        if used + s.len() > max_bytes {
            let room = max_bytes.saturating_sub(used);
            if room > 0 {
                out.push(truncate_utf8(&s, room));
            }
            break;
        }
        used += s.len();
        out.push(s.into_owned());
    }
    out
}

/// `s` cut to at most `max` bytes at a character boundary.
pub fn truncate_utf8(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// A `/proc` tree at some root.
#[derive(Clone, Debug)]
pub struct ProcFs {
    root: PathBuf,
    /// Boot time, ns since the epoch (from `btime` in `<root>/stat`).
    boot_time_ns: u64,
    clk_tck: u64,
    limits: Limits,
}

/// The kernel's clock tick rate (`USER_HZ`).
pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions; it only reads a constant of the C library.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

impl ProcFs {
    /// Opens the tree at `root` (normally `/proc`), reading the boot time from `root/stat`.
    pub fn new(root: &Path, clk_tck: u64, limits: Limits) -> Result<ProcFs, StateError> {
        let stat_path = root.join("stat");
        let text = fs::read_to_string(&stat_path).map_err(|e| StateError::io(&stat_path, e))?;
        let btime = text
            .lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .ok_or_else(|| StateError::Parse {
                path: stat_path.clone(),
                line: 0,
                msg: "no valid `btime` line".into(),
            })?;
        Ok(ProcFs {
            root: root.to_path_buf(),
            boot_time_ns: btime.saturating_mul(1_000_000_000),
            clk_tck: clk_tck.max(1),
            limits,
        })
    }

    /// The root this tree was opened at.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Boot time in ns since the epoch.
    pub fn boot_time_ns(&self) -> u64 {
        self.boot_time_ns
    }

    /// The numeric entries of the root: every thread-group id.
    pub fn pids(&self) -> Result<Vec<u32>, StateError> {
        let rd = fs::read_dir(&self.root).map_err(|e| StateError::io(&self.root, e))?;
        let mut pids: Vec<u32> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
            .collect();
        pids.sort_unstable();
        Ok(pids)
    }

    /// The text of `/proc/<pid>/cgroup`.
    pub fn cgroup_text(&self, pid: u32) -> Result<String, StateError> {
        let p = self.root.join(pid.to_string()).join("cgroup");
        fs::read_to_string(&p).map_err(|e| StateError::io(&p, e))
    }

    /// Reads one process. `stat` and `status` are required (a process without them is gone
    /// or the tree is broken); the other files are best effort, because kernel threads and
    /// processes of other users legitimately lack them (empty `cmdline`, unreadable `exe`).
    pub fn read_process(&self, pid: u32) -> Result<Process, StateError> {
        let dir = self.root.join(pid.to_string());
        let read_text = |name: &str| -> Result<String, StateError> {
            let p = dir.join(name);
            fs::read_to_string(&p).map_err(|e| StateError::io(&p, e))
        };
        let stat_path = dir.join("stat");
        let stat = parse_stat(&read_text("stat")?).map_err(|msg| StateError::Parse {
            path: stat_path,
            line: 1,
            msg,
        })?;
        let status_path = dir.join("status");
        let status = parse_status(&read_text("status")?).map_err(|msg| StateError::Parse {
            path: status_path,
            line: 0,
            msg,
        })?;
        let lim = self.limits;
        let cmdline = fs::read(dir.join("cmdline")).unwrap_or_default();
        let mut argv = split_nul(&cmdline, lim.args_bytes + lim.path_bytes);
        let exe = if argv.is_empty() {
            String::new()
        } else {
            truncate_utf8(&argv.remove(0), lim.path_bytes)
        };
        let args = {
            let joined: Vec<u8> = argv.join("\0").into_bytes();
            split_nul(&joined, lim.args_bytes)
        };
        let link = |name: &str| -> String {
            fs::read_link(dir.join(name))
                .map(|p| truncate_utf8(&p.to_string_lossy(), lim.path_bytes))
                .unwrap_or_default()
        };
        let exepath = link("exe");
        let mut cwd = link("cwd");
        if !cwd.is_empty() && !cwd.ends_with('/') {
            cwd.push('/');
        }
        let env = fs::read(dir.join("environ"))
            .map(|b| split_nul(&b, lim.env_bytes))
            .unwrap_or_default();
        let loginuid = read_text("loginuid")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .unwrap_or(u32::MAX);
        let start_ts = self
            .boot_time_ns
            .saturating_add(stat.starttime_ticks.saturating_mul(1_000_000_000) / self.clk_tck);
        Ok(Process {
            pid,
            ppid: stat.ppid,
            vpid: if status.vpid == 0 { pid } else { status.vpid },
            sid: stat.session,
            pgid: stat.pgrp,
            vpgid: if status.vpgid == 0 {
                stat.pgrp
            } else {
                status.vpgid
            },
            comm: stat.comm,
            exe,
            exepath,
            args,
            cwd,
            env,
            uid: status.uid[0],
            gid: status.gid[0],
            euid: status.uid[1],
            egid: status.gid[1],
            loginuid,
            tty: stat.tty_nr,
            cap_effective: status.cap_eff,
            cap_permitted: status.cap_prm,
            cap_inheritable: status.cap_inh,
            start_ts,
            exec_ts: start_ts,
            ..Process::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_hostile_comm() {
        let s = parse_stat(
            "42 (a) b (c) S 1 42 42 34816 42 4194560 1 2 3 4 5 6 7 8 20 0 1 0 12345 0 0",
        )
        .unwrap();
        assert_eq!(s.comm, "a) b (c");
        assert_eq!((s.ppid, s.pgrp, s.session, s.tty_nr), (1, 42, 42, 34816));
        assert_eq!(s.starttime_ticks, 12345);
        assert_eq!(s.state, 'S');
        assert!(parse_stat("42 (x) S 1 2")
            .unwrap_err()
            .contains("field 6 (session)"));
        assert!(parse_stat("").is_err());
        assert!(parse_stat("x (y) S 1 2 3 4")
            .unwrap_err()
            .contains("bad pid"));
        assert!(parse_stat(")(").is_err());
    }

    #[test]
    fn status_fields() {
        let text = "Name:\tcat\nUid:\t1000\t1001\t1002\t1003\nGid:\t5\t6\t7\t8\nNSpid:\t19087\t7\nNSpgid:\t18772\t1\nCapInh:\t0000000000000000\nCapPrm:\t000001fffeffffff\nCapEff:\t00000000a80425fb\n";
        let s = parse_status(text).unwrap();
        assert_eq!(s.uid, [1000, 1001, 1002, 1003]);
        assert_eq!(s.gid, [5, 6, 7, 8]);
        assert_eq!((s.vpid, s.vpgid), (7, 1));
        assert_eq!(s.cap_prm, 0x1fffeffffff);
        assert_eq!(s.cap_eff, 0xa80425fb);
        let err = parse_status("Uid:\t1 2\n").unwrap_err();
        assert!(err.contains("line 1") && err.contains("Uid"), "{err}");
        assert!(parse_status("CapEff:\tzz\nUid:\t0 0 0 0\n")
            .unwrap_err()
            .contains("hex"));
        assert_eq!(parse_status("Name: x\n").unwrap_err(), "no Uid line");
    }

    #[test]
    fn nul_split_is_bounded() {
        assert_eq!(split_nul(b"ls\0-l\0/tmp\0", 100), ["ls", "-l", "/tmp"]);
        assert_eq!(split_nul(b"abc\0defgh\0", 6), ["abc", "def"]);
        assert_eq!(split_nul(b"", 6), Vec::<String>::new());
        assert_eq!(truncate_utf8("héllo", 2), "h");
    }
}
