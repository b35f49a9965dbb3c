//! One process per data directory: an exclusive advisory lock on `<dir>/kubecs.lock`.
//! Also: waiting, at open, until a sled instance this process dropped has let go of its
//! own lock (see [`wait_for_sled_release`]).
//!
//! sled locks its own files too, but its error ("could not acquire lock on ...db") names a
//! file inside the directory and says nothing about another kubecs; ours fails first, with
//! a message naming the directory and the pid that holds it. `flock` locks belong to the
//! open file description, so a second open in the same process fails as well, and the
//! kernel drops the lock when the process dies (even on `kill -9`): no stale lock files.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fs2::FileExt;

use crate::error::OpenError;

pub(crate) const LOCK_FILE: &str = "kubecs.lock";

/// Holds the lock for as long as it lives.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

impl DirLock {
    pub(crate) fn acquire(dir: &Path) -> Result<DirLock, OpenError> {
        let io = |source| OpenError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        let path: PathBuf = dir.join(LOCK_FILE);
        // Not truncating on open: the holder's pid must survive our failed attempt.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        if file.try_lock_exclusive().is_err() {
            let mut content = String::new();
            let holder = file
                .read_to_string(&mut content)
                .ok()
                .and_then(|_| content.trim().parse().ok());
            return Err(OpenError::Locked {
                dir: dir.to_path_buf(),
                holder,
            });
        }
        // The pid is only informational (for the error above), so a failure to write it
        // is not a reason to refuse to start.
        let _ = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()));
        Ok(DirLock { _file: file })
    }
}

/// How long `open` waits for a previous sled instance of this process to let go of its
/// files before it lets sled report the lock itself.
const SLED_RELEASE_WAIT: Duration = Duration::from_secs(10);

/// Waits until no one holds sled's own lock on `<sled_dir>/db`, for at most
/// [`SLED_RELEASE_WAIT`].
///
/// Called with the [`DirLock`] held, so no other kubecs holds the directory. But dropping
/// a `sled::Db` does not close its files at once: sled's I/O pool threads keep the log
/// (and the `flock` on it) until their last write is done, so a store reopened in the same
/// process right after being dropped (a restart in tests, an embedding that reopens) would
/// fail with sled's "could not acquire lock". sled's own test build blocks on that lock for
/// this reason. We wait here with a lock of our own on a separate open file description,
/// released before sled opens: nothing else in the process takes it in between.
pub(crate) fn wait_for_sled_release(sled_dir: &Path) {
    // Read-only: `flock` needs no write access, and this must not touch sled's file.
    let Ok(file) = File::open(sled_dir.join("db")) else {
        // No database yet (first start) or unreadable: sled will create it or say why.
        return;
    };
    let deadline = Instant::now() + SLED_RELEASE_WAIT;
    loop {
        if file.try_lock_exclusive().is_ok() {
            // Closing the file (on return) releases it; unlock explicitly all the same.
            let _ = FileExt::unlock(&file);
            return;
        }
        if Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
