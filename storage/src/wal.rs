//! The write-ahead log: how a write becomes durable, and how damage is told apart from a
//! crash.
//!
//! Every write is one log record: its log sequence number (LSN), the store's digest once
//! the record is applied (see `digest`), and the keys it sets or removes, in any of the
//! store's trees. The committer (`durability`) appends records to the current segment,
//! makes them durable with one `fdatasync` per group of waiting writers, and only then
//! applies them to sled. So sled never holds a write the log does not, and sled is never
//! flushed on a write's path: it persists on its own, in the background, and at
//! checkpoints.
//!
//! Why a log of our own rather than sled's flush: sled's recovery treats any damaged
//! message in its files as the end of its log and silently drops everything after it, so
//! with sled alone a flipped byte would lose acknowledged writes without a word. The log
//! is the witness of what was acknowledged: its records carry the digest the store must
//! have after them, and `Store::open` refuses a sled that does not match.
//!
//! A *checkpoint* records an LSN (and the digest at it) whose writes, and all before it,
//! sled holds on disk: sled is flushed first, then the segment for the next records is
//! created, then `wal/checkpoint` is written (a temporary file, synced, renamed, the
//! directory synced), then older segments are deleted. Recovery ([`recover`]) replays
//! every record after the checkpoint onto sled, in order, which gives exactly the state
//! of the log's last durable record whatever part of the later records sled had persisted
//! on its own: a record sets keys to values (or removes them).
//!
//! What recovery accepts, after etcd's WAL:
//! - The segments after the checkpoint form one chain: the first starts at the LSN after
//!   the checkpoint, each next one at the LSN after the previous one's last record.
//! - Only the last segment may end in a *torn* record, one the process was writing when it
//!   died: cut short by the end of the file, or holding a zero-filled 512-byte sector (a
//!   page the kernel never wrote). It was never acknowledged; it is cut off.
//! - Anything else (a record that fails its checksum whole, a gap in the numbers, a
//!   missing segment or checkpoint) is damage: recovery refuses, naming the file and the
//!   offset, and changes nothing.
//!
//! On disk, `wal/<first LSN, 20 digits>.log` segments hold records back to back:
//! `[payload length: u32 LE][CRC-32 of payload: u32 LE][payload]`, and a payload is
//! `[lsn: u64 LE][digest: u64 LE][op count: u32 LE]` then per op `[tree: u8 (the
//! TableId's discriminant, so `TableId`'s order is part of this format)][0 = put,
//! 1 = remove][key length: u32 LE][key]` and, for a put, `[value length: u32 LE][value]`.
//! `wal/checkpoint` is `[lsn: u64 LE][digest: u64 LE][CRC-32 of both: u32 LE]`.
//! (Store format 3 had no digests; `v3` reads its log once, to migrate it.)

use std::fs::{File, OpenOptions};
use std::io::{self, Seek as _, Write as _};
use std::path::{Path, PathBuf};

use sled::IVec;

use crate::feed::TableId;

/// Subdirectory of the data directory that holds the log.
pub(crate) const WAL_DIR: &str = "wal";
pub(crate) const CHECKPOINT_FILE: &str = "checkpoint";
const SEGMENT_SUFFIX: &str = ".log";
const HEADER_LEN: usize = 8;
/// A payload length above this in a header is a torn or corrupt header, not a record (a
/// record holds a few KiB of JSON; ECS request bodies are far smaller than this).
const MAX_PAYLOAD: usize = 64 << 20;
/// The unit a torn write leaves zero-filled.
const SECTOR: usize = 512;

/// One change to one key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Op {
    pub(crate) table: TableId,
    pub(crate) key: Vec<u8>,
    /// `None` removes the key.
    pub(crate) value: Option<IVec>,
}

/// Appends one record to `out`.
pub(crate) fn encode_record(lsn: u64, digest: u64, ops: &[Op], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    out.extend_from_slice(&lsn.to_le_bytes());
    out.extend_from_slice(&digest.to_le_bytes());
    out.extend_from_slice(&len32(ops.len()).to_le_bytes());
    for op in ops {
        out.push(op.table as u8);
        out.push(u8::from(op.value.is_none()));
        out.extend_from_slice(&len32(op.key.len()).to_le_bytes());
        out.extend_from_slice(&op.key);
        if let Some(value) = &op.value {
            out.extend_from_slice(&len32(value.len()).to_le_bytes());
            out.extend_from_slice(value);
        }
    }
    let payload = &out[start + HEADER_LEN..];
    let len = len32(payload.len()).to_le_bytes();
    let crc = crc32fast::hash(payload).to_le_bytes();
    out[start..start + 4].copy_from_slice(&len);
    out[start + 4..start + HEADER_LEN].copy_from_slice(&crc);
}

