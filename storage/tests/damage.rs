//! Damage to the store's files — truncation, flipped bytes and deleted files, in each kind
//! of file — ends in one of two ways: the store opens with every acknowledged write intact
//! (and no revision number reused), or it refuses to start with `OpenError::Damaged`,
//! changing nothing, so a second open refuses too. Never a panic, never a silent loss.
//!
//! The stores are written by the crash-test workload (`kubecs-storage-crashtest`), which
//! prints each revision once acknowledged; it is killed with SIGKILL, so the newest writes
//! are in the write-ahead log only, or closed cleanly by letting it write to the end of a
//! run and reopening it once (a checkpoint: everything in sled, an empty log).

// Test helpers outside #[test] functions may panic too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use kubecs_storage::{OpenError, Store};
use sha2::{Digest, Sha256};

/// (family, revision) -> content hash, as the workload printed them.
type Acknowledged = BTreeMap<(String, u32), String>;

/// Runs the workload on `dir` until each of `writers` wrote `per_writer` revisions, waits
/// for sled's background flush (so sled holds writes the log also holds, as it usually
/// does), and kills it.
fn write_and_kill(dir: &Path, writers: usize, per_writer: usize) -> Acknowledged {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubecs-storage-crashtest"))
        .arg(dir)
        .arg("damage")
        .arg(writers.to_string())
        .arg(per_writer.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut acknowledged = Acknowledged::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if line == "idle" {
            break;
        }
        let parts: Vec<&str> = line.split(' ').collect();
        if let [family, revision, hash] = parts[..] {
            acknowledged.insert(
                (family.to_owned(), revision.parse().unwrap()),
                hash.to_owned(),
            );
        }
    }
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(acknowledged.len(), writers * per_writer);
    acknowledged
}

/// Two templates, built once: one killed with writes in the log, one closed cleanly.
fn templates() -> &'static (tempfile::TempDir, Acknowledged, Acknowledged) {
    static TEMPLATES: std::sync::OnceLock<(tempfile::TempDir, Acknowledged, Acknowledged)> =
        std::sync::OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let root = tempfile::tempdir().unwrap();
        let killed = write_and_kill(&root.path().join("killed"), 4, 60);
        let clean = write_and_kill(&root.path().join("clean"), 4, 60);
        // Opening and closing checkpoints: sled then holds everything, the log nothing.
        drop(Store::open(&root.path().join("clean")).unwrap());
        (root, killed, clean)
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A fresh copy of a template and its acknowledged writes.
fn fresh(kind: &str) -> (tempfile::TempDir, PathBuf, Acknowledged) {
    let (root, killed, clean) = templates();
    let acknowledged = if kind == "killed" { killed } else { clean };
    let copy = tempfile::tempdir().unwrap();
    let dir = copy.path().join("data");
    copy_dir(&root.path().join(kind), &dir);
    (copy, dir, acknowledged.clone())
}

fn content_hash(td: &kubecs_api_models::TaskDefinition) -> String {
    let digest = Sha256::digest(serde_json::to_vec(td).unwrap());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, PartialEq)]
enum Outcome {
    /// Opened, and every acknowledged revision is there, unchanged.
    Intact,
    /// Refused with `Damaged`; the message.
    Refused(String),
}

