"""The call metrics every service records (services/common/metrics.py, counted by grpc_errors' wrappers) on a
real in-process gRPC server, and the HTTP endpoint serving them: calls by method and status code (OK, a domain
error's code, a servicer's own abort, a crash, a caller that went away), durations, limit refusals, streams."""

from __future__ import annotations

import asyncio

import aiohttp
import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from jan.v1 import inference_service_pb2, inference_service_pb2_grpc, search_service_pb2, search_service_pb2_grpc
from services.common.errors import InvalidArgument, ResourceExhausted
from services.common.metrics import ServiceMetrics
from services.common.server import JanServer
from services.common.settings import ServerSettings

SEARCH = "jan.v1.SearchService"
INFERENCE = "jan.v1.InferenceService"


class Search(search_service_pb2_grpc.SearchServiceServicer):
    async def Search(self, request, context):
        if request.q == "item":
            raise InvalidArgument("too big", param="items[0]", over_limit="item_bytes")
        if request.q == "guest":
            raise ResourceExhausted("slow down", over_limit="requests_per_minute", guest_limit=True, retry_after=3)
        if request.q == "crash":
            raise RuntimeError("boom")
        if request.q == "abort":
            await context.abort(grpc.StatusCode.NOT_FOUND, "gone")
        if request.q == "slow":
            await asyncio.sleep(30)
        return search_service_pb2.SearchResponse()


class Inference(inference_service_pb2_grpc.InferenceServiceServicer):
    async def Generate(self, request, context):
        for _ in range(3):
            yield inference_service_pb2.GenerateResponse(content="x", completion_tokens=1)
        if request.model == "fail":
            raise InvalidArgument("failed after it began", param="model")


@pytest.fixture
async def served():
    metrics = ServiceMetrics()
    settings = ServerSettings(
        listen_address="127.0.0.1:0", metrics_listen_address="127.0.0.1:0", shutdown_grace_seconds=0
    )
    jan = JanServer(settings, metrics=metrics)
    jan.add_service(search_service_pb2_grpc.add_SearchServiceServicer_to_server, Search(), SEARCH)
    jan.add_service(inference_service_pb2_grpc.add_InferenceServiceServicer_to_server, Inference(), INFERENCE)
    port = await jan.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield jan, metrics, channel
    await jan.stop()


