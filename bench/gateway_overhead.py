"""What the whole gateway path adds over calling the engine directly, side by side with LiteLLM's proxy
pointed at an equally instant upstream, in one run.

    .venv/bin/python -m bench.gateway_overhead [--requests 400] [--duration 20] [--concurrency 32]
        [--tokens 16] [--litellm-workers 1,2] [--pin none|split] [--no-litellm] [--profile [--profile-native]]

Systems (all on loopback, started by this script, stopped by PID at the end):
  jan      the whole stack from devstack.Stack (embedded PostgreSQL, auth, chat, inference, search, Envoy) with
           the inference service on its INSTANT test engine (JAN_ENGINE=instant, JAN_INSTANT_TOKENS=--tokens:
           canned tokens at once, never a default, logged loudly by the service), reached through Envoy's REST
           surface with a project API key created through the admin API (owner → project → sk-proj key).
           Path: Envoy (Lua, ext_authz → auth, JSON→gRPC transcoding) → chat → inference gRPC hop.
           Direct baseline: jan.v1.InferenceService/Generate on the inference service's own port (gRPC).
  litellm  LiteLLM's proxy (litellm[proxy], pinned in bench/requirements-litellm.txt, installed on demand in its
           own venv by bench/litellm_env.py), no database, a master key, one model pointing at bench/mock_openai.py
           (an OpenAI-compatible server answering the same number of canned tokens at once), started with
           --num_workers W for each W in --litellm-workers. Direct baseline: the mock itself over HTTP.
The instant upstreams make the upstream's own time ~0, the way LiteLLM's published benchmarks use a mock
provider, so what is left is what each gateway adds.

Measured for each system (the load generator is this process: aiohttp and grpc.aio on uvloop, keep-alive
connections):
  1. non-streaming latency at concurrency 1: --requests calls, direct and through the gateway interleaved
     one by one (so drift hits both alike); p50/p99 and added = through minus direct.
     For jan also a breakdown: auth's ext_authz check over HTTP (API key, warm cache) and chat's
     CreateChatCompletion over gRPC directly (chat → inference, no Envoy/auth).
  2. streaming time to first byte at concurrency 1: the first SSE body chunk (HTTP) or the first Generate
     message (gRPC); direct and through interleaved; added p50/p99.
  3. throughput: --concurrency closed-loop clients for --duration seconds of non-streaming calls (after a
     short warm-up), requests/s, errors, latency under load, and the CPU time each process used per request
     (from /proc, whole process trees): where the cost goes. --rounds runs per system, alternating jan and
     LiteLLM (both running, the one not measured idle) so a slower minute of this shared machine hits both
     alike; the median round of each is reported, and the ratio of each pair of rounds.
  Goals (the issue): p50 added latency <= 3 ms, streaming first byte <= 3 ms added, and >= 10x LiteLLM's
  throughput at 32 concurrent clients. For reference the issue measured LiteLLM 1.108.7 on these machines:
  +29 ms p50, ~34 requests/s per worker (~61 with two), first byte +26 ms.

The jan services run in devstack's process group, LiteLLM and the mock each in a session of their own.
LiteLLM's latency runs and the alternating rounds use its first worker count; further worker counts get one
throughput run each at the end.
--pin split puts the load generator on CPU 0 and every server (and its threads and children) on CPU 1;
--pin none (default) lets the kernel place everything on both cores. Measured here: split halves jan's
throughput (five processes on one core) and changes LiteLLM's little, so none is the default.
--profile adds one more throughput run of jan with py-spy (installed into the LiteLLM venv) attached to auth,
chat and inference, and prints the hottest functions (self and inclusive % of samples) of each; without
--profile-native the gRPC core's C/Cython time shows up as the Python frame that called it
(asyncio Handle._run, threading Thread.run for gRPC's poller thread).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import (
    CpuMeter,
    log_tail,
    machine_load,
    ms,
    percentile,
    pin_self,
    pin_tree,
    python_env,
    spawn,
    stack_env,
    table,
)
from devstack.stack import stop_process_group

MODEL = "instant"
OWNER_EMAIL = "bench-owner@example.com"
PROMPT = "Say hello in one short sentence."
ISSUE_LITELLM = {"added_p50_ms": 29.0, "rps_1_worker": 34.0, "rps_2_workers": 61.0, "ttfb_added_ms": 26.0}
GOALS = {"added_p50_ms": 3.0, "ttfb_added_ms": 3.0, "throughput_ratio": 10.0}


# ---- load generation -----------------------------------------------------------------------------------------

Call = Callable[[], Awaitable[bool]]
StreamCall = Callable[[], Awaitable[tuple[float, bool]]]  # (seconds to first byte, ok)


@dataclass
class Latencies:
    samples: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""

    def p(self, q: float) -> float:
        return ms(percentile(self.samples, q))


@dataclass
class Throughput:
    concurrency: int
    seconds: float
    ok: int
    errors: int
    latencies: list[float]
    cpu_seconds: dict[str, float]
    first_error: str = ""

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def timed(call: Call) -> StreamCall:
    """A call whose sample is its whole duration (interleaved takes (seconds, ok) pairs)."""

    async def run() -> tuple[float, bool]:
        t0 = time.perf_counter()
        ok = await call()
        return time.perf_counter() - t0, ok

    return run


async def interleaved(calls: dict[str, StreamCall], n: int, warmup: int = 20) -> dict[str, Latencies]:
    """Runs each call once per round, n rounds, keeping the seconds each reports; calls alternate so drift
    hits all alike."""
    for _ in range(warmup):
        for call in calls.values():
            await call()
    out = {name: Latencies() for name in calls}
    for _ in range(n):
        for name, call in calls.items():
            try:
                seconds, ok = await call()
            except Exception as exc:
                seconds, ok = 0.0, False
                out[name].first_error = out[name].first_error or repr(exc)[:300]
            if ok:
                out[name].samples.append(seconds)
            else:
                out[name].errors += 1
    return out


async def closed_loop(call: Call, concurrency: int, duration: float, meter: CpuMeter | None = None) -> Throughput:
    latencies: list[float] = []
    counts = {"ok": 0, "errors": 0}
    first_error = ""

    async def worker() -> None:
        nonlocal first_error
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                ok = await call()
            except Exception as exc:
                ok = False
                first_error = first_error or repr(exc)[:300]
            if ok:
                counts["ok"] += 1
                latencies.append(time.perf_counter() - t0)
            else:
                counts["errors"] += 1

    if meter:
        meter.start()
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu = meter.stop() if meter else {}
    return Throughput(concurrency, elapsed, counts["ok"], counts["errors"], latencies, cpu, first_error)


# ---- HTTP and gRPC calls --------------------------------------------------------------------------------------


def chat_body(stream: bool, tokens: int) -> bytes:
    body: dict[str, object] = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": tokens}
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


def http_calls(session, url: str, token: str, tokens: int) -> tuple[Call, StreamCall]:
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    whole_body, stream_body = chat_body(False, tokens), chat_body(True, tokens)

    async def whole() -> bool:
        async with session.post(url, data=whole_body, headers=headers) as r:
            data = await r.read()
            return r.status == 200 and b'"choices"' in data

    async def stream() -> tuple[float, bool]:
        t0 = time.perf_counter()
        async with session.post(url, data=stream_body, headers=headers) as r:
            first = await r.content.readany()
            ttfb = time.perf_counter() - t0
            chunks = [first]
            while chunk := await r.content.readany():
                chunks.append(chunk)
            return ttfb, r.status == 200 and b"[DONE]" in b"".join(chunks[-3:])

    return whole, stream


def inference_calls(channel, tokens: int) -> tuple[Call, StreamCall]:
    from google.protobuf import struct_pb2

    from jan.v1 import inference_service_pb2 as pb
    from jan.v1 import inference_service_pb2_grpc, types_pb2

    stub = inference_service_pb2_grpc.InferenceServiceStub(channel)
    message = types_pb2.ChatMessage(role="user", content=struct_pb2.Value(string_value=PROMPT))
    whole_request = pb.GenerateWholeRequest(
        request=pb.GenerateRequest(model=MODEL, messages=[message], sampling=pb.SamplingParams(max_tokens=tokens))
    )
    stream_request = pb.GenerateRequest(model=MODEL, messages=[message], sampling=pb.SamplingParams(max_tokens=tokens))

    async def whole() -> bool:
        reply = await stub.GenerateWhole(whole_request)
        return bool(reply.response.content)

    async def stream() -> tuple[float, bool]:
        t0 = time.perf_counter()
        ttfb, count = 0.0, 0
        async for _ in stub.Generate(stream_request):
            if not count:
                ttfb = time.perf_counter() - t0
            count += 1
        return ttfb, count == tokens

    return whole, stream


def chat_calls(channel, tokens: int) -> tuple[Call, StreamCall]:
    from google.protobuf import struct_pb2

    from jan.v1 import chat_service_pb2 as pb
    from jan.v1 import chat_service_pb2_grpc, types_pb2

    stub = chat_service_pb2_grpc.ChatServiceStub(channel)
    message = types_pb2.ChatMessage(role="user", content=struct_pb2.Value(string_value=PROMPT))
    params = pb.ChatCompletionParams(model=MODEL, messages=[message], max_tokens=tokens)
    stream_params = pb.ChatCompletionParams(model=MODEL, messages=[message], max_tokens=tokens, stream=True)

    async def whole() -> bool:
        response = await stub.CreateChatCompletion(pb.CreateChatCompletionRequest(params=params))
        return bool(response.choices)

    async def stream() -> tuple[float, bool]:
        t0 = time.perf_counter()
        ttfb, last = 0.0, b""
        async for body in stub.StreamChatCompletionEvents(pb.StreamChatCompletionEventsRequest(params=stream_params)):
            if not ttfb:
                ttfb = time.perf_counter() - t0
            last = body.data
        return ttfb, b"[DONE]" in last

    return whole, stream


def authz_call(session, url: str, api_key: str) -> Call:
    """The ext_authz check Envoy makes: the auth service's HTTP endpoint, as Envoy asks it."""
    headers = {"authorization": f"Bearer {api_key}"}

    async def check() -> bool:
        async with session.post(url + "/v1/chat/completions", headers=headers) as response:
            await response.read()
            return response.status == 200

    return check