/// Lengths in records are u32. Keys and values are bounded far below that by the HTTP
/// body limit, so saturating never changes a real length; a saturated one would fail the
/// reader's checks rather than be misread.
fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A record read back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub(crate) lsn: u64,
    /// The store's digest once this record is applied (`None` in a format-3 log).
    pub(crate) digest: Option<u64>,
    pub(crate) ops: Vec<Op>,
}

/// The record layouts: this build's, and format 3's (no digest), read once to migrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Current,
    V3,
}

/// How the bytes of a segment end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    /// Every byte is part of a valid record.
    Clean,
    /// A record was being written when the process died: from `at` on, nothing counts.
    Torn { at: usize },
    /// A complete record at `at` fails its checks: damage, not a crash.
    Damaged { at: usize },
}

/// Reads the records of a segment: the valid ones, and how the bytes end.
pub(crate) fn decode_records(bytes: &[u8], layout: Layout) -> (Vec<Record>, Tail) {
    let mut records: Vec<Record> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match decode_one(&bytes[at..], layout) {
            Some((record, len)) => {
                records.push(record);
                at += len;
            }
            None => {
                let after = records.last().map_or(0, |r| r.lsn);
                let tail = if is_torn(bytes, at, after, layout) {
                    Tail::Torn { at }
                } else {
                    Tail::Damaged { at }
                };
                return (records, tail);
            }
        }
    }
    (records, Tail::Clean)
}

/// Whether the invalid record at `at` is one a crash can leave rather than damage. In
/// this order:
/// 1. A sector it spans is zero-filled: a page of the last write the kernel never wrote
///    (pages of one write reach the disk in any order). A flipped byte cannot do that.
/// 2. A valid later record follows it: the record was written whole and damaged since.
/// 3. It runs past the end of the file: the write was cut short.
/// 4. Otherwise it was written whole and fails its checksum: damage.
///
/// A cut at a record boundary leaves no trace at all; `Store::open`'s digest check
/// catches it whenever sled already holds the lost records.
fn is_torn(bytes: &[u8], at: usize, after_lsn: u64, layout: Layout) -> bool {
    let header = &bytes[at..bytes.len().min(at + HEADER_LEN)];
    let claimed = match header {
        [a, b, c, d, ..] => u32::from_le_bytes([*a, *b, *c, *d]) as usize,
        _ => usize::MAX,
    };
    let end = at.saturating_add(HEADER_LEN).saturating_add(claimed);
    if has_zero_sector(bytes, at, end.min(bytes.len())) {
        return true;
    }
    if valid_record_after(bytes, at, after_lsn, layout) {
        return false;
    }
    header.len() < HEADER_LEN || (claimed <= MAX_PAYLOAD && end > bytes.len())
}

/// Whether `bytes[from..to]` contains a whole, aligned, zero-filled sector, or is all
/// zeros from `from` to the end of the file (an unwritten tail shorter than a sector).
fn has_zero_sector(bytes: &[u8], from: usize, to: usize) -> bool {
    if bytes[from..].iter().all(|&b| b == 0) {
        return true;
    }
    let mut sector = from.div_ceil(SECTOR) * SECTOR;
    while sector + SECTOR <= to {
        if bytes[sector..sector + SECTOR].iter().all(|&b| b == 0) {
            return true;
        }
        sector += SECTOR;
    }
    false
}

/// Whether a valid record with an LSN above `after_lsn` starts anywhere after `at`. Runs
/// only on damage; the LSN is checked before the checksum, so most offsets cost a compare.
fn valid_record_after(bytes: &[u8], at: usize, after_lsn: u64, layout: Layout) -> bool {
    (at + 1..bytes.len()).any(|p| {
        let lsn = bytes
            .get(p + HEADER_LEN..p + HEADER_LEN + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes);
        lsn.is_some_and(|lsn| lsn > after_lsn && lsn - after_lsn < 1 << 32)
            && decode_one(&bytes[p..], layout).is_some()
    })
}

