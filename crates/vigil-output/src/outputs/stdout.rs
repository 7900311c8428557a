//! Standard output, Falco text (`HH:MM:SS.nnnnnnnnn: Priority output`) or Falco JSON lines.
//!
//! A batch is formatted into one reused buffer and written with one `write_all`, so the line
//! buffering of `std::io::Stdout` costs one syscall per batch, not per alert. Rejected: a
//! `BufWriter` around `Stdout`, which double-buffers and still flushes per line.

use super::{Record, Sink, SinkError};
use crate::config::Format;
use std::io::{self, Write};

/// Writes to any `Write` (stdout in production, a file or `Vec` in tests and the benchmark).
pub struct StdoutSink {
    out: Box<dyn Write + Send>,
    format: Format,
    buf: Vec<u8>,
}

impl StdoutSink {
    pub fn new(format: Format) -> Self {
        Self::with_writer(format, Box::new(io::stdout()))
    }

    pub fn with_writer(format: Format, out: Box<dyn Write + Send>) -> Self {
        StdoutSink {
            out,
            format,
            buf: Vec::with_capacity(64 * 1024),
        }
    }
}

impl Sink for StdoutSink {
    fn write(&mut self, rec: &Record) -> Result<(), SinkError> {
        match self.format {
            Format::Json => self.buf.extend_from_slice(rec.json.as_bytes()),
            Format::Text => {
                let a = &rec.alert;
                let _ = write!(
                    self.buf,
                    "{}: {} {}",
                    vigil_event::alert::format_time_of_day(a.time),
                    a.priority,
                    a.output
                );
            }
        }
        self.buf.push(b'\n');
        if self.buf.len() >= 60 * 1024 {
            return self.flush();
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let r = self.out.write_all(&self.buf).and_then(|_| self.out.flush());
        self.buf.clear();
        match r {
            Ok(()) => Ok(()),
            // A closed pipe will not reopen: drop (counted) rather than retry forever.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                Err(SinkError::Reject(format!("stdout: {e}")))
            }
            Err(e) => Err(SinkError::Retry(format!("stdout: {e}"))),
        }
    }
}
