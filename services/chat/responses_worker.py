"""Runs background responses: every chat replica takes queued responses from PostgreSQL (FOR UPDATE SKIP
LOCKED, so two replicas never take the same one), generates them, logs their events in batches for
followers on any replica, and writes the ended Response.

Liveness: a running response's heartbeat is written every `heartbeat_seconds`, and the same write reports a
cancel request, so a cancel stops generation within a heartbeat. A response whose heartbeat stopped (its
replica was killed) is failed, with a response.failed event, by whichever replica's reaper sees it first.
At a graceful stop the replica finishes what it runs for up to `drain_seconds`, then fails the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass

import asyncpg

from services.chat.responses import Responses, run_request
from services.chat.responses_output import Event, ResponseBuilder, failure_code
from services.chat.responses_request import ResponseRequest
from services.chat.store.responses import QUEUE_CHANNEL, ResponseStore, StoredResponse, finished_with_turn
from services.common.db import NotifyListener
from services.common.errors import JanError

log = logging.getLogger(__name__)

# The events that end a response. The log holds one back until the response's row ends with it, so a
# follower that reads it finds the response ended, and so it can still be replaced (see _run).
_ENDS = frozenset({"response.completed", "response.incomplete", "response.failed"})


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    concurrency: int = 8  # background responses one replica generates at once
    poll_seconds: float = 1.0  # queue check when no notification came (notifications are not guaranteed)
    heartbeat_seconds: float = 0.5
    stale_seconds: float = 15.0  # a running response without a heartbeat for this long is failed
    flush_seconds: float = 0.1  # events are logged in batches at most this far apart
    drain_seconds: float = 10.0


class BackgroundRunner:
    def __init__(self, responses: Responses, store: ResponseStore, dsn: str, settings: RunnerSettings) -> None:
        self._responses = responses
        self._store = store
        self._settings = settings
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._wake = asyncio.Event()
        self._runs: set[asyncio.Task[None]] = set()
        self._generations: set[asyncio.Task[ResponseRequest]] = set()
        self._loops: list[asyncio.Task[None]] = []
        # Queue notifications (a wake-up; the poll finds the work anyway), heard again after a database restart.
        self._listener = NotifyListener(dsn, QUEUE_CHANNEL, self._notified, on_up=self._notified)

    @property
    def running(self) -> int:
        """Background responses this replica is running now."""
        return len(self._runs)

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def start(self) -> None:
        await self._listener.start()
        self._loops = [asyncio.create_task(self._take_loop()), asyncio.create_task(self._reap_loop())]

    async def stop(self) -> None:
        """Takes no more work, lets what runs finish for up to drain_seconds, then fails the rest."""
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self._runs:
            await asyncio.wait(self._runs, timeout=self._settings.drain_seconds)
            for generation in self._generations:
                generation.cancel()  # its run fails the response
            await asyncio.gather(*self._runs, return_exceptions=True)
        await self._listener.stop()

    # -- the queue ------------------------------------------------------------------------------------

    async def _take_loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                while len(self._runs) < self._settings.concurrency:
                    stored = await self._store.claim(self.worker_id)
                    if stored is None:
                        break
                    task = asyncio.create_task(self._run(stored))
                    self._runs.add(task)
                    task.add_done_callback(self._runs.discard)
                    task.add_done_callback(self._notified)  # a slot is free: look again
            except (OSError, asyncpg.PostgresError):
                log.exception("taking queued responses failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.poll_seconds)

    async def _reap_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.stale_seconds / 3)
            try:
                for response_id in await self._store.fail_stale(self._settings.stale_seconds):
                    log.warning("failed a background response whose runner stopped", extra={"response_id": response_id})
            except (OSError, asyncpg.PostgresError):
                log.exception("failing stale background responses failed; retrying")

    # -- one response ---------------------------------------------------------------------------------

    async def _run(self, stored: StoredResponse) -> None:
        builder = ResponseBuilder.resume(stored.response, await self._store.last_sequence(stored.id) + 1)
        events = _EventLog(self._store, stored.id, self._settings.flush_seconds)
        request = None
        generation = asyncio.create_task(self._generate(stored, builder, events))
        self._generations.add(generation)
        generation.add_done_callback(self._generations.discard)
        cancel_asked = await self._watch(stored.id, generation)
        try:
            request = await generation
        except asyncio.CancelledError:
            if cancel_asked:
                events.add(builder.cancelled())
            else:  # this replica is stopping
                events.add(builder.fail("the replica running this response stopped; create it again"))
        except Exception:  # whatever broke, the response must end
            log.exception("background response failed", extra={"response_id": stored.id})
            events.add(builder.fail("the response failed"))
        response, last = builder.response, await events.close()
        if request is not None and request.conversation_id and response["status"] != "failed":
            # Ended in the statement that appends its turn: both or neither. A conversation deleted or filled
            # up meanwhile refuses the turn, and the response fails saying so instead of ending without it.
            try:
                ended = finished_with_turn(stored.id, response, last)
                await self._responses.record_in_conversation(request, stored.owner, response, also=ended)
                return
            except JanError as error:
                reason = f"the response could not be added to its conversation: {error.message}"
                last = [e for e in last if e["type"] not in _ENDS] + builder.fail(reason, failure_code(error))
        await self._store.finish(stored.id, builder.response, last)

    async def _generate(self, stored: StoredResponse, builder: ResponseBuilder, events: _EventLog) -> ResponseRequest:
        events.add(builder.in_progress())
        request = run_request(stored.request)
        try:
            async for event in self._responses.run(request, stored.owner, builder, announce=False):
                events.add([event])
        except JanError as error:  # refused before any output (e.g. the prompt does not fit the context)
            events.add(builder.fail(error.message, failure_code(error)))
        return request

    async def _watch(self, response_id: str, generation: asyncio.Task[ResponseRequest]) -> bool:
        """Heartbeats until the generation ends; cancels it when a cancel is asked for (answers whether)."""
        while not generation.done():
            await asyncio.wait({generation}, timeout=self._settings.heartbeat_seconds)
            if generation.done():
                break
            try:
                stop = await self._store.heartbeat(response_id, self.worker_id)
            except (OSError, asyncpg.PostgresError):
                log.exception("heartbeat failed", extra={"response_id": response_id})
                continue
            if stop:
                generation.cancel()
                return True
        return False


class _EventLog:
    """The events of a running response, logged in batches at most `flush_seconds` apart (followers poll
    the log); what is left when the response ends, its ending event always among it, is written with its end."""

    def __init__(self, store: ResponseStore, response_id: str, flush_seconds: float) -> None:
        self._store = store
        self._response_id = response_id
        self._flush_seconds = flush_seconds
        self._pending: list[Event] = []
        self._closed = asyncio.Event()
        self._writer = asyncio.create_task(self._write_loop())

    def add(self, events: list[Event]) -> None:
        self._pending += events

    async def _write_loop(self) -> None:
        while not self._closed.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), self._flush_seconds)
            if self._pending and not self._closed.is_set():
                end = self._pending[-1:] if self._pending[-1]["type"] in _ENDS else []  # written with the row's
                batch, self._pending = self._pending[: len(self._pending) - len(end)], end
                if not batch:
                    continue
                try:
                    await self._store.append_events(self._response_id, batch)
                except (OSError, asyncpg.PostgresError):
                    log.exception("logging events failed; retrying", extra={"response_id": self._response_id})
                    self._pending = batch + self._pending

    async def close(self) -> list[Event]:
        """Stops logging (after a write under way); answers the events not logged yet."""
        self._closed.set()
        await self._writer
        batch, self._pending = self._pending, []
        return batch
