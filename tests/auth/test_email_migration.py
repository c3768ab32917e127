"""Migration 0003 brings emails stored before it to their normal form (services/auth/emails.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import asyncpg

from services.auth.emails import canonical_email
from services.auth.server import MIGRATIONS
from services.common.db import apply_migrations


async def test_emails_written_before_are_brought_to_the_normal_form(database_url: str, tmp_path: Path) -> None:
    for path in sorted(MIGRATIONS.glob("*.sql"))[:2]:  # the schema as it was before 0003
        shutil.copy(path, tmp_path / path.name)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        await apply_migrations(pool, "auth", tmp_path)
        legacy = {"u1": "ａｄａ@example.com", "u2": "bob@example.com", "u3": "\U0001d400l@example.com"}  # lower()ed
        for user_id, email in legacy.items():
            await pool.execute("INSERT INTO auth.users (id, email) VALUES ($1, $2)", user_id, email.lower())
        await pool.execute("INSERT INTO auth.login_failures VALUES ('ａｄａ@example.com', 3, now())")
        assert await apply_migrations(pool, "auth", MIGRATIONS) == ["0003_email_normal_form.sql"]
        rows = {r["id"]: r["email"] for r in await pool.fetch("SELECT id, email FROM auth.users")}
        assert rows == {"u1": "ada@example.com", "u2": "bob@example.com", "u3": "al@example.com"}
        assert all(canonical_email(e) == e for e in rows.values())
        assert await pool.fetchval("SELECT count(*) FROM auth.login_failures") == 0
    finally:
        await pool.close()
