"""Identity metadata as auth's ext_authz sets it, signed (services/common/identity.py), for tests that call a
service's own port instead of going through Envoy."""

from __future__ import annotations

import time

from services.common.identity import Caller, sign_identity, signature_expiry


def identity_metadata(
    secret: str, user_id: str, *, expires_at: int | None = None, **fields: str | bool
) -> tuple[tuple[str, str], ...]:
    """Signed identity headers for `user_id` (and any other Caller field), valid for about a minute unless
    `expires_at` (unix seconds) says otherwise."""
    caller = Caller(user_id=user_id, **fields)  # type: ignore[arg-type]
    expiry = signature_expiry(time.time()) if expires_at is None else expires_at
    return tuple(sign_identity(caller, secret.encode(), expiry).items())
