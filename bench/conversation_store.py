"""Stored conversations: what an item append, a page of items and a history load cost as conversations and the
table grow, and what storing adds to a chat completion.

    make bench-conversations      # or: PYTHONPATH=.:gen/python .venv/bin/python -m bench.conversation_store

1. The store (services/chat/store.py) on a PostgreSQL of its own (embedded, durable like `make up`'s; or
   DATABASE_URL), one connection pool, no gRPC: p50/p99 over --reps calls of
     append    a turn: 2 items (user question, assistant answer) at the end of the conversation
     page      the newest 20 items, and 20 items after a cursor in the middle
     history   what a completion replays: instructions plus the newest items within the byte budget of a
               4,096-token model (65,536 bytes)
   for conversations of 10, 1,000 and 10,000 items, first in a table holding just them, then again after
   the table grows to 1,000,000 items across 10,000 more conversations. Goal: flat (the 10,000-item figure
   within 1.5x of the 10-item one).
2. A completion with and without storing, through the chat service's gRPC port (the whole stack from
   devstack.Stack, the inference service on its INSTANT test engine, so the generation itself costs ~0):
   plain against `store` (the turn stored in a new conversation); a client sending 40 earlier messages itself
   against `conversation` replaying the same 40 stored items (what reading the history costs), and that
   replay with `store` against it without (each storing call gets a conversation of its own, so every call
   replays 40 items); interleaved call by call; p50 added. Goal: storing adds <= 1 ms p50.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.common import machine_load, ms, percentile, stack_env, table

SIZES = (10, 1_000, 10_000)
HISTORY_BUDGET_BYTES = 4096 * 16  # services.chat.completions.HISTORY_BYTES_PER_TOKEN for a 4,096-token model
BIG_TABLE_CONVERSATIONS = 10_000
BIG_TABLE_ITEMS_EACH = 100
QUESTION = "What is the weather like in Paris today, and should I take an umbrella?"
ANSWER = "It is mostly sunny in Paris today with a light breeze; no umbrella needed. " * 3


async def timed(reps: int, call: Callable[[int], Awaitable[object]]) -> tuple[float, float]:
    samples = []
    for i in range(reps):
        t0 = time.perf_counter()
        await call(i)
        samples.append(time.perf_counter() - t0)
    return ms(percentile(samples, 50)), ms(percentile(samples, 99))


def turn(i: int):
    from services.chat import items

    question = items.check_input_item({"role": "user", "content": f"{QUESTION} ({i})"}, "i")
    answer = items.check_input_item({"role": "assistant", "content": ANSWER}, "i")
    return [question, answer]


async def fill(store, owner, conversation_id: str, count: int) -> None:
    """Appends `count` items (turns of 2) in batches."""
    for start in range(0, count, 200):
        batch = []
        for i in range(start, min(count, start + 200), 2):
            batch += turn(i)
        await store.append(conversation_id, owner, batch[: count - start])


async def bulk_grow(pool, conversations: int, each: int) -> None:
    """Grows the table to conversations x each more items with set-based SQL (the append path would take an
    hour here), shaped like what appends write."""
    body = json.dumps({"role": "user", "content": [{"type": "input_text", "text": QUESTION}], "status": "completed"})
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO chat.conversations (id, user_id, project_id, metadata, title, next_seq, total_size)"
            " SELECT 'conv_bulk_' || g, 'user_bulk_' || (g % 500), NULL, '{}', 'bulk', $2 + 1, $2 * octet_length($3)"
            " FROM generate_series(1, $1) AS g",
            conversations,
            each,
            body,
        )
        await conn.execute(
            "INSERT INTO chat.items (id, conversation_id, seq, end_offset, type, role, size, body)"
            " SELECT 'msg_bulk_' || c || '_' || s, 'conv_bulk_' || c, s, s * octet_length($3), 'message', 'user',"
            " octet_length($3), $3::jsonb"
            " FROM generate_series(1, $1) AS c, generate_series(1, $2) AS s",
            conversations,
            each,
            body,
        )
        await conn.execute("ANALYZE chat.items; ANALYZE chat.conversations")


async def measure_store(pool, reps: int) -> list[list[object]]:
    from services.chat.domain import Owner, new_id
    from services.chat.store import ConversationStore

    store = ConversationStore(pool)
    owner = Owner("user_bench", None)
    rows: list[list[object]] = []

    async def round_(label: str) -> None:
        for size in SIZES:
            # A fresh conversation each round: the appends measured below grow it by 2 x reps items.
            c = (await store.create(new_id("conv"), owner, "bench", {}, [])).id
            await fill(store, owner, c, size)
            middle_seq = size // 2
            page_newest = await timed(reps, lambda _, c=c: store.list_items(c, 20, None, True))
            page_middle = await timed(reps, lambda _, c=c, m=middle_seq: store.list_items(c, 20, m, True))
            history = await timed(reps, lambda _, c=c: store.history(c, owner, HISTORY_BUDGET_BYTES))
            replayed = len(await store.history(c, owner, HISTORY_BUDGET_BYTES) or [])
            append = await timed(reps, lambda i, c=c: store.append(c, owner, turn(i)))
            rows.append([label, size, *append, *page_newest, *page_middle, *history, replayed])
            print(
                f"  {label}, {size} items: append p50 {append[0]:.2f} ms, history p50 {history[0]:.2f} ms", flush=True
            )

    await round_("small table")
    t0 = time.monotonic()
    await bulk_grow(pool, BIG_TABLE_CONVERSATIONS, BIG_TABLE_ITEMS_EACH)
    count = await pool.fetchval("SELECT count(*) FROM chat.items")
    print(f"  table grown to {count:,} items in {time.monotonic() - t0:.0f} s", flush=True)
    await round_(f"{count / 1e6:.1f}M items")
    return rows


async def measure_completions(stack, reps: int) -> dict[str, tuple[float, float]]:
    import grpc
    from google.protobuf import json_format, struct_pb2

    from jan.v1 import chat_service_pb2 as pb
    from jan.v1 import chat_service_pb2_grpc

    def struct(value: dict) -> struct_pb2.Struct:
        out = struct_pb2.Struct()
        out.update(value)
        return out

    from tests.support.identity import identity_metadata

    # As Envoy's ext_authz step sets it: signed with the stack's key, valid for the benchmark's length.
    identity = identity_metadata(stack.identity_secret, "user_bench_completions", expires_at=int(time.time()) + 86400)
    body = {"model": "instant", "messages": [{"role": "user", "content": QUESTION}], "max_tokens": 16}
    async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.config.service_ports['chat']}") as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)

        def request(**extra: object) -> pb.CreateChatCompletionRequest:
            return pb.CreateChatCompletionRequest(
                params=json_format.ParseDict({**body, **extra}, pb.ChatCompletionParams())
            )

        # The same 40 messages as a client sends them without server-side history, and as stored items:
        # one conversation per call that stores (each call appends, so each starts from the same 40 items).
        forty = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"{QUESTION} {i}"} for i in range(40)]

        async def conversation_of_forty() -> str:
            items = [struct(m) for m in forty]
            created = await stub.CreateConversation(pb.CreateConversationRequest(items=items[:20]), metadata=identity)
            await stub.CreateConversationItems(
                pb.CreateConversationItemsRequest(conversation_id=created.id, items=items[20:]), metadata=identity
            )
            return created.id

        shared = await conversation_of_forty()
        fresh = [await conversation_of_forty() for _ in range(reps)]
        kinds = {
            "plain": lambda _: request(),
            "store (new conversation)": lambda _: request(store=True),
            "client sends 40 messages": lambda _: request(messages=[*forty, *body["messages"]]),
            "conversation replays 40": lambda _: request(conversation=shared),
            "conversation replays 40 + store": lambda i: request(store=True, conversation=fresh[i]),
        }
        samples: dict[str, list[float]] = {k: [] for k in kinds}
        for i in range(reps):  # interleaved, so drift hits every kind alike
            for kind, make in kinds.items():
                message = make(i)
                t0 = time.perf_counter()
                await stub.CreateChatCompletion(message, metadata=identity)
                samples[kind].append(time.perf_counter() - t0)
    return {k: (ms(percentile(v, 50)), ms(percentile(v, 99))) for k, v in samples.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200, help="calls per measurement")
    parser.add_argument("--skip-store", action="store_true")
    parser.add_argument("--skip-completions", action="store_true")
    args = parser.parse_args(argv)

    import uvloop

    from devstack.ports import free_port
    from devstack.postgres import LocalPostgres
    from devstack.stack import Stack, StackConfig
    from services.chat.server import MIGRATIONS
    from services.common.db import apply_migrations, create_pool
    from services.common.settings import DatabaseSettings

    run_dir = Path(tempfile.mkdtemp(prefix="jan-bench-conversations-"))
    print(f"logs and data in {run_dir}\nbefore: {machine_load()}", flush=True)
    if not args.skip_store:
        server = None
        url = os.environ.get("DATABASE_URL")
        if not url:
            server = LocalPostgres(run_dir / "pgdata", free_port(), durable=True)
            url = server.start()
        try:

            async def store_part() -> list[list[object]]:
                pool = await create_pool(DatabaseSettings(DATABASE_URL=url))  # the chat service's own pool
                try:
                    await apply_migrations(pool, "chat", MIGRATIONS)
                    return await measure_store(pool, args.reps)
                finally:
                    await pool.close()

            rows = uvloop.run(store_part())
        finally:
            if server:
                server.stop()
        headers = [
            "table",
            "items",
            "append p50",
            "p99",
            "page p50",
            "p99",
            "page@middle p50",
            "p99",
            "history p50",
            "p99",
            "replayed",
        ]
        print("\nstore latency (ms)\n" + table(headers, rows))
        for label in dict.fromkeys(r[0] for r in rows):
            by_size = {r[1]: r for r in rows if r[0] == label}
            ratios = [by_size[SIZES[-1]][i] / by_size[SIZES[0]][i] for i in (2, 4, 6, 8)]
            worst = max(ratios)
            print(
                f"{label}: 10,000 vs 10 items, p50 ratios append/page/page@middle/history "
                f"{' / '.join(f'{r:.2f}' for r in ratios)}: {'MET' if worst <= 1.5 else 'MISSED'} (goal <= 1.5)"
            )
    if not args.skip_completions:
        env = stack_env()
        stack = Stack(
            StackConfig.on_free_ports(
                run_dir=run_dir / "stack", data_dir=run_dir / "stack-pg", durable_postgres=True, env=env
            )
        )
        try:
            stack.start(timeout=300)
            results = uvloop.run(measure_completions(stack, args.reps))
        finally:
            stack.stop()
        baselines = {
            "plain": "plain",
            "store (new conversation)": "plain",
            "client sends 40 messages": "client sends 40 messages",
            "conversation replays 40": "client sends 40 messages",
            "conversation replays 40 + store": "conversation replays 40",
        }
        rows = [[kind, p50, p99, p50 - results[baselines[kind]][0]] for kind, (p50, p99) in results.items()]
        print(
            "\nchat completion through chat's gRPC port, instant engine (ms); added = over plain for store, over the\n"
            "client sending the same 40 messages itself for the replayed conversation (reading the history), over\n"
            "the same replay without store for the replayed conversation that stores\n"
            + table(["kind", "p50", "p99", "added p50"], rows)
        )
        added = max(r[3] for r in rows if "store" in r[0])
        print(f"storing adds at most {added:.2f} ms p50: {'MET' if added <= 1.0 else 'MISSED'} (goal <= 1 ms)")
    print(f"\nafter: {machine_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
