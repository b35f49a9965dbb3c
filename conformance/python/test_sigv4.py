"""Issue 3: SigV4 on every API request, through boto3 and through the aws CLI.

Every refusal is HTTP 400 with AWS's error code, reaches the server exactly once (no
client retry), and writes nothing: the CreateCluster that failed leaves its name MISSING.
The server runs with a credentials file (see harness.CREDENTIALS_TOML): test/test, a key
with a session token, and a key for account 123456789012 (principal user/alice).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import botocore
import botocore.auth
import pytest
from botocore.exceptions import ClientError

from harness import (
    ALICE_ACCOUNT,
    ALICE_KEY,
    REGION,
    SESSION_KEY,
    assert_not_created,
    cluster_arn,
    ecs_client,
    expect_error,
    run_aws,
    sent,
    set_header,
    signed_raw_request,
)

SIGNATURE_MISMATCH = "The request signature we calculated does not match the signature you provided."
BAD_TOKEN = "The security token included in the request is invalid."


@dataclass
class Outcome:
    code: str | None
    status: int
    attempts: int
    message: str = ""
    cluster: dict | None = None


class Boto3:
    """CreateCluster through boto3; faults injected with botocore's own event hooks."""

    def __init__(self, endpoint, monkeypatch):
        self.endpoint = endpoint
        self.monkeypatch = monkeypatch

    def create_cluster(self, name, *, access_key="test", secret="test", token=None,
                       region=REGION, fault=None, sign=True) -> Outcome:
        config = {} if sign else {"signature_version": botocore.UNSIGNED}
        client = ecs_client(self.endpoint, access_key=access_key, secret=secret, token=token,
                            region=region, **config)
        with self.monkeypatch.context() as mp:
            kind, _, arg = (fault or "").partition("=")
            if kind == "clock-offset-secs":
                real_now = botocore.auth.get_current_datetime
                offset = datetime.timedelta(seconds=int(arg))
                mp.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: real_now(*a, **k) + offset)
            elif kind == "signing-name":
                # botocore reads the signing name from the request context after before-sign.
                client.meta.events.register(
                    "before-sign.ecs",
                    lambda request, **_: request.context.setdefault("signing", {}).__setitem__("signing_name", arg),
                )
            elif kind == "tamper-body":
                old, new = (p.encode() for p in arg.split(":"))

                def tamper(request, **_):
                    assert old in request.body
                    request.body = request.body.replace(old, new)

                client.meta.events.register("before-send.ecs", tamper)
            try:
                resp = client.create_cluster(clusterName=name)
            except ClientError as err:
                meta = err.response["ResponseMetadata"]
                assert meta["RetryAttempts"] == 0
                # None of the authentication codes is in ECS's model: the generic class.
                assert type(err) is ClientError
                return Outcome(err.response["Error"]["Code"], meta["HTTPStatusCode"], len(sent(client)),
                               err.response["Error"]["Message"])
        assert resp["ResponseMetadata"]["RetryAttempts"] == 0
        return Outcome(None, resp["ResponseMetadata"]["HTTPStatusCode"], len(sent(client)), "", resp["cluster"])


class AwsCli:
    """CreateCluster through the aws CLI; faults injected by the test plugin
    cli_plugin/kubecs_cli_faults.py, which the CLI loads from its [plugins] config."""

    def __init__(self, endpoint, home):
        self.endpoint = endpoint
        self.home = home

    def create_cluster(self, name, *, sign=True, **kwargs) -> Outcome:
        r = run_aws(self.endpoint, "create-cluster", "--cluster-name", name, home=self.home, sign=sign, **kwargs)
        status = r.statuses[-1] if r.statuses else 0
        if r.rc == 0:
            return Outcome(None, status, r.attempts, "", r.json["cluster"])
        assert r.error_code, r.stderr[-3000:]
        return Outcome(r.error_code, status, r.attempts, r.error_message)


@pytest.fixture(params=["boto3", "aws-cli"])
def client(request, kubecs_creds, monkeypatch, tmp_path):
    if request.param == "boto3":
        return Boto3(kubecs_creds.endpoint, monkeypatch)
    home = tmp_path / "cli-home"
    home.mkdir()
    return AwsCli(kubecs_creds.endpoint, home)


def assert_refused(outcome: Outcome, code: str, message: str, endpoint: str, *names: str) -> None:
    assert outcome.code == code, outcome
    assert outcome.status == 400, outcome
    assert outcome.attempts == 1, f"the client sent {outcome.attempts} requests"
    assert message in outcome.message, outcome.message
    assert_not_created(endpoint, *names)


