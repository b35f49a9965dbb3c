"""Runs the real kubecs binary and drives it with real clients (boto3, the aws CLI).

Everything here is plumbing shared by the tests: start/stop of the binary on a free
loopback port with its own data directory, boto3 clients whose HTTP attempts are
counted, an aws CLI runner that reports attempts and HTTP statuses from `--debug`,
a raw SigV4 request helper for the cases no SDK call can produce, and the Kubernetes
cluster (with its kubectl) for the tests that run kubecs's reconciler.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import botocore
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
REGION = "us-east-1"
ACCOUNT = "000000000000"
TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# Keys in the credentials file of the `kubecs_creds` fixture.
SESSION_KEY = ("AKIDSESSIONKEY000001", "session-secret", "session-token-abc123")
ALICE_KEY = ("AKIDALICE00000000001", "alice-secret")
ALICE_ACCOUNT = "123456789012"
CREDENTIALS_TOML = f"""
[[credentials]]
access_key_id = "test"
secret_access_key = "test"

[[credentials]]
access_key_id = "{SESSION_KEY[0]}"
secret_access_key = "{SESSION_KEY[1]}"
session_token = "{SESSION_KEY[2]}"

[[credentials]]
access_key_id = "{ALICE_KEY[0]}"
secret_access_key = "{ALICE_KEY[1]}"
account_id = "{ALICE_ACCOUNT}"
principal = "user/alice"
"""


def cluster_arn(name: str, account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:ecs:{region}:{account}:cluster/{name}"


def kubecs_bin() -> Path:
    path = Path(os.environ.get("KUBECS_BIN") or REPO / "target" / "debug" / "kubecs")
    if not path.is_file():
        pytest.fail(f"kubecs binary not found at {path}: run `cargo build --bin kubecs` or set KUBECS_BIN")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Kubecs:
    """One kubecs process on a loopback port, with a JSON request log we can read."""

    def __init__(self, data_dir: Path, log_path: Path, extra_args: tuple[str, ...] = ()):
        self.data_dir = data_dir
        self.log_path = log_path
        self.extra_args = extra_args
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Kubecs":
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBECS_")}
        env["RUST_LOG"] = "info"
        for _ in range(5):  # a free port can be taken between probe and bind: retry
            self.port = free_port()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [
                        str(kubecs_bin()),
                        "--listen", f"127.0.0.1:{self.port}",
                        "--data-dir", str(self.data_dir),
                        "--log-format", "json",
                        # These suites test the API: no reconciler unless a test asks
                        # for one (several kubecs on one cluster would undo each other).
                        *(() if "--kubernetes" in self.extra_args else ("--kubernetes", "off")),
                        *self.extra_args,
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                )
            if self._wait_healthy(deadline=time.monotonic() + 15):
                return self
        raise AssertionError(f"kubecs did not become healthy; log:\n{self.log_text()}")

    def _wait_healthy(self, deadline: float) -> bool:
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.endpoint}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.01)
        self.proc.kill()
        self.proc.wait()
        raise AssertionError(f"kubecs not healthy in time; log:\n{self.log_text()}")

    def stop(self) -> int:
        """SIGTERM, wait, and return the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("kubecs did not stop within 20 s of SIGTERM")
        rc = self.proc.returncode
        self.proc = None
        return rc

    def restart(self) -> "Kubecs":
        rc = self.stop()
        assert rc == 0, f"kubecs exited with {rc} on SIGTERM; log:\n{self.log_text()}"
        return self.start()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def settled_log_text(self) -> str:
        """The log once kubecs has written out every line so far. kubecs buffers its log
        and writes it every 50 ms (server/src/telemetry.rs), and a request's line is in
        that buffer before its answer is sent; so once the file stops growing for more
        than one interval, every answered request's line is in it."""
        text = self.log_text()
        while True:
            time.sleep(0.15)
            again = self.log_text()
            if again == text:
                return text
            text = again

    def api_requests(self) -> list[dict]:
        """The server's own log line for every request to the API route, in order."""
        out = []
        for line in self.settled_log_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("message") == "request" and entry.get("path") == "/":
                out.append(entry)
        return out


# ---------------------------------------------------------------------------- boto3


def ecs_client(
    endpoint: str,
    *,
    access_key: str = "test",
    secret: str = "test",
    token: str | None = None,
    region: str = REGION,
    **config: object,
):
    """A boto3 ECS client with default retry settings; `sent(client)` lists its HTTP attempts."""
    session = boto3.session.Session(
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        region_name=region,
    )
    client = session.client("ecs", endpoint_url=endpoint, config=Config(**config))
    attempts: list = []
    # Fires once per HTTP attempt, retries included; returning None lets the request go.
    client.meta.events.register("before-send.ecs", lambda request, **_: attempts.append(request))
    client._kubecs_attempts = attempts
    return client


