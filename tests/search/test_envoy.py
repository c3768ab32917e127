"""SearchService through the real Envoy, as native gRPC, with the whole stack running (its search service
reads the session FakeSerper's address and key from the environment). It is internal: through Envoy only the
organization's owners (an admin API key, an owner's session) may call it; everyone else searches through chat."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import Iterator

import grpc
import pytest

from devstack.stack import Stack
from jan.v1 import search_service_pb2 as pb
from jan.v1 import search_service_pb2_grpc
from services.common.errors import ERROR_METADATA_KEY
from tests.auth.conftest import Owner, Rest
from tests.conftest import guest_login
from tests.support.fake_serper import FakeSerper
from tests.support.otlp import OtlpReceiver

Metadata = tuple[tuple[str, str], ...]


@pytest.fixture(scope="module")
def auth_metadata(owner: Owner) -> Metadata:
    """An admin API key: SearchService is internal (chat calls it), so through Envoy only the organization's
    owners may call it natively."""
    return (("authorization", f"Bearer {owner.admin_key}"),)


@pytest.fixture
def serper(fake_serper: FakeSerper) -> Iterator[FakeSerper]:
    yield fake_serper
    fake_serper.clear_faults()  # shared by the session: leave no injected failure behind


@pytest.fixture
def stub(edge_channel: grpc.aio.Channel) -> search_service_pb2_grpc.SearchServiceStub:
    return search_service_pb2_grpc.SearchServiceStub(edge_channel)


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:8]}"  # the service caches: each test asks something new


def requests_for(serper: FakeSerper, q: str) -> list:
    return [r for r in serper.requests_for("search") if r.body.get("q") == q]


async def test_search_through_envoy(stub, auth_metadata: Metadata, serper: FakeSerper) -> None:
    q = unique("jan server")
    response = await stub.Search(pb.SearchRequest(q=q, num=4, gl="us"), metadata=auth_metadata, timeout=30)
    assert [r.position for r in response.organic] == [1, 2, 3, 4]
    assert response.organic[0].title == f"{q} - result 1"
    assert response.knowledge_graph.attributes["Founded"] == "1976"
    assert response.answer_box.answer == f"The answer about {q}"
    assert len(response.people_also_ask) == 2 and len(response.related_searches) == 3
    [request] = requests_for(serper, q)
    assert request.api_key == serper.api_key and request.body == {"q": q, "num": 4, "gl": "us"}


async def test_the_serper_call_joins_the_callers_trace(stub, auth_metadata: Metadata, otlp: OtlpReceiver) -> None:
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    await stub.Search(
        pb.SearchRequest(q=unique("traced")), metadata=(*auth_metadata, ("traceparent", traceparent)), timeout=30
    )
    spans = await asyncio.to_thread(
        otlp.wait_for, lambda s: s.trace_id == trace_id and s.service == "jan-search" and s.name == "serper search"
    )
    assert spans, "the search service exported no span for its Serper call in the caller's trace"


async def test_scrape_through_envoy(stub, auth_metadata: Metadata, serper: FakeSerper) -> None:
    url = f"https://example.com/{uuid.uuid4().hex}"
    page = await stub.Scrape(pb.ScrapeRequest(url=url, include_markdown=True), metadata=auth_metadata, timeout=30)
    assert url in page.text and page.markdown.startswith("# Example Domain")
    assert page.metadata["og:url"] == url


async def test_second_identical_search_is_served_from_the_cache(stub, auth_metadata: Metadata, serper) -> None:
    q = unique("cache me")
    first = await stub.Search(pb.SearchRequest(q=q), metadata=auth_metadata, timeout=30)
    second = await stub.Search(pb.SearchRequest(q=q), metadata=auth_metadata, timeout=30)
    assert first == second and len(requests_for(serper, q)) == 1


async def test_a_transient_failure_is_retried_inside_the_service(stub, auth_metadata: Metadata, serper) -> None:
    q = unique("flaky")
    serper.fail_next(1, 503, endpoint="search")
    response = await stub.Search(pb.SearchRequest(q=q), metadata=auth_metadata, timeout=30)
    assert response.organic and len(requests_for(serper, q)) == 2


async def test_invalid_argument_keeps_its_status_and_details(stub, auth_metadata: Metadata) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Search(pb.SearchRequest(q="a", num=1000), metadata=auth_metadata, timeout=30)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    error = json.loads(dict(raised.value.trailing_metadata())[ERROR_METADATA_KEY])["error"]
    assert error["param"] == "num" and error["type"] == "invalid_request_error"


async def test_serper_outage_is_unavailable_without_the_key(
    stub, auth_metadata: Metadata, serper: FakeSerper, stack: Stack
) -> None:
    q = unique("outage")
    serper.fail_next(3, 503, endpoint="search")  # the stack runs with the default 3 attempts
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Search(pb.SearchRequest(q=q), metadata=auth_metadata, timeout=30)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert raised.value.details() == "Serper failed with HTTP 503 (3 attempts)"
    assert serper.api_key not in str(raised.value.trailing_metadata())
    assert len(requests_for(serper, q)) == 3
    log = stack.log_path("search").read_text()
    assert "serper call failed" in log and serper.api_key not in log


async def test_only_the_organizations_owners_may_call_it_through_envoy(
    stub, stack: Stack, rest: Rest, owner: Owner, serper: FakeSerper
) -> None:
    request = pb.SearchRequest(q=unique("internal"))
    project = rest("POST", "/v1/organization/projects", {"name": "search callers"}, token=owner.access_token)
    key = rest(
        "POST", f"/v1/organization/projects/{project.json()['id']}/api_keys", {"name": "k"}, token=owner.access_token
    )
    assert key.status == 200, key.body
    refused = {
        "guest": guest_login(stack),
        "registered user": rest.register()["access_token"],
        "project key": key.json()["value"],
    }
    for who, token in refused.items():
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.Search(request, metadata=(("authorization", f"Bearer {token}"),), timeout=30)
        assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED, who
        assert "internal" in raised.value.details(), who
    assert not requests_for(serper, request.q)  # refused by Envoy's ext_authz: the service never saw them
    for token in (owner.admin_key, owner.access_token):
        assert (await stub.Search(request, metadata=(("authorization", f"Bearer {token}"),), timeout=30)).organic