/// Opens `dir` and checks the contract; a refusal must hold on a second open.
fn open_and_check(dir: &Path, acknowledged: &Acknowledged, case: &str) -> Outcome {
    let outcome = match Store::open(dir) {
        Ok(store) => {
            let tds = store.region("us-east-1").task_definitions();
            for ((family, revision), hash) in acknowledged {
                let record = tds.get(family, *revision).unwrap_or_else(|e| {
                    panic!("{case}: reading {family}:{revision} after a clean open: {e}")
                });
                let record = record.unwrap_or_else(|| panic!("{case}: lost {family}:{revision}"));
                assert_eq!(
                    &content_hash(&record.value),
                    hash,
                    "{case}: {family}:{revision}"
                );
            }
            for family in ["web", "worker", "batch"] {
                let highest = acknowledged
                    .keys()
                    .filter(|(f, _)| f == family)
                    .map(|(_, r)| *r)
                    .max()
                    .unwrap_or(0);
                let counter = tds
                    .family(family)
                    .unwrap()
                    .map_or(0, |f| f.value.last_revision);
                assert!(
                    counter >= highest,
                    "{case}: {family}'s counter {counter} fell below acknowledged revision {highest}: the next registration would reuse it"
                );
            }
            Outcome::Intact
        }
        Err(err @ OpenError::Damaged { .. }) => Outcome::Refused(err.to_string()),
        Err(other) => panic!("{case}: refused with something other than Damaged: {other}"),
    };
    if let Outcome::Refused(first) = &outcome {
        match Store::open(dir) {
            Err(OpenError::Damaged { .. }) => {}
            Ok(_) => panic!(
                "{case}: refused once ({first}), then opened: the first open changed the files"
            ),
            Err(other) => panic!("{case}: second open: {other}"),
        }
    }
    outcome
}

fn only_segment(dir: &Path) -> PathBuf {
    let segments: Vec<PathBuf> = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    assert_eq!(segments.len(), 1, "{segments:?}");
    segments.into_iter().next().unwrap()
}

fn flip(path: &Path, at: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = usize::try_from(at).unwrap().min(bytes.len() - 1);
    bytes[at] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
}

