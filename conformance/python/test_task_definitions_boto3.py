"""Issue 5: task definitions through boto3 — RegisterTaskDefinition with what ECS adds and
every validation rule kubecs implements (server/src/ops/task_definitions/validate.rs),
DescribeTaskDefinition, DeregisterTaskDefinition, DeleteTaskDefinitions, and the two
listings through botocore's paginators. Every refusal is checked for its exception class,
code, HTTP 400, exactly one attempt, and that nothing was stored."""

from __future__ import annotations

import datetime as dt

import pytest

from harness import (
    ALICE_ACCOUNT,
    ALICE_KEY,
    ecs_client,
    expect_error,
    expect_ok,
    register_web,
    sent,
    shared_kubecs,
    task_definition_arn,
    web_container,
)

FARGATE = {"requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc"}
APP = {"name": "app", "image": "nginx"}  # no memory: Fargate takes it from the task


def families(client) -> list[str]:
    return client.list_task_definition_families()["families"]


def revisions(client, **params) -> list[str]:
    """ListTaskDefinitions as `family:revision`, every page."""
    pages = client.get_paginator("list_task_definitions").paginate(**params)
    return [arn.rsplit("/", 1)[1] for page in pages for arn in page["taskDefinitionArns"]]


def assert_recent(when: dt.datetime) -> None:
    assert isinstance(when, dt.datetime), when
    assert when.tzinfo is not None
    now = dt.datetime.now(dt.timezone.utc)
    assert now - dt.timedelta(minutes=1) < when <= now + dt.timedelta(seconds=5), when


# --------------------------------------------------------------------------- register


def test_register_returns_the_arn_revision_1_active_status_and_the_defaults_ecs_adds(ecs):
    resp = expect_ok(
        ecs, "register_task_definition",
        family="web", containerDefinitions=[{"name": "web", "image": "nginx:1.27", "memory": 256}],
    )
    td = resp["taskDefinition"]
    assert td["taskDefinitionArn"] == "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1"
    assert (td["family"], td["revision"], td["status"]) == ("web", 1, "ACTIVE")
    assert_recent(td["registeredAt"])
    assert td["registeredBy"] == "arn:aws:iam::000000000000:root"
    assert td["compatibilities"] == ["EXTERNAL", "EC2"]
    assert td["requiresAttributes"] == []
    assert td["volumes"] == [] and td["placementConstraints"] == []
    assert "deregisteredAt" not in td and "networkMode" not in td
    assert td["containerDefinitions"] == [{
        "name": "web", "image": "nginx:1.27", "memory": 256,
        "cpu": 0, "essential": True, "portMappings": [], "environment": [],
        "mountPoints": [], "volumesFrom": [],
    }]
    assert resp["tags"] == []


def test_every_container_member_given_comes_back_unchanged(ecs):
    full = {
        "name": "app", "image": "repo/app:2", "cpu": 128, "memory": 512, "memoryReservation": 256,
        "essential": True, "entryPoint": ["sh", "-c"], "command": ["echo hi"],
        "environment": [{"name": "A", "value": "1"}],
        "dockerLabels": {"team": "core"},
        "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
        "healthCheck": {"command": ["CMD", "true"], "interval": 30, "timeout": 5, "retries": 3},
        "workingDirectory": "/srv", "user": "1000", "readonlyRootFilesystem": True,
        "stopTimeout": 30, "hostname": "app", "dnsServers": ["1.1.1.1"],
        "mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": False}],
        "volumesFrom": [],
        "extraHosts": [{"hostname": "db", "ipAddress": "10.0.0.2"}],
        "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "udp", "name": "p"}],
        "logConfiguration": {"logDriver": "json-file", "options": {"max-size": "10m"}},
    }
    td = register_web(
        ecs, "full", containerDefinitions=[full],
        volumes=[{"name": "data", "host": {"sourcePath": "/var/data"}}], pidMode="task", ipcMode="none",
    )
    assert td["containerDefinitions"] == [full]
    assert td["volumes"] == [{"name": "data", "host": {"sourcePath": "/var/data"}}]
    assert (td["pidMode"], td["ipcMode"]) == ("task", "none")
    assert ecs.describe_task_definition(taskDefinition="full:1")["taskDefinition"] == td