def assert_created(outcome: Outcome, name: str, account: str = "000000000000") -> None:
    assert outcome.code is None, outcome
    assert (outcome.status, outcome.attempts) == (200, 1), outcome
    assert outcome.cluster["clusterArn"] == cluster_arn(name, account)
    assert outcome.cluster["status"] == "ACTIVE"


def test_a_correctly_signed_request_creates_the_cluster(client, kubecs_creds):
    assert_created(client.create_cluster("signed-ok"), "signed-ok")
    described = ecs_client(kubecs_creds.endpoint).describe_clusters(clusters=["signed-ok"])
    assert [c["status"] for c in described["clusters"]] == ["ACTIVE"]


def test_a_wrong_secret_is_invalid_signature_exception(client, kubecs_creds):
    outcome = client.create_cluster("wrong-secret", secret="not-the-secret")
    assert_refused(outcome, "InvalidSignatureException", SIGNATURE_MISMATCH, kubecs_creds.endpoint, "wrong-secret")


def test_an_unknown_access_key_is_unrecognized_client_exception(client, kubecs_creds):
    outcome = client.create_cluster("unknown-key", access_key="AKIDNOBODYKNOWS00000", secret="whatever")
    assert_refused(outcome, "UnrecognizedClientException", BAD_TOKEN, kubecs_creds.endpoint, "unknown-key")


def test_a_client_configured_for_eu_west_1_works_in_that_region(client, kubecs_creds):
    outcome = client.create_cluster("in-eu-west-1", region="eu-west-1")
    assert (outcome.code, outcome.status, outcome.attempts) == (None, 200, 1), outcome
    assert outcome.cluster["clusterArn"] == "arn:aws:ecs:eu-west-1:000000000000:cluster/in-eu-west-1"
    # Each region has its own clusters: us-east-1 does not see it.
    described = ecs_client(kubecs_creds.endpoint).describe_clusters(clusters=["in-eu-west-1"])
    assert described["failures"][0]["reason"] == "MISSING"
    west = ecs_client(kubecs_creds.endpoint, region="eu-west-1").describe_clusters(clusters=["in-eu-west-1"])
    assert [c["status"] for c in west["clusters"]] == ["ACTIVE"]


def test_regions_narrows_the_regions_served_and_refuses_others_as_aws_does(start_kubecs, monkeypatch):
    server = start_kubecs("--regions", "us-east-1,us-west-2")
    boto = Boto3(server.endpoint, monkeypatch)
    outcome = boto.create_cluster("wrong-region", region="eu-west-1")
    assert_refused(outcome, "InvalidSignatureException",
                   "Credential should be scoped to a valid region, not 'eu-west-1'.", server.endpoint, "wrong-region")
    ok = boto.create_cluster("in-us-west-2", region="us-west-2")
    assert ok.code is None, ok


def test_a_scope_for_another_service_is_invalid_signature_exception(client, kubecs_creds):
    outcome = client.create_cluster("wrong-service", fault="signing-name=ec2")
    assert_refused(outcome, "InvalidSignatureException", "Credential should be scoped to correct service: 'ecs'",
                   kubecs_creds.endpoint, "wrong-service")


def test_a_clock_20_minutes_behind_is_invalid_signature_exception_signature_expired(client, kubecs_creds):
    outcome = client.create_cluster("stale", fault=f"clock-offset-secs={-20 * 60}")
    assert_refused(outcome, "InvalidSignatureException", "Signature expired", kubecs_creds.endpoint, "stale")
    assert "15 min" in outcome.message


def test_a_clock_20_minutes_ahead_is_invalid_signature_exception_signature_not_yet_current(client, kubecs_creds):
    outcome = client.create_cluster("future", fault=f"clock-offset-secs={20 * 60}")
    assert_refused(outcome, "InvalidSignatureException", "Signature not yet current", kubecs_creds.endpoint, "future")


def test_a_clock_10_minutes_behind_is_inside_the_15_minute_window(client):
    assert_created(client.create_cluster("slightly-stale", fault=f"clock-offset-secs={-10 * 60}"), "slightly-stale")


def test_a_key_configured_with_a_session_token_is_unrecognized_client_without_it(client, kubecs_creds):
    access_key, secret, _ = SESSION_KEY
    outcome = client.create_cluster("no-token", access_key=access_key, secret=secret)
    assert_refused(outcome, "UnrecognizedClientException", BAD_TOKEN, kubecs_creds.endpoint, "no-token")


def test_a_key_configured_with_a_session_token_is_unrecognized_client_with_another_token(client, kubecs_creds):
    access_key, secret, _ = SESSION_KEY
    outcome = client.create_cluster("bad-token", access_key=access_key, secret=secret, token="not-the-token")
    assert_refused(outcome, "UnrecognizedClientException", BAD_TOKEN, kubecs_creds.endpoint, "bad-token")


