"""Render small chat requests on the event loop instead of in vLLM's renderer thread pool.

vLLM's renderer sends the chat template and the tokenizer to a thread pool (two hand-offs per request) so that
a long conversation does not hold up the event loop, and so that a runaway template can be timed out. For a
short conversation the hand-offs cost more than the work: measured on this project's 2-core machines, a
100-character prompt rendered in 0.5 ms on the loop against 0.8 ms through the pool, and each hand-off lets
the other requests' work run in between. With 8 requests arriving together, their preparations then all
finish near the end of the burst, which showed up as ~2.5 ms more time to the first token through the
service (bench/inference_overhead.py). A 12,000-character prompt took 3.7 ms either way, so large requests
keep vLLM's pool (and its timeout): above `EngineConfig.inline_render_max_chars` (JAN_INLINE_RENDER_MAX_CHARS,
default 4,096: ~1,000 tokens, ≤ 2 ms on the loop on a 2-core CI machine) nothing changes.

The choice is made per request through a context variable: each gRPC call runs in its own task, and
`run_in_executor` submits from the caller's context, so one request's choice never leaks into another's.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from typing import Any

from jan.v1 import inference_service_pb2 as pb

log = logging.getLogger(__name__)

_inline = contextvars.ContextVar("jan_inline_render", default=False)


def request_chars(request: pb.GenerateRequest) -> int:
    """A cheap measure of how much text the chat template and the tokenizer will see: the encoded size of
    every message (content, content parts, an assistant's tool calls) and of the tool definitions."""
    return sum(m.ByteSize() for m in request.messages) + sum(t.ByteSize() for t in request.tools)


@contextmanager
def inline_rendering(enabled: bool) -> Iterator[None]:
    """Within this block (in this task only), work sent to an executor set up by `run_small_inline` runs
    at once, in the calling thread."""
    token = _inline.set(enabled)
    try:
        yield
    finally:
        _inline.reset(token)


def _run_now(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Future:
    future: Future = Future()
    try:
        future.set_result(fn(*args, **kwargs))
    except BaseException as e:  # the awaiting caller sees it, as it would from the pool
        future.set_exception(e)
    return future


def run_small_inline(executor: Executor) -> None:
    """Make `executor.submit` run the job in the calling thread inside `inline_rendering(True)`; everywhere
    else it submits to the executor as before. Patched on the instance, since vLLM's async wrappers hold
    the executor object itself."""
    if getattr(executor.submit, "_jan_inline", False):
        return
    pool_submit = executor.submit

    def submit(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if _inline.get():
            return _run_now(fn, args, kwargs)
        return pool_submit(fn, *args, **kwargs)

    submit._jan_inline = True  # type: ignore[attr-defined]
    executor.submit = submit  # type: ignore[method-assign]


def install(renderer: Any) -> bool:
    """Set up vLLM's renderer pool (a private attribute) for inline renders. A vLLM without it is left as it
    is: every render then goes through the pool, as in vLLM's own server."""
    executor = getattr(renderer, "_executor", None)
    if not isinstance(executor, Executor):
        log.warning("vLLM's renderer has no executor to set up; small requests render in its thread pool")
        return False
    run_small_inline(executor)
    return True
