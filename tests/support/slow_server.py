"""A process running the common bootstrap with a SearchService whose Search takes `delay` seconds, so a test
can send SIGTERM while a call is in flight and watch it drain."""

from __future__ import annotations

import asyncio
import sys

from jan.v1 import search_service_pb2, search_service_pb2_grpc
from services.common.logs import configure_logging
from services.common.server import JanServer
from services.common.settings import ServerSettings


class SlowSearch(search_service_pb2_grpc.SearchServiceServicer):
    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def Search(self, request, context):
        await asyncio.sleep(self.delay)
        return search_service_pb2.SearchResponse(related_searches=[f"done:{request.q}"])


async def main(port: int, delay: float, grace: float) -> None:
    settings = ServerSettings(listen_address=f"127.0.0.1:{port}", shutdown_grace_seconds=grace)
    server = JanServer(settings)
    server.add_service(
        search_service_pb2_grpc.add_SearchServiceServicer_to_server, SlowSearch(delay), "jan.v1.SearchService"
    )
    await server.start()
    print("ready", flush=True)
    await server.serve_until_stopped()


if __name__ == "__main__":
    configure_logging("slow-test-server", "INFO", "json")
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])))
