"""Google sign-in end to end against the local OAuth2/OIDC stand-in: PKCE, state, nonce, ID token checks,
finding, creating, linking and upgrading accounts."""

from __future__ import annotations

import time
import urllib.parse

import pytest

from services.auth.google_oauth import GoogleSignIn
from services.auth.server import AuthApp
from services.auth.settings import GoogleSettings
from services.common import errors
from services.common.identity import Caller
from tests.auth.conftest import PASSWORD, caller_for, unique_email
from tests.conftest import ADMIN_EMAIL
from tests.support.fake_google import CLIENT_ID, REDIRECT_URL, FakeGoogle


async def sign_in(app: AuthApp, google: FakeGoogle, caller: Caller | None = None, **consent):
    url, state = await app.google.login_url()
    code, returned_state = google.consent(url, **consent)
    assert returned_state == state
    return await app.google.callback(code, state, caller or Caller())


async def test_login_url_carries_state_nonce_and_an_s256_challenge(app: AuthApp, fake_google: FakeGoogle) -> None:
    url, state = await app.google.login_url()
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == fake_google.env()["OAUTH2_GOOGLE_AUTH_URI"]
    assert query["client_id"] == CLIENT_ID and query["redirect_uri"] == REDIRECT_URL
    assert query["response_type"] == "code" and "openid" in query["scope"].split()
    assert query["state"] == state and len(state) >= 32 and len(query["nonce"]) >= 32
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    _, second_state = await app.google.login_url()
    assert second_state != state


async def test_callback_creates_the_user_and_the_token_request_used_pkce(app: AuthApp, fake_google: FakeGoogle) -> None:
    email = unique_email("g")
    session = await sign_in(app, fake_google, email=email, name="Gina")
    assert session.user.email == email and session.user.name == "Gina" and not session.user.is_guest
    assert session.user.role == "reader" and session.refresh_token.startswith("rt_")
    exchange = fake_google.state.token_requests[-1]
    assert exchange["grant_type"] == "authorization_code" and len(exchange["code_verifier"]) >= 43
    assert (await caller_for(app, session.access_token)).user_id == session.user.id


async def test_the_same_google_account_and_an_existing_email_map_to_one_user(
    app: AuthApp, fake_google: FakeGoogle
) -> None:
    email = unique_email()
    registered = await app.accounts.register(email, PASSWORD, "", Caller())
    linked = await sign_in(app, fake_google, email=email, sub="google-sub-1")
    assert linked.user.id == registered.user.id
    again = await sign_in(app, fake_google, email=unique_email("changed"), sub="google-sub-1")
    assert again.user.id == registered.user.id


async def test_a_guest_is_upgraded_in_place(app: AuthApp, fake_google: FakeGoogle) -> None:
    guest = await app.accounts.guest_login()
    caller = await caller_for(app, guest.access_token)
    email = unique_email("upgraded")
    session = await sign_in(app, fake_google, caller, email=email)
    assert session.user.id == guest.user.id and session.user.email == email and not session.user.is_guest


async def test_admin_email_signs_in_as_owner(app: AuthApp, fake_google: FakeGoogle) -> None:
    assert (await sign_in(app, fake_google, email=ADMIN_EMAIL)).user.role == "owner"


async def another_owner(app: AuthApp) -> Caller:
    """An owner put straight into the database: these tests are about someone else's role."""
    session = await app.accounts.register(unique_email("boss"), PASSWORD, "", Caller())
    await app.store.set_org_role(app.accounts.org_id, session.user.id, "owner")
    return await caller_for(app, session.access_token)


async def test_a_verified_admin_email_is_made_owner_once(app: AuthApp, fake_google: FakeGoogle) -> None:
    boss = await another_owner(app)
    first = await sign_in(app, fake_google, email=ADMIN_EMAIL, sub="admin-sub")
    assert first.user.role == "owner"
    await app.organization.modify_user(boss, first.user.id, "reader")
    again = await sign_in(app, fake_google, email=ADMIN_EMAIL.upper(), sub="admin-sub")
    assert again.user.id == first.user.id and again.user.role == "reader"  # the demotion sticks


async def test_a_removed_member_stays_removed_whatever_they_sign_in_with(app: AuthApp, fake_google: FakeGoogle) -> None:
    boss = await another_owner(app)
    admin = await sign_in(app, fake_google, email=ADMIN_EMAIL, sub="admin-sub")
    await app.organization.remove_user(boss, admin.user.id)
    for sub in ("admin-sub", "another-sub"):  # by Google subject, then by email
        with pytest.raises(errors.Unauthenticated, match="removed"):
            await sign_in(app, fake_google, email=ADMIN_EMAIL, sub=sub)
    email = unique_email()
    reader = await app.accounts.register(email, PASSWORD, "", Caller())
    await app.organization.remove_user(boss, reader.user.id)
    with pytest.raises(errors.Unauthenticated, match="removed"):
        await app.accounts.login(email, PASSWORD)
    with pytest.raises(errors.Unauthenticated, match="removed"):
        await sign_in(app, fake_google, email=email)
    assert (await app.store.user(admin.user.id, app.accounts.org_id)).role is None  # type: ignore[union-attr]


