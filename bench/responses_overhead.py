"""What the Responses API adds over chat completions for the same request, in one run, through Envoy's REST
surface.

    .venv/bin/python -m bench.responses_overhead [--requests 400] [--duration 8] [--concurrency 8] [--rounds 2]

The whole stack (devstack.Stack, embedded PostgreSQL with fsync on, as in production) runs with the inference
service on its INSTANT test engine (canned tokens at once), so what is left is what each API's path costs.
The same question and token budget go to both: chat completions {messages: [user], max_tokens} and
Responses {input, max_output_tokens}; chat completions store nothing by default, so Responses is measured
with store false for the like-for-like comparison and with store true (the default) for the cost of storing.
A guest token authenticates every call; the load generator is this process (httpx, keep-alive, uvloop).

  1. unary latency at concurrency 1, interleaved call by call: chat, responses (store false), responses
     (store true); p50. Added = responses - chat; storing = store true - store false (goal <= 1 ms p50).
  2. first event at concurrency 1, interleaved: the first SSE chunk of a streamed chat completion and of a
     streamed response (response.created); p50. Added (goal <= 2 ms).
  3. throughput: --concurrency closed-loop clients for --duration seconds, chat and responses (store false)
     alternating for --rounds rounds; requests/s and the ratio (goal >= 95 %). Then responses with store true.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.common import machine_load, ms, percentile, stack_env, table

MODEL = "instant"
QUESTION = "What is the capital of France?"
TOKENS = 16


def bodies() -> dict[str, tuple[str, dict]]:
    chat = {"model": MODEL, "messages": [{"role": "user", "content": QUESTION}], "max_tokens": TOKENS}
    responses = {"model": MODEL, "input": QUESTION, "max_output_tokens": TOKENS}
    return {
        "chat": ("/v1/chat/completions", chat),
        "responses": ("/v1/responses", {**responses, "store": False}),
        "responses+store": ("/v1/responses", responses),
    }


async def measure(stack, requests: int, duration: float, concurrency: int, rounds: int) -> dict[str, object]:
    import httpx

    from tests.conftest import guest_login

    token = guest_login(stack)
    limits = httpx.Limits(max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2)
    routes = bodies()
    out: dict[str, object] = {}
    async with httpx.AsyncClient(
        base_url=stack.http_url, headers={"authorization": f"Bearer {token}"}, timeout=30, limits=limits
    ) as http:

        async def unary(kind: str) -> None:
            path, body = routes[kind]
            response = await http.post(path, json=body)
            response.raise_for_status()

        async def first_event(kind: str) -> float:
            path, body = routes[kind]
            t0 = time.perf_counter()
            elapsed = 0.0
            async with http.stream("POST", path, json={**body, "stream": True}) as response:
                response.raise_for_status()
                async for chunk in response.aiter_raw():  # read to the end: the connection is reused
                    if chunk and not elapsed:
                        elapsed = time.perf_counter() - t0
            return elapsed

        samples: dict[str, list[float]] = {k: [] for k in routes}
        for i in range(requests + 30):
            for kind in routes:
                t0 = time.perf_counter()
                await unary(kind)
                if i >= 30:
                    samples[kind].append(time.perf_counter() - t0)
        out["unary"] = {k: ms(percentile(v, 50)) for k, v in samples.items()}

        first: dict[str, list[float]] = {"chat": [], "responses": []}
        for i in range(requests + 30):
            for kind in first:
                elapsed = await first_event(kind)
                if i >= 30:
                    first[kind].append(elapsed)
        out["first"] = {k: ms(percentile(v, 50)) for k, v in first.items()}

        async def throughput(kind: str) -> float:
            stop = time.perf_counter() + duration
            done = 0

            async def client() -> None:
                nonlocal done
                while time.perf_counter() < stop:
                    await unary(kind)
                    done += 1

            t0 = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(concurrency)))
            return done / (time.perf_counter() - t0)

        await throughput("chat")  # warm-up
        rates: dict[str, list[float]] = {"chat": [], "responses": [], "responses+store": []}
        for _ in range(rounds):
            for kind in rates:
                rates[kind].append(await throughput(kind))
        out["rates"] = rates
    return out


def _run(call: Callable[[], Awaitable[dict[str, object]]]) -> dict[str, object]:
    import uvloop

    return uvloop.run(call())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)

    from devstack.stack import Stack, StackConfig

    run_dir = Path(tempfile.mkdtemp(prefix="jan-bench-responses-"))
    env = stack_env(JAN_SERVED_MODEL_NAME=MODEL, JAN_INSTANT_TOKENS=str(TOKENS))
    stack = Stack(StackConfig.on_free_ports(run_dir=run_dir, data_dir=run_dir / "pg", env=env))
    print(
        f"logs in {run_dir}; the inference service runs the INSTANT TEST ENGINE\nbefore: {machine_load()}", flush=True
    )
    try:
        stack.start(timeout=300)
        result = _run(lambda: measure(stack, args.requests, args.duration, args.concurrency, args.rounds))
    finally:
        stack.stop()
    unary: dict[str, float] = result["unary"]  # type: ignore[assignment]
    first: dict[str, float] = result["first"]  # type: ignore[assignment]
    rates: dict[str, list[float]] = result["rates"]  # type: ignore[assignment]
    print(table(["unary p50 ms (c=1)", "value"], [[k, v] for k, v in unary.items()]))
    added = unary["responses"] - unary["chat"]
    storing = unary["responses+store"] - unary["responses"]
    print(f"responses over chat completions: {added:+.2f} ms; storing a response: {storing:+.2f} ms: "
          f"{'MET' if storing <= 1.0 else 'MISSED'} (goal <= 1 ms)")  # fmt: skip
    print(table(["first event p50 ms (c=1)", "value"], [[k, v] for k, v in first.items()]))
    first_added = first["responses"] - first["chat"]
    print(f"first event added: {first_added:+.2f} ms: {'MET' if first_added <= 2.0 else 'MISSED'} (goal <= 2 ms)")
    rows = [[k, *(round(r, 1) for r in v), round(statistics.median(v), 1)] for k, v in rates.items()]
    print(table(["req/s", *(f"round {i + 1}" for i in range(args.rounds)), "median"], rows))
    ratio = statistics.median(rates["responses"]) / statistics.median(rates["chat"])
    print(
        f"responses / chat completions throughput: {ratio:.1%}: {'MET' if ratio >= 0.95 else 'MISSED'} (goal >= 95 %)"
    )
    print(f"\nafter: {machine_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
