//! Logging: `tracing` to stderr, as text or JSON, filtered by `RUST_LOG` (default info).
//!
//! Every request logs one access-log line. Writing each line to stderr as it happens was
//! a `write` system call per request, a measurable share of a request's CPU under load
//! (bench/JOURNAL.md). Lines are therefore appended to a shared buffer and written by a
//! background thread in batches: every [`FLUSH_INTERVAL`], sooner when the buffer grows
//! past [`FLUSH_BYTES`], and on shutdown (the guard returned by [`init`]). A process
//! killed with SIGKILL loses at most the last interval's lines.

use crate::config::LogFormat;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// How long a log line may wait in the buffer.
const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
/// Buffered bytes that trigger an early write.
const FLUSH_BYTES: usize = 256 * 1024;
/// Buffered bytes past which new lines are dropped (and counted) rather than kept: when
/// stderr blocks (a pipe nobody reads), the log must not grow the process without bound.
/// Before batching, a blocked stderr blocked the requests instead.
const MAX_BUFFERED_BYTES: usize = 8 * 1024 * 1024;

#[derive(Default)]
struct Shared {
    buffer: Mutex<Buffer>,
    wake: Condvar,
}

#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    /// Lines refused since the last drain because the buffer was full.
    dropped: u64,
    stopping: bool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Buffer> {
        // Appends and swaps are single operations: a poisoned buffer is still whole lines.
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes out whatever is buffered, and how many lines were dropped.
    fn drain(&self) {
        let (mut bytes, dropped) = {
            let mut buffer = self.lock();
            (
                std::mem::take(&mut buffer.bytes),
                std::mem::take(&mut buffer.dropped),
            )
        };
        if dropped > 0 {
            let note = format!("kubecs: {dropped} log lines dropped: stderr was not keeping up\n");
            bytes.extend_from_slice(note.as_bytes());
        }
        if !bytes.is_empty() {
            let mut stderr = std::io::stderr().lock();
            // Nowhere to report a failed write to stderr; the lines are lost either way.
            let _ = stderr.write_all(&bytes);
            let _ = stderr.flush();
        }
    }
}

/// The `MakeWriter` handed to tracing: each event's formatted line is appended whole.
#[derive(Clone)]
struct BatchedStderr(Arc<Shared>);

impl Write for BatchedStderr {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut buffer = self.0.lock();
        if buffer.bytes.len() + line.len() > MAX_BUFFERED_BYTES {
            buffer.dropped += 1;
            return Ok(line.len());
        }
        buffer.bytes.extend_from_slice(line);
        if buffer.bytes.len() >= FLUSH_BYTES {
            self.0.wake.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedStderr {
    type Writer = BatchedStderr;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Writes the buffered log when dropped (keep it alive in `main`) or when told to.
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LogGuard {
    /// Writes everything logged so far (e.g. before printing a fatal error directly).
    pub fn flush(&self) {
        self.shared.drain();
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.shared.drain();
    }
}

fn writer_loop(shared: &Shared) {
    loop {
        {
            let buffer = shared.lock();
            let (buffer, _) = shared
                .wake
                .wait_timeout_while(buffer, FLUSH_INTERVAL, |b| {
                    !b.stopping && b.bytes.len() < FLUSH_BYTES
                })
                .unwrap_or_else(PoisonError::into_inner);
            if buffer.stopping {
                return;
            }
        }
        shared.drain();
    }
}

/// Installs the global subscriber. A second call (tests embedding the server) keeps the
/// first subscriber; the returned guard then has nothing to write.
pub fn init(format: LogFormat) -> LogGuard {
    let shared = Arc::new(Shared::default());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(BatchedStderr(Arc::clone(&shared)))
        // Colours only on a terminal: a log file or collector got escape codes in every
        // field of every access-log line, and writing them was measurable CPU per request.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    }
    .is_ok();
    let thread = installed
        .then(|| {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("kubecs-log".into())
                .spawn(move || writer_loop(&shared))
                .ok()
        })
        .flatten();
    if installed && thread.is_none() {
        // Without the thread, lines would only appear at exit; say so, then carry on.
        eprintln!("kubecs: cannot start the log writer thread; log lines are written at exit");
    }
    LogGuard { shared, thread }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_buffered_whole_and_drained_in_order() {
        let shared = Arc::new(Shared::default());
        let mut writer = BatchedStderr(Arc::clone(&shared));
        writer.write_all(b"first line\n").unwrap();
        writer.write_all(b"second line\n").unwrap();
        assert_eq!(shared.lock().bytes, b"first line\nsecond line\n");
        shared.drain();
        assert!(shared.lock().bytes.is_empty());
    }

    #[test]
    fn a_full_buffer_drops_and_counts_lines_instead_of_growing() {
        let shared = Arc::new(Shared::default());
        let mut writer = BatchedStderr(Arc::clone(&shared));
        let line = vec![b'x'; 1024];
        for _ in 0..(MAX_BUFFERED_BYTES / 1024 + 10) {
            writer.write_all(&line).unwrap();
        }
        let buffer = shared.lock();
        assert!(buffer.bytes.len() <= MAX_BUFFERED_BYTES);
        assert_eq!(buffer.dropped, 10);
    }

    #[test]
    fn the_writer_thread_drains_within_the_interval_and_stops_with_its_guard() {
        let shared = Arc::new(Shared::default());
        let thread_shared = Arc::clone(&shared);
        let guard = LogGuard {
            shared: Arc::clone(&shared),
            thread: Some(std::thread::spawn(move || writer_loop(&thread_shared))),
        };
        BatchedStderr(Arc::clone(&shared))
            .write_all(b"kubecs telemetry test line\n")
            .unwrap();
        let deadline = std::time::Instant::now() + FLUSH_INTERVAL * 40;
        while !shared.lock().bytes.is_empty() {
            assert!(std::time::Instant::now() < deadline, "never drained");
            std::thread::sleep(FLUSH_INTERVAL / 5);
        }
        drop(guard); // joins the thread: hangs here if stopping were ignored
    }
}
