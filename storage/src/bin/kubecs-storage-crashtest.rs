//! Crash-test workload: registers task-definition revisions from many concurrent tasks,
//! each together with a tag record in one transaction (as RegisterTaskDefinition does),
//! printing `family revision hash` for each one only after the store acknowledged it.
//! `tests/crash.rs` kills this process with SIGKILL at random moments and checks every
//! printed line against the reopened store; `tests/damage.rs` lets it stop writing
//! (`per-writer` revisions each, then `idle` and a sleep) before it kills it and damages
//! the files.
//!
//! Usage: kubecs-storage-crashtest <data-dir> <run-id> [writers] [per-writer]

use std::io::Write as _;
use std::path::PathBuf;

use kubecs_api_models::{ContainerDefinition, Tag, TaskDefinition, TaskDefinitionStatus};
use kubecs_storage::{Store, StoreError, Write};
use sha2::{Digest, Sha256};

const FAMILIES: [&str; 3] = ["web", "worker", "batch"];

/// The content hash both this binary and the test compute over a stored revision.
fn content_hash(td: &TaskDefinition) -> Result<String, serde_json::Error> {
    let digest = Sha256::digest(serde_json::to_vec(td)?);
    Ok(digest[..8].iter().map(|b| format!("{b:02x}")).collect())
}

fn revision_value(family: &str, revision: u32, nonce: &str) -> TaskDefinition {
    TaskDefinition {
        family: Some(family.to_string()),
        revision: i32::try_from(revision).ok(),
        status: Some(TaskDefinitionStatus::Active),
        container_definitions: Some(vec![ContainerDefinition {
            name: Some("app".into()),
            image: Some(format!("registry.example/app:{nonce}")),
            ..ContainerDefinition::default()
        }]),
        ..TaskDefinition::default()
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: <data-dir> <run-id> [writers]")?);
    let run = args.next().ok_or("missing run id")?;
    let writers: usize = args.next().map_or(Ok(32), |w| w.parse())?;
    let per_writer: u64 = args.next().map_or(Ok(u64::MAX), |n| n.parse())?;
    let store = Store::open(&dir)?;
    println!("ready");
    let mut handles = Vec::new();
    for writer in 0..writers {
        let store = store.clone();
        let run = run.clone();
        handles.push(tokio::spawn(async move {
            let family = FAMILIES[writer % FAMILIES.len()];
            let region = store.region("us-east-1");
            let (tds, tags) = (region.task_definitions(), region.tags());
            for seq in 0..per_writer {
                let nonce = format!("{run}-{writer}-{seq}");
                let (revision, record) = region
                    .transaction(|tx| {
                        let (revision, record) = tx.register_revision(&tds, family, |rev| {
                            Ok::<_, StoreError>(revision_value(family, rev, &nonce))
                        })?;
                        let tag = vec![Tag {
                            key: Some("nonce".into()),
                            value: Some(nonce.clone()),
                        }];
                        tx.update(&tags, tag_key(family, revision), |_| {
                            Ok::<_, StoreError>((Write::Put(tag), ()))
                        })?;
                        Ok::<_, StoreError>((revision, record))
                    })
                    .await?;
                let hash = content_hash(&record.value).map_err(|source| StoreError::Encode {
                    table: "task_definitions",
                    source,
                })?;
                // One write per line: stdout is line-buffered, so a line is either
                // complete in the pipe or absent when we are killed.
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{family} {revision} {hash}");
            }
            Ok::<(), StoreError>(())
        }));
    }
    for handle in handles {
        handle.await??;
    }
    println!("idle");
    std::thread::sleep(std::time::Duration::from_secs(3600));
    Ok(())
}

/// The tags table's key for a revision (its ARN's resource part is enough here).
fn tag_key(family: &str, revision: u32) -> String {
    format!("task-definition/{family}:{revision}")
}