def test_registered_by_is_the_principal_that_signed_the_request(kubecs_creds):
    alice = ecs_client(kubecs_creds.endpoint, access_key=ALICE_KEY[0], secret=ALICE_KEY[1])
    td = register_web(alice, "by-alice")
    assert td["registeredBy"] == f"arn:aws:iam::{ALICE_ACCOUNT}:user/alice"


def test_revisions_count_up_per_family_and_a_refused_registration_uses_none(ecs):
    assert [register_web(ecs, "a")["revision"] for _ in range(3)] == [1, 2, 3]
    assert register_web(ecs, "b")["revision"] == 1
    expect_error(ecs, "register_task_definition", code="ClientException", family="a", containerDefinitions=[])
    td = register_web(ecs, "a")
    assert (td["revision"], td["taskDefinitionArn"]) == (4, task_definition_arn("a", 4))


def test_fargate_sizes_in_vcpu_and_gb_are_stored_as_units_with_fargate_compatibility_and_an_eni(ecs):
    td = expect_ok(
        ecs, "register_task_definition",
        family="fg", cpu="1 vCPU", memory="2 GB",
        containerDefinitions=[{**APP, "portMappings": [{"containerPort": 8080}]}], **FARGATE,
    )["taskDefinition"]
    assert (td["cpu"], td["memory"]) == ("1024", "2048")
    assert td["compatibilities"] == ["EC2", "FARGATE"]
    assert td["requiresCompatibilities"] == ["FARGATE"]
    assert [a["name"] for a in td["requiresAttributes"]] == [
        "com.amazonaws.ecs.capability.docker-remote-api.1.18",
        "ecs.capability.task-eni",
    ]
    # awsvpc: the host port is filled in with the container port.
    assert td["containerDefinitions"][0]["portMappings"] == [
        {"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}
    ]
    quarter = register_web(ecs, "fg", cpu="0.25 vcpu", memory="0.5GB", containerDefinitions=[APP], **FARGATE)
    assert (quarter["cpu"], quarter["memory"], quarter["revision"]) == ("256", "512", 2)


def test_an_awsvpc_definition_of_a_fargate_size_is_fargate_compatible_without_asking(ecs):
    td = register_web(ecs, "vpc", networkMode="awsvpc", cpu="512", memory="1024", containerDefinitions=[APP])
    assert td["compatibilities"] == ["EC2", "FARGATE"]
    assert "requiresCompatibilities" not in td
    odd = register_web(ecs, "vpc", networkMode="awsvpc", cpu="1000", memory="1024", containerDefinitions=[APP])
    assert odd["compatibilities"] == ["EC2"]


def test_fargate_accepts_each_size_of_its_table(ecs):
    sizes = [("256", "512"), ("256", "2048"), ("512", "4096"), ("4096", "30720"), ("8 vCPU", "60 GB"), ("16384", "122880")]
    for cpu, memory in sizes:
        td = expect_ok(
            ecs, "register_task_definition", family="fg", cpu=cpu, memory=memory, containerDefinitions=[APP], **FARGATE,
        )["taskDefinition"]
        assert "FARGATE" in td["compatibilities"], (cpu, memory)
    assert len(revisions(ecs)) == len(sizes)


def test_requires_attributes_follow_roles_log_drivers_ecr_images_and_reservations(ecs):
    td = register_web(
        ecs, "attrs",
        taskRoleArn="arn:aws:iam::000000000000:role/task",
        executionRoleArn="arn:aws:iam::000000000000:role/exec",
        containerDefinitions=[{
            "name": "c", "image": "1.dkr.ecr.us-east-1.amazonaws.com/x:1", "memoryReservation": 128,
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}},
        }],
    )
    assert sorted(a["name"] for a in td["requiresAttributes"]) == sorted([
        "com.amazonaws.ecs.capability.logging-driver.awslogs",
        "com.amazonaws.ecs.capability.docker-remote-api.1.19",
        "com.amazonaws.ecs.capability.docker-remote-api.1.21",
        "com.amazonaws.ecs.capability.task-iam-role",
        "com.amazonaws.ecs.capability.ecr-auth",
        "ecs.capability.execution-role-awslogs",
        "ecs.capability.execution-role-ecr-pull",
    ])


