"""Issue 16 through boto3 (no reconciler here: the cluster tests show what runs):
account settings, capacity providers and a cluster's default strategy, task sets of an
EXTERNAL service, the service deployment history, task protection's refusals, and the
ECS errors of the agent-only operations and ExecuteCommand."""

from __future__ import annotations

import pytest

from harness import expect_error, expect_ok, register_web

ASG = "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:0:autoScalingGroupName/web"


@pytest.fixture
def ready(ecs):
    ecs.create_cluster()
    register_web(ecs, "web")
    return ecs


def test_account_settings_resolve_own_then_default_then_aws(ecs):
    alice = "arn:aws:iam::000000000000:user/alice"
    default = expect_ok(ecs, "put_account_setting_default", name="containerInsights", value="enhanced")["setting"]
    assert default["principalArn"] == "arn:aws:iam::000000000000:root"
    expect_ok(ecs, "put_account_setting", name="containerInsights", value="disabled", principalArn=alice)
    [own] = ecs.list_account_settings(name="containerInsights", principalArn=alice, effectiveSettings=True)["settings"]
    assert (own["value"], own["type"]) == ("disabled", "user")
    expect_ok(ecs, "delete_account_setting", name="containerInsights", principalArn=alice)
    [now] = ecs.list_account_settings(name="containerInsights", principalArn=alice, effectiveSettings=True)["settings"]
    assert now["value"] == "enhanced"
    pages = ecs.get_paginator("list_account_settings").paginate(effectiveSettings=True, PaginationConfig={"PageSize": 3})
    names = [s["name"] for page in pages for s in page["settings"]]
    assert "serviceLongArnFormat" in names and len(names) == len(set(names))
    expect_error(ecs, "put_account_setting", code="InvalidParameterException", name="taskLongArnFormat", value="disabled")
    # A new cluster takes the account's containerInsights.
    cluster = ecs.create_cluster(clusterName="insights")["cluster"]
    assert {"name": "containerInsights", "value": "enhanced"} in cluster["settings"]


def test_capacity_providers_and_a_clusters_default_strategy(ready):
    ecs = ready
    created = expect_ok(ecs, "create_capacity_provider", name="web-nodes",
                        autoScalingGroupProvider={"autoScalingGroupArn": ASG})["capacityProvider"]
    assert created["status"] == "ACTIVE" and created["type"] == "EC2_AUTOSCALING"
    names = [p["name"] for p in ecs.describe_capacity_providers()["capacityProviders"]]
    assert names == ["FARGATE", "FARGATE_SPOT", "web-nodes"]
    expect_ok(ecs, "put_cluster_capacity_providers", cluster="default", capacityProviders=["web-nodes"],
              defaultCapacityProviderStrategy=[{"capacityProvider": "web-nodes", "weight": 1}])
    service = ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=1)["service"]
    assert service["capacityProviderStrategy"] == [{"capacityProvider": "web-nodes", "weight": 1}]
    assert "launchType" not in service
    expect_error(ecs, "delete_capacity_provider", code="ResourceInUseException", capacityProvider="web-nodes")
    expect_ok(ecs, "update_capacity_provider", name="web-nodes",
              autoScalingGroupProvider={"managedScaling": {"status": "ENABLED", "targetCapacity": 90}})


def test_task_sets_of_an_external_service(ready):
    ecs = ready
    ecs.create_service(serviceName="ext", desiredCount=4, deploymentController={"type": "EXTERNAL"})
    blue = expect_ok(ecs, "create_task_set", service="ext", cluster="default", taskDefinition="web",
                     scale={"value": 50, "unit": "PERCENT"})["taskSet"]
    green = ecs.create_task_set(service="ext", cluster="default", taskDefinition="web")["taskSet"]
    assert (blue["status"], blue["computedDesiredCount"]) == ("PRIMARY", 2)
    expect_ok(ecs, "update_service_primary_task_set", service="ext", cluster="default", primaryTaskSet=green["id"])
    expect_ok(ecs, "update_task_set", service="ext", cluster="default", taskSet=blue["id"],
              scale={"value": 25, "unit": "PERCENT"})
    sets = {s["id"]: s for s in ecs.describe_task_sets(service="ext", cluster="default")["taskSets"]}
    assert sets[green["id"]]["status"] == "PRIMARY"
    assert sets[blue["id"]]["computedDesiredCount"] == 1
    deleted = expect_ok(ecs, "delete_task_set", service="ext", cluster="default", taskSet=blue["id"])["taskSet"]
    assert deleted["status"] == "DRAINING"
    expect_error(ecs, "delete_task_set", code="TaskSetNotFoundException", service="ext", cluster="default",
                 taskSet="ecs-svc/1")