fn decode_one(bytes: &[u8], layout: Layout) -> Option<(Record, usize)> {
    let mut header = Reader { bytes, at: 0 };
    let len = usize::try_from(header.u32()?).ok()?;
    let crc = header.u32()?;
    if len > MAX_PAYLOAD {
        return None;
    }
    let payload = bytes.get(HEADER_LEN..HEADER_LEN.checked_add(len)?)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    let mut r = Reader {
        bytes: payload,
        at: 0,
    };
    let lsn = r.u64()?;
    let digest = match layout {
        Layout::Current => Some(r.u64()?),
        Layout::V3 => None,
    };
    let count = r.u32()?;
    let mut ops = Vec::new();
    for _ in 0..count {
        let table = *TableId::ALL.get(usize::from(r.u8()?))?;
        let remove = match r.u8()? {
            0 => false,
            1 => true,
            _ => return None,
        };
        let key = r.bytes()?.to_vec();
        let value = if remove {
            None
        } else {
            Some(IVec::from(r.bytes()?))
        };
        ops.push(Op { table, key, value });
    }
    if r.at != payload.len() {
        return None;
    }
    Some((Record { lsn, digest, ops }, HEADER_LEN + len))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let out = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(out)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u32()?).ok()?;
        self.take(len)
    }
}

/// The log directory of the data directory `dir`.
pub(crate) fn dir_of(data_dir: &Path) -> PathBuf {
    data_dir.join(WAL_DIR)
}

fn segment_path(wal_dir: &Path, first_lsn: u64) -> PathBuf {
    wal_dir.join(format!("{first_lsn:020}{SEGMENT_SUFFIX}"))
}

/// The segments in `wal_dir`, by first LSN.
pub(crate) fn segments(wal_dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(wal_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(first) = name
            .to_str()
            .and_then(|n| n.strip_suffix(SEGMENT_SUFFIX))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        found.push((first, entry.path()));
    }
    found.sort();
    Ok(found)
}

/// A checkpoint: sled holds every write up to `lsn` on disk, and the store's digest at
/// that point is `digest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    pub(crate) lsn: u64,
    pub(crate) digest: u64,
}

/// Why the log cannot be recovered. Every variant names the file, and says what is wrong
/// in words an operator can act on (`Store::open` adds what to do).
#[derive(Debug, thiserror::Error)]
pub(crate) enum LogDamage {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} is damaged (checksum mismatch)")]
    Checkpoint { path: PathBuf },
    #[error("{path} is missing, but the store holds data")]
    MissingCheckpoint { path: PathBuf },
    #[error("{path}: the record at byte offset {offset} is damaged (checksum or length mismatch, not a torn write)")]
    Record { path: PathBuf, offset: usize },
    #[error("{path}: a torn record at byte offset {offset} is followed by another segment")]
    TornBeforeEnd { path: PathBuf, offset: usize },
    #[error("log records are missing: {path} starts at record {found}, but record {expected} comes next (a segment was deleted or damaged)")]
    Gap {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("{path}: record {found} follows record {previous}")]
    OutOfOrder {
        path: PathBuf,
        previous: u64,
        found: u64,
    },
    #[error("the log segment for the records after checkpoint {checkpoint} is missing from {dir}")]
    MissingSegment { dir: PathBuf, checkpoint: u64 },
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> LogDamage + '_ {
    move |source| LogDamage::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The last checkpoint and the layout of the log it belongs to (told by its length), or
/// `None` when there is none.
pub(crate) fn read_checkpoint(wal_dir: &Path) -> Result<Option<(Checkpoint, Layout)>, LogDamage> {
    let path = wal_dir.join(CHECKPOINT_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at(&path)(e)),
    };
    // Written whole by rename, so a bad one is damage, not a torn write.
    let damaged = || LogDamage::Checkpoint { path: path.clone() };
    let layout = match bytes.len() {
        20 => Layout::Current,
        12 => Layout::V3,
        _ => return Err(damaged()),
    };
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc != crc32fast::hash(body).to_le_bytes() {
        return Err(damaged());
    }
    let word = |at: usize| {
        body.get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .ok_or_else(damaged)
    };
    let checkpoint = Checkpoint {
        lsn: word(0)?,
        digest: match layout {
            Layout::Current => word(8)?,
            Layout::V3 => 0,
        },
    };
    Ok(Some((checkpoint, layout)))
}

