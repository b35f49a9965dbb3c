"""Fixtures: the real kubecs binary on a free loopback port, boto3 clients, the aws CLI,
and a Kubernetes cluster for the tests that run the reconciler."""

from __future__ import annotations

import os

import pytest

from harness import CREDENTIALS_TOML, Kubecs, KubeCluster, ecs_client, find_kubernetes, run_aws

# Keep the user's AWS configuration out of every client these tests build.
for _name in list(os.environ):
    if _name.startswith("AWS_"):
        del os.environ[_name]
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull


@pytest.fixture
def start_kubecs(tmp_path):
    """Factory: start kubecs with a fresh data dir (or a given one) and extra flags.
    Every server it started is stopped with SIGTERM at teardown and must exit 0."""
    started: list[Kubecs] = []

    def start(*extra_args: str, data_dir=None) -> Kubecs:
        n = len(started)
        data = data_dir or tmp_path / f"data{n}"
        server = Kubecs(data, tmp_path / f"kubecs{n}.log", tuple(extra_args)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc is not None:
            rc = server.stop()
            assert rc == 0, f"kubecs exited with {rc} on SIGTERM; log:\n{server.log_text()[-4000:]}"


@pytest.fixture
def kubecs(start_kubecs) -> Kubecs:
    """kubecs with no credentials file: it accepts only test/test."""
    return start_kubecs()


@pytest.fixture
def kubecs_creds(start_kubecs, tmp_path) -> Kubecs:
    """kubecs with a credentials file: test/test, a key with a session token, and a key
    for account 123456789012 with principal user/alice."""
    creds = tmp_path / "credentials.toml"
    creds.write_text(CREDENTIALS_TOML)
    return start_kubecs("--credentials-file", str(creds))


@pytest.fixture
def endpoint(kubecs) -> str:
    return kubecs.endpoint


@pytest.fixture
def ecs(endpoint):
    """boto3 ECS client: us-east-1, test/test, default retry configuration."""
    return ecs_client(endpoint)


@pytest.fixture
def aws(endpoint, tmp_path):
    """Run the aws CLI against the default server: aws("describe-clusters", ...)."""
    home = tmp_path / "cli-home"
    home.mkdir(exist_ok=True)

    def run(*args: str, **kwargs):
        return run_aws(kwargs.pop("endpoint", endpoint), *args, home=home, **kwargs)

    return run


@pytest.fixture(scope="session")
def kubernetes() -> KubeCluster:
    """The Kubernetes cluster for tests that run a reconciler: KUBECONFIG's, else the
    local control plane (deploy/local-k8s/up, which reuses the one the Rust tests
    started); every node Ready. Only one reconciler may use it at a time."""
    return find_kubernetes()
