"""What recording the Prometheus metrics costs per request (issue 15 item 6: ≤ 0.1 ms p50).

    PYTHONPATH=.:gen/python .venv/bin/python -m bench.metrics_overhead [--calls 20000] [--rounds 5]

Three measurements, each with metrics off and on, in alternating rounds (the machine's speed drifts), on uvloop
as the services run:
  wrapper      the error-mapping wrapper each servicer method is registered with (grpc_errors._wrap_unary /
               _wrap_stream), called directly with a stand-in context: a unary call, and a 16-message stream.
               Its difference is exactly what the call metrics add (two counter increments, one observation).
  recorders    the service-specific recorders a request meets: ext_authz's decision (auth), a streamed
               generation's timing (chat, 16 messages), a whole one's (chat).
  grpc         a unary call over a real in-process gRPC server (loopback), p50 and mean of per-call latency.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Awaitable, Callable

import uvloop

from bench.common import machine_load, table

STREAM_MESSAGES = 16


class _Context:
    """The little of grpc.aio.ServicerContext the wrappers touch on a successful call: nothing."""


async def _time_calls(call: Callable[[], Awaitable[object]], calls: int) -> float:
    """Seconds per call, over `calls` calls in a loop."""
    started = time.perf_counter()
    for _ in range(calls):
        await call()
    return (time.perf_counter() - started) / calls


def wrapper_cases(metrics_on: bool) -> dict[str, Callable[[], Awaitable[object]]]:
    from jan.v1 import search_service_pb2
    from services.common.grpc_errors import _wrap_stream, _wrap_unary
    from services.common.metrics import ServiceMetrics

    rpc = ServiceMetrics().rpc if metrics_on else None
    unary_metrics = rpc.method("jan.v1.SearchService", "Search", streaming=False) if rpc else None
    stream_metrics = rpc.method("jan.v1.InferenceService", "Generate", streaming=True) if rpc else None
    request, reply, context = search_service_pb2.SearchRequest(q="x"), search_service_pb2.SearchResponse(), _Context()

    async def behavior(_request: object, _context: object) -> object:
        return reply

    async def stream_behavior(_request: object, _context: object):
        for _ in range(STREAM_MESSAGES):
            yield reply

    unary = _wrap_unary(behavior, "/jan.v1.SearchService/Search", unary_metrics)
    stream = _wrap_stream(stream_behavior, "/jan.v1.InferenceService/Generate", stream_metrics)

    async def unary_call() -> object:
        return await unary(request, context)

    async def stream_call() -> object:
        return [m async for m in stream(request, context)]

    return {"wrapper: unary call": unary_call, f"wrapper: stream of {STREAM_MESSAGES}": stream_call}


def recorder_cases() -> dict[str, Callable[[], Awaitable[object]]]:
    """The service-specific recording a request meets (only 'on' exists; 'off' is not calling it)."""
    from jan.v1 import inference_service_pb2 as pb
    from jan.v1 import types_pb2
    from services.auth.metrics import AuthzMetrics
    from services.chat.inference_client import _StreamCount
    from services.chat.metrics import GenerationMetrics
    from services.common.metrics import ServiceMetrics

    metrics = ServiceMetrics()
    authz, generation = AuthzMetrics(metrics), GenerationMetrics(metrics)
    step = pb.GenerateResponse(content="x", completion_tokens=1)
    whole = pb.GenerateResponse(usage=types_pb2.Usage(completion_tokens=16), decode_seconds=0.1)

    async def decision() -> None:
        authz.allowed(False, time.perf_counter())

    async def streamed() -> None:
        counted = _StreamCount(timed=True)
        for _ in range(STREAM_MESSAGES):
            counted.add(step)
        counted.report(generation)

    async def untimed_stream() -> None:  # the same stream counted for usage only (metrics off)
        counted = _StreamCount(timed=False)
        for _ in range(STREAM_MESSAGES):
            counted.add(step)

    async def whole_answer() -> None:
        generation.whole(0.2, whole)

    return {
        "auth: ext_authz decision": decision,
        f"chat: streamed generation ({STREAM_MESSAGES} messages), timed": streamed,
        f"chat: streamed generation ({STREAM_MESSAGES} messages), untimed": untimed_stream,
        "chat: whole generation": whole_answer,
    }


async def grpc_latencies(metrics_on: bool, calls: int) -> list[float]:
    import grpc

    from jan.v1 import search_service_pb2, search_service_pb2_grpc
    from services.common.metrics import ServiceMetrics
    from services.common.server import JanServer
    from services.common.settings import ServerSettings

    class Search(search_service_pb2_grpc.SearchServiceServicer):
        async def Search(self, request, context):
            return search_service_pb2.SearchResponse()

    server = JanServer(
        ServerSettings(listen_address="127.0.0.1:0", shutdown_grace_seconds=0),
        metrics=ServiceMetrics() if metrics_on else None,
    )
    server.add_service(search_service_pb2_grpc.add_SearchServiceServicer_to_server, Search(), "jan.v1.SearchService")
    port = await server.start()
    latencies = []
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = search_service_pb2_grpc.SearchServiceStub(channel)
            request = search_service_pb2.SearchRequest(q="x")
            for _ in range(200):
                await stub.Search(request)
            for _ in range(calls):
                started = time.perf_counter()
                await stub.Search(request)
                latencies.append(time.perf_counter() - started)
    finally:
        await server.stop()
    return latencies


async def run(args: argparse.Namespace) -> None:
    per_call: dict[tuple[str, str], list[float]] = {}
    for round_number in range(args.rounds):
        for metrics_on in (round_number % 2 == 0, round_number % 2 == 1):  # which goes first alternates
            state = "on" if metrics_on else "off"
            for name, call in wrapper_cases(metrics_on).items():
                await _time_calls(call, 1000)  # warm
                per_call.setdefault((name, state), []).append(await _time_calls(call, args.calls))
        for name, call in recorder_cases().items():
            await _time_calls(call, 1000)
            per_call.setdefault((name, "on"), []).append(await _time_calls(call, args.calls))
    rows = []
    for name in dict.fromkeys(n for n, _ in per_call):
        off = per_call.get((name, "off"))
        on = statistics.median(per_call[name, "on"]) * 1e6
        if off is not None:
            base = statistics.median(off) * 1e6
            rows.append([name, base, on, on - base])
        else:
            rows.append([name, "", on, on])
    print(f"\nper call, µs (median of {args.rounds} rounds of {args.calls:,} calls)")
    print(table(["what", "metrics off", "metrics on", "added"], rows))

    grpc_rows = []
    samples: dict[str, list[float]] = {"off": [], "on": []}
    p50s: dict[str, list[float]] = {"off": [], "on": []}
    for round_number in range(args.rounds):
        for metrics_on in (round_number % 2 == 0, round_number % 2 == 1):
            latencies = await grpc_latencies(metrics_on, args.grpc_calls)
            state = "on" if metrics_on else "off"
            samples[state] += latencies
            p50s[state].append(statistics.median(latencies))
    for state in ("off", "on"):
        grpc_rows.append(
            [f"metrics {state}", statistics.median(p50s[state]) * 1e6, statistics.mean(samples[state]) * 1e6]
        )
    added = (statistics.median(p50s["on"]) - statistics.median(p50s["off"])) * 1e6
    grpc_rows.append(["added", added, (statistics.mean(samples["on"]) - statistics.mean(samples["off"])) * 1e6])
    what = f"{args.rounds} rounds of {args.grpc_calls:,} calls; p50: median of the rounds'"
    print(f"\nunary gRPC call over loopback, µs ({what})")
    print(table(["", "p50", "mean"], grpc_rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="direct calls per case per round")
    parser.add_argument("--grpc-calls", type=int, default=2_000, help="gRPC calls per state per round")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args(argv)
    print(f"before: {machine_load()}", flush=True)
    uvloop.run(run(args))
    print(f"\nafter: {machine_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
