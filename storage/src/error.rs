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
    /// The files hold something other than what was acknowledged: damaged, truncated,
    /// deleted or replaced. kubecs refuses to start rather than serve (and build on) a
    /// store that lost acknowledged writes; nothing was changed.
    #[error(
        "the store in {} is damaged: {what}. kubecs did not start and changed nothing, so no acknowledged write is lost or overwritten. Restore the data directory from a backup (or move it aside to start empty); the README's \"Durability\" section says what each file holds",
        dir.display()
    )]
    Damaged { dir: PathBuf, what: String },
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

impl OpenError {
    pub(crate) fn damaged(dir: &std::path::Path, what: impl Into<String>) -> OpenError {
        OpenError::Damaged {
            dir: dir.to_path_buf(),
            what: what.into(),
        }
    }

    /// A sled error at open: damage when sled says its files are corrupt.
    pub(crate) fn sled(dir: &std::path::Path, source: sled::Error) -> OpenError {
        match source {
            sled::Error::Corruption { .. } => OpenError::damaged(
                dir,
                format!("sled reports corruption in its files ({source})"),
            ),
            source => OpenError::Sled {
                dir: dir.to_path_buf(),
                source,
            },
        }
    }
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
    /// The write-ahead log could not be written (e.g. no space left on device): the write
    /// was not made and nothing acknowledged is lost; writes resume once the log can be
    /// written again (see `Health::Degraded`).
    #[error("the store cannot write its log: {0}")]
    Unavailable(Arc<str>),
    /// The store failed in a way that leaves its files' state unknown (see
    /// `Health::Failed`); writes are refused until the process restarts.
    #[error("the store has failed and must be restarted: {0}")]
    Failed(Arc<str>),
    /// A table of one region was used in a transaction of another (a bug of the caller).
    #[error("a table of region {table} was used in a transaction of region {transaction}")]
    WrongRegion { table: String, transaction: String },
    /// The committer is gone (the store is being dropped).
    #[error("the store is closed")]
    Closed,
    #[error("task definition family {0} has used every revision number")]
    RevisionsExhausted(String),
}
