//! The requests: what each scenario sends, the state it needs on a server beforehand
//! (cluster, base task definition, services to describe and scale), and the preloads that
//! fill a store. Every body is the same for kubecs and moto.

use crate::client::Conn;
use serde::Serialize;

/// The cluster every service lives in (moto needs it to exist; so does ECS).
pub const CLUSTER: &str = "bench";
/// The task definition family services run.
const BASE_FAMILY: &str = "bench-base";
/// Revisions per family in a preloaded store (ECS users keep many revisions per family).
pub const REVISIONS_PER_FAMILY: u64 = 100;

/// One container, the smallest realistic definition.
fn container_definitions() -> &'static str {
    r#"[{"name":"web","image":"public.ecr.aws/nginx/nginx:1.27","memory":512,"cpu":256,"essential":true,"portMappings":[{"containerPort":80,"protocol":"tcp"}]}]"#
}

/// What a closed-loop worker sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Scenario {
    /// A new revision of the worker's own family (so workers do not contend on one
    /// family's revision counter).
    RegisterTaskDefinition,
    /// A new service with a unique name.
    CreateService,
    /// The same 10 services, one call.
    DescribeServices10,
    /// The worker's own service, desired count changed each call (no new deployment).
    UpdateServiceScale,
    /// Pages of 100 (`maxResults` 100), following `nextToken` through the store and
    /// starting over at the end.
    ListTaskDefinitionsPage,
    /// Fills a store: revisions spread over families of [`REVISIONS_PER_FAMILY`].
    PreloadRevisions { families: u64 },
    /// Fills a store: services with unique names.
    PreloadServices,
}

/// Per-worker state carried between requests.
#[derive(Debug, Default)]
pub struct Worker {
    pub id: usize,
    next_token: Option<String>,
}

impl Worker {
    pub fn new(id: usize) -> Worker {
        Worker {
            id,
            next_token: None,
        }
    }
}

impl Scenario {
    /// The scenarios measured on the store prepared by [`prepare`], in order.
    pub const OPERATIONS: [Scenario; 4] = [
        Scenario::RegisterTaskDefinition,
        Scenario::CreateService,
        Scenario::DescribeServices10,
        Scenario::UpdateServiceScale,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Scenario::RegisterTaskDefinition => "RegisterTaskDefinition",
            Scenario::CreateService => "CreateService",
            Scenario::DescribeServices10 => "DescribeServices(10)",
            Scenario::UpdateServiceScale => "UpdateService(scale)",
            Scenario::ListTaskDefinitionsPage => "ListTaskDefinitions(100)",
            Scenario::PreloadRevisions { .. } => "preload RegisterTaskDefinition",
            Scenario::PreloadServices => "preload CreateService",
        }
    }

    pub fn operation(self) -> &'static str {
        match self {
            Scenario::RegisterTaskDefinition | Scenario::PreloadRevisions { .. } => {
                "RegisterTaskDefinition"
            }
            Scenario::CreateService | Scenario::PreloadServices => "CreateService",
            Scenario::DescribeServices10 => "DescribeServices",
            Scenario::UpdateServiceScale => "UpdateService",
            Scenario::ListTaskDefinitionsPage => "ListTaskDefinitions",
        }
    }

    /// The JSON body of request number `seq` (unique within one run) from `worker`.
    /// `tag` keeps names unique across the runs made on one server.
    pub fn body(self, tag: &str, seq: u64, worker: &Worker) -> String {
        match self {
            Scenario::RegisterTaskDefinition => format!(
                r#"{{"family":"reg-{tag}-w{}","containerDefinitions":{}}}"#,
                worker.id,
                container_definitions()
            ),
            Scenario::PreloadRevisions { families } => format!(
                r#"{{"family":"pre-{:05}","containerDefinitions":{}}}"#,
                seq % families.max(1),
                container_definitions()
            ),
            Scenario::CreateService => service_body(&format!("svc-{tag}-{seq}")),
            Scenario::PreloadServices => service_body(&format!("pre-svc-{seq}")),
            Scenario::DescribeServices10 => {
                let names: Vec<String> = (0..10).map(|i| format!(r#""desc-{i}""#)).collect();
                format!(
                    r#"{{"cluster":"{CLUSTER}","services":[{}]}}"#,
                    names.join(",")
                )
            }
            Scenario::UpdateServiceScale => format!(
                r#"{{"cluster":"{CLUSTER}","service":"upd-{}","desiredCount":{}}}"#,
                worker.id,
                seq % 3
            ),
            Scenario::ListTaskDefinitionsPage => match &worker.next_token {
                Some(token) => format!(
                    r#"{{"maxResults":100,"nextToken":{}}}"#,
                    serde_json::Value::String(token.clone())
                ),
                None => r#"{"maxResults":100}"#.to_owned(),
            },
        }
    }

    /// Reads what the next request depends on from a successful answer.
    pub fn observe(self, worker: &mut Worker, body: &[u8]) {
        if self == Scenario::ListTaskDefinitionsPage {
            // No token: the last page (or a server that does not paginate): start over.
            worker.next_token = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("nextToken")?.as_str().map(str::to_owned));
        }
    }
}