def test_a_key_configured_with_a_session_token_succeeds_with_it(client):
    access_key, secret, token = SESSION_KEY
    outcome = client.create_cluster("with-token", access_key=access_key, secret=secret, token=token)
    assert_created(outcome, "with-token")


def test_a_body_changed_after_signing_is_invalid_signature_exception(client, kubecs_creds):
    outcome = client.create_cluster("tamper-a", fault="tamper-body=tamper-a:tamper-b")
    assert_refused(outcome, "InvalidSignatureException", SIGNATURE_MISMATCH, kubecs_creds.endpoint,
                   "tamper-a", "tamper-b")


def test_an_unsigned_request_is_missing_authentication_token_exception(client, kubecs_creds):
    outcome = client.create_cluster("unsigned", sign=False)
    assert_refused(outcome, "MissingAuthenticationTokenException", "Request is missing Authentication Token",
                   kubecs_creds.endpoint, "unsigned")


def test_a_key_of_account_123456789012_creates_clusters(client, kubecs_creds, record_property):
    access_key, secret = ALICE_KEY
    outcome = client.create_cluster("alice-cluster", access_key=access_key, secret=secret)
    assert outcome.code is None, outcome
    assert (outcome.status, outcome.attempts) == (200, 1)
    arn = outcome.cluster["clusterArn"]
    # Which account the ARN names is not settled yet (see the report); record it.
    record_property("alice_cluster_arn", arn)
    assert arn in (cluster_arn("alice-cluster"), cluster_arn("alice-cluster", ALICE_ACCOUNT))


def test_max_clock_skew_secs_narrows_the_accepted_window(start_kubecs, monkeypatch):
    server = start_kubecs("--max-clock-skew-secs", "60")
    boto = Boto3(server.endpoint, monkeypatch)
    outcome = boto.create_cluster("two-minutes-old", fault="clock-offset-secs=-120")
    assert_refused(outcome, "InvalidSignatureException", "Signature expired", server.endpoint, "two-minutes-old")
    assert_created(boto.create_cluster("half-a-minute-old", fault="clock-offset-secs=-30"), "half-a-minute-old")


def test_test_test_is_refused_once_a_credentials_file_leaves_it_out(start_kubecs, tmp_path, monkeypatch):
    creds = tmp_path / "only-alice.toml"
    creds.write_text(f'[[credentials]]\naccess_key_id = "{ALICE_KEY[0]}"\nsecret_access_key = "{ALICE_KEY[1]}"\n')
    server = start_kubecs("--credentials-file", str(creds))
    outcome = Boto3(server.endpoint, monkeypatch).create_cluster("as-test")
    assert (outcome.code, outcome.status, outcome.attempts) == ("UnrecognizedClientException", 400, 1)
    alice = ecs_client(server.endpoint, access_key=ALICE_KEY[0], secret=ALICE_KEY[1])
    assert alice.describe_clusters(clusters=["as-test"])["failures"][0]["reason"] == "MISSING"


def test_an_x_amz_header_added_after_signing_is_incomplete_signature_exception(kubecs_creds):
    client = ecs_client(kubecs_creds.endpoint)
    client.meta.events.register("before-send.ecs", lambda request, **_: request.headers.__setitem__("X-Amz-Extra", "1"))
    err = expect_error(client, "create_cluster", code="IncompleteSignatureException", clusterName="extra-header")
    assert "x-amz-extra" in err.response["Error"]["Message"]
    assert_not_created(kubecs_creds.endpoint, "extra-header")


def test_a_signed_header_changed_after_signing_is_invalid_signature_exception(kubecs_creds):
    client = ecs_client(kubecs_creds.endpoint)
    # kubecs accepts both JSON media types, so only the signature can catch the change.
    client.meta.events.register(
        "before-send.ecs", lambda request, **_: set_header(request, "Content-Type", "application/x-amz-json-1.0")
    )
    err = expect_error(client, "create_cluster", code="InvalidSignatureException", clusterName="changed-header")
    assert SIGNATURE_MISMATCH in err.response["Error"]["Message"]
    assert_not_created(kubecs_creds.endpoint, "changed-header")


def test_a_request_signed_by_hand_for_ec2_is_invalid_signature_exception(kubecs_creds):
    status, headers, body = signed_raw_request(kubecs_creds.endpoint, service="ec2", target="CreateCluster",
                                               body=b'{"clusterName": "raw-ec2"}')
    assert (status, headers["x-amzn-errortype"]) == (400, "InvalidSignatureException")
    assert "scoped to correct service" in body.decode()
    assert_not_created(kubecs_creds.endpoint, "raw-ec2")