def test_register_accepts_the_edges_of_each_rule(ecs):
    register_web(ecs, "f" * 255)
    # essential defaults to true: one non-essential sidecar next to it is fine.
    register_web(ecs, "side", containerDefinitions=[web_container("main"), web_container("log", essential=False, portMappings=[])])
    # Task-level memory stands in for container memory; a reservation alone is enough.
    register_web(ecs, "task-mem", memory="512", containerDefinitions=[{"name": "c", "image": "x"}])
    register_web(ecs, "soft", containerDefinitions=[{"name": "c", "image": "x", "memoryReservation": 64}])
    register_web(ecs, "equal", containerDefinitions=[{"name": "c", "image": "x", "memory": 128, "memoryReservation": 128}])
    # The same port over udp and tcp is two mappings; awsvpc with the host port spelled out.
    register_web(ecs, "dns", networkMode="awsvpc", containerDefinitions=[web_container(
        portMappings=[{"containerPort": 53, "protocol": "udp"}, {"containerPort": 53, "hostPort": 53}],
    )])
    # Bridge mode: any host port, left as given.
    bridge = register_web(ecs, "bridge", networkMode="bridge", containerDefinitions=[web_container(
        portMappings=[{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81}],
    )])
    assert bridge["containerDefinitions"][0]["portMappings"] == [
        {"containerPort": 80, "hostPort": 8080, "protocol": "tcp"},
        {"containerPort": 81, "protocol": "tcp"},
    ]
    assert len(families(ecs)) == 7


def _fargate(cpu: str | None = "256", memory: str | None = "512", **over) -> dict:
    params = {"family": "fg", "containerDefinitions": [APP], **FARGATE, **over}
    if cpu is not None:
        params["cpu"] = cpu
    if memory is not None:
        params["memory"] = memory
    return params


def _ports(mode: str, *mappings: dict) -> dict:
    return {"family": "ports", "networkMode": mode, "containerDefinitions": [
        {"name": "c", "image": "x", "memory": 64, "portMappings": list(mappings)}
    ]}


def _plain(**over) -> dict:
    return {"family": "plain", "containerDefinitions": [web_container("c")], **over}


def _containers(*containers: dict) -> dict:
    return {"family": "f", "containerDefinitions": list(containers)}


