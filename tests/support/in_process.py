"""The inference and chat services in this process: their composition roots (InferenceApp, ChatApp) on real
gRPC servers listening on port 0, the inference service on its instant engine. For servicer tests that need
real gRPC but not the whole stack."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import grpc

from services.chat.server import ChatApp
from services.chat.settings import ChatSettings
from services.common.db import keep_session
from services.common.server import JanServer
from services.common.settings import DatabaseSettings, ServerSettings
from services.inference.server import InferenceApp
from services.inference.settings import InferenceSettings
from services.search.serper import create_http_client
from services.search.server import SearchApp
from services.search.settings import SearchSettings
from tests.support.fake_serper import FakeSerper

INSTANT_MODEL = "instant"
IDENTITY_SECRET = "in-process-identity-secret-0123456789abcdef"  # signs identity_metadata's headers


@dataclass
class Running:
    server: JanServer
    channel: grpc.aio.Channel
    task: asyncio.Task | None = None

    async def stop(self) -> None:
        await self.channel.close()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.server.stop()


async def _serve(register, settings: ServerSettings) -> tuple[JanServer, grpc.aio.Channel]:
    server = JanServer(settings)
    register(server)
    port = await server.start(serving=False)
    return server, grpc.aio.insecure_channel(f"127.0.0.1:{port}")


@contextlib.asynccontextmanager
async def instant_inference(tokens: int = 4) -> AsyncIterator[tuple[InferenceApp, grpc.aio.Channel]]:
    """The inference service on its instant engine (`tokens` canned tokens per answer), SERVING."""
    settings = InferenceSettings(
        JAN_INFERENCE_LISTEN="127.0.0.1:0",
        JAN_ENGINE="instant",
        JAN_SERVED_MODEL_NAME=INSTANT_MODEL,
        JAN_INSTANT_TOKENS=tokens,
        JAN_SHUTDOWN_GRACE_SECONDS=0,
    )
    app = InferenceApp(settings)
    server, channel = await _serve(app.register, settings)
    loaded = asyncio.Event()
    running = Running(server, channel, asyncio.create_task(app.load(server, loaded)))
    await loaded.wait()
    try:
        yield app, channel
    finally:
        await running.stop()
        await app.engine.shutdown()


@contextlib.asynccontextmanager
async def search_service(serper: FakeSerper) -> AsyncIterator[grpc.aio.Channel]:
    """The search service with its real Serper client pointed at a FakeSerper (short backoffs); yields a
    channel to it."""
    settings = SearchSettings(
        JAN_SEARCH_LISTEN="127.0.0.1:0", JAN_SHUTDOWN_GRACE_SECONDS=0, **serper.env(), JAN_SEARCH_TIMEOUT_SECONDS=2
    )
    async with create_http_client(settings.timeout_seconds) as http:
        app = SearchApp(settings, http)
        server, channel = await _serve(app.register, settings)
        await server.set_serving(True)
        try:
            yield channel
        finally:
            await Running(server, channel).stop()


@contextlib.asynccontextmanager
async def chat_service(
    database_url: str,
    inference_channel: grpc.aio.Channel,
    search_channel: grpc.aio.Channel | None = None,
    auth_channel: grpc.aio.Channel | None = None,
    **env: str | float | bool,
) -> AsyncIterator[grpc.aio.Channel]:
    """The chat service on a database (several may share one, as replicas do), calling the given inference
    (and search, auth) channels; yields a channel to it. Without a search channel, searches find no service
    (UNAVAILABLE); without an auth channel, every project has the default controls. `env`: ChatSettings
    variables (e.g. JAN_RESPONSES_BACKGROUND_RUNNER=False: this replica takes no background responses)."""
    settings = ChatSettings(
        database=DatabaseSettings(DATABASE_URL=database_url),
        JAN_CHAT_LISTEN="127.0.0.1:0",
        JAN_IDENTITY_SECRET=IDENTITY_SECRET,
        JAN_SHUTDOWN_GRACE_SECONDS=0,
        JAN_USAGE_FLUSH_SECONDS=0.1,
        **env,  # type: ignore[arg-type]
    )
    # as services.common.db.create_pool makes it; one connection listens for queued responses
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=6, reset=keep_session)
    unreachable = grpc.aio.insecure_channel("127.0.0.1:1")
    try:
        app = await ChatApp.create(
            pool, inference_channel, search_channel or unreachable, auth_channel or unreachable, settings
        )
        server, channel = await _serve(app.register, settings)
        await app.start()
        await server.set_serving(True)
        try:
            yield channel
        finally:
            await Running(server, channel).stop()
            await app.stop()
    finally:
        await unreachable.close()
        await pool.close()
