"""The whole stack against vLLM's own OpenAI-compatible server, on the same model and settings, in one run:
what a team gives up (or not) by running Jan Server instead of `vllm serve`.

    .venv/bin/python -m bench.vllm_server_compare [--model tiny|smollm2] [--concurrency 1,8,32] [--rounds 4]
        [--requests 32] [--max-tokens 64]
        [--modes stream,unary]

Systems (both loaded before measuring, on loopback, stopped by PID at the end):
  vllm  `python -m vllm.entrypoints.openai.api_server` (vLLM's own server; the `vllm` console script fails with
        the CPU wheel) on the model folder, with the engine settings the inference service uses (float32,
        eager mode, the same context length, KV cache bytes, batch size and parsers) and its own defaults
        otherwise: stats on (its Prometheus /metrics, as the stack's inference service keeps them), one
        token per streamed message (--vllm-stream-interval).
  jan   the whole stack from devstack.Stack (embedded PostgreSQL, auth, chat, inference, search, Envoy) on the
        same model, called through Envoy's REST surface with a guest's token (guest limits off for the run).
Both are called by the official `openai` SDK (AsyncOpenAI, one client per system, keep-alive) with the same
bodies: one of 8 prompts in turn, temperature 0, `ignore_eos` and max_tokens (so both generate exactly the
same number of tokens; checked from the usage counts), streamed (with include_usage) and not. Before measuring,
both must count the same prompt tokens for every prompt (the same template and defaults), or the run stops.

Per round, for each concurrency level and mode, each system runs in turn (the order alternates by round: an
even --rounds balances it; each starts once both systems have fallen idle), c closed-loop clients sending
max(--requests, 4 c) requests in all. Reported per round and as medians over rounds: aggregate output
tokens/s, time to first token p50/p99 (streams: until the first chunk with generated text), end to end
p50/p99, CPU seconds per request by process tree (vLLM's server; Envoy, auth, chat, inference with its engine
processes, search; the load generator), and peak RSS by process tree during the level. The comparison is
paired: each round's jan / vllm ratio and first-token difference, median over rounds (range shown).
Goal (issue 17): the stack gives >= 0.95 of vLLM's server's tokens per second and adds <= 5 ms to its first
token at every level (streaming), on both models.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.common import CpuMeter, machine_load, ms, percentile, python_env, spawn, stack_env, table
from bench.inference_overhead import PROMPTS, engine_env
from devstack.ports import free_port
from devstack.stack import stop_process_group

MODES = ("stream", "unary")


@dataclass
class Level:
    tokens_per_s: float
    ttft_p50: float
    ttft_p99: float
    e2e_p50: float
    e2e_p99: float
    cpu_per_request: dict[str, float]
    peak_rss_mb: dict[str, float]
    tokens: int


@dataclass
class PeakRss:
    """Samples the RSS of process trees every 0.25 s while running. The trees are listed once, at the start:
    listing children scans every process on the machine, and doing that per tree per sample cost the load
    generator (whose process this thread shares) several percent of a core, more for the system with more
    processes."""

    pids: dict[str, int]
    peaks: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> PeakRss:
        self._trees: dict[str, list[psutil.Process]] = {}
        for name, pid in self.pids.items():
            try:
                root = psutil.Process(pid)
                self._trees[name] = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, tree in self._trees.items():
                total = 0
                for proc in tree:
                    try:
                        total += proc.memory_info().rss
                    except psutil.Error:
                        pass
                self.peaks[name] = max(self.peaks.get(name, 0.0), total / 2**20)
            self._stop.wait(0.25)


def vllm_args(env: dict[str, str], port: int, stream_interval: int) -> list[str]:
    """vLLM's server with the engine settings the inference service reads from `env`."""
    import sys

    args = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", env["JAN_MODEL"], "--served-model-name", env["JAN_SERVED_MODEL_NAME"],
        "--dtype", env["JAN_DTYPE"], "--max-model-len", env["JAN_MAX_MODEL_LEN"],
        "--kv-cache-memory-bytes", env["JAN_KV_CACHE_BYTES"], "--max-num-seqs", env["JAN_MAX_NUM_SEQS"],
        "--host", "127.0.0.1", "--port", str(port), "--uvicorn-log-level", "warning",
        "--stream-interval", str(stream_interval),
    ]  # fmt: skip
    if env.get("JAN_ENFORCE_EAGER") == "true":
        args.append("--enforce-eager")
    if env.get("JAN_TOOL_CALL_PARSER", "hermes") != "none":
        args += ["--enable-auto-tool-choice", "--tool-call-parser", env.get("JAN_TOOL_CALL_PARSER", "hermes")]
    if env.get("JAN_REASONING_PARSER", "qwen3") != "none":
        args += ["--reasoning-parser", env.get("JAN_REASONING_PARSER", "qwen3")]
    return args


