"""SQL for accounts and sign-in: users, failed sign-ins, proofs of ownership (the bootstrap token, admin
email grants), sessions and refresh tokens, and Google sign-in states."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.auth.domain import User
from services.auth.store.base import USER_COLUMNS, StoreBase


def _user(r: asyncpg.Record, role: str | None = None) -> User:
    return User(r["id"], r["email"], r["name"], r["is_guest"], r["created_at"], role)


class AccountsSql(StoreBase):
    # -- users ---------------------------------------------------------------------------------------
    async def insert_user(
        self,
        user_id: str,
        email: str | None,
        name: str,
        is_guest: bool,
        password_hash: str | None = None,
        google_sub: str | None = None,
    ) -> User:
        r = await self._db.fetchrow(
            "INSERT INTO auth.users AS u (id, email, name, is_guest, password_hash, google_sub)"
            f" VALUES ($1, $2, $3, $4, $5, $6) RETURNING {USER_COLUMNS}",
            user_id,
            email,
            name,
            is_guest,
            password_hash,
            google_sub,
        )
        return _user(r)

    async def user(self, user_id: str, org_id: str, *, for_update: bool = False) -> User | None:
        lock = " FOR UPDATE OF u" if for_update else ""
        r = await self._db.fetchrow(
            f"SELECT {USER_COLUMNS}, m.role FROM auth.users u"
            f" LEFT JOIN auth.org_members m ON m.user_id = u.id AND m.org_id = $2 WHERE u.id = $1{lock}",
            user_id,
            org_id,
        )
        return _user(r, r["role"]) if r else None

    async def user_by_email(self, email: str, org_id: str) -> tuple[User, str | None] | None:
        """By the email's normal form (emails.canonical_email), compared exactly: SQL never folds case."""
        r = await self._db.fetchrow(
            f"SELECT {USER_COLUMNS}, u.password_hash, m.role FROM auth.users u"
            " LEFT JOIN auth.org_members m ON m.user_id = u.id AND m.org_id = $2 WHERE u.email = $1",
            email,
            org_id,
        )
        return (_user(r, r["role"]), r["password_hash"]) if r else None

    async def user_by_google_sub(self, sub: str, org_id: str) -> User | None:
        r = await self._db.fetchrow(
            f"SELECT {USER_COLUMNS}, m.role FROM auth.users u"
            " LEFT JOIN auth.org_members m ON m.user_id = u.id AND m.org_id = $2 WHERE u.google_sub = $1",
            sub,
            org_id,
        )
        return _user(r, r["role"]) if r else None

    async def update_user(
        self,
        user_id: str,
        *,
        email: str | None = None,
        name: str | None = None,
        password_hash: str | None = None,
        google_sub: str | None = None,
    ) -> None:
        """Sets the given fields (None keeps a field); any of them makes a guest a full account."""
        await self._db.execute(
            "UPDATE auth.users SET email = coalesce($2, email), name = coalesce($3, name),"
            " password_hash = coalesce($4, password_hash), google_sub = coalesce($5, google_sub),"
            " is_guest = is_guest AND $2::text IS NULL WHERE id = $1",
            user_id,
            email,
            name,
            password_hash,
            google_sub,
        )

    async def clear_password(self, user_id: str) -> None:
        await self._db.execute("UPDATE auth.users SET password_hash = NULL WHERE id = $1", user_id)

    async def revoke_user_credentials(self, user_id: str) -> None:
        """Ends every session (refresh tokens included) and API key of the user."""
        await self._db.execute(
            "UPDATE auth.sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", user_id
        )
        await self._db.execute(
            "UPDATE auth.api_keys SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", user_id
        )

    async def set_org_role(self, org_id: str, user_id: str, role: str) -> None:
        await self._db.execute(
            "INSERT INTO auth.org_members (org_id, user_id, role) VALUES ($1, $2, $3)"
            " ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
            org_id,
            user_id,
            role,
        )

    async def principal(self, user_id: str, org_id: str) -> tuple[str | None, bool, dict[str, str]] | None:
        """(org role, is guest, {active project id: role}) for ext_authz, or None for an unknown user."""
        r = await self._db.fetchrow(
            "SELECT u.is_guest, m.role, coalesce((SELECT array_agg(ARRAY[pm.project_id, pm.role])"
            "   FROM auth.project_members pm JOIN auth.projects p ON p.id = pm.project_id AND p.archived_at IS NULL"
            "   WHERE pm.user_id = u.id), '{}') AS projects"
            " FROM auth.users u LEFT JOIN auth.org_members m ON m.user_id = u.id AND m.org_id = $2 WHERE u.id = $1",
            user_id,
            org_id,
        )
        return (r["role"], r["is_guest"], {p[0]: p[1] for p in r["projects"]}) if r else None

    # -- failed sign-ins -----------------------------------------------------------------------------
    async def login_failures(self, email: str, window_seconds: float) -> int:
        """Uncleared sign-in attempts for this (normal-form) email in its current window; 0 once it is over."""
        failures = await self._db.fetchval(
            "SELECT failures FROM auth.login_failures"
            " WHERE email = $1 AND window_start > now() - make_interval(secs => $2)",
            email,
            window_seconds,
        )
        return failures or 0

    async def count_login_attempt(self, email: str, window_seconds: float) -> tuple[int, float]:
        """Counts one attempt, in a new window if the last one is over, and returns (attempts in the window,
        this one included; seconds until the window ends). One statement: parallel attempts each see their
        own count, so no more of them than the limit get past it. Past windows are deleted first."""
        await self._db.execute(
            "DELETE FROM auth.login_failures WHERE window_start <= now() - make_interval(secs => $1)", window_seconds
        )
        r = await self._db.fetchrow(
            "INSERT INTO auth.login_failures AS f (email, failures, window_start) VALUES ($1, 1, now())"
            " ON CONFLICT (email) DO UPDATE SET"
            "  failures = CASE WHEN f.window_start > now() - make_interval(secs => $2) THEN f.failures + 1 ELSE 1 END,"
            "  window_start = CASE WHEN f.window_start > now() - make_interval(secs => $2)"
            "   THEN f.window_start ELSE now() END"
            " RETURNING failures,"
            "  extract(epoch FROM window_start + make_interval(secs => $2) - now())::float8 AS remaining",
            email,
            window_seconds,
        )
        return r["failures"], r["remaining"]

    async def clear_login_failures(self, email: str) -> None:
        await self._db.execute("DELETE FROM auth.login_failures WHERE email = $1", email)

    # -- proofs of ownership (bootstrap.py, accounts.py) ---------------------------------------------
    async def set_bootstrap_token(self, org_id: str, token_hash: bytes, *, replace: bool) -> bool:
        """Stores a new unused token; without `replace`, only if the organization has no unused one.
        True if stored. (Replicas starting together: the first insert wins, the others see it unused.)"""
        return (
            await self._db.fetchval(
                "INSERT INTO auth.bootstrap_tokens AS b (org_id, token_hash) VALUES ($1, $2)"
                " ON CONFLICT (org_id) DO UPDATE SET token_hash = excluded.token_hash, created_at = now(),"
                " used_at = NULL, used_by = NULL WHERE $3 OR b.used_at IS NOT NULL RETURNING true",
                org_id,
                token_hash,
                replace,
            )
            is not None
        )

    async def unused_bootstrap_token_since(self, org_id: str) -> datetime | None:
        return await self._db.fetchval(
            "SELECT created_at FROM auth.bootstrap_tokens WHERE org_id = $1 AND used_at IS NULL", org_id
        )

    async def retire_bootstrap_token(self, org_id: str) -> bool:
        """Deletes the unused token, if any; True if there was one."""
        deleted = await self._db.fetchval(
            "DELETE FROM auth.bootstrap_tokens WHERE org_id = $1 AND used_at IS NULL RETURNING true", org_id
        )
        return deleted is not None

    async def use_bootstrap_token(self, org_id: str, token_hash: bytes, user_id: str) -> bool:
        """Marks the token used by `user_id` if it is the unused one; concurrent callers: one wins."""
        used = await self._db.fetchval(
            "UPDATE auth.bootstrap_tokens SET used_at = now(), used_by = $3"
            " WHERE org_id = $1 AND token_hash = $2 AND used_at IS NULL RETURNING true",
            org_id,
            token_hash,
            user_id,
        )
        return used is not None

    async def record_admin_email_grant(self, org_id: str, email: str, user_id: str) -> bool:
        """True the first time for this email, False ever after."""
        granted = await self._db.fetchval(
            "INSERT INTO auth.admin_email_grants (org_id, email, user_id) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING RETURNING true",
            org_id,
            email,
            user_id,
        )
        return granted is not None

    # -- sessions ------------------------------------------------------------------------------------
    async def insert_session(self, session_id: str, user_id: str, expires_at: datetime) -> None:
        await self._db.execute(
            "INSERT INTO auth.sessions (id, user_id, expires_at) VALUES ($1, $2, $3)", session_id, user_id, expires_at
        )

    async def insert_refresh_token(self, token_hash: bytes, session_id: str, expires_at: datetime) -> None:
        await self._db.execute(
            "INSERT INTO auth.refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)",
            token_hash,
            session_id,
            expires_at,
        )
        await self._db.execute("UPDATE auth.sessions SET expires_at = $2 WHERE id = $1", session_id, expires_at)

    async def lock_refresh_token(self, token_hash: bytes) -> asyncpg.Record | None:
        """The token with its session, locked until the transaction ends (concurrent refreshes serialize)."""
        return await self._db.fetchrow(
            "SELECT t.session_id, t.expires_at, t.used_at, s.user_id, s.revoked_at FROM auth.refresh_tokens t"
            " JOIN auth.sessions s ON s.id = t.session_id WHERE t.token_hash = $1 FOR UPDATE OF t, s",
            token_hash,
        )

    async def mark_refresh_token_used(self, token_hash: bytes) -> None:
        await self._db.execute("UPDATE auth.refresh_tokens SET used_at = now() WHERE token_hash = $1", token_hash)

    async def revoke_session(self, session_id: str) -> bool:
        return (
            await self._db.fetchval(
                "UPDATE auth.sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id",
                session_id,
            )
            is not None
        )

    async def session_state(self, session_id: str) -> tuple[str, bool] | None:
        """(user id, revoked) of a session."""
        r = await self._db.fetchrow("SELECT user_id, revoked_at FROM auth.sessions WHERE id = $1", session_id)
        return (r["user_id"], r["revoked_at"] is not None) if r else None

    # -- Google sign-in states -----------------------------------------------------------------------
    async def insert_oauth_state(self, state_hash: bytes, code_verifier: str, nonce: str, expires_at: datetime) -> None:
        await self._db.execute("DELETE FROM auth.oauth_states WHERE expires_at < now()")
        await self._db.execute(
            "INSERT INTO auth.oauth_states (state_hash, code_verifier, nonce, expires_at) VALUES ($1, $2, $3, $4)",
            state_hash,
            code_verifier,
            nonce,
            expires_at,
        )

    async def take_oauth_state(self, state_hash: bytes) -> tuple[str, str] | None:
        """Consumes a pending state (single use); None if unknown, used or expired."""
        r = await self._db.fetchrow(
            "DELETE FROM auth.oauth_states WHERE state_hash = $1"
            " RETURNING code_verifier, nonce, expires_at > now() AS live",
            state_hash,
        )
        return (r["code_verifier"], r["nonce"]) if r and r["live"] else None
