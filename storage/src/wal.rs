//! The write-ahead log: how a write becomes durable.
//!
//! Every write is one log record (its log sequence number and the keys it sets or
//! removes, in any of the store's trees). The committer (`durability`) appends records to
//! the current segment, makes them durable with one `fdatasync` per group of writers, and
//! only then applies them to sled, with plain inserts. So sled never holds a write the log
//! does not, and sled itself is never flushed on a write's path: it persists on its own,
//! in the background, and at checkpoints.
//!
//! Why not sled's own durability: a durable write through sled cost a `Db::flush` (which
//! wakes all of sled's idle I/O threads, writes and syncs its log) and, for a write to
//! several trees, a transaction or atomic batch (each rolls sled's log buffer twice, more
//! writes and wake-ups). BENCHMARKS.md has the profiles; the log replaces all of that with
//! one write and one sync by a thread of ours.
//!
//! A *checkpoint* records an LSN whose writes, and all before it, sled holds on disk:
//! sled is flushed first, then the number is written to `wal/checkpoint` (a temporary
//! file, synced, renamed, the directory synced). Older segments are then deleted.
//! Recovery (`recover`) replays every record after the checkpoint onto sled, in order.
//! That gives exactly the state of the log's last durable record, whatever part of the
//! later records sled had persisted on its own: a record sets keys to values (or removes
//! them), so every key written after the checkpoint ends with its last logged value, and
//! every other key is as the checkpoint's flush left it. What it relies on is that sled
//! never holds a write the log does not, which the committer guarantees.
//!
//! On disk, `wal/<first LSN, 20 digits>.log` segments hold records back to back:
//! `[payload length: u32 LE][CRC-32 of payload: u32 LE][payload]`, and a payload is
//! `[lsn: u64 LE][op count: u32 LE]` then per op `[tree: u8 (the TableId's discriminant,
//! so `TableId`'s order is part of this format)][0 = put, 1 = remove]
//! [key length: u32 LE][key]` and, for a put, `[value length: u32 LE][value]`. A record
//! that is cut short or fails its checksum ends the log: it was being written when the
//! process died, so it was never acknowledged. The tail is cut off before new records are
//! appended.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use sled::IVec;

use crate::feed::TableId;

/// Subdirectory of the data directory that holds the log.
pub(crate) const WAL_DIR: &str = "wal";
const CHECKPOINT_FILE: &str = "checkpoint";
const SEGMENT_SUFFIX: &str = ".log";
const HEADER_LEN: usize = 8;
/// A payload length above this in a header is a torn or corrupt header, not a record (a
/// record holds a few KiB of JSON; ECS request bodies are far smaller than this).
const MAX_PAYLOAD: usize = 64 << 20;

/// One change to one key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Op {
    pub(crate) table: TableId,
    pub(crate) key: Vec<u8>,
    /// `None` removes the key.
    pub(crate) value: Option<IVec>,
}

/// Appends one record to `out`.
pub(crate) fn encode_record(lsn: u64, ops: &[Op], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    out.extend_from_slice(&lsn.to_le_bytes());
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

/// A record read back: its LSN and ops.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub(crate) lsn: u64,
    pub(crate) ops: Vec<Op>,
}

/// Reads the records at the start of `bytes`. Returns them and the length of the valid
/// prefix; anything after it is a torn or corrupt tail.
pub(crate) fn decode_records(bytes: &[u8]) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while let Some((record, len)) = decode_one(&bytes[at..]) {
        records.push(record);
        at += len;
    }
    (records, at)
}

