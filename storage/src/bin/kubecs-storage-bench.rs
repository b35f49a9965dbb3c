//! Storage benchmark (not a test): registrations per second with 1, 8 and 64 concurrent
//! writers; open time and resident memory of a store with 100,000 revisions and 10,000
//! services; time to list pages of 100 task definitions (walking the whole listing from
//! a cold start, and the same page repeatedly) in stores of 1,000 and 100,000 revisions.
//! How to run it and what it measures: storage/BENCH.md.
//!
//! Usage: kubecs-storage-bench <work-dir>
//! (`kubecs-storage-bench measure-open <data-dir>` is the child process it starts, so
//! open time and RSS are measured in a process that did nothing else.)

use std::path::Path;
use std::time::{Duration, Instant};

use kubecs_api_models::{
    ContainerDefinition, PortMapping, Service, TaskDefinition, TaskDefinitionStatus,
};
use kubecs_storage::{Order, PageToken, Store, StoreError, Write};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn task_definition(family: &str, revision: u32) -> TaskDefinition {
    // About 600 bytes of JSON, like a small real task definition.
    TaskDefinition {
        family: Some(family.to_string()),
        revision: i32::try_from(revision).ok(),
        status: Some(TaskDefinitionStatus::Active),
        task_definition_arn: Some(format!(
            "arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:{revision}"
        )),
        cpu: Some("256".into()),
        memory: Some("512".into()),
        container_definitions: Some(vec![ContainerDefinition {
            name: Some("app".into()),
            image: Some(format!(
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/{family}:v{revision}"
            )),
            cpu: Some(256),
            memory: Some(512),
            essential: Some(true),
            command: Some(vec!["/bin/server".into(), "--port".into(), "8080".into()]),
            port_mappings: Some(vec![PortMapping {
                container_port: Some(8080),
                host_port: Some(8080),
                ..PortMapping::default()
            }]),
            ..ContainerDefinition::default()
        }]),
        ..TaskDefinition::default()
    }
}

