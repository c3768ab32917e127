"""Google sign-in through Envoy against the local OAuth2/OIDC stand-in, and no secret in any log."""

from __future__ import annotations

import time
import urllib.parse

from devstack.stack import SERVICES, Stack
from tests.auth.conftest import PASSWORD, Owner, Rest, unique_email
from tests.conftest import BOOTSTRAP_TOKEN
from tests.support.fake_google import FakeGoogle


def test_google_sign_in_upgrades_the_calling_guest(rest: Rest, fake_google: FakeGoogle) -> None:
    guest = rest("POST", "/v1/auth/guest-login", {}).json()
    started = rest("GET", "/v1/auth/google/login")
    assert started.status == 200, started.body
    url, state = started.json()["url"], started.json()["state"]
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert query["state"] == state and query["code_challenge_method"] == "S256"
    assert f"jan_oauth_state={state}" in started.headers["set-cookie"]

    email = unique_email("google")
    code, _ = fake_google.consent(url, email=email, name="Gus")
    finished = rest(
        "POST",
        "/v1/auth/google/callback",
        {"code": code, "state": state},
        token=guest["access_token"],
        headers={"cookie": f"jan_oauth_state={state}"},
    )
    assert finished.status == 200, finished.body
    session = finished.json()
    assert session["user"]["id"] == guest["user"]["id"] and session["user"]["email"] == email
    assert session["user"]["is_guest"] is False and "jan_refresh_token=" in finished.headers["set-cookie"]
    replay = rest("POST", "/v1/auth/google/callback", {"code": code, "state": state})
    assert replay.status == 400 and replay.json()["error"]["param"] == "state"


def test_no_password_token_or_key_reaches_any_log(
    stack: Stack, rest: Rest, owner: Owner, fake_google: FakeGoogle
) -> None:
    secrets: list[str] = [PASSWORD, owner.admin_key, owner.access_token, BOOTSTRAP_TOKEN]
    email = unique_email("logs")
    session = rest.register(email)
    secrets += [session["access_token"], session["refresh_token"]]
    rest("POST", "/v1/auth/login", {"email": email, "password": "a-wrong-password-123"})
    secrets.append("a-wrong-password-123")
    refreshed = rest(
        "POST",
        "/v1/auth/refresh",
        {},
        headers={"cookie": f"jan_refresh_token={session['refresh_token']}", "x-requested-with": "XMLHttpRequest"},
    )
    secrets += [refreshed.json()["access_token"], refreshed.json()["refresh_token"]]
    rest("POST", "/v1/auth/refresh", {"refresh_token": session["refresh_token"]})  # a reuse: logged as a warning
    project = rest("POST", "/v1/organization/projects", {"name": "logs"}, token=owner.admin_key).json()
    key = rest(
        "POST", f"/v1/organization/projects/{project['id']}/api_keys", {"name": "k"}, token=owner.access_token
    ).json()
    secrets.append(key["value"])
    rest("GET", "/v1/auth/me", token=key["value"])
    rest("GET", "/v1/auth/me", token=key["value"] + "x")  # an unknown key
    rest("GET", "/v1/auth/me", token=session["access_token"][:-3] + "abc")  # a forged JWT
    started = rest("GET", "/v1/auth/google/login").json()
    code, _ = fake_google.consent(started["url"], email=unique_email("g"))
    rest("POST", "/v1/auth/google/callback", {"code": code, "state": "wrong-" + started["state"]})
    secrets += [code, started["state"]]
    time.sleep(1.5)  # let the processes flush

    logs = {name: stack.log_path(name) for name in (*SERVICES, "envoy")}
    assert logs["auth"].exists() and logs["envoy"].exists()
    for name, path in logs.items():
        text = path.read_text(errors="replace") if path.exists() else ""
        for secret in secrets:
            assert secret not in text, f"a secret ({secret[:6]}...) appears in the {name} log"
        if name in ("auth", "envoy"):
            assert "eyJ" not in text.replace("[REDACTED_JWT]", ""), f"something like a JWT is in the {name} log"
    assert "refresh token reused" in logs["auth"].read_text()  # the auth log did record these events