# ---- the systems ----------------------------------------------------------------------------------------------


def rest(base: str, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def project_api_key(base: str, bootstrap_token: str) -> str:
    """Registers the owner and makes it the organization's owner with the stack's bootstrap token
    (JAN_BOOTSTRAP_TOKEN), then creates a project and a project API key."""
    password = secrets.token_urlsafe(16)
    status, session = rest(base, "POST", "/v1/auth/register", {"email": OWNER_EMAIL, "password": password})
    if status != 200:
        raise RuntimeError(f"registering the owner failed: {status} {session}")
    token = session["access_token"]
    status, owner = rest(base, "POST", "/v1/auth/bootstrap", {"bootstrap_token": bootstrap_token}, token)
    if status != 200:
        raise RuntimeError(f"making the owner failed: {status} {owner}")
    status, project = rest(base, "POST", "/v1/organization/projects", {"name": "bench"}, token)
    if status != 200:
        raise RuntimeError(f"creating a project failed: {status} {project}")
    status, key = rest(base, "POST", f"/v1/organization/projects/{project['id']}/api_keys", {"name": "bench"}, token)
    if status != 200:
        raise RuntimeError(f"creating an API key failed: {status} {key}")
    return key["value"]


class JanStack:
    def __init__(self, run_dir: Path, tokens: int) -> None:
        from devstack.stack import Stack, StackConfig

        self.bootstrap_token = secrets.token_urlsafe(32)  # the first owner's, presented by project_api_key
        env = stack_env(
            JAN_INSTANT_TOKENS=str(tokens),
            JAN_SERVED_MODEL_NAME=MODEL,
            JAN_BOOTSTRAP_TOKEN=self.bootstrap_token,
            JAN_COOKIE_SECURE="false",
        )
        config = StackConfig.on_free_ports(
            run_dir=run_dir, data_dir=run_dir / "pgdata", durable_postgres=False, env=env
        )
        self.stack = Stack(config)
        self.api_key = ""

    def start(self) -> None:
        print(
            "jan: starting the stack; the inference service runs the INSTANT TEST ENGINE (JAN_ENGINE=instant), "
            "not a model",
            flush=True,
        )
        t0 = time.monotonic()
        self.stack.start(timeout=300)
        for service in ("auth", "chat", "inference"):
            self.stack.wait_for_service(service, 120)
        self.api_key = project_api_key(self.stack.http_url, self.bootstrap_token)
        print(f"jan: healthy after {time.monotonic() - t0:.1f} s; project API key created", flush=True)

    def pids(self) -> dict[str, int]:
        pids = {name: p.pid for name, p in self.stack.processes.items() if name != "search"}
        if self.stack.postgres and self.stack.postgres.process:
            pids["postgres"] = self.stack.postgres.process.pid
        return pids

    def stop(self) -> None:
        self.stack.stop()


class Mock:
    def __init__(self, logs: Path, tokens: int) -> None:
        self.logs, self.tokens = logs, tokens
        self.process: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> None:
        from devstack.ports import free_port

        self.port = free_port()
        cmd = [sys.executable, "-m", "bench.mock_openai", "--port", str(self.port), "--tokens", str(self.tokens)]
        self.process = spawn(cmd, python_env(), self.logs / "mock.log")
        wait_http(f"http://127.0.0.1:{self.port}/health", self.process, self.logs / "mock.log", 30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/chat/completions"

    def stop(self) -> None:
        stop_process_group(self.process)


class LiteLLM:
    def __init__(self, logs: Path, mock: Mock, workers: int) -> None:
        self.logs, self.mock, self.workers = logs, mock, workers
        self.master_key = f"sk-bench-{secrets.token_hex(8)}"
        self.process: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> None:
        from bench.litellm_env import ensure_litellm_venv, litellm_binary
        from devstack.ports import free_port

        venv = ensure_litellm_venv()
        self.port = free_port()
        config = self.logs / f"litellm-{self.workers}.yaml"
        config.write_text(
            "model_list:\n"
            f"  - model_name: {MODEL}\n"
            "    litellm_params:\n"
            f"      model: openai/{MODEL}\n"
            f"      api_base: http://127.0.0.1:{self.mock.port}/v1\n"
            "      api_key: sk-mock\n"
            "general_settings:\n"
            f"  master_key: {self.master_key}\n"
        )
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
        env.pop("DATABASE_URL", None)
        cmd = [str(litellm_binary(venv)), "--config", str(config), "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--num_workers", str(self.workers)]
        log = self.logs / f"litellm-{self.workers}.log"
        print(f"litellm: starting {self.workers} worker(s) (no database, master key set)", flush=True)
        t0 = time.monotonic()
        self.process = spawn(cmd, env, log)
        wait_http(f"http://127.0.0.1:{self.port}/health/liveliness", self.process, log, 300)
        print(f"litellm: up after {time.monotonic() - t0:.1f} s", flush=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/chat/completions"

    def stop(self) -> None:
        stop_process_group(self.process)


def wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:3]} exited with {process.returncode}:\n{log_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} not up after {timeout:.0f} s:\n{log_tail(log)}")


# ---- measurement plans ---------------------------------------------------------------------------------------


@dataclass
class SystemResult:
    name: str
    latency: dict[str, Latencies]
    ttfb: dict[str, Latencies]
    direct_throughput: Throughput | None = None
    rounds: list[Throughput] = field(default_factory=list)  # throughput runs, alternating with the other system

    @property
    def throughput(self) -> Throughput:
        """The median round (by requests/s), reported with its latencies and CPU."""
        return sorted(self.rounds, key=lambda t: t.rps)[len(self.rounds) // 2]


async def http_throughput(
    name: str, url: str, token: str, args: argparse.Namespace, cpus: dict[str, int]
) -> Throughput:
    print(f"{name}: throughput, {args.concurrency} clients for {args.duration:.0f} s ...", flush=True)
    async with new_session(args.concurrency) as session:
        whole, _ = http_calls(session, url, token, args.tokens)
        await closed_loop(whole, args.concurrency, args.warmup_seconds)
        return await closed_loop(whole, args.concurrency, args.duration, CpuMeter(cpus))


def new_session(concurrency: int):
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, ttl_dns_cache=None)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60))


