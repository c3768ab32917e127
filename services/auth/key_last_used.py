"""API key last-used times, kept in memory at minute resolution and written in batches.

A check that uses a key records the current minute (once per key per minute); a background task writes
the pending minutes in one UPDATE every `flush_seconds`, and `stop()` writes what is left. A write never
moves a key's time backwards, so replicas flushing in any order agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from services.auth.store import Store

log = logging.getLogger(__name__)


def current_minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


class KeyLastUsed:
    def __init__(self, store: Store, flush_seconds: float) -> None:
        self._store = store
        self._flush_seconds = flush_seconds
        self._pending: dict[str, datetime] = {}
        self._recorded: dict[str, datetime] = {}  # the minute last recorded per key, to skip repeats cheaply
        self._task: asyncio.Task[None] | None = None

    def touch(self, key_id: str) -> None:
        minute = current_minute()
        if self._recorded.get(key_id) != minute:
            self._recorded[key_id] = minute
            self._pending[key_id] = minute

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> int:
        """Writes the pending times; on failure they stay pending for the next flush."""
        batch, self._pending = self._pending, {}
        if not batch:
            return 0
        try:
            await self._store.record_key_use(list(batch.items()))
        except Exception:
            log.warning("could not record API key use; will retry", exc_info=True)
            for key_id, minute in batch.items():
                self._pending.setdefault(key_id, minute)
            return 0
        minute = current_minute()
        self._recorded = {k: m for k, m in self._recorded.items() if m >= minute}
        return len(batch)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            await self.flush()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
