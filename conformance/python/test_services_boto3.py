"""Issue 5: services through boto3 — CreateService with ECS's defaults, every refusal kubecs
implements (server/src/ops/services/), idempotency with clientToken, DescribeServices,
ListServices through botocore's paginator, UpdateService and its deployments,
DeleteService, and the cluster's activeServicesCount and DeleteCluster refusal.

No reconciler runs here: counts stay 0 and deployments IN_PROGRESS, and a deleted service
stays DRAINING (the DRAINING -> INACTIVE transition is not exercised)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from harness import (
    active_services_count,
    cluster_arn,
    ecs_client,
    expect_error,
    expect_ok,
    register_web,
    sent,
    service_arn,
    shared_kubecs,
    task_definition_arn,
)

DEPLOYMENT_ID = re.compile(r"^ecs-svc/\d{19}$")
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-0123"], "securityGroups": ["sg-0123"]}}


@pytest.fixture
def ready(ecs):
    """The `default` cluster and task definition web:1 (container `web`, port 80)."""
    ecs.create_cluster()
    register_web(ecs, "web")
    return ecs


def create(client, name: str, **params) -> dict:
    params.setdefault("taskDefinition", "web")
    params.setdefault("desiredCount", 1)
    return client.create_service(serviceName=name, **params)["service"]


def describe(client, name: str, **params) -> dict:
    resp = client.describe_services(services=[name], **params)
    assert resp["failures"] == [], resp["failures"]
    [service] = resp["services"]
    return service


def listed(client, **params) -> list[str]:
    pages = client.get_paginator("list_services").paginate(**params)
    return [arn for page in pages for arn in page["serviceArns"]]


# ----------------------------------------------------------------------------- create


def test_create_service_returns_a_long_arn_and_ecs_defaults_with_an_in_progress_primary_deployment(ready):
    ecs = ready
    service = expect_ok(ecs, "create_service", serviceName="api", taskDefinition="web", desiredCount=2)["service"]
    assert service["serviceArn"] == "arn:aws:ecs:us-east-1:000000000000:service/default/api"
    assert service["serviceName"] == "api"
    assert service["clusterArn"] == cluster_arn("default")
    assert service["status"] == "ACTIVE"
    assert service["taskDefinition"] == task_definition_arn("web", 1)
    assert (service["desiredCount"], service["runningCount"], service["pendingCount"]) == (2, 0, 0)
    assert service["launchType"] == "EC2"
    assert service["schedulingStrategy"] == "REPLICA"
    assert service["deploymentController"] == {"type": "ECS"}
    assert service["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }
    assert service["createdBy"] == "arn:aws:iam::000000000000:root"
    assert isinstance(service["createdAt"], dt.datetime) and service["createdAt"].tzinfo is not None
    assert abs(dt.datetime.now(dt.timezone.utc) - service["createdAt"]) < dt.timedelta(minutes=1)
    assert (service["propagateTags"], service["enableECSManagedTags"], service["enableExecuteCommand"]) == ("NONE", False, False)
    assert service["loadBalancers"] == [] and service["events"] == []
    [deployment] = service["deployments"]
    assert DEPLOYMENT_ID.match(deployment["id"]), deployment["id"]
    assert deployment["status"] == "PRIMARY"
    assert deployment["rolloutState"] == "IN_PROGRESS"
    assert deployment["taskDefinition"] == task_definition_arn("web", 1)
    assert (deployment["desiredCount"], deployment["runningCount"], deployment["pendingCount"]) == (2, 0, 0)
    assert deployment["createdAt"] == deployment["updatedAt"] == service["createdAt"]
    assert describe(ecs, "api") == {k: v for k, v in service.items() if k != "tags"}
    assert active_services_count(ecs) == 1


def test_create_service_in_a_named_cluster_given_by_arn_puts_the_cluster_in_the_service_arn(ready):
    ecs = ready
    ecs.create_cluster(clusterName="prod")
    service = create(ecs, "api", cluster=cluster_arn("prod"), taskDefinition=task_definition_arn("web", 1))
    assert service["serviceArn"] == service_arn("api", cluster="prod")
    assert service["clusterArn"] == cluster_arn("prod")
    assert listed(ecs, cluster="prod") == [service_arn("api", cluster="prod")]
    assert listed(ecs) == []
    assert (active_services_count(ecs, "prod"), active_services_count(ecs)) == (1, 0)


def test_create_service_without_a_cluster_when_default_does_not_exist_is_cluster_not_found(ecs):
    register_web(ecs, "web")
    expect_error(ecs, "create_service", code="ClusterNotFoundException", serviceName="s", taskDefinition="web", desiredCount=1)
    assert ecs.list_clusters()["clusterArns"] == []


LB = {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/tg/1"}
REFUSALS = {
    "an_unknown_task_definition": ({"taskDefinition": "nope"}, "ClientException", "TaskDefinition not found."),
    "an_unknown_revision": ({"taskDefinition": "web:9"}, "ClientException", "TaskDefinition not found."),
    "an_inactive_task_definition": ({"taskDefinition": "old:1"}, "InvalidParameterException", "TaskDefinition is inactive"),
    "a_revision_of_zero": ({"taskDefinition": "web:0"}, "ClientException", "Invalid revision number"),
    "no_task_definition": ({"taskDefinition": None}, "InvalidParameterException", "A task definition must be specified"),
    "an_unknown_cluster": ({"cluster": "ghost"}, "ClusterNotFoundException", "Cluster not found."),
    "an_inactive_cluster": ({"cluster": "gone"}, "ClusterNotFoundException", "Cluster not found."),
    "a_replica_service_without_desired_count": (
        {"desiredCount": None}, "InvalidParameterException",
        "desiredCount is required for services with the REPLICA scheduling strategy.",
    ),
    "a_negative_desired_count": ({"desiredCount": -1}, "InvalidParameterException", "desiredCount must be 0 or more"),
    "a_name_with_a_space": ({"serviceName": "bad name"}, "InvalidParameterException", "Service name must match"),
    "a_name_of_256_characters": ({"serviceName": "s" * 256}, "InvalidParameterException", "Service name must match"),
    "a_launch_type_and_a_capacity_provider_strategy": (
        {"launchType": "FARGATE", "capacityProviderStrategy": [{"capacityProvider": "FARGATE"}]},
        "InvalidParameterException",
        "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.",
    ),
    "minimum_healthy_percent_above_100": (
        {"deploymentConfiguration": {"minimumHealthyPercent": 150}}, "InvalidParameterException",
        "minimumHealthyPercent must be between 0 and 100, but was 150.",
    ),
    "maximum_percent_below_minimum_healthy_percent": (
        {"deploymentConfiguration": {"maximumPercent": 50, "minimumHealthyPercent": 100}}, "InvalidParameterException",
        "maximumPercent (50) must be greater than 0 and not less than minimumHealthyPercent (100).",
    ),
    "a_load_balancer_naming_a_container_the_task_definition_lacks": (
        {"loadBalancers": [{**LB, "containerName": "db", "containerPort": 80}]}, "InvalidParameterException",
        "The container db does not exist in the task definition.",
    ),
    "a_load_balancer_naming_a_port_the_container_lacks": (
        {"loadBalancers": [{**LB, "containerName": "web", "containerPort": 8080}]}, "InvalidParameterException",
        "The container web did not have a container port 8080 defined.",
    ),
    "an_awsvpc_task_definition_without_network_configuration": (
        {"taskDefinition": "vpc"}, "InvalidParameterException",
        "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
    ),
    "fargate_for_a_task_definition_only_ec2_can_run": (
        {"launchType": "FARGATE"}, "InvalidParameterException", "Task definition does not support launch_type FARGATE.",
    ),
    "the_daemon_strategy_on_fargate": (
        {"schedulingStrategy": "DAEMON", "launchType": "FARGATE", "desiredCount": None}, "InvalidParameterException",
        "The daemon scheduling strategy does not support a launch type of FARGATE.",
    ),
    "a_tag_with_the_aws_prefix": ({"tags": [{"key": "aws:x", "value": "1"}]}, "InvalidParameterException", "aws:"),
}


@pytest.fixture(scope="module")
def refusals_ecs(tmp_path_factory):
    """One kubecs for the refusal table: the default cluster, an INACTIVE cluster `gone`,
    web:1 (container web, port 80), old:1 (INACTIVE), vpc:1 (awsvpc)."""
    for server in shared_kubecs(tmp_path_factory.mktemp("service-refusals")):
        client = ecs_client(server.endpoint)
        client.create_cluster()
        client.create_cluster(clusterName="gone")
        client.delete_cluster(cluster="gone")
        register_web(client, "web")
        register_web(client, "old")
        client.deregister_task_definition(taskDefinition="old:1")
        register_web(client, "vpc", networkMode="awsvpc")
        yield client


@pytest.mark.parametrize("params, code, message", REFUSALS.values(), ids=REFUSALS.keys())
def test_create_service_refuses_with_ecs_code_and_writes_nothing(refusals_ecs, params, code, message):
    ecs = refusals_ecs
    request = {"serviceName": "s", "taskDefinition": "web", "desiredCount": 1, **params}
    request = {k: v for k, v in request.items() if v is not None}
    err = expect_error(ecs, "create_service", code=code, **request)
    assert message in err.response["Error"]["Message"], err.response["Error"]
    assert listed(ecs) == []
    assert ecs.describe_services(services=["s"])["failures"] == [{"arn": service_arn("s"), "reason": "MISSING"}]
    assert active_services_count(ecs) == 0


def test_load_balancers_naming_a_container_and_port_of_the_task_definition_are_accepted(ready):
    lb = {**LB, "containerName": "web", "containerPort": 80}
    service = create(ready, "lb", loadBalancers=[lb])
    assert service["loadBalancers"] == [lb]


def test_a_fargate_service_with_network_configuration_runs_on_platform_version_latest(ready):
    ecs = ready
    register_web(ecs, "fg", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
                 containerDefinitions=[{"name": "app", "image": "nginx"}])
    service = create(ecs, "fg", taskDefinition="fg", launchType="FARGATE", networkConfiguration=NETWORK)
    assert (service["launchType"], service["platformVersion"]) == ("FARGATE", "LATEST")
    assert service["networkConfiguration"] == NETWORK
    assert service["deployments"][0]["launchType"] == "FARGATE"


def with_fargate_spot(ecs) -> None:
    """A strategy may only name the cluster's capacity providers."""
    ecs.put_cluster_capacity_providers(
        cluster="default", capacityProviders=["FARGATE_SPOT"], defaultCapacityProviderStrategy=[])


