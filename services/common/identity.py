"""Who is calling: the identity Envoy's ext_authz step (the auth service) attached as request headers.

Envoy removes any client-supplied copy of these headers before auth sets them, so a service can trust
them; it must still check that the caller may touch the rows it asks for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

USER_ID = "x-jan-user-id"
ORG_ID = "x-jan-org-id"
PROJECT_ID = "x-jan-project-id"
ORG_ROLE = "x-jan-org-role"
PROJECT_ROLE = "x-jan-project-role"
KEY_TYPE = "x-jan-key-type"
KEY_ID = "x-jan-key-id"
IDENTITY_HEADERS = (USER_ID, ORG_ID, PROJECT_ID, ORG_ROLE, PROJECT_ROLE, KEY_TYPE, KEY_ID)


@dataclass(frozen=True)
class Caller:
    user_id: str | None = None
    org_id: str | None = None
    project_id: str | None = None
    org_role: str | None = None
    project_role: str | None = None
    key_type: str | None = None  # "session", "project", "service_account" or "admin"
    key_id: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    def as_headers(self) -> dict[str, str]:
        return {h: v for h, v in zip(IDENTITY_HEADERS, self._values(), strict=True) if v}

    def _values(self) -> tuple[str | None, ...]:
        return (
            self.user_id,
            self.org_id,
            self.project_id,
            self.org_role,
            self.project_role,
            self.key_type,
            self.key_id,
        )


def caller_from_metadata(metadata: Iterable[tuple[str, str | bytes]] | None) -> Caller:
    found = {k: v for k, v in (metadata or ()) if k in IDENTITY_HEADERS and isinstance(v, str) and v}
    return Caller(*(found.get(h) for h in IDENTITY_HEADERS))