fn service_body(name: &str) -> String {
    format!(
        r#"{{"cluster":"{CLUSTER}","serviceName":"{name}","taskDefinition":"{BASE_FAMILY}","desiredCount":0}}"#
    )
}

/// Creates what the scenarios need on a fresh server: the cluster, the base task
/// definition, the 10 services DescribeServices reads, and one service per possible worker
/// for UpdateService.
pub async fn prepare(conn: &mut Conn, max_workers: usize) -> anyhow::Result<()> {
    conn.call_ok("CreateCluster", format!(r#"{{"clusterName":"{CLUSTER}"}}"#))
        .await?;
    conn.call_ok(
        "RegisterTaskDefinition",
        format!(
            r#"{{"family":"{BASE_FAMILY}","containerDefinitions":{}}}"#,
            container_definitions()
        ),
    )
    .await?;
    let names = (0..10)
        .map(|i| format!("desc-{i}"))
        .chain((0..max_workers).map(|i| format!("upd-{i}")));
    for name in names {
        conn.call_ok("CreateService", service_body(&name)).await?;
    }
    Ok(())
}

/// Creates just the cluster and base task definition (preloaded stores).
pub async fn prepare_minimal(conn: &mut Conn) -> anyhow::Result<()> {
    prepare(conn, 0).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_body_is_a_json_object() {
        let mut worker = Worker::new(3);
        let all = [
            Scenario::RegisterTaskDefinition,
            Scenario::CreateService,
            Scenario::DescribeServices10,
            Scenario::UpdateServiceScale,
            Scenario::ListTaskDefinitionsPage,
            Scenario::PreloadRevisions { families: 10 },
            Scenario::PreloadServices,
        ];
        for scenario in all {
            let body = scenario.body("c8", 42, &worker);
            let value: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert!(value.is_object(), "{body}");
        }
        worker.next_token = Some("tok\"en".into());
        let body = Scenario::ListTaskDefinitionsPage.body("c8", 0, &worker);
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["nextToken"], "tok\"en");
    }

    #[test]
    fn a_list_page_without_a_token_starts_over() {
        let mut worker = Worker::new(0);
        Scenario::ListTaskDefinitionsPage.observe(&mut worker, br#"{"nextToken":"abc"}"#);
        assert_eq!(worker.next_token.as_deref(), Some("abc"));
        Scenario::ListTaskDefinitionsPage.observe(&mut worker, br#"{"taskDefinitionArns":[]}"#);
        assert_eq!(worker.next_token, None);
    }

    #[test]
    fn preloaded_revisions_spread_over_families() {
        let worker = Worker::new(0);
        let s = Scenario::PreloadRevisions { families: 10 };
        assert!(s.body("", 13, &worker).contains(r#""family":"pre-00003""#));
    }
}