def test_service_deployments_are_the_services_history(ready):
    ecs = ready
    ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=1)
    register_web(ecs, "web")
    ecs.update_service(service="web", taskDefinition="web:2")
    deployments = ecs.list_service_deployments(service="web", cluster="default")["serviceDeployments"]
    assert [d["status"] for d in deployments] == ["IN_PROGRESS", "STOPPED"]
    described = ecs.describe_service_deployments(serviceDeploymentArns=[deployments[0]["serviceDeploymentArn"]])
    [deployment] = described["serviceDeployments"]
    assert deployment["sourceServiceRevisions"][0]["arn"] == deployments[1]["targetServiceRevisionArn"]
    [revision] = ecs.describe_service_revisions(
        serviceRevisionArns=[deployments[0]["targetServiceRevisionArn"]])["serviceRevisions"]
    assert revision["taskDefinition"].endswith("task-definition/web:2")
    expect_error(ecs, "stop_service_deployment", code="ConflictException",
                 serviceDeploymentArn=deployments[0]["serviceDeploymentArn"], stopType="ROLLBACK")


def test_protection_agent_operations_and_exec_answer_ecs_errors(ready):
    ecs = ready
    task = ecs.run_task(taskDefinition="web")["tasks"][0]
    update = expect_ok(ecs, "update_task_protection", cluster="default", tasks=[task["taskArn"]],
                       protectionEnabled=True)
    assert update["failures"][0]["reason"] == "TASK_NOT_VALID"  # a standalone task
    expect_error(ecs, "discover_poll_endpoint", code="ClientException")
    expect_error(ecs, "submit_task_state_change", code="AccessDeniedException", cluster="default")
    err = expect_error(ecs, "execute_command", code="InvalidParameterException", cluster="default",
                       task=task["taskArn"], command="/bin/sh", interactive=True)
    assert "execute command was not enabled" in err.response["Error"]["Message"]


def test_the_daemons_api_through_boto3_and_its_waiters(ecs):
    """Every Daemons operation as boto3 sends it, and the waiters that need no running
    tasks (a deployment succeeding needs a cluster: the cluster tests show it)."""
    ecs.create_cluster(clusterName="edge")
    expect_ok(ecs, "create_capacity_provider", name="edge-nodes", autoScalingGroupProvider={"autoScalingGroupArn": ASG})
    expect_ok(ecs, "put_cluster_capacity_providers", cluster="edge", capacityProviders=["edge-nodes"],
              defaultCapacityProviderStrategy=[])
    definition = {"family": "node-agent", "memory": "64",
                  "containerDefinitions": [{"name": "agent", "image": "agent:1", "memory": 32}]}
    v1 = ecs.register_daemon_task_definition(**definition)["daemonTaskDefinitionArn"]
    assert v1.endswith(":daemon-task-definition/node-agent:1")
    ecs.get_waiter("daemon_task_definition_active").wait(daemonTaskDefinition=v1, WaiterConfig={"Delay": 1})
    provider = ecs.describe_capacity_providers(capacityProviders=["edge-nodes"])["capacityProviders"][0]

    created = ecs.create_daemon(daemonName="agent", clusterArn="edge", daemonTaskDefinitionArn=v1,
                                capacityProviderArns=[provider["capacityProviderArn"]],
                                deploymentConfiguration={"drainPercent": 50.0},
                                tags=[{"key": "team", "value": "ops"}], clientToken="create-agent")
    arn = created["daemonArn"]
    assert arn.endswith(":daemon/edge/agent") and created["status"] == "ACTIVE"
    assert ecs.create_daemon(daemonName="agent", clusterArn="edge", daemonTaskDefinitionArn=v1,
                             capacityProviderArns=["edge-nodes"],
                             clientToken="create-agent")["deploymentArn"] == created["deploymentArn"]
    ecs.get_waiter("daemon_active").wait(daemonArn=arn, WaiterConfig={"Delay": 1})
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "ops"}]
    [summary] = ecs.list_daemons(clusterArn="edge")["daemonSummariesList"]
    assert summary["daemonArn"] == arn

    v2 = ecs.register_daemon_task_definition(**{**definition, "containerDefinitions": [
        {"name": "agent", "image": "agent:2", "memory": 32}]})["daemonTaskDefinitionArn"]
    updated = ecs.update_daemon(daemonArn=arn, daemonTaskDefinitionArn=v2, capacityProviderArns=["edge-nodes"])
    # The first deployment was still in progress: the update stopped it.
    ecs.get_waiter("daemon_deployment_stopped").wait(daemonDeploymentArns=[created["deploymentArn"]],
                                                       WaiterConfig={"Delay": 1})
    listed = ecs.list_daemon_deployments(daemonArn=arn)["daemonDeployments"]
    assert [d["daemonDeploymentArn"] for d in listed] == [updated["deploymentArn"], created["deploymentArn"]]
    [deployment] = ecs.describe_daemon_deployments(daemonDeploymentArns=[updated["deploymentArn"]])["daemonDeployments"]
    [revision] = ecs.describe_daemon_revisions(
        daemonRevisionArns=[deployment["targetDaemonRevision"]["arn"]])["daemonRevisions"]
    assert revision["daemonTaskDefinitionArn"] == v2
    assert revision["containerImages"] == [{"containerName": "agent", "image": "agent:2"}]
    current = ecs.describe_daemon(daemonArn=arn)["daemon"]
    assert current["deploymentArn"] == updated["deploymentArn"]

    names = [s["arn"] for s in ecs.list_daemon_task_definitions(familyPrefix="node")["daemonTaskDefinitions"]]
    assert names == [v1, v2]
    assert ecs.delete_daemon_task_definition(daemonTaskDefinition=v1)["daemonTaskDefinitionArn"] == v1
    ecs.get_waiter("daemon_task_definition_deleted").wait(daemonTaskDefinition=v1, WaiterConfig={"Delay": 1})
    expect_error(ecs, "update_daemon", code="ClientException", daemonArn=arn, daemonTaskDefinitionArn=v1,
                 capacityProviderArns=["edge-nodes"])
    expect_error(ecs, "create_daemon", code="InvalidParameterException", daemonName="fargate", clusterArn="edge",
                 daemonTaskDefinitionArn=v2, capacityProviderArns=["FARGATE"])

    deleted = ecs.delete_daemon(daemonArn=arn)
    assert deleted["status"] == "DELETE_IN_PROGRESS"
    expect_error(ecs, "delete_daemon", code="DaemonNotActiveException", daemonArn=arn)
    expect_error(ecs, "describe_daemon", code="DaemonNotFoundException",
                 daemonArn=arn.replace("/agent", "/nothing"))