fn truncate(path: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

#[test]
fn an_undamaged_store_opens_intact_after_kill_9_and_after_a_clean_close() {
    for kind in ["killed", "clean"] {
        let (_copy, dir, acknowledged) = fresh(kind);
        assert_eq!(open_and_check(&dir, &acknowledged, kind), Outcome::Intact);
    }
}

#[test]
fn a_flipped_byte_in_the_middle_of_the_log_refuses_to_start_naming_the_file_and_offset() {
    let (_copy, dir, acknowledged) = fresh("killed");
    let segment = only_segment(&dir);
    assert!(
        len(&segment) > 10_000,
        "the workload left its writes in the log"
    );
    flip(&segment, len(&segment) / 3);
    match open_and_check(&dir, &acknowledged, "flipped log byte") {
        Outcome::Refused(message) => {
            assert!(
                message.contains(&segment.display().to_string()),
                "{message}"
            );
            assert!(message.contains("byte offset"), "{message}");
            assert!(message.contains("Restore the data directory"), "{message}");
        }
        Outcome::Intact => panic!("mid-log damage must refuse to start"),
    }
}

#[test]
fn a_deleted_log_segment_or_checkpoint_refuses_to_start() {
    let (_copy, dir, acknowledged) = fresh("killed");
    std::fs::remove_file(only_segment(&dir)).unwrap();
    assert!(matches!(
        open_and_check(&dir, &acknowledged, "deleted segment"),
        Outcome::Refused(_)
    ));

    let (_copy, dir, acknowledged) = fresh("killed");
    std::fs::remove_file(dir.join("wal/checkpoint")).unwrap();
    assert!(matches!(
        open_and_check(&dir, &acknowledged, "deleted checkpoint"),
        Outcome::Refused(_)
    ));

    let (_copy, dir, acknowledged) = fresh("clean");
    std::fs::remove_dir_all(dir.join("wal")).unwrap();
    assert!(matches!(
        open_and_check(&dir, &acknowledged, "deleted log directory"),
        Outcome::Refused(_)
    ));
}

#[test]
fn a_damaged_or_truncated_checkpoint_refuses_to_start() {
    for damage in ["flip", "truncate"] {
        let (_copy, dir, acknowledged) = fresh("killed");
        let checkpoint = dir.join("wal/checkpoint");
        match damage {
            "flip" => flip(&checkpoint, 3),
            _ => truncate(&checkpoint, 10),
        }
        assert!(matches!(
            open_and_check(&dir, &acknowledged, damage),
            Outcome::Refused(_)
        ));
    }
}

#[test]
fn a_log_cut_short_or_ending_in_a_torn_record_loses_nothing_acknowledged() {
    // A cut inside the log loses records sled already holds: refused (the digest check).
    // A cut that loses nothing sled holds cannot be told apart from a crash while writing;
    // the contract still holds then, since only what the log holds was acknowledged... or
    // the store refuses.
    for fraction in [2, 4, 10] {
        let (_copy, dir, acknowledged) = fresh("killed");
        let segment = only_segment(&dir);
        truncate(&segment, len(&segment) - len(&segment) / fraction);
        let outcome = open_and_check(&dir, &acknowledged, &format!("cut 1/{fraction}"));
        assert!(
            matches!(outcome, Outcome::Refused(_)),
            "cutting 1/{fraction} of the log lost records sled held: must refuse, got {outcome:?}"
        );
    }
    // A torn record at the end (half a record, or unwritten zeros) is cut off silently.
    let (_copy, dir, acknowledged) = fresh("killed");
    let segment = only_segment(&dir);
    let bytes = std::fs::read(&segment).unwrap();
    let mut torn = bytes.clone();
    torn.extend_from_slice(&bytes[..bytes.len().min(300)]);
    // Its length field now claims more than is left: a record cut short.
    let at = bytes.len();
    torn[at..at + 4].copy_from_slice(&100_000u32.to_le_bytes());
    std::fs::write(&segment, &torn).unwrap();
    assert_eq!(
        open_and_check(&dir, &acknowledged, "torn tail"),
        Outcome::Intact
    );

    let (_copy, dir, acknowledged) = fresh("killed");
    let segment = only_segment(&dir);
    let mut zeros = std::fs::read(&segment).unwrap();
    zeros.extend_from_slice(&[0; 4096]);
    std::fs::write(&segment, &zeros).unwrap();
    assert_eq!(
        open_and_check(&dir, &acknowledged, "zero tail"),
        Outcome::Intact
    );
}

/// One way of damaging a file.
type Damage = Box<dyn Fn(&Path)>;

/// Every file sled keeps, for the damage loops below.
fn sled_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.join("sled")];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn damage_to_any_sled_file_opens_intact_or_refuses_never_panics_or_loses_data() {
    let mut refused = 0;
    let mut cases = 0;
    for kind in ["killed", "clean"] {
        let (_copy, template, _) = fresh(kind);
        let files: Vec<PathBuf> = sled_files(&template)
            .into_iter()
            .map(|f| f.strip_prefix(&template).unwrap().to_path_buf())
            .collect();
        assert!(
            files.iter().any(|f| f.ends_with("db")),
            "sled's files: {files:?}"
        );
        for file in &files {
            let size = len(&template.join(file));
            let mut damages: Vec<(String, Damage)> = vec![
                (
                    "delete".into(),
                    Box::new(|p: &Path| std::fs::remove_file(p).unwrap()),
                ),
                (
                    "truncate to half".into(),
                    Box::new(move |p: &Path| truncate(p, size / 2)),
                ),
                (
                    "truncate to zero".into(),
                    Box::new(|p: &Path| truncate(p, 0)),
                ),
            ];
            if size > 0 {
                for i in 1..=12u64 {
                    let at = size * i / 13;
                    damages.push((
                        format!("flip at {at}"),
                        Box::new(move |p: &Path| flip(p, at)),
                    ));
                }
            }
            for (name, damage) in damages {
                let (_copy, dir, acknowledged) = fresh(kind);
                damage(&dir.join(file));
                let case = format!("{kind}: {} {name}", file.display());
                cases += 1;
                if let Outcome::Refused(message) = open_and_check(&dir, &acknowledged, &case) {
                    assert!(!message.contains("panicked"), "{case}: {message}");
                    refused += 1;
                }
            }
        }
    }
    eprintln!("{cases} sled damage cases: {refused} refused, the rest opened intact");
    assert!(refused > 0, "no damage to sled's files was detected at all");
}
