"""The SQL of metered usage (schema `chat`, tables usage_1m/1h/1d): one upsert statement adds a batch of
counts to all three widths; a query reads one width's buckets in a time range, grouped as asked."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg

WIDTHS = {"1m": ("usage_1m", "minute"), "1h": ("usage_1h", "hour"), "1d": ("usage_1d", "day")}
GROUPS = ("project_id", "user_id", "api_key_id", "model")
COUNTS = ("input_tokens", "cached_tokens", "output_tokens", "requests")


@dataclass(frozen=True, slots=True)
class UsageKey:
    minute: int  # unix seconds, a multiple of 60
    org_id: str
    project_id: str
    user_id: str
    api_key_id: str
    model: str


@dataclass(slots=True)
class UsageCounts:
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0


@dataclass(frozen=True, slots=True)
class UsageRow:
    bucket: int  # unix seconds
    group: dict[str, str]  # the group_by columns' values ('' for none)
    counts: UsageCounts


def _upsert(table: str, unit: str) -> str:
    return (
        f"ins_{unit} AS (INSERT INTO chat.{table} AS u (bucket, org_id, project_id, user_id, api_key_id, model,"
        " input_tokens, cached_tokens, output_tokens, requests)"
        f" SELECT date_trunc('{unit}', b.bucket, 'UTC'), b.org_id, b.project_id, b.user_id, b.api_key_id, b.model,"
        " sum(b.input_tokens), sum(b.cached_tokens), sum(b.output_tokens), sum(b.requests) FROM batch b"
        f" GROUP BY 1, 2, 3, 4, 5, 6"
        " ON CONFLICT (org_id, bucket, project_id, user_id, api_key_id, model) DO UPDATE SET"
        " input_tokens = u.input_tokens + excluded.input_tokens, cached_tokens = u.cached_tokens +"
        " excluded.cached_tokens, output_tokens = u.output_tokens + excluded.output_tokens,"
        " requests = u.requests + excluded.requests RETURNING 1)"
    )


_ADD = (
    "WITH batch AS (SELECT to_timestamp(t.minute) AS bucket, t.org_id, t.project_id, t.user_id, t.api_key_id,"
    " t.model, t.input_tokens, t.cached_tokens, t.output_tokens, t.requests FROM unnest($1::bigint[], $2::text[],"
    " $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[])"
    " AS t (minute, org_id, project_id, user_id, api_key_id, model, input_tokens, cached_tokens, output_tokens,"
    " requests)), "
    + ", ".join(_upsert(table, unit) for table, unit in WIDTHS.values())
    + " SELECT (SELECT count(*) FROM ins_minute) + (SELECT count(*) FROM ins_hour) + (SELECT count(*) FROM ins_day)"
)


class UsageStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(self, batch: dict[UsageKey, UsageCounts]) -> None:
        """Adds a batch of counts to every width, in one statement."""
        keys, counts = list(batch), list(batch.values())
        await self._pool.fetchval(
            _ADD,
            [k.minute for k in keys],
            [k.org_id for k in keys],
            [k.project_id for k in keys],
            [k.user_id for k in keys],
            [k.api_key_id for k in keys],
            [k.model for k in keys],
            [c.input_tokens for c in counts],
            [c.cached_tokens for c in counts],
            [c.output_tokens for c in counts],
            [c.requests for c in counts],
        )

    async def query(
        self,
        org_id: str,
        width: str,
        start: int,
        end: int,
        group_by: tuple[str, ...],
        filters: dict[str, list[str]],
    ) -> list[UsageRow]:
        """The rows of `width` in [start, end), summed over what is not grouped, ordered by bucket."""
        table, _ = WIDTHS[width]
        args: list[Any] = [org_id, dt.datetime.fromtimestamp(start, dt.UTC), dt.datetime.fromtimestamp(end, dt.UTC)]
        where = ["org_id = $1", "bucket >= $2", "bucket < $3"]
        for column, values in filters.items():
            if values:
                args.append(values)
                where.append(f"{column} = ANY(${len(args)}::text[])")
        grouped = ", ".join(group_by)
        rows = await self._pool.fetch(
            f"SELECT extract(epoch FROM bucket)::bigint AS bucket{', ' + grouped if grouped else ''},"
            " sum(input_tokens)::bigint AS input_tokens, sum(cached_tokens)::bigint AS cached_tokens,"
            " sum(output_tokens)::bigint AS output_tokens, sum(requests)::bigint AS requests"
            f" FROM chat.{table} WHERE {' AND '.join(where)}"
            f" GROUP BY bucket{', ' + grouped if grouped else ''} ORDER BY bucket{', ' + grouped if grouped else ''}",
            *args,
        )
        # Positional reads: the counts are the last four columns (this loop is most of a big query's time).
        groups = range(1, 1 + len(group_by))
        return [
            UsageRow(
                r[0], dict(zip(group_by, [r[i] for i in groups], strict=True)), UsageCounts(r[-4], r[-3], r[-2], r[-1])
            )
            for r in rows
        ]
