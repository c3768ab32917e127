"""This checkout against another checkout of the project (e.g. main before a change), in one run: does the
change make the gateway path slower?

    .venv/bin/python -m bench.compare_trees --baseline /path/to/other/checkout [--requests 600] [--seconds 15]

    (make the other checkout with `git worktree add /tmp/baseline <commit>`, then `make bootstrap` in it)

Each tree starts its own whole stack from its own code (its devstack, in a process of its own, on free
ports; the inference service on the INSTANT test engine: canned tokens at once), and this process calls both,
interleaved call by call so the machine's drift hits both alike:
  unary       POST /v1/chat/completions through Envoy, and CreateChatCompletion on chat's gRPC port
  first byte  the same with "stream": true through Envoy (first body chunk), and the first SSE event of
              StreamChatCompletionEvents on chat's gRPC port
  throughput  32 closed-loop clients of unary REST calls for --seconds, the trees taking turns, --rounds each
p50/p90 per tree and the difference (this checkout minus the baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import ROOT, ms, percentile, table

STACK_SCRIPT = """
import json, secrets, sys, tempfile
from pathlib import Path
from devstack.stack import Stack, StackConfig
run = Path(tempfile.mkdtemp(prefix="jan-compare-"))
env = {"JAN_ENGINE": "instant", "JAN_INSTANT_TOKENS": "16", "JAN_SERVED_MODEL_NAME": "instant",
       "JAN_JWT_SECRET": secrets.token_urlsafe(48), "JAN_APIKEY_SECRET": secrets.token_urlsafe(48),
       "JAN_SHUTDOWN_GRACE_SECONDS": "2", "JAN_GUEST_REQUESTS_PER_MINUTE": "0",
       "JAN_GUEST_ACCOUNTS_PER_IP_PER_HOUR": "0", "JAN_SIGN_INS_PER_IP_PER_MINUTE": "0"}
stack = Stack(StackConfig.on_free_ports(run_dir=run, data_dir=run / "pg", durable_postgres=False, env=env))
stack.start(timeout=300)
print(json.dumps({"http": stack.http_url, "chat": stack.service_target("chat"), "logs": str(run)}), flush=True)
sys.stdin.read()
stack.stop()
"""
BODY = {
    "model": "instant",
    "messages": [{"role": "user", "content": "Say hello in one short sentence."}],
    "max_tokens": 16,
}


def start_stack(tree: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{tree / 'gen' / 'python'}"}
    process = subprocess.Popen(
        [str(tree / ".venv" / "bin" / "python"), "-c", STACK_SCRIPT],
        cwd=tree,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"the stack of {tree} did not start")
    return process, json.loads(line)


def guest_token(http: str) -> str:
    request = urllib.request.Request(
        http + "/v1/auth/guest-login", data=b"{}", method="POST", headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["access_token"]


async def measure(stacks: dict[str, dict[str, str]], args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp
    import grpc
    from google.protobuf import json_format

    from jan.v1 import chat_service_pb2 as pb
    from jan.v1 import chat_service_pb2_grpc

    tokens = {name: guest_token(info["http"]) for name, info in stacks.items()}
    params = json_format.ParseDict(BODY, pb.ChatCompletionParams())
    stream_body = {**BODY, "stream": True}
    samples: dict[tuple[str, str], list[float]] = {}
    channels = {name: grpc.aio.insecure_channel(info["chat"]) for name, info in stacks.items()}
    async with aiohttp.ClientSession() as session:

        async def rest(name: str, body: dict[str, Any], first_byte: bool) -> float:
            headers = {"authorization": f"Bearer {tokens[name]}"}
            t0 = time.perf_counter()
            async with session.post(stacks[name]["http"] + "/v1/chat/completions", json=body, headers=headers) as r:
                if first_byte:
                    await r.content.readany()
                    elapsed = time.perf_counter() - t0
                    while await r.content.readany():
                        pass
                    return elapsed
                await r.read()
                assert r.status == 200
                return time.perf_counter() - t0

        async def grpc_unary(name: str) -> float:
            t0 = time.perf_counter()
            await chat_service_pb2_grpc.ChatServiceStub(channels[name]).CreateChatCompletion(
                pb.CreateChatCompletionRequest(params=params)
            )
            return time.perf_counter() - t0

        async def grpc_first_event(name: str) -> float:
            t0, first = time.perf_counter(), 0.0
            stub = chat_service_pb2_grpc.ChatServiceStub(channels[name])
            async for _ in stub.StreamChatCompletionEvents(pb.StreamChatCompletionEventsRequest(params=params)):
                first = first or time.perf_counter() - t0
            return first

        kinds = {
            "unary REST": lambda n: rest(n, BODY, False),
            "unary gRPC (chat)": grpc_unary,
            "first byte REST": lambda n: rest(n, stream_body, True),
            "first event gRPC (chat)": grpc_first_event,
        }
        for i in range(args.requests + 50):
            for kind, call in kinds.items():
                for name in stacks:
                    elapsed = await call(name)
                    if i >= 50:  # warm-up
                        samples.setdefault((kind, name), []).append(elapsed)
        throughput: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for name in stacks:
                done = [0]

                async def client(name: str, deadline: float, done: list[int]) -> None:
                    while time.monotonic() < deadline:
                        await rest(name, BODY, False)
                        done[0] += 1

                deadline = time.monotonic() + args.seconds
                await asyncio.gather(*(client(name, deadline, done) for _ in range(32)))
                throughput.setdefault(name, []).append(done[0] / args.seconds)
    for channel in channels.values():
        await channel.close()
    return {"samples": samples, "throughput": throughput}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout, bootstrapped")
    parser.add_argument("--requests", type=int, default=500, help="calls per kind per tree (after 50 warm-up)")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each throughput round")
    parser.add_argument("--rounds", type=int, default=2, help="throughput rounds per tree")
    args = parser.parse_args(argv)
    import uvloop

    trees = {"baseline": args.baseline.resolve(), "this": ROOT}
    started = {name: start_stack(tree) for name, tree in trees.items()}
    try:
        result = uvloop.run(measure({name: info for name, (_, info) in started.items()}, args))
    finally:
        for process, _ in started.values():
            assert process.stdin is not None
            process.stdin.close()
            process.wait(120)
    rows = []
    for kind in dict.fromkeys(k for k, _ in result["samples"]):
        base, this = result["samples"][(kind, "baseline")], result["samples"][(kind, "this")]
        rows.append(
            [
                kind,
                ms(percentile(base, 50)),
                ms(percentile(this, 50)),
                ms(percentile(this, 50) - percentile(base, 50)),
                ms(percentile(base, 90)),
                ms(percentile(this, 90)),
            ]
        )
    print(f"baseline: {trees['baseline']}\nthis:     {trees['this']}\n")
    print(table(["ms", "baseline p50", "this p50", "difference", "baseline p90", "this p90"], rows))
    tp = result["throughput"]
    rounds = {name: ", ".join(f"{x:.0f}" for x in values) for name, values in tp.items()}
    print(f"\nthroughput, 32 clients, unary REST (requests/s by round): baseline {rounds['baseline']};", end=" ")
    print(f"this {rounds['this']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
