//! Pipes Falco JSON lines into a long-running command's stdin (`/bin/sh -c COMMAND`),
//! respawning it when it exits or its pipe breaks.
//!
//! The child's stdout goes to /dev/null so it cannot corrupt vigil's own stdout stream; its
//! stderr is inherited for diagnostics. Delivery is best-effort: lines in the pipe buffer when
//! the child dies are lost, which is why this output has no spill. Rejected: one process per
//! alert (Falco's `program_output` with `keep_alive: false`): a fork+exec per alert caps
//! throughput at a few thousand per second.

use super::{Record, Sink, SinkError};
use std::io::Write;
use std::process::{Child, ChildStdin, Command, Stdio};

pub struct ProgramSink {
    command: String,
    child: Option<(Child, ChildStdin)>,
    buf: Vec<u8>,
    /// How many times the command was (re)started.
    pub spawns: u64,
}

impl ProgramSink {
    pub fn new(command: &str) -> Self {
        ProgramSink {
            command: command.to_string(),
            child: None,
            buf: Vec::with_capacity(64 * 1024),
            spawns: 0,
        }
    }

    fn ensure(&mut self) -> Result<(), SinkError> {
        if let Some((c, _)) = self.child.as_mut() {
            if let Ok(Some(_)) = c.try_wait() {
                self.child = None;
            }
        }
        if self.child.is_none() {
            let mut c = Command::new("/bin/sh")
                .arg("-c")
                .arg(&self.command)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| SinkError::Retry(format!("spawn '{}': {e}", self.command)))?;
            let stdin = c
                .stdin
                .take()
                .ok_or_else(|| SinkError::Retry("child has no stdin".into()))?;
            self.spawns += 1;
            self.child = Some((c, stdin));
        }
        Ok(())
    }

    fn kill(&mut self) {
        if let Some((mut c, stdin)) = self.child.take() {
            drop(stdin);
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Sink for ProgramSink {
    fn write(&mut self, rec: &Record) -> Result<(), SinkError> {
        self.buf.extend_from_slice(rec.json.as_bytes());
        self.buf.push(b'\n');
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let r = self.ensure().and_then(|_| match self.child.as_mut() {
            Some((_, stdin)) => stdin
                .write_all(&self.buf)
                .and_then(|_| stdin.flush())
                .map_err(|e| SinkError::Retry(format!("write to '{}': {e}", self.command))),
            None => Err(SinkError::Retry("no child".into())),
        });
        self.buf.clear();
        if r.is_err() {
            self.kill();
        }
        r
    }
}

impl Drop for ProgramSink {
    fn drop(&mut self) {
        // Close stdin so the child sees EOF and can finish; then reap it.
        if let Some((mut c, stdin)) = self.child.take() {
            drop(stdin);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
            loop {
                match c.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if std::time::Instant::now() >= deadline => {
                        let _ = c.kill();
                        let _ = c.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(std::time::Duration::from_millis(10)),
                }
            }
        }
    }
}
