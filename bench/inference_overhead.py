"""What the inference service's gRPC layer costs: tokens per second and time to first token through
jan.v1.InferenceService/Generate, against the same engine called in-process, in one run.

    .venv/bin/python -m bench.inference_overhead [--model tiny|smollm2] [--concurrency 1,8]
        [--requests 48] [--max-tokens 64] [--warmup 8] [--no-bare] [--service-session same|own|both]

Three ways to stream the same generations, measured one after the other, never two engines at once:
  bare     vLLM's AsyncLLM.generate on prompts rendered once up front (no chat template, no parsers, no
           proto): the engine's own floor. In a child process, sharing its engine with `engine`.
  engine   our InferenceEngine.generate in-process (chat template, vLLM's streaming parsers, deltas): what
           the service runs per request. Same child process; the engine is then shut down.
  service  `python -m services.inference` as its own process on a free port, with the same settings from
           the same environment, called over gRPC with the generated stubs by this process (server
           streaming, one GenerateResponse per delta, the way the chat service calls it). Measured twice by
           default (--service-session): `service` runs in this process's session, `service-own-session` in a
           session of its own as devstack.Stack (make up, the tests) starts every service. The difference is
           the Linux scheduler's autogroups (kernel.sched_autogroup_enabled=1 here): vLLM's CPU engine core
           spins (sched_yield) on its shared-memory queue while the worker computes, and with the service in
           another autogroup than its client, the client process was measured waiting seconds on the run queue
           and gRPC messages sat unread in its socket until the generation ended (TTFT ≈ whole generation).
Every request is a fixed prompt (8 prompts in turn), temperature 0, ignore_eos and max_tokens, so every
system produces exactly the same number of tokens (checked from the usage counts). Per concurrency level
c, c closed-loop clients each run max(--requests, --per-client x c)/c requests back to back. Reported per
level and system: aggregate tokens/s (all tokens / wall time of the level), time to first token (request
sent until the first delta, or the first RequestOutput with a token for `bare`) p50 and p99 (nearest rank over all
requests of the level; with few requests p99 is close to the max), and the ratios service/engine for
throughput and service minus engine for TTFT. Goal (the issue): >= 95 % of the engine's throughput and
<= 5 ms added to the first token. Each system is warmed up at the highest level first.

Models: `tiny` (default) is the tests' random-weight Qwen3 (~10M parameters, Qwen3 tokenizer, hermes and
qwen3 parsers on), which makes the engine fast so per-token overheads show; `smollm2` is the SmolLM2-135M
folder `make up` serves (parsers off). Engine settings are the ones `make up`/the tests use (float32,
eager mode, small KV cache), with max_num_seqs 16 so 8 streams run in one batch. No CPU pinning: vLLM binds
its worker's OpenMP threads itself. Logs go to a temporary folder printed at the start.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.common import machine_load, ms, percentile, python_env, spawn, table, wait_serving
from devstack.stack import stop_process_group

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
        from services.inference.tiny_model import ensure_tiny_model

        # As tests/conftest.py's tiny_engine_env, minus its test-only grammar knobs.
        return {
            **common,
            "JAN_MODEL": str(ensure_tiny_model(cache_dir())),
            "JAN_SERVED_MODEL_NAME": "qwen3-tiny",
            "JAN_MAX_MODEL_LEN": "1024",
            "JAN_KV_CACHE_BYTES": str(32 * 2**20),
        }
    from services.inference.smollm2 import ensure_smollm2

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


async def measure(name: str, one: OneRequest, args: argparse.Namespace) -> dict[str, dict]:
    levels = sorted(args.concurrency)
    if args.warmup:
        await run_level(one, levels[-1], max(args.warmup, levels[-1]))
    results = {}
    for c in levels:
        result = await run_level(one, c, max(args.requests, args.per_client * c))
        print(
            f"[{name}] c={c}: {result.tokens_per_second:.1f} tok/s, TTFT p50 {result.ttft_p50_ms:.1f} ms",
            file=sys.stderr,
            flush=True,
        )
        results[str(c)] = asdict(result)
    return results


# ---- the raw phase: runs in a child process so vLLM and its engine-core processes go away with it ----------


async def raw_phase(args: argparse.Namespace) -> dict[str, object]:
    from services.inference.domain import GenerationRequest, SamplingOptions
    from services.inference.engine import InferenceEngine
    from services.inference.settings import InferenceSettings

    settings = InferenceSettings()
    engine = InferenceEngine(settings.engine_config())
    started = time.monotonic()
    await engine.start()
    load_seconds = time.monotonic() - started

    def request(i: int, prefix: str) -> GenerationRequest:
        return GenerationRequest(
            request_id=f"{prefix}-{uuid.uuid4().hex}",
            model=settings.served_model_name,
            messages=[{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
            sampling=SamplingOptions(temperature=0.0, max_tokens=args.max_tokens, ignore_eos=True),
        )

    async def engine_one(i: int) -> Sample:
        t0 = time.perf_counter()
        ttft, tokens = 0.0, 0
        async for delta in engine.generate(request(i, "engine")):
            if not ttft:
                ttft = time.perf_counter() - t0
            if delta.usage is not None:
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

    results: dict[str, object] = {"engine_load_seconds": round(load_seconds, 1)}
    try:
        if not args.no_bare:
            results["bare"] = await measure("bare", bare_one, args)
        results["engine"] = await measure("engine", engine_one, args)
    finally:
        await engine.shutdown()
    return results


def run_raw_child(args: argparse.Namespace, env: dict[str, str], logs: Path) -> dict[str, object]:
    result_file = logs / "raw.json"
    cmd = [sys.executable, "-m", "bench.inference_overhead", "--phase", "raw", "--result-file", str(result_file)]
    cmd += ["--concurrency", ",".join(map(str, args.concurrency)), "--requests", str(args.requests)]
    cmd += ["--max-tokens", str(args.max_tokens), "--warmup", str(args.warmup), "--per-client", str(args.per_client)]
    if args.no_bare:
        cmd.append("--no-bare")
    process = spawn(cmd, python_env(env), logs / "raw.log", new_session=False)
    try:
        if process.wait(args.timeout) != 0:
            raise RuntimeError(f"the raw phase failed (exit {process.returncode}); see {logs / 'raw.log'}")
    finally:
        stop_process_group(process)
    return json.loads(result_file.read_text())


# ---- the service phase ---------------------------------------------------------------------------------------


async def service_phase(
    args: argparse.Namespace, env: dict[str, str], logs: Path, name: str, new_session: bool
) -> dict[str, object]:
    import grpc
    from google.protobuf import struct_pb2

    from devstack.ports import free_port
    from jan.v1 import inference_service_pb2 as pb
    from jan.v1 import inference_service_pb2_grpc, types_pb2

    target = f"127.0.0.1:{free_port()}"
    service_env = {**env, "JAN_INFERENCE_LISTEN": target, "JAN_SHUTDOWN_GRACE_SECONDS": "2"}
    log = logs / f"{name}.log"
    process = spawn([sys.executable, "-m", "services.inference"], python_env(service_env), log, new_session=new_session)
    try:
        load_seconds = await asyncio.to_thread(
            wait_serving, target, process, log, args.timeout, "jan.v1.InferenceService"
        )
        async with grpc.aio.insecure_channel(target) as channel:
            stub = inference_service_pb2_grpc.InferenceServiceStub(channel)
            model = env["JAN_SERVED_MODEL_NAME"]
            messages = [types_pb2.ChatMessage(role="user", content=struct_pb2.Value(string_value=p)) for p in PROMPTS]

            async def service_one(i: int) -> Sample:
                message = pb.GenerateRequest(
                    model=model,
                    messages=[messages[i % len(messages)]],
                    sampling=pb.SamplingParams(temperature=0.0, max_tokens=args.max_tokens, ignore_eos=True),
                    request_id=f"svc-{uuid.uuid4().hex}",
                )
                t0 = time.perf_counter()
                ttft, tokens = 0.0, 0
                async for response in stub.Generate(message):
                    if not ttft:
                        ttft = time.perf_counter() - t0
                    if response.HasField("usage"):
                        tokens = response.usage.completion_tokens
                return Sample(ttft, tokens, time.perf_counter() - t0)

            print(f"{name}: SERVING after {load_seconds:.1f} s", flush=True)
            return {name: await measure(name, service_one, args)}
    finally:
        stop_process_group(process)


# ---- report --------------------------------------------------------------------------------------------------


def report(data: dict, args: argparse.Namespace) -> dict[str, bool]:
    systems = [s for s in ("bare", "engine", *SERVICE_VARIANTS) if s in data]
    rows = []
    for c in sorted(args.concurrency):
        for s in systems:
            r = data[s][str(c)]
            tokens = "/".join(map(str, r["tokens_per_request"]))
            rows.append(
                [c, s, r["requests"], r["tokens"], r["wall_seconds"], r["tokens_per_second"], r["ttft_p50_ms"],
                 r["ttft_p99_ms"], tokens]
            )  # fmt: skip
    headers = ["c", "system", "requests", "tokens", "wall s", "tok/s", "TTFT p50 ms", "TTFT p99 ms", "tok/req"]
    print(table(headers, rows))
    print()
    verdicts: dict[str, bool] = {}
    ratio_rows = []
    for c in sorted(args.concurrency):
        e = data["engine"][str(c)]
        if "bare" in data:
            b = data["bare"][str(c)]
            ratio_rows.append(
                [c, "engine vs bare", f"{e['tokens_per_second'] / b['tokens_per_second']:.3f}",
                 f"{e['ttft_p50_ms'] - b['ttft_p50_ms']:+.2f}", f"{e['ttft_p99_ms'] - b['ttft_p99_ms']:+.2f}", ""]
            )  # fmt: skip
        for name in (v for v in SERVICE_VARIANTS if v in data):
            sv = data[name][str(c)]
            ratio = sv["tokens_per_second"] / e["tokens_per_second"]
            added50 = sv["ttft_p50_ms"] - e["ttft_p50_ms"]
            added99 = sv["ttft_p99_ms"] - e["ttft_p99_ms"]
            ok = ratio >= 0.95 and added50 <= 5.0
            verdicts[name] = verdicts.get(name, True) and ok
            verdict = "met" if ok else "MISSED"
            ratio_rows.append(
                [c, f"{name} vs engine", f"{ratio:.3f}", f"{added50:+.2f}", f"{added99:+.2f}", verdict]
            )  # fmt: skip
    headers = ["c", "comparison", "tok/s ratio", "added TTFT p50 ms", "added TTFT p99 ms", "goal (>=0.95, <=5 ms)"]
    print(table(headers, ratio_rows))
    if any(set(data[s][str(c)]["tokens_per_request"]) != {args.max_tokens} for s in systems for c in args.concurrency):
        print(f"WARNING: some requests did not produce exactly max_tokens={args.max_tokens} tokens")
    return verdicts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["tiny", "smollm2"], default="tiny")
    parser.add_argument("--concurrency", type=lambda v: [int(x) for x in v.split(",")], default=[1, 8])
    parser.add_argument("--requests", type=int, default=None, help="requests per level (default 48 tiny, 16 smollm2)")
    parser.add_argument(
        "--per-client", type=int, default=None, help="at least this many requests per client (16 tiny, 4 smollm2)"
    )
    parser.add_argument("--max-tokens", type=int, default=None, help="tokens per request (default 64 tiny, 32 smollm2)")
    parser.add_argument("--warmup", type=int, default=8, help="warm-up requests per system (0: none)")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare AsyncLLM baseline")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds an engine may take to load")
    parser.add_argument(
        "--service-session",
        choices=["same", "own", "both"],
        default="both",
        help="run the service in this process's session (same scheduler autogroup as the client), in its own "
        "session as devstack does, or both one after the other (default)",
    )
    parser.add_argument("--json", type=Path, help="also write all numbers to this file")
    parser.add_argument("--phase", choices=["all", "raw"], default="all", help=argparse.SUPPRESS)
    parser.add_argument("--result-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.requests is None:
        args.requests = 48 if args.model == "tiny" else 16
    if args.per_client is None:
        args.per_client = 16 if args.model == "tiny" else 4
    if args.max_tokens is None:
        args.max_tokens = 64 if args.model == "tiny" else 32
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.phase == "raw":
        results = asyncio.run(raw_phase(args))
        args.result_file.write_text(json.dumps(results))
        return 0
    env = engine_env(args.model)
    logs = Path(tempfile.mkdtemp(prefix="jan-bench-inference-"))
    print(f"model {args.model}: {env['JAN_MODEL']}; logs in {logs}")
    print(f"before: {machine_load()}")
    print(
        f"levels {args.concurrency}, max({args.requests}, {args.per_client} x clients) requests per level, "
        f"{args.max_tokens} tokens each "
        "(ignore_eos, temperature 0)",
        flush=True,
    )
    started = time.monotonic()
    data = run_raw_child(args, env, logs)
    print(f"raw phase done (engine loaded in {data.pop('engine_load_seconds')} s)", flush=True)
    variants = {"same": [False], "own": [True], "both": [False, True]}[args.service_session]
    for new_session in variants:
        name = SERVICE_VARIANTS[1] if new_session else SERVICE_VARIANTS[0]
        print(f"between phases: {machine_load()}", flush=True)
        data.update(asyncio.run(service_phase(args, env, logs, name, new_session)))
    print()
    verdicts = report(data, args)
    print(f"\ntotal {time.monotonic() - started:.0f} s; after: {machine_load()}")
    for name, ok in verdicts.items():
        print(f"{name}: goal {'met at every level' if ok else 'MISSED at some level (see above)'}")
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args), **data}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
