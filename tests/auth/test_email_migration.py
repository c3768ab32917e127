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
        assert "0003_email_normal_form.sql" in await apply_migrations(pool, "auth", MIGRATIONS)
        rows = {r["id"]: r["email"] for r in await pool.fetch("SELECT id, email FROM auth.users")}
        assert rows == {"u1": "ada@example.com", "u2": "bob@example.com", "u3": "al@example.com"}
        assert all(canonical_email(e) == e for e in rows.values())
        assert await pool.fetchval("SELECT count(*) FROM auth.login_failures") == 0
    finally:
        await pool.close()


async def test_the_owners_of_before_count_as_granted_already(database_url: str, tmp_path: Path) -> None:
    # Migration 0004: an owner listed in JAN_ADMIN_EMAILS who is later demoted is not made owner again.
    for path in sorted(MIGRATIONS.glob("*.sql"))[:3]:
        shutil.copy(path, tmp_path / path.name)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        await apply_migrations(pool, "auth", tmp_path)
        org_id = await pool.fetchval("SELECT id FROM auth.organizations")
        await pool.execute("INSERT INTO auth.users (id, email) VALUES ('u1', 'boss@example.com'), ('u2', 'r@x.io')")
        await pool.execute(
            "INSERT INTO auth.org_members (org_id, user_id, role) VALUES ($1, 'u1', 'owner'), ($1, 'u2', 'reader')",
            org_id,
        )
        assert (await apply_migrations(pool, "auth", MIGRATIONS))[0] == "0004_owner_bootstrap.sql"
        grants = await pool.fetch("SELECT email, user_id FROM auth.admin_email_grants")
        assert [(g["email"], g["user_id"]) for g in grants] == [("boss@example.com", "u1")]
    finally:
        await pool.close()
