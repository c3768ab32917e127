"""Every secret the auth service mints or checks: ids, access JWTs, refresh tokens, API keys, invite codes.

Only access JWTs are self-contained (HMAC-SHA256, short-lived, carrying the session id so a revoked
session stops them). Everything else is a random string whose hash is all the database keeps: SHA-256
for refresh tokens, invite codes and OAuth states (high-entropy, single purpose), HMAC-SHA256 with
JAN_APIKEY_SECRET for API keys (so a database dump alone cannot even confirm a guessed key).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import jwt

from services.common import errors

_ID_ALPHABET = string.ascii_lowercase + string.digits
_ACCESS_AUDIENCE = "jan-api"

# API key prefixes by kind, in OpenAI's style.
KEY_PREFIXES = {"project": "sk-proj-", "service_account": "sk-svcacct-", "admin": "sk-admin-"}
REFRESH_PREFIX = "rt_"
INVITE_PREFIX = "inv_"


def new_id(prefix: str, length: int = 24) -> str:
    """A public id: prefix_ + random [0-9a-z]."""
    return f"{prefix}_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def sha256(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def new_refresh_token() -> str:
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def new_invite_code() -> str:
    return INVITE_PREFIX + secrets.token_urlsafe(24)


def new_oauth_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    session_id: str
    org_id: str
    project_id: str | None
    expires_at: int


class AccessTokens:
    """Issues and verifies access JWTs (HS256 only: `alg: none` and every other algorithm are refused)."""

    def __init__(self, secret: str, issuer: str, ttl_seconds: int, max_remembered: int = 100_000) -> None:
        self._secret = secret
        self._issuer = issuer
        self.ttl_seconds = ttl_seconds
        # Tokens already verified, so a warm check skips pyjwt (~0.2 ms); expiry is still checked every time.
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()
        self._max_remembered = max_remembered

    def issue(self, user_id: str, session_id: str, org_id: str, project_id: str | None = None) -> str:
        now = int(time.time())
        claims = {
            "iss": self._issuer,
            "aud": _ACCESS_AUDIENCE,
            "sub": user_id,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
            "sid": session_id,
            "org": org_id,
        }
        if project_id:
            claims["proj"] = project_id
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, token: str) -> AccessClaims:
        claims = self._verified.get(token)
        if claims is not None:
            if claims.expires_at > time.time():
                return claims
            del self._verified[token]
            raise errors.Unauthenticated("access token expired")
        claims = self._decode(token)
        self._verified[token] = claims
        if len(self._verified) > self._max_remembered:
            self._verified.popitem(last=False)
        return claims

    def _decode(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=_ACCESS_AUDIENCE,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "jti", "sid", "org"]},
            )
        except jwt.ExpiredSignatureError:
            raise errors.Unauthenticated("access token expired") from None
        except jwt.PyJWTError:
            raise errors.Unauthenticated("invalid access token") from None
        if not all(isinstance(claims.get(k), str) for k in ("sub", "sid", "org")):
            raise errors.Unauthenticated("invalid access token")
        return AccessClaims(claims["sub"], claims["sid"], claims["org"], claims.get("proj"), int(claims["exp"]))


class ApiKeySecrets:
    """Mints `sk-...` keys and computes the digest and hint the database keeps instead of the key."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    @staticmethod
    def new_key(kind: str) -> str:
        return KEY_PREFIXES[kind] + secrets.token_urlsafe(36)

    def digest(self, key: str) -> bytes:
        return hmac.new(self._secret, key.encode(), hashlib.sha256).digest()

    @staticmethod
    def redact(key: str) -> str:
        """The kind prefix and the last four characters, e.g. sk-proj-****abcd."""
        prefix = next((p for p in KEY_PREFIXES.values() if key.startswith(p)), "sk-")
        return f"{prefix}****{key[-4:]}"