def sent(client) -> list:
    return client._kubecs_attempts


def expect_error(client, operation: str, *, code: str, status: int = 400, **params) -> ClientError:
    """Call `operation`, expect `code` with `status`, raised as the class botocore maps it
    to, after exactly one HTTP attempt and no retry."""
    before = len(sent(client))
    with pytest.raises(ClientError) as excinfo:
        getattr(client, operation)(**params)
    err = excinfo.value
    meta = err.response["ResponseMetadata"]
    assert err.response["Error"]["Code"] == code, err.response
    assert meta["HTTPStatusCode"] == status, err.response
    assert meta["RetryAttempts"] == 0, err.response
    assert len(sent(client)) - before == 1, "botocore retried a client error"
    assert UUID_RE.match(meta["RequestId"]), meta
    assert meta["HTTPHeaders"].get("x-amzn-errortype", "").split(":")[0] == code
    assert meta["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"
    modeled = {shape.name for shape in client.meta.service_model.error_shapes}
    if code in modeled:
        assert type(err) is getattr(client.exceptions, code), type(err)
    else:
        # Not in ECS's model: botocore raises the generic ClientError.
        assert type(err) is ClientError, type(err)
    return err


def expect_ok(client, operation: str, **params) -> dict:
    before = len(sent(client))
    resp = getattr(client, operation)(**params)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["ResponseMetadata"]["RetryAttempts"] == 0
    assert len(sent(client)) - before == 1
    return resp


def describe_one(client, name: str, **params) -> dict:
    """DescribeClusters for one name: {'cluster': ...} or {'failure': ...}."""
    resp = client.describe_clusters(clusters=[name], **params)
    assert len(resp["clusters"]) + len(resp["failures"]) == 1, resp
    if resp["clusters"]:
        return {"cluster": resp["clusters"][0]}
    return {"failure": resp["failures"][0]}


def assert_not_created(endpoint: str, *names: str) -> None:
    """Nothing was written: each name is MISSING for a well-signed DescribeClusters, and
    ListClusters does not show it."""
    client = ecs_client(endpoint)
    resp = client.describe_clusters(clusters=list(names))
    assert resp["clusters"] == [], resp
    assert sorted(f["arn"] for f in resp["failures"]) == sorted(cluster_arn(n) for n in names)
    assert {f["reason"] for f in resp["failures"]} == {"MISSING"}
    listed = client.list_clusters()["clusterArns"]
    assert not set(listed) & {cluster_arn(n) for n in names}


def set_header(request, name: str, value: str) -> None:
    if name in request.headers:
        del request.headers[name]
    request.headers[name] = value


def signed_raw_request(
    endpoint: str,
    *,
    method: str = "POST",
    path: str = "/",
    target: str | None = "ListClusters",
    body: bytes = b"{}",
    content_type: str = "application/x-amz-json-1.1",
    access_key: str = "test",
    secret: str = "test",
    service: str = "ecs",
    region: str = REGION,
) -> tuple[int, dict, bytes]:
    """Sign a hand-built request with botocore's SigV4 signer and send it with urllib."""
    headers = {"Content-Type": content_type}
    if target is not None:
        headers["X-Amz-Target"] = TARGET_PREFIX + target
    req = botocore.awsrequest.AWSRequest(method=method, url=endpoint + path, data=body, headers=headers)
    creds = botocore.credentials.Credentials(access_key, secret)
    botocore.auth.SigV4Auth(creds, service, region).add_auth(req)
    prepared = req.prepare()
    raw = urllib.request.Request(
        prepared.url, data=prepared.body if method != "GET" else None, method=method,
        headers=dict(prepared.headers.items()),
    )
    try:
        with urllib.request.urlopen(raw, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


# -------------------------------------------------------------------------- aws CLI

_ERROR_RE = re.compile(r"An error occurred \((\w+)\) when calling the (\w+) operation: (.*)")
_STATUS_RE = re.compile(r'urllib3\.connectionpool - DEBUG - http://[^ ]+ "(\w+) (\S+) HTTP/1\.1" (\d{3})')


@dataclass
class CliResult:
    rc: int
    stdout: str
    stderr: str
    json: dict | None
    attempts: int  # HTTP requests botocore sent (from --debug)
    statuses: list[int] = field(default_factory=list)  # HTTP status of each response
    error_code: str | None = None
    error_message: str | None = None


def run_aws(
    endpoint: str,
    *args: str,
    home: Path,
    access_key: str = "test",
    secret: str = "test",
    token: str | None = None,
    region: str = REGION,
    fault: str | None = None,
    sign: bool = True,
    timeout: float = 60,
) -> CliResult:
    """`python -m awscli --debug --endpoint-url <endpoint> ecs <args>` from the pinned
    awscli, isolated from the user's ~/.aws. `fault` turns on the test plugin in
    cli_plugin/kubecs_cli_faults.py (loaded through the CLI's own [plugins] config).
    `timeout` bounds the whole command: `wait` commands poll every 15 s and need more."""
    config = home / "config"
    lines = ["[default]", "output = json"]
    if fault:
        lines += ["[plugins]", "kubecs_cli_faults = kubecs_cli_faults"]
    config.write_text("\n".join(lines) + "\n")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": region,
        "PYTHONPATH": str(HERE / "cli_plugin"),
    }
    if token:
        env["AWS_SESSION_TOKEN"] = token
    if fault:
        env["KUBECS_CLI_FAULT"] = fault
    cmd = [sys.executable, "-m", "awscli", "--debug", "--endpoint-url", endpoint]
    if not sign:
        cmd.append("--no-sign-request")
    cmd += ["ecs", *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    parsed = None
    if proc.returncode == 0 and proc.stdout.strip():
        parsed = json.loads(proc.stdout)
    result = CliResult(
        rc=proc.returncode,
        stdout=proc.stdout,
        stderr=proc.stderr,
        json=parsed,
        attempts=proc.stderr.count("botocore.endpoint - DEBUG - Sending http request:"),
        statuses=[int(m.group(3)) for m in _STATUS_RE.finditer(proc.stderr)],
    )
    errors = _ERROR_RE.findall(proc.stderr)
    if errors:
        result.error_code, _, result.error_message = errors[-1]
    return result


def expect_cli_error(result: CliResult, code: str, status: int = 400) -> CliResult:
    assert result.rc != 0, result.stdout
    assert result.error_code == code, result.stderr[-3000:]
    assert result.attempts == 1, f"aws CLI sent {result.attempts} requests"
    assert result.statuses == [status], result.statuses
    return result


def expect_cli_ok(result: CliResult) -> dict:
    assert result.rc == 0, result.stderr[-3000:]
    assert result.statuses and all(s == 200 for s in result.statuses), result.statuses
    assert result.attempts == len(result.statuses)
    return result.json


# ------------------------------------------- task definitions, services and tags (issue 5)


def task_definition_arn(family: str, revision: int, account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:ecs:{region}:{account}:task-definition/{family}:{revision}"


def service_arn(name: str, cluster: str = "default", account: str = ACCOUNT, region: str = REGION) -> str:
    """The long ARN format ECS uses: service/<cluster>/<name>."""
    return f"arn:aws:ecs:{region}:{account}:service/{cluster}/{name}"


def web_container(name: str = "web", **members: object) -> dict:
    """An EC2-ready container: image, 128 MiB, container port 80; `members` override."""
    return {"name": name, "image": "nginx:1.27", "memory": 128, "portMappings": [{"containerPort": 80}], **members}


def register_web(client, family: str = "web", **params: object) -> dict:
    """RegisterTaskDefinition of a one-container definition; returns the taskDefinition."""
    params.setdefault("containerDefinitions", [web_container()])
    return client.register_task_definition(family=family, **params)["taskDefinition"]


def active_services_count(client, cluster: str = "default") -> int:
    return client.describe_clusters(clusters=[cluster])["clusters"][0]["activeServicesCount"]


def shared_kubecs(directory: Path):
    """A generator for a module-scoped fixture: one kubecs for a table of refusals, which
    by design write nothing (each case asserts so), so the cases need no fresh server.
    Stopped with SIGTERM at the end and must exit 0."""
    server = Kubecs(directory / "data", directory / "kubecs.log").start()
    try:
        yield server
    finally:
        rc = server.stop()
        assert rc == 0, f"kubecs exited with {rc} on SIGTERM; log:\n{server.log_text()[-4000:]}"


# ------------------------------------------------------------- a Kubernetes cluster


@dataclass
class KubeCluster:
    """A Kubernetes API server reachable with kubectl; `kubeconfig` is one file."""

    kubeconfig: str
    kubectl_bin: str

    def kubectl(self, *args: str, timeout: float = 60) -> str:
        proc = subprocess.run(
            [self.kubectl_bin, "--kubeconfig", self.kubeconfig, "--request-timeout=20s", *args],
            capture_output=True, text=True, timeout=timeout,
        )
        assert proc.returncode == 0, f"kubectl {' '.join(args)} failed:\n{proc.stderr[-3000:]}"
        return proc.stdout

    def items(self, *args: str) -> list[dict]:
        """`kubectl get <args> -o json`'s items."""
        return json.loads(self.kubectl("get", *args, "-o", "json"))["items"]

    def not_ready_nodes(self) -> list[str] | None:
        """Nodes whose Ready condition is not True, or None when there is no node."""
        nodes = self.items("nodes")
        if not nodes:
            return None
        return [
            n["metadata"]["name"] for n in nodes
            if not any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))
        ]


def _cached_kubectl() -> str:
    """kubectl for a cluster named by KUBECONFIG, found as deploy/test-support finds it:
    KUBECS_KUBECTL, else the one deploy/local-k8s/build cached, else PATH's."""
    if os.environ.get("KUBECS_KUBECTL"):
        return os.environ["KUBECS_KUBECTL"]
    if os.environ.get("KUBECS_K8S_BIN_DIR"):
        bin_dir = Path(os.environ["KUBECS_K8S_BIN_DIR"])
    elif os.environ.get("KUBECS_K8S_CACHE_DIR"):
        bin_dir = Path(os.environ["KUBECS_K8S_CACHE_DIR"]) / "bin"
    else:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        bin_dir = cache / "kubecs" / "k8s-v1.20.2" / "bin"
    kubectl = bin_dir / "kubectl"
    return str(kubectl) if kubectl.is_file() else "kubectl"


def _local_up() -> str:
    """Runs deploy/local-k8s/up (idempotent: reuses or repairs a running local cluster)
    and returns its stdout; when it cannot start, `ci-prepare` (build or unpack the
    binaries) and `up` again, as deploy/test-support does."""
    scripts = REPO / "deploy" / "local-k8s"
    # Two hollow nodes, as deploy/test-support starts: a drained node's tasks need another.
    env = {**os.environ, "KUBECS_LOCAL_K8S_NODES": os.environ.get("KUBECS_LOCAL_K8S_NODES", "2")}

    def run(script: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(scripts / script)], capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env
        )

    up = run("up")
    if up.returncode != 0:
        prepare = run("ci-prepare")
        if prepare.returncode != 0:
            pytest.fail(f"deploy/local-k8s/ci-prepare failed:\n{(prepare.stdout + prepare.stderr)[-4000:]}")
        up = run("up")
    if up.returncode != 0:
        pytest.fail(f"deploy/local-k8s/up failed:\n{(up.stdout + up.stderr)[-4000:]}")
    return up.stdout