/// Registers revisions from `writers` tasks for `duration`; returns registrations/s.
async fn registrations_per_second(
    store: &Store,
    writers: usize,
    duration: Duration,
) -> Result<f64, BoxError> {
    let deadline = Instant::now() + duration;
    let start = Instant::now();
    let mut handles = Vec::new();
    for w in 0..writers {
        let tds = store.region("us-east-1").task_definitions();
        handles.push(tokio::spawn(async move {
            let family = format!("rate-{}", w % 8);
            let mut n = 0u64;
            while Instant::now() < deadline {
                let name = family.clone();
                tds.register_revision(&family, move |rev| {
                    Ok::<_, StoreError>(task_definition(&name, rev))
                })
                .await?;
                n += 1;
            }
            Ok::<u64, StoreError>(n)
        }));
    }
    let mut total = 0;
    for h in handles {
        total += h.await??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Fills a store with `families` × `per_family` revisions and `services` services.
async fn fill(
    store: &Store,
    families: usize,
    per_family: usize,
    services: usize,
) -> Result<(), BoxError> {
    let writers = 64;
    let mut handles = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let tds = store.region("us-east-1").task_definitions();
            for f in (w..families).step_by(writers) {
                let family = format!("family-{f:05}");
                for _ in 0..per_family {
                    let name = family.clone();
                    tds.register_revision(&family, move |rev| {
                        Ok::<_, StoreError>(task_definition(&name, rev))
                    })
                    .await?;
                }
            }
            let svc = store.region("us-east-1").services();
            for s in (w..services).step_by(writers) {
                let name = format!("service-{s:05}");
                let cluster = format!("cluster-{:02}", s % 10);
                let value = Service {
                    service_name: Some(name.clone()),
                    cluster_arn: Some(format!(
                        "arn:aws:ecs:us-east-1:123456789012:cluster/{cluster}"
                    )),
                    status: Some("ACTIVE".into()),
                    desired_count: Some(2),
                    task_definition: Some(format!(
                        "arn:aws:ecs:us-east-1:123456789012:task-definition/family-{:05}:1",
                        s % families.max(1)
                    )),
                    ..Service::default()
                };
                let value = kubecs_storage::ServiceState {
                    service: value,
                    ..Default::default()
                };
                svc.update((cluster.as_str(), name.as_str()), |_| {
                    Ok::<_, StoreError>((Write::Put(value.clone()), ()))
                })
                .await?;
            }
            Ok::<(), StoreError>(())
        }));
    }
    for h in handles {
        h.await??;
    }
    Ok(())
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Median time of listing the same page of 100 revisions again and again (hot in the
/// cache): the first page ascending, the page at `middle`, the first page descending.
fn page_times(
    store: &Store,
    middle: Option<&PageToken>,
) -> Result<Vec<(&'static str, Duration)>, BoxError> {
    let tds = store.region("us-east-1").task_definitions();
    let mut out = Vec::new();
    let cases: [(&'static str, Option<&PageToken>, Order); 3] = [
        ("first page, ascending", None, Order::Ascending),
        ("page from the middle, ascending", middle, Order::Ascending),
        ("first page, descending", None, Order::Descending),
    ];
    for (name, token, order) in cases {
        let mut samples = Vec::new();
        for _ in 0..200 {
            let start = Instant::now();
            let page = tds.page(None, order, token, 100, |status| {
                status == TaskDefinitionStatus::Active.as_str()
            })?;
            samples.push(start.elapsed());
            if page.items.len() != 100 {
                return Err(format!("{name}: page of {} items", page.items.len()).into());
            }
        }
        samples.sort();
        out.push((name, samples[samples.len() / 2]));
    }
    Ok(out)
}

/// A walk through the whole listing, as a client paging through everything does it.
struct Walk {
    pages: usize,
    median: Duration,
    p99: Duration,
    /// The token of the page half-way through, for `page_times`.
    middle: Option<PageToken>,
}

/// ListTaskDefinitions over the whole store: pages of 100 with the ACTIVE filter, each
/// resumed from the previous token. Run first after open, so it starts cold; unlike
/// `page_times` it touches every entry once, so it shows what a store larger than the
/// page cache costs.
fn walk_times(store: &Store) -> Result<Walk, BoxError> {
    let tds = store.region("us-east-1").task_definitions();
    let mut token: Option<PageToken> = None;
    let mut tokens = Vec::new();
    let mut samples = Vec::new();
    loop {
        let start = Instant::now();
        let page = tds.page(None, Order::Ascending, token.as_ref(), 100, |status| {
            status == TaskDefinitionStatus::Active.as_str()
        })?;
        samples.push(start.elapsed());
        token = page.next_token;
        match &token {
            Some(t) => tokens.push(t.clone()),
            None => break,
        }
    }
    let middle = tokens.get(tokens.len() / 2).cloned();
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    Ok(Walk {
        pages: samples.len(),
        median: at(0.5),
        p99: at(0.99),
        middle,
    })
}

fn measure_open(dir: &Path) -> Result<(), BoxError> {
    let rss_before = rss_kib().unwrap_or(0);
    let start = Instant::now();
    let store = Store::open(dir)?;
    let open = start.elapsed();
    let rss_open = rss_kib().unwrap_or(0);
    // Listing first, before anything else reads the store, so its RSS is its own.
    let walk = walk_times(&store)?;
    let rss_walked = rss_kib().unwrap_or(0);
    let pages = page_times(&store, walk.middle.as_ref())?;
    let rss_paged = rss_kib().unwrap_or(0);
    // Worst case: every record read once (the reconciler's start-up resync).
    let mut revisions = 0;
    for r in store
        .region("us-east-1")
        .task_definitions()
        .revisions()
        .scan_all()
    {
        r?;
        revisions += 1;
    }
    let mut services = 0;
    for r in store.region("us-east-1").services().scan_all() {
        r?;
        services += 1;
    }
    let rss_scanned = rss_kib().unwrap_or(0);
    println!(
        "store: {revisions} revisions, {services} services, {:.1} MiB on disk",
        store.size_on_disk()? as f64 / 1048576.0
    );
    println!("open: {:.1} ms", open.as_secs_f64() * 1000.0);
    println!(
        "walk of the whole listing (cold), {} pages of 100: {:.3} ms median, {:.3} ms p99 per page",
        walk.pages,
        walk.median.as_secs_f64() * 1000.0,
        walk.p99.as_secs_f64() * 1000.0
    );
    for (name, t) in pages {
        println!(
            "page of 100 ({name}): {:.3} ms (median of 200)",
            t.as_secs_f64() * 1000.0
        );
    }
    println!(
        "RSS: {:.1} MiB before open, {:.1} MiB after open, {:.1} MiB after the walk, {:.1} MiB after paging, {:.1} MiB after scanning all {} records",
        rss_before as f64 / 1024.0,
        rss_open as f64 / 1024.0,
        rss_walked as f64 / 1024.0,
        rss_paged as f64 / 1024.0,
        rss_scanned as f64 / 1024.0,
        revisions + services
    );
    Ok(())
}

fn run_child(dir: &Path) -> Result<(), BoxError> {
    let status = std::process::Command::new(std::env::current_exe()?)
        .arg("measure-open")
        .arg(dir)
        .status()?;
    if !status.success() {
        return Err(format!("measure-open failed: {status}").into());
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, dir] if cmd == "measure-open" => measure_open(Path::new(dir)),
        [work] => {
            let work = Path::new(work);
            std::fs::create_dir_all(work)?;
            for writers in [1, 8, 64] {
                let dir = work.join(format!("rate-{writers}"));
                let _ = std::fs::remove_dir_all(&dir);
                let store = Store::open(&dir)?;
                let rate =
                    registrations_per_second(&store, writers, Duration::from_secs(5)).await?;
                println!(
                    "registrations/s with {writers:>2} writers: {rate:.0} ({} log syncs)",
                    store.flush_count()
                );
            }
            for (name, families, per_family, services) in
                [("small", 10, 100, 100), ("large", 1000, 100, 10_000)]
            {
                let dir = work.join(name);
                let _ = std::fs::remove_dir_all(&dir);
                let start = Instant::now();
                {
                    let store = Store::open(&dir)?;
                    fill(&store, families, per_family, services).await?;
                    store.flush().await?;
                }
                println!(
                    "\n== {name} store: filled in {:.1} s",
                    start.elapsed().as_secs_f64()
                );
                run_child(&dir)?;
            }
            Ok(())
        }
        _ => Err("usage: kubecs-storage-bench <work-dir>".into()),
    }
}