C = {"image": "x", "memory": 64}
REFUSALS = {
    "family_with_a_space": ({**_plain(), "family": "has space"}, "ClientException", "Family contains invalid characters."),
    "family_with_a_dot": ({**_plain(), "family": "dot.ted"}, "ClientException", "Family contains invalid characters."),
    "blank_family": ({**_plain(), "family": ""}, "ClientException", "Family can not be blank."),
    "family_of_256_characters": ({**_plain(), "family": "f" * 256}, "ClientException", "at most 255"),
    "no_containers": (_containers(), "ClientException", "Container list cannot be empty."),
    "a_container_without_a_name": (_containers(dict(C)), "ClientException", "Container.name should not be null or empty."),
    "a_container_name_with_a_space": (_containers({"name": "bad name", **C}), "ClientException", "Container.name contains invalid characters."),
    "two_containers_of_one_name": (_containers({"name": "a", **C}, {"name": "a", **C}), "ClientException", "Container names must be unique within a Task Definition."),
    "no_essential_container": (
        _containers({"name": "a", **C, "essential": False}, {"name": "b", **C, "essential": False}),
        "ClientException", "Task definition doesn't have any essential container.",
    ),
    "a_container_without_memory": (
        _containers({"name": "c", "image": "x"}), "ClientException",
        "Invalid setting for container 'c'. At least one of 'memory' or 'memoryReservation' must be specified.",
    ),
    "a_reservation_above_memory": (
        _containers({"name": "c", "image": "x", "memory": 128, "memoryReservation": 256}), "ClientException",
        "Invalid setting for container 'c'. 'memoryReservation' must be less than or equal to 'memory'.",
    ),
    "container_memory_above_the_task": (
        {**_containers({"name": "c", "image": "x", "memory": 1024}), "memory": "512"}, "ClientException",
        "The 'memory' setting for container 'c' is greater than for the task.",
    ),
    "fargate_in_bridge_mode": (_fargate(networkMode="bridge"), "ClientException", "Fargate only supports network mode \u2018awsvpc\u2019."),
    "fargate_without_a_network_mode": (
        {k: v for k, v in _fargate().items() if k != "networkMode"}, "ClientException", "Fargate only supports network mode \u2018awsvpc\u2019.",
    ),
    "fargate_without_task_cpu": (_fargate(cpu=None), "ClientException", "Fargate requires that 'cpu' be defined at the task level."),
    "fargate_without_task_memory": (_fargate(memory=None), "ClientException", "Fargate requires that 'memory' be defined at the task level."),
    "fargate_512_cpu_512_memory": (
        _fargate("512", "512"), "ClientException",
        "No Fargate configuration exists for given values: 512 CPU, 512 memory. See the Amazon ECS documentation for the valid values.",
    ),
    "fargate_1_vcpu_1_gb_named_in_units": (_fargate("1 vCPU", "1 GB"), "ClientException", "given values: 1024 CPU, 1024 memory."),
    "fargate_256_cpu_3_gb": (_fargate("256", "3072"), "ClientException", "No Fargate configuration exists"),
    "fargate_300_cpu": (_fargate("300", "1024"), "ClientException", "No Fargate configuration exists"),
    "awsvpc_host_port_other_than_the_container_port": (
        _ports("awsvpc", {"containerPort": 80, "hostPort": 8080}), "ClientException",
        "When networkMode=awsvpc, the host ports and container ports in port mappings must match.",
    ),
    "host_mode_host_port_other_than_the_container_port": (
        _ports("host", {"containerPort": 80, "hostPort": 8080}), "ClientException",
        "When networkMode=host, the host ports and container ports in port mappings must match.",
    ),
    "a_mapping_without_a_container_port": (_ports("bridge", {"hostPort": 80}), "ClientException", "Invalid 'containerPort' setting for container 'c'."),
    "container_port_70000": (_ports("bridge", {"containerPort": 70000}), "ClientException", "Invalid 'containerPort' setting for container 'c'."),
    "host_port_70000": (_ports("bridge", {"containerPort": 80, "hostPort": 70000}), "ClientException", "Invalid 'hostPort' setting for container 'c'."),
    "one_host_port_mapped_twice": (
        _ports("bridge", {"containerPort": 80, "hostPort": 3000}, {"containerPort": 81, "hostPort": 3000}),
        "ClientException", "TCP host port '3000' is mapped multiple times in task.",
    ),
    "one_awsvpc_port_mapped_twice": (
        _ports("awsvpc", {"containerPort": 80}, {"containerPort": 80, "hostPort": 80}),
        "ClientException", "TCP host port '80' is mapped multiple times in task.",
    ),
    "unreadable_task_cpu": (_plain(cpu="lots"), "InvalidParameterException", "Invalid 'cpu' setting for task."),
    "task_cpu_below_128_on_ec2": (_plain(cpu="64"), "InvalidParameterException", "Invalid 'cpu' setting for task."),
    "task_cpu_of_a_fraction_of_a_unit": (_plain(cpu="0.0001 vCPU"), "InvalidParameterException", "Invalid 'cpu' setting for task."),
    "task_memory_in_terabytes": (_plain(memory="1 TB"), "InvalidParameterException", "Invalid 'memory' setting for task."),
    "task_memory_of_zero": (_plain(memory="0"), "InvalidParameterException", "Invalid 'memory' setting for task."),
    "a_tag_with_the_aws_prefix": (_plain(tags=[{"key": "aws:owner", "value": "x"}]), "InvalidParameterException", "aws:"),
    "a_tag_key_of_129_characters": (_plain(tags=[{"key": "k" * 129, "value": "x"}]), "InvalidParameterException", "key"),
    "a_tag_value_of_257_characters": (_plain(tags=[{"key": "k", "value": "v" * 257}]), "InvalidParameterException", "value"),
    "51_tags": (_plain(tags=[{"key": f"k{i}", "value": "v"} for i in range(51)]), "InvalidParameterException", "50"),
}


