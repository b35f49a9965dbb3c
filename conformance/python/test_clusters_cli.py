"""Issue 2: the clusters slice through the aws CLI (the pinned awscli, `python -m awscli`),
exactly as the README's quickstart uses it."""

from __future__ import annotations

from harness import cluster_arn, expect_cli_error, expect_cli_ok


def test_aws_ecs_create_cluster_prints_the_active_cluster(aws):
    cluster = expect_cli_ok(aws("create-cluster", "--cluster-name", "demo"))["cluster"]
    assert cluster["clusterArn"] == "arn:aws:ecs:us-east-1:000000000000:cluster/demo"
    assert cluster["clusterName"] == "demo"
    assert cluster["status"] == "ACTIVE"
    assert cluster["registeredContainerInstancesCount"] == 0
    assert cluster["runningTasksCount"] == 0
    assert cluster["pendingTasksCount"] == 0
    assert cluster["activeServicesCount"] == 0
    assert cluster["settings"] == [{"name": "containerInsights", "value": "disabled"}]


def test_aws_ecs_create_cluster_of_an_existing_active_name_prints_the_same_cluster(aws):
    first = expect_cli_ok(aws("create-cluster", "--cluster-name", "demo"))["cluster"]
    again = expect_cli_ok(aws("create-cluster", "--cluster-name", "demo"))["cluster"]
    assert again["clusterArn"] == first["clusterArn"]
    assert again["status"] == "ACTIVE"


def test_aws_ecs_describe_clusters_by_name_and_arn_with_unknown_as_missing_and_includes(aws, ecs):
    ecs.create_cluster(clusterName="demo", tags=[{"key": "env", "value": "dev"}])
    out = expect_cli_ok(aws(
        "describe-clusters", "--clusters", "demo", cluster_arn("demo"), "ghost",
        "--include", "SETTINGS", "TAGS", "STATISTICS",
    ))
    assert [c["clusterArn"] for c in out["clusters"]] == [cluster_arn("demo")] * 2
    for cluster in out["clusters"]:
        assert cluster["status"] == "ACTIVE"
        assert cluster["settings"] == [{"name": "containerInsights", "value": "disabled"}]
        assert cluster["tags"] == [{"key": "env", "value": "dev"}]
        assert {s["value"] for s in cluster["statistics"]} == {"0"}
    assert out["failures"] == [{"arn": cluster_arn("ghost"), "reason": "MISSING"}]


def test_aws_ecs_list_clusters_auto_paginates_over_every_page(aws, ecs, kubecs):
    names = [f"cli-{i}" for i in range(5)]
    for name in names:
        ecs.create_cluster(clusterName=name)
    before = len(kubecs.api_requests())
    result = aws("list-clusters", "--page-size", "2")
    out = expect_cli_ok(result)
    assert result.attempts == 3  # pages of 2, 2 and 1
    assert [r["operation"] for r in kubecs.api_requests()[before:]] == ["ListClusters"] * 3
    assert sorted(out["clusterArns"]) == sorted(cluster_arn(n) for n in names)
    assert out["clusterArns"] == ecs.list_clusters()["clusterArns"]


def test_aws_ecs_list_clusters_resumes_from_its_starting_token(aws, ecs):
    names = [f"tok-{i}" for i in range(5)]
    for name in names:
        ecs.create_cluster(clusterName=name)
    first = expect_cli_ok(aws("list-clusters", "--max-items", "3", "--page-size", "2"))
    assert len(first["clusterArns"]) == 3
    rest = expect_cli_ok(aws("list-clusters", "--starting-token", first["NextToken"], "--page-size", "2"))
    assert "NextToken" not in rest
    assert first["clusterArns"] + rest["clusterArns"] == ecs.list_clusters()["clusterArns"]


def test_aws_ecs_delete_cluster_prints_it_inactive_and_deleting_again_fails_cluster_not_found(aws, ecs):
    ecs.create_cluster(clusterName="demo")
    deleted = expect_cli_ok(aws("delete-cluster", "--cluster", "demo"))["cluster"]
    assert deleted["status"] == "INACTIVE"
    described = expect_cli_ok(aws("describe-clusters", "--clusters", "demo"))
    assert [c["status"] for c in described["clusters"]] == ["INACTIVE"]
    assert expect_cli_ok(aws("list-clusters"))["clusterArns"] == []
    expect_cli_error(aws("delete-cluster", "--cluster", "demo"), "ClusterNotFoundException")


def test_aws_ecs_update_cluster_settings_changes_container_insights(aws, ecs):
    ecs.create_cluster(clusterName="demo")
    updated = expect_cli_ok(aws(
        "update-cluster-settings", "--cluster", "demo",
        "--settings", "name=containerInsights,value=enabled",
    ))["cluster"]
    assert updated["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    described = expect_cli_ok(aws("describe-clusters", "--clusters", "demo", "--include", "SETTINGS"))
    assert described["clusters"][0]["settings"] == [{"name": "containerInsights", "value": "enabled"}]


def test_aws_ecs_create_cluster_with_an_invalid_name_fails_invalid_parameter_without_retry(aws):
    result = expect_cli_error(aws("create-cluster", "--cluster-name", "no spaces"), "InvalidParameterException")
    assert "no spaces" in result.error_message
    assert expect_cli_ok(aws("list-clusters"))["clusterArns"] == []


def test_aws_ecs_describe_clusters_with_an_unknown_include_fails_invalid_parameter(aws):
    expect_cli_error(aws("describe-clusters", "--include", "NOPE"), "InvalidParameterException")


def test_aws_ecs_sees_every_cluster_after_kubecs_restarts(aws, ecs, kubecs):
    for name in ("keep-a", "keep-b"):
        ecs.create_cluster(clusterName=name)
    ecs.delete_cluster(cluster="keep-b")
    kubecs.restart()
    out = expect_cli_ok(aws(
        "describe-clusters", "--clusters", "keep-a", "keep-b", endpoint=kubecs.endpoint,
    ))
    assert [(c["clusterName"], c["status"]) for c in out["clusters"]] == [
        ("keep-a", "ACTIVE"), ("keep-b", "INACTIVE"),
    ]
    listed = expect_cli_ok(aws("list-clusters", endpoint=kubecs.endpoint))
    assert listed["clusterArns"] == [cluster_arn("keep-a")]