async def wait_http(url: str, process: subprocess.Popen, seconds: float) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"vLLM's server exited with {process.returncode}")
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise TimeoutError(f"{url} not ready in {seconds:.0f} s")


def generated(delta) -> bool:
    """Whether a stream chunk's delta carries generated tokens (not just the role): content, even whitespace,
    reasoning under either name (ours: reasoning_content; vLLM's server: reasoning) or a tool call."""
    extra = delta.model_extra or {}
    return bool(delta.content or delta.tool_calls or extra.get("reasoning_content") or extra.get("reasoning"))


def request_body(model: str, i: int, max_tokens: int) -> dict:
    return {
        "model": model,
        "messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "extra_body": {"ignore_eos": True, "chat_template_kwargs": {"enable_thinking": False}},
    }


async def one_request(client, model: str, i: int, max_tokens: int, stream: bool) -> tuple[float, float, int]:
    """(time to first token, end to end, output tokens) of one chat completion."""
    body = request_body(model, i, max_tokens)
    t0 = time.perf_counter()
    if not stream:
        completion = await client.chat.completions.create(**body)
        elapsed = time.perf_counter() - t0
        return elapsed, elapsed, completion.usage.completion_tokens
    first, tokens = 0.0, 0
    chunks = await client.chat.completions.create(**body, stream=True, stream_options={"include_usage": True})
    async for chunk in chunks:
        if not first and chunk.choices and generated(chunk.choices[0].delta):
            first = time.perf_counter() - t0
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    return first or (time.perf_counter() - t0), time.perf_counter() - t0, tokens


async def run_level(
    client, model: str, c: int, requests: int, max_tokens: int, stream: bool, pids: dict[str, int]
) -> Level:
    queue = list(range(max(requests, 4 * c)))
    samples: list[tuple[float, float, int]] = []

    async def worker() -> None:
        while queue:
            samples.append(await one_request(client, model, queue.pop(), max_tokens, stream))

    meter = CpuMeter(pids)
    meter.start()
    with PeakRss({k: v for k, v in pids.items() if k != "loadgen"}) as rss:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(c)))
        wall = time.perf_counter() - t0
    cpu = meter.stop()
    tokens = sum(s[2] for s in samples)
    ttfts, e2es = [s[0] for s in samples], [s[1] for s in samples]
    return Level(
        tokens_per_s=tokens / wall,
        ttft_p50=ms(percentile(ttfts, 50)),
        ttft_p99=ms(percentile(ttfts, 99)),
        e2e_p50=ms(percentile(e2es, 50)),
        e2e_p99=ms(percentile(e2es, 99)),
        cpu_per_request={k: ms(v) / len(samples) for k, v in cpu.items()},
        peak_rss_mb=dict(rss.peaks),
        tokens=tokens,
    )


