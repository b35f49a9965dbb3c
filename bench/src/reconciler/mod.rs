//! `kubecs-bench reconciler`: kubecs's reconciler on a real Kubernetes control plane.
//!
//! kubecs runs as a process with its reconciler on (`--kubeconfig <cluster>`); the
//! benchmark drives it with SigV4-signed ECS calls and watches Kubernetes itself. Three
//! phases, on one ECS cluster and one task definition (one container, cpu 1, memory 8,
//! one port), each figure reported and none asserted:
//!
//! 1. **Latency samples**, one service at a time (desired count 1): from the CreateService
//!    answer to a watch seeing the Deployment; from a watch seeing the pod Ready to the
//!    first DescribeServices (polled every `--poll-ms`) that shows runningCount 1.
//! 2. **Pairs to stable**, taking turns: an ECS service (CreateService, then
//!    DescribeServices every `--stable-poll-ms` until stable) against the same Deployment
//!    applied directly in another namespace (GET every `--stable-poll-ms` until all
//!    replicas are available). The Deployment is kubecs's own, read back and renamed.
//! 3. **The burst**: DescribeServices latency sampled while idle, then `--services`
//!    one-task services created at once and swept with DescribeServices until every one
//!    is stable, while the same probe runs; then kubecs's memory.

mod cluster;
mod observer;
mod probe;
pub mod report;

use crate::cli::ReconcilerArgs;
use crate::client::Conn;
use crate::machine::{self, Machine};
use crate::procfs;
use crate::servers::Server;
use crate::stats::kib_to_mib;
use anyhow::{anyhow, bail};
use http::Method;
use observer::Observer;
use probe::{Probe, ProbeOutcome};
use report::{Burst, DirectBurst, Pair, Results, Sample, Summary};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The task definition every service runs: tiny requests, so that 110 of them fit a
/// hollow node (1 CPU, 3840Mi), and a port, so that each service also gets its ClusterIP
/// Service. Hollow nodes start no container: the image is never pulled.
const FAMILY: &str = "reconciler-bench";
const CONTAINERS: &str = r#"[{"name":"web","image":"public.ecr.aws/nginx/nginx:1.27","cpu":1,"memory":8,"essential":true,"portMappings":[{"containerPort":80,"protocol":"tcp"}]}]"#;
/// Bound on one service (or Deployment) reaching stable outside the burst.
const ONE_STABLE_LIMIT: Duration = Duration::from_secs(300);
/// Pause after the burst before memory is read (background work settles).
const SETTLE: Duration = Duration::from_secs(5);
/// Bound on removing the direct burst's namespace (its pods must be gone before the ECS
/// burst needs their room).
const DIRECT_CLEANUP_LIMIT: Duration = Duration::from_secs(600);
/// Bound on removing the run's namespaces at the end.
const CLEANUP_LIMIT: Duration = Duration::from_secs(300);

/// Runs the reconciler benchmark; writes its results unless `--no-write`.
pub fn main(args: ReconcilerArgs) -> anyhow::Result<Results> {
    let pods =
        args.services + args.latency_samples + 2 * args.stable_pairs * args.stable_desired_count;
    let nodes = args
        .nodes
        .unwrap_or_else(|| pods.div_ceil(cluster::PODS_PER_NODE).max(1));
    let kubeconfig = cluster::find_or_start(args.kubeconfig.clone(), nodes)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let results = runtime.block_on(run(&args, kubeconfig, pods))?;
    if !args.no_write {
        let stamp = machine::utc_stamp();
        let json = args
            .json
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("bench/results/reconciler-{stamp}.json")));
        report::write_json(&json, &results)?;
        println!("wrote {}", json.display());
        let md = args
            .markdown
            .clone()
            .unwrap_or_else(|| PathBuf::from("BENCHMARKS.md"));
        report::write_markdown(&md, &results)?;
        println!("wrote {}", md.display());
    }
    Ok(results)
}

