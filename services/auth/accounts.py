"""Accounts and sessions: guests, email and password, external (Google) sign-in, refresh and logout.

Password sign-ins are limited per email: after `LoginLimit.max_failures` failures in a window, that email's
sign-ins are refused (RESOURCE_EXHAUSTED, HTTP 429 with retry-after) without looking at the password until
the window ends. Each attempt is counted before its password is checked (a success clears the count), so
guesses sent in parallel cannot all be checked before the first failure is recorded. The counter's key is
the email's normal form (emails.py), the same one the account is looked up by.

Roles: new accounts join as readers. An email address proves nothing by itself, so an email listed in
JAN_ADMIN_EMAILS makes an owner only through a Google sign-in whose ID token says the email is verified,
and only once per email (a later demotion or removal sticks); the first owner otherwise comes from the
bootstrap token (bootstrap.py). A member removed from the organization stays out whatever they sign in
with. Linking a Google sign-in to an existing account by email ends that account's password, sessions and
API keys: nothing proved that whoever set the password owns the address (it may have been registered in
advance by someone else), and Google just did.

A session is a family of refresh tokens. Each refresh marks the presented token used and issues the next
one; presenting a used token again means it was stolen or replayed, so the whole family is revoked, and
with it every access token carrying that session id (ext_authz checks the session on each request).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from services.auth import audit, tokens
from services.auth.domain import SessionTokens, User
from services.auth.emails import normalize_email
from services.auth.invalidation import SessionChanged, UserChanged
from services.auth.passwords import Passwords
from services.auth.rate_limit import AddressLimit
from services.auth.store import Store
from services.auth.validation import MAX_NAME_CHARS, check_email_size, check_password, sign_in_credentials
from services.common import errors
from services.common.identity import Caller

log = logging.getLogger(__name__)


def require_caller(caller: Caller) -> Caller:
    if not caller.authenticated:
        raise errors.Unauthenticated("Missing bearer authentication in header")
    return caller


@dataclass(frozen=True)
class LoginLimit:
    max_failures: int = 10  # 0: no limit
    window_seconds: float = 900.0

    @property
    def enabled(self) -> bool:
        return self.max_failures > 0


class Accounts:
    def __init__(
        self,
        store: Store,
        access_tokens: tokens.AccessTokens,
        passwords: Passwords,
        org_id: str,
        admin_emails: frozenset[str],
        refresh_ttl_seconds: int,
        login_limit: LoginLimit = LoginLimit(),
        guest_accounts: AddressLimit | None = None,
        sign_ins: AddressLimit | None = None,
    ) -> None:
        self._store = store
        self._login_limit = login_limit
        self._guest_accounts = guest_accounts
        self._sign_ins = sign_ins
        self._tokens = access_tokens
        self._passwords = passwords
        self.org_id = org_id
        self._admin_emails = admin_emails
        self._refresh_ttl = timedelta(seconds=refresh_ttl_seconds)

    # -- sign-in -------------------------------------------------------------------------------------
    async def guest_login(self, client_ip: str | None = None) -> SessionTokens:
        """A new guest account and its session; refused past the guest accounts `client_ip` may make."""
        if self._guest_accounts is not None:
            self._guest_accounts.take(client_ip)
        async with self._store.transaction() as tx:
            user = await tx.insert_user(tokens.new_id("user"), None, "Guest", True)
            await tx.set_org_role(self.org_id, user.id, "reader")
            return await self._start_session(tx, replace(user, role="reader"))

    async def register(self, email: str, password: str, name: str, caller: Caller) -> SessionTokens:
        """Creates an account; a guest calling this keeps its id and data and becomes the account."""
        email = normalize_email(check_email_size(email))
        check_password(password)
        password_hash = await self._passwords.hash(password)
        name = name.strip()[:MAX_NAME_CHARS] or email.split("@")[0]
        async with self._store.transaction() as tx:
            if await tx.user_by_email(email, self.org_id):
                raise errors.AlreadyExists("an account with this email already exists", param="email")
            guest = await self._calling_guest(tx, caller)
            if guest:
                await tx.update_user(guest.id, email=email, name=name, password_hash=password_hash)
                await tx.invalidate(UserChanged(guest.id))  # no longer a guest (its limits lift)
                user_id = guest.id
            else:
                user_id = (await tx.insert_user(tokens.new_id("user"), email, name, False, password_hash)).id
            user = await self._settle_role(tx, user_id, new_member=guest is None)
            return await self._start_session(tx, user)

    def count_sign_in(self, client_ip: str | None) -> None:
        """Counts a sign-in attempt from `client_ip`; past the limit, refused before anything is checked or
        recorded (no password hash, no audit event: that is what the limit bounds)."""
        if self._sign_ins is not None:
            self._sign_ins.take(client_ip)

    async def login(self, email: str, password: str, client_ip: str | None = None) -> SessionTokens:
        """A password sign-in; the attempt is recorded in the audit log, a failed one on its own."""
        (email, password), limit = sign_in_credentials(email, password), self._login_limit
        self.count_sign_in(client_ip)
        try:
            return await self._login(email, password, limit, client_ip)
        except errors.JanError as failure:
            await self.record_login_failure(email, failure, client_ip)
            raise

    async def record_login_failure(self, email: str | None, failure: errors.JanError, client_ip: str | None) -> None:
        """A failed sign-in changes nothing: its audit event is written on its own (the user, if the email
        names one, is looked up by the store)."""
        user_id = None
        if email:
            found = await self._store.user_by_email(email, self.org_id)
            user_id = found[0].id if found else None
        actor = audit.session_actor(user_id, email, client_ip)
        await self._store.record_audit_event(self.org_id, audit.login_failed(actor, failure))

    async def _login(self, email: str, password: str, limit: LoginLimit, client_ip: str | None) -> SessionTokens:
        if limit.enabled:  # unknown emails count too: the answer must not tell them apart
            attempts, remaining = await self._store.count_login_attempt(email, limit.window_seconds)
            if attempts > limit.max_failures:
                # (Clamped: a parallel attempt's transaction may have opened the window a moment after ours began.)
                wait = min(max(1, math.ceil(remaining)), math.ceil(limit.window_seconds))
                raise errors.ResourceExhausted(
                    f"too many failed sign-ins for this email; try again in {wait} seconds",
                    retry_after=wait,
                    over_limit="login_failures",
                )
        found = await self._store.user_by_email(email, self.org_id)
        user, password_hash = found if found else (None, None)
        if not await self._passwords.verify(password_hash, password) or user is None:
            raise errors.Unauthenticated("invalid email or password")
        if limit.enabled:
            await self._store.clear_login_failures(email)
        if password_hash and self._passwords.needs_rehash(password_hash):
            await self._store.update_user(user.id, password_hash=await self._passwords.hash(password))
        async with self._store.transaction() as tx:
            user = await self._settle_role(tx, user.id, new_member=False)
            await tx.record_audit_event(
                self.org_id, audit.login_succeeded(audit.session_actor(user.id, None, client_ip))
            )
            return await self._start_session(tx, user)

    async def sign_in_external(
        self,
        *,
        google_sub: str,
        email: str,
        email_verified: bool,
        name: str,
        caller: Caller,
        client_ip: str | None = None,
    ) -> SessionTokens:
        """Finds the account by Google subject, then by email; else upgrades the calling guest in place;
        else creates one. The provider must have verified the email: it links accounts and may make an owner."""
        if not email_verified:
            raise errors.Unauthenticated("Google account has no verified email")
        email = normalize_email(email)
        async with self._store.transaction() as tx:
            user = await tx.user_by_google_sub(google_sub, self.org_id)
            if user is None:
                by_email = await tx.user_by_email(email, self.org_id)
                if by_email:
                    user, password_hash = by_email
                    await tx.update_user(user.id, google_sub=google_sub)
                    if password_hash is not None:  # never proven: only the Google credential remains
                        await tx.clear_password(user.id)
                        await tx.revoke_user_credentials(user.id)
                        await tx.invalidate(UserChanged(user.id))
                        log.info("Google sign-in linked by email; the password was cleared", extra={"user_id": user.id})
            new_member = False  # only an account made here joins; a guest keeps (or lacks) its role
            if user is None:
                guest = await self._calling_guest(tx, caller)
                if guest:
                    await tx.update_user(guest.id, email=email, name=name or guest.name, google_sub=google_sub)
                    await tx.invalidate(UserChanged(guest.id))  # no longer a guest (its limits lift)
                    user = guest
                else:
                    user = await tx.insert_user(tokens.new_id("user"), email, name, False, None, google_sub)
                    new_member = True
            user = await self._settle_role(tx, user.id, new_member=new_member, verified_email=email)
            await tx.record_audit_event(
                self.org_id, audit.login_succeeded(audit.session_actor(user.id, None, client_ip))
            )
            return await self._start_session(tx, user)

    async def _calling_guest(self, tx: Store, caller: Caller) -> User | None:
        if caller.key_type != "session" or not caller.user_id:
            return None
        user = await tx.user(caller.user_id, self.org_id, for_update=True)
        return user if user and user.is_guest else None

    async def _settle_role(
        self, tx: Store, user_id: str, *, new_member: bool, verified_email: str | None = None
    ) -> User:
        """New accounts join as readers; removed members stay out; a `verified_email` (proven by the sign-in)
        listed in JAN_ADMIN_EMAILS makes an owner the first time it is seen, never again."""
        user = await tx.user(user_id, self.org_id)
        assert user is not None
        if user.role is None and not new_member:
            raise errors.Unauthenticated("this account was removed from the organization")
        role = user.role or "reader"
        if verified_email in self._admin_emails and await tx.record_admin_email_grant(
            self.org_id, verified_email, user_id
        ):
            role = "owner"
        if role == user.role:
            return user
        await tx.set_org_role(self.org_id, user_id, role)
        await tx.invalidate(UserChanged(user_id))
        settled = await tx.user(user_id, self.org_id)
        assert settled is not None
        return settled

    async def _start_session(self, tx: Store, user: User) -> SessionTokens:
        session_id = tokens.new_id("sess")
        await tx.insert_session(session_id, user.id, datetime.now(UTC) + self._refresh_ttl)
        refresh_token = await self._new_refresh_token(tx, session_id)
        return self._session_tokens(user, session_id, refresh_token)

    async def _new_refresh_token(self, tx: Store, session_id: str) -> str:
        refresh_token = tokens.new_refresh_token()
        await tx.insert_refresh_token(tokens.sha256(refresh_token), session_id, datetime.now(UTC) + self._refresh_ttl)
        return refresh_token

    def _session_tokens(self, user: User, session_id: str, refresh_token: str) -> SessionTokens:
        access = self._tokens.issue(user.id, session_id, self.org_id)
        return SessionTokens(
            access, self._tokens.ttl_seconds, refresh_token, int(self._refresh_ttl.total_seconds()), user
        )

    # -- refresh and logout --------------------------------------------------------------------------
    async def refresh(self, refresh_token: str) -> SessionTokens:
        if not refresh_token:
            raise errors.Unauthenticated("no refresh token in the request body or the jan_refresh_token cookie")
        token_hash = tokens.sha256(refresh_token)
        reused: str | None = None
        async with self._store.transaction() as tx:
            row = await tx.lock_refresh_token(token_hash)
            if row is None:
                raise errors.Unauthenticated("invalid refresh token")
            if row["revoked_at"] is not None:
                raise errors.Unauthenticated("session has been revoked")
            if row["used_at"] is not None:
                # Replay of a rotated token: end the whole family, then refuse (after the commit below).
                await tx.revoke_session(row["session_id"])
                await tx.invalidate(SessionChanged(row["session_id"]))
                reused = row["session_id"]
            elif row["expires_at"] <= datetime.now(UTC):
                raise errors.Unauthenticated("refresh token expired")
            else:
                user = await tx.user(row["user_id"], self.org_id)
                if user is None or user.role is None:
                    raise errors.Unauthenticated("this account was removed from the organization")
                await tx.mark_refresh_token_used(token_hash)
                new_token = await self._new_refresh_token(tx, row["session_id"])
                return self._session_tokens(user, row["session_id"], new_token)
        log.warning("refresh token reused; session revoked", extra={"session_id": reused})
        raise errors.Unauthenticated("refresh token was already used; the session has been revoked")

    async def logout(self, refresh_token: str, caller: Caller) -> bool:
        """Revokes the session of the refresh token and/or of the calling access token."""
        sessions, user_id = set(), None
        if caller.key_type == "session" and caller.key_id:
            sessions.add(caller.key_id)
            user_id = caller.user_id
        if refresh_token:
            state = await self._store.lock_refresh_token(tokens.sha256(refresh_token))
            if state is not None:
                sessions.add(state["session_id"])
                user_id = user_id or state["user_id"]
        revoked = False
        async with self._store.transaction() as tx:
            for session_id in sessions:
                revoked = await tx.revoke_session(session_id) or revoked
            await tx.invalidate(*(SessionChanged(s) for s in sessions))
            if revoked:
                actor = audit.session_actor(user_id, None, caller.client_ip)
                await tx.record_audit_event(self.org_id, audit.logout_succeeded(actor))
        return revoked

    # -- the caller ----------------------------------------------------------------------------------
    async def me(self, caller: Caller) -> User:
        require_caller(caller)
        if caller.key_type == "service_account":
            assert caller.project_id is not None
            sa = await self._store.service_account(caller.project_id, caller.user_id or "")
            if sa is None:
                raise errors.NotFound("service account not found")
            return User(sa.id, None, sa.name, False, sa.created_at, None, sa.project_id)
        user = await self._store.user(caller.user_id or "", self.org_id)
        if user is None:
            raise errors.NotFound("user not found")
        return User(user.id, user.email, user.name, user.is_guest, user.created_at, user.role, caller.project_id)
