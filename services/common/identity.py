"""Who is calling: the identity Envoy's ext_authz step (the auth service) attached as request headers, signed.

Envoy removes any client-supplied copy of these headers before auth sets them. But a service's own port can
be reached without Envoy (another pod, a process on the host), so the headers alone prove nothing: the auth
service signs them (`sign_identity`: HMAC-SHA256 with JAN_IDENTITY_SECRET over the values and an expiry a
minute or so ahead, so a captured set cannot be replayed for long), and every service that reads them
verifies the signature (`caller_from_metadata`). Unsigned, badly signed or expired identity is no identity.
Services must still check that the caller may touch the rows it asks for.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

USER_ID = "x-jan-user-id"
ORG_ID = "x-jan-org-id"
PROJECT_ID = "x-jan-project-id"
ORG_ROLE = "x-jan-org-role"
PROJECT_ROLE = "x-jan-project-role"
KEY_TYPE = "x-jan-key-type"
KEY_ID = "x-jan-key-id"
GUEST = "x-jan-guest"  # "1" for a guest account (limits of its own, services/chat/limits.py)
SIGNATURE = "x-jan-identity-signature"  # "v1.<expires at, unix seconds>.<HMAC-SHA256, hex>"
# The signed headers, in the order the signature covers them.
SIGNED_HEADERS = (USER_ID, ORG_ID, PROJECT_ID, ORG_ROLE, PROJECT_ROLE, KEY_TYPE, KEY_ID, GUEST)
# Every header ext_authz decides: set for the caller, else removed from the request.
IDENTITY_HEADERS = (*SIGNED_HEADERS, SIGNATURE)
# The address the request came from, set by Envoy on every request it forwards (any client copy is
# overwritten). Not signed: it identifies no one, it only says where a recorded change came from (the
# auth service's audit log).
CLIENT_IP = "x-jan-client-ip"

SIGNATURE_VERSION = "v1"
# A signature is valid until 60 to 90 s after it is made: the expiry is rounded up to a 30 s step, so the
# auth service signs a caller's headers once per step (cached) instead of on every request.
SIGNATURE_LIFETIME_SECONDS = 60
_EXPIRY_STEP_SECONDS = 30
MIN_SECRET_BYTES = 32


@dataclass(frozen=True)
class Caller:
    user_id: str | None = None
    org_id: str | None = None
    project_id: str | None = None
    org_role: str | None = None
    project_role: str | None = None
    key_type: str | None = None  # "session", "project", "service_account" or "admin"
    key_id: str | None = None
    guest: bool = False  # a guest account (signed in with POST /v1/auth/guest-login, not yet registered)
    client_ip: str | None = None  # where the request came from (CLIENT_IP); not part of the identity

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    def as_headers(self) -> dict[str, str]:
        """The identity headers (unsigned): see sign_identity."""
        return {h: v for h, v in zip(SIGNED_HEADERS, self._values(), strict=True) if v}

    def _values(self) -> tuple[str | None, ...]:
        return (
            self.user_id,
            self.org_id,
            self.project_id,
            self.org_role,
            self.project_role,
            self.key_type,
            self.key_id,
            "1" if self.guest else None,
        )


NOBODY = Caller()


def signature_expiry(now: float) -> int:
    """When a signature made at `now` expires: SIGNATURE_LIFETIME_SECONDS to that plus one step ahead."""
    return (int(now) // _EXPIRY_STEP_SECONDS + 1) * _EXPIRY_STEP_SECONDS + SIGNATURE_LIFETIME_SECONDS


def _mac(secret: bytes, values: Mapping[str, str], expires_at: int) -> str:
    # One line per signed header, in a fixed order, empty when absent: header values hold no newline, so
    # two different sets never give the same text.
    text = "\n".join([SIGNATURE_VERSION, str(expires_at), *(values.get(h, "") for h in SIGNED_HEADERS)])
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()


def sign_identity(caller: Caller, secret: bytes, expires_at: int) -> dict[str, str]:
    """The caller's identity headers with their signature, valid until `expires_at` (unix seconds; see
    signature_expiry). The auth service answers Envoy's ext_authz with these."""
    values = caller.as_headers()
    if not values:
        return {}
    return {**values, SIGNATURE: f"{SIGNATURE_VERSION}.{expires_at}.{_mac(secret, values, expires_at)}"}


def caller_from_metadata(
    metadata: Iterable[tuple[str, str | bytes]] | None, secret: bytes, *, now: float | None = None
) -> Caller:
    """The caller the request's identity headers name, if their signature is valid and unexpired; otherwise
    nobody (Caller(), not authenticated), whatever the headers say."""
    found: dict[str, str] = {}
    signature = ""
    address = None
    for key, value in metadata or ():
        if not isinstance(value, str) or not value:
            continue
        if key == SIGNATURE:
            signature = value
        elif key == CLIENT_IP:
            address = _address(value)
        elif key in SIGNED_HEADERS:
            found[key] = value
    if not found or not _valid(found, signature, secret, time.time() if now is None else now):
        return NOBODY
    return Caller(
        found.get(USER_ID),
        found.get(ORG_ID),
        found.get(PROJECT_ID),
        found.get(ORG_ROLE),
        found.get(PROJECT_ROLE),
        found.get(KEY_TYPE),
        found.get(KEY_ID),
        found.get(GUEST) == "1",
        address,
    )


def client_ip(metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    """The request's client address as Envoy passed it (CLIENT_IP), if any."""
    for key, value in metadata or ():
        if key == CLIENT_IP and isinstance(value, str) and value:
            return _address(value)
    return None


def _address(value: str) -> str:
    return value[:64]  # an IPv6 address with a zone fits; the header is Envoy's, the bound is for safety


def _valid(values: Mapping[str, str], signature: str, secret: bytes, now: float) -> bool:
    version, _, rest = signature.partition(".")
    expiry, _, mac = rest.partition(".")
    if version != SIGNATURE_VERSION or not expiry.isdigit() or len(expiry) > 12:
        return False
    expires_at = int(expiry)
    if now > expires_at:
        return False
    return hmac.compare_digest(mac.encode(), _mac(secret, values, expires_at).encode())
