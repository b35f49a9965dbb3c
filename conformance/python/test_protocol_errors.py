"""Issue 2: the AWS JSON 1.1 envelope's errors as botocore sees them: the exception class
boto3 raises, the code, the HTTP status, and no retry (one HTTP attempt)."""

from __future__ import annotations

import json

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from harness import (
    TARGET_PREFIX,
    UUID_RE,
    cluster_arn,
    ecs_client,
    expect_error,
    expect_ok,
    set_header,
    signed_raw_request,
)


def on_before_sign(client, operation: str, mutate) -> None:
    """Change the request before botocore signs it, so the signature stays valid and the
    server judges the mutated request on its merits."""
    client.meta.events.register(f"before-sign.ecs.{operation}", lambda request, **_: mutate(request))


def test_a_successful_response_is_json_1_1_with_a_uuid_request_id(ecs):
    resp = expect_ok(ecs, "list_clusters")
    headers = resp["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert UUID_RE.match(headers["x-amzn-requestid"])
    assert resp["ResponseMetadata"]["RequestId"] == headers["x-amzn-requestid"]


def test_an_unknown_x_amz_target_is_unknown_operation_exception(ecs):
    on_before_sign(ecs, "ListClusters", lambda r: set_header(r, "X-Amz-Target", TARGET_PREFIX + "NoSuchOperation"))
    err = expect_error(ecs, "list_clusters", code="UnknownOperationException")
    assert "NoSuchOperation" in err.response["Error"]["Message"]


def test_a_target_of_another_service_is_unknown_operation_exception(ecs):
    on_before_sign(ecs, "ListClusters", lambda r: set_header(r, "X-Amz-Target", "DynamoDB_20120810.ListTables"))
    expect_error(ecs, "list_clusters", code="UnknownOperationException")


def test_a_body_that_is_not_json_is_serialization_exception(ecs):
    def garble(request):
        request.data = b"{this is not json"

    on_before_sign(ecs, "CreateCluster", garble)
    err = expect_error(ecs, "create_cluster", code="SerializationException", clusterName="never")
    assert "JSON" in err.response["Error"]["Message"]
    assert ecs_client(ecs.meta.endpoint_url).list_clusters()["clusterArns"] == []


def test_a_member_of_the_wrong_type_is_serialization_exception_naming_the_member(endpoint):
    # botocore would refuse an int for a string client-side; with validation off the
    # integer reaches the server as a JSON number.
    ecs = ecs_client(endpoint, parameter_validation=False)
    err = expect_error(ecs, "create_cluster", code="SerializationException", clusterName=123)
    assert "clusterName" in err.response["Error"]["Message"]


def test_a_list_member_sent_as_a_string_is_serialization_exception(ecs):
    def wrong_shape(request):
        request.data = json.dumps({"clusters": "demo"}).encode()

    on_before_sign(ecs, "DescribeClusters", wrong_shape)
    expect_error(ecs, "describe_clusters", code="SerializationException", clusters=["demo"])


def test_an_empty_body_counts_as_an_empty_object(ecs):
    def empty(request):
        request.data = b""

    on_before_sign(ecs, "ListClusters", empty)
    assert expect_ok(ecs, "list_clusters")["clusterArns"] == []


def test_unknown_json_members_are_ignored(ecs):
    def extra(request):
        request.data = json.dumps({"clusterName": "demo", "memberFromTheFuture": {"x": 1}}).encode()

    on_before_sign(ecs, "CreateCluster", extra)
    assert expect_ok(ecs, "create_cluster", clusterName="demo")["cluster"]["clusterArn"] == cluster_arn("demo")


def minimal_value(shape):
    """The smallest value the model allows: required members only, enums' first value,
    lengths and ranges at their minimum."""
    kind, low = shape.type_name, shape.metadata.get("min")
    if kind == "structure":
        return {name: minimal_value(shape.members[name]) for name in shape.required_members}
    if kind == "string":
        return shape.enum[0] if shape.enum else "x" * max(1, low or 1)
    if kind == "list":
        return [minimal_value(shape.member)] * max(1, low or 1)
    if kind == "map":
        return {"k": minimal_value(shape.value)}
    if kind in ("integer", "long"):
        return max(1, low or 1)
    if kind in ("float", "double"):
        return 1.0
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return 0
    if kind == "blob":
        return b"x"
    raise AssertionError(f"no minimal value for {shape.name} ({kind})")


def test_every_operation_of_the_model_answers_with_its_own_result_or_a_modeled_error(ecs):
    """Every operation botocore knows, called with the smallest model-valid input, either
    succeeds or answers one of the errors its model declares (or ECS's common ones), as
    a client error on the first attempt: none is UnsupportedFeatureException, none is a
    server fault."""
    model = ecs.meta.service_model
    common = {"ClientException", "InvalidParameterException", "AccessDeniedException"}
    wrong = []
    for operation in model.operation_names:
        op_model = model.operation_model(operation)
        params = minimal_value(op_model.input_shape) if op_model.input_shape else {}
        try:
            getattr(ecs, xform_name(operation))(**params)
        except ClientError as err:
            code = err.response["Error"]["Code"]
            meta = err.response["ResponseMetadata"]
            declared = {shape.name for shape in op_model.error_shapes} | common
            if code == "UnsupportedFeatureException" or code not in declared:
                wrong.append((operation, code, err.response["Error"]["Message"]))
            elif meta["HTTPStatusCode"] >= 500 or meta["RetryAttempts"] != 0:
                wrong.append((operation, meta))
    assert not wrong, "answers outside the model:\n" + "\n".join(map(repr, wrong))


def test_an_enum_value_outside_the_model_is_invalid_parameter_exception_naming_the_member(ecs):
    # botocore does not validate enums, so this reaches the server.
    err = expect_error(ecs, "describe_clusters", code="InvalidParameterException", include=["NOPE"])
    assert isinstance(err, ecs.exceptions.InvalidParameterException)
    assert "include" in err.response["Error"]["Message"]


def test_a_missing_required_member_is_invalid_parameter_exception_naming_the_member(endpoint):
    ecs = ecs_client(endpoint, parameter_validation=False)
    err = expect_error(ecs, "delete_cluster", code="InvalidParameterException")
    assert "cluster" in err.response["Error"]["Message"]


def test_a_body_over_1_mib_is_request_entity_too_large_413_without_retry(ecs):
    def inflate(request):
        request.data = json.dumps({"clusterName": "big", "padding": "x" * (1 << 20)}).encode()

    on_before_sign(ecs, "CreateCluster", inflate)
    err = expect_error(ecs, "create_cluster", code="RequestEntityTooLargeException", status=413, clusterName="big")
    assert "1048576" in err.response["Error"]["Message"]
    assert ecs_client(ecs.meta.endpoint_url).list_clusters()["clusterArns"] == []


def test_a_body_just_under_the_limit_is_accepted(ecs):
    def inflate(request):
        body = json.dumps({"clusterName": "big", "padding": ""}).encode()
        request.data = json.dumps({"clusterName": "big", "padding": "x" * ((1 << 20) - len(body))}).encode()
        assert len(request.data) == 1 << 20

    on_before_sign(ecs, "CreateCluster", inflate)
    assert expect_ok(ecs, "create_cluster", clusterName="big")["cluster"]["clusterName"] == "big"


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"])
def test_a_wrong_content_type_is_unsupported_media_type_415(ecs, content_type):
    on_before_sign(ecs, "ListClusters", lambda r: set_header(r, "Content-Type", content_type))
    err = expect_error(ecs, "list_clusters", code="UnsupportedMediaTypeException", status=415)
    assert content_type in err.response["Error"]["Message"]


def test_a_missing_content_type_is_unsupported_media_type_415(ecs):
    on_before_sign(ecs, "ListClusters", lambda r: r.headers.__delitem__("Content-Type"))
    err = expect_error(ecs, "list_clusters", code="UnsupportedMediaTypeException", status=415)
    assert "Content-Type" in err.response["Error"]["Message"]


@pytest.mark.parametrize(
    "content_type", ["application/x-amz-json-1.1; charset=utf-8", "application/x-amz-json-1.0", "application/json"]
)
def test_the_json_media_types_carrying_the_same_body_are_accepted(ecs, content_type):
    on_before_sign(ecs, "ListClusters", lambda r: set_header(r, "Content-Type", content_type))
    expect_ok(ecs, "list_clusters")


def test_a_signed_get_of_the_api_route_is_a_clear_4xx(endpoint):
    status, headers, body = signed_raw_request(endpoint, method="GET", body=b"")
    assert 400 <= status < 500, (status, body)
    error = json.loads(body)
    assert error["__type"] == headers["x-amzn-errortype"]
    assert error["message"]
    assert UUID_RE.match(headers["x-amzn-requestid"])


def test_a_signed_post_to_another_path_is_not_found_404(endpoint):
    status, headers, body = signed_raw_request(endpoint, path="/v2/clusters")
    assert status == 404
    error = json.loads(body)
    assert error["__type"] == headers["x-amzn-errortype"] == "NotFoundException"
    assert "POST /" in error["message"]


def test_a_signed_request_without_x_amz_target_is_unknown_operation_exception(endpoint):
    status, headers, body = signed_raw_request(endpoint, target=None)
    assert status == 400
    assert json.loads(body)["__type"] == "UnknownOperationException"
    assert "X-Amz-Target" in json.loads(body)["message"]
