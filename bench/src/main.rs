//! `kubecs-bench`: measures kubecs against moto's ECS endpoint with the same SigV4-signed
//! requests in the same run, and writes the figures as JSON and into BENCHMARKS.md.
//!
//! Three phases, each on fresh stores: (1) the write and read operations on a store with a
//! cluster and a few services; (2) filling a small store for ListTaskDefinitions; (3)
//! filling a large one (100,000 revisions and 10,000 services by default), then
//! ListTaskDefinitions on both, then kubecs's memory and the time to reopen the large
//! store. kubecs and moto take turns on each (scenario, concurrency), and the small and
//! the large store take turns on each concurrency, so that noise from the shared machine
//! (its speed swings by 2× within minutes) hits both sides of each ratio alike.
//!
//! `kubecs-bench reconciler` measures kubecs's reconciler on a real Kubernetes control
//! plane instead ([`reconciler`]).

mod cli;
mod client;
mod load;
mod machine;
mod procfs;
mod reconciler;
mod report;
mod scenarios;
mod servers;
mod stats;

use anyhow::Context;
use clap::Parser;
use client::Conn;
use report::{LargeStore, Preload, Results};
use scenarios::Scenario;
use servers::Server;
use stats::{kib_to_mib, RunStats};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Concurrency of the preloads (fills stores through the API, as a busy client would).
const PRELOAD_CONCURRENCY: usize = 64;
/// Bound on each kubecs preload; far above what it needs (seconds), so that hitting it
/// means something is wrong rather than slow.
const KUBECS_PRELOAD_LIMIT: Duration = Duration::from_secs(600);

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if let Some(cli::Command::Reconciler(args)) = cli.command {
        return match reconciler::main(args) {
            Ok(_) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("kubecs-bench reconciler: {err:#}");
                ExitCode::FAILURE
            }
        };
    }
    let settings = cli.settings();
    // One thread for the load generator: it shares the 2 cores with the server it
    // measures, and must not take more than one of them.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("kubecs-bench: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&settings)) {
        Ok(results) => {
            let failed = results.failed_requests();
            if failed > 0 {
                eprintln!("kubecs-bench: {failed} request(s) failed");
                ExitCode::FAILURE
            } else {
                println!("kubecs-bench: no request failed");
                ExitCode::SUCCESS
            }
        }
        Err(err) => {
            eprintln!("kubecs-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(s: &cli::Settings) -> anyhow::Result<Results> {
    let work = tempfile::Builder::new().prefix("kubecs-bench-").tempdir()?;
    let logs = work.path().join("logs");
    std::fs::create_dir_all(&logs)?;
    let mut results = Results {
        command: std::iter::once("cargo run --release -p kubecs-bench --".to_owned())
            .chain(std::env::args().skip(1))
            .collect::<Vec<_>>()
            .join(" "),
        smoke: s.smoke,
        machine: machine::Machine::probe(&s.python, s.moto),
        duration_secs: s.duration.as_secs_f64(),
        concurrency: s.concurrency.clone(),
        runs: Vec::new(),
        preloads: Vec::new(),
        large_store: None,
        notes: Vec::new(),
    };
    println!(
        "kubecs-bench: {} vs {}; work dir {}",
        s.kubecs_bin.display(),
        if s.moto { "moto" } else { "nothing (no moto)" },
        work.path().display()
    );
    let moto = match s.moto {
        true => Some(Server::start_moto(&s.python, &logs).await?),
        false => None,
    };
    let max_workers = s.concurrency.iter().copied().max().unwrap_or(1);

    // Phase 1: the operations.
    {
        let (kubecs, _) =
            Server::start_kubecs(&s.kubecs_bin, &work.path().join("ops"), &logs).await?;
        for server in std::iter::once(&kubecs).chain(moto.as_ref()) {
            scenarios::prepare(&mut Conn::open(&server.endpoint).await?, max_workers)
                .await
                .with_context(|| format!("preparing {}", server.kind.name()))?;
        }
        for scenario in Scenario::OPERATIONS {
            if !s.selected(scenario.label()) {
                continue;
            }
            for &c in &s.concurrency {
                measure_pair(s, &mut results, &kubecs, moto.as_ref(), scenario, "ops", c).await?;
            }
        }
    }

    if !s.selected(Scenario::ListTaskDefinitionsPage.label()) {
        return finish(s, results, moto);
    }

    // Phase 2: the small store, listed in phase 3 in turns with the large one.
    let small_label = format!("{} revisions", thousands(s.small_revisions));
    let (small, _) = Server::start_kubecs(&s.kubecs_bin, &work.path().join("small"), &logs).await?;
    if let Some(m) = &moto {
        m.reset_moto().await?;
    }
    for server in std::iter::once(&small).chain(moto.as_ref()) {
        scenarios::prepare_minimal(&mut Conn::open(&server.endpoint).await?).await?;
        preload_revisions(
            &mut results,
            server,
            s.small_revisions,
            KUBECS_PRELOAD_LIMIT,
        )
        .await?;
    }

    // Phase 3: the large store, kubecs first (moto may take minutes to fill).
    let large_label = format!("{} revisions", thousands(s.large_revisions));
    let large_dir = work.path().join("large");
    let mut large = LargeStore {
        revisions: s.large_revisions,
        services: s.large_services,
        ..LargeStore::default()
    };
    {
        let (kubecs, _) = Server::start_kubecs(&s.kubecs_bin, &large_dir, &logs).await?;
        scenarios::prepare_minimal(&mut Conn::open(&kubecs.endpoint).await?).await?;
        preload_revisions(
            &mut results,
            &kubecs,
            s.large_revisions,
            KUBECS_PRELOAD_LIMIT,
        )
        .await?;
        preload(
            &mut results,
            &kubecs,
            Scenario::PreloadServices,
            "services",
            s.large_services,
            KUBECS_PRELOAD_LIMIT,
        )
        .await?;
        // Let the store's background writes after a large preload finish, so they are not
        // billed to the first measured run.
        tokio::time::sleep(s.settle).await;
        let mem = procfs::memory(kubecs.pid()).unwrap_or_default();
        (large.rss_after_preload_mib, large.hwm_after_preload_mib) =
            (kib_to_mib(mem.rss_kib), kib_to_mib(mem.hwm_kib));
        let list = Scenario::ListTaskDefinitionsPage;
        for &c in &s.concurrency {
            let small_store = (&small, moto.as_ref(), &small_label);
            for (server, peer, label) in [small_store, (&kubecs, None, &large_label)] {
                measure_pair(s, &mut results, server, peer, list, label, c).await?;
            }
        }
        let mem = procfs::memory(kubecs.pid()).unwrap_or_default();
        (large.rss_after_list_runs_mib, large.hwm_after_list_runs_mib) =
            (kib_to_mib(mem.rss_kib), kib_to_mib(mem.hwm_kib));
    } // Dropping the server stops it: SIGTERM, drain, flush.
    drop(small);
    {
        let (kubecs, open) = Server::start_kubecs(&s.kubecs_bin, &large_dir, &logs).await?;
        large.open_to_healthy_ms = open.as_secs_f64() * 1e3;
        large.rss_after_open_mib =
            procfs::memory(kubecs.pid()).map_or(0.0, |m| kib_to_mib(m.rss_kib));
        let c = max_workers;
        let label = format!("{large_label}, after restart");
        measure_pair(
            s,
            &mut results,
            &kubecs,
            None,
            Scenario::ListTaskDefinitionsPage,
            &label,
            c,
        )
        .await?;
        let mem = procfs::memory(kubecs.pid()).unwrap_or_default();
        (
            large.rss_after_reopen_list_mib,
            large.hwm_after_reopen_list_mib,
        ) = (kib_to_mib(mem.rss_kib), kib_to_mib(mem.hwm_kib));
        large.disk_mib = dir_size(&large_dir) as f64 / (1024.0 * 1024.0);
    }
    results.large_store = Some(large);

    if let Some(m) = &moto {
        if s.moto_large_revisions > 0 {
            m.reset_moto().await?;
            scenarios::prepare_minimal(&mut Conn::open(&m.endpoint).await?).await?;
            let created = preload_revisions(
                &mut results,
                m,
                s.moto_large_revisions,
                s.moto_preload_budget,
            )
            .await?;
            let label = format!("{} revisions", thousands(created));
            for &c in &s.concurrency {
                let stats = measure(s, m, Scenario::ListTaskDefinitionsPage, &label, c).await?;
                report::print_pair(&stats, None);
                results.runs.push(stats);
            }
            results.notes.push(format!(
                "moto's large ListTaskDefinitions run is on {} revisions (asked for {} within a {:.0} s preload budget), not {}: filling moto through its API is too slow for more in a bounded run.",
                thousands(created), thousands(s.moto_large_revisions), s.moto_preload_budget.as_secs_f64(), thousands(s.large_revisions)
            ));
        }
        results.notes.push("moto ignores maxResults and nextToken on ListTaskDefinitions: each of its answers lists every ACTIVE revision (1,000 ARNs on the small store), while kubecs answers pages of 100.".into());
    }
    results.notes.push(format!(
        "Stores hold one more revision than stated (the `bench-base` family the services run), and the small and large stores spread revisions over families of {} each.",
        scenarios::REVISIONS_PER_FAMILY
    ));
    results.notes.push("The load generator runs on one thread of the same 2-core machine as the server; its own CPU per request is in the JSON (`client_cpu_us_per_request`).".into());
    finish(s, results, moto)
}

/// Stops moto, stamps the end load and writes the results where asked.
fn finish(
    s: &cli::Settings,
    mut results: Results,
    moto: Option<Server>,
) -> anyhow::Result<Results> {
    results.machine.finish();
    drop(moto);

    if let Some(path) = &s.json {
        report::write_json(path, &results)?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &s.markdown {
        report::write_markdown(path, &results)?;
        println!("wrote {}", path.display());
    }
    Ok(results)
}

/// Runs one (scenario, concurrency) on kubecs, then on moto, and prints them side by side.
async fn measure_pair(
    s: &cli::Settings,
    results: &mut Results,
    kubecs: &Server,
    moto: Option<&Server>,
    scenario: Scenario,
    store: &str,
    c: usize,
) -> anyhow::Result<()> {
    let k = measure(s, kubecs, scenario, store, c).await?;
    let m = match moto {
        Some(m) => Some(measure(s, m, scenario, store, c).await?),
        None => None,
    };
    report::print_pair(&k, m.as_ref());
    results.runs.push(k);
    results.runs.extend(m);
    Ok(())
}

async fn measure(
    s: &cli::Settings,
    server: &Server,
    scenario: Scenario,
    store: &str,
    c: usize,
) -> anyhow::Result<RunStats> {
    let tag = format!("c{c}-{}", short_tag(store));
    let outcome = load::closed_loop(
        &server.endpoint,
        server.pid(),
        scenario,
        &tag,
        c,
        s.duration,
        cli::MAX_REQUESTS_PER_RUN,
    )
    .await?;
    let memory = procfs::memory(server.pid()).unwrap_or_default();
    Ok(RunStats::new(
        server.kind,
        scenario.label(),
        store,
        c,
        outcome,
        memory,
    ))
}

/// Fills `server` with `count` revisions (families of 100) within `limit`; returns how
/// many were created.
async fn preload_revisions(
    results: &mut Results,
    server: &Server,
    count: u64,
    limit: Duration,
) -> anyhow::Result<u64> {
    let families = count.div_ceil(scenarios::REVISIONS_PER_FAMILY).max(1);
    preload(
        results,
        server,
        Scenario::PreloadRevisions { families },
        "task definition revisions",
        count,
        limit,
    )
    .await
}

async fn preload(
    results: &mut Results,
    server: &Server,
    scenario: Scenario,
    what: &str,
    count: u64,
    limit: Duration,
) -> anyhow::Result<u64> {
    let started = Instant::now();
    let outcome = load::closed_loop(
        &server.endpoint,
        server.pid(),
        scenario,
        "pre",
        PRELOAD_CONCURRENCY,
        limit,
        count,
    )
    .await?;
    let created = outcome.requests - outcome.errors;
    println!(
        "preloaded {created} of {count} {what} into {} in {:.1} s ({} errors){}",
        server.kind.name(),
        started.elapsed().as_secs_f64(),
        outcome.errors,
        outcome
            .first_error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default()
    );
    results.preloads.push(Preload {
        server: server.kind,
        what: what.to_owned(),
        requested: count,
        created,
        errors: outcome.errors,
        seconds: outcome.elapsed.as_secs_f64(),
        concurrency: PRELOAD_CONCURRENCY,
    });
    Ok(created)
}

/// A name-safe form of a store label, for unique resource names.
fn short_tag(store: &str) -> String {
    store
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(16)
        .collect()
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Bytes of all files under `dir`.
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