/// Durably records `checkpoint`.
fn write_checkpoint(wal_dir: &Path, checkpoint: Checkpoint) -> io::Result<()> {
    let tmp = wal_dir.join(format!("{CHECKPOINT_FILE}.tmp"));
    let mut bytes = checkpoint.lsn.to_le_bytes().to_vec();
    bytes.extend_from_slice(&checkpoint.digest.to_le_bytes());
    let crc = crc32fast::hash(&bytes).to_le_bytes();
    bytes.extend_from_slice(&crc);
    let mut file = File::create(&tmp)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, wal_dir.join(CHECKPOINT_FILE))?;
    sync_dir(wal_dir)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The segment records are appended to.
#[derive(Debug)]
pub(crate) struct Segment {
    file: File,
    path: PathBuf,
    /// Bytes of whole, durable records: what the file holds after the last successful
    /// append, and where a failed append is cut back to.
    len: u64,
}

impl Segment {
    /// Creates the segment whose first record will be `first_lsn`, durably (the directory
    /// entry too, so a synced record is never in a file that recovery cannot find).
    fn create(wal_dir: &Path, first_lsn: u64) -> io::Result<Segment> {
        let path = segment_path(wal_dir, first_lsn);
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)?;
        file.sync_all()?;
        sync_dir(wal_dir)?;
        Ok(Segment { file, path, len: 0 })
    }

    /// Appends `bytes` (whole records) and waits until they are on disk.
    ///
    /// A failed `write` (no space, a file size limit) leaves nothing half-appended: the
    /// file is cut back to its last whole record, so the next append starts clean and the
    /// records stay a valid chain. A failed `fdatasync` is different: after it the
    /// kernel may have dropped the dirty pages and a retry would report success without
    /// the data (PostgreSQL's "fsyncgate"), so it is [`AppendError::Sync`], after which
    /// the log must not be trusted again by this process.
    pub(crate) fn append_durably(&mut self, bytes: &[u8]) -> Result<(), AppendError> {
        if let Err(e) = self.file.write_all(bytes) {
            let cut = self
                .file
                .set_len(self.len)
                .and_then(|()| self.file.seek(io::SeekFrom::Start(self.len)));
            return match cut {
                Ok(_) => Err(AppendError::Write(e)),
                Err(cut) => Err(AppendError::Sync(io::Error::new(
                    cut.kind(),
                    format!("{e}; cutting the partial append back failed too: {cut}"),
                ))),
            };
        }
        self.file.sync_data().map_err(AppendError::Sync)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// Why an append failed; see [`Segment::append_durably`].
#[derive(Debug)]
pub(crate) enum AppendError {
    /// Nothing was appended; the log is as it was and may be written again.
    Write(io::Error),
    /// The log's state on disk is unknown.
    Sync(io::Error),
}

/// What recovery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recovered {
    /// The checkpoint it started from.
    pub(crate) checkpoint: Checkpoint,
    /// The last record replayed (the checkpoint when none was), and the digest the store
    /// must have after it.
    pub(crate) last: Checkpoint,
    /// Records replayed onto sled.
    pub(crate) replayed: u64,
    /// Bytes of torn record cut off the end of the last segment.
    pub(crate) torn_bytes: u64,
}

