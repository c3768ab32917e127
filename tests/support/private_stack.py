"""A stack of a test module's own on the instant engine and a database of its own: for tests that run with
settings the shared stack does not have (limits, fuzzing as the organization owner)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack.stack import Stack, StackConfig


@contextmanager
def instant_stack(run_dir: Path, database_url: str, env: dict[str, str], *, model: str = "instant") -> Iterator[Stack]:
    """The whole stack (Envoy and the four services) with `env` (the shared stack's, and what the test changes),
    serving `model` from the instant engine whatever `env` says of the engine; stopped on exit."""
    engine = {"JAN_ENGINE": "instant", "JAN_MODEL": "instant", "JAN_SERVED_MODEL_NAME": model}
    config = StackConfig.on_free_ports(
        run_dir=run_dir,
        data_dir=run_dir / "unused",  # the database is `database_url`'s
        database_url=database_url,
        env={**env, **engine, "JAN_SHUTDOWN_GRACE_SECONDS": "2"},
    )
    stack = Stack(config)
    stack.start(timeout=180)
    try:
        yield stack
    finally:
        stack.stop()
