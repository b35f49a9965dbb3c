"""Issue 2: the clusters slice through boto3 (botocore's ECS model, default retries)."""

from __future__ import annotations

import pytest

from harness import cluster_arn, describe_one, ecs_client, expect_error, expect_ok

ALL_INCLUDES = ["SETTINGS", "TAGS", "STATISTICS"]


def test_create_cluster_returns_an_active_cluster_with_zero_counts_and_container_insights_disabled(ecs):
    cluster = expect_ok(ecs, "create_cluster", clusterName="demo")["cluster"]
    assert cluster["clusterArn"] == "arn:aws:ecs:us-east-1:000000000000:cluster/demo"
    assert cluster["clusterName"] == "demo"
    assert cluster["status"] == "ACTIVE"
    for count in (
        "registeredContainerInstancesCount",
        "runningTasksCount",
        "pendingTasksCount",
        "activeServicesCount",
    ):
        assert cluster[count] == 0, count
    assert cluster["settings"] == [{"name": "containerInsights", "value": "disabled"}]


def test_create_cluster_without_a_name_creates_the_cluster_named_default(ecs):
    cluster = expect_ok(ecs, "create_cluster")["cluster"]
    assert cluster["clusterName"] == "default"
    assert cluster["clusterArn"] == cluster_arn("default")
    # DescribeClusters without `clusters` describes `default` too.
    assert [c["clusterName"] for c in ecs.describe_clusters()["clusters"]] == ["default"]


def test_create_cluster_of_an_existing_active_name_returns_that_cluster_and_creates_nothing_new(ecs):
    first = ecs.create_cluster(
        clusterName="demo", tags=[{"key": "team", "value": "a"}]
    )["cluster"]
    again = expect_ok(ecs, "create_cluster", clusterName="demo")["cluster"]
    assert again["clusterArn"] == first["clusterArn"]
    assert again["status"] == "ACTIVE"
    assert ecs.list_clusters()["clusterArns"] == [cluster_arn("demo")]
    tags = describe_one(ecs, "demo", include=["TAGS"])["cluster"]["tags"]
    assert tags == [{"key": "team", "value": "a"}]


def test_describe_clusters_finds_a_cluster_by_name_and_by_arn(ecs):
    ecs.create_cluster(clusterName="demo")
    by_name = describe_one(ecs, "demo")["cluster"]
    by_arn = describe_one(ecs, cluster_arn("demo"))["cluster"]
    assert by_name["clusterArn"] == by_arn["clusterArn"] == cluster_arn("demo")
    assert by_name["status"] == by_arn["status"] == "ACTIVE"


def test_describe_clusters_lists_unknown_clusters_as_missing_failures_next_to_known_ones(ecs):
    ecs.create_cluster(clusterName="known")
    resp = expect_ok(ecs, "describe_clusters", clusters=["known", "ghost", cluster_arn("phantom")])
    assert [c["clusterName"] for c in resp["clusters"]] == ["known"]
    assert sorted((f["arn"], f["reason"]) for f in resp["failures"]) == [
        (cluster_arn("ghost"), "MISSING"),
        (cluster_arn("phantom"), "MISSING"),
    ]


def test_describe_clusters_includes_settings_tags_and_statistics_only_when_asked(ecs):
    ecs.create_cluster(clusterName="demo", tags=[{"key": "env", "value": "dev"}])
    plain = describe_one(ecs, "demo")["cluster"]
    assert not plain.get("tags")
    assert not plain.get("statistics")
    assert not plain.get("settings")

    full = describe_one(ecs, "demo", include=ALL_INCLUDES)["cluster"]
    assert full["settings"] == [{"name": "containerInsights", "value": "disabled"}]
    assert full["tags"] == [{"key": "env", "value": "dev"}]
    stats = {s["name"]: s["value"] for s in full["statistics"]}
    assert stats, full
    assert set(stats.values()) == {"0"}
    assert "runningFargateTasksCount" in stats

    only_tags = describe_one(ecs, "demo", include=["TAGS"])["cluster"]
    assert only_tags["tags"] == [{"key": "env", "value": "dev"}]
    assert not only_tags.get("statistics")