def test_express_gateway_services_through_boto3(ecs):
    """The four Express operations as boto3 sends them: the service is an ECS service of
    a registered task definition; update deploys a new revision; delete drains it."""
    roles = {"executionRoleArn": "arn:aws:iam::000000000000:role/ecsTaskExecutionRole",
             "infrastructureRoleArn": "arn:aws:iam::000000000000:role/ecsInfrastructureRole"}
    created = ecs.create_express_gateway_service(serviceName="shop", primaryContainer={"image": "shop:1"},
                                                 tags=[{"key": "team", "value": "shop"}], **roles)["service"]
    arn = created["serviceArn"]
    assert arn.endswith(":service/default/shop")
    assert created["status"]["statusCode"] == "ACTIVE"
    [config] = created["activeConfigurations"]
    assert config["primaryContainer"]["containerPort"] == 80
    assert config["ingressPaths"][0]["endpoint"].startswith("http://shop-")
    [service] = ecs.describe_services(cluster="default", services=["shop"])["services"]
    assert service["taskDefinition"].endswith(":task-definition/default-shop:1")
    described = ecs.describe_express_gateway_service(serviceArn=arn, include=["TAGS"])["service"]
    assert described["tags"] == [{"key": "team", "value": "shop"}]

    updated = ecs.update_express_gateway_service(serviceArn=arn, cpu="512", memory="1024",
                                                 primaryContainer={"image": "shop:2"})["service"]
    assert updated["targetConfiguration"]["cpu"] == "512"
    assert updated["targetConfiguration"]["primaryContainer"]["image"] == "shop:2"
    [service] = ecs.describe_services(cluster="default", services=["shop"])["services"]
    assert service["taskDefinition"].endswith(":task-definition/default-shop:2")

    deleted = ecs.delete_express_gateway_service(serviceArn=arn)["service"]
    assert deleted["status"]["statusCode"] == "DRAINING"
    expect_error(ecs, "delete_express_gateway_service", code="ServiceNotActiveException", serviceArn=arn)
    expect_error(ecs, "describe_express_gateway_service", code="ResourceNotFoundException",
                 serviceArn=arn.replace("/shop", "/none"))