async def measure_jan(jan: JanStack, args: argparse.Namespace, cpus: dict[str, int]) -> SystemResult:
    import grpc

    stack = jan.stack
    url = f"{stack.http_url}/v1/chat/completions"
    async with (
        new_session(1) as session,
        grpc.aio.insecure_channel(stack.service_target("inference")) as inference,
        grpc.aio.insecure_channel(stack.service_target("chat")) as chat,
    ):
        through_whole, through_stream = http_calls(session, url, jan.api_key, args.tokens)
        direct_whole, direct_stream = inference_calls(inference, args.tokens)
        chat_whole, chat_stream = chat_calls(chat, args.tokens)
        print("jan: latency at concurrency 1 ...", flush=True)
        authz_check = authz_call(session, f"http://127.0.0.1:{stack.config.authz_port}", jan.api_key)
        whole_calls = {
            "direct": direct_whole,
            "through": through_whole,
            "chat_direct": chat_whole,
            "authz_check": authz_check,
        }
        latency = await interleaved({name: timed(call) for name, call in whole_calls.items()}, args.requests)
        print("jan: streaming first byte at concurrency 1 ...", flush=True)
        ttfb = await interleaved(
            {"direct": direct_stream, "through": through_stream, "chat_direct": chat_stream}, args.stream_requests
        )
    direct_tp = None
    if args.direct_throughput:
        async with grpc.aio.insecure_channel(stack.service_target("inference")) as inference:
            direct_whole, _ = inference_calls(inference, args.tokens)
            await closed_loop(direct_whole, args.concurrency, args.warmup_seconds)
            direct_tp = await closed_loop(direct_whole, args.concurrency, args.duration / 2, CpuMeter(cpus))
    return SystemResult("jan", latency, ttfb, direct_tp)


