"""All of the auth service's SQL (schema `auth`), behind methods that return domain records.

A Store wraps a pool or, inside `transaction()`, one connection. `invalidate()` is how a change says which
cached authz answers it makes stale (invalidation.py): NOTIFY in the transaction for every replica, and this
replica's caches on commit.
Lists are keyset-paginated on (time, id) and fetch one row more than asked to learn `has_more`.

The SQL is grouped by area, one mixin per module (accounts.py, organization.py, apikeys.py,
project_controls.py, audit_log.py, over the shared plumbing in base.py); callers see one class, `Store`.
"""

from __future__ import annotations

from services.auth.store.accounts import AccountsSql
from services.auth.store.apikeys import ApiKeysSql
from services.auth.store.audit_log import AuditLogSql
from services.auth.store.organization import OrganizationSql
from services.auth.store.project_controls import ProjectControlsSql

__all__ = ["Store"]


class Store(AccountsSql, OrganizationSql, ApiKeysSql, ProjectControlsSql, AuditLogSql):
    """One store over every table of the schema; `transaction()` yields another one on its connection."""
