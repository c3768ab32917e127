"""The auth service's own metrics (services/common/metrics.py has the call metrics every service records):
Envoy's ext_authz decisions by outcome, and how long the HTTP endpoint Envoy asks takes to decide. Requests over
the request-rate limits are counted in jan_limit_denials_total (limit="requests_per_minute", guest="true" for
the guests' own limit), like every service's limit refusals."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram

from services.common import errors
from services.common.metrics import ServiceMetrics

# What a denial's kind says about the request (authz.py raises only these; anything else failed to decide).
_OUTCOMES = {
    errors.UNAUTHENTICATED.grpc_code: "unauthenticated",
    errors.PERMISSION_DENIED.grpc_code: "permission_denied",
    errors.RESOURCE_EXHAUSTED.grpc_code: "rate_limited",
}
OUTCOMES = ("allowed", "anonymous", *_OUTCOMES.values(), "unavailable")
DECISION_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)


class AuthzMetrics:
    """Counts each ext_authz decision (HTTP endpoint and gRPC Check alike) and times the HTTP endpoint's."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        decisions = Counter(
            "jan_auth_ext_authz_decisions",
            "Envoy ext_authz decisions: allowed (a caller), anonymous (a public route without one), or why denied",
            ("outcome",),
            registry=metrics.registry,
        )
        self._decisions = {outcome: decisions.labels(outcome) for outcome in OUTCOMES}
        self._seconds = Histogram(
            "jan_auth_ext_authz_seconds",
            "Time the ext_authz HTTP endpoint takes to decide (credential check, policy, rate limits)",
            buckets=DECISION_BUCKETS,
            registry=metrics.registry,
        )
        self._rpc = metrics.rpc

    def allowed(self, anonymous: bool, started: float | None = None) -> None:
        self._decisions["anonymous" if anonymous else "allowed"].inc()
        if started is not None:
            self._seconds.observe(time.perf_counter() - started)

    def denied(self, error: Exception, started: float | None = None) -> None:
        kind = error.kind.grpc_code if isinstance(error, errors.JanError) else ""
        self._decisions[_OUTCOMES.get(kind, "unavailable")].inc()
        if isinstance(error, errors.JanError) and error.over_limit is not None:
            self._rpc.limit_denied(error.over_limit, error.guest_limit)
        if started is not None:
            self._seconds.observe(time.perf_counter() - started)