async fn run(args: &ReconcilerArgs, kubeconfig: PathBuf, pods: usize) -> anyhow::Result<Results> {
    let client = cluster::client(&kubeconfig).await?;
    let kubernetes_version = cluster::server_version(&client).await;
    let (nodes, pod_capacity) = cluster::capacity(&client).await?;
    println!(
        "Kubernetes {kubernetes_version} ({}): {nodes} Ready node(s), room for {pod_capacity} pods; this run needs {pods}",
        kubeconfig.display()
    );
    if pod_capacity < pods {
        bail!(
            "the cluster has room for {pod_capacity} pods, this run needs {pods}: use more nodes (a new KUBECS_LOCAL_K8S_STATE_DIR with --nodes, or `deploy/local-k8s/down --wipe` first) or fewer --services"
        );
    }
    cluster::ensure_no_kubecs_namespaces(&client).await?;

    let mut results = Results {
        command: std::iter::once("cargo run --release -p kubecs-bench --".to_owned())
            .chain(std::env::args().skip(1))
            .collect::<Vec<_>>()
            .join(" "),
        machine: Machine::probe("python3", false),
        kubernetes_version,
        nodes,
        pod_capacity,
        kubecs_bin: args.kubecs_bin.display().to_string(),
        task_definition: serde_json::from_str(CONTAINERS)?,
        poll_ms: args.poll_ms,
        stable_poll_ms: args.stable_poll_ms,
        describe_interval_ms: args.describe_interval_ms,
        ..Results::default()
    };

    let work = tempfile::Builder::new()
        .prefix("kubecs-bench-reconciler-")
        .tempdir()?;
    let logs = work.path().join("logs");
    std::fs::create_dir_all(&logs)?;
    let (kubecs, _) = Server::start_kubecs_on(
        &args.kubecs_bin,
        &work.path().join("data"),
        &logs,
        Some(&kubeconfig),
    )
    .await?;
    println!(
        "kubecs {} (pid {}) reconciling on {}; log {}",
        kubecs.endpoint.addr,
        kubecs.pid(),
        kubeconfig.display(),
        kubecs.log_path().display()
    );
    let observer = Observer::start(&kubeconfig)?;
    let seconds = time::OffsetDateTime::now_utc().unix_timestamp();
    let cluster = format!("reconciler-bench-{seconds}");
    let direct_ns = format!("kubecs-bench-direct-{seconds}");
    results.ecs_cluster = cluster.clone();

    let outcome = phases(
        args,
        &mut results,
        &client,
        &kubecs,
        &observer,
        &cluster,
        &direct_ns,
    )
    .await;
    if let Err(e) = &outcome {
        eprintln!("kubecs-bench reconciler: {e:#}");
        eprintln!("kubecs's log: {}", kubecs.log_path().display());
    }

    // Clean up whatever happened: stop kubecs first (it would re-create what is deleted),
    // then remove the run's namespaces.
    let ecs_ns: Vec<String> = observer.with(|s| {
        let mut v: Vec<String> = s.deployments.values().map(|(ns, _)| ns.clone()).collect();
        v.sort();
        v.dedup();
        v
    });
    drop(observer);
    let kubecs_log = std::fs::read_to_string(kubecs.log_path()).unwrap_or_default();
    drop(kubecs);
    // kubecs's log (an access-log line per request, with its server-side latency)
    // outlives the work directory, for a look at what the figures do not say.
    let kept = std::env::temp_dir().join(format!(
        "kubecs-bench-reconciler-{}.log",
        machine::utc_stamp()
    ));
    if std::fs::write(&kept, &kubecs_log).is_ok() {
        println!("kubecs's log: {}", kept.display());
    }
    results.kubecs_log_warnings = kubecs_log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .take(50)
        .map(str::to_owned)
        .collect();
    let mut doomed = ecs_ns;
    doomed.push(direct_ns);
    println!("removing namespaces {}", doomed.join(", "));
    let left = cluster::delete_namespaces(&client, &doomed, CLEANUP_LIMIT).await?;
    if !left.is_empty() {
        println!(
            "still being deleted after {:.0} s: {} (a next run waits for them)",
            CLEANUP_LIMIT.as_secs_f64(),
            left.join(", ")
        );
    }
    results.machine.finish();
    outcome?;
    Ok(results)
}

