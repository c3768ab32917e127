-- Who may become an organization owner without being made one by another owner (bootstrap.py, accounts.py).
-- An email listed in JAN_ADMIN_EMAILS proves nothing by itself (anyone could register it first); these two
-- tables hold the proofs that do.

-- The one-time bootstrap token of the organization's first owner: made at start while the organization has
-- no owner (printed once in the log) or set by JAN_BOOTSTRAP_TOKEN. Only its SHA-256 is kept.
CREATE TABLE auth.bootstrap_tokens (
    org_id      text PRIMARY KEY REFERENCES auth.organizations (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    used_at     timestamptz,
    used_by     text REFERENCES auth.users (id) ON DELETE SET NULL
);

-- A Google sign-in whose verified email is in JAN_ADMIN_EMAILS makes its account an owner once per email; a
-- later demotion or removal sticks. The owners of today are recorded as granted already.
CREATE TABLE auth.admin_email_grants (
    org_id      text NOT NULL REFERENCES auth.organizations (id) ON DELETE CASCADE,
    email       text NOT NULL,  -- normal form (emails.py)
    user_id     text REFERENCES auth.users (id) ON DELETE SET NULL,
    granted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, email)
);
INSERT INTO auth.admin_email_grants (org_id, email, user_id)
SELECT m.org_id, u.email, u.id FROM auth.org_members m JOIN auth.users u ON u.id = m.user_id
WHERE m.role = 'owner' AND u.email IS NOT NULL;