@pytest.fixture(scope="module")
def refusals_ecs(tmp_path_factory):
    """One kubecs for the whole refusal table: no case may store anything, so each also
    checks that no earlier one did."""
    for server in shared_kubecs(tmp_path_factory.mktemp("td-refusals")):
        yield ecs_client(server.endpoint)


@pytest.mark.parametrize("params, code, message", REFUSALS.values(), ids=REFUSALS.keys())
def test_register_refuses_with_ecs_code_and_message_and_stores_nothing(refusals_ecs, params, code, message):
    ecs = refusals_ecs
    err = expect_error(ecs, "register_task_definition", code=code, **params)
    assert message in err.response["Error"]["Message"], err.response["Error"]
    assert families(ecs) == []
    assert revisions(ecs, status="ACTIVE") == [] and revisions(ecs, status="INACTIVE") == []


def test_register_refuses_a_container_memory_of_zero(ecs):
    err = expect_error(
        ecs, "register_task_definition", code="ClientException",
        family="zero", containerDefinitions=[{"name": "c", "image": "x", "memory": 0}],
    )
    assert err.response["Error"]["Message"] == "Invalid 'memory' setting for container 'c'."
    assert families(ecs) == []


def test_register_refuses_a_container_without_an_image(ecs):
    err = expect_error(
        ecs, "register_task_definition", code="ClientException",
        family="noimage", containerDefinitions=[{"name": "c", "memory": 64}],
    )
    assert err.response["Error"]["Message"] == "Container.image should not be null or empty."
    assert families(ecs) == []


# --------------------------------------------------------------------------- describe


def test_describe_finds_a_revision_by_family_family_revision_and_arn(ecs):
    first = register_web(ecs, "d")
    second = register_web(ecs, "d", containerDefinitions=[web_container(image="nginx:2")])
    assert expect_ok(ecs, "describe_task_definition", taskDefinition="d")["taskDefinition"] == second
    assert ecs.describe_task_definition(taskDefinition="d:1")["taskDefinition"] == first
    assert ecs.describe_task_definition(taskDefinition=task_definition_arn("d", 2))["taskDefinition"] == second


def test_describe_returns_tags_only_when_include_tags_is_asked(ecs):
    tags = [{"key": "team", "value": "core"}, {"key": "env", "value": "dev"}]
    resp = ecs.register_task_definition(family="tagged", containerDefinitions=[web_container()], tags=tags)
    assert resp["tags"] == tags
    assert ecs.describe_task_definition(taskDefinition="tagged:1", include=["TAGS"])["tags"] == tags
    assert "tags" not in ecs.describe_task_definition(taskDefinition="tagged:1")
    register_web(ecs, "untagged")
    assert ecs.describe_task_definition(taskDefinition="untagged", include=["TAGS"])["tags"] == []


def test_describing_an_unknown_task_definition_is_client_exception_unable_to_describe(ecs):
    register_web(ecs, "known")
    for reference in ["unknown", "unknown:1", "known:2", task_definition_arn("unknown", 1)]:
        err = expect_error(ecs, "describe_task_definition", code="ClientException", taskDefinition=reference)
        assert err.response["Error"]["Message"] == "Unable to describe task definition.", reference


@pytest.mark.parametrize("reference, message", [
    ("known:zero", "Invalid revision number. Number: zero"),
    ("known:0", "Invalid revision number. Number: 0"),
    ("arn:aws:ecs:us-east-1:000000000000:cluster/known", "Invalid task definition ARN"),
])
def test_describing_a_malformed_reference_is_client_exception(ecs, reference, message):
    register_web(ecs, "known")
    err = expect_error(ecs, "describe_task_definition", code="ClientException", taskDefinition=reference)
    assert message in err.response["Error"]["Message"]


# ------------------------------------------------------------------ deregister and delete