async fn phases(
    args: &ReconcilerArgs,
    results: &mut Results,
    client: &kube::Client,
    kubecs: &Server,
    observer: &Observer,
    cluster: &str,
    direct_ns: &str,
) -> anyhow::Result<()> {
    let ecs = Ecs::new(cluster);
    let mut conn = Conn::open(&kubecs.endpoint).await?;
    conn.call_ok(
        "CreateCluster",
        json!({ "clusterName": cluster }).to_string(),
    )
    .await?;
    conn.call_ok(
        "RegisterTaskDefinition",
        json!({"family": FAMILY, "containerDefinitions": serde_json::from_str::<Value>(CONTAINERS)?})
            .to_string(),
    )
    .await?;
    cluster::create_namespace(client, direct_ns).await?;

    // Phase 1: one service at a time.
    println!(
        "latency samples: {} one-task services, one at a time, runningCount polled every {} ms",
        args.latency_samples, args.poll_ms
    );
    for i in 0..args.latency_samples {
        let name = format!("lat-{i:03}");
        let sample = latency_sample(&ecs, &mut conn, observer, &name, args.poll_ms).await?;
        println!(
            "  {name}: CreateService answer -> Deployment seen {:.1} ms; pod Ready -> runningCount {:.1} ms; to stable {:.0} ms",
            sample.create_to_deployment_ms, sample.ready_to_running_count_ms, sample.create_to_stable_ms
        );
        results.samples.push(sample);
    }
    results.rss_after_samples_mib = rss(kubecs);

    // The Deployment kubecs made for the first sample: the direct baselines copy it.
    let first = results
        .samples
        .first()
        .map(|s| s.service.clone())
        .ok_or_else(|| anyhow!("the baselines copy the Deployment of a latency sample: --latency-samples must be at least 1"))?;
    let ecs_ns = observer
        .with(|s| s.deployments.get(&first).map(|(ns, _)| ns.clone()))
        .ok_or_else(|| anyhow!("no namespace seen for {first}"))?;
    let template = cluster::kubecs_deployment(client, &ecs_ns, &first).await?;

    // Phase 2: ECS against the same Deployment applied directly, taking turns.
    if args.stable_pairs > 0 {
        let d = args.stable_desired_count;
        let poll = Duration::from_millis(args.stable_poll_ms);
        println!(
            "pairs: {} x (ECS service, direct Deployment), desired count {d}, both polled every {} ms",
            args.stable_pairs, args.stable_poll_ms
        );
        for i in 0..args.stable_pairs {
            let service = format!("stable-{i:03}");
            let deployment = format!("direct-{i:03}");
            let manifest = cluster::baseline_manifest(&template, direct_ns, &deployment, d)?;
            let (mut ecs_ms, mut direct_ms) = (0.0, 0.0);
            // Even pairs start with ECS, odd ones with the direct Deployment.
            for ecs_turn in [i % 2 == 0, i % 2 != 0] {
                if ecs_turn {
                    ecs_ms = ecs_to_stable(&ecs, &mut conn, &service, d, poll).await?;
                } else {
                    direct_ms =
                        direct_to_stable(client, direct_ns, &deployment, &manifest, d, poll)
                            .await?;
                }
            }
            println!(
                "  pair {i}: ECS {ecs_ms:.0} ms, direct {direct_ms:.0} ms ({:.2}x)",
                ecs_ms / direct_ms
            );
            results.pairs.push(Pair {
                ecs_service: service,
                direct_deployment: deployment,
                ecs_first: i % 2 == 0,
                ecs_to_stable_ms: ecs_ms,
                direct_to_available_ms: direct_ms,
            });
        }
        results.pair_desired_count = d;
    }

    // Phase 3: the burst, after the same number of Deployments applied directly (what
    // Kubernetes alone takes), which are removed first to make room.
    if !args.no_direct_burst {
        let namespace = format!("{direct_ns}-burst");
        results.direct_burst = Some(direct_burst(args, client, &template, &namespace).await?);
    }
    let described: Vec<String> = results
        .samples
        .iter()
        .take(10)
        .map(|s| s.service.clone())
        .collect();
    if described.is_empty() {
        bail!("the DescribeServices probe describes latency samples: --latency-samples must be at least 1");
    }
    let probe_body = ecs.describe_body(&described);
    let interval = Duration::from_millis(args.describe_interval_ms);
    println!(
        "DescribeServices({}) idle: {:.0} s, one request every {} ms",
        described.len(),
        args.idle_secs,
        args.describe_interval_ms
    );
    let idle = Probe::start(&kubecs.endpoint, probe_body.clone(), interval)?;
    tokio::time::sleep(Duration::from_secs_f64(args.idle_secs.max(0.1))).await;
    let idle = idle.finish();
    results.describe_idle = Summary::of(&idle.latencies_ms);
    results.describe_idle_errors = idle.errors;
    println!("  {}", results.describe_idle.line());

    let burst = burst(
        args,
        &ecs,
        kubecs,
        observer,
        Probe::start(&kubecs.endpoint, probe_body, interval)?,
    )
    .await?;
    results.burst = Some(burst);

    // The reconciler's own series, for the record.
    if let Ok(answer) = conn.plain(Method::GET, "/metrics").await {
        results.reconciler_metrics = String::from_utf8_lossy(&answer.body)
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains("reconciler_") && !l.contains("_bucket{"))
            .map(str::to_owned)
            .collect();
    }
    Ok(())
}

