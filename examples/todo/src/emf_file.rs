//! The local run's `metrics.emf`: EMF lines kept in memory and appended to the file once a
//! second (and at shutdown), so that a request costs no system call for its metrics.
//!
//! saas-metrics' EMF sink writes each flush with one `write_all` and then `flush`es its writer:
//! what Lambda needs, where stdout is read by CloudWatch after each invocation. A long-running
//! server writing to a file has no such deadline; per request, that write was the largest cost
//! of its metrics (docs/performance-todo.md). Here `write` appends to a buffer, `flush` leaves
//! it there, and [`EmfFile::write_out`] (the app's task, every [`WRITE_OUT`]; then
//! `App::shutdown` and the drop) appends the buffer to the file. A buffer past [`MAX_PENDING`]
//! is written out at once, so a burst never holds more than that in memory.

use std::fs::File;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How often buffered lines reach the file.
pub(crate) const WRITE_OUT: Duration = Duration::from_secs(1);

/// Buffered lines beyond this are written out with the write that passed it.
const MAX_PENDING: usize = 1 << 20;

/// A handle on the buffered file; clones share it.
#[derive(Debug, Clone)]
pub(crate) struct EmfFile(Arc<Mutex<Buffered>>);

#[derive(Debug)]
struct Buffered {
    file: File,
    pending: Vec<u8>,
}

impl EmfFile {
    /// Appends to `file` (opened for appending).
    pub(crate) fn new(file: File) -> EmfFile {
        EmfFile(Arc::new(Mutex::new(Buffered {
            file,
            pending: Vec::new(),
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Buffered> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends the buffered lines to the file. On an error they stay buffered for the next
    /// attempt (a partial write is not repeated: `write_all` reports how far it got only by
    /// failing, so a line may then appear twice, never half).
    pub(crate) fn write_out(&self) -> io::Result<()> {
        let mut buffered = self.lock();
        buffered.write_out()
    }

    /// Writes out every [`WRITE_OUT`] for as long as the returned task runs.
    pub(crate) fn spawn_writer(&self) -> tokio::task::JoinHandle<()> {
        let file = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(WRITE_OUT);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                // A write to the page cache: short enough for a runtime thread.
                if let Err(e) = file.write_out() {
                    tracing::warn!(error = %e, "metrics.emf not written yet; kept for the next try");
                }
            }
        })
    }
}

impl Buffered {
    fn write_out(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.pending)?;
        self.pending.clear();
        Ok(())
    }
}

/// The last handle gone (the router outlives the `App`): what is left reaches the file.
impl Drop for Buffered {
    fn drop(&mut self) {
        if let Err(e) = self.write_out() {
            tracing::warn!(error = %e, "metrics.emf: buffered lines lost");
        }
    }
}

impl Write for EmfFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut buffered = self.lock();
        buffered.pending.extend_from_slice(buf);
        if buffered.pending.len() > MAX_PENDING {
            buffered.write_out()?;
        }
        Ok(buf.len())
    }

    /// Leaves the lines buffered: [`EmfFile::write_out`] writes them.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_reach_the_file_when_written_out_and_not_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.emf");
        let open = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .unwrap()
        };
        let emf = EmfFile::new(open());
        let mut writer = emf.clone();
        writer.write_all(b"{\"a\":1}\n").unwrap();
        writer.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        emf.write_out().unwrap();
        writer.write_all(b"{\"b\":2}\n").unwrap();
        emf.write_out().unwrap();
        emf.write_out().unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"b\":2}\n"
        );
    }

    #[test]
    fn a_burst_past_the_bound_is_written_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.emf");
        let file = std::fs::File::create(&path).unwrap();
        let mut emf = EmfFile::new(file);
        let line = vec![b'x'; 1000];
        for _ in 0..=MAX_PENDING / 1000 {
            emf.write_all(&line).unwrap();
        }
        let on_disk = std::fs::metadata(&path).unwrap().len() as usize;
        assert!(on_disk > MAX_PENDING, "{on_disk} bytes on disk");
        assert!(emf.lock().pending.is_empty());
    }
}
