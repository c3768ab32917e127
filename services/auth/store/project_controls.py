"""SQL for what a project's API keys may use: rate limits per model, model permissions, web search. Every
change takes the next version from the one-row auth.project_controls_version table in its transaction (the
row lock orders the changes as they commit), so "what changed after version N" misses nothing."""

from __future__ import annotations

import asyncpg

from services.auth.domain import ProjectControls, RateLimit
from services.auth.store.base import StoreBase

_CONTROLS = (
    "SELECT c.project_id, c.model_mode, c.model_ids, c.web_search_enabled,"
    " coalesce((SELECT array_agg(ARRAY[l.model, l.max_requests_per_1_minute::text,"
    "   l.max_tokens_per_1_minute::text, l.max_requests_per_1_day::text] ORDER BY l.model)"
    "   FROM auth.project_rate_limits l WHERE l.project_id = c.project_id), '{}') AS limits"
    " FROM auth.project_controls c"
)


def _controls(r: asyncpg.Record) -> ProjectControls:
    limits = tuple(RateLimit(m, int(rpm), int(tpm), int(rpd)) for m, rpm, tpm, rpd in r["limits"])
    return ProjectControls(r["project_id"], limits, r["model_mode"], tuple(r["model_ids"]), r["web_search_enabled"])


class ProjectControlsSql(StoreBase):
    async def project_controls(self, project_id: str) -> ProjectControls:
        row = await self._db.fetchrow(f"{_CONTROLS} WHERE c.project_id = $1", project_id)
        return _controls(row) if row else ProjectControls(project_id)

    async def _next_controls_version(self, project_id: str) -> None:
        """Stamps the project's controls with the next version (call inside the change's transaction)."""
        await self._db.execute(
            "WITH v AS (UPDATE auth.project_controls_version SET version = version + 1 RETURNING version)"
            " INSERT INTO auth.project_controls (project_id, version) SELECT $1, v.version FROM v"
            " ON CONFLICT (project_id) DO UPDATE SET version = excluded.version",
            project_id,
        )

    async def update_rate_limit(
        self, project_id: str, model: str, rpm: int | None, tpm: int | None, rpd: int | None
    ) -> RateLimit:
        """Sets the given limits of one model (None keeps a limit as it is)."""
        async with self.transaction() as tx:
            await tx._next_controls_version(project_id)
            row = await tx._db.fetchrow(
                "INSERT INTO auth.project_rate_limits AS l (project_id, model, max_requests_per_1_minute,"
                " max_tokens_per_1_minute, max_requests_per_1_day) VALUES ($1, $2, coalesce($3, 0), coalesce($4, 0),"
                " coalesce($5, 0)) ON CONFLICT (project_id, model) DO UPDATE SET"
                " max_requests_per_1_minute = coalesce($3, l.max_requests_per_1_minute),"
                " max_tokens_per_1_minute = coalesce($4, l.max_tokens_per_1_minute),"
                " max_requests_per_1_day = coalesce($5, l.max_requests_per_1_day)"
                " RETURNING model, max_requests_per_1_minute, max_tokens_per_1_minute, max_requests_per_1_day",
                project_id,
                model,
                rpm,
                tpm,
                rpd,
            )
        return RateLimit(*row)

    async def set_model_permissions(self, project_id: str, mode: str | None, model_ids: tuple[str, ...]) -> None:
        async with self.transaction() as tx:
            await tx._next_controls_version(project_id)
            await tx._db.execute(
                "UPDATE auth.project_controls SET model_mode = $2, model_ids = $3 WHERE project_id = $1",
                project_id,
                mode,
                list(model_ids),
            )

    async def set_web_search(self, project_id: str, enabled: bool) -> None:
        async with self.transaction() as tx:
            await tx._next_controls_version(project_id)
            await tx._db.execute(
                "UPDATE auth.project_controls SET web_search_enabled = $2 WHERE project_id = $1", project_id, enabled
            )

    async def controls_changed_after(self, version: int) -> tuple[int, list[ProjectControls]]:
        """The current version and the controls of every project changed after `version` (one statement:
        one snapshot, so the version and the rows agree)."""
        rows = await self._db.fetch(
            "WITH v AS (SELECT version AS current FROM auth.project_controls_version)"
            f" SELECT v.current, x.* FROM v LEFT JOIN ({_CONTROLS} WHERE c.version > $1) x ON true",
            version,
        )
        return int(rows[0]["current"]), [_controls(r) for r in rows if r["project_id"] is not None]
