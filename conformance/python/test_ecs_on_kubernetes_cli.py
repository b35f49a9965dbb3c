"""ECS services running on a real Kubernetes API server, driven as a user drives them:
the aws CLI (task definitions from JSON files, `aws ecs wait`), boto3's waiters, and
kubectl to look at what kubecs made.

One kubecs with its reconciler for the whole module: two reconcilers on one Kubernetes
cluster undo each other (each removes the namespaces of ECS clusters it does not know).
The cluster is conftest's `kubernetes` (KUBECONFIG's, else deploy/local-k8s's, whose
hollow nodes report pods Running without starting containers). Cluster names are unique
per run; the steps follow the ECS tutorials, so each test is one story, top to bottom.
"""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest

from harness import HERE, Kubecs, ecs_client, expect_cli_ok, run_aws

DATA = HERE / "data"
MANAGED = "app.kubernetes.io/managed-by=kubecs"
# Bounds, not expectations: `aws ecs wait` polls every 15 s (up to 40 times).
WAIT_TIMEOUT = 300
EVENT_TIMEOUT = 60
RUN = uuid.uuid4().hex[:8]
CLUSTERS = (f"stage01-{RUN}", f"wordpress-{RUN}", f"jobs-{RUN}", f"capacity-{RUN}", f"daemons-{RUN}")


@pytest.fixture(scope="module")
def server(kubernetes, tmp_path_factory):
    directory = tmp_path_factory.mktemp("kubecs-on-kubernetes")
    kubecs = Kubecs(
        directory / "data", directory / "kubecs.log",
        ("--kubernetes", "auto", "--kubeconfig", kubernetes.kubeconfig),
    ).start()
    try:
        yield kubecs
    finally:
        rc = kubecs.stop()
        # A failed test leaves its namespace behind; no reconciler is left to remove it.
        kubernetes.kubectl(
            "delete", "namespaces", "-l", f"ecs.kubecs.io/cluster in ({','.join(CLUSTERS)})",
            "--ignore-not-found", "--wait=false",
        )
        assert rc == 0, f"kubecs exited with {rc} on SIGTERM; log:\n{kubecs.log_text()[-4000:]}"


@pytest.fixture(scope="module")
def aws(server, tmp_path_factory):
    """aws("create-cluster", ...) -> the parsed answer, asserting success."""
    home = tmp_path_factory.mktemp("cli-home")

    def run(*args: str):
        timeout = WAIT_TIMEOUT if args[0] == "wait" else 60
        return expect_cli_ok(run_aws(server.endpoint, *args, home=home, timeout=timeout))

    return run


def describe(aws, cluster: str, service: str) -> dict:
    [svc] = aws("describe-services", "--cluster", cluster, "--services", service)["services"]
    return svc


def messages(service: dict) -> list[str]:
    """The service's event messages, newest first (as ECS lists them)."""
    return [e["message"] for e in service["events"]]


def task_ids(msgs: list[str], verb: str) -> set[str]:
    """Task ids named by "(service x) has <verb> N [running ]tasks: (task id) ..." events."""
    ids: set[str] = set()
    for msg in msgs:
        if re.match(rf"\(service [^)]+\) has {verb} \d+ (running )?tasks:", msg):
            ids |= set(re.findall(r"\(task ([0-9a-f]{32})\)", msg))
    return ids


def steady_events(service: dict) -> int:
    name = service["serviceName"]
    return messages(service).count(f"(service {name}) has reached a steady state.")


def next_steady_state(aws, cluster: str, service: str, seen: int) -> dict:
    """The service once it has more steady-state events than `seen`."""
    def check():
        svc = describe(aws, cluster, service)
        return svc if steady_events(svc) > seen else None
    return eventually(check, f"a steady-state event after {seen}")


def eventually(check, what: str, timeout: float = EVENT_TIMEOUT):
    """check()'s first truthy answer, polled; the timeout is a generous bound."""
    deadline = time.monotonic() + timeout
    while not (answer := check()):
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.5)
    return answer


