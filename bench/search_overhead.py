"""What the search service adds on top of Serper's own latency, measured against the local FakeSerper.

    .venv/bin/python -m bench.search_overhead [--calls 300]

Prints one JSON object: raw httpx POST latency to the fake (the floor), the client's cache-miss latency
(validation, retry wrapper, parsing), the cache-hit latency in-process and over gRPC, and how many upstream
calls 100 concurrent identical searches make.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable

import grpc

from jan.v1 import search_service_pb2, search_service_pb2_grpc
from services.common.server import JanServer
from services.common.settings import ServerSettings
from services.search.domain import SearchQuery
from services.search.serper import SerperClient, SerperConfig, create_http_client
from services.search.servicer import SearchServicer
from tests.support.fake_serper import FakeSerper


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50_ms": round(statistics.median(ordered) * 1000, 3), "p99_ms": round(pick(0.99) * 1000, 3)}


async def timed(calls: int, call: Callable[[int], Awaitable[object]]) -> dict[str, float]:
    samples = []
    for i in range(calls):
        started = time.perf_counter()
        await call(i)
        samples.append(time.perf_counter() - started)
    return summary(samples)


async def run(calls: int) -> dict[str, object]:
    fake = FakeSerper()
    fake.start()
    results: dict[str, object] = {"calls": calls}
    try:
        async with create_http_client(10) as http:
            headers = {"X-API-KEY": fake.api_key}
            results["raw_httpx_post"] = await timed(
                calls, lambda i: http.post(fake.search_url, json={"q": f"raw {i}"}, headers=headers)
            )
            config = SerperConfig(api_key=fake.api_key, search_url=fake.search_url, scrape_url=fake.scrape_url)
            client = SerperClient(http, config)
            results["client_cache_miss"] = await timed(calls, lambda i: client.search(SearchQuery(q=f"miss {i}")))
            await client.search(SearchQuery(q="hot"))
            results["client_cache_hit"] = await timed(calls * 10, lambda i: client.search(SearchQuery(q="hot")))

            fake.reset()
            fake.delay_next(1, seconds=0.2)
            await asyncio.gather(*(client.search(SearchQuery(q="stampede")) for _ in range(100)))
            results["stampede_100_upstream_calls"] = len(fake.requests)

            server = JanServer(ServerSettings(listen_address="127.0.0.1:0", shutdown_grace_seconds=0))
            server.add_service(
                search_service_pb2_grpc.add_SearchServiceServicer_to_server,
                SearchServicer(client),
                "jan.v1.SearchService",
            )
            port = await server.start()
            try:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                    stub = search_service_pb2_grpc.SearchServiceStub(channel)
                    request = search_service_pb2.SearchRequest(q="hot")
                    await stub.Search(request)
                    results["grpc_cache_hit"] = await timed(calls, lambda i: stub.Search(request))
            finally:
                await server.stop()
    finally:
        fake.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.calls)), indent=2))


if __name__ == "__main__":
    main()