async def measure(args: argparse.Namespace, systems: dict[str, tuple[str, str, dict[str, int]]]) -> dict:
    import openai

    clients = {
        name: openai.AsyncOpenAI(base_url=url, api_key=key, max_retries=0, timeout=300)
        for name, (url, key, _) in systems.items()
    }
    model = args.served_name
    for client in clients.values():  # warm-up at the top level
        await asyncio.gather(*(one_request(client, model, i, args.max_tokens, True) for i in range(args.levels[-1])))
    # Both must render the same prompts (the same chat template and defaults), or the comparison is not one.
    prompt_tokens = {
        name: [
            (await client.chat.completions.create(**request_body(model, i, 1))).usage.prompt_tokens
            for i in range(len(PROMPTS))
        ]
        for name, client in clients.items()
    }
    print(f"prompt tokens per prompt: {prompt_tokens}", flush=True)
    if len({tuple(counts) for counts in prompt_tokens.values()}) > 1:
        raise SystemExit("the two systems render the prompts differently")
    results: dict = {}
    every_pid = [pid for _, _, pids in systems.values() for pid in pids.values()]
    for round_ in range(args.rounds):
        order = list(systems) if round_ % 2 == 0 else list(reversed(systems))
        for c in args.levels:
            for mode in args.modes:
                for name in order:
                    pids = {**systems[name][2], "loadgen": psutil.Process().pid}
                    level = await run_level(
                        clients[name], model, c, args.requests, args.max_tokens, mode == "stream", pids
                    )
                    results.setdefault((c, mode), {}).setdefault(name, []).append(level)
                    print(
                        f"round {round_ + 1} c={c:<2} {mode:<6} {name:<4} {level.tokens_per_s:8.1f} tok/s"
                        f"  ttft p50 {level.ttft_p50:7.1f} ms  e2e p50 {level.e2e_p50:8.1f} ms"
                        f"  cpu/req {sum(v for k, v in level.cpu_per_request.items() if k != 'loadgen'):6.1f} ms",
                        flush=True,
                    )
                    settled = await settle(every_pid)
                    if settled > 2:
                        print(f"  (the systems took {settled:.1f} s to fall idle)", flush=True)
    for client in clients.values():
        await client.close()
    return results


async def settle(pids: list[int], busy_cores: float = 0.15, give_up_after: float = 30.0) -> float:
    """Waits until the systems' process trees together use less than `busy_cores` of a core over half a
    second, and returns the seconds waited: the system measured last can leave vLLM's engine core spinning for
    a while after its last message, and the next one measured must not share the cores with it (a fixed pause
    guessed how long; with it SmolLM2 at 1 client read ~6 % slower when second, whichever system it was)."""
    meter = CpuMeter({str(pid): pid for pid in pids}, alone=frozenset())
    started = time.monotonic()
    while time.monotonic() - started < give_up_after:
        meter.start()
        await asyncio.sleep(0.5)
        if sum(meter.stop().values()) < busy_cores * 0.5:
            break
    return time.monotonic() - started


