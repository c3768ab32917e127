"""SearchService over real gRPC: the servicer inside the common JanServer (port 0) with the real Serper client
against FakeSerper, called with the generated stubs. Proves the proto ⇄ domain conversion, the status codes
and error details callers see, and that the caller's deadline reaches the client."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator, Callable

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2

from jan.v1 import search_service_pb2 as pb
from jan.v1 import search_service_pb2_grpc
from services.common.errors import ERROR_METADATA_KEY
from services.common.server import JanServer
from services.common.settings import ServerSettings
from services.search.serper import SerperClient
from services.search.servicer import SearchServicer
from tests.search.conftest import config_for
from tests.support.fake_serper import FakeSerper


@pytest.fixture
async def start_search(serper: FakeSerper, http: httpx.AsyncClient) -> AsyncIterator[Callable]:
    """Starts a SearchService on a free port; returns a stub for it. Stops everything afterwards."""
    servers: list[JanServer] = []
    channels: list[grpc.aio.Channel] = []
    clients: list[SerperClient] = []

    async def start(**overrides: object) -> search_service_pb2_grpc.SearchServiceStub:
        server = JanServer(ServerSettings(listen_address="127.0.0.1:0", shutdown_grace_seconds=0))
        client = SerperClient(http, config_for(serper, **overrides))
        clients.append(client)
        server.add_service(
            search_service_pb2_grpc.add_SearchServiceServicer_to_server, SearchServicer(client), "jan.v1.SearchService"
        )
        port = await server.start()
        servers.append(server)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        channels.append(channel)
        return search_service_pb2_grpc.SearchServiceStub(channel)

    start.clients = clients  # type: ignore[attr-defined]
    yield start
    for channel in channels:
        await channel.close()
    for server in servers:
        await server.stop()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # JanServer.start installed handlers for its own stop
        loop.remove_signal_handler(sig)


def error_details(exc: grpc.aio.AioRpcError) -> tuple[dict, status_pb2.Status]:
    metadata = dict(exc.trailing_metadata() or ())
    status = status_pb2.Status.FromString(metadata["grpc-status-details-bin"])
    return json.loads(metadata[ERROR_METADATA_KEY])["error"], status


async def test_search_converts_every_section(start_search) -> None:
    stub = await start_search()
    response = await stub.Search(pb.SearchRequest(q="apple inc", num=3), timeout=10)
    assert [(r.position, r.title, r.link) for r in response.organic] == [
        (i, f"apple inc - result {i}", f"https://example.com/apple-inc/{i}") for i in (1, 2, 3)
    ]
    assert not response.organic[0].HasField("date") and response.organic[2].date == "Mar 3, 2025"
    assert response.organic[0].snippet.startswith("Result 1 about apple inc")
    assert response.HasField("answer_box") and response.answer_box.answer == "The answer about apple inc"
    assert response.answer_box.link == "https://answers.example.com/apple-inc"
    kg = response.knowledge_graph
    assert (kg.title, kg.type, kg.website) == ("Apple Inc", "Topic", "https://apple-inc.example.org/")
    assert dict(kg.attributes) == {"Founded": "1976", "Headquarters": "Cupertino, California"}
    assert [(p.question, p.link) for p in response.people_also_ask] == [
        ("What is apple inc?", "https://faq.example.com/apple-inc/what"),
        ("Why apple inc?", "https://faq.example.com/apple-inc/why"),
    ]
    assert list(response.related_searches) == ["apple inc history", "apple inc news", "apple inc reviews"]


async def test_optional_fields_reach_serper_only_when_set(start_search, serper: FakeSerper) -> None:
    stub = await start_search()
    await stub.Search(pb.SearchRequest(q="plain"), timeout=10)
    await stub.Search(
        pb.SearchRequest(q="full", gl="de", hl="de", location="Berlin", num=10, tbs="qdr:d", page=1, autocorrect=False),
        timeout=10,
    )
    assert [r.body for r in serper.requests] == [
        {"q": "plain"},
        {
            "q": "full",
            "gl": "de",
            "hl": "de",
            "location": "Berlin",
            "num": 10,
            "tbs": "qdr:d",
            "page": 1,
            "autocorrect": False,
        },
    ]


async def test_missing_sections_stay_unset(start_search, serper: FakeSerper) -> None:
    serper.set_search_response("obscure", {"searchParameters": {"q": "obscure"}, "organic": [], "credits": 1})
    response = await (await start_search()).Search(pb.SearchRequest(q="obscure"), timeout=10)
    assert not response.HasField("answer_box") and not response.HasField("knowledge_graph")
    assert len(response.organic) == 0 and len(response.related_searches) == 0


async def test_scrape_with_and_without_markdown(start_search) -> None:
    stub = await start_search()
    page = await stub.Scrape(pb.ScrapeRequest(url="https://example.com/a", include_markdown=True), timeout=10)
    assert "https://example.com/a" in page.text and page.markdown.startswith("# Example Domain")
    assert page.metadata["title"] == "Example Domain" and page.metadata["og:url"] == "https://example.com/a"
    plain = await stub.Scrape(pb.ScrapeRequest(url="https://example.com/b"), timeout=10)
    assert plain.text and not plain.HasField("markdown")


@pytest.mark.parametrize(
    ("request_", "param"),
    [
        (pb.SearchRequest(q="  "), "q"),
        (pb.SearchRequest(q="a", num=0), "num"),
        (pb.SearchRequest(q="a", num=101), "num"),
        (pb.SearchRequest(q="a", page=0), "page"),
        (pb.ScrapeRequest(url="ftp://example.com"), "url"),
    ],
)
async def test_invalid_argument_carries_the_field(start_search, serper: FakeSerper, request_, param: str) -> None:
    stub = await start_search()
    call = stub.Search if isinstance(request_, pb.SearchRequest) else stub.Scrape
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(request_, timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    body, status = error_details(raised.value)
    assert body["param"] == param and body["type"] == "invalid_request_error"
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request) and bad_request.field_violations[0].field == param
    assert serper.requests == []


async def test_unconfigured_search_is_failed_precondition(start_search) -> None:
    stub = await start_search(api_key="")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Search(pb.SearchRequest(q="a"), timeout=10)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert raised.value.details() == "search is not configured: set SERPER_API_KEY"
    assert error_details(raised.value)[0]["code"] == "search_not_configured"


@pytest.mark.parametrize(
    ("status", "code", "error_code"),
    [
        (503, grpc.StatusCode.UNAVAILABLE, "upstream_error"),
        (429, grpc.StatusCode.UNAVAILABLE, "upstream_rate_limited"),
        (403, grpc.StatusCode.UNAVAILABLE, "upstream_auth_failed"),
    ],
)
async def test_upstream_failures_map_to_statuses(start_search, serper: FakeSerper, status, code, error_code) -> None:
    stub = await start_search()
    serper.fail_next(3, status)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Search(pb.SearchRequest(q="failing"), timeout=10)
    assert raised.value.code() == code
    body, _ = error_details(raised.value)
    assert body["code"] == error_code and body["type"] == "service_unavailable_error"
    assert serper.api_key not in raised.value.details() and serper.api_key not in json.dumps(body)


async def test_upstream_timeout_is_deadline_exceeded(start_search, serper: FakeSerper) -> None:
    stub = await start_search(timeout_seconds=0.2, max_attempts=2)
    serper.delay_next(2, seconds=5)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Search(pb.SearchRequest(q="sluggish"), timeout=10)
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert raised.value.details() == "Serper did not answer within 0.2 s (2 attempts)"


async def test_callers_grpc_deadline_bounds_the_work(start_search, serper: FakeSerper) -> None:
    stub = await start_search(timeout_seconds=10)
    serper.delay_next(1, seconds=5)
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Search(pb.SearchRequest(q="hurry"), timeout=0.5)
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 2
    await asyncio.sleep(0.2)
    assert start_search.clients[0].cache.in_flight == 0  # the server gave up on Serper too


async def test_retried_then_cached_through_grpc(start_search, serper: FakeSerper) -> None:
    stub = await start_search()
    serper.fail_next(1, 502)
    first = await stub.Search(pb.SearchRequest(q="twice"), timeout=10)
    second = await stub.Search(pb.SearchRequest(q="twice"), timeout=10)
    assert first == second and len(serper.requests) == 2  # one failure, one success, then the cache