def test_deregister_makes_a_revision_inactive_and_the_family_resolves_to_the_latest_active_one(ecs):
    register_web(ecs, "g")
    register_web(ecs, "g")
    td = expect_ok(ecs, "deregister_task_definition", taskDefinition="g:2")["taskDefinition"]
    assert (td["status"], td["revision"]) == ("INACTIVE", 2)
    assert_recent(td["deregisteredAt"])
    assert ecs.describe_task_definition(taskDefinition="g:2")["taskDefinition"]["status"] == "INACTIVE"
    assert ecs.describe_task_definition(taskDefinition="g")["taskDefinition"]["revision"] == 1
    ecs.deregister_task_definition(taskDefinition=task_definition_arn("g", 1))
    err = expect_error(ecs, "describe_task_definition", code="ClientException", taskDefinition="g")
    assert err.response["Error"]["Message"] == "Unable to describe task definition."
    assert ecs.describe_task_definition(taskDefinition="g:1")["taskDefinition"]["status"] == "INACTIVE"


def test_deregister_refuses_a_bare_family_an_unknown_revision_and_an_inactive_one(ecs):
    register_web(ecs, "h")
    for reference, message in [
        ("h", "a revision is required"),
        ("h:9", "does not exist"),
        ("nope:1", "does not exist"),
    ]:
        err = expect_error(ecs, "deregister_task_definition", code="ClientException", taskDefinition=reference)
        assert message in err.response["Error"]["Message"], reference
    assert ecs.describe_task_definition(taskDefinition="h:1")["taskDefinition"]["status"] == "ACTIVE"
    first = ecs.deregister_task_definition(taskDefinition="h:1")["taskDefinition"]
    err = expect_error(ecs, "deregister_task_definition", code="ClientException", taskDefinition="h:1")
    assert err.response["Error"]["Message"] == "TaskDefinition is inactive"
    # The refused second deregistration did not move deregisteredAt.
    assert ecs.describe_task_definition(taskDefinition="h:1")["taskDefinition"] == first


def test_delete_moves_inactive_revisions_to_delete_in_progress_and_reports_the_others_as_failures(ecs):
    register_web(ecs, "k")
    register_web(ecs, "k")
    ecs.deregister_task_definition(taskDefinition="k:1")
    resp = expect_ok(ecs, "delete_task_definitions", taskDefinitions=["k:1", "k:2", "k:7", "k"])
    [deleted] = resp["taskDefinitions"]
    assert (deleted["taskDefinitionArn"], deleted["status"]) == (task_definition_arn("k", 1), "DELETE_IN_PROGRESS")
    assert_recent(deleted["deleteRequestedAt"])
    assert [f["arn"] for f in resp["failures"]] == ["k:2", "k:7", "k"]
    assert "ACTIVE status" in resp["failures"][0]["reason"]
    assert "does not exist" in resp["failures"][1]["reason"]
    assert ecs.describe_task_definition(taskDefinition="k:1")["taskDefinition"]["status"] == "DELETE_IN_PROGRESS"
    assert ecs.describe_task_definition(taskDefinition="k:2")["taskDefinition"]["status"] == "ACTIVE"
    # Deleting it again answers it as it is; its revision number is never handed out again.
    again = ecs.delete_task_definitions(taskDefinitions=[task_definition_arn("k", 1)])
    assert [t["status"] for t in again["taskDefinitions"]] == ["DELETE_IN_PROGRESS"] and again["failures"] == []
    assert register_web(ecs, "k")["revision"] == 3


@pytest.mark.parametrize("count", [0, 11])
def test_delete_takes_between_1_and_10_task_definitions(ecs, count):
    register_web(ecs, "x")
    ecs.deregister_task_definition(taskDefinition="x:1")
    refs = ["x:1"] * count
    err = expect_error(ecs, "delete_task_definitions", code="InvalidParameterException", taskDefinitions=refs)
    assert "between 1 and 10" in err.response["Error"]["Message"]
    assert ecs.describe_task_definition(taskDefinition="x:1")["taskDefinition"]["status"] == "INACTIVE"


# --------------------------------------------------------------------------- listings