async def test_linking_by_email_ends_a_pre_registered_password(app: AuthApp, fake_google: FakeGoogle) -> None:
    # Someone registers the victim's address with a password of theirs before the victim ever signs in. When
    # the victim signs in with Google, the accounts are linked by email: the unproven password, its sessions
    # and its API keys must not survive.
    boss = await another_owner(app)
    email = unique_email("victim")
    attacker = await app.accounts.register(email, "the attacker's password", "", Caller())
    project = await app.organization.create_project(boss, "shared")
    await app.organization.add_project_user(boss, project.id, attacker.user.id, None, "member")
    attacker_caller = await caller_for(app, (await app.accounts.login(email, "the attacker's password")).access_token)
    key = await app.api_keys.create_project_key(attacker_caller, project.id, "kept?", None)

    victim = await sign_in(app, fake_google, email=email, sub="victim-sub")
    assert victim.user.id == attacker.user.id
    with pytest.raises(errors.Unauthenticated):
        await app.accounts.login(email, "the attacker's password")
    for credential in (attacker.access_token, key.value or ""):
        with pytest.raises(errors.Unauthenticated):
            await caller_for(app, credential)
    with pytest.raises(errors.Unauthenticated):
        await app.accounts.refresh(attacker.refresh_token)
    assert (await caller_for(app, victim.access_token)).user_id == victim.user.id


async def test_an_unverified_google_email_links_nothing(app: AuthApp) -> None:
    email = unique_email()
    registered = await app.accounts.register(email, PASSWORD, "", Caller())
    with pytest.raises(errors.Unauthenticated, match="verified email"):
        await app.accounts.sign_in_external(
            google_sub="unverified", email=email, email_verified=False, name="", caller=Caller()
        )
    assert (await app.accounts.login(email, PASSWORD)).user.id == registered.user.id
    assert await app.store.user_by_google_sub("unverified", app.accounts.org_id) is None


async def test_state_is_single_use_and_expires(app: AuthApp, fake_google: FakeGoogle) -> None:
    url, state = await app.google.login_url()
    code, _ = fake_google.consent(url, email=unique_email())
    await app.google.callback(code, state, Caller())
    with pytest.raises(errors.InvalidArgument, match="state"):
        await app.google.callback(code, state, Caller())
    with pytest.raises(errors.InvalidArgument, match="state"):
        await app.google.callback("4/whatever", "made-up-state", Caller())

    url, state = await app.google.login_url()
    code, _ = fake_google.consent(url, email=unique_email())
    await app.store._db.execute("UPDATE auth.oauth_states SET expires_at = now() - interval '1 s'")
    with pytest.raises(errors.InvalidArgument, match="expired"):
        await app.google.callback(code, state, Caller())


@pytest.mark.parametrize(
    ("consent", "message"),
    [
        ({"claims": {"aud": "someone-else.apps.googleusercontent.com"}}, "could not be verified"),
        ({"claims": {"exp": int(time.time()) - 60}}, "could not be verified"),
        ({"sign_with_rogue_key": True}, "could not be verified"),
        ({"claims": {"iss": "https://evil.example"}}, "issuer"),
        ({"claims": {"nonce": "replayed"}}, "nonce"),
        ({"email_verified": False}, "verified email"),
    ],
)
async def test_bad_id_tokens_are_refused(app: AuthApp, fake_google: FakeGoogle, consent: dict, message: str) -> None:
    url, state = await app.google.login_url()
    code, _ = fake_google.consent(url, email=unique_email(), **consent)
    with pytest.raises(errors.Unauthenticated, match=message):
        await app.google.callback(code, state, Caller())


async def test_a_code_google_rejects_is_refused(app: AuthApp, fake_google: FakeGoogle) -> None:
    url, state = await app.google.login_url()
    fake_google.consent(url, email=unique_email())
    with pytest.raises(errors.Unauthenticated, match="rejected"):
        await app.google.callback("4/forged", state, Caller())


async def test_unconfigured_google_is_a_failed_precondition(app: AuthApp) -> None:
    google = GoogleSignIn(GoogleSettings(), app.store, app.accounts)
    with pytest.raises(errors.FailedPrecondition, match="OAUTH2_GOOGLE_CLIENT_ID"):
        await google.login_url()
    with pytest.raises(errors.FailedPrecondition):
        await google.callback("code", "state", Caller())
