//! Crash test: SIGKILL the crashtest workload at random moments and check that every
//! revision it printed (printed only after acknowledgement) survived, unchanged, and that
//! no revision number was handed out twice. Runs alternate between 32 concurrent writers
//! (syncs shared) and one (a sync per write).

// Test helpers outside #[test] functions may panic too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kubecs_api_models::TaskDefinition;
use kubecs_storage::{OpenError, Store};
use rand::Rng;
use sha2::{Digest, Sha256};

const KILLS: usize = 20;

fn content_hash(td: &TaskDefinition) -> String {
    let digest = Sha256::digest(serde_json::to_vec(td).unwrap());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs the workload once with `writers` concurrent writers, kills it after `after`,
/// returns the complete lines it printed.
fn run_and_kill(
    dir: &std::path::Path,
    run: usize,
    writers: usize,
    after: Duration,
    check_lock: bool,
) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubecs-storage-crashtest"))
        .arg(dir)
        .arg(run.to_string())
        .arg(writers.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).unwrap();
        out
    });
    let start = Instant::now();
    if check_lock {
        // While the workload holds the directory, another process's open fails at once.
        std::thread::sleep(Duration::from_millis(300));
        let err = Store::open(dir).unwrap_err();
        assert!(
            matches!(err, OpenError::Locked { holder: Some(pid), .. } if pid == child.id()),
            "{err}"
        );
        assert!(err.to_string().contains(&dir.display().to_string()));
    }
    std::thread::sleep(after.saturating_sub(start.elapsed()));
    child.kill().unwrap(); // SIGKILL on Unix.
    child.wait().unwrap();
    let out = String::from_utf8(reader.join().unwrap()).unwrap();
    // Only newline-terminated lines count: the last one may have been cut by the kill.
    let complete = match out.rfind('\n') {
        Some(end) => &out[..end],
        None => "",
    };
    complete
        .lines()
        .filter(|l| *l != "ready")
        .map(str::to_string)
        .collect()
}

#[test]
fn kill_9_never_loses_an_acknowledged_revision_nor_reuses_a_number() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::rng();
    // (family, revision) -> hash, over all runs.
    let mut acknowledged: BTreeMap<(String, u32), String> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(50);
    let mut kills = 0;
    while kills < KILLS && Instant::now() < deadline {
        let after = Duration::from_millis(rng.random_range(150..900));
        let writers = if kills % 2 == 0 { 32 } else { 1 };
        let lines = run_and_kill(dir.path(), kills, writers, after, kills == 0);
        kills += 1;
        for line in &lines {
            let mut parts = line.split(' ');
            let (family, revision, hash) = (
                parts.next().unwrap().to_string(),
                parts.next().unwrap().parse::<u32>().unwrap(),
                parts.next().unwrap().to_string(),
            );
            let previous = acknowledged.insert((family.clone(), revision), hash);
            assert_eq!(previous, None, "{family}:{revision} acknowledged twice");
        }

        let store = Store::open(dir.path()).unwrap();
        let td = store.region("us-east-1").task_definitions();
        for ((family, revision), hash) in &acknowledged {
            let record = td
                .get(family, *revision)
                .unwrap()
                .unwrap_or_else(|| panic!("lost {family}:{revision} after kill {kills}"));
            assert_eq!(
                &content_hash(&record.value),
                hash,
                "{family}:{revision} changed"
            );
            assert_eq!(record.value.revision, i32::try_from(*revision).ok());
        }
        // Each revision was written with its tag in one transaction: every stored
        // revision has its tag, and no tag outlived (or preceded) its revision.
        let tagged: Vec<String> = store
            .region("us-east-1")
            .tags()
            .scan_all()
            .map(|entry| entry.unwrap().0)
            .collect();
        let revisions: Vec<String> = td
            .revisions()
            .scan_all()
            .map(|entry| {
                let ((family, revision), _) = entry.unwrap();
                format!("task-definition/{family}:{revision}")
            })
            .collect();
        let (mut tagged, mut revisions) = (tagged, revisions);
        tagged.sort();
        revisions.sort();
        assert_eq!(tagged, revisions, "revisions and tags after kill {kills}");
        // Whatever survived is a gap-free 1..=counter per family: no number skipped by a
        // half-applied write, none stored above the counter (which would be reused).
        for family in ["web", "worker", "batch"] {
            let Some(meta) = td.family(family).unwrap() else {
                continue;
            };
            let stored: Vec<u32> = td
                .page(
                    Some(family),
                    kubecs_storage::Order::Ascending,
                    None,
                    1_000_000,
                    |_| true,
                )
                .unwrap()
                .items
                .into_iter()
                .map(|k| k.1)
                .collect();
            let expected: Vec<u32> = (1..=meta.value.last_revision).collect();
            assert_eq!(stored, expected, "{family} revisions after kill {kills}");
            // The listing comes from the status index; the records themselves agree, so
            // no crash left the index and the revisions out of step.
            let records: Vec<u32> = td
                .revisions()
                .scan_all()
                .map(Result::unwrap)
                .filter(|((f, _), _)| f == family)
                .map(|((_, rev), _)| rev)
                .collect();
            assert_eq!(records, expected, "{family} records after kill {kills}");
        }
    }
    assert!(kills >= 10, "only {kills} kills fit in the time budget");
    assert!(
        acknowledged.len() > 100,
        "workload acknowledged only {}",
        acknowledged.len()
    );
    eprintln!(
        "{kills} kills, {} acknowledged revisions, all present",
        acknowledged.len()
    );
}
