"""Signed identity headers (services/common/identity.py): what auth's ext_authz signs, every service that reads
identity verifies, and anything unsigned, badly signed, altered or expired is nobody."""

from __future__ import annotations

import pytest

from services.common.identity import (
    GUEST,
    NOBODY,
    PROJECT_ID,
    SIGNATURE,
    SIGNED_HEADERS,
    USER_ID,
    Caller,
    caller_from_metadata,
    sign_identity,
    signature_expiry,
)

SECRET = b"s" * 32
NOW = 1_800_000_000.0
ALICE = Caller("user_alice", "org_1", None, "reader", None, "session", "sess_1")


def signed(caller: Caller = ALICE, secret: bytes = SECRET, now: float = NOW) -> list[tuple[str, str]]:
    return list(sign_identity(caller, secret, signature_expiry(now)).items())


def test_a_signed_identity_reads_back_whole() -> None:
    assert caller_from_metadata(signed(), SECRET, now=NOW) == ALICE
    guest = Caller("user_g", "org_1", key_type="session", key_id="sess_g", guest=True)
    metadata = signed(guest)
    assert dict(metadata)[GUEST] == "1"
    assert caller_from_metadata(metadata, SECRET, now=NOW) == guest
    assert set(dict(metadata)) <= {*SIGNED_HEADERS, SIGNATURE}


def test_unsigned_identity_is_nobody() -> None:
    forged = [(USER_ID, "user_owner"), ("x-jan-org-role", "owner"), ("x-jan-key-type", "admin")]
    assert caller_from_metadata(forged, SECRET, now=NOW) == NOBODY
    assert not caller_from_metadata(forged, SECRET, now=NOW).authenticated
    assert caller_from_metadata(None, SECRET, now=NOW) == NOBODY


def test_another_keys_signature_is_nobody() -> None:
    assert caller_from_metadata(signed(secret=b"t" * 32), SECRET, now=NOW) == NOBODY


@pytest.mark.parametrize(
    "change",
    [
        lambda m: [(k, "user_mallory" if k == USER_ID else v) for k, v in m],  # another user
        lambda m: [*m, (PROJECT_ID, "proj_other")],  # a header added to a signed set
        lambda m: [*m, (GUEST, "1")],
        lambda m: [(k, v) for k, v in m if k != "x-jan-org-role"],  # one left out
        lambda m: [(k, v[:-1] + ("0" if v[-1] != "0" else "1") if k == SIGNATURE else v) for k, v in m],
        lambda m: [(k, v.replace(".", ".9", 1) if k == SIGNATURE else v) for k, v in m],  # a later expiry
    ],
)
def test_an_altered_identity_is_nobody(change) -> None:
    assert caller_from_metadata(change(signed()), SECRET, now=NOW) == NOBODY


def test_an_expired_signature_is_nobody() -> None:
    metadata = signed()
    expires_at = signature_expiry(NOW)
    assert 60 <= expires_at - NOW <= 90
    assert caller_from_metadata(metadata, SECRET, now=expires_at) == ALICE
    assert caller_from_metadata(metadata, SECRET, now=expires_at + 1) == NOBODY


@pytest.mark.parametrize("signature", ["", "v1", "v1..", "v2.1800000090.ab", "v1.soon.ab", "v1.1800000090.é"])
def test_malformed_signatures_are_nobody(signature: str) -> None:
    metadata = [(k, v) for k, v in signed() if k != SIGNATURE] + [(SIGNATURE, signature)]
    assert caller_from_metadata(metadata, SECRET, now=NOW) == NOBODY


def test_nobody_gets_no_headers() -> None:
    assert sign_identity(NOBODY, SECRET, signature_expiry(NOW)) == {}