/// One service created alone: the two latencies and its time to stable.
async fn latency_sample(
    ecs: &Ecs,
    conn: &mut Conn,
    observer: &Observer,
    name: &str,
    poll_ms: u64,
) -> anyhow::Result<Sample> {
    let poll = Duration::from_millis(poll_ms);
    let sent = Instant::now();
    conn.call_ok("CreateService", ecs.create_body(name, 1))
        .await?;
    let answered = Instant::now();
    let mut running_at = None;
    let stable_at;
    loop {
        let asked = Instant::now();
        let service = ecs.describe_one(conn, name).await?;
        let now = Instant::now();
        if running_at.is_none() && running_count(&service) >= 1 {
            running_at = Some(now);
        }
        if is_stable(&service) {
            stable_at = now;
            break;
        }
        if sent.elapsed() > ONE_STABLE_LIMIT {
            bail!("{name} not stable after {ONE_STABLE_LIMIT:?}: {service}");
        }
        tokio::time::sleep_until((asked + poll).into()).await;
    }
    let limit = Duration::from_secs(10);
    let seen = observer
        .wait_for(limit, |s| s.deployments.get(name).map(|(_, at)| *at))
        .await
        .ok_or_else(|| anyhow!("no watch event for the Deployment of {name}"))?;
    let ready = observer
        .wait_for(limit, |s| s.first_ready(name))
        .await
        .ok_or_else(|| anyhow!("no watch event for a Ready pod of {name}"))?;
    let running_at = running_at.unwrap_or(stable_at);
    Ok(Sample {
        service: name.to_owned(),
        create_latency_ms: ms_between(sent, answered),
        create_to_deployment_ms: ms_between(answered, seen),
        deployment_to_ready_ms: ms_between(seen, ready),
        ready_to_running_count_ms: ms_between(ready, running_at),
        create_to_stable_ms: ms_between(sent, stable_at),
    })
}

