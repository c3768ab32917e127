"""Usage metering and OpenAI's completions usage API.

Every generation the chat service asks of the inference service (a completion's, a Response's, each step of a
web search loop) is counted by the inference client (inference_client.py) from the engine's own token counts:
the final `usage` when the generation ends, else (the caller left, the stream broke) the prompt tokens of its
first message and the tokens of every message received. `UsageMeter.record` only adds to a dictionary in
memory, keyed by minute and (organization, project, user, API key, model): no database work on the request
path. A flush task writes the whole dictionary in one statement every `flush_seconds`, so writes are bounded
by time, not traffic; a replica that dies loses at most that much metering.

`Usage.completions` answers GET /v1/organization/usage/completions: buckets of 1m, 1h or 1d from the
matching table (usage_1m/1h/1d), results grouped by any of project_id, user_id, api_key_id and model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from jan.v1 import types_pb2
from services.chat.store.usage import COUNTS, GROUPS, WIDTHS, UsageCounts, UsageKey, UsageRow, UsageStore
from services.common.errors import InvalidArgument

log = logging.getLogger(__name__)

_SECONDS = {"1m": 60, "1h": 3600, "1d": 86400}
_LIMITS = {"1m": (60, 1440), "1h": (24, 168), "1d": (7, 31)}  # default and most buckets per page
_PAGE_PREFIX = "page_"
_GROUP_BY = (*GROUPS, "batch", "service_tier")  # every generation here is a non-batch one, on the default tier


class UsageMeter:
    def __init__(self, store: UsageStore, flush_seconds: float) -> None:
        self._store = store
        self._flush_seconds = flush_seconds
        self._pending: dict[UsageKey, UsageCounts] = {}
        self._task: asyncio.Task[None] | None = None

    def record(self, attribution: types_pb2.Attribution, model: str, usage: types_pb2.Usage) -> None:
        """Counts one generation (in memory; the flush task writes it)."""
        if not attribution.org_id and not attribution.user_id:
            return  # a call without a caller (the service's own port, no identity): nobody to count against
        minute = int(time.time()) // 60 * 60
        key = UsageKey(
            minute, attribution.org_id, attribution.project_id, attribution.user_id, attribution.api_key_id, model
        )
        counts = self._pending.get(key)
        if counts is None:
            counts = self._pending[key] = UsageCounts()
        counts.input_tokens += usage.prompt_tokens
        counts.cached_tokens += usage.prompt_tokens_details.cached_tokens
        counts.output_tokens += usage.completion_tokens
        counts.requests += 1

    async def start(self) -> None:
        self._task = asyncio.create_task(self._flush_loop())

    async def stop(self) -> None:
        """Stops the loop and writes what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        try:
            await self._store.add(batch)
        except Exception:
            log.exception("writing usage failed; kept for the next flush")
            for key, counts in batch.items():  # merged back: counted once, whenever the database is back
                kept = self._pending.setdefault(key, UsageCounts())
                for name in COUNTS:
                    setattr(kept, name, getattr(kept, name) + getattr(counts, name))

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            await self.flush()


@dataclass(frozen=True, slots=True)
class UsageQuery:
    start_time: int
    end_time: int | None
    bucket_width: str
    group_by: tuple[str, ...]
    filters: dict[str, list[str]]  # column -> values
    limit: int | None
    page: str
    batch_only: bool = False  # batch=true: batch jobs only (this server runs none)


class Usage:
    def __init__(self, store: UsageStore) -> None:
        self._store = store

    async def completions(self, org_id: str, query: UsageQuery) -> dict[str, Any]:
        """OpenAI's UsageResponse: a page of buckets from start_time (or the page cursor), each with its
        results."""
        width = query.bucket_width or "1d"
        if width not in WIDTHS:
            raise InvalidArgument("bucket_width must be 1m, 1h or 1d", param="bucket_width")
        for name in query.group_by:
            if name not in _GROUP_BY:
                allowed = ", ".join(_GROUP_BY)
                raise InvalidArgument(f"group_by values must be among {allowed}; got {name[:64]!r}", param="group_by")
        default, most = _LIMITS[width]
        limit = default if query.limit is None else query.limit
        if not 1 <= limit <= most:
            raise InvalidArgument(f"limit must be between 1 and {most} for bucket_width {width}", param="limit")
        if query.start_time < 0:
            raise InvalidArgument("start_time must be a unix time in seconds", param="start_time")
        seconds = _SECONDS[width]
        end = query.end_time if query.end_time is not None else int(time.time()) + 1
        if end <= query.start_time:
            raise InvalidArgument("end_time must be after start_time", param="end_time")
        first = _page_start(query.page) if query.page else query.start_time // seconds * seconds
        starts = list(range(first, end, seconds))[:limit]
        if not starts:
            return {"object": "page", "data": [], "has_more": False, "next_page": None}
        last_end = starts[-1] + seconds
        grouped = tuple(name for name in dict.fromkeys(query.group_by) if name in GROUPS)
        rows = (
            []
            if query.batch_only
            else await self._store.query(org_id, width, starts[0], min(last_end, end), grouped, query.filters)
        )
        by_bucket: dict[int, list[UsageRow]] = {}
        for row in rows:
            by_bucket.setdefault(row.bucket, []).append(row)
        data = [
            {
                "object": "bucket",
                "start_time": start,
                "end_time": start + seconds,
                "results": [_result(row, query.group_by) for row in by_bucket.get(start, [])],
            }
            for start in starts
        ]
        more = last_end < end
        return {"object": "page", "data": data, "has_more": more, "next_page": _page(last_end) if more else None}


def _result(row: UsageRow, group_by: tuple[str, ...]) -> dict[str, Any]:
    counts = row.counts
    return {
        "object": "organization.usage.completions.result",
        "input_tokens": counts.input_tokens,
        "input_cached_tokens": counts.cached_tokens,
        "input_uncached_tokens": counts.input_tokens - counts.cached_tokens,
        "input_text_tokens": counts.input_tokens - counts.cached_tokens,
        "input_cached_text_tokens": counts.cached_tokens,
        "output_tokens": counts.output_tokens,
        "output_text_tokens": counts.output_tokens,
        "input_audio_tokens": 0,
        "output_audio_tokens": 0,
        "num_model_requests": counts.requests,
        **{name: (row.group.get(name) or None) if name in group_by else None for name in GROUPS},
        "batch": False if "batch" in group_by else None,
        "service_tier": "default" if "service_tier" in group_by else None,
    }


def _page(start: int) -> str:
    return f"{_PAGE_PREFIX}{start}"


def _page_start(page: str) -> int:
    value = page.removeprefix(_PAGE_PREFIX)
    if not page.startswith(_PAGE_PREFIX) or not value.isdigit():
        raise InvalidArgument("page must be a next_page value of an earlier answer", param="page")
    return int(value)