def namespace(kubernetes, cluster: str) -> str:
    [ns] = kubernetes.items("namespaces", "-l", f"{MANAGED},ecs.kubecs.io/cluster={cluster}")
    return ns["metadata"]["name"]


def owned(kubernetes, kind: str, ns: str, service: str) -> list[dict]:
    return kubernetes.items(kind, "-n", ns, "-l", f"{MANAGED},ecs.kubecs.io/service={service}")


def pod_task_ids(pods: list[dict]) -> set[str]:
    """ECS task ids of pods: kubecs uses the pod's UID without dashes."""
    return {p["metadata"]["uid"].replace("-", "") for p in pods if "deletionTimestamp" not in p["metadata"]}


def register(aws, name: str) -> dict:
    return aws("register-task-definition", "--cli-input-json", f"file://{DATA / name}")["taskDefinition"]


def test_the_ecs_tutorial_flow_runs_a_service_on_kubernetes_from_create_to_delete_and_again(aws, server, kubernetes):
    cluster = CLUSTERS[0]
    aws("create-cluster", "--cluster-name", cluster)
    first, second = register(aws, "auth-1.json"), register(aws, "auth-2.json")
    assert (first["family"], second["family"], second["revision"]) == ("auth", "auth", first["revision"] + 1)
    old_image, new_image = (td["containerDefinitions"][0]["image"] for td in (first, second))
    assert old_image != new_image

    target_group = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/auth/0123456789abcdef"
    create_service = (
        "create-service", "--cluster", cluster, "--service-name", "auth",
        "--task-definition", f"auth:{first['revision']}", "--desired-count", "2",
        "--load-balancers", f"targetGroupArn={target_group},containerName=auth,containerPort=8080",
        "--role", "ecsServiceRole",
        "--deployment-configuration", "maximumPercent=200,minimumHealthyPercent=50",
        "--placement-strategy", "type=spread,field=attribute:ecs.availability-zone",
    )
    created = aws(*create_service)["service"]
    assert created["loadBalancers"] == [
        {"targetGroupArn": target_group, "containerName": "auth", "containerPort": 8080}
    ]
    assert created["placementStrategy"] == [{"type": "spread", "field": "attribute:ecs.availability-zone"}]
    assert created["roleArn"].endswith(":role/ecsServiceRole")

    aws("wait", "services-stable", "--cluster", cluster, "--services", "auth")
    svc = describe(aws, cluster, "auth")
    assert (svc["runningCount"], svc["desiredCount"]) == (2, 2)
    [deployment] = svc["deployments"]
    assert (deployment["rolloutState"], deployment["taskDefinition"]) == ("COMPLETED", first["taskDefinitionArn"])

    # The Deployment: ECS's 200 %/50 % of 2 tasks as a rolling update, the task definition
    # as the pod template (cpu units as millicores, hostPort 0 = a dynamic port, which a
    # pod does not have, dockerLabels as annotations).
    ns = namespace(kubernetes, cluster)
    [workload] = owned(kubernetes, "deployments", ns, "auth")
    assert workload["spec"]["replicas"] == 2
    assert workload["spec"]["strategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": "50%"},
    }
    template = workload["spec"]["template"]
    [container] = template["spec"]["containers"]
    assert container["image"] == old_image
    assert container["resources"]["requests"] == {"cpu": "10m", "memory": "32Mi"}
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    labels = first["containerDefinitions"][0]["dockerLabels"]
    annotations = template["metadata"]["annotations"]
    assert {k: annotations.get(f"auth.docker-label.ecs.kubecs.io/{k}") for k in labels} == labels
    [balancer] = [s for s in owned(kubernetes, "services", ns, "auth") if s["spec"]["type"] == "LoadBalancer"]
    assert [(p["port"], p["targetPort"]) for p in balancer["spec"]["ports"]] == [(8080, 8080)]
    assert balancer["metadata"]["annotations"]["ecs.kubecs.io/target-group-arn"] == target_group

    # The events name the tasks that run: kubecs's task id is the pod's UID.
    svc = next_steady_state(aws, cluster, "auth", seen=0)
    first_tasks = pod_task_ids(owned(kubernetes, "pods", ns, "auth"))
    assert len(first_tasks) == 2 and task_ids(messages(svc), "started") == first_tasks
    assert f"(service auth) (deployment {deployment['id']}) deployment completed." in messages(svc)

    # A new revision: a second deployment until the first one's tasks are replaced.
    seen = steady_events(svc)
    updated = aws(
        "update-service", "--cluster", cluster, "--service", "auth", "--task-definition", f"auth:{second['revision']}",
    )["service"]
    assert [(d["status"], d["taskDefinition"]) for d in updated["deployments"]] == [
        ("PRIMARY", second["taskDefinitionArn"]), ("ACTIVE", first["taskDefinitionArn"]),
    ]
    aws("wait", "services-stable", "--cluster", cluster, "--services", "auth")
    svc = next_steady_state(aws, cluster, "auth", seen)
    [deployment] = svc["deployments"]
    assert (deployment["status"], deployment["rolloutState"], deployment["taskDefinition"]) == (
        "PRIMARY", "COMPLETED", second["taskDefinitionArn"])
    assert deployment["id"] == updated["deployments"][0]["id"] and svc["runningCount"] == 2
    second_tasks = pod_task_ids(owned(kubernetes, "pods", ns, "auth"))
    assert task_ids(messages(svc), "stopped") == first_tasks
    assert task_ids(messages(svc), "started") == first_tasks | second_tasks
    [workload] = owned(kubernetes, "deployments", ns, "auth")
    assert workload["spec"]["template"]["spec"]["containers"][0]["image"] == new_image

    # Scaling is not a deployment: the same one, more or fewer tasks.
    for count in (5, 0):
        scaled = aws(
            "update-service", "--cluster", cluster, "--service", "auth", "--desired-count", str(count),
        )["service"]
        assert [d["id"] for d in scaled["deployments"]] == [deployment["id"]]
        aws("wait", "services-stable", "--cluster", cluster, "--services", "auth")
        svc = describe(aws, cluster, "auth")
        assert (svc["runningCount"], svc["desiredCount"]) == (count, count)
        [workload] = owned(kubernetes, "deployments", ns, "auth")
        assert workload["spec"]["replicas"] == count
        assert len(pod_task_ids(owned(kubernetes, "pods", ns, "auth"))) == count

    deleted = aws("delete-service", "--cluster", cluster, "--service", "auth")["service"]
    assert deleted["status"] == "DRAINING"
    aws("wait", "services-inactive", "--cluster", cluster, "--services", "auth")
    assert describe(aws, cluster, "auth")["status"] == "INACTIVE"
    assert aws("delete-cluster", "--cluster", cluster)["cluster"]["status"] == "INACTIVE"

    # The same names again, right away (the old namespace may still be terminating),
    # this time with boto3's waiters polling every 2 s.
    ecs = ecs_client(server.endpoint)
    fast = {"Delay": 2, "MaxAttempts": WAIT_TIMEOUT // 2}
    aws("create-cluster", "--cluster-name", cluster)
    again = aws(*create_service)["service"]
    assert again["deployments"][0]["id"] != deployment["id"]
    ecs.get_waiter("services_stable").wait(cluster=cluster, services=["auth"], WaiterConfig=fast)
    [svc] = ecs.describe_services(cluster=cluster, services=["auth"])["services"]
    assert (svc["status"], svc["runningCount"], len(svc["deployments"])) == ("ACTIVE", 2, 1)
    assert len(pod_task_ids(owned(kubernetes, "pods", namespace(kubernetes, cluster), "auth"))) == 2
    ecs.delete_service(cluster=cluster, service="auth", force=True)
    ecs.get_waiter("services_inactive").wait(cluster=cluster, services=["auth"], WaiterConfig=fast)
    assert aws("delete-cluster", "--cluster", cluster)["cluster"]["status"] == "INACTIVE"


def test_the_wordpress_task_definition_from_the_ecs_docs_runs_as_one_pod_with_mysql_on_localhost(aws, kubernetes):
    # data/hello_world.json is the WordPress example of the ECS Developer Guide (also in the
    # aws CLI's ecs examples), unmodified: two containers, `links`, hostPort 80, no networkMode.
    cluster = CLUSTERS[1]
    aws("create-cluster", "--cluster-name", cluster)
    td = register(aws, "hello_world.json")
    assert [c["name"] for c in td["containerDefinitions"]] == ["wordpress", "mysql"]
    target_group = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/wordpress/0123456789abcdef"
    aws(
        "create-service", "--cluster", cluster, "--service-name", "wordpress", "--task-definition", "hello_world",
        "--desired-count", "1",
        "--load-balancers", f"targetGroupArn={target_group},containerName=wordpress,containerPort=80",
    )
    aws("wait", "services-stable", "--cluster", cluster, "--services", "wordpress")
    assert describe(aws, cluster, "wordpress")["runningCount"] == 1

    # One task is one pod holding both containers; containers of a pod share its network,
    # so the link `mysql` is localhost.
    ns = namespace(kubernetes, cluster)
    [pod] = owned(kubernetes, "pods", ns, "wordpress")
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    assert {name: c["image"] for name, c in containers.items()} == {"wordpress": "wordpress", "mysql": "mysql"}
    assert containers["mysql"]["env"] == [{"name": "MYSQL_ROOT_PASSWORD", "value": "password"}]
    assert containers["wordpress"]["ports"] == [{"containerPort": 80, "hostPort": 80, "protocol": "TCP"}]
    assert [a["ip"] for a in pod["spec"]["hostAliases"] if "mysql" in a["hostnames"]] == ["127.0.0.1"]
    [balancer] = [s for s in owned(kubernetes, "services", ns, "wordpress") if s["spec"]["type"] == "LoadBalancer"]
    assert [(p["port"], p["targetPort"]) for p in balancer["spec"]["ports"]] == [(80, 80)]

    deleted = aws("delete-service", "--cluster", cluster, "--service", "wordpress", "--force")["service"]
    assert deleted["status"] == "DRAINING"
    aws("wait", "services-inactive", "--cluster", cluster, "--services", "wordpress")
    # INACTIVE means the workload is gone: nothing kubecs made is left in the namespace.
    leftovers = kubernetes.items("deployments,replicasets,services,pods", "-n", ns, "-l", MANAGED)
    assert [f"{o['kind']}/{o['metadata']['name']}" for o in leftovers] == []
    assert aws("delete-cluster", "--cluster", cluster)["cluster"]["status"] == "INACTIVE"
    eventually(
        lambda: not kubernetes.items("namespaces", "-l", f"ecs.kubecs.io/cluster={cluster}"),
        "the cluster's namespace removed", timeout=120,
    )


def test_a_one_off_task_runs_with_overrides_and_stops_with_the_cli_waiters(aws, kubernetes):
    """A database migration as ECS users run one: `run-task` with a command and an
    environment override, `wait tasks-running`, `stop-task`, `wait tasks-stopped`.
    (Hollow nodes never end a container, so the task is stopped rather than left to
    finish.)"""
    cluster = CLUSTERS[2]
    aws("create-cluster", "--cluster-name", cluster)
    register(aws, "auth-1.json")
    overrides = (
        '{"containerOverrides": [{"name": "auth", "command": ["migrate", "--up"],'
        ' "environment": [{"name": "STEP", "value": "42"}]}]}'
    )
    ran = aws(
        "run-task", "--cluster", cluster, "--task-definition", "auth",
        "--started-by", "migrations", "--overrides", overrides,
    )
    assert ran["failures"] == []
    [task] = ran["tasks"]
    arn = task["taskArn"]
    assert task["lastStatus"] == "PROVISIONING"
    assert task["group"] == "family:auth"

    aws("wait", "tasks-running", "--cluster", cluster, "--tasks", arn)
    [running] = aws("describe-tasks", "--cluster", cluster, "--tasks", arn)["tasks"]
    assert running["lastStatus"] == "RUNNING"
    assert running["startedBy"] == "migrations"
    assert aws("list-tasks", "--cluster", cluster, "--started-by", "migrations")["taskArns"] == [arn]
    [pod] = kubernetes.items("pods", "-n", namespace(kubernetes, cluster), "-l", f"ecs.kubecs.io/task={arn.rsplit('/', 1)[1]}")
    [container] = pod["spec"]["containers"]
    assert container["args"] == ["migrate", "--up"]
    assert {"name": "STEP", "value": "42"} in container["env"]

    stopping = aws("stop-task", "--cluster", cluster, "--task", arn, "--reason", "migration checked")["task"]
    assert stopping["desiredStatus"] == "STOPPED"
    aws("wait", "tasks-stopped", "--cluster", cluster, "--tasks", arn)
    [stopped] = aws("describe-tasks", "--cluster", cluster, "--tasks", arn)["tasks"]
    assert stopped["lastStatus"] == "STOPPED"
    assert stopped["stopCode"] == "UserInitiated"
    assert stopped["stoppedReason"] == "migration checked"
    assert aws("list-tasks", "--cluster", cluster, "--desired-status", "STOPPED")["taskArns"] == [arn]
    assert aws("list-tasks", "--cluster", cluster)["taskArns"] == []
    assert aws("delete-cluster", "--cluster", cluster)["cluster"]["status"] == "INACTIVE"


def test_container_instances_are_the_nodes_and_draining_one_moves_the_tasks(aws, server, kubernetes, tmp_path):
    """`list-container-instances`/`describe-container-instances` show the nodes with
    their resources; custom attributes select instances in `--filter` and in RunTask's
    memberOf; StartTask runs on the instance named; DRAINING moves a service's tasks to
    another node and ACTIVE takes the node back."""
    cluster = CLUSTERS[3]
    home = tmp_path / "cli-home"
    home.mkdir()
    aws("create-cluster", "--cluster-name", cluster)
    for node in kubernetes.items("nodes"):  # a failed earlier run may have left one drained
        kubernetes.kubectl("uncordon", node["metadata"]["name"])
    nodes = kubernetes.items("nodes")
    assert len(nodes) >= 2, "the test cluster starts two hollow nodes"
    arns = aws("list-container-instances", "--cluster", cluster)["containerInstanceArns"]
    assert len(arns) == len(nodes)
    instances = aws("describe-container-instances", "--cluster", cluster, "--container-instances", *arns)[
        "containerInstances"
    ]
    by_node = {}
    for node in nodes:
        name = node["metadata"]["name"]
        [instance] = [i for i in instances if i["ec2InstanceId"] in (name, node["spec"].get("providerID", "").rsplit("/", 1)[-1])]
        by_node[name] = instance
        cpu = {r["name"]: r for r in instance["registeredResources"]}["CPU"]["integerValue"]
        assert cpu == int(float(node["status"]["allocatable"]["cpu"]) * 1024)
        assert instance["status"] == "ACTIVE" and instance["agentConnected"] is True
        assert {"name": "ecs.os-type", "value": "linux"} in instance["attributes"]
    node_of = {i["containerInstanceArn"]: n for n, i in by_node.items()}
    assert sorted(aws("list-container-instances", "--cluster", cluster, "--filter", "attribute:ecs.os-type == linux")[
        "containerInstanceArns"
    ]) == sorted(arns)

    first, second = arns[0], arns[1]
    aws("put-attributes", "--cluster", cluster, "--attributes",
        f'[{{"name": "stack", "value": "prod", "targetId": "{first}"}}]')
    assert aws("list-container-instances", "--cluster", cluster, "--filter", "attribute:stack == prod")[
        "containerInstanceArns"
    ] == [first]

    # A task placed by a custom attribute, another on the instance named.
    register(aws, "auth-1.json")
    [member] = aws(
        "run-task", "--cluster", cluster, "--task-definition", "auth",
        "--placement-constraints", '[{"type": "memberOf", "expression": "attribute:stack == prod"}]',
    )["tasks"]
    [started] = aws(
        "start-task", "--cluster", cluster, "--task-definition", "auth", "--container-instances", second,
    )["tasks"]
    assert started["containerInstanceArn"] == second
    aws("wait", "tasks-running", "--cluster", cluster, "--tasks", member["taskArn"], started["taskArn"])
    running = aws("describe-tasks", "--cluster", cluster, "--tasks", member["taskArn"], started["taskArn"])["tasks"]
    assert {t["taskArn"]: t["containerInstanceArn"] for t in running} == {
        member["taskArn"]: first, started["taskArn"]: second,
    }
    assert aws("describe-clusters", "--clusters", cluster)["clusters"][0]["runningTasksCount"] == 2
    for task in (member, started):
        aws("stop-task", "--cluster", cluster, "--task", task["taskArn"])
    aws("wait", "tasks-stopped", "--cluster", cluster, "--tasks", member["taskArn"], started["taskArn"])

    # A service of two; the node of one of its tasks is drained.
    aws("create-service", "--cluster", cluster, "--service-name", "web", "--task-definition", "auth",
        "--desired-count", "2")
    aws("wait", "services-stable", "--cluster", cluster, "--services", "web")
    tasks = aws("list-tasks", "--cluster", cluster, "--service-name", "web")["taskArns"]
    placed = aws("describe-tasks", "--cluster", cluster, "--tasks", *tasks)["tasks"]
    drained = placed[0]["containerInstanceArn"]
    [answer] = aws("update-container-instances-state", "--cluster", cluster, "--container-instances", drained,
                   "--status", "DRAINING")["containerInstances"]
    assert answer["status"] == "DRAINING"

    def moved():
        arns = aws("list-tasks", "--cluster", cluster, "--service-name", "web")["taskArns"]
        tasks = aws("describe-tasks", "--cluster", cluster, "--tasks", *arns)["tasks"] if arns else []
        running = [t for t in tasks if t["lastStatus"] == "RUNNING" and t["containerInstanceArn"] != drained]
        left = aws("list-tasks", "--cluster", cluster, "--container-instance", drained)["taskArns"]
        return len(running) == 2 and not left
    eventually(moved, "the service's tasks run on the other nodes", timeout=WAIT_TIMEOUT)
    [node] = [n for n in kubernetes.items("nodes") if n["metadata"]["name"] == node_of[drained]]
    assert node["spec"].get("unschedulable") is True
    assert aws("list-container-instances", "--cluster", cluster, "--status", "DRAINING")["containerInstanceArns"] == [drained]
    assert describe(aws, cluster, "web")["runningCount"] == 2

    # The node's instance is refused deregistration while the service's tasks run on it
    # (after the drain: on the other node); a registration naming the node binds to it.
    busy = next(arn for arn in arns if arn != drained)
    refused = run_aws(server.endpoint, "deregister-container-instance", "--cluster", cluster,
                      "--container-instance", busy, home=home)
    assert refused.rc != 0 and refused.error_code == "InvalidParameterException", refused.stderr[-2000:]
    document = json.dumps({"instanceId": node_of[drained], "region": "us-east-1"})
    bound = aws("register-container-instance", "--cluster", cluster, "--instance-identity-document", document)
    assert bound["containerInstance"]["containerInstanceArn"] == drained
    assert bound["containerInstance"]["agentConnected"] is True

    aws("update-container-instances-state", "--cluster", cluster, "--container-instances", drained, "--status", "ACTIVE")

    def schedulable():
        [node] = [n for n in kubernetes.items("nodes") if n["metadata"]["name"] == node_of[drained]]
        return not node["spec"].get("unschedulable")
    eventually(schedulable, "the node is uncordoned")
    aws("delete-service", "--cluster", cluster, "--service", "web", "--force")
    aws("wait", "services-inactive", "--cluster", cluster, "--services", "web")
    assert aws("delete-cluster", "--cluster", cluster)["cluster"]["status"] == "INACTIVE"



def test_a_daemon_runs_on_its_capacity_providers_nodes_with_the_cli_waiters(aws, server, kubernetes, tmp_path):
    """The ECS Daemons API as typed: a daemon task definition from a JSON file, a daemon on
    the nodes labelled with its capacity provider, `aws ecs wait
    daemon-deployment-successful`, its tasks by `list-tasks --daemon-name`, and DeleteDaemon
    removing the DaemonSet."""
    cluster, provider = CLUSTERS[4], f"nodes-{RUN}"
    label = "ecs.kubecs.io/capacity-provider"
    kubernetes.kubectl("label", "nodes", "--all", "--overwrite", f"{label}={provider}")
    try:
        nodes = len(kubernetes.items("nodes"))
        aws("create-cluster", "--cluster-name", cluster)
        asg = "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:1:autoScalingGroupName/nodes"
        aws("create-capacity-provider", "--name", provider,
            "--auto-scaling-group-provider", f"autoScalingGroupArn={asg}")
        aws("put-cluster-capacity-providers", "--cluster", cluster, "--capacity-providers", provider,
            "--default-capacity-provider-strategy", "[]")
        definition = aws("register-daemon-task-definition", "--cli-input-json",
                         f"file://{DATA / 'node-agent-daemon.json'}")["daemonTaskDefinitionArn"]
        aws("wait", "daemon-task-definition-active", "--daemon-task-definition", definition)

        def create():
            # Refused until kubecs has seen a node with the provider's label.
            result = run_aws(server.endpoint, "create-daemon", "--daemon-name", "agent",
                             "--cluster-arn", cluster, "--daemon-task-definition-arn", definition,
                             "--capacity-provider-arns", provider, home=tmp_path)
            return result.json if result.rc == 0 else None

        created = eventually(create, "CreateDaemon accepted")
        aws("wait", "daemon-deployment-successful", "--daemon-deployment-arns", created["deploymentArn"])
        daemon = aws("describe-daemon", "--daemon-arn", created["daemonArn"])["daemon"]
        [revision] = daemon["currentRevisions"]
        assert revision["totalRunningCount"] == nodes
        ns = namespace(kubernetes, cluster)
        [daemon_set] = kubernetes.items("daemonsets", "-n", ns, "-l", MANAGED)
        assert daemon_set["metadata"]["annotations"]["ecs.kubecs.io/daemon-name"] == "agent"
        pods = [p for p in kubernetes.items("pods", "-n", ns, "-l", MANAGED) if "deletionTimestamp" not in p["metadata"]]
        assert {p["spec"]["nodeName"] for p in pods} == {n["metadata"]["name"] for n in kubernetes.items("nodes")}
        # Its tasks, one per node, as `aws ecs list-tasks --daemon-name` lists them.
        task_arns = aws("list-tasks", "--cluster", cluster, "--daemon-name", "agent")["taskArns"]
        assert len(task_arns) == nodes
        tasks = aws("describe-tasks", "--cluster", cluster, "--tasks", *task_arns)["tasks"]
        assert {t["group"] for t in tasks} == {"daemon:agent"}
        assert {t["taskDefinitionArn"] for t in tasks} == {definition}

        aws("delete-daemon", "--daemon-arn", created["daemonArn"])

        def gone():
            result = run_aws(server.endpoint, "describe-daemon", "--daemon-arn", created["daemonArn"], home=tmp_path)
            return result.rc != 0 and "DaemonNotFoundException" in result.stderr

        eventually(gone, "the daemon gone", timeout=WAIT_TIMEOUT)
        assert kubernetes.items("daemonsets", "-n", ns, "-l", MANAGED) == []
        aws("delete-cluster", "--cluster", cluster)
    finally:
        kubernetes.kubectl("label", "nodes", "--all", f"{label}-")