def test_list_clusters_paginator_with_page_size_2_returns_all_5_clusters_in_order(ecs):
    names = [f"page-{i}" for i in range(5)]
    for name in names:
        ecs.create_cluster(clusterName=name)
    whole = ecs.list_clusters(maxResults=100)
    assert "nextToken" not in whole
    assert sorted(whole["clusterArns"]) == sorted(cluster_arn(n) for n in names)

    before = len(ecs._kubecs_attempts)
    pages = list(ecs.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 2}))
    assert [len(p["clusterArns"]) for p in pages] == [2, 2, 1]
    assert len(ecs._kubecs_attempts) - before == 3
    assert [arn for p in pages for arn in p["clusterArns"]] == whole["clusterArns"]
    assert all("nextToken" in p for p in pages[:-1]) and "nextToken" not in pages[-1]


def test_list_clusters_shows_only_active_clusters(ecs):
    ecs.create_cluster(clusterName="stays")
    ecs.create_cluster(clusterName="goes")
    ecs.delete_cluster(cluster="goes")
    assert ecs.list_clusters()["clusterArns"] == [cluster_arn("stays")]


def test_list_clusters_rejects_a_next_token_it_did_not_issue(ecs):
    err = expect_error(ecs, "list_clusters", code="InvalidParameterException", nextToken="bm90IGEgdG9rZW4=")
    assert "nextToken" in err.response["Error"]["Message"]


@pytest.mark.parametrize("max_results", [0, 101])
def test_list_clusters_rejects_max_results_outside_1_to_100(ecs, max_results):
    err = expect_error(ecs, "list_clusters", code="InvalidParameterException", maxResults=max_results)
    assert "maxResults" in err.response["Error"]["Message"]


def test_delete_cluster_makes_it_inactive_and_it_stays_describable(ecs):
    ecs.create_cluster(clusterName="demo")
    deleted = expect_ok(ecs, "delete_cluster", cluster="demo")["cluster"]
    assert deleted["status"] == "INACTIVE"
    assert deleted["clusterArn"] == cluster_arn("demo")
    described = describe_one(ecs, "demo")
    assert described["cluster"]["status"] == "INACTIVE"


def test_deleting_an_inactive_cluster_again_is_cluster_not_found(ecs):
    ecs.create_cluster(clusterName="demo")
    ecs.delete_cluster(cluster=cluster_arn("demo"))
    expect_error(ecs, "delete_cluster", code="ClusterNotFoundException", cluster="demo")


def test_deleting_a_cluster_that_never_existed_is_cluster_not_found(ecs):
    expect_error(ecs, "delete_cluster", code="ClusterNotFoundException", cluster="never")