fn decode_one(bytes: &[u8]) -> Option<(Record, usize)> {
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
    Some((Record { lsn, ops }, HEADER_LEN + len))
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
    for entry in std::fs::read_dir(wal_dir)? {
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

/// The LSN of the last checkpoint; 0 when there was none.
pub(crate) fn read_checkpoint(wal_dir: &Path) -> io::Result<u64> {
    let bytes = match std::fs::read(wal_dir.join(CHECKPOINT_FILE)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    // Written whole by rename, so a bad one is corruption, not a torn write.
    let corrupt = || io::Error::new(io::ErrorKind::InvalidData, "corrupt wal/checkpoint");
    let (lsn, crc) = bytes.split_at_checked(8).ok_or_else(corrupt)?;
    if crc != crc32fast::hash(lsn).to_le_bytes() {
        return Err(corrupt());
    }
    Ok(u64::from_le_bytes(lsn.try_into().map_err(|_| corrupt())?))
}

/// Durably records that sled holds every write up to `lsn`.
pub(crate) fn write_checkpoint(wal_dir: &Path, lsn: u64) -> io::Result<()> {
    let tmp = wal_dir.join(format!("{CHECKPOINT_FILE}.tmp"));
    let mut bytes = lsn.to_le_bytes().to_vec();
    bytes.extend_from_slice(&crc32fast::hash(&lsn.to_le_bytes()).to_le_bytes());
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
    len: u64,
}

impl Segment {
    /// Creates the segment whose first record will be `first_lsn`, durably (the directory
    /// entry too, so a synced record is never in a file that recovery cannot find).
    pub(crate) fn create(wal_dir: &Path, first_lsn: u64) -> io::Result<Segment> {
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
    pub(crate) fn append_durably(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.file.sync_data()?;
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

/// What recovery found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Recovered {
    /// The checkpoint it started from.
    pub(crate) checkpoint: u64,
    /// The last record replayed (the checkpoint when none was).
    pub(crate) last_lsn: u64,
    /// Records replayed onto sled.
    pub(crate) replayed: u64,
}

/// Replays the log in `wal_dir` onto sled through `apply`, from the checkpoint on, and
/// returns where it ended. The caller then flushes sled, checkpoints `last_lsn` and starts
/// a new segment (see [`restart`]).
///
/// A torn or corrupt record ends its segment. That is the normal end of the last one (the
/// process died while appending), and can end an earlier one too when a crash came
/// between [`restart`] creating the new segment and deleting the old ones. Records must
/// follow each other without a gap, so corruption that hides records which a later
/// segment follows on from is an error, not a silent loss.
pub(crate) fn recover(
    wal_dir: &Path,
    mut apply: impl FnMut(&Op) -> io::Result<()>,
) -> io::Result<Recovered> {
    std::fs::create_dir_all(wal_dir)?;
    let checkpoint = read_checkpoint(wal_dir)?;
    let segments = segments(wal_dir)?;
    let mut last_lsn = checkpoint;
    let mut replayed = 0;
    for (_, path) in &segments {
        let bytes = std::fs::read(path)?;
        let (records, valid) = decode_records(&bytes);
        if valid != bytes.len() {
            tracing::warn!(
                segment = %path.display(),
                at = valid,
                "the log segment ends in a torn or corrupt record; what follows is ignored"
            );
        }
        for record in records {
            if record.lsn <= last_lsn {
                continue; // Already in sled: at or before the checkpoint, or replayed.
            }
            if record.lsn != last_lsn + 1 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "log record {} follows {last_lsn} in {}: records are missing",
                        record.lsn,
                        path.display()
                    ),
                ));
            }
            for op in &record.ops {
                apply(op)?;
            }
            last_lsn = record.lsn;
            replayed += 1;
        }
    }
    Ok(Recovered {
        checkpoint,
        last_lsn,
        replayed,
    })
}

/// After sled holds everything up to `lsn` on disk: checkpoints `lsn`, starts the segment
/// for the records after it, and deletes every older segment.
pub(crate) fn restart(wal_dir: &Path, lsn: u64) -> io::Result<Segment> {
    write_checkpoint(wal_dir, lsn)?;
    let segment = Segment::create(wal_dir, lsn + 1)?;
    for (first, path) in segments(wal_dir)? {
        if first <= lsn {
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
                &"v".repeat(n as usize),
            ),
            remove(TableId::TaskDefinitionStatus, "gone"),
            put(TableId::Clusters, "", ""),
        ]
    }

    #[test]
    fn records_read_back_as_written() {
        let mut bytes = Vec::new();
        for lsn in 1..=3 {
            encode_record(lsn, &ops(lsn), &mut bytes);
        }
        let (records, valid) = decode_records(&bytes);
        assert_eq!(valid, bytes.len());
        let expected: Vec<Record> = (1..=3).map(|lsn| Record { lsn, ops: ops(lsn) }).collect();
        assert_eq!(records, expected);
    }

    #[test]
    fn a_torn_or_damaged_record_ends_the_log() {
        let mut bytes = Vec::new();
        encode_record(1, &ops(1), &mut bytes);
        let first = bytes.len();
        encode_record(2, &ops(2), &mut bytes);
        for cut in first..bytes.len() {
            let (records, valid) = decode_records(&bytes[..cut]);
            assert_eq!((records.len(), valid), (1, first), "cut at {cut}");
        }
        for flip in first..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[flip] ^= 0x40;
            let (records, valid) = decode_records(&damaged);
            assert_eq!((records.len(), valid), (1, first), "byte {flip} flipped");
        }
        // A zeroed tail (a preallocated or half-written file) is no record either.
        let mut zeroed = bytes[..first].to_vec();
        zeroed.extend_from_slice(&[0; 64]);
        assert_eq!(decode_records(&zeroed).1, first);
    }

    fn replay(wal_dir: &Path) -> io::Result<(Recovered, Vec<Op>)> {
        let mut applied = Vec::new();
        let recovered = recover(wal_dir, |op| {
            applied.push(op.clone());
            Ok(())
        })?;
        Ok((recovered, applied))
    }

    fn append(segment: &mut Segment, lsns: std::ops::RangeInclusive<u64>) {
        let mut bytes = Vec::new();
        for lsn in lsns {
            encode_record(lsn, &ops(lsn), &mut bytes);
        }
        segment.append_durably(&bytes).unwrap();
    }

    #[test]
    fn recovery_replays_what_follows_the_checkpoint_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path();
        let mut first = restart(wal, 0).unwrap();
        append(&mut first, 1..=4);
        // A checkpoint at 2 written while segment 1 still exists (a crash before the old
        // segment was deleted): records 1 and 2 are skipped, 3 and 4 replayed.
        write_checkpoint(wal, 2).unwrap();
        let (recovered, applied) = replay(wal).unwrap();
        assert_eq!(
            recovered,
            Recovered {
                checkpoint: 2,
                last_lsn: 4,
                replayed: 2
            }
        );
        let expected: Vec<Op> = [3, 4].into_iter().flat_map(ops).collect();
        assert_eq!(applied, expected);

        // Restarting at 4 leaves one empty segment; records go on from 5.
        let mut second = restart(wal, 4).unwrap();
        assert_eq!(segments(wal).unwrap().len(), 1);
        append(&mut second, 5..=5);
        let (recovered, applied) = replay(wal).unwrap();
        assert_eq!((recovered.last_lsn, recovered.replayed), (5, 1));
        assert_eq!(applied, ops(5));
    }

    #[test]
    fn recovery_stops_at_a_torn_tail_but_refuses_a_hole() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path();
        let mut segment = restart(wal, 0).unwrap();
        append(&mut segment, 1..=2);
        // Half of record 3: the process died while writing it.
        let mut torn = Vec::new();
        encode_record(3, &ops(3), &mut torn);
        segment.append_durably(&torn[..torn.len() / 2]).unwrap();
        let (recovered, _) = replay(wal).unwrap();
        assert_eq!(recovered.last_lsn, 2);

        // A crash inside `restart(2)`, after it created segment 3 and before it deleted
        // segment 1: the torn tail is no longer in the last segment, and nothing is
        // missing, so the log opens; records go on in segment 3.
        let mut next = Segment::create(wal, 3).unwrap();
        assert_eq!(replay(wal).unwrap().0.last_lsn, 2);
        append(&mut next, 3..=3);
        assert_eq!(replay(wal).unwrap().0.last_lsn, 3);

        // Damage that hides records a later segment follows on from is refused.
        let dir = tempfile::tempdir().unwrap();
        let mut first = restart(dir.path(), 0).unwrap();
        let mut bytes = Vec::new();
        encode_record(1, &ops(1), &mut bytes);
        let second = bytes.len() + 10; // Inside record 2.
        for lsn in 2..=4 {
            encode_record(lsn, &ops(lsn), &mut bytes);
        }
        bytes[second] ^= 0xff;
        first.append_durably(&bytes).unwrap();
        let mut later = Segment::create(dir.path(), 5).unwrap();
        append(&mut later, 5..=5);
        let err = replay(dir.path()).unwrap_err();
        assert!(err.to_string().contains("records are missing"), "{err}");

        // A gap in the numbers is refused too.
        let dir = tempfile::tempdir().unwrap();
        let mut segment = restart(dir.path(), 0).unwrap();
        append(&mut segment, 1..=1);
        append(&mut segment, 3..=3);
        let err = replay(dir.path()).unwrap_err();
        assert!(err.to_string().contains("records are missing"), "{err}");
    }

    #[test]
    fn a_damaged_checkpoint_is_an_error_not_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        write_checkpoint(dir.path(), 7).unwrap();
        assert_eq!(read_checkpoint(dir.path()).unwrap(), 7);
        let path = dir.path().join(CHECKPOINT_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[0] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert!(read_checkpoint(dir.path()).is_err());
    }
}
