//! `GET /metrics`: Prometheus text with the request counter by operation and error code,
//! the latency histograms, the store's size and syncs and the connection series; open to
//! scrapers without a signature; and other components' series, registered into the same
//! registry under their own prefix, on the same page.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use std::collections::HashMap;
use support::{signed_request, TestServer};

async fn scrape(server: &TestServer) -> String {
    let request = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let answer = server.send(request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    answer.text
}

/// Checks the Prometheus text format line by line (HELP and TYPE before their samples,
/// metric and label names, quoted label values, numeric values) and returns every sample
/// as `name{labels}` -> value.
fn parse_prometheus_text(text: &str) -> HashMap<String, f64> {
    let valid_name = |s: &str| {
        !s.is_empty()
            && s.chars().enumerate().all(|(i, c)| {
                c == '_' || c == ':' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())
            })
    };
    let mut typed: HashMap<String, String> = HashMap::new();
    let mut samples = HashMap::new();
    assert!(text.ends_with('\n'), "the last line is not terminated");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _help) = rest.split_once(' ').expect(line);
            assert!(valid_name(name), "{line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect(line);
            assert!(valid_name(name), "{line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(
                typed.insert(name.to_owned(), kind.to_owned()).is_none(),
                "TYPE twice: {line}"
            );
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "unexpected line: {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').expect(line);
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
        };
        let name = series.split('{').next().unwrap();
        assert!(valid_name(name), "{line}");
        if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
            let inner = labels
                .strip_prefix('{')
                .and_then(|l| l.strip_suffix('}'))
                .expect(line);
            for pair in inner.split("\",") {
                let (key, value) = pair.split_once("=\"").expect(line);
                assert!(valid_name(key), "{line}");
                assert!(!value.trim_end_matches('"').contains('"'), "{line}");
            }
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| typed.get(*f).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(name);
        assert!(typed.contains_key(family), "sample before its TYPE: {line}");
        assert!(
            samples.insert(series.to_owned(), value).is_none(),
            "twice: {line}"
        );
    }
    samples
}

#[tokio::test]
async fn requests_are_counted_by_operation_and_error_and_timed() {
    let server = TestServer::new();
    for name in ["a", "b"] {
        let answer = server
            .call("CreateCluster", json!({"clusterName": name}))
            .await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    server
        .call("DescribeClusters", json!({"clusters": ["a"]}))
        .await;
    server.call("NoSuchOperation", json!({})).await;
    server
        .send(signed_request("CreateCluster", b"not json".to_vec(), &[]))
        .await;
    // Refused before it is even authenticated: still counted under the operation named.
    let unsigned = Request::builder()
        .method("POST")
        .uri("/")
        .header(
            "x-amz-target",
            "AmazonEC2ContainerServiceV20141113.ListClusters",
        )
        .body(Body::empty())
        .unwrap();
    server.send(unsigned).await;

    let text = scrape(&server).await;
    let samples = parse_prometheus_text(&text);
    let get = |series: &str| {
        *samples
            .get(series)
            .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
    };
    assert_eq!(
        get(r#"kubecs_api_requests_total{operation="CreateCluster",error="none"}"#),
        2.0
    );
    assert_eq!(
        get(
            r#"kubecs_api_requests_total{operation="CreateCluster",error="SerializationException"}"#
        ),
        1.0
    );
    assert_eq!(
        get(r#"kubecs_api_requests_total{operation="DescribeClusters",error="none"}"#),
        1.0
    );
    assert_eq!(
        get(r#"kubecs_api_requests_total{operation="unknown",error="UnknownOperationException"}"#),
        1.0
    );
    assert_eq!(
        get(
            r#"kubecs_api_requests_total{operation="ListClusters",error="MissingAuthenticationTokenException"}"#
        ),
        1.0
    );
    // Three CreateCluster requests timed, two of them successful writes.
    assert_eq!(
        get(r#"kubecs_api_request_duration_seconds_count{operation="CreateCluster"}"#),
        3.0
    );
    assert_eq!(
        get(r#"kubecs_api_request_duration_seconds_bucket{operation="CreateCluster",le="+Inf"}"#),
        3.0
    );
    assert!(get(r#"kubecs_api_request_duration_seconds_sum{operation="CreateCluster"}"#) > 0.0);
    assert_eq!(
        get(r#"kubecs_api_write_duration_seconds_count{operation="CreateCluster"}"#),
        2.0
    );
    assert!(!samples
        .contains_key(r#"kubecs_api_write_duration_seconds_count{operation="DescribeClusters"}"#));
    // Buckets are cumulative.
    let buckets: Vec<f64> = text
        .lines()
        .filter(|l| {
            l.starts_with(r#"kubecs_api_request_duration_seconds_bucket{operation="CreateCluster""#)
        })
        .map(|l| l.rsplit_once(' ').unwrap().1.parse().unwrap())
        .collect();
    assert_eq!(buckets.len(), 15);
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    // The store, read at scrape time.
    assert!(get("kubecs_store_size_bytes") > 0.0);
    assert!(get("kubecs_store_syncs_total") >= 1.0);
    // Connections (none here: the router is driven in-process).
    assert_eq!(get("kubecs_http_connections_open"), 0.0);
    assert_eq!(
        get(r#"kubecs_http_connections_closed_total{reason="idle_timeout"}"#),
        0.0
    );
    // Health checks and scrapes are not API requests.
    assert!(!text.contains(r#"operation="-""#));
}

#[tokio::test]
async fn the_reconcilers_series_are_on_the_same_page() {
    let server = TestServer::new();
    let reconciler = &server.state.reconciler_metrics;
    reconciler.reconciled("service", std::time::Duration::from_millis(3), None);
    reconciler.reconciled(
        "service",
        std::time::Duration::from_millis(5),
        Some("kubernetes"),
    );
    reconciler.queue_depth.set(7);
    server.call("ListClusters", json!({})).await;
    let text = scrape(&server).await;
    let samples = parse_prometheus_text(&text);
    assert_eq!(
        samples[r#"kubecs_reconciler_reconciles_total{kind="service",result="ok"}"#],
        1.0
    );
    assert_eq!(
        samples[r#"kubecs_reconciler_errors_total{kind="service",reason="kubernetes"}"#],
        1.0
    );
    assert_eq!(
        samples[r#"kubecs_reconciler_reconcile_duration_seconds_count{kind="service"}"#],
        2.0
    );
    assert_eq!(samples["kubecs_reconciler_queue_depth"], 7.0);
    assert_eq!(samples["kubecs_reconciler_kubernetes_connected"], 0.0);
    assert_eq!(
        samples[r#"kubecs_api_requests_total{operation="ListClusters",error="none"}"#],
        1.0
    );
}
