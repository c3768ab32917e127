"""Requests per minute per caller, checked by ext_authz on every authenticated request.

GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp per caller): a caller may send
`per_minute` requests at once, and after that one every 60/per_minute seconds. It lives in the auth
replica's memory, like Envoy's local rate limit: with N replicas behind Envoy a caller gets up to N times
the limit. Sharing it across replicas would cost a database round trip per request.

Two limits use it: every user's (JAN_RATE_LIMIT_REQUESTS_PER_MINUTE, off by default) and, on top of it, one
for guest accounts (JAN_GUEST_REQUESTS_PER_MINUTE, 30 by default): anyone can make a guest account, so its
budget is small; registering lifts it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from services.common import errors

_WINDOW_SECONDS = 60.0


class RateLimited(errors.ResourceExhausted):
    """Over the limit; `retry_after` seconds until the next request would pass."""

    def __init__(self, limit: int, retry_after: float, note: str = "", *, guest: bool = False) -> None:
        wait = max(1, math.ceil(retry_after))
        super().__init__(
            f"Rate limit reached: {limit} requests per minute{note}. Please try again in {wait}s.",
            code="rate_limit_exceeded",
            retry_after=wait,
            over_limit="requests_per_minute",
            guest_limit=guest,
        )
        self.limit = limit


# What a guest over its own limit is told (JAN_GUEST_REQUESTS_PER_MINUTE).
GUEST_NOTE = " for guest accounts (sign up to lift it)"


class RequestRateLimit:
    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_callers: int = 100_000,
        note: str = "",
        guest: bool = False,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self._note = note  # added to the refusal's message after the limit
        self._guest = guest  # the guests' own limit (counted apart in the metrics)
        self._interval = _WINDOW_SECONDS / per_minute
        self._clock = clock
        self._max_callers = max_callers
        # When each caller's bucket is full again (the "theoretical arrival time"); absent means full.
        self._full_at: dict[str, float] = {}

    def take(self, caller: str) -> None:
        """Counts one request for `caller`; raises RateLimited when it is over the limit."""
        now = self._clock()
        full_at = max(self._full_at.get(caller, now), now) + self._interval
        backlog = full_at - now
        if backlog > _WINDOW_SECONDS + 1e-9:
            raise RateLimited(self.per_minute, backlog - _WINDOW_SECONDS, self._note, guest=self._guest)
        if caller not in self._full_at and len(self._full_at) >= self._max_callers:
            self._forget_full(now)
        self._full_at[caller] = full_at

    def _forget_full(self, now: float) -> None:
        """Buckets that have refilled are the same as absent ones; drop them to bound the memory."""
        self._full_at = {k: t for k, t in self._full_at.items() if t > now}
