//! One process per data directory: an exclusive advisory lock on `<dir>/kubecs.lock`.
//!
//! sled locks its own files too, but its error ("could not acquire lock on ...db") names a
//! file inside the directory and says nothing about another kubecs; ours fails first, with
//! a message naming the directory and the pid that holds it. `flock` locks belong to the
//! open file description, so a second open in the same process fails as well, and the
//! kernel drops the lock when the process dies (even on `kill -9`): no stale lock files.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

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