/// Replays the log in `wal_dir` onto sled through `apply`, from `checkpoint` on, and
/// returns where it ended; refuses damage (see the module documentation). A torn tail of
/// the last segment is cut off the file before this returns. The caller then flushes
/// sled, checks its digest, and calls [`restart`].
pub(crate) fn recover(
    wal_dir: &Path,
    checkpoint: Checkpoint,
    layout: Layout,
    mut apply: impl FnMut(&Op) -> io::Result<()>,
) -> Result<Recovered, LogDamage> {
    let live: Vec<(u64, PathBuf)> = segments(wal_dir)
        .map_err(io_at(wal_dir))?
        .into_iter()
        .filter(|(first, _)| *first > checkpoint.lsn)
        .collect();
    if live.first().map(|(first, _)| *first) != Some(checkpoint.lsn + 1) {
        return match live.first() {
            Some((first, path)) => Err(LogDamage::Gap {
                path: path.clone(),
                expected: checkpoint.lsn + 1,
                found: *first,
            }),
            None => Err(LogDamage::MissingSegment {
                dir: wal_dir.to_path_buf(),
                checkpoint: checkpoint.lsn,
            }),
        };
    }
    let mut last = checkpoint;
    let mut replayed = 0;
    let mut torn_bytes = 0;
    for (i, (first, path)) in live.iter().enumerate() {
        if *first != last.lsn + 1 {
            return Err(LogDamage::Gap {
                path: path.clone(),
                expected: last.lsn + 1,
                found: *first,
            });
        }
        let bytes = std::fs::read(path).map_err(io_at(path))?;
        let (records, tail) = decode_records(&bytes, layout);
        let is_last = i + 1 == live.len();
        match tail {
            Tail::Clean => {}
            Tail::Damaged { at } => {
                return Err(LogDamage::Record {
                    path: path.clone(),
                    offset: at,
                })
            }
            Tail::Torn { at } if !is_last => {
                return Err(LogDamage::TornBeforeEnd {
                    path: path.clone(),
                    offset: at,
                })
            }
            Tail::Torn { .. } => {}
        }
        for record in records {
            if record.lsn != last.lsn + 1 {
                return Err(LogDamage::OutOfOrder {
                    path: path.clone(),
                    previous: last.lsn,
                    found: record.lsn,
                });
            }
            for op in &record.ops {
                apply(op).map_err(io_at(path))?;
            }
            last = Checkpoint {
                lsn: record.lsn,
                digest: record.digest.unwrap_or(last.digest),
            };
            replayed += 1;
        }
        if let Tail::Torn { at } = tail {
            // Cut now, so the torn bytes can never end up in the middle of the log.
            let file = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(io_at(path))?;
            file.set_len(at as u64).map_err(io_at(path))?;
            file.sync_all().map_err(io_at(path))?;
            torn_bytes = (bytes.len() - at) as u64;
        }
    }
    Ok(Recovered {
        checkpoint,
        last,
        replayed,
        torn_bytes,
    })
}

/// Starts a log in an empty `wal_dir`: checkpoint 0 at digest `digest` (a new store is
/// empty; a migrated one has the digest of what it holds).
pub(crate) fn start(wal_dir: &Path, checkpoint: Checkpoint) -> io::Result<Segment> {
    std::fs::create_dir_all(wal_dir)?;
    sync_dir(wal_dir.parent().unwrap_or(wal_dir))?;
    restart(wal_dir, checkpoint)
}