def _unquote(value: str) -> str:
    """Undoes bash's `printf %q` for the plain paths `up` prints (backslash escapes)."""
    if value.startswith("$'"):
        pytest.fail(f"unsupported path quoting in deploy/local-k8s/up's output: {value}")
    return re.sub(r"\\(.)", r"\1", value)


def find_kubernetes(ready_timeout: float = 180) -> KubeCluster:
    """The cluster named by KUBECONFIG (its first file, as kubecs takes it), else the local
    control plane of deploy/local-k8s, started or reused. Waits (a generous bound) until it
    has nodes and every node is Ready, since services are scheduled on them."""
    if os.environ.get("KUBECONFIG"):
        cluster = KubeCluster(os.environ["KUBECONFIG"].split(os.pathsep)[0], _cached_kubectl())
    else:
        exports = dict(re.findall(r"^export (KUBECONFIG|KUBECS_KUBECTL)=(.*)$", _local_up(), re.M))
        if set(exports) != {"KUBECONFIG", "KUBECS_KUBECTL"}:
            pytest.fail("deploy/local-k8s/up printed no KUBECONFIG/KUBECS_KUBECTL lines")
        cluster = KubeCluster(_unquote(exports["KUBECONFIG"]), _unquote(exports["KUBECS_KUBECTL"]))
    deadline = time.monotonic() + ready_timeout
    while (not_ready := cluster.not_ready_nodes()) != []:
        if time.monotonic() > deadline:
            pytest.fail(f"nodes not Ready after {ready_timeout} s: {not_ready or 'no nodes at all'}")
        time.sleep(1)
    return cluster
