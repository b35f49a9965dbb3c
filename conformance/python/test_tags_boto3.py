"""Issue 5: TagResource, UntagResource and ListTagsForResource through boto3 on the three
kinds of resource kubecs hands out ARNs for here — a cluster, a service, a task definition
revision — with ECS's limits (50 tags, key 128 / value 256 characters, the reserved `aws:`
prefix) and its errors for unknown resources and invalid ARNs."""

from __future__ import annotations

import pytest

from harness import (
    cluster_arn,
    expect_error,
    expect_ok,
    register_web,
    service_arn,
    task_definition_arn,
)

KINDS = ["cluster", "service", "task_definition"]


@pytest.fixture
def resources(ecs):
    """The default cluster, service `api` in it and task definition web:1; their ARNs by kind."""
    ecs.create_cluster()
    register_web(ecs, "web")
    ecs.create_service(serviceName="api", taskDefinition="web", desiredCount=0)
    return {
        "cluster": cluster_arn("default"),
        "service": service_arn("api"),
        "task_definition": task_definition_arn("web", 1),
    }


def tags_of(client, arn: str) -> list[dict]:
    return client.list_tags_for_resource(resourceArn=arn)["tags"]


def tag(key: str, value: str = "v") -> dict:
    return {"key": key, "value": value}


@pytest.mark.parametrize("kind", KINDS)
def test_tags_are_added_merged_by_key_removed_and_listed_on_each_kind_of_resource(ecs, resources, kind):
    arn = resources[kind]
    assert expect_ok(ecs, "list_tags_for_resource", resourceArn=arn)["tags"] == []
    resp = expect_ok(ecs, "tag_resource", resourceArn=arn, tags=[tag("a", "1"), tag("b", "2")])
    assert set(resp) == {"ResponseMetadata"}  # an empty answer
    expect_ok(ecs, "tag_resource", resourceArn=arn, tags=[tag("a", "9"), tag("c", "3")])
    assert tags_of(ecs, arn) == [tag("a", "9"), tag("b", "2"), tag("c", "3")]
    resp = expect_ok(ecs, "untag_resource", resourceArn=arn, tagKeys=["b", "never-there"])
    assert set(resp) == {"ResponseMetadata"}
    assert tags_of(ecs, arn) == [tag("a", "9"), tag("c", "3")]
    ecs.untag_resource(resourceArn=arn, tagKeys=["a", "c"])
    assert tags_of(ecs, arn) == []


def test_each_describe_with_include_tags_shows_what_tag_resource_wrote(ecs, resources):
    for arn in resources.values():
        ecs.tag_resource(resourceArn=arn, tags=[tag("owner", arn.split(":")[5].split("/")[0])])
    assert ecs.describe_clusters(include=["TAGS"])["clusters"][0]["tags"] == [tag("owner", "cluster")]
    assert ecs.describe_services(services=["api"], include=["TAGS"])["services"][0]["tags"] == [tag("owner", "service")]
    assert ecs.describe_task_definition(taskDefinition="web:1", include=["TAGS"])["tags"] == [tag("owner", "task-definition")]


def test_tags_given_at_creation_are_listed_by_arn(ecs):
    ecs.create_cluster(clusterName="c", tags=[tag("k", "cluster")])
    ecs.register_task_definition(family="t", containerDefinitions=[{"name": "c", "image": "x", "memory": 64}], tags=[tag("k", "td")])
    ecs.create_service(cluster="c", serviceName="s", taskDefinition="t:1", desiredCount=0, tags=[tag("k", "service")])
    assert tags_of(ecs, cluster_arn("c")) == [tag("k", "cluster")]
    assert tags_of(ecs, task_definition_arn("t", 1)) == [tag("k", "td")]
    assert tags_of(ecs, service_arn("s", cluster="c")) == [tag("k", "service")]


def test_tags_belong_to_one_task_definition_revision(ecs):
    register_web(ecs, "web", tags=[tag("rev", "1")])
    register_web(ecs, "web")
    ecs.tag_resource(resourceArn=task_definition_arn("web", 2), tags=[tag("rev", "2")])
    assert tags_of(ecs, task_definition_arn("web", 1)) == [tag("rev", "1")]
    assert tags_of(ecs, task_definition_arn("web", 2)) == [tag("rev", "2")]


def test_an_inactive_task_definition_and_a_draining_service_can_still_be_tagged(ecs, resources):
    ecs.deregister_task_definition(taskDefinition="web:1")
    ecs.delete_service(service="api")
    for arn in (resources["task_definition"], resources["service"]):
        expect_ok(ecs, "tag_resource", resourceArn=arn, tags=[tag("late")])
        assert tags_of(ecs, arn) == [tag("late")]


def test_a_resource_takes_50_tags_and_retagging_existing_keys_at_50_is_allowed(ecs, resources):
    arn = resources["cluster"]
    fifty = [tag(f"k{i:02}") for i in range(50)]
    expect_ok(ecs, "tag_resource", resourceArn=arn, tags=fifty)
    expect_ok(ecs, "tag_resource", resourceArn=arn, tags=[tag("k00", "new"), tag("k49", "new")])
    listed = tags_of(ecs, arn)
    assert len(listed) == 50
    assert listed[0] == tag("k00", "new") and listed[49] == tag("k49", "new")


