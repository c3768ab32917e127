"""Checks on what a request carries, each failing with InvalidArgument that names the bad field in `param`.

Email addresses have one normal form, made and checked by emails.py (normalize_email). What the caller may
see and change is not checked here but in rights.py; whether a record exists, in the domain modules.
"""

from __future__ import annotations

from services.auth.domain import PROJECT_ROLES
from services.auth.emails import MAX_EMAIL_CHARS, canonical_email
from services.common import errors

MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024
MAX_NAME_CHARS = 200  # longer names are cut, not refused
MAX_PAGE = 100
DEFAULT_PAGE = 20


def required(value: str, param: str) -> str:
    if not value:
        raise errors.InvalidArgument(f"{param} is required", param=param)
    return value


def required_name(name: str) -> str:
    """A project's or service account's name: trimmed, cut to MAX_NAME_CHARS, not empty."""
    name = name.strip()
    if not name:
        raise errors.InvalidArgument("name is required", param="name")
    return name[:MAX_NAME_CHARS]


def check_password(password: str) -> str:
    if len(password) > MAX_PASSWORD_CHARS:
        raise errors.InvalidArgument(f"password must be at most {MAX_PASSWORD_CHARS} characters", param="password")
    if len(password) < MIN_PASSWORD_CHARS:
        raise errors.InvalidArgument(f"password must be at least {MIN_PASSWORD_CHARS} characters", param="password")
    return password


def check_email_size(email: str) -> str:
    """Refuses an address longer than any valid one before anything is done with it (normalizing it, counting
    a sign-in for it): a 10 KB one broke the failed sign-in counter's index."""
    if len(email) > MAX_EMAIL_CHARS:
        raise errors.InvalidArgument(f"email must be at most {MAX_EMAIL_CHARS} characters", param="email")
    return email


def sign_in_credentials(email: str, password: str) -> tuple[str, str]:
    """A password sign-in's email in its normal form (emails.canonical_email) and its password, refused (400)
    when longer than any valid one, so no size reaches the attempt counter or the password hash. (NFKC can
    lengthen an address, so its normal form is measured too.)"""
    email = canonical_email(check_email_size(email))
    check_email_size(email)
    if len(password) > MAX_PASSWORD_CHARS:
        raise errors.InvalidArgument(f"password must be at most {MAX_PASSWORD_CHARS} characters", param="password")
    return email, password


def check_role(role: str, allowed: tuple[str, ...] = PROJECT_ROLES, param: str = "role") -> str:
    if role not in allowed:
        raise errors.InvalidArgument(f"role must be one of: {', '.join(allowed)}", param=param)
    return role


# Keys expire within ten years: expires_at is a uint32 Unix time (good until 2106), and a key is stored before
# it is described, so a later time would be a key no list could print.
MAX_EXPIRES_IN_SECONDS = 10 * 365 * 24 * 3600


def check_expires_in(expires_in_seconds: int) -> int:
    if not 0 < expires_in_seconds <= MAX_EXPIRES_IN_SECONDS:
        raise errors.InvalidArgument(
            f"expires_in_seconds must be from 1 to {MAX_EXPIRES_IN_SECONDS} (ten years)", param="expires_in_seconds"
        )
    return expires_in_seconds


def check_order(order: str) -> str:
    """A list's order: "asc", "desc", or "" for the default (ascending)."""
    if order not in ("", "asc", "desc"):
        raise errors.InvalidArgument("order must be asc or desc", param="order")
    return order


def check_sign_in_state(browser_state: str, state: str) -> None:
    """A Google callback's state must be the one the browser got (its state cookie), when it sent one."""
    if browser_state and browser_state != state:
        raise errors.InvalidArgument("state does not match this browser's sign-in", param="state")


def page_limit(limit: int) -> int:
    """A page size: the default for 0 or less, at most MAX_PAGE."""
    return DEFAULT_PAGE if limit <= 0 else min(limit, MAX_PAGE)
