"""The organization's first owner, made with a one-time bootstrap token.

Nobody is an owner on a fresh deployment, and an email address proves nothing by itself (anyone may register
one listed in JAN_ADMIN_EMAILS first). So at start, while the organization has no owner, the auth service
makes a random token, prints it once in its log and keeps only its SHA-256; an operator who can read the log
(or who set JAN_BOOTSTRAP_TOKEN instead, for automated deployments) signs in and presents it
(POST /v1/auth/bootstrap), and that account becomes the owner. The token works once, and only while there
is no owner: once one exists, an unused token is deleted at the next start.
"""

from __future__ import annotations

import logging
import secrets

from services.auth import tokens
from services.auth.domain import User
from services.auth.invalidation import UserChanged
from services.auth.store import Store
from services.auth.validation import required
from services.common import errors
from services.common.identity import Caller

log = logging.getLogger(__name__)
TOKEN_PREFIX = "jbt_"


def new_bootstrap_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 random bits


class OwnerBootstrap:
    def __init__(self, store: Store, org_id: str) -> None:
        self._store = store
        self.org_id = org_id

    async def prepare(self, configured_token: str | None = None) -> str | None:
        """At start: makes sure an organization without an owner has a token. Returns (and logs, once) a
        token it made; None when the organization has an owner, the token was configured, or an unused one
        was made earlier (by this or another replica)."""
        async with self._store.transaction() as tx:
            if await tx.count_owners(self.org_id):
                if await tx.retire_bootstrap_token(self.org_id):
                    log.info("the organization has an owner: the unused bootstrap token was deleted")
                return None
            if configured_token:
                await tx.set_bootstrap_token(self.org_id, tokens.sha256(configured_token), replace=True)
                log.warning(
                    "the organization has no owner yet: sign in, then present JAN_BOOTSTRAP_TOKEN at"
                    " POST /v1/auth/bootstrap"
                )
                return None
            token = new_bootstrap_token()
            if not await tx.set_bootstrap_token(self.org_id, tokens.sha256(token), replace=False):
                since = await tx.unused_bootstrap_token_since(self.org_id)
                log.warning(
                    "the organization has no owner yet: a bootstrap token was printed in the log when it was made"
                    " (%s); if it is lost, start with JAN_BOOTSTRAP_TOKEN set to one of your own",
                    since.isoformat() if since else "earlier",
                )
                return None
        # One line, so it reads the same in JSON and text logs; no "bearer"/"access_token" in it (logs.py redacts).
        log.warning(
            "the organization has no owner yet. ONE-TIME BOOTSTRAP TOKEN (shown only now): %s -- sign in, then"
            ' POST /v1/auth/bootstrap {"bootstrap_token": "<it>"} with that session to become its owner',
            token,
        )
        return token

    async def redeem(self, caller: Caller, token: str) -> User:
        """Makes the calling account the first owner; the token is spent."""
        if not caller.authenticated:
            raise errors.Unauthenticated("Missing bearer authentication in header")
        if caller.key_type != "session" or not caller.user_id:
            raise errors.PermissionDenied("present the bootstrap token with a signed-in user's session")
        required(token, "bootstrap_token")
        async with self._store.transaction() as tx:
            user = await tx.user(caller.user_id, self.org_id, for_update=True)
            if user is None or user.is_guest or not user.email:
                raise errors.PermissionDenied("sign in with an account first: a guest cannot own the organization")
            if user.role is None:
                raise errors.PermissionDenied("this account was removed from the organization")
            if await tx.count_owners(self.org_id):
                raise errors.FailedPrecondition("the organization already has an owner; ask them for an invite")
            if not await tx.use_bootstrap_token(self.org_id, tokens.sha256(token), user.id):
                raise errors.PermissionDenied("invalid or already used bootstrap token", param="bootstrap_token")
            await tx.set_org_role(self.org_id, user.id, "owner")
            await tx.invalidate(UserChanged(user.id))
            owner = await tx.user(user.id, self.org_id)
        log.warning("the organization's first owner was made with the bootstrap token", extra={"user_id": user.id})
        assert owner is not None
        return owner