async def measure_litellm(
    litellm: LiteLLM, mock: Mock, args: argparse.Namespace, cpus: dict[str, int], latencies: bool
) -> SystemResult:
    name = f"litellm x{litellm.workers}"
    latency: dict[str, Latencies] = {}
    ttfb: dict[str, Latencies] = {}
    if latencies:
        async with new_session(1) as proxied, new_session(1) as direct:
            through_whole, through_stream = http_calls(proxied, litellm.url, litellm.master_key, args.tokens)
            direct_whole, direct_stream = http_calls(direct, mock.url, "sk-mock", args.tokens)
            print(f"{name}: latency at concurrency 1 ...", flush=True)
            latency = await interleaved({"direct": timed(direct_whole), "through": timed(through_whole)}, args.requests)
            print(f"{name}: streaming first byte at concurrency 1 ...", flush=True)
            ttfb = await interleaved({"direct": direct_stream, "through": through_stream}, args.stream_requests)
    direct_tp = None
    if args.direct_throughput and latencies:
        async with new_session(args.concurrency) as session:
            direct_whole, _ = http_calls(session, mock.url, "sk-mock", args.tokens)
            await closed_loop(direct_whole, args.concurrency, args.warmup_seconds)
            direct_tp = await closed_loop(direct_whole, args.concurrency, args.duration / 2, CpuMeter(cpus))
    return SystemResult(name, latency, ttfb, direct_tp)