def report(results: dict) -> bool:
    rows, met = [], True
    for (c, mode), by_system in sorted(results.items()):
        med = {
            name: {
                f: statistics.median(getattr(level, f) for level in levels)
                for f in ("tokens_per_s", "ttft_p50", "ttft_p99", "e2e_p50", "e2e_p99")
            }
            for name, levels in by_system.items()
        }
        # Paired by round (the two systems ran one right after the other), then the median over rounds: the
        # machine's speed drifts more from minute to minute than the difference being measured.
        pairs = list(zip(by_system["jan"], by_system["vllm"], strict=True))
        ratios = [j.tokens_per_s / v.tokens_per_s for j, v in pairs]
        ratio = statistics.median(ratios)
        added = statistics.median(j.ttft_p50 - v.ttft_p50 for j, v in pairs)
        ok = ratio >= 0.95 and (mode == "unary" or added <= 5.0)
        met = met and ok
        for name in ("vllm", "jan"):
            m = med[name]
            rows.append([
                f"c={c} {mode}", name, round(m["tokens_per_s"], 1), round(m["ttft_p50"], 1), round(m["ttft_p99"], 1),
                round(m["e2e_p50"], 1), round(m["e2e_p99"], 1),
                f"{ratio:.3f} ({min(ratios):.2f}-{max(ratios):.2f}), {added:+.1f} ms {'MET' if ok else 'MISSED'}"
                if name == "jan" else "",
            ])  # fmt: skip
    print(table(["level", "system", "tok/s", "TTFT p50", "TTFT p99", "e2e p50", "e2e p99", "jan / vllm"], rows))
    cpu_rows = []
    for (c, mode), by_system in sorted(results.items()):
        for name, levels in by_system.items():
            names = sorted(levels[0].cpu_per_request)
            cpu = {k: statistics.median(level.cpu_per_request[k] for level in levels) for k in names}
            rss = {k: max(level.peak_rss_mb.get(k, 0.0) for level in levels) for k in levels[0].peak_rss_mb}
            cpu_rows.append([
                f"c={c} {mode}", name, ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()),
                ", ".join(f"{k} {v:.0f}" for k, v in rss.items()),
            ])  # fmt: skip
    print(table(["level", "system", "CPU ms per request", "peak RSS MB"], cpu_rows))
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("tiny", "smollm2"), default="tiny")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument(
        "--rounds", type=int, default=4, help="even: each system goes first as often; 8 for a verdict (±10 %% a round)"
    )
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--modes", default=",".join(MODES), help="stream, unary or both")
    parser.add_argument(
        "--max-num-seqs", type=int, help="both engines' max_num_seqs (default: the highest --concurrency)"
    )
    parser.add_argument(
        "--vllm-stream-interval",
        type=int,
        default=1,
        help="vLLM server's --stream-interval (tokens per streamed message; its default 1 is what `vllm serve` sends)",
    )
    args = parser.parse_args(argv)
    args.levels = [int(x) for x in args.concurrency.split(",")]
    asked = args.modes.split(",")
    if unknown := sorted(set(asked) - set(MODES)):
        parser.error(f"unknown --modes {', '.join(unknown)} (known: {', '.join(MODES)})")
    args.modes = [m for m in MODES if m in asked]

    from devstack.stack import Stack, StackConfig
    from tests.conftest import guest_login

    env = {**engine_env(args.model), "JAN_MAX_NUM_SEQS": str(args.max_num_seqs or max(args.levels))}
    args.served_name = env["JAN_SERVED_MODEL_NAME"]
    run_dir = Path(tempfile.mkdtemp(prefix="jan-bench-vllm-"))
    print(f"logs in {run_dir}\nbefore: {machine_load()}", flush=True)
    from services.inference.settings import InferenceSettings

    jan_interval = InferenceSettings().stream_interval_tokens  # what the stack reads from this environment
    print(f"tokens per streamed message: vllm {args.vllm_stream_interval}, jan {jan_interval}", flush=True)
    jan_env = stack_env(
        env,
        JAN_GUEST_MAX_OUTPUT_TOKENS="0",
        JAN_ACCESS_TOKEN_TTL_SECONDS=str(24 * 3600),  # one guest token for the whole run (SmolLM2's: > 15 min)
    )
    stack = Stack(StackConfig.on_free_ports(run_dir=run_dir, data_dir=run_dir / "pg", env=jan_env))
    port = free_port()
    server_args = vllm_args(env, port, args.vllm_stream_interval)
    server = spawn(server_args, python_env(), run_dir / "logs" / "vllm-server.log", new_session=False)
    try:
        stack.start(timeout=600)
        asyncio.run(wait_http(f"http://127.0.0.1:{port}/health", server, 600))
        token = guest_login(stack)
        jan_pids = {name: proc.pid for name, proc in stack.processes.items()}
        systems = {
            "vllm": (f"http://127.0.0.1:{port}/v1", "unused", {"vllm": server.pid}),
            "jan": (f"{stack.http_url}/v1", token, jan_pids),
        }
        results = asyncio.run(measure(args, systems))
    finally:
        stop_process_group(server)
        stack.stop()
    met = report(results)
    print(f"\ngoal (>= 0.95 of vLLM's tokens/s, <= +5 ms first token, every level): {'MET' if met else 'MISSED'}")
    print(f"after: {machine_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
