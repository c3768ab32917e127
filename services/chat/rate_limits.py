"""Projects' rate limits (requests and tokens per minute, requests per day, per model), counted across every
chat replica without a database round trip on the request path.

Each replica counts in memory what it admitted since its last sync, and knows the totals every replica had
written as of that sync. A request is admitted when those totals plus this replica's unsynced counts leave
room. Every `sync_seconds` one statement adds this replica's counts to the shared rows (chat.rate_counts,
one per project, model and window) and reads back the totals. So the limit holds across replicas to within
what the other replicas admit in one sync interval (0.25 s by default); writes per replica are bounded by
time, not traffic. Tokens are counted when a generation ends (its real usage): a request is refused once the
minute's tokens are spent, and the one that spends the last of them may go over.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from dataclasses import dataclass

import asyncpg

from services.common.errors import ResourceExhausted

log = logging.getLogger(__name__)
_MINUTE, _DAY = 60, 86400


@dataclass(frozen=True, slots=True)
class Limits:
    """One model's limits for a project; 0 is no limit."""

    requests_per_minute: int = 0
    tokens_per_minute: int = 0
    requests_per_day: int = 0


@dataclass(frozen=True, slots=True)
class _Window:
    project_id: str
    model: str
    width: int  # seconds: _MINUTE or _DAY
    start: int  # unix seconds


class _Count:
    __slots__ = ("requests", "tokens")

    def __init__(self) -> None:
        self.requests = 0
        self.tokens = 0


class RateLimiter:
    def __init__(self, pool: asyncpg.Pool, sync_seconds: float) -> None:
        self._pool = pool
        self._sync_seconds = sync_seconds
        self._unsynced: dict[_Window, _Count] = {}
        self._totals: dict[_Window, _Count] = {}  # every replica's, as of the last sync
        self._task: asyncio.Task[None] | None = None

    # -- the request path ----------------------------------------------------------------------------
    def admit(self, project_id: str, model: str, limits: Limits) -> None:
        """Counts one request, or refuses it (ResourceExhausted with retry-after and x-ratelimit-* headers)."""
        now = time.time()
        minute = self._window(project_id, model, _MINUTE, now)
        day = self._window(project_id, model, _DAY, now)
        checks = (
            ("requests", "RPM", limits.requests_per_minute, minute, self._used(minute).requests + 1),
            ("tokens", "TPM", limits.tokens_per_minute, minute, self._used(minute).tokens + 1),
            ("requests", "RPD", limits.requests_per_day, day, self._used(day).requests + 1),
        )
        for kind, unit, limit, window, needed in checks:
            if limit and needed > limit:
                reset = max(1, int(window.start + window.width - now + 0.999))
                raise ResourceExhausted(
                    f"Rate limit reached for {model} in project {project_id} on {kind} per "
                    f"{'day' if window.width == _DAY else 'min'} ({unit}): Limit {limit}, Used {needed - 1}, "
                    f"Requested 1. Please try again in {reset}s.",
                    code="rate_limit_exceeded",
                    retry_after=reset,
                    headers=self._headers(limits, minute, now),
                )
        self._unsynced_count(minute).requests += 1
        self._unsynced_count(day).requests += 1

    def count_tokens(self, project_id: str, model: str, tokens: int) -> None:
        """A generation's real tokens (input and output), against the current minute."""
        if project_id and tokens:
            self._unsynced_count(self._window(project_id, model, _MINUTE, time.time())).tokens += tokens

    def _headers(self, limits: Limits, minute: _Window, now: float) -> dict[str, str]:
        used = self._used(minute)
        reset = f"{max(0.0, minute.start + _MINUTE - now):.0f}s"
        headers = {}
        if limits.requests_per_minute:
            headers["x-ratelimit-limit-requests"] = str(limits.requests_per_minute)
            headers["x-ratelimit-remaining-requests"] = str(max(0, limits.requests_per_minute - used.requests))
            headers["x-ratelimit-reset-requests"] = reset
        if limits.tokens_per_minute:
            headers["x-ratelimit-limit-tokens"] = str(limits.tokens_per_minute)
            headers["x-ratelimit-remaining-tokens"] = str(max(0, limits.tokens_per_minute - used.tokens))
            headers["x-ratelimit-reset-tokens"] = reset
        return headers

    @staticmethod
    def _window(project_id: str, model: str, width: int, now: float) -> _Window:
        return _Window(project_id, model, width, int(now) // width * width)

    def _used(self, window: _Window) -> _Count:
        total = _Count()
        for counts in (self._totals.get(window), self._unsynced.get(window)):
            if counts is not None:
                total.requests += counts.requests
                total.tokens += counts.tokens
        return total

    def _unsynced_count(self, window: _Window) -> _Count:
        count = self._unsynced.get(window)
        if count is None:
            count = self._unsynced[window] = _Count()
        return count

    # -- sharing the counts --------------------------------------------------------------------------
    async def sync(self) -> None:
        """Adds this replica's counts to the shared rows and reads back every replica's totals, for every
        window this replica counts or has counted in (so it sees the others' use of those)."""
        now = time.time()
        self._totals = {w: c for w, c in self._totals.items() if w.start + w.width > now}  # past windows go
        batch, self._unsynced = self._unsynced, {}
        windows = list({*batch, *self._totals})
        if not windows:
            return
        deltas = [batch.get(w) or _Count() for w in windows]
        try:
            rows = await self._pool.fetch(
                "INSERT INTO chat.rate_counts AS r (project_id, model, width, window_start, requests, tokens)"
                " SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[], $5::bigint[],"
                " $6::bigint[]) ON CONFLICT (project_id, model, width, window_start) DO UPDATE SET"
                " requests = r.requests + excluded.requests, tokens = r.tokens + excluded.tokens"
                " RETURNING project_id, model, width, extract(epoch FROM window_start)::bigint AS start, requests,"
                " tokens",
                [w.project_id for w in windows],
                [w.model for w in windows],
                [w.width for w in windows],
                [dt.datetime.fromtimestamp(w.start, dt.UTC) for w in windows],
                [d.requests for d in deltas],
                [d.tokens for d in deltas],
            )
        except Exception:  # any failure (database down, a closed connection, a timeout): the loop must go on
            log.exception("sharing rate limit counts failed; kept for the next sync")
            for window, count in batch.items():
                kept = self._unsynced_count(window)
                kept.requests += count.requests
                kept.tokens += count.tokens
            return
        for row in rows:
            total = _Count()
            total.requests, total.tokens = row["requests"], row["tokens"]
            self._totals[_Window(row["project_id"], row["model"], row["width"], row["start"])] = total

    async def start(self) -> None:
        self._task = asyncio.create_task(self._sync_loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.sync()

    async def _sync_loop(self) -> None:
        cleaned = 0.0
        while True:
            await asyncio.sleep(self._sync_seconds)
            await self.sync()
            if time.monotonic() - cleaned > 3600:  # rows of windows that ended more than a day ago
                cleaned = time.monotonic()
                try:
                    await self._pool.execute(
                        "DELETE FROM chat.rate_counts WHERE window_start < now() - interval '2 days'"
                    )
                except Exception:  # tried again in an hour
                    log.exception("removing old rate limit counts failed")