def test_a_capacity_provider_strategy_leaves_the_launch_type_unset(ready):
    strategy = [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    expect_error(ready, "create_service", code="InvalidParameterException", serviceName="spot",
                 taskDefinition="web", desiredCount=1, capacityProviderStrategy=strategy)
    with_fargate_spot(ready)
    service = create(ready, "spot", capacityProviderStrategy=strategy)
    assert "launchType" not in service
    assert service["capacityProviderStrategy"] == strategy


def test_a_daemon_service_needs_no_desired_count_and_deploys_100_0(ready):
    service = expect_ok(ready, "create_service", serviceName="agent", taskDefinition="web", schedulingStrategy="DAEMON")["service"]
    assert (service["schedulingStrategy"], service["desiredCount"]) == ("DAEMON", 0)
    assert service["deploymentConfiguration"]["maximumPercent"] == 100
    assert service["deploymentConfiguration"]["minimumHealthyPercent"] == 0


# ------------------------------------------------------------------------- idempotency


def test_create_service_again_with_the_same_client_token_returns_the_first_service(ready):
    ecs = ready
    first = expect_ok(ecs, "create_service", serviceName="idem", taskDefinition="web", desiredCount=1, clientToken="t-1")
    again = expect_ok(ecs, "create_service", serviceName="idem", taskDefinition="web", desiredCount=1, clientToken="t-1")
    assert again["service"] == first["service"]
    assert len(first["service"]["deployments"]) == 1
    assert active_services_count(ecs) == 1
    assert listed(ecs) == [service_arn("idem")]


@pytest.mark.parametrize("token", ["t-2", None], ids=["another_token", "no_token"])
def test_create_service_again_with_another_or_no_client_token_is_not_idempotent(ready, token):
    ecs = ready
    first = create(ecs, "idem", clientToken="t-1", desiredCount=1)
    params = {"serviceName": "idem", "taskDefinition": "web", "desiredCount": 5}
    if token:
        params["clientToken"] = token
    err = expect_error(ecs, "create_service", code="InvalidParameterException", **params)
    assert err.response["Error"]["Message"] == "Creation of service was not idempotent."
    assert describe(ecs, "idem")["deployments"] == first["deployments"]
    assert describe(ecs, "idem")["desiredCount"] == 1
    assert active_services_count(ecs) == 1


# ---------------------------------------------------------------------------- describe


def test_describe_services_reports_unknown_names_and_arns_as_missing_next_to_known_ones(ready):
    ecs = ready
    create(ecs, "a", desiredCount=0)
    other = service_arn("a", cluster="other")
    resp = expect_ok(ecs, "describe_services", services=["a", service_arn("a"), "ghost", other])
    assert [s["serviceArn"] for s in resp["services"]] == [service_arn("a")] * 2
    assert resp["failures"] == [
        {"arn": service_arn("ghost"), "reason": "MISSING"},
        {"arn": other, "reason": "MISSING"},
    ]


def test_describe_services_returns_tags_only_when_include_tags_is_asked(ready):
    ecs = ready
    tags = [{"key": "team", "value": "x"}]
    created = create(ecs, "a", tags=tags)
    assert created["tags"] == tags
    assert describe(ecs, "a", include=["TAGS"])["tags"] == tags
    assert "tags" not in describe(ecs, "a")


@pytest.mark.parametrize("count, message", [(11, "at most 10"), (0, "Services cannot be empty.")])
def test_describe_services_takes_between_1_and_10_services(ready, count, message):
    err = expect_error(ready, "describe_services", code="InvalidParameterException", services=[f"s{i}" for i in range(count)])
    assert message in err.response["Error"]["Message"]


def test_services_of_an_unknown_cluster_are_cluster_not_found_for_every_operation(ready):
    ecs = ready
    expect_error(ecs, "describe_services", code="ClusterNotFoundException", cluster="ghost", services=["a"])
    expect_error(ecs, "list_services", code="ClusterNotFoundException", cluster="ghost")
    expect_error(ecs, "update_service", code="ClusterNotFoundException", cluster="ghost", service="a", desiredCount=1)
    expect_error(ecs, "delete_service", code="ClusterNotFoundException", cluster="ghost", service="a")


# -------------------------------------------------------------------------------- list


def test_list_services_paginator_pages_ten_services_by_default(ready):
    ecs = ready
    names = [f"s{i:02}" for i in range(12)]
    for name in names:
        create(ecs, name, desiredCount=0)
    before = len(sent(ecs))
    pages = list(ecs.get_paginator("list_services").paginate())
    assert len(sent(ecs)) - before == 2
    assert [len(p["serviceArns"]) for p in pages] == [10, 2]
    assert "nextToken" in pages[0] and "nextToken" not in pages[1]
    assert [a for p in pages for a in p["serviceArns"]] == [service_arn(n) for n in names]
    assert listed(ecs, PaginationConfig={"PageSize": 5}) == [service_arn(n) for n in names]


def test_list_services_filters_by_launch_type_and_scheduling_strategy_and_leaves_out_draining_ones(ready):
    ecs = ready
    create(ecs, "ec2", desiredCount=0)
    with_fargate_spot(ecs)
    create(ecs, "spot", capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT"}])
    ecs.create_service(serviceName="agent", taskDefinition="web", schedulingStrategy="DAEMON")
    create(ecs, "gone", desiredCount=0)
    ecs.delete_service(service="gone")
    assert listed(ecs) == [service_arn(n) for n in ["agent", "ec2", "spot"]]
    assert listed(ecs, launchType="EC2") == [service_arn("agent"), service_arn("ec2")]
    assert listed(ecs, launchType="FARGATE") == []
    assert listed(ecs, schedulingStrategy="DAEMON") == [service_arn("agent")]
    assert listed(ecs, schedulingStrategy="REPLICA") == [service_arn("ec2"), service_arn("spot")]


def test_list_services_refuses_a_foreign_next_token_and_max_results_outside_1_to_100(ready):
    ecs = ready
    err = expect_error(ecs, "list_services", code="InvalidParameterException", nextToken="bm90IGEgdG9rZW4=")
    assert "nextToken" in err.response["Error"]["Message"]
    for max_results in (0, 101):
        expect_error(ecs, "list_services", code="InvalidParameterException", maxResults=max_results)


# ------------------------------------------------------------------------------ update


def test_scaling_a_service_keeps_its_deployment_and_scales_the_primary(ready):
    ecs = ready
    first = create(ecs, "u", desiredCount=1)["deployments"][0]
    service = expect_ok(ecs, "update_service", service="u", desiredCount=3)["service"]
    assert service["desiredCount"] == 3
    [deployment] = service["deployments"]
    assert (deployment["id"], deployment["status"], deployment["desiredCount"]) == (first["id"], "PRIMARY", 3)
    assert deployment["createdAt"] == first["createdAt"] and deployment["updatedAt"] >= first["updatedAt"]
    assert describe(ecs, "u")["deployments"] == service["deployments"]


def test_a_new_task_definition_starts_a_new_primary_deployment_and_demotes_the_old_one_to_active(ready):
    ecs = ready
    register_web(ecs, "web")
    first = create(ecs, "u", taskDefinition="web:1", desiredCount=2)["deployments"][0]
    service = expect_ok(ecs, "update_service", service=service_arn("u"), taskDefinition="web:2")["service"]
    assert service["taskDefinition"] == task_definition_arn("web", 2)
    new, old = service["deployments"]
    assert DEPLOYMENT_ID.match(new["id"]) and new["id"] != first["id"]
    assert (new["status"], new["rolloutState"], new["taskDefinition"]) == ("PRIMARY", "IN_PROGRESS", task_definition_arn("web", 2))
    assert new["desiredCount"] == 2
    assert (old["id"], old["status"], old["taskDefinition"]) == (first["id"], "ACTIVE", task_definition_arn("web", 1))
    assert describe(ecs, "u")["deployments"] == service["deployments"]


def test_force_new_deployment_starts_a_deployment_of_the_same_task_definition(ready):
    ecs = ready
    first = create(ecs, "u")["deployments"][0]
    service = expect_ok(ecs, "update_service", service="u", forceNewDeployment=True)["service"]
    new, old = service["deployments"]
    assert new["status"] == "PRIMARY" and new["id"] != first["id"]
    assert new["taskDefinition"] == old["taskDefinition"] == task_definition_arn("web", 1)
    assert (old["id"], old["status"]) == (first["id"], "ACTIVE")


def test_a_service_keeps_its_deregistered_task_definition_but_cannot_switch_to_an_inactive_one(ready):
    ecs = ready
    register_web(ecs, "web")
    create(ecs, "u", taskDefinition="web:1")
    ecs.deregister_task_definition(taskDefinition="web:1")
    assert expect_ok(ecs, "update_service", service="u", desiredCount=4)["service"]["desiredCount"] == 4
    ecs.update_service(service="u", taskDefinition="web:2")
    ecs.deregister_task_definition(taskDefinition="web:2")
    register_web(ecs, "web")
    err = expect_error(ecs, "update_service", code="InvalidParameterException", service="u", taskDefinition="web:1")
    assert err.response["Error"]["Message"] == "TaskDefinition is inactive"
    assert describe(ecs, "u")["taskDefinition"] == task_definition_arn("web", 2)


@pytest.mark.parametrize("params, message", [
    ({"desiredCount": -1}, "desiredCount must be 0 or more"),
    ({"deploymentConfiguration": {"minimumHealthyPercent": 101}}, "minimumHealthyPercent must be between 0 and 100"),
    ({"taskDefinition": "nope"}, "TaskDefinition not found."),
], ids=["negative_desired_count", "minimum_healthy_percent_101", "unknown_task_definition"])
def test_update_service_refuses_invalid_changes_and_leaves_the_service_as_it_was(ready, params, message):
    ecs = ready
    create(ecs, "u")
    before = describe(ecs, "u")
    code = "ClientException" if "taskDefinition" in params else "InvalidParameterException"
    err = expect_error(ecs, "update_service", code=code, service="u", **params)
    assert message in err.response["Error"]["Message"]
    assert describe(ecs, "u") == before


def test_update_of_an_unknown_service_or_one_of_another_cluster_is_service_not_found(ready):
    ecs = ready
    create(ecs, "u")
    for ident in ["nope", service_arn("nope"), service_arn("u", cluster="other")]:
        err = expect_error(ecs, "update_service", code="ServiceNotFoundException", service=ident, desiredCount=1)
        assert err.response["Error"]["Message"] == "Service not found."
    assert describe(ecs, "u")["desiredCount"] == 1


# ------------------------------------------------------------------------------ delete


def test_delete_service_is_refused_while_it_is_scaled_above_zero_without_force(ready):
    ecs = ready
    create(ecs, "d", desiredCount=2)
    err = expect_error(ecs, "delete_service", code="InvalidParameterException", service="d")
    assert err.response["Error"]["Message"] == "The service cannot be stopped while it is scaled above 0."
    assert describe(ecs, "d")["status"] == "ACTIVE"
    assert active_services_count(ecs) == 1


def test_delete_service_of_a_service_scaled_to_zero_needs_no_force(ready):
    ecs = ready
    create(ecs, "d", desiredCount=0)
    assert expect_ok(ecs, "delete_service", service=service_arn("d"))["service"]["status"] == "DRAINING"


def test_delete_service_with_force_leaves_it_draining_at_zero_and_no_longer_active(ready):
    ecs = ready
    created = create(ecs, "d", desiredCount=2)
    service = expect_ok(ecs, "delete_service", service="d", force=True)["service"]
    assert (service["status"], service["desiredCount"]) == ("DRAINING", 0)
    assert service["deployments"][0]["id"] == created["deployments"][0]["id"]
    assert service["deployments"][0]["desiredCount"] == 0
    assert describe(ecs, "d")["status"] == "DRAINING"  # still describable
    assert listed(ecs) == []
    assert active_services_count(ecs) == 0
    # ECS's words for updating a service that is no longer ACTIVE (alchemy-run/alchemy#1581).
    err = expect_error(ecs, "update_service", code="ServiceNotActiveException", service="d", desiredCount=1)
    assert err.response["Error"]["Message"] == "Service was not ACTIVE."
    assert describe(ecs, "d")["desiredCount"] == 0
    err = expect_error(ecs, "create_service", code="InvalidParameterException", serviceName="d", taskDefinition="web", desiredCount=1)
    assert err.response["Error"]["Message"] == "Unable to Start a service that is still Draining."
    assert active_services_count(ecs) == 0


def test_delete_of_an_unknown_service_is_service_not_found(ready):
    err = expect_error(ready, "delete_service", code="ServiceNotFoundException", service="ghost", force=True)
    assert err.response["Error"]["Message"] == "Service not found."


def test_active_services_count_follows_creates_and_deletes(ready):
    ecs = ready
    counts = [active_services_count(ecs)]
    for name in ("a", "b", "c"):
        create(ecs, name, desiredCount=0)
        counts.append(active_services_count(ecs))
    ecs.delete_service(service="b")
    counts.append(active_services_count(ecs))
    ecs.delete_service(service="a", force=True)
    counts.append(active_services_count(ecs))
    assert counts == [0, 1, 2, 3, 2, 1]
    stats = ecs.describe_clusters(include=["STATISTICS"])["clusters"][0]
    assert stats["activeServicesCount"] == 1


def test_delete_cluster_is_refused_while_a_service_is_active_and_while_it_is_draining(ready):
    ecs = ready
    create(ecs, "s", desiredCount=1)

    def refused():
        err = expect_error(ecs, "delete_cluster", code="ClusterContainsServicesException", cluster="default")
        assert err.response["Error"]["Message"] == "The Cluster cannot be deleted while Services are active."
        assert ecs.describe_clusters()["clusters"][0]["status"] == "ACTIVE"

    refused()
    ecs.delete_service(service="s", force=True)
    assert describe(ecs, "s")["status"] == "DRAINING"
    refused()
