"""In-memory caches for ext_authz, and the invalidations that keep them honest across replicas.

Every change that can turn an allowed request into a denied one (a session or key revoked, a member
removed, a role changed, a project archived; and a guest signing up) calls `Store.invalidate` with typed
events (invalidation.py) in its transaction: the store sends them with pg_notify, which PostgreSQL delivers
to every replica's listening connection (this one's included) when the transaction commits, and hands them
to this replica's hub right after the commit. So a revocation holds at once on the replica that made it and
within the NOTIFY delivery time (milliseconds) on the others. A payload this replica does not understand
clears every cache. If the listening connection drops, the caches are cleared and bypassed until it is
back; and no entry outlives its TTL (JAN_AUTHZ_CACHE_TTL_SECONDS), the hard bound if a notification is lost.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

from services.auth.invalidation import CHANNEL, Everything, Invalidation, decode
from services.common.db import NotifyListener

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
MISSING: Any = object()


class Invalidations:
    """Fans invalidation events (local ones and NOTIFYs from every replica) out to the subscribed caches.

    `epoch` counts events: a cache fill started before an event is discarded, so a value read from the
    database before a concurrent revocation committed cannot be cached after it."""

    def __init__(self) -> None:
        self.epoch = 0
        self.live = True  # False while the listening connection is down: caches are bypassed
        self._handlers: list[Callable[[Invalidation], None]] = []
        self._listener: NotifyListener | None = None

    def subscribe(self, handler: Callable[[Invalidation], None]) -> None:
        self._handlers.append(handler)

    def publish(self, events: Iterable[Invalidation]) -> None:
        """Hands events to every cache: this replica's committed changes (from the Store) and NOTIFYs."""
        for event in events:
            self.epoch += 1
            for handler in self._handlers:
                handler(event)

    async def listen(self, dsn: str) -> None:
        """Starts listening for NOTIFYs from every replica (listening again if the connection drops)."""
        self._listener = NotifyListener(
            dsn, CHANNEL, lambda payload: self.publish([decode(payload)]), on_up=self._up, on_down=self._down
        )
        await self._listener.start()

    def _up(self) -> None:
        self.publish([Everything()])  # anything may have changed while nobody listened
        self.live = True

    def _down(self) -> None:
        log.warning("invalidation listener disconnected; authz caches bypassed until it reconnects")
        self.live = False
        self.publish([Everything()])

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.stop()


class TtlCache(Generic[K, V]):
    """A bounded map whose entries expire after `ttl` seconds; the oldest entry goes first when full."""

    def __init__(self, hub: Invalidations, ttl: float, max_entries: int, clock: Callable[[], float] = time.monotonic):
        self._hub = hub
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V:
        """The cached value, or MISSING."""
        if not self._hub.live:
            return MISSING
        item = self._data.get(key)
        if item is None:
            return MISSING
        if item[0] <= self._clock():
            self._data.pop(key, None)
            return MISSING
        return item[1]

    def put(self, key: K, value: V, epoch: int) -> None:
        """Caches a value read when the hub was at `epoch`, unless something was invalidated since."""
        if epoch != self._hub.epoch or not self._hub.live or self._ttl <= 0:
            return
        self._data[key] = (self._clock() + self._ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    def pop(self, key: K) -> None:
        self._data.pop(key, None)

    def drop_where(self, predicate: Callable[[K, V], bool]) -> None:
        for key in [k for k, (_, v) in self._data.items() if predicate(k, v)]:
            del self._data[key]

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
