//! Error types of the store: `OpenError` for opening a data directory, `StoreError` for
//! everything after. Handlers treat `StoreError` as an internal error (500) unless they
//! deliberately map one of its variants to a client error.

use std::path::PathBuf;
use std::sync::Arc;

/// Why a data directory could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process holds the directory's lock file. The message names the directory
    /// (and the holder's pid when it wrote one) because an operator reading it must know
    /// which `--data-dir` collides.
    #[error(
        "data directory {} is already in use by another kubecs process{}; only one process may use a data directory at a time",
        dir.display(),
        holder.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
    )]
    Locked { dir: PathBuf, holder: Option<u32> },
    #[error("cannot create or lock data directory {}: {source}", dir.display())]
    Io {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the sled database in {}: {source}", dir.display())]
    Sled {
        dir: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error("cannot recover the write-ahead log in {}: {source}", dir.display())]
    Log {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "data directory {} has store format version {found}, newer than this kubecs supports ({supported}); use a newer kubecs",
        dir.display()
    )]
    TooNew {
        dir: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("cannot migrate data directory {} from store format version {from}: {source}", dir.display())]
    Migration {
        dir: PathBuf,
        from: u32,
        #[source]
        source: StoreError,
    },
}

/// A failure of a read or write on an open store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    /// A stored record or key does not decode: a bug or disk corruption, never a client
    /// error.
    #[error("corrupt data in table {table} at key {key}: {reason}")]
    Corrupt {
        table: &'static str,
        key: String,
        reason: String,
    },
    #[error("cannot encode a record for table {table}: {source}")]
    Encode {
        table: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// The write-ahead log could not be written (or a logged write applied), so the write
    /// may not be durable and must not be acknowledged; the store refuses writes from
    /// then on.
    #[error("flush to disk failed, the write may not be durable: {0}")]
    Flush(Arc<str>),
    /// The committer is gone (the store is being dropped).
    #[error("the store is closed")]
    Closed,
    #[error("task definition family {0} has used every revision number")]
    RevisionsExhausted(String),
}
