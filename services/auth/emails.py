"""The one normal form of an email address: what is stored, looked up, invited, listed and counted.

Every comparison happens on this form, in Python, and SQL compares it exactly. Comparing `lower(email)` in
SQL as well let PostgreSQL's case mapping (which turns "İ" into "i", where Python gives "i" + U+0307)
find an account under a spelling that the failed sign-in counter, keyed in Python, counted apart.

NFKC folds compatibility forms (fullwidth letters, ligatures) into the plain ones; lower() is Python's
full Unicode mapping; NFKC once more because lower-casing can leave a string that is not normalized. The
result is stable: the form of a form is itself.
"""

from __future__ import annotations

import re
import unicodedata

from services.common import errors

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MAX_EMAIL_CHARS = 254


def canonical_email(email: str) -> str:
    """The normal form of any text given as an address (no validation: lookups and filters)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email).lower()).strip()


def normalize_email(email: str) -> str:
    """The normal form of an address that will be stored; raises InvalidArgument if it is not one."""
    email = canonical_email(email)
    if len(email) > MAX_EMAIL_CHARS or not _EMAIL.match(email):
        raise errors.InvalidArgument("a valid email address is required", param="email")
    return email
