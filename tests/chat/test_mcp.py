"""The MCP endpoint through Envoy with the official MCP Python client (PyPI `mcp`, unmodified): Streamable HTTP
sessions, the google_search and scrape tools with their input schemas, results from the search service
(its real Serper client against the local stand-in), and authentication like every other route."""

from __future__ import annotations

import json
import time

import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from devstack.stack import Stack
from tests.conftest import STACK_IDENTITY_SECRET
from tests.support.fake_serper import FakeSerper
from tests.support.identity import identity_metadata
from tests.support.openai_spec import assert_error


async def test_tools_through_envoy_with_the_official_client(
    stack: Stack, guest_token: str, fake_serper: FakeSerper
) -> None:
    async with (
        httpx2.AsyncClient(headers={"authorization": f"Bearer {guest_token}"}, timeout=30) as http,
        streamable_http_client(f"{stack.http_url}/v1/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        initialized = await session.initialize()
        assert initialized.server_info.name == "jan-search"
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == {"google_search", "scrape"}
        search_schema = tools["google_search"].input_schema
        assert search_schema["required"] == ["q"]
        assert {"q", "gl", "hl", "location", "num", "tbs", "page", "autocorrect"} <= set(search_schema["properties"])
        assert set(tools["scrape"].input_schema["properties"]) == {"url", "includeMarkdown"}

        before = len(fake_serper.queries())
        found = await session.call_tool("google_search", {"q": "mcp through envoy", "num": 3, "gl": "de"})
        assert not found.is_error
        result = found.structured_content or json.loads(found.content[0].text)
        assert [r["position"] for r in result["organic"]] == [1, 2, 3]
        assert result["answer_box"]["answer"] == "The answer about mcp through envoy"
        assert result["news"][0]["source"] == "Example News"
        assert fake_serper.queries()[before:] == ["mcp through envoy"]

        page = await session.call_tool("scrape", {"url": "https://example.com/page", "includeMarkdown": True})
        scraped = page.structured_content or json.loads(page.content[0].text)
        assert not page.is_error and scraped["markdown"].startswith("# Example Domain")

        bad = await session.call_tool("google_search", {"q": "   "})
        assert bad.is_error and "q must not be empty" in bad.content[0].text


def test_no_credentials_is_a_401_in_openais_shape(stack: Stack) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    response = httpx.post(f"{stack.http_url}/v1/mcp", json=body, timeout=30)
    assert response.status_code == 401
    assert_error(response.json())


def test_the_chat_services_own_port_refuses_calls_without_identity(stack: Stack) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    response = httpx.post(f"http://127.0.0.1:{stack.config.mcp_port}/v1/mcp", json=body, timeout=30)
    assert response.status_code == 401
    assert_error(response.json())


@pytest.mark.parametrize(
    ("why", "headers"),
    [
        ("forged", {"x-jan-user-id": "user_anyone", "x-jan-key-type": "session"}),
        ("another key", dict(identity_metadata("another-identity-secret-0123456789abcdef", "user_anyone"))),
        ("expired", dict(identity_metadata(STACK_IDENTITY_SECRET, "user_anyone", expires_at=int(time.time()) - 1))),
    ],
)
def test_the_chat_services_own_port_refuses_identity_auth_did_not_sign(
    stack: Stack, why: str, headers: dict[str, str]
) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    response = httpx.post(f"http://127.0.0.1:{stack.config.mcp_port}/v1/mcp", json=body, headers=headers, timeout=30)
    assert response.status_code == 401, why
    assert_error(response.json())


def test_the_chat_services_own_port_serves_signed_identity(stack: Stack) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    headers = {
        **dict(identity_metadata(STACK_IDENTITY_SECRET, "user_anyone", key_type="session")),
        "accept": "application/json, text/event-stream",
    }
    response = httpx.post(f"http://127.0.0.1:{stack.config.mcp_port}/v1/mcp", json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["result"]["serverInfo"]["name"] == "jan-search"


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_other_methods_need_credentials_too(stack: Stack, method: str) -> None:
    assert httpx.request(method, f"{stack.http_url}/v1/mcp", timeout=30).status_code == 401
