"""CPU the chat service spends per chat completion, on one realistic request: 7 messages (system, user, an
assistant turn calling two tools, the two tool results, the assistant's answer, a new user question) and
two tools with JSON Schema parameters.

    make bench-chat-cpu            # or: PYTHONPATH=.:gen/python .venv/bin/python -m bench.chat_cpu [--requests 2000]

The whole stack runs from devstack.Stack with the inference service on its INSTANT test engine
(JAN_ENGINE=instant: canned tokens at once, never a default), so the chat process's CPU time is what chat
itself does: receive, validate and convert the request, call inference, render the answer. Measured from
/proc (user + system time of the chat process) over --requests calls at --concurrency, in --rounds rounds
per path; the median round is reported (--metrics both: two stacks, the services' Prometheus metrics off in
one and on in the other, taking turns each round, and the difference):
  grpc-unary   jan.v1.ChatService/CreateChatCompletion on chat's own port (native gRPC, no Envoy)
  grpc-stream  jan.v1.ChatService/StreamChatCompletion, the same request streamed (typed chunks)
  rest-unary   POST /v1/chat/completions through Envoy with a guest's token (what the SDKs do)
  rest-stream  the same with "stream": true (server-sent events)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bench.common import CpuMeter, machine_load, stack_env, table

if TYPE_CHECKING:
    from devstack.stack import Stack

MODEL = "instant"
TOKENS = 16

WEATHER_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_forecast",
            "description": "Weather forecast for the next days",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "days": {"type": "integer", "minimum": 1, "maximum": 7},
                },
                "required": ["city", "days"],
            },
        },
    },
]

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant. Answer briefly."},
    {"role": "user", "content": "What is the weather in Paris and in Berlin?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Berlin"}'}},
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature": 18, "sky": "clear"}'},
    {"role": "tool", "tool_call_id": "call_2", "content": '{"temperature": 15, "sky": "cloudy"}'},
    {"role": "assistant", "content": "Paris: 18 °C and clear. Berlin: 15 °C and cloudy."},
    {"role": "user", "content": "And what about the next three days in Paris?"},
]


def request_body(*, stream: bool) -> dict:
    body: dict = {"model": MODEL, "messages": MESSAGES, "tools": WEATHER_TOOLS, "max_tokens": TOKENS}
    if stream:
        body["stream"] = True
    return body


Call = Callable[[], Awaitable[bool]]


def grpc_calls(channel) -> dict[str, Call]:
    from google.protobuf import json_format

    from jan.v1 import chat_service_pb2 as pb
    from jan.v1 import chat_service_pb2_grpc

    stub = chat_service_pb2_grpc.ChatServiceStub(channel)
    params = json_format.ParseDict(request_body(stream=False), pb.ChatCompletionParams())

    async def unary() -> bool:
        response = await stub.CreateChatCompletion(pb.CreateChatCompletionRequest(params=params))
        return bool(response.choices)

    async def stream() -> bool:
        chunks = 0
        async for _ in stub.StreamChatCompletion(pb.StreamChatCompletionRequest(params=params)):
            chunks += 1
        return chunks > TOKENS

    return {"grpc-unary": unary, "grpc-stream": stream}


def rest_calls(session, base: str, token: str) -> dict[str, Call]:
    url = f"{base}/v1/chat/completions"
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    unary_body, stream_body = json.dumps(request_body(stream=False)), json.dumps(request_body(stream=True))

    async def unary() -> bool:
        async with session.post(url, data=unary_body, headers=headers) as r:
            return r.status == 200 and b'"choices"' in await r.read()

    async def stream() -> bool:
        async with session.post(url, data=stream_body, headers=headers) as r:
            return r.status == 200 and b"[DONE]" in await r.read()

    return {"rest-unary": unary, "rest-stream": stream}


async def run_calls(call: Call, requests: int, concurrency: int) -> int:
    """Sends `requests` calls from `concurrency` closed-loop clients; returns how many failed."""
    remaining, failed = requests, 0

    async def client() -> None:
        nonlocal remaining, failed
        while remaining > 0:
            remaining -= 1
            try:
                ok = await call()
            except Exception:
                ok = False
            failed += not ok

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return failed


def guest_token(base: str) -> str:
    request = urllib.request.Request(
        f"{base}/v1/auth/guest-login", data=b"{}", method="POST", headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["access_token"]


async def measure(stacks: dict[str, Stack], args: argparse.Namespace) -> dict[tuple[str, str], list[float]]:
    """Chat CPU per request (ms) for each (stack, path), the stacks taking turns within each round."""
    import contextlib

    import aiohttp
    import grpc

    per_request: dict[tuple[str, str], list[float]] = {}
    async with contextlib.AsyncExitStack() as exits:
        setups = {}
        for label, stack in stacks.items():
            meter = CpuMeter({"chat": stack.processes["chat"].pid}, alone=frozenset({"chat"}))
            token = guest_token(stack.http_url)
            channel = await exits.enter_async_context(
                grpc.aio.insecure_channel(f"127.0.0.1:{stack.config.service_ports['chat']}")
            )
            session = await exits.enter_async_context(
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency))
            )
            calls = {**grpc_calls(channel), **rest_calls(session, stack.http_url, token)}
            for name, call in calls.items():
                if await run_calls(call, 50, args.concurrency):  # warm-up; also proves the path works
                    raise RuntimeError(f"{label} {name}: warm-up calls failed (see the stack's logs)")
            setups[label] = (meter, calls)
        labels = list(setups)
        for round_number in range(args.rounds):
            turn = labels[round_number % len(labels) :] + labels[: round_number % len(labels)]
            for label in turn:
                meter, calls = setups[label]
                for name, call in calls.items():
                    meter.start()
                    t0 = time.perf_counter()
                    failed = await run_calls(call, args.requests, args.concurrency)
                    seconds = time.perf_counter() - t0
                    cpu = meter.stop()["chat"]
                    if failed:
                        raise RuntimeError(f"{label} {name}: {failed} of {args.requests} calls failed")
                    per_request.setdefault((label, name), []).append(cpu / args.requests * 1000)
                    print(
                        f"  {label:11s} {name:12s} chat CPU {cpu / args.requests * 1000:.3f} ms/request "
                        f"({args.requests / seconds:,.0f} requests/s)",
                        flush=True,
                    )
    return per_request


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="calls per path per round")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--metrics",
        choices=("on", "off", "both"),
        default="on",
        help="the services' Prometheus metrics; both: two stacks, one each way, taking turns (what metrics add)",
    )
    args = parser.parse_args(argv)

    import uvloop

    from devstack.stack import Stack, StackConfig

    run_dir = Path(tempfile.mkdtemp(prefix="jan-bench-chat-cpu-"))
    env = stack_env(JAN_INSTANT_TOKENS=str(TOKENS), JAN_SERVED_MODEL_NAME=MODEL)
    states = {"on": ["metrics on"], "off": ["metrics off"], "both": ["metrics off", "metrics on"]}[args.metrics]
    stacks = {
        label: Stack(
            StackConfig.on_free_ports(
                run_dir=run_dir / label.replace(" ", "-"),
                data_dir=run_dir / label.replace(" ", "-") / "pgdata",
                durable_postgres=False,
                env=env,
                metrics=label == "metrics on",
            )
        )
        for label in states
    }
    print(f"logs in {run_dir}; the inference service runs the INSTANT TEST ENGINE, not a model")
    print(f"before: {machine_load()}", flush=True)
    try:
        for stack in stacks.values():
            stack.start(timeout=300)
        results = uvloop.run(measure(stacks, args))
    finally:
        for stack in stacks.values():
            stack.stop()
    paths = list(dict.fromkeys(name for _, name in results))
    print(f"\nchat CPU per request, 7 messages + 2 tools, {TOKENS} tokens, median of {args.rounds} rounds (ms)")
    if args.metrics == "both":
        rows = []
        for name in paths:
            off, on = (statistics.median(results[label, name]) for label in ("metrics off", "metrics on"))
            rows.append([name, off, on, on - off])
        print(table(["path", "metrics off", "metrics on", "added"], rows))
    else:
        rows = [[name, statistics.median(v), min(v), max(v)] for (_, name), v in results.items()]
        print(table(["path", "median", "min", "max"], rows))
    print(f"\nafter: {machine_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
