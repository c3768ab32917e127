"""Access JWTs, API key secrets and ids, without a database."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from services.auth.tokens import AccessTokens, ApiKeySecrets, new_id, new_refresh_token, sha256
from services.common import errors

SECRET = "jwt-secret-for-unit-tests-" + "0123456789abcdef" * 3


def tokens(ttl: int = 900) -> AccessTokens:
    return AccessTokens(SECRET, "jan-server", ttl)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_issued_token_verifies_and_carries_its_claims() -> None:
    token = tokens().issue("user_1", "sess_1", "org_1", "proj_1")
    claims = tokens().verify(token)
    assert (claims.user_id, claims.session_id, claims.org_id, claims.project_id) == (
        "user_1",
        "sess_1",
        "org_1",
        "proj_1",
    )
    raw = jwt.decode(token, SECRET, algorithms=["HS256"], audience="jan-api")
    assert {"sub", "exp", "iat", "jti", "sid", "org", "iss", "aud"} <= raw.keys()
    assert raw["exp"] - raw["iat"] == 900
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_each_token_has_its_own_jti() -> None:
    a, b = (jwt.decode(tokens().issue("u", "s", "o"), options={"verify_signature": False}) for _ in range(2))
    assert a["jti"] != b["jti"]


def test_tampered_payload_is_rejected() -> None:
    header, payload, signature = tokens().issue("user_1", "sess_1", "org_1").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "user_2"
    with pytest.raises(errors.Unauthenticated, match="invalid"):
        tokens().verify(f"{header}.{_b64(claims)}.{signature}")


def test_expired_token_is_rejected() -> None:
    now = int(time.time())
    claims = {
        "iss": "jan-server",
        "aud": "jan-api",
        "sub": "u",
        "sid": "s",
        "org": "o",
        "jti": "j",
        "iat": now - 100,
        "exp": now - 10,
    }
    with pytest.raises(errors.Unauthenticated, match="expired"):
        tokens().verify(jwt.encode(claims, SECRET, algorithm="HS256"))


def test_alg_none_is_rejected() -> None:
    claims = jwt.decode(tokens().issue("u", "s", "o"), options={"verify_signature": False})
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    with pytest.raises(errors.Unauthenticated):
        tokens().verify(unsigned)


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_other_algorithms_with_the_right_key_are_rejected(algorithm: str) -> None:
    claims = jwt.decode(tokens().issue("u", "s", "o"), options={"verify_signature": False})
    with pytest.raises(errors.Unauthenticated):
        tokens().verify(jwt.encode(claims, SECRET, algorithm=algorithm))


def test_wrong_key_and_wrong_issuer_are_rejected() -> None:
    other = AccessTokens("another-secret-0123456789abcdef0123456789", "jan-server", 900)
    with pytest.raises(errors.Unauthenticated):
        tokens().verify(other.issue("u", "s", "o"))
    with pytest.raises(errors.Unauthenticated):
        tokens().verify(AccessTokens(SECRET, "someone-else", 900).issue("u", "s", "o"))


def test_missing_session_id_is_rejected() -> None:
    now = int(time.time())
    claims = {"iss": "jan-server", "aud": "jan-api", "sub": "u", "org": "o", "jti": "j", "iat": now, "exp": now + 60}
    with pytest.raises(errors.Unauthenticated):
        tokens().verify(jwt.encode(claims, SECRET, algorithm="HS256"))


@pytest.mark.parametrize(
    ("kind", "prefix"), [("project", "sk-proj-"), ("service_account", "sk-svcacct-"), ("admin", "sk-admin-")]
)
def test_api_keys_are_random_prefixed_and_stored_as_hmac(kind: str, prefix: str) -> None:
    secrets_ = ApiKeySecrets("apikey-secret-for-unit-tests-0123456789ab")
    key = secrets_.new_key(kind)
    assert key.startswith(prefix) and len(key) > len(prefix) + 40
    assert secrets_.new_key(kind) != key
    digest = secrets_.digest(key)
    assert len(digest) == 32 and digest == secrets_.digest(key)
    assert digest != ApiKeySecrets("a-different-secret-0123456789abcdefghij").digest(key)
    hint = secrets_.redact(key)
    assert hint.startswith(prefix) and hint.endswith(key[-4:]) and key[len(prefix) : -4] not in hint


def test_ids_and_refresh_tokens() -> None:
    assert new_id("user").startswith("user_") and len(new_id("user")) == 29
    token = new_refresh_token()
    assert token.startswith("rt_") and len(sha256(token)) == 32
