"""Client channels from one service to another: tracing interceptors and the shared message limits."""

from __future__ import annotations

import grpc

from services.common import tracing
from services.common.server import channel_options


def insecure_channel(
    target: str, max_message_bytes: int = 32 * 1024 * 1024, *, traced: bool = False
) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(
        target,
        options=[
            *channel_options(max_message_bytes),
            ("grpc.enable_retries", 1),
            # Spread calls over every pod behind a headless Service, not just the first address.
            ("grpc.lb_policy_name", "round_robin"),
            # A restarted callee is used again within ~2 s (gRPC's default backoff grows to 120 s).
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2000),
        ],
        interceptors=tracing.client_interceptors(traced),
    )
