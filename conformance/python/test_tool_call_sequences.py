"""The ECS calls infrastructure tools make, replayed with boto3 against kubecs with its
reconciler on a real Kubernetes cluster, in their order and with their parameters, as
their public source makes them:

- Terraform's AWS provider (hashicorp/terraform-provider-aws, internal/service/ecs:
  cluster.go, task_definition.go, service.go): aws_ecs_cluster, aws_ecs_task_definition
  and aws_ecs_service created, read back, updated in place and destroyed, with
  `wait_for_steady_state` (which follows ListServiceDeployments and
  DescribeServiceDeployments).
- ecs-cli (aws/amazon-ecs-cli, modules/cli/compose/entity/service): `compose service up`,
  `scale`, `up` again and `rm`, with its wait (one deployment, desired == running).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from harness import Kubecs, ecs_client

RUN = uuid.uuid4().hex[:8]
CLUSTERS = (f"tf-{RUN}", f"ecscli-{RUN}")
TIMEOUT = 180


@pytest.fixture(scope="module")
def ecs(kubernetes, tmp_path_factory):
    directory = tmp_path_factory.mktemp("kubecs-tools")
    kubecs = Kubecs(
        directory / "data", directory / "kubecs.log",
        ("--kubernetes", "auto", "--kubeconfig", kubernetes.kubeconfig),
    ).start()
    try:
        yield ecs_client(kubecs.endpoint)
    finally:
        rc = kubecs.stop()
        kubernetes.kubectl(
            "delete", "namespaces", "-l", f"ecs.kubecs.io/cluster in ({','.join(CLUSTERS)})",
            "--ignore-not-found", "--wait=false",
        )
        assert rc == 0, f"kubecs exited with {rc}; log:\n{kubecs.log_text()[-4000:]}"


def poll(check, what: str, interval: float = 1.0, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while not (answer := check()):
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(interval)
    return answer


CONTAINER = {"name": "app", "image": "app:1", "cpu": 10, "memory": 32, "essential": True,
             "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}]}


# ------------------------------------------------------------------------- Terraform


def tf_describe_cluster(ecs, arn: str) -> dict | None:
    resp = ecs.describe_clusters(clusters=[arn], include=["TAGS", "CONFIGURATIONS", "SETTINGS"])
    return resp["clusters"][0] if resp["clusters"] else None


def tf_describe_service(ecs, cluster: str, arn: str, include_tags: bool = False) -> dict | None:
    params = {"include": ["TAGS"]} if include_tags else {}
    resp = ecs.describe_services(cluster=cluster, services=[arn], **params)
    return resp["services"][0] if resp["services"] else None


def tf_wait_for_steady_state(ecs, cluster: str, arn: str, operation_time: dt.datetime) -> None:
    """service.go's waitServiceStable: a new PRIMARY deployment is followed through its
    service deployment until SUCCESSFUL; otherwise one deployment and desired == running."""
    def stable():
        service = tf_describe_service(ecs, cluster, arn)
        primary = next(d for d in service["deployments"] if d["status"] == "PRIMARY")
        if service.get("deploymentController", {}).get("type", "ECS") == "ECS" and primary["createdAt"] > operation_time:
            task_set_id = primary["id"].split("/")[1]
            briefs = ecs.list_service_deployments(
                cluster=cluster, service=service["serviceName"], createdAt={"after": operation_time},
            )["serviceDeployments"]
            match = [b for b in briefs if task_set_id in b["targetServiceRevisionArn"]]
            if not match:
                return False
            [deployment] = ecs.describe_service_deployments(
                serviceDeploymentArns=[match[0]["serviceDeploymentArn"]])["serviceDeployments"]
            assert deployment["status"] not in ("STOPPED", "ROLLBACK_FAILED", "ROLLBACK_SUCCESSFUL"), deployment
            return deployment["status"] == "SUCCESSFUL"
        return len(service["deployments"]) == 1 and service["desiredCount"] == service["runningCount"]
    poll(stable, "wait_for_steady_state")


def test_terraform_cluster_task_definition_and_service_lifecycle(ecs):
    name = CLUSTERS[0]
    # aws_ecs_cluster: create, wait ACTIVE, read.
    cluster = ecs.create_cluster(clusterName=name, tags=[{"key": "env", "value": "test"}],
                                 settings=[{"name": "containerInsights", "value": "enabled"}])["cluster"]
    arn = cluster["clusterArn"]
    read = poll(lambda: (c := tf_describe_cluster(ecs, arn)) and c["status"] == "ACTIVE" and c, "cluster ACTIVE")
    assert read["tags"] == [{"key": "env", "value": "test"}]
    assert {"name": "containerInsights", "value": "enabled"} in read["settings"]

    # aws_ecs_task_definition: register, read with tags.
    td = ecs.register_task_definition(family=f"tf-app-{RUN}", containerDefinitions=[CONTAINER],
                                      tags=[{"key": "env", "value": "test"}])["taskDefinition"]
    described = ecs.describe_task_definition(taskDefinition=td["taskDefinitionArn"], include=["TAGS"])
    assert described["tags"] == [{"key": "env", "value": "test"}]
    assert described["taskDefinition"]["status"] == "ACTIVE"

    # aws_ecs_service with wait_for_steady_state: create, wait, read.
    started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    service = ecs.create_service(
        clientToken=str(uuid.uuid4()), serviceName="web", cluster=arn, taskDefinition=td["taskDefinitionArn"],
        desiredCount=1, schedulingStrategy="REPLICA", enableECSManagedTags=False, enableExecuteCommand=False,
        deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 100,
                                 "deploymentCircuitBreaker": {"enable": False, "rollback": False}},
        launchType="EC2", propagateTags="NONE", tags=[{"key": "env", "value": "test"}],
    )["service"]
    service_arn = service["serviceArn"]
    tf_wait_for_steady_state(ecs, arn, service_arn, started)
    read = tf_describe_service(ecs, arn, service_arn, include_tags=True)
    assert (read["status"], read["runningCount"]) == ("ACTIVE", 1)
    assert read["tags"] == [{"key": "env", "value": "test"}]

    # Update in place: tags first (the interceptor), then UpdateService, then the wait.
    ecs.untag_resource(resourceArn=service_arn, tagKeys=["env"])
    ecs.tag_resource(resourceArn=service_arn, tags=[{"key": "env", "value": "prod"}])
    started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    ecs.update_service(cluster=arn, service=service_arn, forceNewDeployment=False, desiredCount=2)
    tf_wait_for_steady_state(ecs, arn, service_arn, started)
    td2 = ecs.register_task_definition(family=f"tf-app-{RUN}", containerDefinitions=[{**CONTAINER, "image": "app:2"}])
    started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    ecs.update_service(cluster=arn, service=service_arn, forceNewDeployment=False,
                       taskDefinition=td2["taskDefinition"]["taskDefinitionArn"])
    tf_wait_for_steady_state(ecs, arn, service_arn, started)
    read = tf_describe_service(ecs, arn, service_arn, include_tags=True)
    assert read["taskDefinition"] == td2["taskDefinition"]["taskDefinitionArn"]
    assert read["runningCount"] == 2 and read["tags"] == [{"key": "env", "value": "prod"}]
    ecs.update_cluster(cluster=arn, settings=[{"name": "containerInsights", "value": "disabled"}])
    poll(lambda: tf_describe_cluster(ecs, arn)["settings"][0]["value"] == "disabled", "cluster updated")

    # Destroy: the service (scaled to 0, deleted, INACTIVE), the task definitions, the cluster.
    assert tf_describe_service(ecs, arn, service_arn)["status"] == "ACTIVE"
    ecs.update_service(cluster=arn, service=service_arn, desiredCount=0)
    ecs.delete_service(cluster=arn, service=service_arn, force=False)
    poll(lambda: tf_describe_service(ecs, arn, service_arn)["status"] == "INACTIVE", "service INACTIVE")
    for revision in (td["taskDefinitionArn"], td2["taskDefinition"]["taskDefinitionArn"]):
        ecs.deregister_task_definition(taskDefinition=revision)

    def deleted():
        try:
            ecs.delete_cluster(cluster=arn)
        except ClientError as err:
            # The provider retries these for up to 10 minutes.
            assert err.response["Error"]["Code"] in (
                "ClusterContainsContainerInstancesException", "ClusterContainsServicesException",
                "ClusterContainsTasksException", "UpdateInProgressException"), err.response
            return False
        return True
    poll(deleted, "DeleteCluster")
    assert poll(lambda: (c := tf_describe_cluster(ecs, arn)) and c["status"] == "INACTIVE", "cluster INACTIVE")


# --------------------------------------------------------------------------- ecs-cli


def ecscli_wait_for_service_tasks(ecs, cluster: str, name: str) -> dict:
    """service_helper.go's waitForServiceTasks: every 5 s (1 s here) until one
    deployment and desiredCount == runningCount; failures stop it."""
    def done():
        resp = ecs.describe_services(services=[name], cluster=cluster)
        assert resp["failures"] == [], resp["failures"]
        [service] = resp["services"]
        return service if len(service["deployments"]) == 1 and service["desiredCount"] == service["runningCount"] else None
    return poll(done, f"ecs-cli's wait for {name}")


def ecscli_task_definition(ecs, family: str) -> str:
    """entity_helper.go: DescribeTaskDefinition(family); RegisterTaskDefinition when there
    is none (or it is INACTIVE); the family:revision to use."""
    try:
        current = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        if current["status"] == "ACTIVE":
            return f"{family}:{current['revision']}"
    except ClientError as err:
        assert err.response["Error"]["Code"] == "ClientException", err.response
    registered = ecs.register_task_definition(
        family=family, containerDefinitions=[CONTAINER], volumes=[], requiresCompatibilities=["EC2"],
        placementConstraints=[],
    )["taskDefinition"]
    return f"{family}:{registered['revision']}"


def test_ecs_cli_compose_service_up_scale_and_rm(ecs):
    cluster = CLUSTERS[1]
    ecs.create_cluster(clusterName=cluster)
    project = f"compose-{RUN}"

    # compose service up: the service is missing, so register and create it.
    missing = ecs.describe_services(services=[project], cluster=cluster)
    assert missing["failures"][0]["reason"] == "MISSING"
    family_rev = ecscli_task_definition(ecs, project)
    [setting] = ecs.list_account_settings(effectiveSettings=True, name="taskLongArnFormat")["settings"]
    tagging = setting["value"] == "enabled"
    params = {"propagateTags": "TASK_DEFINITION", "enableECSManagedTags": True} if tagging else {}
    ecs.create_service(serviceName=project, taskDefinition=family_rev, cluster=cluster, desiredCount=1,
                       role="", deploymentConfiguration={}, **params)
    poll(lambda: ecs.describe_services(services=[project], cluster=cluster)["failures"] == [], "describable")
    service = ecscli_wait_for_service_tasks(ecs, cluster, project)
    assert service["runningCount"] == 1

    # compose service scale 3
    ecs.update_service(service=project, cluster=cluster, desiredCount=3, deploymentConfiguration={},
                       forceNewDeployment=False)
    assert ecscli_wait_for_service_tasks(ecs, cluster, project)["runningCount"] == 3

    # compose service up again: same task definition, the count kept.
    [existing] = ecs.describe_services(services=[project], cluster=cluster)["services"]
    assert existing["status"] == "ACTIVE"
    assert ecscli_task_definition(ecs, project) == family_rev
    ecs.update_service(service=project, cluster=cluster, desiredCount=existing["desiredCount"],
                       deploymentConfiguration={}, forceNewDeployment=False)
    ecscli_wait_for_service_tasks(ecs, cluster, project)

    # compose service rm: DeleteService(force), then the same wait (0 == 0).
    ecs.delete_service(service=project, cluster=cluster, force=True)
    gone = ecscli_wait_for_service_tasks(ecs, cluster, project)
    assert gone["runningCount"] == 0
    poll(lambda: ecs.describe_services(services=[project], cluster=cluster)["services"][0]["status"] == "INACTIVE",
         "service INACTIVE")
    ecs.delete_cluster(cluster=cluster)