/// CreateService, then DescribeServices every `poll` until stable: ms from sending the
/// create to the answer that shows it stable.
async fn ecs_to_stable(
    ecs: &Ecs,
    conn: &mut Conn,
    name: &str,
    desired: usize,
    poll: Duration,
) -> anyhow::Result<f64> {
    let sent = Instant::now();
    conn.call_ok("CreateService", ecs.create_body(name, desired))
        .await?;
    loop {
        let asked = Instant::now();
        let service = ecs.describe_one(conn, name).await?;
        if is_stable(&service) {
            return Ok(sent.elapsed().as_secs_f64() * 1e3);
        }
        if sent.elapsed() > ONE_STABLE_LIMIT {
            bail!("{name} not stable after {ONE_STABLE_LIMIT:?}: {service}");
        }
        tokio::time::sleep_until((asked + poll).into()).await;
    }
}

/// Applies the baseline Deployment, then GETs it every `poll` until all its replicas are
/// available: ms from sending the apply to the answer that shows it.
async fn direct_to_stable(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    manifest: &Value,
    replicas: usize,
    poll: Duration,
) -> anyhow::Result<f64> {
    let sent = Instant::now();
    cluster::apply(client, namespace, manifest).await?;
    loop {
        let asked = Instant::now();
        if cluster::is_available(client, namespace, name, replicas).await? {
            return Ok(sent.elapsed().as_secs_f64() * 1e3);
        }
        if sent.elapsed() > ONE_STABLE_LIMIT {
            bail!("Deployment {namespace}/{name} not available after {ONE_STABLE_LIMIT:?}");
        }
        tokio::time::sleep_until((asked + poll).into()).await;
    }
}

