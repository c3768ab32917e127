"""Starts the chat service: settings, logging, tracing, database and migrations, the inference client,
then the gRPC server.

`ChatApp` wires the parts (also used by the tests): the store over the pool, the inference client over a
channel, the domain objects and the servicer.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import grpc

from jan.v1 import chat_service_pb2_grpc
from services.chat.completions import ChatCompletions, Inference
from services.chat.conversations import Conversations
from services.chat.inference_client import InferenceClient
from services.chat.servicer import ChatServicer
from services.chat.settings import ChatSettings
from services.chat.store import ConversationStore
from services.common.channels import insecure_channel
from services.common.db import apply_migrations, create_pool
from services.common.logs import configure_logging
from services.common.server import JanServer, run
from services.common.tracing import configure_tracing

SERVICE = "jan-chat"
MIGRATIONS = Path(__file__).parent / "migrations"


class ChatApp:
    def __init__(self, pool: asyncpg.Pool, inference: Inference) -> None:
        self.conversations = Conversations(ConversationStore(pool))
        self.completions = ChatCompletions(inference, self.conversations)
        self.servicer = ChatServicer(self.completions, self.conversations)

    @classmethod
    async def create(cls, pool: asyncpg.Pool, inference_channel: grpc.aio.Channel) -> ChatApp:
        await apply_migrations(pool, "chat", MIGRATIONS)
        return cls(pool, InferenceClient(inference_channel))

    def register(self, server: JanServer) -> None:
        server.add_service(chat_service_pb2_grpc.add_ChatServiceServicer_to_server, self.servicer, "jan.v1.ChatService")


async def serve(settings: ChatSettings) -> None:
    pool = await create_pool(settings.database)
    inference_channel = insecure_channel(settings.inference_target, settings.max_message_bytes, traced=settings.tracing)
    try:
        app = await ChatApp.create(pool, inference_channel)
        server = JanServer(settings)
        app.register(server)
        await server.start()
        await server.serve_until_stopped()
        await app.completions.drain()  # turns cut short by the stop are still being stored
    finally:
        await inference_channel.close()
        await pool.close()


def main() -> None:
    settings = ChatSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    configure_tracing(SERVICE, settings.otlp_endpoint)
    run(serve(settings))