@pytest.mark.parametrize("kind", KINDS)
def test_a_51st_tag_is_refused_and_the_resource_keeps_its_50(ecs, resources, kind):
    arn = resources[kind]
    fifty = [tag(f"k{i:02}") for i in range(50)]
    ecs.tag_resource(resourceArn=arn, tags=fifty)
    err = expect_error(ecs, "tag_resource", code="InvalidParameterException", resourceArn=arn, tags=[tag("one-more")])
    assert "50" in err.response["Error"]["Message"]
    assert tags_of(ecs, arn) == fifty


def test_51_tags_in_one_request_are_refused_and_nothing_is_written(ecs, resources):
    arn = resources["service"]
    err = expect_error(
        ecs, "tag_resource", code="InvalidParameterException", resourceArn=arn, tags=[tag(f"k{i}") for i in range(51)],
    )
    assert "50" in err.response["Error"]["Message"]
    assert tags_of(ecs, arn) == []


@pytest.mark.parametrize("bad, where", [
    (tag("aws:owner"), "aws:"),
    (tag("AWS:Owner"), "aws:"),
    (tag("Aws:x"), "aws:"),
    (tag("k" * 129), "key"),
    (tag("k", "v" * 257), "value"),
], ids=["aws_prefix", "upper_case_aws_prefix", "mixed_case_aws_prefix", "key_of_129_characters", "value_of_257_characters"])
def test_tag_resource_refuses_a_reserved_or_over_long_tag_and_writes_none_of_the_request(ecs, resources, bad, where):
    arn = resources["task_definition"]
    err = expect_error(ecs, "tag_resource", code="InvalidParameterException", resourceArn=arn, tags=[tag("fine"), bad])
    assert where in err.response["Error"]["Message"]
    assert tags_of(ecs, arn) == []


def test_the_longest_key_and_value_ecs_allows_are_accepted(ecs, resources):
    arn = resources["cluster"]
    longest = tag("k" * 128, "v" * 256)
    expect_ok(ecs, "tag_resource", resourceArn=arn, tags=[longest, tag("awsome")])
    assert tags_of(ecs, arn) == [longest, tag("awsome")]


def test_an_unknown_or_deleted_cluster_is_cluster_not_found_for_all_three_operations(ecs):
    ecs.create_cluster(clusterName="gone", tags=[tag("a")])
    ecs.delete_cluster(cluster="gone")
    for arn in (cluster_arn("ghost"), cluster_arn("gone")):
        expect_error(ecs, "tag_resource", code="ClusterNotFoundException", resourceArn=arn, tags=[tag("a")])
        expect_error(ecs, "untag_resource", code="ClusterNotFoundException", resourceArn=arn, tagKeys=["a"])
        expect_error(ecs, "list_tags_for_resource", code="ClusterNotFoundException", resourceArn=arn)


def test_an_unknown_service_or_task_definition_is_resource_not_found_to_tag_and_invalid_parameter_to_list(ecs, resources):
    ecs.register_task_definition(family="del", containerDefinitions=[{"name": "c", "image": "x", "memory": 64}])
    ecs.deregister_task_definition(taskDefinition="del:1")
    ecs.delete_task_definitions(taskDefinitions=["del:1"])
    unknown = [
        service_arn("ghost"),
        service_arn("api", cluster="other"),
        task_definition_arn("web", 2),
        task_definition_arn("nope", 1),
        task_definition_arn("del", 1),  # DELETE_IN_PROGRESS
    ]
    for arn in unknown:
        err = expect_error(ecs, "tag_resource", code="ResourceNotFoundException", resourceArn=arn, tags=[tag("a")])
        assert err.response["Error"]["Message"] == "The specified resource could not be found."
        expect_error(ecs, "untag_resource", code="ResourceNotFoundException", resourceArn=arn, tagKeys=["a"])
        # ListTagsForResource's model declares no ResourceNotFoundException.
        expect_error(ecs, "list_tags_for_resource", code="InvalidParameterException", resourceArn=arn)


@pytest.mark.parametrize("arn", [
    "not-an-arn",
    "arn:aws:ecs:eu-west-1:000000000000:cluster/default",
    "arn:aws:ecs:us-east-1:000000000000:widget/x",
    "arn:aws:ecs:us-east-1:000000000000:cluster",
], ids=["not_an_arn", "another_region", "unknown_resource_type", "no_resource_name"])
def test_an_invalid_arn_is_invalid_parameter_for_all_three_operations(ecs, resources, arn):
    for operation, params in [
        ("tag_resource", {"tags": [tag("a")]}),
        ("untag_resource", {"tagKeys": ["a"]}),
        ("list_tags_for_resource", {}),
    ]:
        err = expect_error(ecs, operation, code="InvalidParameterException", resourceArn=arn, **params)
        assert "ARN" in err.response["Error"]["Message"], operation
    assert tags_of(ecs, resources["cluster"]) == []
