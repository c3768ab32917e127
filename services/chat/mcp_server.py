"""The MCP endpoint (`/v1/mcp`, Streamable HTTP): the search tools of the system we replace, `google_search` and
`scrape`, for MCP clients, built on the official MCP Python SDK (its MCPServer, sessions by Mcp-Session-Id).

It lives in the chat service, beside the web search of chat completions: the same search client calls the
search service over gRPC, the search service stays internal (no HTTP surface of its own), and the chat
service already is the public API's other half. Envoy authenticates callers first (ext_authz, like every
route); this app also refuses a request that reaches it without the identity auth's ext_authz set and signed
(services.common.identity), so its port answers nobody who went around Envoy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Generator
from typing import Any, Protocol, TypeVar

import uvicorn
from google.protobuf import json_format
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from jan.v1 import search_service_pb2 as search_pb
from services.chat.metrics import McpMetrics
from services.chat.search_loop import Search
from services.common.errors import JanError, openai_error_body
from services.common.identity import Caller, caller_from_metadata

MCP_PATH = "/v1/mcp"
T = TypeVar("T")


class Scraper(Search, Protocol):
    async def scrape(self, request: search_pb.ScrapeRequest) -> search_pb.ScrapeResponse: ...


async def _run_tool(metrics: McpMetrics | None, tool: str, call: Awaitable[T]) -> T:
    """Awaits a tool's call to the search service, timed; its refusal becomes the tool's error, which the model
    reads (a bad field, no key configured, Serper down)."""
    with metrics.tool_call(tool) if metrics is not None else contextlib.nullcontext():
        try:
            return await call
        except JanError as error:
            raise ToolError(error.message) from None


def build_server(search: Scraper, metrics: McpMetrics | None = None) -> MCPServer:
    server: MCPServer = MCPServer(
        name="jan-search",
        instructions="Web search and page scraping through Jan Server's search service (Serper).",
    )

    @server.tool(name="google_search", description="Search the web with Google (through Serper).")
    async def google_search(
        q: str,
        gl: str | None = None,
        hl: str | None = None,
        location: str | None = None,
        num: int | None = None,
        tbs: str | None = None,
        page: int | None = None,
        autocorrect: bool | None = None,
    ) -> dict[str, Any]:
        """q: the query; gl: country code (e.g. "us"); hl: language (e.g. "en"); location: where the search
        is made from; num: results (1-100); tbs: time filter (e.g. "qdr:d"); page: results page from 1;
        autocorrect: whether the query's spelling may be corrected."""
        request = search_pb.SearchRequest(q=q, gl=gl, hl=hl, location=location, num=num, tbs=tbs, page=page)
        if autocorrect is not None:
            request.autocorrect = autocorrect
        found = await _run_tool(metrics, "google_search", search.search(request))
        return json_format.MessageToDict(found, preserving_proto_field_name=True)

    @server.tool(name="scrape", description="Fetch a web page as text (and markdown).")
    async def scrape(url: str, includeMarkdown: bool = False) -> dict[str, Any]:
        """url: an absolute http(s) URL; includeMarkdown: also return the page as markdown."""
        request = search_pb.ScrapeRequest(url=url, include_markdown=includeMarkdown)
        page = await _run_tool(metrics, "scrape", search.scrape(request))
        return json_format.MessageToDict(page, preserving_proto_field_name=True)

    return server


def build_app(
    search: Scraper,
    identity_secret: bytes,
    allowed: Callable[[Caller], bool],
    metrics: McpMetrics | None = None,
) -> ASGIApp:
    """The Streamable HTTP app at MCP_PATH, behind a check that auth's ext_authz identified the caller and
    that `allowed` lets them search (a project's hosted tool permissions)."""
    server = build_server(search, metrics)
    # DNS rebinding protection checks Host/Origin for servers browsers can reach directly; this one is
    # only reached through Envoy, which authenticates every call.
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    # Plain JSON answers to calls (the transport allows them) instead of an SSE stream per call: the tools
    # stream nothing, and it measured 0.6 ms less per tools/call (bench/web_search_overhead.py).
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, transport_security=security, json_response=True)
    return _RequireIdentity(app, identity_secret, allowed, metrics)


class _RequireIdentity:
    """Answers 401 in OpenAI's error shape when the request lacks the signed identity auth's ext_authz sets
    (unsigned, badly signed or expired identity is none), and 403 when the caller may not search."""

    def __init__(
        self,
        app: ASGIApp,
        identity_secret: bytes,
        allowed: Callable[[Caller], bool],
        metrics: McpMetrics | None,
    ) -> None:
        self._app = app
        self._identity_secret = identity_secret
        self._allowed = allowed
        self._metrics = metrics

    def _caller(self, scope: Scope) -> Caller:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])]
        return caller_from_metadata(headers, self._identity_secret)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            caller = self._caller(scope)
            if not caller.authenticated:
                await self._refuse(send, 401, "Missing bearer authentication in header", "authentication_error")
                return
            if not self._allowed(caller):
                await self._refuse(send, 403, "web search is not enabled for this project", "permission_error")
                return
        await self._app(scope, receive, send)

    async def _refuse(self, send: Send, status: int, message: str, kind: str) -> None:
        if self._metrics is not None:
            self._metrics.refused(status)
        body = json.dumps(openai_error_body(message, kind))
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body.encode()})


class McpHttpServer:
    """Serves the MCP app with uvicorn on the service's event loop. The JanServer owns SIGTERM/SIGINT: this
    server does not capture them, and the service stops it after the gRPC server's drain."""

    def __init__(self, app: ASGIApp, listen_address: str) -> None:
        host, _, port = listen_address.rpartition(":")
        config = uvicorn.Config(app, host=host or "127.0.0.1", port=int(port), log_config=None, lifespan="on")
        self._server = _UvicornWithoutSignals(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises why it could not start (e.g. the port is taken)
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task


class _UvicornWithoutSignals(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield
