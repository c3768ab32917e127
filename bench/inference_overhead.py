"""What the inference service's gRPC layer costs: tokens per second and time to first token through
jan.v1.InferenceService/Generate, against the raw engine and our engine called in-process, in one run.

    .venv/bin/python -m bench.inference_overhead [--model tiny|smollm2] [--concurrency 1,8] [--rounds 3]
        [--requests 32] [--max-tokens 64] [--warmup 8] [--no-bare] [--service-session same|own|both]

Three ways to stream the same generations:
  bare     vLLM's AsyncLLM.generate on prompts rendered once up front (no chat template, no parsers, no
           proto): the engine's own floor. In a child process, sharing its engine with `engine`.
  engine   our InferenceEngine.generate in-process (chat template, vLLM's streaming parsers, deltas): what
           the service runs per request.
  service  `python -m services.inference` as its own process on a free port, with the same settings from
           the same environment, called over gRPC with the generated stubs by this process (server
           streaming, one GenerateResponse per delta, the way the chat service calls it).
           --service-session own/both adds `service-own-session`: the service in a session of its own. On
           Linux with kernel.sched_autogroup_enabled=1 each session is a scheduling group; vLLM's CPU engine
           core spins (sched_yield) while its worker computes, and with the service in another autogroup
           than its client, the client was measured waiting seconds on the run queue (see the README).
Every engine is loaded first, one after the other (an idle engine takes ~1 % of a core), then the systems
take turns: per round, each level runs on every system in an order that rotates from round to round, so a
slow minute of this shared machine hits every system rather than one. Reported per level and system: the
median over rounds of aggregate tokens/s (all tokens / wall time of the level) and of the time to first
token (request sent until the first delta, or the first RequestOutput with a token for `bare`) p50 and p99
(nearest rank within a round); then the ratios and differences of those medians, and the same pair round
by round. Every request is a fixed prompt (8 prompts in turn), temperature 0, ignore_eos and max_tokens, so
every system produces exactly the same number of tokens (checked from the usage counts). Per level c, c
closed-loop clients each run max(--requests, --per-client x c)/c requests back to back. Goal (the issue),
judged against the raw AsyncLLM (`bare`; `engine` with --no-bare): >= 95 % of its throughput and <= 5 ms
added to the first token. Each system is warmed up at the highest level first.

Models: `tiny` (default) is the tests' random-weight Qwen3 (~10M parameters, Qwen3 tokenizer, hermes and
qwen3 parsers on), which makes the engine fast so per-token overheads show; `smollm2` is the SmolLM2-135M
folder `make up` serves (parsers off). Engine settings are the ones `make up`/the tests use (float32,
eager mode, small KV cache), with max_num_seqs 16 so 8 streams run in one batch. No CPU pinning: vLLM binds
its worker's OpenMP threads itself. Logs go to a temporary folder printed at the start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.common import machine_load, ms, percentile, python_env, spawn, table, wait_serving
from devstack.stack import stop_process_group
from jan.v1 import inference_service_pb2 as pb
from jan.v1 import types_pb2

# "service": the service process in this process's session (and so the same scheduler autogroup as its gRPC
# client, as the raw engine shares one with its in-process consumer); "service-own-session": in a session of
# its own, as devstack.Stack starts every service.
SERVICE_VARIANTS = ("service", "service-own-session")

PROMPTS = [
    "Write a short story about a lighthouse keeper who finds a message in a bottle.",
    "Explain how a bicycle stays upright while moving.",
    "List ten ideas for a rainy Sunday afternoon.",
    "Describe the water cycle to a ten year old.",
    "What are the main differences between a lake and a sea?",
    "Give me a recipe for a simple tomato soup.",
    "Summarize the plot of a heist movie you would like to see.",
    "Why do cats purr? Give a few possible reasons.",
]


def cache_dir() -> Path:
    return Path(os.environ.get("JAN_CACHE_DIR") or Path.home() / ".cache" / "jan-server").expanduser()


def engine_env(model: str) -> dict[str, str]:
    """The inference service's settings for both the in-process engine and the service process."""
    common = {"JAN_DTYPE": "float32", "JAN_ENFORCE_EAGER": "true", "JAN_MAX_NUM_SEQS": "16"}
    if model == "tiny":
        from devstack.models.tiny_model import ensure_tiny_model

        # As tests/conftest.py's tiny_engine_env, minus its test-only grammar knobs.
        return {
            **common,
            "JAN_MODEL": str(ensure_tiny_model(cache_dir())),
            "JAN_SERVED_MODEL_NAME": "qwen3-tiny",
            "JAN_MAX_MODEL_LEN": "1024",
            "JAN_KV_CACHE_BYTES": str(32 * 2**20),
        }
    from devstack.models.smollm2 import ensure_smollm2

    # As devstack's `make up` defaults.
    return {
        **common,
        "JAN_MODEL": str(ensure_smollm2(cache_dir() / "models")),
        "JAN_SERVED_MODEL_NAME": "smollm2-135m-instruct",
        "JAN_MAX_MODEL_LEN": "8192",
        "JAN_KV_CACHE_BYTES": str(512 * 2**20),
        "JAN_TOOL_CALL_PARSER": "none",
        "JAN_REASONING_PARSER": "none",
    }


def generate_request(model: str, i: int, max_tokens: int, request_id: str) -> pb.GenerateRequest:
    """The i-th benchmark request (a jan.v1.GenerateRequest), the same for the in-process engine and the
    service: prompt i of PROMPTS in turn, greedy, exactly max_tokens tokens."""
    request = pb.GenerateRequest(
        model=model,
        request_id=request_id,
        messages=[types_pb2.ChatMessage(role="user")],
        sampling=pb.SamplingParams(temperature=0.0, max_tokens=max_tokens, ignore_eos=True),
    )
    request.messages[0].content.string_value = PROMPTS[i % len(PROMPTS)]
    return request


@dataclass
class Sample:
    ttft: float
    tokens: int
    seconds: float


@dataclass
class LevelResult:
    concurrency: int
    requests: int
    tokens: int
    wall_seconds: float
    tokens_per_second: float
    ttft_p50_ms: float
    ttft_p99_ms: float
    ttft_mean_ms: float
    tokens_per_request: list[int]


OneRequest = Callable[[int], Awaitable[Sample]]


async def run_level(one: OneRequest, concurrency: int, requests: int) -> LevelResult:
    per_client = max(1, requests // concurrency)
    samples: list[Sample] = []

    async def client(k: int) -> None:
        for j in range(per_client):
            samples.append(await one(k * per_client + j))

    started = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(concurrency)))
    wall = time.perf_counter() - started
    tokens = sum(s.tokens for s in samples)
    ttfts = [s.ttft for s in samples]
    return LevelResult(
        concurrency=concurrency,
        requests=len(samples),
        tokens=tokens,
        wall_seconds=round(wall, 3),
        tokens_per_second=round(tokens / wall, 2),
        ttft_p50_ms=round(ms(percentile(ttfts, 50)), 3),
        ttft_p99_ms=round(ms(percentile(ttfts, 99)), 3),
        ttft_mean_ms=round(ms(sum(ttfts) / len(ttfts)), 3),
        tokens_per_request=sorted({s.tokens for s in samples}),
    )


# ---- bare and engine: one child process owns the in-process engine, so vLLM and its engine-core processes go ----
# ---- away with it; it runs one level at a time when told to (a JSON line on stdin, the result on a pipe) -------


async def raw_server(args: argparse.Namespace) -> None:
    from services.inference.engine import InferenceEngine
    from services.inference.settings import InferenceSettings

    results = os.fdopen(args.result_fd, "w", buffering=1)
    settings = InferenceSettings()
    engine = InferenceEngine(settings.engine_config())
    started = time.monotonic()
    await engine.start()

    def request(i: int, prefix: str) -> pb.GenerateRequest:
        return generate_request(settings.served_model_name, i, args.max_tokens, f"{prefix}-{uuid.uuid4().hex}")

    async def engine_one(i: int) -> Sample:
        message = request(i, "engine")
        t0 = time.perf_counter()
        ttft, tokens = 0.0, 0
        async for delta in engine.generate(message):
            if not ttft:
                ttft = time.perf_counter() - t0
            if delta.HasField("usage"):
                tokens = delta.usage.completion_tokens
        return Sample(ttft, tokens, time.perf_counter() - t0)

    llm = engine._llm  # the bare engine under our wrapper
    assert llm is not None
    prepared = [await engine._prepare(request(i, "prep"), stream=True) for i in range(len(PROMPTS))]

    async def bare_one(i: int) -> Sample:
        p = prepared[i % len(prepared)]
        t0 = time.perf_counter()
        ttft, tokens = 0.0, 0
        async for res in llm.generate(
            copy.copy(p.engine_input),
            p.sampling.clone(),
            f"bare-{uuid.uuid4().hex}",
            reasoning_ended=p.reasoning_ended,
            reasoning_parser_kwargs=p.reasoning_kwargs,
        ):
            new = len(res.outputs[0].token_ids)
            if new and not ttft:
                ttft = time.perf_counter() - t0
            tokens += new
        return Sample(ttft, tokens, time.perf_counter() - t0)

    systems = {"bare": bare_one, "engine": engine_one}
    results.write(json.dumps({"load_seconds": round(time.monotonic() - started, 1)}) + "\n")
    try:
        while line := await asyncio.to_thread(sys.stdin.readline):
            command = json.loads(line)
            result = await run_level(systems[command["system"]], command["c"], command["requests"])
            results.write(json.dumps(asdict(result)) + "\n")
    finally:
        await engine.shutdown()


class RawEngines:
    """The parent's side of raw_server: `bare` and `engine` levels, run in the child on request."""

    def __init__(self, args: argparse.Namespace, env: dict[str, str], logs: Path) -> None:
        reader, writer = os.pipe()
        cmd = [sys.executable, "-m", "bench.inference_overhead", "--phase", "raw", "--result-fd", str(writer)]
        cmd += ["--max-tokens", str(args.max_tokens)]
        self.log = logs / "raw.log"
        self.process = spawn(
            cmd, python_env(env), self.log, new_session=False, stdin=subprocess.PIPE, pass_fds=(writer,)
        )
        os.close(writer)
        self._results = os.fdopen(reader)
        self._timeout = args.timeout

    async def ready(self) -> float:
        line = await asyncio.wait_for(asyncio.to_thread(self._results.readline), self._timeout)
        if not line:
            raise RuntimeError(f"the in-process engine did not start; see {self.log}")
        return json.loads(line)["load_seconds"]

    def system(self, name: str) -> Callable[[int, int], Awaitable[LevelResult]]:
        async def run(c: int, requests: int) -> LevelResult:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps({"system": name, "c": c, "requests": requests}).encode() + b"\n")
            self.process.stdin.flush()
            line = await asyncio.to_thread(self._results.readline)
            if not line:
                raise RuntimeError(f"the in-process engine failed; see {self.log}")
            return LevelResult(**json.loads(line))

        return run

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()  # EOF: the child shuts its engine down and exits
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(30)
        stop_process_group(self.process)
        self._results.close()


# ---- service: `python -m services.inference` as its own process, called over gRPC ----------------------------


class InferenceServiceProcess:
    def __init__(self, args: argparse.Namespace, env: dict[str, str], logs: Path, name: str) -> None:
        from devstack.ports import free_port

        self.name, self.args, self.env = name, args, env
        self.target = f"127.0.0.1:{free_port()}"
        self.log = logs / f"{name}.log"
        service_env = {**env, "JAN_INFERENCE_LISTEN": self.target, "JAN_SHUTDOWN_GRACE_SECONDS": "2"}
        new_session = name == SERVICE_VARIANTS[1]
        self.process = spawn(
            [sys.executable, "-m", "services.inference"], python_env(service_env), self.log, new_session=new_session
        )
        self._channel = None

    async def ready(self) -> float:
        import grpc

        seconds = await asyncio.to_thread(
            wait_serving, self.target, self.process, self.log, self.args.timeout, "jan.v1.InferenceService"
        )
        self._channel = grpc.aio.insecure_channel(self.target)
        return seconds

    def system(self) -> Callable[[int, int], Awaitable[LevelResult]]:
        from jan.v1 import inference_service_pb2_grpc

        stub = inference_service_pb2_grpc.InferenceServiceStub(self._channel)
        model = self.env["JAN_SERVED_MODEL_NAME"]

        async def service_one(i: int) -> Sample:
            message = generate_request(model, i, self.args.max_tokens, f"svc-{uuid.uuid4().hex}")
            t0 = time.perf_counter()
            ttft, tokens = 0.0, 0
            async for response in stub.Generate(message):
                if not ttft:
                    ttft = time.perf_counter() - t0
                if response.HasField("usage"):
                    tokens = response.usage.completion_tokens
            return Sample(ttft, tokens, time.perf_counter() - t0)

        return lambda c, requests: run_level(service_one, c, requests)

    async def stop(self) -> None:
        if self._channel is not None:
            await self._channel.close()
        stop_process_group(self.process)


# ---- the run: every engine loaded at once (idle ones take ~1 % of a core), rounds alternate between systems ----


async def measure_all(args: argparse.Namespace, env: dict[str, str], logs: Path) -> dict[str, dict]:
    raw = RawEngines(args, env, logs)
    services: list[InferenceServiceProcess] = []
    try:
        # One engine loads at a time: loading is CPU-bound, and at once they would slow each other down.
        print(f"in-process engine loaded in {await raw.ready():.1f} s", flush=True)
        for name in args.services:
            services.append(InferenceServiceProcess(args, env, logs, name))
            print(f"{name}: SERVING after {await services[-1].ready():.1f} s", flush=True)
        systems = {"engine": raw.system("engine"), **{s.name: s.system() for s in services}}
        if not args.no_bare:
            systems = {"bare": raw.system("bare"), **systems}
        levels = sorted(args.concurrency)
        if args.warmup:
            for run in systems.values():
                await run(levels[-1], max(args.warmup, levels[-1]))
        rounds: dict[str, dict[str, list[dict]]] = {name: {str(c): [] for c in levels} for name in systems}
        for r in range(args.rounds):
            order = list(systems)[r % len(systems) :] + list(systems)[: r % len(systems)]  # no fixed position
            for c in levels:
                for name in order:
                    result = await systems[name](c, max(args.requests, args.per_client * c))
                    rounds[name][str(c)].append(asdict(result))
                    print(
                        f"round {r + 1} [{name}] c={c}: {result.tokens_per_second:.1f} tok/s, "
                        f"TTFT p50 {result.ttft_p50_ms:.1f} ms",
                        file=sys.stderr,
                        flush=True,
                    )
        return rounds
    finally:
        for service in services:
            await service.stop()
        raw.stop()


# ---- report --------------------------------------------------------------------------------------------------


MEDIAN_KEYS = ("tokens_per_second", "ttft_p50_ms", "ttft_p99_ms")


def _median_level(results: list[dict]) -> dict:
    """Per level, the median over rounds of each number (rounds run at different moments of a noisy machine)."""
    out = {key: statistics.median(r[key] for r in results) for key in MEDIAN_KEYS}
    out["tokens_per_request"] = sorted({t for r in results for t in r["tokens_per_request"]})
    out["requests"] = sum(r["requests"] for r in results)
    return out


def report(rounds: dict[str, dict[str, list[dict]]], args: argparse.Namespace) -> dict[str, bool]:
    data = {name: {c: _median_level(results) for c, results in levels.items()} for name, levels in rounds.items()}
    systems = list(data)
    rows = []
    for c in sorted(args.concurrency):
        for name in systems:
            r = data[name][str(c)]
            per_round = ", ".join(f"{x['tokens_per_second']:.0f}" for x in rounds[name][str(c)])
            rows.append(
                [c, name, r["requests"], f"{r['tokens_per_second']:.1f}", f"{r['ttft_p50_ms']:.2f}",
                 f"{r['ttft_p99_ms']:.2f}", per_round, "/".join(map(str, r["tokens_per_request"]))]
            )  # fmt: skip
    headers = ["c", "system", "requests", "tok/s", "TTFT p50 ms", "TTFT p99 ms", "tok/s by round", "tok/req"]
    print(f"medians over {args.rounds} alternating rounds")
    print(table(headers, rows))
    print()
    # The goal is judged against the raw AsyncLLM (bare), as the issue states it; against our in-process
    # engine the row isolates the gRPC layer alone. With --no-bare the engine is the baseline.
    baselines = (["bare"] if "bare" in data else []) + ["engine"]
    verdicts: dict[str, bool] = {}
    ratio_rows = []
    for c in sorted(args.concurrency):
        if "bare" in data:
            ratio_rows.append(_comparison(rounds, data, c, "engine", "bare", judged=False)[0])
        for name in args.services:
            for i, base in enumerate(baselines):
                row, ok = _comparison(rounds, data, c, name, base, judged=i == 0)
                if i == 0:
                    verdicts[name] = verdicts.get(name, True) and ok
                ratio_rows.append(row)
    headers = ["c", "comparison", "tok/s ratio", "by round", "added TTFT p50 ms", "by round", "goal (>=0.95, <=5 ms)"]
    print(table(headers, ratio_rows))
    if any(set(data[s][str(c)]["tokens_per_request"]) != {args.max_tokens} for s in systems for c in args.concurrency):
        print(f"WARNING: some requests did not produce exactly max_tokens={args.max_tokens} tokens")
    return verdicts


def _comparison(rounds: dict, data: dict, c: int, name: str, base: str, *, judged: bool) -> tuple[list, bool]:
    """One system against a baseline: the row (ratio and difference of the medians, and the same pair by
    round, with the goal's verdict when `judged`) and whether the goal is met."""
    mine, theirs = data[name][str(c)], data[base][str(c)]
    ratio = mine["tokens_per_second"] / theirs["tokens_per_second"]
    added = mine["ttft_p50_ms"] - theirs["ttft_p50_ms"]
    ok = ratio >= 0.95 and added <= 5.0
    paired = list(zip(rounds[name][str(c)], rounds[base][str(c)], strict=True))
    ratios = ", ".join(f"{a['tokens_per_second'] / b['tokens_per_second']:.2f}" for a, b in paired)
    added_by_round = ", ".join(f"{a['ttft_p50_ms'] - b['ttft_p50_ms']:+.1f}" for a, b in paired)
    verdict = ("met" if ok else "MISSED") if judged else ""
    return [c, f"{name} vs {base}", f"{ratio:.3f}", ratios, f"{added:+.2f}", added_by_round, verdict], ok


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["tiny", "smollm2"], default="tiny")
    parser.add_argument("--concurrency", type=lambda v: [int(x) for x in v.split(",")], default=[1, 8])
    parser.add_argument(
        "--requests", type=int, default=None, help="requests per level and round (default 32 tiny, 8 smollm2)"
    )
    parser.add_argument(
        "--per-client", type=int, default=None, help="at least this many requests per client (8 tiny, 2 smollm2)"
    )
    parser.add_argument("--max-tokens", type=int, default=None, help="tokens per request (default 64 tiny, 32 smollm2)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per system (medians reported)")
    parser.add_argument("--warmup", type=int, default=8, help="warm-up requests per system (0: none)")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare AsyncLLM baseline")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds an engine may take to load")
    parser.add_argument(
        "--service-session",
        choices=["same", "own", "both"],
        default="same",
        help="run the service in this process's session (same scheduler autogroup as the client; the default), "
        "in its own session, or both",
    )
    parser.add_argument("--json", type=Path, help="also write all numbers to this file")
    parser.add_argument("--phase", choices=["all", "raw"], default="all", help=argparse.SUPPRESS)
    parser.add_argument("--result-fd", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.requests is None:
        args.requests = 32 if args.model == "tiny" else 8
    if args.per_client is None:
        args.per_client = 8 if args.model == "tiny" else 2
    if args.max_tokens is None:
        args.max_tokens = 64 if args.model == "tiny" else 32
    args.services = {"same": SERVICE_VARIANTS[:1], "own": SERVICE_VARIANTS[1:], "both": SERVICE_VARIANTS}[
        args.service_session
    ]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.phase == "raw":
        asyncio.run(raw_server(args))
        return 0
    env = engine_env(args.model)
    logs = Path(tempfile.mkdtemp(prefix="jan-bench-inference-"))
    print(f"model {args.model}: {env['JAN_MODEL']}; logs in {logs}")
    print(f"before: {machine_load()}")
    print(
        f"levels {args.concurrency}, {args.rounds} rounds of max({args.requests}, {args.per_client} x clients) "
        f"requests per level and system, {args.max_tokens} tokens each (ignore_eos, temperature 0)",
        flush=True,
    )
    started = time.monotonic()
    rounds = asyncio.run(measure_all(args, env, logs))
    print()
    verdicts = report(rounds, args)
    print(f"\ntotal {time.monotonic() - started:.0f} s; after: {machine_load()}")
    for name, ok in verdicts.items():
        print(f"{name}: goal {'met at every level' if ok else 'MISSED at some level (see above)'}")
    if args.json:
        args.json.write_text(json.dumps({"args": {**vars(args), "json": str(args.json)}, **rounds}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