/// After sled holds everything up to `checkpoint.lsn` on disk: starts the segment for the
/// records after it, records the checkpoint, and deletes every older segment. In that
/// order, so that a crash at any step leaves a chain recovery accepts: before the
/// checkpoint is written the new (empty) segment follows the old ones' last record.
pub(crate) fn restart(wal_dir: &Path, checkpoint: Checkpoint) -> io::Result<Segment> {
    let segment = Segment::create(wal_dir, checkpoint.lsn + 1)?;
    write_checkpoint(wal_dir, checkpoint)?;
    for (first, path) in segments(wal_dir)? {
        if first <= checkpoint.lsn {
            std::fs::remove_file(path)?;
        }
    }
    Ok(segment)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(table: TableId, key: &str, value: &str) -> Op {
        Op {
            table,
            key: key.as_bytes().to_vec(),
            value: Some(IVec::from(value.as_bytes())),
        }
    }

    fn remove(table: TableId, key: &str) -> Op {
        Op {
            table,
            key: key.as_bytes().to_vec(),
            value: None,
        }
    }

    fn ops(n: u64) -> Vec<Op> {
        vec![
            put(
                TableId::Services,
                &format!("svc-{n}"),
                &"v".repeat(n as usize * 100),
            ),
            remove(TableId::TaskDefinitionStatus, "gone"),
            put(TableId::Clusters, "", ""),
        ]
    }

    fn record(lsn: u64) -> Record {
        Record {
            lsn,
            digest: Some(lsn * 1000),
            ops: ops(lsn),
        }
    }

    fn encode(lsns: std::ops::RangeInclusive<u64>) -> Vec<u8> {
        let mut bytes = Vec::new();
        for lsn in lsns {
            encode_record(lsn, lsn * 1000, &ops(lsn), &mut bytes);
        }
        bytes
    }

    #[test]
    fn records_read_back_as_written() {
        let bytes = encode(1..=3);
        let (records, tail) = decode_records(&bytes, Layout::Current);
        assert_eq!(tail, Tail::Clean);
        let expected: Vec<Record> = (1..=3).map(record).collect();
        assert_eq!(records, expected);
    }

    #[test]
    fn a_record_cut_short_is_torn_at_its_start() {
        let bytes = encode(1..=2);
        let first = encode(1..=1).len();
        for cut in first + 1..bytes.len() {
            let (records, tail) = decode_records(&bytes[..cut], Layout::Current);
            assert_eq!(
                (records.len(), tail),
                (1, Tail::Torn { at: first }),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_flipped_byte_in_a_whole_record_is_damage_not_a_torn_write() {
        let bytes = encode(1..=3);
        let first = encode(1..=1).len();
        let second_end = encode(1..=2).len();
        for flip in first..second_end {
            let mut damaged = bytes.clone();
            damaged[flip] ^= 0x40;
            let (records, tail) = decode_records(&damaged, Layout::Current);
            assert_eq!(
                (records.len(), tail),
                (1, Tail::Damaged { at: first }),
                "byte {flip} flipped"
            );
        }
    }

    #[test]
    fn unwritten_sectors_inside_the_last_record_make_it_torn() {
        // Records big enough to span whole sectors; the kernel wrote the first page of
        // the last one and not the rest (zeros), or extended the file with zeros.
        let bytes = encode(1..=30);
        let before_last = encode(1..=29).len();
        let mut zeroed = bytes.clone();
        for b in &mut zeroed[before_last + 600..] {
            *b = 0;
        }
        let (records, tail) = decode_records(&zeroed, Layout::Current);
        assert_eq!((records.len(), tail), (29, Tail::Torn { at: before_last }));
        let mut extended = bytes.clone();
        extended.extend_from_slice(&[0; 64]);
        let (records, tail) = decode_records(&extended, Layout::Current);
        assert_eq!((records.len(), tail), (30, Tail::Torn { at: bytes.len() }));
    }

    fn replay(wal_dir: &Path) -> Result<(Recovered, Vec<Op>), LogDamage> {
        let mut applied = Vec::new();
        let checkpoint = read_checkpoint(wal_dir)?.map_or(zero(), |(c, _)| c);
        let recovered = recover(wal_dir, checkpoint, Layout::Current, |op| {
            applied.push(op.clone());
            Ok(())
        })?;
        Ok((recovered, applied))
    }

    fn append(segment: &mut Segment, lsns: std::ops::RangeInclusive<u64>) {
        segment.append_durably(&encode(lsns)).unwrap();
    }

    fn zero() -> Checkpoint {
        Checkpoint { lsn: 0, digest: 0 }
    }

    #[test]
    fn recovery_replays_what_follows_the_checkpoint_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path();
        let mut first = start(wal, zero()).unwrap();
        append(&mut first, 1..=4);
        let (recovered, applied) = replay(wal).unwrap();
        assert_eq!(
            recovered.last,
            Checkpoint {
                lsn: 4,
                digest: 4000
            }
        );
        assert_eq!(recovered.replayed, 4);
        assert_eq!(applied, (1..=4).flat_map(ops).collect::<Vec<_>>());

        // Restarting at 4 leaves one empty segment; records go on from 5.
        let mut second = restart(
            wal,
            Checkpoint {
                lsn: 4,
                digest: 4000,
            },
        )
        .unwrap();
        assert_eq!(segments(wal).unwrap().len(), 1);
        append(&mut second, 5..=5);
        let (recovered, applied) = replay(wal).unwrap();
        assert_eq!((recovered.last.lsn, recovered.replayed), (5, 1));
        assert_eq!(recovered.checkpoint.lsn, 4);
        assert_eq!(applied, ops(5));
    }

    #[test]
    fn a_crash_inside_restart_leaves_a_chain_recovery_accepts() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path();
        let mut first = start(wal, zero()).unwrap();
        append(&mut first, 1..=3);
        // The new segment exists, the checkpoint still says 0, the old segment is there.
        let mut next = Segment::create(wal, 4).unwrap();
        assert_eq!(replay(wal).unwrap().0.last.lsn, 3);
        append(&mut next, 4..=4);
        assert_eq!(replay(wal).unwrap().0.last.lsn, 4);
    }

    #[test]
    fn a_torn_tail_is_cut_off_the_file_and_records_go_on_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path();
        let mut segment = start(wal, zero()).unwrap();
        append(&mut segment, 1..=2);
        let torn = encode(3..=3);
        segment.append_durably(&torn[..torn.len() / 2]).unwrap();
        let path = segment.path().to_path_buf();
        let (recovered, _) = replay(wal).unwrap();
        assert_eq!(recovered.last.lsn, 2);
        assert_eq!(recovered.torn_bytes as usize, torn.len() / 2);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len() as usize,
            encode(1..=2).len()
        );
    }

    #[test]
    fn damage_in_the_middle_of_the_log_is_refused_with_file_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path();
        let mut segment = start(wal, zero()).unwrap();
        let mut bytes = encode(1..=4);
        let second = encode(1..=1).len();
        bytes[second + 20] ^= 0xff;
        segment.append_durably(&bytes).unwrap();
        let err = replay(wal).unwrap_err();
        assert!(
            matches!(&err, LogDamage::Record { offset, .. } if *offset == second),
            "{err}"
        );
        assert!(err
            .to_string()
            .contains(&segment.path().display().to_string()));
        // Even a flip in the very last record is damage: it was written whole.
        let dir = tempfile::tempdir().unwrap();
        let mut segment = start(dir.path(), zero()).unwrap();
        let mut bytes = encode(1..=2);
        let last = bytes.len() - 5;
        bytes[last] ^= 1;
        segment.append_durably(&bytes).unwrap();
        assert!(matches!(
            replay(dir.path()).unwrap_err(),
            LogDamage::Record { .. }
        ));
    }

    #[test]
    fn missing_segments_and_gaps_are_refused() {
        // The only live segment deleted.
        let dir = tempfile::tempdir().unwrap();
        let mut segment = start(dir.path(), zero()).unwrap();
        append(&mut segment, 1..=2);
        std::fs::remove_file(segment.path()).unwrap();
        assert!(matches!(
            replay(dir.path()).unwrap_err(),
            LogDamage::MissingSegment { .. }
        ));

        // A segment in the middle of the chain deleted.
        let dir = tempfile::tempdir().unwrap();
        let mut first = start(dir.path(), zero()).unwrap();
        append(&mut first, 1..=2);
        let mut second = Segment::create(dir.path(), 3).unwrap();
        append(&mut second, 3..=4);
        let mut third = Segment::create(dir.path(), 5).unwrap();
        append(&mut third, 5..=5);
        std::fs::remove_file(second.path()).unwrap();
        let err = replay(dir.path()).unwrap_err();
        assert!(
            matches!(
                err,
                LogDamage::Gap {
                    expected: 3,
                    found: 5,
                    ..
                }
            ),
            "{err}"
        );

        // A gap in the numbers inside one segment.
        let dir = tempfile::tempdir().unwrap();
        let mut segment = start(dir.path(), zero()).unwrap();
        append(&mut segment, 1..=1);
        append(&mut segment, 3..=3);
        assert!(matches!(
            replay(dir.path()).unwrap_err(),
            LogDamage::OutOfOrder {
                previous: 1,
                found: 3,
                ..
            }
        ));

        // A torn record before the last segment.
        let dir = tempfile::tempdir().unwrap();
        let mut first = start(dir.path(), zero()).unwrap();
        let torn = encode(1..=2);
        first.append_durably(&torn[..torn.len() - 3]).unwrap();
        let mut second = Segment::create(dir.path(), 2).unwrap();
        append(&mut second, 2..=2);
        assert!(matches!(
            replay(dir.path()).unwrap_err(),
            LogDamage::TornBeforeEnd { .. }
        ));
    }

    #[test]
    fn a_damaged_checkpoint_is_an_error_not_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        write_checkpoint(dir.path(), Checkpoint { lsn: 7, digest: 9 }).unwrap();
        assert_eq!(
            read_checkpoint(dir.path()).unwrap(),
            Some((Checkpoint { lsn: 7, digest: 9 }, Layout::Current))
        );
        let path = dir.path().join(CHECKPOINT_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[0] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert!(matches!(
            read_checkpoint(dir.path()),
            Err(LogDamage::Checkpoint { .. })
        ));
    }
}
