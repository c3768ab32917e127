"""Requests per minute per caller, checked by ext_authz on every authenticated request.

GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp per caller): a caller may send
`per_minute` requests at once, and after that one every 60/per_minute seconds. It lives in the auth
replica's memory, like Envoy's local rate limit: with N replicas behind Envoy a caller gets up to N times
the limit. Sharing it across replicas would cost a database round trip per request.

Two limits use it: every user's (JAN_RATE_LIMIT_REQUESTS_PER_MINUTE, off by default) and, on top of it, one
for guest accounts (JAN_GUEST_REQUESTS_PER_MINUTE, 30 by default): anyone can make a guest account, so its
budget is small; registering lifts it.

Per client address, for what callers do before anyone is signed in: guest accounts made per hour
(JAN_GUEST_ACCOUNTS_PER_IP_PER_HOUR, 20 by default), or anyone could make a new guest whenever the last one ran
out; and sign-in attempts per minute, password and Google (JAN_SIGN_INS_PER_IP_PER_MINUTE, 30 by default), so
that guessing across many emails is slow too and failed attempts (each one a password hash and an audit event)
cannot be sent at any rate. The address is Envoy's view of the client (x-jan-client-ip: the connection's peer,
or behind JAN_TRUSTED_PROXY_HOPS proxies the address they report); a caller reaching auth without Envoy has
none and is not limited.
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


class Gcra:
    """`limit` events per `window_seconds` for each key: `limit` at once, then one every window/limit."""

    def __init__(
        self, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._window = window_seconds
        self._interval = window_seconds / limit
        self._clock = clock
        self._max_keys = max_keys
        # When each key's bucket is full again (the "theoretical arrival time"); absent means full.
        self._full_at: dict[str, float] = {}

    def take(self, key: str) -> float:
        """Counts one event for `key` and answers 0, or, over the limit, counts nothing and answers the seconds
        until one would pass."""
        now = self._clock()
        full_at = max(self._full_at.get(key, now), now) + self._interval
        backlog = full_at - now
        if backlog > self._window + 1e-9:
            return backlog - self._window
        if key not in self._full_at and len(self._full_at) >= self._max_keys:
            self._forget_full(now)
        self._full_at[key] = full_at
        return 0.0

    def _forget_full(self, now: float) -> None:
        """Buckets that have refilled are the same as absent ones; drop them to bound the memory."""
        self._full_at = {k: t for k, t in self._full_at.items() if t > now}


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
        self._buckets = Gcra(per_minute, _WINDOW_SECONDS, clock, max_callers)

    def take(self, caller: str) -> None:
        """Counts one request for `caller`; raises RateLimited when it is over the limit."""
        wait = self._buckets.take(caller)
        if wait:
            raise RateLimited(self.per_minute, wait, self._note, guest=self._guest)


class AddressLimit:
    """Something anonymous callers do, counted per client address (see the module's docstring)."""

    def __init__(
        self,
        limit: int,
        per: str,
        *,
        what: str,
        advice: str,
        over_limit: str,
        guest: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._refusal = f"Too many {what} from this address: {limit} per {per}. {advice}"
        self._over_limit, self._guest = over_limit, guest
        self._buckets = Gcra(limit, _PERIODS[per], clock)

    def take(self, client_ip: str | None) -> None:
        """Counts one for `client_ip`; raises ResourceExhausted (429) when it is over the limit."""
        if client_ip is None:
            return
        wait = self._buckets.take(client_ip)
        if wait:
            seconds = max(1, math.ceil(wait))
            raise errors.ResourceExhausted(
                self._refusal.format(seconds=seconds),
                code="rate_limit_exceeded",
                retry_after=seconds,
                over_limit=self._over_limit,
                guest_limit=self._guest,
            )


_PERIODS = {"minute": 60.0, "hour": 3600.0}


def guest_accounts_limit(per_hour: int, clock: Callable[[], float] = time.monotonic) -> AddressLimit:
    return AddressLimit(
        per_hour,
        "hour",
        what="guest accounts",
        advice="Sign up for an account, or try again in {seconds}s.",
        over_limit="guest_accounts_per_hour",
        guest=True,
        clock=clock,
    )


def sign_in_limit(per_minute: int, clock: Callable[[], float] = time.monotonic) -> AddressLimit:
    return AddressLimit(
        per_minute,
        "minute",
        what="sign-in attempts",
        advice="Try again in {seconds}s.",
        over_limit="sign_ins_per_minute",
        clock=clock,
    )
