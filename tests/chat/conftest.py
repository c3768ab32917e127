"""The auth tests' session owner and REST helper, for chat tests that need an organization (projects, keys)."""

from tests.auth.conftest import owner, rest  # noqa: F401 - fixtures, found by name
