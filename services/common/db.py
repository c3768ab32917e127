"""PostgreSQL access shared by the services that own tables: an asyncpg pool and a migrations runner.

Each service owns one schema (auth, chat, ...) and a folder of numbered SQL files. Migrations run at start
under a per-schema advisory lock, so replicas starting together apply each file once; a file already
applied is skipped, and one whose text changed since it was applied stops the start.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import zlib
from collections.abc import Callable
from pathlib import Path

import asyncpg
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from services.common.settings import DatabaseSettings

log = logging.getLogger(__name__)


async def create_pool(settings: DatabaseSettings) -> asyncpg.Pool:
    """Connects, retrying while the server is still starting (up to connect_timeout_seconds)."""
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(settings.connect_timeout_seconds),
        wait=wait_exponential(multiplier=0.1, max=2),
        retry=retry_if_exception_type((OSError, asyncpg.CannotConnectNowError)),
        reraise=True,
    ):
        with attempt:
            return await asyncpg.create_pool(
                settings.url, min_size=settings.pool_min_size, max_size=settings.pool_max_size, reset=keep_session
            )
    raise AssertionError("unreachable")


async def keep_session(connection: asyncpg.Connection) -> None:
    """A pool's reset on release, instead of asyncpg's default query (advisory unlock, CLOSE ALL, UNLISTEN,
    RESET ALL): that is a round trip to the server before every pooled call returns, ~0.1-0.3 ms each. Our
    code leaves no session state behind: no SET, advisory locks released in `finally`, LISTEN only on a
    connection that UNLISTENs before it is released. asyncpg still rolls back a transaction left open."""


class NotifyListener:
    """LISTENs on one channel over a connection of its own (not a pooled one: it lives as long as the service),
    and LISTENs again when that connection is lost (the database restarted), retrying with backoff until it
    is back. Notifications sent while nobody listened are lost, so `on_up` runs after every (re)connection
    and `on_down` when the connection drops: the owner catches up on what it may have missed."""

    def __init__(
        self,
        dsn: str,
        channel: str,
        on_notify: Callable[[str], None],
        *,
        on_up: Callable[[], None] = lambda: None,
        on_down: Callable[[], None] = lambda: None,
        max_backoff_seconds: float = 5.0,
    ) -> None:
        self._dsn = dsn
        self._channel = channel
        self._on_notify = on_notify
        self._on_up = on_up
        self._on_down = on_down
        self._max_backoff = max_backoff_seconds
        self._conn: asyncpg.Connection | None = None
        self._reconnect: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def server_pid(self) -> int | None:
        """The PostgreSQL backend listening now (None while disconnected)."""
        return self._conn.get_server_pid() if self._conn is not None else None

    async def start(self) -> None:
        """Connects and LISTENs (raises if the database cannot be reached now)."""
        await self._connect()

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self._dsn)
        try:
            await conn.add_listener(self._channel, self._notified)
        except BaseException:
            await conn.close()
            raise
        conn.add_termination_listener(self._terminated)
        self._conn = conn
        self._on_up()

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self._on_notify(payload)

    def _terminated(self, _conn: object) -> None:
        self._conn = None
        if self._closing:
            return
        log.warning("the %s listener lost its connection; listening again when the database is back", self._channel)
        self._on_down()
        self._reconnect = asyncio.get_running_loop().create_task(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        delay = 0.1
        while not self._closing:
            try:
                await self._connect()
                log.info("the %s listener is listening again", self._channel)
                return
            except Exception as exc:
                log.warning("the %s listener could not reconnect: %s", self._channel, type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_backoff)

    async def stop(self) -> None:
        self._closing = True
        if self._reconnect is not None:
            self._reconnect.cancel()
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await asyncio.wait_for(conn.close(), 5)
            except Exception:
                conn.terminate()


class MigrationError(RuntimeError):
    pass


def _lock_key(schema: str) -> int:
    # A stable signed 64-bit key per schema for pg_advisory_lock.
    return zlib.crc32(f"jan.migrations.{schema}".encode()) - 2**31


async def apply_migrations(pool: asyncpg.Pool, schema: str, directory: Path) -> list[str]:
    """Applies the *.sql files of `directory` not yet recorded in <schema>.schema_migrations, in name
    order, each in its own transaction. Returns the names applied by this call."""
    files = sorted(directory.glob("*.sql"))
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _lock_key(schema))
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
                " version text PRIMARY KEY, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {
                r["version"]: r["checksum"]
                for r in await conn.fetch(f'SELECT version, checksum FROM "{schema}".schema_migrations')
            }
            for path in files:
                sql = path.read_text()
                checksum = hashlib.sha256(sql.encode()).hexdigest()
                if path.name in done:
                    if done[path.name] != checksum:
                        raise MigrationError(f"{schema}/{path.name} changed after it was applied")
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        f'INSERT INTO "{schema}".schema_migrations (version, checksum) VALUES ($1, $2)',
                        path.name,
                        checksum,
                    )
                applied_now.append(path.name)
                log.info("applied migration", extra={"schema": schema, "migration": path.name})
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _lock_key(schema))
    return applied_now