def test_update_cluster_settings_changes_container_insights_and_describe_shows_it(ecs):
    ecs.create_cluster(clusterName="demo")
    updated = expect_ok(
        ecs, "update_cluster_settings",
        cluster="demo", settings=[{"name": "containerInsights", "value": "enabled"}],
    )["cluster"]
    assert updated["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    described = describe_one(ecs, "demo", include=["SETTINGS"])["cluster"]
    assert described["settings"] == [{"name": "containerInsights", "value": "enabled"}]


def test_update_cluster_settings_rejects_an_unknown_container_insights_value(ecs):
    ecs.create_cluster(clusterName="demo")
    expect_error(
        ecs, "update_cluster_settings", code="InvalidParameterException",
        cluster="demo", settings=[{"name": "containerInsights", "value": "sometimes"}],
    )
    described = describe_one(ecs, "demo", include=["SETTINGS"])["cluster"]
    assert described["settings"] == [{"name": "containerInsights", "value": "disabled"}]


def test_update_cluster_settings_of_an_unknown_cluster_is_cluster_not_found(ecs):
    expect_error(
        ecs, "update_cluster_settings", code="ClusterNotFoundException",
        cluster="ghost", settings=[{"name": "containerInsights", "value": "enabled"}],
    )


def test_update_cluster_changes_settings(ecs):
    ecs.create_cluster(clusterName="demo")
    updated = expect_ok(
        ecs, "update_cluster",
        cluster="demo", settings=[{"name": "containerInsights", "value": "enhanced"}],
    )["cluster"]
    assert updated["settings"] == [{"name": "containerInsights", "value": "enhanced"}]


@pytest.mark.parametrize("name", ["bad name", "slash/name", "dot.name", "a" * 256])
def test_create_cluster_rejects_an_invalid_name_with_invalid_parameter_exception(ecs, name):
    expect_error(ecs, "create_cluster", code="InvalidParameterException", clusterName=name)
    assert ecs.list_clusters()["clusterArns"] == []


def test_create_cluster_accepts_letters_digits_hyphens_underscores_up_to_255_characters(ecs):
    name = "Ab-9_" + "x" * 250
    assert expect_ok(ecs, "create_cluster", clusterName=name)["cluster"]["clusterName"] == name


def test_restarting_kubecs_on_the_same_data_dir_keeps_every_cluster(kubecs):
    ecs = ecs_client(kubecs.endpoint)
    for name in ("one", "two", "three"):
        ecs.create_cluster(clusterName=name, tags=[{"key": "n", "value": name}])
    ecs.update_cluster_settings(cluster="two", settings=[{"name": "containerInsights", "value": "enabled"}])
    ecs.delete_cluster(cluster="three")
    before = ecs.describe_clusters(clusters=["one", "two", "three"], include=ALL_INCLUDES)

    kubecs.restart()  # SIGTERM (must exit 0), then the same data dir on a new port
    ecs = ecs_client(kubecs.endpoint)
    after = ecs.describe_clusters(clusters=["one", "two", "three"], include=ALL_INCLUDES)
    assert after["clusters"] == before["clusters"]
    assert [c["status"] for c in after["clusters"]] == ["ACTIVE", "ACTIVE", "INACTIVE"]
    assert after["failures"] == []
    assert sorted(ecs.list_clusters()["clusterArns"]) == [cluster_arn("one"), cluster_arn("two")]


def test_create_cluster_with_the_name_of_an_inactive_cluster_makes_a_fresh_active_one(ecs):
    ecs.create_cluster(clusterName="again", tags=[{"key": "old", "value": "1"}])
    ecs.update_cluster_settings(cluster="again", settings=[{"name": "containerInsights", "value": "enabled"}])
    ecs.delete_cluster(cluster="again")
    cluster = expect_ok(ecs, "create_cluster", clusterName="again")["cluster"]
    assert cluster["status"] == "ACTIVE"
    described = describe_one(ecs, "again", include=["SETTINGS", "TAGS"])["cluster"]
    assert described["status"] == "ACTIVE"
    assert described["settings"] == [{"name": "containerInsights", "value": "disabled"}]
    assert not described.get("tags")
    assert ecs.list_clusters()["clusterArns"] == [cluster_arn("again")]


def test_describe_clusters_refuses_more_than_100_clusters(ecs):
    err = expect_error(
        ecs, "describe_clusters", code="InvalidParameterException", clusters=[f"c{i}" for i in range(101)]
    )
    assert "100" in err.response["Error"]["Message"]


def test_describe_clusters_treats_an_arn_of_another_region_as_missing(ecs):
    ecs.create_cluster(clusterName="here")
    other = "arn:aws:ecs:eu-west-1:000000000000:cluster/here"
    resp = ecs.describe_clusters(clusters=[other])
    assert resp["clusters"] == []
    assert resp["failures"] == [{"arn": other, "reason": "MISSING"}]


def test_delete_cluster_refuses_an_arn_that_is_not_a_cluster_arn(ecs):
    ecs.create_cluster(clusterName="svc")
    expect_error(
        ecs, "delete_cluster", code="InvalidParameterException",
        cluster="arn:aws:ecs:us-east-1:000000000000:service/svc",
    )
    assert describe_one(ecs, "svc")["cluster"]["status"] == "ACTIVE"