# ---- profiling --------------------------------------------------------------------------------------------


async def profile_jan(jan: JanStack, args: argparse.Namespace, logs: Path) -> dict[str, list[tuple[str, float, float]]]:
    """One more throughput run with py-spy attached to auth, chat and inference; returns the hot functions."""
    from bench.litellm_env import ensure_litellm_venv, py_spy_binary

    py_spy = py_spy_binary(ensure_litellm_venv(py_spy=True))
    seconds = max(5, int(args.duration))
    recorders = {
        service: start_py_spy(
            py_spy, jan.stack.processes[service].pid, seconds, logs / f"profile-{service}.txt", args.profile_native
        )
        for service in ("auth", "chat", "inference")
    }
    await asyncio.sleep(1.0)
    print(f"profile: py-spy attached to auth, chat, inference; {args.concurrency} clients for {seconds} s", flush=True)
    url = f"{jan.stack.http_url}/v1/chat/completions"
    async with new_session(args.concurrency) as session:
        through_whole, _ = http_calls(session, url, jan.api_key, args.tokens)
        run = await closed_loop(through_whole, args.concurrency, seconds)
    print(f"profile: {run.rps:.0f} requests/s while profiled ({run.errors} errors)", flush=True)
    hot = {}
    for service, (process, out) in recorders.items():
        try:
            process.wait(seconds + 30)
        except subprocess.TimeoutExpired:
            stop_process_group(process)
        hot[service] = hot_functions(out) if out.exists() else []
    return hot


