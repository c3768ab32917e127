"""Starts the chat service: settings, logging, tracing, database and migrations, the inference client,
then the gRPC server.

`ChatApp` wires the parts from the settings (also used by the tests): the stores over the pool, the inference
(metered) and search clients over their channels, the domain objects, the servicers, the background work
(usage flushes, the background responses' runner) and the MCP app (served over HTTP beside the gRPC server).
"""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg
import grpc

from jan.v1 import chat_service_pb2_grpc, responses_service_pb2_grpc, types_pb2, usage_service_pb2_grpc
from services.chat.completions import ChatCompletions
from services.chat.controls import Governance, ProjectControls
from services.chat.conversations import Conversations
from services.chat.inference_client import InferenceClient
from services.chat.mcp_server import McpHttpServer
from services.chat.mcp_server import build_app as build_mcp_app
from services.chat.metrics import GenerationMetrics, McpMetrics, ResponsesQueueMetrics
from services.chat.rate_limits import RateLimiter
from services.chat.responses import Responses
from services.chat.responses_servicer import ResponsesServicer
from services.chat.responses_worker import BackgroundRunner, RunnerSettings
from services.chat.search_client import SearchClient
from services.chat.search_loop import SearchLoop
from services.chat.servicer import ChatServicer
from services.chat.settings import ChatSettings
from services.chat.store import ConversationStore, ResponseStore
from services.chat.store.usage import UsageStore
from services.chat.usage import Usage, UsageMeter
from services.chat.usage_servicer import UsageServicer
from services.common.channels import insecure_channel
from services.common.db import apply_migrations, create_pool
from services.common.errors import JanError
from services.common.logs import configure_logging
from services.common.metrics import ServiceMetrics, metrics_for
from services.common.server import JanServer, freeze_startup_heap, run
from services.common.tracing import configure_tracing

log = logging.getLogger(__name__)

SERVICE = "jan-chat"
MIGRATIONS = Path(__file__).parent / "migrations"


class ChatApp:
    def __init__(
        self,
        pool: asyncpg.Pool,
        inference_channel: grpc.aio.Channel,
        search_channel: grpc.aio.Channel,
        auth_channel: grpc.aio.Channel,
        settings: ChatSettings,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.settings = settings
        limits = settings.limits()
        identity = settings.identity_key
        self.usage_meter = UsageMeter(UsageStore(pool), settings.usage_flush_seconds)
        self.rate_limiter = RateLimiter(pool, settings.rate_limit_sync_seconds)
        self.project_controls = ProjectControls(auth_channel, settings.project_controls_poll_seconds)
        governance = Governance(self.project_controls, self.rate_limiter)
        generation_metrics = GenerationMetrics(metrics) if metrics is not None else None
        inference = InferenceClient(inference_channel, self._count_usage, generation_metrics)
        search = SearchClient(search_channel)
        self.conversations = Conversations(ConversationStore(pool), limits)
        search_loop = SearchLoop(inference, search, settings.web_search_max_steps, settings.web_search_max_query_chars)
        self.completions = ChatCompletions(inference, self.conversations, search_loop)
        response_store = ResponseStore(pool)
        self.responses = Responses(
            self.completions, inference, search_loop, self.conversations, response_store, governance, limits
        )
        self.servicer = ChatServicer(self.completions, self.conversations, identity, limits, governance)
        self.responses_servicer = ResponsesServicer(self.responses, identity)
        self.usage_servicer = UsageServicer(Usage(UsageStore(pool)), identity)
        runner = RunnerSettings(
            concurrency=settings.background_concurrency, stale_seconds=settings.background_stale_seconds
        )
        self.runner = BackgroundRunner(self.responses, response_store, settings.database.url, runner)
        if metrics is not None:
            ResponsesQueueMetrics(metrics, response_store.queue_depth, lambda: self.runner.running)
        mcp_metrics = McpMetrics(metrics) if metrics is not None else None
        self.mcp_app = build_mcp_app(search, identity, governance.allows_web_search, mcp_metrics)

    def _count_usage(self, attribution: types_pb2.Attribution, model: str, usage: types_pb2.Usage) -> None:
        self.usage_meter.record(attribution, model, usage)
        self.rate_limiter.count_tokens(attribution.project_id, model, usage.prompt_tokens + usage.completion_tokens)

    @classmethod
    async def create(
        cls,
        pool: asyncpg.Pool,
        inference_channel: grpc.aio.Channel,
        search_channel: grpc.aio.Channel,
        auth_channel: grpc.aio.Channel,
        settings: ChatSettings,
        metrics: ServiceMetrics | None = None,
    ) -> ChatApp:
        await apply_migrations(pool, "chat", MIGRATIONS)
        return cls(pool, inference_channel, search_channel, auth_channel, settings, metrics)

    def register(self, server: JanServer) -> None:
        server.add_service(chat_service_pb2_grpc.add_ChatServiceServicer_to_server, self.servicer, "jan.v1.ChatService")
        server.add_service(
            responses_service_pb2_grpc.add_ResponsesServiceServicer_to_server,
            self.responses_servicer,
            "jan.v1.ResponsesService",
        )
        server.add_service(
            usage_service_pb2_grpc.add_UsageServiceServicer_to_server, self.usage_servicer, "jan.v1.UsageService"
        )

    async def start(self) -> None:
        """The background work: the projects' controls (loaded once before serving, then polled), rate limit
        syncs, metering's flushes and (unless turned off) the background responses' runner."""
        try:
            await self.project_controls.refresh()
        except JanError as error:  # auth not up yet: the poll catches up; until then, the defaults
            log.warning("starting without project controls: %s", error.message)
        await self.project_controls.start()
        await self.rate_limiter.start()
        await self.usage_meter.start()
        if self.settings.background_runner:
            await self.runner.start()

    async def stop(self) -> None:
        """At shutdown: background responses end (or fail), cut-short turns are stored, usage is written."""
        await self.runner.stop()
        await self.completions.drain()
        await self.responses.drain()
        await self.usage_meter.stop()
        await self.rate_limiter.stop()
        await self.project_controls.stop()


async def serve(settings: ChatSettings) -> None:
    pool = await create_pool(settings.database)
    inference_channel = insecure_channel(settings.inference_target, settings.max_message_bytes, traced=settings.tracing)
    search_channel = insecure_channel(settings.search_target, settings.max_message_bytes, traced=settings.tracing)
    auth_channel = insecure_channel(settings.auth_target, settings.max_message_bytes, traced=settings.tracing)
    metrics = metrics_for(settings.metrics_listen_address)
    try:
        app = await ChatApp.create(pool, inference_channel, search_channel, auth_channel, settings, metrics)
        server = JanServer(settings, metrics=metrics)
        app.register(server)
        mcp = McpHttpServer(app.mcp_app, settings.mcp_listen_address)
        freeze_startup_heap()  # built: before either endpoint takes calls, so the collection delays none
        await mcp.start()  # before the gRPC server reports SERVING
        await app.start()
        try:
            await server.start()
            await server.serve_until_stopped()
        finally:
            await mcp.stop()
            await app.stop()
    finally:
        await inference_channel.close()
        await search_channel.close()
        await auth_channel.close()
        await pool.close()


def main() -> None:
    settings = ChatSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    configure_tracing(SERVICE, settings.otlp_endpoint)
    run(serve(settings))
