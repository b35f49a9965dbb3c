//! Stopped task records are kept for at least an hour, as ECS keeps stopped tasks
//! describable, then removed, so that the tasks table stays bounded by what ran in the
//! last hour.

use std::time::Duration;

use kubecs_api_models::{Task, Timestamp};
use kubecs_storage::{Store, StoreError, Write};

/// How long a STOPPED task stays listed and describable.
pub const KEEP_STOPPED: Duration = Duration::from_secs(60 * 60);
/// How often the expired records are looked for.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5 * 60);

/// Whether a record is STOPPED since before `cutoff`.
pub fn is_expired(task: &Task, cutoff: Timestamp) -> bool {
    task.last_status.as_deref() == Some("STOPPED")
        && task
            .stopped_at
            .is_some_and(|at| at.epoch_millis() < cutoff.epoch_millis())
}

/// Removes every task record of every region STOPPED for longer than [`KEEP_STOPPED`];
/// returns how many. Each removal re-checks the record in its write, so a record written
/// again meanwhile stays.
pub async fn sweep(store: &Store, now: Timestamp) -> Result<usize, StoreError> {
    let keep = i64::try_from(KEEP_STOPPED.as_millis()).unwrap_or(i64::MAX);
    let cutoff = Timestamp::from_epoch_millis(now.epoch_millis().saturating_sub(keep));
    let mut removed = 0;
    for region in store.regions()? {
        let region = store.region(&region);
        let tasks = region.tasks();
        let placements = region.task_placements();
        let tag_table = region.tags();
        let expired: Vec<(String, String)> = tasks
            .scan_all()
            .filter_map(Result::ok)
            .filter(|(_, record)| is_expired(&record.value, cutoff))
            .map(|(key, _)| key)
            .collect();
        for key in expired {
            let gone = region
                .transaction(|tx| {
                    let gone = tx.update(&tasks, key.clone(), |current| {
                        Ok::<_, StoreError>(match current {
                            Some(r) if is_expired(&r.value, cutoff) => {
                                (Write::Delete, r.value.task_arn.clone())
                            }
                            _ => (Write::Keep, None),
                        })
                    })?;
                    if let Some(arn) = &gone {
                        // Its tags, and a standalone task's placement, go with it.
                        tx.update(&tag_table, arn.as_str(), |_| {
                            Ok::<_, StoreError>((Write::Delete, ()))
                        })?;
                        tx.update(&placements, key.clone(), |_| {
                            Ok::<_, StoreError>((Write::Delete, ()))
                        })?;
                    }
                    Ok::<_, StoreError>(gone.is_some())
                })
                .await?;
            removed += usize::from(gone);
        }
    }
    Ok(removed)
}

/// Sweeps every [`SWEEP_EVERY`], forever.
pub async fn run(store: Store) {
    loop {
        match sweep(&store, Timestamp::now()).await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "expired stopped task records"),
            Err(error) => tracing::warn!(%error, "cannot expire stopped task records"),
        }
        tokio::time::sleep(SWEEP_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubecs_api_models::Tag;
    use kubecs_storage::TaskPlacement;

    #[tokio::test]
    async fn stopped_tasks_are_kept_an_hour_then_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let region = store.region("us-east-1");
        let tasks = region.tasks();
        let placements = region.task_placements();
        let tag_table = region.tags();
        let at = |minutes: i64| Timestamp::from_epoch_millis(1_000_000_000_000 + minutes * 60_000);
        let task = |status: &str, stopped: Option<Timestamp>| Task {
            last_status: Some(status.to_owned()),
            stopped_at: stopped,
            ..Task::default()
        };
        let old = Task {
            task_arn: Some("arn:aws:ecs:us-east-1:0:task/c/old".to_owned()),
            ..task("STOPPED", Some(at(0)))
        };
        let records = [
            ("old", old),
            ("recent", task("STOPPED", Some(at(30)))),
            ("running", task("RUNNING", None)),
        ];
        region
            .transaction(|tx| {
                for (id, record) in &records {
                    let record = record.clone();
                    tx.update(&tasks, ("c", *id), |_| {
                        Ok::<_, StoreError>((Write::Put(record), ()))
                    })?;
                    tx.update(&placements, ("c", *id), |_| {
                        Ok::<_, StoreError>((Write::Put(TaskPlacement::default()), ()))
                    })?;
                }
                tx.update(&tag_table, "arn:aws:ecs:us-east-1:0:task/c/old", |_| {
                    Ok::<_, StoreError>((Write::Put(vec![Tag::default()]), ()))
                })?;
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        assert_eq!(sweep(&store, at(61)).await.unwrap(), 1);
        assert!(tasks.get(("c", "old")).unwrap().is_none());
        // Its placement and tags went with it; the others' placements stay.
        assert!(placements.get(("c", "old")).unwrap().is_none());
        assert!(tag_table
            .get("arn:aws:ecs:us-east-1:0:task/c/old")
            .unwrap()
            .is_none());
        assert!(placements.get(("c", "recent")).unwrap().is_some());
        assert!(tasks.get(("c", "recent")).unwrap().is_some());
        assert!(tasks.get(("c", "running")).unwrap().is_some());
        assert_eq!(sweep(&store, at(59)).await.unwrap(), 0);
    }
}