def value(metrics: ServiceMetrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return found if found is not None else 0.0


async def counted(metrics: ServiceMetrics, service: str, method: str, code: str, kind: str = "unary") -> float:
    """The handled count once the server has counted the call: the wrappers count in their finally blocks, which
    can run just after the status reached the caller (an abort's status is on the wire before AbortError)."""
    for _ in range(50):
        if handled(metrics, service, method, code, kind):
            break
        await asyncio.sleep(0.02)
    return handled(metrics, service, method, code, kind)


def handled(metrics: ServiceMetrics, service: str, method: str, code: str, kind: str = "unary") -> float:
    labels = {"grpc_type": kind, "grpc_service": service, "grpc_method": method, "grpc_code": code}
    return value(metrics, "grpc_server_handled_total", **labels)


async def search(channel: grpc.aio.Channel, q: str, deadline: float = 5) -> grpc.StatusCode:
    stub = search_service_pb2_grpc.SearchServiceStub(channel)
    try:
        await stub.Search(search_service_pb2.SearchRequest(q=q), timeout=deadline)
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def test_every_method_is_listed_before_its_first_call(served) -> None:
    _, metrics, _ = served
    for service, method, kind in (
        (SEARCH, "Search", "unary"),
        (SEARCH, "Scrape", "unary"),
        (INFERENCE, "Generate", "server_stream"),
    ):
        labels = {"grpc_type": kind, "grpc_service": service, "grpc_method": method}
        assert metrics.registry.get_sample_value("grpc_server_started_total", labels) == 0
        assert metrics.registry.get_sample_value("grpc_server_handled_total", {**labels, "grpc_code": "OK"}) == 0
        assert metrics.registry.get_sample_value("grpc_server_handling_seconds_count", labels) == 0


@pytest.mark.parametrize(
    ("q", "code"),
    [
        ("fine", "OK"),
        ("item", "INVALID_ARGUMENT"),
        ("guest", "RESOURCE_EXHAUSTED"),
        ("crash", "INTERNAL"),
        ("abort", "NOT_FOUND"),
    ],
)
async def test_unary_calls_are_counted_by_code_and_timed(served, q: str, code: str) -> None:
    _, metrics, channel = served
    labels = {"grpc_type": "unary", "grpc_service": SEARCH, "grpc_method": "Search"}
    assert (await search(channel, q)).name == code
    assert await counted(metrics, SEARCH, "Search", code) == 1
    assert value(metrics, "grpc_server_started_total", **labels) == 1
    assert value(metrics, "grpc_server_handling_seconds_count", **labels) == 1
    assert 0 < value(metrics, "grpc_server_handling_seconds_sum", **labels) < 5


async def test_limit_refusals_are_counted_by_limit(served) -> None:
    _, metrics, channel = served
    await search(channel, "item")
    await search(channel, "guest")
    await search(channel, "guest")
    await search(channel, "crash")  # not a limit
    assert value(metrics, "jan_limit_denials_total", limit="item_bytes", guest="false") == 1
    assert value(metrics, "jan_limit_denials_total", limit="requests_per_minute", guest="true") == 2
    assert (
        sum(
            s.value
            for m in metrics.registry.collect()
            if m.name == "jan_limit_denials"
            for s in m.samples
            if s.name.endswith("_total")
        )
        == 3
    )


async def test_a_caller_that_gives_up_is_cancelled(served) -> None:
    _, metrics, channel = served
    assert await search(channel, "slow", deadline=0.3) == grpc.StatusCode.DEADLINE_EXCEEDED
    assert await counted(metrics, SEARCH, "Search", "CANCELLED") == 1  # the server notices the deadline on its own


async def test_streams_are_counted_when_they_end(served) -> None:
    _, metrics, channel = served
    stub = inference_service_pb2_grpc.InferenceServiceStub(channel)
    assert len([m async for m in stub.Generate(inference_service_pb2.GenerateRequest(model="ok"))]) == 3
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for _ in stub.Generate(inference_service_pb2.GenerateRequest(model="fail")):
            pass
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await counted(metrics, INFERENCE, "Generate", "OK", "server_stream") == 1
    assert await counted(metrics, INFERENCE, "Generate", "INVALID_ARGUMENT", "server_stream") == 1


async def test_the_endpoint_serves_the_service_and_the_process(served) -> None:
    jan, metrics, channel = served
    await search(channel, "fine")
    assert await counted(metrics, SEARCH, "Search", "OK") == 1
    refreshed = []

    async def hook() -> None:
        refreshed.append(True)

    async def broken() -> None:
        raise OSError("the database went away")

    metrics.on_scrape(broken)  # logged; the scrape still answers
    metrics.on_scrape(hook)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{jan.metrics_port}/metrics") as response:
            assert response.status == 200
            assert response.headers["content-type"].startswith("text/plain")
            text = await response.text()
        async with http.get(f"http://127.0.0.1:{jan.metrics_port}/", headers={"accept": "*/*"}) as response:
            assert response.status == 404
        async with http.get(
            f"http://127.0.0.1:{jan.metrics_port}/metrics", headers={"accept": "application/openmetrics-text"}
        ) as response:
            assert response.headers["content-type"].startswith("application/openmetrics-text")
            assert (await response.text()).endswith("# EOF\n")
    assert refreshed == [True, True]
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert "process_cpu_seconds" in families
    ok = [s for s in families["grpc_server_handled"].samples if s.labels.get("grpc_code") == "OK"]
    assert {(s.labels["grpc_method"], s.value) for s in ok if s.name.endswith("_total")} >= {("Search", 1.0)}


async def test_off_without_a_listen_address() -> None:
    jan = JanServer(ServerSettings(listen_address="127.0.0.1:0", shutdown_grace_seconds=0), metrics=ServiceMetrics())
    await jan.start()
    try:
        assert jan.metrics_port is None
    finally:
        await jan.stop()
