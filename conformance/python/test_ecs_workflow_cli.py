"""Issue 5: the everyday aws CLI workflow against kubecs — register a task definition from a
JSON file, create, describe, update, list (auto-paginated), delete a service, and read the
tags back. Kept to one test: every CLI call costs about a second."""

from __future__ import annotations

import json
import re

from harness import expect_cli_error, expect_cli_ok, service_arn, task_definition_arn, web_container

TASK_DEFINITION = {
    "family": "web",
    "networkMode": "bridge",
    "containerDefinitions": [
        {
            "name": "web",
            "image": "nginx:1.27",
            "memory": 128,
            "portMappings": [{"containerPort": 80, "hostPort": 8080}],
            "environment": [{"name": "MODE", "value": "cli"}],
        }
    ],
    "tags": [{"key": "team", "value": "web"}],
}


def test_aws_ecs_registers_from_a_json_file_then_creates_updates_lists_and_deletes_a_service(aws, ecs, kubecs, tmp_path):
    ecs.create_cluster()
    path = tmp_path / "task-definition.json"
    path.write_text(json.dumps(TASK_DEFINITION))

    td = expect_cli_ok(aws("register-task-definition", "--cli-input-json", f"file://{path}"))
    assert td["taskDefinition"]["taskDefinitionArn"] == task_definition_arn("web", 1)
    assert td["taskDefinition"]["status"] == "ACTIVE"
    assert td["taskDefinition"]["containerDefinitions"][0]["portMappings"] == [
        {"containerPort": 80, "hostPort": 8080, "protocol": "tcp"}
    ]
    assert td["tags"] == [{"key": "team", "value": "web"}]

    created = expect_cli_ok(aws(
        "create-service", "--service-name", "api", "--task-definition", "web", "--desired-count", "2",
        "--tags", "key=env,value=dev", "--client-token", "cli-token-1",
    ))["service"]
    assert created["serviceArn"] == service_arn("api")
    assert (created["status"], created["launchType"], created["desiredCount"]) == ("ACTIVE", "EC2", 2)
    [first] = created["deployments"]
    assert re.fullmatch(r"ecs-svc/\d{19}", first["id"]) and first["rolloutState"] == "IN_PROGRESS"

    described = expect_cli_ok(aws("describe-services", "--services", "api", "ghost", "--include", "TAGS"))
    assert [s["serviceArn"] for s in described["services"]] == [service_arn("api")]
    assert described["services"][0]["tags"] == [{"key": "env", "value": "dev"}]
    assert described["failures"] == [{"arn": service_arn("ghost"), "reason": "MISSING"}]

    ecs.register_task_definition(family="web", containerDefinitions=[web_container(image="nginx:1.28")])
    updated = expect_cli_ok(aws("update-service", "--service", "api", "--task-definition", "web:2"))["service"]
    assert [(d["status"], d["taskDefinition"]) for d in updated["deployments"]] == [
        ("PRIMARY", task_definition_arn("web", 2)),
        ("ACTIVE", task_definition_arn("web", 1)),
    ]
    assert updated["deployments"][1]["id"] == first["id"]

    for name in ("api-2", "api-3"):
        ecs.create_service(serviceName=name, taskDefinition="web", desiredCount=0)
    before = len(kubecs.api_requests())
    result = aws("list-services", "--page-size", "1")
    listed = expect_cli_ok(result)
    assert result.attempts == 3  # one service per page
    assert [r["operation"] for r in kubecs.api_requests()[before:]] == ["ListServices"] * 3
    assert listed["serviceArns"] == [service_arn(n) for n in ("api", "api-2", "api-3")]

    refused = expect_cli_error(aws("delete-service", "--service", "api"), "InvalidParameterException")
    assert refused.error_message == "The service cannot be stopped while it is scaled above 0."
    deleted = expect_cli_ok(aws("delete-service", "--service", "api", "--force"))["service"]
    assert (deleted["status"], deleted["desiredCount"]) == ("DRAINING", 0)

    tags = expect_cli_ok(aws("list-tags-for-resource", "--resource-arn", task_definition_arn("web", 1)))
    assert tags["tags"] == [{"key": "team", "value": "web"}]
