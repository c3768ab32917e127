"""The chat service's own metrics (services/common/metrics.py has the call metrics every service records, and the
limit refusals, jan_limit_denials_total: output_tokens, item_bytes, conversation_items):

- generations: time to the first token and output tokens per second of every generation chat asks of the
  inference service, streamed or whole (chat completions and Responses alike, foreground and background; each
  step of a web search loop is one), measured where chat calls it (inference_client.py);
- background responses: the queue's depth and its oldest entry's age (read from PostgreSQL when Prometheus
  scrapes: the same numbers from every replica), and how many this replica is generating;
- the MCP endpoint (/v1/mcp, HTTP, so outside the gRPC call metrics): tool calls by tool and outcome with their
  duration, and requests refused before the MCP server (401 without an identity, 403 without web search).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

from jan.v1 import inference_service_pb2 as inference_pb
from services.common.metrics import CALL_BUCKETS, ServiceMetrics

TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 20, 30, 60)
TOKENS_PER_SECOND_BUCKETS = (1, 2.5, 5, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 300, 500, 1000, 2500)


class GenerationMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        ttft = Histogram(
            "jan_chat_time_to_first_token_seconds",
            "Time from chat's call to the inference service to the first token (stream=false: that call's duration "
            "less the engine's decoding, which needs the inference service's metrics on)",
            ("stream",),
            buckets=TTFT_BUCKETS,
            registry=metrics.registry,
        )
        speed = Histogram(
            "jan_chat_output_tokens_per_second",
            "Output tokens after the first per second of decoding (from the first token to the last), per generation",
            ("stream",),
            buckets=TOKENS_PER_SECOND_BUCKETS,
            registry=metrics.registry,
        )
        self._ttft = {stream: ttft.labels("true" if stream else "false") for stream in (True, False)}
        self._speed = {stream: speed.labels("true" if stream else "false") for stream in (True, False)}

    def whole(self, seconds: float, answer: inference_pb.GenerateResponse) -> None:
        """A GenerateWhole call of `seconds`, whose first answer carries the engine's decoding time if it kept one."""
        if not answer.HasField("decode_seconds"):
            return
        decoding = answer.decode_seconds
        self._ttft[False].observe(max(0.0, seconds - decoding))
        tokens = answer.usage.completion_tokens
        if tokens > 1 and decoding > 0:
            self._speed[False].observe((tokens - 1) / decoding)

    def streamed(self, first_token_seconds: float, decoding_seconds: float, tokens_after_first: int) -> None:
        self._ttft[True].observe(first_token_seconds)
        if tokens_after_first > 0 and decoding_seconds > 0:
            self._speed[True].observe(tokens_after_first / decoding_seconds)


class ResponsesQueueMetrics:
    """Background responses: queued (every replica's queue, read before each scrape) and running here."""

    def __init__(
        self,
        metrics: ServiceMetrics,
        queue_depth: Callable[[], Awaitable[tuple[int, float]]],
        running: Callable[[], int],
    ) -> None:
        self._queue_depth = queue_depth
        self._queued = Gauge(
            "jan_chat_responses_queued",
            "Background responses waiting to be run (the whole queue: every replica reports the same number)",
            registry=metrics.registry,
        )
        self._oldest = Gauge(
            "jan_chat_responses_oldest_queued_seconds",
            "How long the oldest queued background response has waited (0: none waits)",
            registry=metrics.registry,
        )
        Gauge(
            "jan_chat_responses_running",
            "Background responses this replica is generating",
            registry=metrics.registry,
        ).set_function(running)
        metrics.on_scrape(self.refresh)

    async def refresh(self) -> None:
        queued, oldest = await self._queue_depth()
        self._queued.set(queued)
        self._oldest.set(oldest)


class McpMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        self._calls = Counter(
            "jan_mcp_tool_calls",
            "MCP tool calls, by tool and outcome (ok, or error: the tool answered an error, e.g. Serper down)",
            ("tool", "outcome"),
            registry=metrics.registry,
        )
        self._seconds = Histogram(
            "jan_mcp_tool_call_seconds", "MCP tool calls' duration", ("tool",), buckets=CALL_BUCKETS,
            registry=metrics.registry,
        )  # fmt: skip
        self._refused = Counter(
            "jan_mcp_refused",
            "MCP requests refused before the MCP server, by HTTP status (401: no identity, 403: no web search)",
            ("status",),
            registry=metrics.registry,
        )

    @contextmanager
    def tool_call(self, tool: str) -> Iterator[None]:
        started, outcome = time.perf_counter(), "error"
        try:
            yield
            outcome = "ok"
        finally:
            self._seconds.labels(tool).observe(time.perf_counter() - started)
            self._calls.labels(tool, outcome).inc()

    def refused(self, status: int) -> None:
        self._refused.labels(str(status)).inc()
