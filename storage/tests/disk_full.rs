//! A full disk, for real: the store lives on a small tmpfs, a filler file takes the space,
//! and writes go on until one fails. The failed write is refused with an error that says
//! why, the store reports it (`Health`), nothing acknowledged is lost, and once space is
//! back the store takes writes again — by itself, or after a restart.
//!
//! Mounting a tmpfs needs root (as CI and the development machines run); elsewhere set
//! `KUBECS_SKIP_MOUNT_TESTS=1` to skip this test knowingly.

// Test helpers outside #[test] functions may panic too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{task_definitions, TestError, Thing};
use kubecs_storage::{Health, Store, StoreError, StoreOptions};

/// A tmpfs mounted for the test's lifetime.
struct Tmpfs {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        if std::env::var_os("KUBECS_SKIP_MOUNT_TESTS").is_some() {
            eprintln!("KUBECS_SKIP_MOUNT_TESTS is set: skipping the disk-full test");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mnt");
        std::fs::create_dir(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs failed (this test needs root; set KUBECS_SKIP_MOUNT_TESTS=1 to skip it)"
        );
        Some(Tmpfs { _dir: dir, path })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Fills the file system of `dir` but for about `leave` bytes, with one file.
fn fill(dir: &Path, leave: u64) -> PathBuf {
    let filler = dir.join("filler");
    let stat = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .unwrap();
    let avail: u64 = String::from_utf8_lossy(&stat.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let file = std::fs::File::create(&filler).unwrap();
    file.set_len(0).unwrap();
    // Written, not sparse: tmpfs counts written pages.
    let chunk = vec![0xAAu8; 64 * 1024];
    let mut written = 0;
    let mut out = std::io::BufWriter::new(file);
    while written + (chunk.len() as u64) < avail.saturating_sub(leave) {
        std::io::Write::write_all(&mut out, &chunk).unwrap();
        written += chunk.len() as u64;
    }
    std::io::Write::flush(&mut out).unwrap();
    filler
}

async fn register(store: &Store, i: u64) -> Result<u32, TestError> {
    task_definitions(store)
        .register_revision("web", move |_| {
            Ok::<_, TestError>(Thing {
                status: "ACTIVE".into(),
                count: i,
            })
        })
        .await
        .map(|(revision, _)| revision)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_clearly_loses_nothing_and_recovers_when_space_returns() {
    let Some(fs) = Tmpfs::mount("8m") else {
        return;
    };
    let dir = fs.path.join("data");
    let options = StoreOptions {
        log_segment_bytes: 1 << 20,
        ..StoreOptions::default()
    };
    let store = Store::open_with(&dir, &options).unwrap();
    let filler = fill(&fs.path, 256 * 1024);
    let mut acknowledged = Vec::new();
    let mut refusal = None;
    for i in 0..100_000u64 {
        match register(&store, i).await {
            Ok(revision) => acknowledged.push(revision),
            Err(TestError::Store(err)) => {
                refusal = Some(err);
                break;
            }
            Err(other) => panic!("{other}"),
        }
    }
    let refusal = refusal.expect("the disk never filled up");
    assert!(!acknowledged.is_empty());
    let message = refusal.to_string();
    assert!(
        message.contains("No space left on device"),
        "the error says why: {message}"
    );
    assert_ne!(store.health(), Health::Ok, "the store reports the failure");
    // While the disk is full every write is refused; none is acknowledged.
    assert!(register(&store, 0).await.is_err());

    std::fs::remove_file(&filler).unwrap();
    // A full log degrades the store, which retries by itself once a second (no client
    // write needed) and is Ok again once space is back, unless sled's own writes failed
    // too: then it says so (Failed) before any client write, and a restart recovers from
    // the log. Either way it leaves Degraded by itself.
    let deadline = Instant::now() + Duration::from_secs(10);
    while matches!(store.health(), Health::Degraded(_)) {
        assert!(Instant::now() < deadline, "never left {:?}", store.health());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered_in_process = store.health() == Health::Ok;
    let store = if recovered_in_process {
        store
    } else {
        assert!(matches!(store.health(), Health::Failed(_)));
        drop(store);
        Store::open_with(&dir, &options).unwrap()
    };
    let next = register(&store, 1).await.unwrap();
    let highest = *acknowledged.iter().max().unwrap();
    assert!(
        next > highest,
        "revision {next} reuses an acknowledged number (<= {highest})"
    );
    drop(store);
    let store = Store::open_with(&dir, &options).unwrap();
    let tds = task_definitions(&store);
    for revision in acknowledged.iter().copied().chain([next]) {
        assert!(
            tds.get("web", revision).unwrap().is_some(),
            "lost web:{revision}"
        );
    }
    eprintln!(
        "{} writes acknowledged before the disk filled; recovered {}",
        acknowledged.len(),
        if recovered_in_process {
            "in process"
        } else {
            "after a restart"
        }
    );
}

/// The same with only the log's directory full (its own tmpfs), so the failure is the
/// log's write itself: the store is degraded, not failed, and recovers in the running
/// process, by itself, once space returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_log_volume_degrades_the_store_which_recovers_in_process() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    std::fs::create_dir_all(dir.join("wal")).unwrap();
    if std::env::var_os("KUBECS_SKIP_MOUNT_TESTS").is_some() {
        return;
    }
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(dir.join("wal"))
        .status()
        .unwrap();
    assert!(status.success(), "mounting a tmpfs failed (needs root)");
    let _unmount = Tmpfs {
        _dir: tempfile::tempdir().unwrap(),
        path: dir.join("wal"),
    };
    let store = Store::open(&dir).unwrap();
    let filler = fill(&dir.join("wal"), 48 * 1024);
    let mut acknowledged = Vec::new();
    let refusal = loop {
        match register(&store, 7).await {
            Ok(revision) => acknowledged.push(revision),
            Err(TestError::Store(err)) => break err,
            Err(other) => panic!("{other}"),
        }
        assert!(
            acknowledged.len() < 100_000,
            "the log volume never filled up"
        );
    };
    assert!(matches!(refusal, StoreError::Unavailable(_)), "{refusal}");
    assert!(
        refusal.to_string().contains("No space left on device"),
        "{refusal}"
    );
    assert!(
        matches!(store.health(), Health::Degraded(_)),
        "{:?}",
        store.health()
    );
    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.health() != Health::Ok {
        assert!(
            Instant::now() < deadline,
            "never recovered: {:?}",
            store.health()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The refused registration took no number that was acknowledged.
    let next = register(&store, 8).await.unwrap();
    assert_eq!(next, acknowledged.iter().max().unwrap() + 1);
    drop(store);
    let store = Store::open(&dir).unwrap();
    let tds = task_definitions(&store);
    for revision in acknowledged.iter().copied().chain([next]) {
        assert!(
            tds.get("web", revision).unwrap().is_some(),
            "lost web:{revision}"
        );
    }
}
