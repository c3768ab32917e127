"""SQL for the audit log: recording an event (on the store of the change's transaction, so the event commits
or rolls back with it) and listing events newest first, keyset-paginated on (effective_at, id).

A listing's WHERE clause holds only the filters given: every filter value is a parameter, and no
"$n IS NULL OR ..." pattern hides an index from the planner (migration 0006 indexes each filter).
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime

import asyncpg

from services.auth.audit import Actor, AuditEvent, AuditLog, AuditLogQuery
from services.auth.domain import Page
from services.auth.store.base import StoreBase, page_of
from services.common import errors

_COLUMNS = (
    "id, type, effective_at, project_id, project_name, actor_type, actor_id, actor_email, actor_key_id,"
    " actor_key_type, ip_address, details"
)


def new_audit_log_id() -> str:
    """OpenAI's form: "audit_log-" and a random part."""
    return "audit_log-" + secrets.token_hex(12)


def _audit_log(r: asyncpg.Record) -> AuditLog:
    actor = Actor(
        r["actor_type"], r["actor_id"], r["actor_email"], r["actor_key_id"], r["actor_key_type"], r["ip_address"]
    )
    details = json.loads(r["details"]) if isinstance(r["details"], str) else r["details"]
    return AuditLog(r["id"], r["type"], r["effective_at"], actor, details, r["project_id"], r["project_name"])


def _seconds(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


class AuditLogSql(StoreBase):
    async def record_audit_event(self, org_id: str, event: AuditEvent) -> str:
        """Inserts the event on this store's connection: inside a transaction, it commits with the change.
        The project's name and the actor's email (unless the event has one) are read as they are now."""
        actor = event.actor
        return await self._db.fetchval(
            "INSERT INTO auth.audit_logs (id, org_id, type, project_id, project_name, resource_id, actor_type,"
            " actor_id, actor_email, actor_key_id, actor_key_type, ip_address, details)"
            " VALUES ($1, $2, $3, $4, (SELECT name FROM auth.projects WHERE id = $4), $5, $6, $7,"
            " coalesce($8, (SELECT email FROM auth.users WHERE id = $7)), $9, $10, $11, $12::jsonb) RETURNING id",
            new_audit_log_id(),
            org_id,
            event.type,
            event.project_id,
            event.resource_id,
            actor.type,
            actor.id,
            actor.email,
            actor.key_id,
            actor.key_type,
            actor.ip_address,
            json.dumps(event.details),
        )

    async def list_audit_logs(self, org_id: str, query: AuditLogQuery) -> Page[AuditLog]:
        """A page newest first: older than `after`, newer than `before` (InvalidArgument for an unknown one)."""
        where: list[str] = ["org_id = $1"]
        args: list[object] = [org_id]

        def param(value: object) -> str:
            args.append(value)
            return f"${len(args)}"

        for cursor, op, name in ((query.after, "<", "after"), (query.before, ">", "before")):
            if cursor:
                at = await self._db.fetchrow(
                    "SELECT effective_at, id FROM auth.audit_logs WHERE org_id = $1 AND id = $2", org_id, cursor
                )
                if at is None:
                    raise errors.InvalidArgument(f"No audit log found with id '{cursor[:64]}'", param=name)
                where.append(f"(effective_at, id) {op} ({param(at['effective_at'])}, {param(at['id'])})")
        if query.effective_at_gte is not None:
            where.append(f"effective_at >= {param(_seconds(query.effective_at_gte))}")
        if query.effective_at_lte is not None:  # whole seconds: up to the end of that second
            where.append(f"effective_at < {param(_seconds(query.effective_at_lte + 1))}")
        for column, values in (
            ("project_id", query.project_ids),
            ("type", query.event_types),
            ("actor_email", query.actor_emails),
            ("resource_id", query.resource_ids),
        ):
            if values:
                where.append(f"{column} = ANY({param(list(values))}::text[])")
        if query.actor_ids:
            ids = param(list(query.actor_ids))
            where.append(f"(actor_id = ANY({ids}::text[]) OR actor_key_id = ANY({ids}::text[]))")
        # `before` alone walks forward from the cursor (the nearest newer events), then the page is reversed.
        forward = bool(query.before) and not query.after
        order = "ASC" if forward else "DESC"
        rows = await self._db.fetch(
            f"SELECT {_COLUMNS} FROM auth.audit_logs WHERE {' AND '.join(where)}"
            f" ORDER BY effective_at {order}, id {order} LIMIT {param(query.limit + 1)}",
            *args,
        )
        page = page_of(rows, query.limit, _audit_log)
        return Page(page.items[::-1], page.has_more) if forward else page