/// The burst: every service created (`--burst-concurrency` calls in flight), then swept
/// with DescribeServices(10) until all are stable, while `probe` samples latency.
async fn burst(
    args: &ReconcilerArgs,
    ecs: &Ecs,
    kubecs: &Server,
    observer: &Observer,
    probe: Probe,
) -> anyhow::Result<Burst> {
    let n = args.services;
    let names: Arc<Vec<String>> = Arc::new((0..n).map(|i| format!("burst-{i:05}")).collect());
    println!(
        "burst: {n} one-task services, {} CreateService calls in flight; DescribeServices probe running",
        args.burst_concurrency
    );
    let rss_before_mib = rss(kubecs);
    let cpu_before = procfs::cpu_time(kubecs.pid());
    let started = Instant::now();

    let next = Arc::new(AtomicUsize::new(0));
    let mut creators = tokio::task::JoinSet::new();
    for _ in 0..args.burst_concurrency.max(1) {
        let mut conn = Conn::open(&kubecs.endpoint).await?;
        let (names, next, ecs) = (Arc::clone(&names), Arc::clone(&next), ecs.clone());
        creators.spawn(async move {
            let mut errors = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(name) = names.get(i) else { break };
                if let Err(e) = conn
                    .call_ok("CreateService", ecs.create_body(name, 1))
                    .await
                {
                    errors.push(format!("{e:#}"));
                }
            }
            errors
        });
    }
    let mut create_errors = Vec::new();
    while let Some(done) = creators.join_next().await {
        create_errors.extend(done?);
    }
    let created_after = started.elapsed();
    println!(
        "  created in {:.2} s ({} errors)",
        created_after.as_secs_f64(),
        create_errors.len()
    );

    // Sweeps: DescribeServices(10) over the services not yet stable.
    let limit = Duration::from_secs_f64(args.stable_limit_secs);
    let mut conn = Conn::open(&kubecs.endpoint).await?;
    let mut pending: Vec<String> = names.to_vec();
    let mut stable_at: HashMap<String, Duration> = HashMap::new();
    let mut sweeps = 0;
    let mut last_report = Instant::now();
    while !pending.is_empty() && started.elapsed() < limit {
        sweeps += 1;
        let mut still = Vec::with_capacity(pending.len());
        for chunk in pending.chunks(10) {
            let answer = conn
                .call_ok("DescribeServices", ecs.describe_body(chunk))
                .await?;
            let at = started.elapsed();
            let body: Value = serde_json::from_slice(&answer)?;
            let services = body["services"].as_array().cloned().unwrap_or_default();
            for name in chunk {
                let service = services
                    .iter()
                    .find(|s| s["serviceName"].as_str() == Some(name.as_str()));
                match service {
                    Some(s) if is_stable(s) => {
                        stable_at.insert(name.clone(), at);
                    }
                    _ => still.push(name.clone()),
                }
            }
        }
        pending = still;
        if last_report.elapsed() > Duration::from_secs(5) {
            last_report = Instant::now();
            let (deployments, ready) = observer.with(|s| {
                let deployments = names
                    .iter()
                    .filter(|n| s.deployments.contains_key(*n))
                    .count();
                let ready = names.iter().filter(|n| s.first_ready(n).is_some()).count();
                (deployments, ready)
            });
            println!(
                "  {:>5.1} s: {} stable; watch: {deployments} Deployments, {ready} with a Ready pod; kubecs RSS {:.1} MiB",
                started.elapsed().as_secs_f64(),
                stable_at.len(),
                rss(kubecs)
            );
        }
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(args.sweep_ms)).await;
        }
    }
    let all_stable = pending.is_empty();
    let elapsed = started.elapsed();
    let loaded: ProbeOutcome = probe.finish();
    let cpu_after = procfs::cpu_time(kubecs.pid());
    println!(
        "  {} of {n} stable after {:.1} s ({sweeps} sweeps)",
        stable_at.len(),
        elapsed.as_secs_f64()
    );

    // What the watches saw of the burst: Kubernetes's share of the time.
    let (deployments_seen, pods_ready, last_deployment, last_ready, ready_to_stable) = observer
        .with(|s| {
            let mut last_deployment = None::<Duration>;
            let mut last_ready = None::<Duration>;
            let mut ready_to_stable = Vec::new();
            let (mut d, mut r) = (0, 0);
            for name in names.iter() {
                if let Some((_, at)) = s.deployments.get(name) {
                    d += 1;
                    let since = at.saturating_duration_since(started);
                    last_deployment = last_deployment.max(Some(since));
                }
                if let Some(at) = s.first_ready(name) {
                    r += 1;
                    let since = at.saturating_duration_since(started);
                    last_ready = last_ready.max(Some(since));
                    if let Some(stable) = stable_at.get(name) {
                        ready_to_stable.push((stable.as_secs_f64() - since.as_secs_f64()) * 1e3);
                    }
                }
            }
            (d, r, last_deployment, last_ready, ready_to_stable)
        });
    // The probe's figures while kubecs was applying the burst's Deployments, and after.
    let applying_until = started + last_deployment.unwrap_or(elapsed);
    let (applying, after) = loaded.split_at(applying_until);
    let cpu_secs = match (cpu_before, cpu_after) {
        (Some(b), Some(a)) => a.saturating_sub(b).as_secs_f64(),
        _ => 0.0,
    };
    let mut stable_ms: Vec<f64> = stable_at.values().map(|d| d.as_secs_f64() * 1e3).collect();
    stable_ms.sort_by(f64::total_cmp);

    tokio::time::sleep(SETTLE).await;
    let mem = procfs::memory(kubecs.pid()).unwrap_or_default();
    println!(
        "  kubecs RSS {:.1} MiB (peak {:.1} MiB) with {} services",
        kib_to_mib(mem.rss_kib),
        kib_to_mib(mem.hwm_kib),
        n
    );
    Ok(Burst {
        services: n,
        concurrency: args.burst_concurrency,
        create_errors: create_errors.len(),
        first_create_error: create_errors.into_iter().next(),
        created_secs: created_after.as_secs_f64(),
        all_stable,
        stable_count: stable_at.len(),
        to_all_stable_secs: all_stable.then(|| stable_ms.last().copied().unwrap_or(0.0) / 1e3),
        gave_up_after_secs: (!all_stable).then_some(elapsed.as_secs_f64()),
        to_stable: Summary::of(&stable_ms),
        sweeps,
        deployments_seen,
        pods_ready,
        last_deployment_seen_secs: last_deployment.map(|d| d.as_secs_f64()),
        last_pod_ready_secs: last_ready.map(|d| d.as_secs_f64()),
        pod_ready_to_stable: Summary::of(&ready_to_stable),
        kubecs_cpu_secs: cpu_secs,
        rss_before_mib,
        rss_after_mib: kib_to_mib(mem.rss_kib),
        hwm_after_mib: kib_to_mib(mem.hwm_kib),
        sweep_ms: args.sweep_ms,
        describe_loaded: Summary::of(&loaded.latencies_ms),
        describe_while_applying: Summary::of(&applying),
        describe_after_applying: Summary::of(&after),
        describe_loaded_errors: loaded.errors,
        describe_loaded_first_error: loaded.first_error,
    })
}