def start_py_spy(py_spy: Path, pid: int, seconds: int, out: Path, native: bool) -> tuple[subprocess.Popen, Path]:
    cmd = [str(py_spy), "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "250"]
    cmd += ["--format", "raw", "--native" if native else "--nonblocking", "--output", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out


def _frame_key(frame: str) -> str:
    """'function (path/to/file.py:123)' → 'file-ish:function', with site-packages and repo paths shortened."""
    name, _, rest = frame.partition(" (")
    path = rest.rsplit(":", 1)[0] if rest else ""
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{path}:{name}" if path else name


def hot_functions(path: Path, top: int = 14) -> list[tuple[str, float, float]]:
    """From py-spy's raw (collapsed) output: (function, self %, inclusive %) of all samples, hottest first."""
    self_counts: dict[str, int] = {}
    incl_counts: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_frame_key(f) for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + n
        for key in set(frames):
            incl_counts[key] = incl_counts.get(key, 0) + n
    if not total:
        return []
    rows = sorted(incl_counts, key=lambda k: (-self_counts.get(k, 0), -incl_counts[k]))[:top]
    return [(k, 100 * self_counts.get(k, 0) / total, 100 * incl_counts[k] / total) for k in rows]


# ---- report -----------------------------------------------------------------------------------------------


def added(lat: dict[str, Latencies], q: float) -> float:
    return lat["through"].p(q) - lat["direct"].p(q)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(jan: SystemResult, others: list[SystemResult], args: argparse.Namespace) -> None:
    with_latency = [jan, *[o for o in others if o.latency]]
    print("\n== 1. non-streaming latency, concurrency 1 (ms) ==")
    rows = []
    for s in with_latency:
        lat = s.latency
        errors = sum(v.errors for v in lat.values())
        rows.append(
            [
                s.name,
                lat["direct"].p(50),
                lat["direct"].p(99),
                lat["through"].p(50),
                lat["through"].p(99),
                added(lat, 50),
                added(lat, 99),
                len(lat["through"].samples),
                errors,
            ]
        )
    print(
        table(
            ["system", "direct p50", "direct p99", "through p50", "through p99", "added p50", "added p99", "n", "err"],
            rows,
        )
    )
    lat = jan.latency
    authz, chat, direct, through = (lat[k].p(50) for k in ("authz_check", "chat_direct", "direct", "through"))
    print(
        f"jan breakdown (p50): ext_authz check over HTTP {authz:.2f} ms; chat over gRPC (chat → inference) "
        f"{chat:.2f} ms, so chat adds {chat - direct:.2f} ms over inference and Envoy (Lua, ext_authz, "
        f"transcoding) adds {through - chat:.2f} ms over chat"
    )

    print("\n== 2. streaming time to first byte, concurrency 1 (ms) ==")
    rows = []
    for s in with_latency:
        t = s.ttfb
        rows.append(
            [s.name, t["direct"].p(50), t["through"].p(50), t["through"].p(99), added(t, 50), added(t, 99),
             sum(v.errors for v in t.values())]
        )  # fmt: skip
    print(table(["system", "direct p50", "through p50", "through p99", "added p50", "added p99", "err"], rows))
    if "chat_direct" in jan.ttfb:
        print(f"jan breakdown (p50): chat over gRPC, first SSE event {jan.ttfb['chat_direct'].p(50):.2f} ms")

    print(f"\n== 3. throughput, {args.concurrency} concurrent clients, non-streaming, {args.duration:.0f} s ==")
    rows = []
    runs = [(jan.name, jan.throughput)]
    if jan.direct_throughput:
        runs.append(("jan direct (inference gRPC)", jan.direct_throughput))
    for o in others:
        runs.append((o.name, o.throughput))
        if o.direct_throughput:
            runs.append(("mock direct (HTTP)", o.direct_throughput))
    for name, t in runs:
        cpu_per_req = {k: 1000 * v / max(1, t.ok) for k, v in t.cpu_seconds.items()}
        cpu_text = ", ".join(f"{k} {v:.2f}" for k, v in sorted(cpu_per_req.items(), key=lambda kv: -kv[1]))
        rows.append(
            [name, t.rps, t.ok, t.errors, ms(percentile(t.latencies, 50)), ms(percentile(t.latencies, 99)), cpu_text]
        )
    print(table(["system", "req/s", "ok", "err", "p50 ms", "p99 ms", "CPU ms per request by process"], rows))
    for name, t in runs:
        if t.errors:
            print(f"  {name}: {t.errors} errors, first: {t.first_error}")
    for r in [jan, *others]:
        if len(r.rounds) > 1:
            print(f"  {r.name}: req/s by round {', '.join(f'{t.rps:.1f}' for t in r.rounds)} (the median is above)")

    print("\n== ratios and goals ==")
    j_added, j_ttfb, j_rps = added(jan.latency, 50), added(jan.ttfb, 50), jan.throughput.rps
    lines = [
        f"p50 added latency: jan {j_added:.2f} ms (goal <= {GOALS['added_p50_ms']:.0f} ms: "
        f"{verdict(j_added <= GOALS['added_p50_ms'])})",
        f"streaming first byte added (p50): jan {j_ttfb:.2f} ms (goal <= {GOALS['ttfb_added_ms']:.0f} ms: "
        f"{verdict(j_ttfb <= GOALS['ttfb_added_ms'])})",
    ]
    for o in others:
        if o.latency:
            lines.append(
                f"{o.name}: added p50 {added(o.latency, 50):.2f} ms ({added(o.latency, 50) / max(j_added, 1e-3):.1f}x "
                f"jan's), first byte added {added(o.ttfb, 50):.2f} ms; issue's LiteLLM 1.108.7 figures: "
                f"+{ISSUE_LITELLM['added_p50_ms']:.0f} ms, first byte +{ISSUE_LITELLM['ttfb_added_ms']:.0f} ms"
            )
        ratio = j_rps / o.throughput.rps if o.throughput.rps else float("inf")
        paired = [j.rps / t.rps for j, t in zip(jan.rounds, o.rounds, strict=False) if t.rps]
        by_round = f"; round by round {', '.join(f'{x:.1f}x' for x in paired)}" if len(paired) > 1 else ""
        lines.append(
            f"throughput at {args.concurrency} clients: jan {j_rps:.0f} req/s vs {o.name} {o.throughput.rps:.1f} "
            f"req/s = {ratio:.1f}x (goal >= {GOALS['throughput_ratio']:.0f}x: "
            f"{verdict(ratio >= GOALS['throughput_ratio'])}){by_round}"
        )
    issue_ratio = j_rps / ISSUE_LITELLM["rps_1_worker"]
    lines.append(
        f"against the issue's LiteLLM figures ({ISSUE_LITELLM['rps_1_worker']:.0f} req/s per worker, "
        f"{ISSUE_LITELLM['rps_2_workers']:.0f} with two): {issue_ratio:.1f}x and "
        f"{j_rps / ISSUE_LITELLM['rps_2_workers']:.1f}x"
    )
    print("\n".join(lines))


def summary(results: list[SystemResult], hot: dict | None) -> dict[str, object]:
    def lat(d: dict[str, Latencies]) -> dict[str, object]:
        return {
            k: {"p50_ms": v.p(50), "p99_ms": v.p(99), "n": len(v.samples), "errors": v.errors} for k, v in d.items()
        }

    def tp(t: Throughput | None) -> dict[str, object] | None:
        if t is None:
            return None
        return {"rps": t.rps, "ok": t.ok, "errors": t.errors, "p50_ms": ms(percentile(t.latencies, 50)),
                "p99_ms": ms(percentile(t.latencies, 99)), "cpu_seconds": t.cpu_seconds}  # fmt: skip

    out: dict[str, object] = {
        r.name: {
            "latency": lat(r.latency),
            "ttfb": lat(r.ttfb),
            "throughput": tp(r.throughput),
            "throughput_rounds_rps": [t.rps for t in r.rounds],
            "direct_throughput": tp(r.direct_throughput),
        }
        for r in results
    }
    if hot:
        out["profile"] = hot
    return out


def print_profile(hot: dict[str, list[tuple[str, float, float]]]) -> None:
    print("\n== profile: py-spy samples during a jan throughput run (self % / inclusive % of samples) ==")
    for service, rows in hot.items():
        print(f"-- {service}")
        print(table(["function", "self %", "incl %"], [[k, s, i] for k, s, i in rows]) if rows else "  (no samples)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="non-streaming calls per system at concurrency 1")
    parser.add_argument("--stream-requests", type=int, default=300, help="streaming calls per system, concurrency 1")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of each throughput run")
    parser.add_argument("--warmup-seconds", type=float, default=3.0, help="warm-up before each throughput run")
    parser.add_argument("--concurrency", type=int, default=32, help="clients in the throughput runs")
    parser.add_argument(
        "--rounds", type=int, default=3, help="throughput runs per system, alternating jan / LiteLLM (median reported)"
    )
    parser.add_argument("--tokens", type=int, default=16, help="tokens per answer (instant engine and mock)")
    parser.add_argument(
        "--litellm-workers", type=lambda v: [int(x) for x in v.split(",")], default=[1], help="e.g. 1,2"
    )
    parser.add_argument("--no-litellm", action="store_true", help="measure jan only")
    parser.add_argument("--no-direct-throughput", dest="direct_throughput", action="store_false")
    parser.add_argument("--pin", choices=["none", "split"], default="none")
    parser.add_argument("--profile", action="store_true", help="py-spy the jan services in an extra run")
    parser.add_argument(
        "--profile-native", action="store_true", help="with --profile: py-spy --native (C frames too: gRPC core)"
    )
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logs = Path(tempfile.mkdtemp(prefix="jan-bench-gateway-"))
    print(f"logs in {logs}")
    print(f"before: {machine_load()}", flush=True)
    loadgen_cpus, server_cpus = ({0}, {1}) if args.pin == "split" else (None, None)
    if server_cpus:
        pin_self(server_cpus)  # children started from here on inherit the servers' core
    jan = JanStack(logs / "stack", args.tokens)
    mock = Mock(logs, args.tokens)
    try:
        jan.start()
        if not args.no_litellm:
            from bench.litellm_env import ensure_litellm_venv

            ensure_litellm_venv(quiet=True)
            mock.start()
        if server_cpus and loadgen_cpus:
            for pid in jan.pids().values():
                pin_tree(pid, server_cpus)
            pin_self(loadgen_cpus)
            print("pinned: load generator on CPU 0, servers on CPU 1", flush=True)
        print(f"measuring: {machine_load(exclude=[p for p in jan.pids().values()])}", flush=True)

        import uvloop

        me = {"loadgen": os.getpid()}
        jan_cpus = {**jan.pids(), **me}
        jan_url = f"{jan.stack.http_url}/v1/chat/completions"

        def start_proxy(workers: int) -> tuple[LiteLLM, dict[str, int]]:
            proxy = LiteLLM(logs, mock, workers)
            if server_cpus:
                pin_self(server_cpus)
            proxy.start()
            if server_cpus and loadgen_cpus:
                pin_tree(proxy.process.pid, server_cpus)
                pin_tree(mock.process.pid, server_cpus)
                pin_self(loadgen_cpus)
            return proxy, {"litellm": proxy.process.pid, "mock": mock.process.pid, **me}

        jan_result = uvloop.run(measure_jan(jan, args, jan_cpus))
        others: list[SystemResult] = []
        proxy: LiteLLM | None = None
        try:
            if not args.no_litellm:
                proxy, lite_cpus = start_proxy(args.litellm_workers[0])
                others.append(uvloop.run(measure_litellm(proxy, mock, args, lite_cpus, latencies=True)))

            async def alternate() -> None:
                # Rounds alternate between the systems (both running, the one not measured idle), so a slower
                # or busier minute of this shared machine hits both alike; each reports its median round.
                for r in range(args.rounds):
                    run = await http_throughput(f"jan, round {r + 1}", jan_url, jan.api_key, args, jan_cpus)
                    jan_result.rounds.append(run)
                    if proxy is not None:
                        name = f"{others[0].name}, round {r + 1}"
                        others[0].rounds.append(
                            await http_throughput(name, proxy.url, proxy.master_key, args, lite_cpus)
                        )

            uvloop.run(alternate())
        finally:
            if proxy is not None:
                proxy.stop()
        hot = uvloop.run(profile_jan(jan, args, logs)) if args.profile else None
        for workers in [] if args.no_litellm else args.litellm_workers[1:]:
            proxy, lite_cpus = start_proxy(workers)
            try:
                result = uvloop.run(measure_litellm(proxy, mock, args, lite_cpus, latencies=False))
                result.rounds.append(
                    uvloop.run(http_throughput(result.name, proxy.url, proxy.master_key, args, lite_cpus))
                )
                others.append(result)
            finally:
                proxy.stop()
        report(jan_result, others, args)
        if hot:
            print_profile(hot)
        if args.json:
            data = {"args": vars(args), **summary([jan_result, *others], hot)}
            args.json.write_text(json.dumps(data, indent=2, default=str))
        print(f"\nafter: {machine_load()}")
    finally:
        mock.stop()
        jan.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
