"""The common bootstrap on a real in-process gRPC server: health, reflection, and errors mapped to statuses
with OpenAI error bodies (a method a servicer does not implement, a domain error, an unexpected crash)."""

from __future__ import annotations

import json
import subprocess
import sys

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from jan.v1 import search_service_pb2, search_service_pb2_grpc
from services.common.errors import ERROR_METADATA_KEY, InvalidArgument
from services.common.server import JanServer
from services.common.settings import ServerSettings


class PartialSearch(search_service_pb2_grpc.SearchServiceServicer):
    """Search raises a domain error or crashes; Scrape is not implemented (the generated base raises)."""

    async def Search(self, request, context):
        if request.q == "crash":
            raise RuntimeError("secret internals")
        raise InvalidArgument("q is too long", param="q")


@pytest.fixture
async def server():
    jan = JanServer(ServerSettings(listen_address="127.0.0.1:0", shutdown_grace_seconds=0))
    jan.add_service(
        search_service_pb2_grpc.add_SearchServiceServicer_to_server, PartialSearch(), "jan.v1.SearchService"
    )
    port = await jan.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel
    await jan.stop()


def _error_body(error: grpc.aio.AioRpcError) -> dict:
    return json.loads(dict(error.trailing_metadata())[ERROR_METADATA_KEY])["error"]


async def test_unimplemented_method_is_unimplemented_with_an_openai_body(server) -> None:
    stub = search_service_pb2_grpc.SearchServiceStub(server)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Scrape(search_service_pb2.ScrapeRequest(url="https://example.com"), timeout=5)
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert _error_body(raised.value)["type"] == "not_implemented_error"


async def test_domain_error_keeps_code_message_and_param(server) -> None:
    stub = search_service_pb2_grpc.SearchServiceStub(server)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Search(search_service_pb2.SearchRequest(q="x"), timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT and raised.value.details() == "q is too long"
    assert _error_body(raised.value)["param"] == "q"


async def test_unexpected_error_is_internal_without_details(server) -> None:
    stub = search_service_pb2_grpc.SearchServiceStub(server)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Search(search_service_pb2.SearchRequest(q="crash"), timeout=5)
    assert raised.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in raised.value.details() and _error_body(raised.value)["type"] == "server_error"


async def test_health_and_reflection(server) -> None:
    health = health_pb2_grpc.HealthStub(server)
    status = await health.Check(health_pb2.HealthCheckRequest(service="jan.v1.SearchService"), timeout=5)
    assert status.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(server)
    responses = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    names = [s.name async for r in responses for s in r.list_services_response.service]
    assert {"jan.v1.SearchService", "jan.v1.ChatService", "grpc.health.v1.Health"} <= set(names)


async def test_bytes_that_do_not_parse_are_invalid_argument_with_an_openai_body(server) -> None:
    """What Envoy's transcoder sends for {"metadata": {"k": {}}}: gRPC alone would answer UNKNOWN, which the
    transcoder turns into a 500 carrying the parser's text."""
    search = server.unary_unary("/jan.v1.SearchService/Search")  # bytes in, bytes out
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await search(b"\x0a\xff\x01", timeout=5)  # field 1, 255 bytes long, then the message ends
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    body = _error_body(raised.value)
    assert body["type"] == "invalid_request_error" and "wrong type" in body["message"]


async def test_metadata_up_to_64_kib_is_accepted(server) -> None:
    """Envoy passes a client's headers on (up to 32 KiB); gRPC's defaults refused 8-16 KiB at random."""
    stub = search_service_pb2_grpc.SearchServiceStub(server)
    for _ in range(5):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.Search(search_service_pb2.SearchRequest(q="x"), metadata=(("x-pad", "p" * 40_000),), timeout=5)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # the servicer's answer: the call got there


FREEZE = """
import gc, json, weakref
from services.common.server import freeze_startup_heap
class Node: pass
cycle = Node(); cycle.me = cycle; garbage = weakref.ref(cycle); del cycle  # only a collection frees it
kept = [Node() for _ in range(1000)]
freeze_startup_heap()
print(json.dumps({"garbage_freed": garbage() is None, "frozen": gc.get_freeze_count()}))
"""


def test_a_ready_process_frees_its_garbage_then_puts_the_rest_out_of_the_collectors_reach() -> None:
    # In a process of its own: freezing is a whole process's choice (services call it; tests never do).
    out = subprocess.run([sys.executable, "-c", FREEZE], capture_output=True, text=True, check=True, timeout=60)
    result = json.loads(out.stdout)
    assert result["garbage_freed"] and result["frozen"] >= 1000