/// `--services` copies of kubecs's Deployment applied straight to Kubernetes (as many
/// in flight as the ECS burst's CreateService calls), timed until a watch shows every one
/// rolled out; then their namespace is deleted and awaited, to make room for the ECS burst.
async fn direct_burst(
    args: &ReconcilerArgs,
    client: &kube::Client,
    template: &k8s_openapi::api::apps::v1::Deployment,
    namespace: &str,
) -> anyhow::Result<DirectBurst> {
    let n = args.services;
    cluster::create_namespace(client, namespace).await?;
    println!(
        "direct burst: {n} copies of kubecs's Deployment applied in {namespace}, {} in flight",
        args.burst_concurrency
    );
    let seen = cluster::FirstSeen::default();
    let ready = cluster::FirstSeen::default();
    let watch = tokio::spawn(cluster::watch_rollouts(
        client.clone(),
        namespace.to_owned(),
        1,
        Arc::clone(&seen),
        Arc::clone(&ready),
    ));
    let count = |seen: &std::sync::Mutex<HashMap<String, Instant>>| {
        seen.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    };
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut appliers = tokio::task::JoinSet::new();
    for _ in 0..args.burst_concurrency.max(1) {
        let (client, next, namespace) = (client.clone(), Arc::clone(&next), namespace.to_owned());
        let template = template.clone();
        appliers.spawn(async move {
            let mut errors = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let name = format!("direct-burst-{i:05}");
                let applied = match cluster::baseline_manifest(&template, &namespace, &name, 1) {
                    Ok(m) => cluster::apply(&client, &namespace, &m).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = applied {
                    errors.push(format!("{e:#}"));
                }
            }
            errors
        });
    }
    let mut errors = Vec::new();
    while let Some(done) = appliers.join_next().await {
        errors.extend(done?);
    }
    let applied_secs = started.elapsed().as_secs_f64();
    println!("  applied in {applied_secs:.2} s ({} errors)", errors.len());
    let limit = Duration::from_secs_f64(args.stable_limit_secs);
    let mut last_report = Instant::now();
    while count(&seen) < n - errors.len().min(n) && started.elapsed() < limit {
        if last_report.elapsed() > Duration::from_secs(5) {
            last_report = Instant::now();
            println!(
                "  {:>5.1} s: {} rolled out, {} pods Ready",
                started.elapsed().as_secs_f64(),
                count(&seen),
                count(&ready)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    watch.abort();
    let (available, last) = {
        let seen = seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (seen.len(), seen.values().max().copied())
    };
    let (pods_ready, last_ready) = {
        let ready = ready
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (ready.len(), ready.values().max().copied())
    };
    let all = available == n;
    let to_all = last
        .filter(|_| all)
        .map(|t| t.saturating_duration_since(started).as_secs_f64());
    println!(
        "  {available} of {n} rolled out{}",
        to_all
            .map(|t| format!(" after {t:.1} s"))
            .unwrap_or_default()
    );
    let cleanup = Instant::now();
    println!("  deleting {namespace} to make room for the ECS burst");
    let left =
        cluster::delete_namespaces(client, &[namespace.to_owned()], DIRECT_CLEANUP_LIMIT).await?;
    if !left.is_empty() {
        bail!(
            "{namespace} is still being deleted after {DIRECT_CLEANUP_LIMIT:?}: the ECS burst would lack room"
        );
    }
    let cleanup_secs = cleanup.elapsed().as_secs_f64();
    println!("  deleted in {cleanup_secs:.1} s");
    Ok(DirectBurst {
        deployments: n,
        concurrency: args.burst_concurrency,
        apply_errors: errors.len(),
        first_apply_error: errors.into_iter().next(),
        applied_secs,
        rolled_out: available,
        pods_ready,
        last_pod_ready_secs: last_ready.map(|t| t.saturating_duration_since(started).as_secs_f64()),
        to_all_rolled_out_secs: to_all,
        gave_up_after_secs: (!all).then(|| started.elapsed().as_secs_f64()),
        cleanup_secs,
    })
}

/// Request bodies for the run's ECS cluster.
#[derive(Clone)]
struct Ecs {
    cluster: String,
}

impl Ecs {
    fn new(cluster: &str) -> Ecs {
        Ecs {
            cluster: cluster.to_owned(),
        }
    }

    fn create_body(&self, name: &str, desired: usize) -> String {
        json!({
            "cluster": self.cluster,
            "serviceName": name,
            "taskDefinition": FAMILY,
            "desiredCount": desired,
        })
        .to_string()
    }

    fn describe_body(&self, names: &[String]) -> String {
        json!({ "cluster": self.cluster, "services": names }).to_string()
    }

    async fn describe_one(&self, conn: &mut Conn, name: &str) -> anyhow::Result<Value> {
        let answer = conn
            .call_ok("DescribeServices", self.describe_body(&[name.to_owned()]))
            .await?;
        let mut body: Value = serde_json::from_slice(&answer)?;
        match body["services"].get_mut(0) {
            Some(s) => Ok(s.take()),
            None => bail!("DescribeServices did not find {name}: {body}"),
        }
    }
}

fn running_count(service: &Value) -> i64 {
    service["runningCount"].as_i64().unwrap_or(0)
}

/// Stable as `aws ecs wait services-stable` means it (one deployment, runningCount ==
/// desiredCount), and that deployment COMPLETED.
fn is_stable(service: &Value) -> bool {
    let deployments = service["deployments"].as_array();
    service["status"] == "ACTIVE"
        && running_count(service) == service["desiredCount"].as_i64().unwrap_or(-1)
        && deployments.is_some_and(|d| d.len() == 1 && d[0]["rolloutState"] == "COMPLETED")
}

fn rss(server: &Server) -> f64 {
    procfs::memory(server.pid()).map_or(0.0, |m| kib_to_mib(m.rss_kib))
}

/// `b - a` in ms, negative when `b` came first.
fn ms_between(a: Instant, b: Instant) -> f64 {
    if b >= a {
        (b - a).as_secs_f64() * 1e3
    } else {
        -((a - b).as_secs_f64() * 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_is_stable_with_one_completed_deployment_and_all_tasks_running() {
        let stable = json!({"status": "ACTIVE", "desiredCount": 1, "runningCount": 1,
            "deployments": [{"rolloutState": "COMPLETED"}]});
        assert!(is_stable(&stable));
        let rolling = json!({"status": "ACTIVE", "desiredCount": 1, "runningCount": 1,
            "deployments": [{"rolloutState": "IN_PROGRESS"}]});
        assert!(!is_stable(&rolling));
        let short = json!({"status": "ACTIVE", "desiredCount": 2, "runningCount": 1,
            "deployments": [{"rolloutState": "COMPLETED"}]});
        assert!(!is_stable(&short));
    }
}
