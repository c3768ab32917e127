"""What a change can make stale in the ext_authz caches (authn.py), as typed events, and their NOTIFY form.

A change that can turn an allowed request into a denied one (or change who a caller is: a guest signing up,
a role, a project) calls `Store.invalidate(event, ...)` in its transaction, once: the store sends the
events with pg_notify on the transaction's connection, so PostgreSQL delivers them to every replica's
listener only if, and when, the transaction commits; and it hands them to this replica's caches right after
the commit (cache.Invalidations). Nothing else sends or publishes them.

On the wire an event is "<kind>:<id>" on the channel `CHANNEL`, the form every release so far has used,
so replicas of different versions understand each other during a rolling update. A payload a replica does
not understand (a kind added later, a malformed one) decodes to `Everything`: it cannot know what is safe
to keep.
"""

from __future__ import annotations

from dataclasses import dataclass

CHANNEL = "jan_auth_invalidate"


@dataclass(frozen=True)
class SessionChanged:
    """A session was revoked (logout, a replayed refresh token)."""

    session_id: str


@dataclass(frozen=True)
class UserChanged:
    """A user's standing changed: organization or project roles, removal, credentials, guest to account."""

    user_id: str


@dataclass(frozen=True)
class ApiKeyChanged:
    """An API key was revoked, re-dated or deleted with its service account."""

    key_id: str


@dataclass(frozen=True)
class ProjectChanged:
    """A project changed for everyone in it: archived, or a service account's role (its keys carry it)."""

    project_id: str


@dataclass(frozen=True)
class Everything:
    """Anything may have changed: drop every cached answer."""


Invalidation = SessionChanged | UserChanged | ApiKeyChanged | ProjectChanged | Everything

_KINDS: dict[str, type[SessionChanged | UserChanged | ApiKeyChanged | ProjectChanged]] = {
    "s": SessionChanged,
    "u": UserChanged,
    "k": ApiKeyChanged,
    "p": ProjectChanged,
}
_EVERYTHING = "*"


def encode(event: Invalidation) -> str:
    match event:
        case SessionChanged(session_id):
            return f"s:{session_id}"
        case UserChanged(user_id):
            return f"u:{user_id}"
        case ApiKeyChanged(key_id):
            return f"k:{key_id}"
        case ProjectChanged(project_id):
            return f"p:{project_id}"
        case Everything():
            return _EVERYTHING
    raise TypeError(f"not an invalidation: {event!r}")


def decode(payload: str) -> Invalidation:
    """The event a payload names; `Everything` for one this release does not understand."""
    kind, sep, ident = payload.partition(":")
    event_type = _KINDS.get(kind)
    if event_type is None or not sep or not ident:
        return Everything()
    return event_type(ident)
