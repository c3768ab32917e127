"""The audit log: what each recorded change looks like (OpenAI's AuditLog event types and details objects),
who did it (the actor), and the checks on a listing's filters. No SQL and no grpc here.

Every change the admin API and sign-in make is recorded by inserting its event in the change's own
transaction (Store.record_audit_event on the transaction's store): a rolled-back change leaves no event.
A failed sign-in changes nothing, so its event is written on its own. The listing (OpenAI's list-audit-logs,
Organization.list_audit_logs) is for organization owners and admin keys, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.auth.emails import canonical_email
from services.auth.validation import page_limit
from services.common import errors
from services.common.identity import Caller

# Every type this server records (a subset of OpenAI's AuditLogEventType); filters accept only these.
EVENT_TYPES = (
    "api_key.created",
    "api_key.updated",
    "api_key.deleted",
    "project.created",
    "project.updated",
    "project.archived",
    "service_account.created",
    "service_account.updated",
    "service_account.deleted",
    "invite.sent",
    "invite.accepted",
    "invite.deleted",
    "user.added",
    "user.updated",
    "user.deleted",
    "rate_limit.updated",
    "rate_limit.deleted",
    "login.succeeded",
    "login.failed",
    "logout.succeeded",
    "logout.failed",
)
_MAX_FILTER_VALUES = 100


@dataclass(frozen=True)
class Actor:
    """Who made a change: a signed-in user ("session") or an API key ("api_key", owned by a user or a
    service account). The email is looked up when the event is written unless it is given here."""

    type: str  # "session" or "api_key"
    id: str | None  # the user or service account
    email: str | None = None
    key_id: str | None = None
    key_type: str | None = None  # "user" or "service_account", for api_key actors
    ip_address: str | None = None


def actor_of(caller: Caller) -> Actor:
    """The actor of an authenticated caller's change."""
    if caller.key_type in (None, "session"):
        return Actor("session", caller.user_id, ip_address=caller.client_ip)
    owner = "service_account" if caller.key_type == "service_account" else "user"
    return Actor("api_key", caller.user_id, key_id=caller.key_id, key_type=owner, ip_address=caller.client_ip)


def session_actor(user_id: str | None, email: str | None, ip_address: str | None) -> Actor:
    """The actor of a sign-in or sign-out (a failed one may know only the email tried)."""
    return Actor("session", user_id, email, ip_address=ip_address)


@dataclass(frozen=True)
class AuditEvent:
    """One event to record: its type, actor, the project it concerns and OpenAI's details object."""

    type: str
    actor: Actor
    details: dict[str, Any] = field(default_factory=dict)
    project_id: str | None = None

    @property
    def resource_id(self) -> str | None:
        value = self.details.get("id")
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class AuditLog:
    """A recorded event as listed."""

    id: str
    type: str
    effective_at: datetime
    actor: Actor
    details: dict[str, Any]
    project_id: str | None = None
    project_name: str | None = None


# -- the events, one builder per family, each with OpenAI's details shape --------------------------------
def api_key_created(actor: Actor, key_id: str, project_id: str | None) -> AuditEvent:
    return AuditEvent("api_key.created", actor, {"id": key_id, "data": {"scopes": []}}, project_id)


def api_key_updated(actor: Actor, key_id: str, project_id: str | None) -> AuditEvent:
    return AuditEvent("api_key.updated", actor, {"id": key_id, "changes_requested": {"scopes": []}}, project_id)


def api_key_deleted(actor: Actor, key_id: str, project_id: str | None) -> AuditEvent:
    return AuditEvent("api_key.deleted", actor, {"id": key_id}, project_id)


def project_created(actor: Actor, project_id: str, name: str) -> AuditEvent:
    return AuditEvent("project.created", actor, {"id": project_id, "data": {"name": name, "title": name}}, project_id)


def project_updated(actor: Actor, project_id: str, name: str) -> AuditEvent:
    return AuditEvent("project.updated", actor, {"id": project_id, "changes_requested": {"title": name}}, project_id)


def project_archived(actor: Actor, project_id: str) -> AuditEvent:
    return AuditEvent("project.archived", actor, {"id": project_id}, project_id)


def service_account_created(actor: Actor, sa_id: str, project_id: str, role: str) -> AuditEvent:
    return AuditEvent("service_account.created", actor, {"id": sa_id, "data": {"role": role}}, project_id)


def service_account_updated(actor: Actor, sa_id: str, project_id: str, role: str | None) -> AuditEvent:
    changes = {"role": role} if role is not None else {}
    return AuditEvent("service_account.updated", actor, {"id": sa_id, "changes_requested": changes}, project_id)


def service_account_deleted(actor: Actor, sa_id: str, project_id: str) -> AuditEvent:
    return AuditEvent("service_account.deleted", actor, {"id": sa_id}, project_id)


def invite_sent(actor: Actor, invite_id: str, email: str, role: str) -> AuditEvent:
    return AuditEvent("invite.sent", actor, {"id": invite_id, "data": {"email": email, "role": role}})