def test_list_task_definitions_paginator_pages_by_family_then_revision_in_either_order(ecs):
    for family in ["b", "a", "b", "a", "c"]:
        register_web(ecs, family)
    before = len(sent(ecs))
    pages = list(ecs.get_paginator("list_task_definitions").paginate(PaginationConfig={"PageSize": 2}))
    assert len(sent(ecs)) - before == 3
    assert [len(p["taskDefinitionArns"]) for p in pages] == [2, 2, 1]
    arns = [arn for p in pages for arn in p["taskDefinitionArns"]]
    assert arns == [task_definition_arn(f, r) for f, r in [("a", 1), ("a", 2), ("b", 1), ("b", 2), ("c", 1)]]
    assert revisions(ecs, sort="DESC", PaginationConfig={"PageSize": 2}) == ["c:1", "b:2", "b:1", "a:2", "a:1"]
    whole = ecs.list_task_definitions(maxResults=100)
    assert "nextToken" not in whole and whole["taskDefinitionArns"] == arns


def test_list_task_definitions_family_prefix_is_the_exact_family_and_status_filters(ecs):
    for family in ["app", "app", "apple"]:
        register_web(ecs, family)
    ecs.deregister_task_definition(taskDefinition="app:1")
    assert revisions(ecs) == ["app:2", "apple:1"]  # ACTIVE by default
    assert revisions(ecs, familyPrefix="app") == ["app:2"]
    assert revisions(ecs, familyPrefix="app", status="INACTIVE") == ["app:1"]
    ecs.delete_task_definitions(taskDefinitions=["app:1"])
    assert revisions(ecs, status="DELETE_IN_PROGRESS") == ["app:1"]
    assert revisions(ecs, status="INACTIVE") == []


def test_list_task_definition_families_paginator_filters_by_prefix_and_status_and_defaults_to_all(ecs):
    for family in ["web", "web-api", "worker", "db"]:
        register_web(ecs, family)
    ecs.deregister_task_definition(taskDefinition="worker:1")
    before = len(sent(ecs))
    pages = list(ecs.get_paginator("list_task_definition_families").paginate(PaginationConfig={"PageSize": 3}))
    assert len(sent(ecs)) - before == 2
    assert [p["families"] for p in pages] == [["db", "web", "web-api"], ["worker"]]

    def listed(**params):
        pages = ecs.get_paginator("list_task_definition_families").paginate(**params)
        return [f for p in pages for f in p["families"]]

    assert listed(familyPrefix="w") == ["web", "web-api", "worker"]
    assert listed(familyPrefix="web-") == ["web-api"]
    assert listed(status="ACTIVE") == ["db", "web", "web-api"]
    assert listed(status="INACTIVE") == ["worker"]
    assert listed(status="ALL") == ["db", "web", "web-api", "worker"]


@pytest.mark.parametrize("operation", ["list_task_definitions", "list_task_definition_families"])
def test_listings_refuse_a_next_token_they_did_not_issue_and_max_results_outside_1_to_100(ecs, operation):
    err = expect_error(ecs, operation, code="InvalidParameterException", nextToken="bm90IGEgdG9rZW4=")
    assert "nextToken" in err.response["Error"]["Message"]
    for max_results in (0, 101):
        err = expect_error(ecs, operation, code="InvalidParameterException", maxResults=max_results)
        assert "maxResults" in err.response["Error"]["Message"]


def test_a_next_token_of_one_listing_is_refused_by_the_other(ecs):
    for family in ["p", "q"]:
        register_web(ecs, family)
    families_token = ecs.list_task_definition_families(maxResults=1)["nextToken"]
    list_token = ecs.list_task_definitions(maxResults=1)["nextToken"]
    expect_error(ecs, "list_task_definitions", code="InvalidParameterException", nextToken=families_token)
    expect_error(ecs, "list_task_definition_families", code="InvalidParameterException", nextToken=list_token)
    # Each resumes its own listing.
    assert ecs.list_task_definitions(nextToken=list_token)["taskDefinitionArns"] == [task_definition_arn("q", 1)]
    assert ecs.list_task_definition_families(nextToken=families_token)["families"] == ["q"]
