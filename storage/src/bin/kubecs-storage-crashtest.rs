//! Crash-test workload: registers task-definition revisions from many concurrent tasks
//! forever, printing `family revision hash` for each one only after the store
//! acknowledged it (i.e. after its flush). `tests/crash.rs` kills this process with
//! SIGKILL at random moments and checks every printed line against the reopened store.
//!
//! Usage: kubecs-storage-crashtest <data-dir> <run-id> [writers]

use std::io::Write as _;
use std::path::PathBuf;

use kubecs_api_models::{ContainerDefinition, TaskDefinition, TaskDefinitionStatus};
use kubecs_storage::{Store, StoreError};
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
    let store = Store::open(&dir)?;
    println!("ready");
    let mut handles = Vec::new();
    for writer in 0..writers {
        let store = store.clone();
        let run = run.clone();
        handles.push(tokio::spawn(async move {
            let family = FAMILIES[writer % FAMILIES.len()];
            for seq in 0u64.. {
                let nonce = format!("{run}-{writer}-{seq}");
                let (revision, record) = store
                    .task_definitions()
                    .register_revision(family, move |rev| {
                        Ok::<_, StoreError>(revision_value(family, rev, &nonce))
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
    Ok(())
}
