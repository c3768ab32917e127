"""Migrations run under an advisory lock: concurrent and repeated runs apply each file exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from services.common.db import MigrationError, apply_migrations

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("schema", ["auth", "chat"])
async def test_service_migrations_are_idempotent_and_concurrency_safe(database_factory, schema: str) -> None:
    url = database_factory(f"mig_{schema}")
    directory = ROOT / "services" / schema / "migrations"
    pools = [await asyncpg.create_pool(url, min_size=1, max_size=2) for _ in range(3)]
    try:
        results = await asyncio.gather(*(apply_migrations(p, schema, directory) for p in pools))
        files = sorted(p.name for p in directory.glob("*.sql"))
        # Every file applied once, by exactly one of the runners.
        assert sorted(name for applied in results for name in applied) == files
        assert await apply_migrations(pools[0], schema, directory) == []  # a later run is a no-op
        rows = await pools[0].fetch(f"SELECT version FROM {schema}.schema_migrations ORDER BY version")
        assert [r["version"] for r in rows] == files
    finally:
        for p in pools:
            await p.close()


async def test_changed_migration_stops_the_start(database_factory, tmp_path: Path) -> None:
    url = database_factory("mig_changed")
    (tmp_path / "0001_t.sql").write_text("CREATE TABLE demo.t (id int);")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
    try:
        assert await apply_migrations(pool, "demo", tmp_path) == ["0001_t.sql"]
        (tmp_path / "0001_t.sql").write_text("CREATE TABLE demo.t (id bigint);")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await apply_migrations(pool, "demo", tmp_path)
    finally:
        await pool.close()