def invite_accepted(actor: Actor, invite_id: str) -> AuditEvent:
    return AuditEvent("invite.accepted", actor, {"id": invite_id})


def invite_deleted(actor: Actor, invite_id: str) -> AuditEvent:
    return AuditEvent("invite.deleted", actor, {"id": invite_id})


def user_added(actor: Actor, user_id: str, role: str, project_id: str | None = None) -> AuditEvent:
    """To the organization, or to `project_id`."""
    return AuditEvent("user.added", actor, {"id": user_id, "data": {"role": role}}, project_id)


def user_updated(actor: Actor, user_id: str, role: str, project_id: str | None = None) -> AuditEvent:
    return AuditEvent("user.updated", actor, {"id": user_id, "changes_requested": {"role": role}}, project_id)


def user_deleted(actor: Actor, user_id: str, project_id: str | None = None) -> AuditEvent:
    return AuditEvent("user.deleted", actor, {"id": user_id}, project_id)


def rate_limit_updated(actor: Actor, rate_limit_id: str, project_id: str, changes: dict[str, int]) -> AuditEvent:
    """`changes`: the limits the request set (the others were left as they were)."""
    return AuditEvent(
        "rate_limit.updated", actor, {"id": rate_limit_id, "changes_requested": dict(changes)}, project_id
    )


def login_succeeded(actor: Actor) -> AuditEvent:
    return AuditEvent("login.succeeded", actor)


def login_failed(actor: Actor, error: errors.JanError) -> AuditEvent:
    code = error.code
    if not code:
        code = {"UNAUTHENTICATED": "invalid_credentials", "RESOURCE_EXHAUSTED": "too_many_attempts"}.get(
            error.kind.grpc_code, "login_failed"
        )
    return AuditEvent("login.failed", actor, {"error_code": code, "error_message": error.message})


def logout_succeeded(actor: Actor) -> AuditEvent:
    return AuditEvent("logout.succeeded", actor)


# -- listing -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditLogQuery:
    """A listing's filters, checked (AuditLogs.list)."""

    limit: int = 20
    after: str = ""
    before: str = ""
    effective_at_gte: int | None = None  # Unix seconds, both bounds inclusive
    effective_at_lte: int | None = None
    project_ids: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    actor_ids: tuple[str, ...] = ()
    actor_emails: tuple[str, ...] = ()
    resource_ids: tuple[str, ...] = ()


def _inclusive(bounds: dict[str, int | None], shift: dict[str, int]) -> list[int]:
    """The given bounds as inclusive ones (a strict bound moves by `shift` seconds)."""
    out = []
    for name, value in bounds.items():
        if value is None:
            continue
        if not 0 <= value <= 2**37:  # (year 6325: within what datetime holds)
            raise errors.InvalidArgument(f"effective_at[{name}] must be Unix seconds", param=f"effective_at[{name}]")
        out.append(value + shift.get(name, 0))
    return out


def _values(values: list[str], name: str) -> tuple[str, ...]:
    if len(values) > _MAX_FILTER_VALUES or any(not v or len(v) > 256 for v in values):
        raise errors.InvalidArgument(
            f"{name} takes at most {_MAX_FILTER_VALUES} values of 1 to 256 characters", param=name
        )
    return tuple(dict.fromkeys(values))


def audit_log_query(
    *,
    limit: int | None,
    after: str,
    before: str,
    gt: int | None = None,
    gte: int | None = None,
    lt: int | None = None,
    lte: int | None = None,
    project_ids: list[str] = [],  # noqa: B006 (never mutated)
    event_types: list[str] = [],  # noqa: B006
    actor_ids: list[str] = [],  # noqa: B006
    actor_emails: list[str] = [],  # noqa: B006
    resource_ids: list[str] = [],  # noqa: B006
) -> AuditLogQuery:
    """Checks OpenAI's list-audit-logs parameters (InvalidArgument, a 400, for a bad one). The range's four
    bounds become two inclusive ones: effective_at is whole seconds, so > N is >= N + 1 and < N is <= N - 1."""
    if limit is not None and not 1 <= limit <= 100:
        raise errors.InvalidArgument("limit must be between 1 and 100", param="limit")
    unknown = [t for t in event_types if t not in EVENT_TYPES]
    if unknown:
        raise errors.InvalidArgument(
            f"unknown event type '{unknown[0][:64]}'; this server records: {', '.join(EVENT_TYPES)}",
            param="event_types",
        )
    lows = _inclusive({"gte": gte, "gt": gt}, {"gt": 1})
    highs = _inclusive({"lte": lte, "lt": lt}, {"lt": -1})
    return AuditLogQuery(
        limit=page_limit(limit or 0),
        after=after,
        before=before,
        effective_at_gte=max(lows) if lows else None,
        effective_at_lte=min(highs) if highs else None,
        project_ids=_values(project_ids, "project_ids"),
        event_types=tuple(dict.fromkeys(event_types)),
        actor_ids=_values(actor_ids, "actor_ids"),
        actor_emails=tuple(canonical_email(e) for e in _values(actor_emails, "actor_emails")),
        resource_ids=_values(resource_ids, "resource_ids"),
    )
