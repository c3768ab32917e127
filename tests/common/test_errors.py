"""Domain errors become gRPC statuses with OpenAI error bodies, and callers can rebuild them."""

from __future__ import annotations

import json

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from services.common import errors
from services.common.grpc_errors import from_rpc_error, status_code, trailing_metadata


def test_invalid_argument_carries_param_in_both_forms() -> None:
    error = errors.InvalidArgument("temperature must be >= 0", param="temperature")
    assert status_code(error) == grpc.StatusCode.INVALID_ARGUMENT
    metadata = dict(trailing_metadata(error))
    body = json.loads(metadata[errors.ERROR_METADATA_KEY])
    assert body == {
        "error": {
            "message": "temperature must be >= 0",
            "type": "invalid_request_error",
            "param": "temperature",
            "code": None,
        }
    }
    status = status_pb2.Status.FromString(metadata["grpc-status-details-bin"])
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    assert bad_request.field_violations[0].field == "temperature"


def test_metadata_value_is_printable_ascii_even_for_non_ascii_messages() -> None:
    value = errors.encode_error_metadata(errors.NotFound("modèle « x » introuvable\n").openai_body())
    assert value.isascii() and "\n" not in value
    assert json.loads(value)["error"]["message"] == "modèle « x » introuvable\n"


@pytest.mark.parametrize("quoted", ["m" * 20_000, "\U0001f600" * 5000, "\u2028" * 8000, "%" * 5000])
def test_a_message_quoting_a_long_input_is_cut_to_fit_in_metadata(quoted: str) -> None:
    """An error quoting a client's text (a 5,000-emoji model name) once made trailers over gRPC's limit, and
    the caller saw RESOURCE_EXHAUSTED instead of the error."""
    error = errors.NotFound(f"The model '{quoted}' does not exist", param="m" * 5000)
    metadata = trailing_metadata(error)
    assert sum(len(key) + len(value) for key, value in metadata) < 12 * 1024
    assert len(error.message) <= 2000 and error.message.startswith("The model '")
    assert error.param is not None and len(error.param) == 256


@pytest.mark.parametrize(
    ("error", "http"),
    [
        (errors.InvalidArgument("x"), 400),
        (errors.Unauthenticated("x"), 401),
        (errors.PermissionDenied("x"), 403),
        (errors.NotFound("x"), 404),
        (errors.AlreadyExists("x"), 409),
        (errors.ResourceExhausted("x"), 429),
        (errors.Unavailable("x"), 503),
        (errors.Internal("x"), 500),
    ],
)
def test_http_status_matches_envoys_grpc_mapping(error: errors.JanError, http: int) -> None:
    assert error.kind.http_status == http


class _FakeRpcError(grpc.aio.AioRpcError):
    def __init__(self, code: grpc.StatusCode, details: str, trailing: tuple) -> None:
        super().__init__(code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailing), details)


def test_from_rpc_error_rebuilds_param_and_code() -> None:
    sent = errors.NotFound("model 'x' does not exist", param="model", code="model_not_found")
    received = from_rpc_error(_FakeRpcError(grpc.StatusCode.NOT_FOUND, sent.message, trailing_metadata(sent)))
    assert isinstance(received, errors.NotFound)
    assert (received.message, received.param, received.code) == (sent.message, "model", "model_not_found")


def test_from_rpc_error_maps_unavailable() -> None:
    received = from_rpc_error(_FakeRpcError(grpc.StatusCode.UNAVAILABLE, "connection refused", ()))
    assert isinstance(received, errors.Unavailable)


def test_a_retry_time_goes_out_as_retry_info_and_a_trailer_and_comes_back() -> None:
    sent = errors.ResourceExhausted("too many failed sign-ins", retry_after=42)
    metadata = dict(trailing_metadata(sent))
    assert metadata[errors.RETRY_AFTER_METADATA_KEY] == "42"  # edge.lua copies it into retry-after
    status = status_pb2.Status.FromString(metadata["grpc-status-details-bin"])
    retry_info = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(retry_info) and retry_info.retry_delay.seconds == 42
    received = from_rpc_error(_FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, sent.message, trailing_metadata(sent)))
    assert isinstance(received, errors.ResourceExhausted) and received.retry_after == 42
    assert errors.RETRY_AFTER_METADATA_KEY not in dict(trailing_metadata(errors.ResourceExhausted("x")))
