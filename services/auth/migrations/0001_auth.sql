-- The auth service's tables: accounts, the organization and its projects, members and roles, sessions with
-- rotating refresh tokens, API keys, invites and pending Google sign-ins. Secrets are never stored: refresh
-- tokens, invite codes and OAuth states as SHA-256, API keys as HMAC-SHA256 with JAN_APIKEY_SECRET.

-- One organization per deployment, created here.
CREATE TABLE auth.organizations (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO auth.organizations (id, name)
VALUES ('org_' || substr(md5(random()::text || clock_timestamp()::text), 1, 24), 'Default organization');

-- Accounts. Emails are unique case-insensitively; guests have none.
CREATE TABLE auth.users (
    id             text PRIMARY KEY,
    email          text,
    name           text NOT NULL DEFAULT '',
    is_guest       boolean NOT NULL DEFAULT false,
    password_hash  text,
    google_sub     text UNIQUE,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON auth.users (lower(email)) WHERE email IS NOT NULL;

CREATE TABLE auth.org_members (
    org_id    text NOT NULL REFERENCES auth.organizations (id) ON DELETE CASCADE,
    user_id   text NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    role      text NOT NULL CHECK (role IN ('owner', 'reader')),
    added_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id)
);

CREATE TABLE auth.projects (
    id           text PRIMARY KEY,
    org_id       text NOT NULL REFERENCES auth.organizations (id) ON DELETE CASCADE,
    name         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    archived_at  timestamptz
);
CREATE INDEX projects_org_created ON auth.projects (org_id, created_at, id);

CREATE TABLE auth.project_members (
    project_id  text NOT NULL REFERENCES auth.projects (id) ON DELETE CASCADE,
    user_id     text NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('owner', 'member')),
    added_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user ON auth.project_members (user_id);

CREATE TABLE auth.service_accounts (
    id          text PRIMARY KEY,
    project_id  text NOT NULL REFERENCES auth.projects (id) ON DELETE CASCADE,
    name        text NOT NULL,
    role        text NOT NULL CHECK (role IN ('owner', 'member')),
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX service_accounts_project ON auth.service_accounts (project_id, created_at, id);

-- A session is one refresh-token family; access tokens carry its id, so revoking it reaches them too.
CREATE TABLE auth.sessions (
    id          text PRIMARY KEY,
    user_id     text NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX sessions_user ON auth.sessions (user_id);

CREATE TABLE auth.refresh_tokens (
    token_hash  bytea PRIMARY KEY,
    session_id  text NOT NULL REFERENCES auth.sessions (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz  -- set when rotated; presenting it again revokes the session
);
CREATE INDEX refresh_tokens_session ON auth.refresh_tokens (session_id);

CREATE TABLE auth.api_keys (
    id                  text PRIMARY KEY,
    kind                text NOT NULL CHECK (kind IN ('project', 'service_account', 'admin')),
    org_id              text NOT NULL REFERENCES auth.organizations (id) ON DELETE CASCADE,
    name                text NOT NULL DEFAULT '',
    digest              bytea NOT NULL UNIQUE,
    redacted_value      text NOT NULL,
    project_id          text REFERENCES auth.projects (id) ON DELETE CASCADE,
    user_id             text REFERENCES auth.users (id) ON DELETE CASCADE,
    service_account_id  text REFERENCES auth.service_accounts (id) ON DELETE CASCADE,
    created_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at          timestamptz,
    last_used_at        timestamptz,
    revoked_at          timestamptz,
    CHECK ((kind = 'admin') = (project_id IS NULL)),
    CHECK ((kind = 'service_account') = (service_account_id IS NOT NULL))
);
CREATE INDEX api_keys_project ON auth.api_keys (project_id, created_at, id);
CREATE INDEX api_keys_user ON auth.api_keys (user_id);

CREATE TABLE auth.invites (
    id           text PRIMARY KEY,
    org_id       text NOT NULL REFERENCES auth.organizations (id) ON DELETE CASCADE,
    email        text NOT NULL,
    role         text NOT NULL CHECK (role IN ('owner', 'reader')),
    code_hash    bytea NOT NULL UNIQUE,
    invited_by   text REFERENCES auth.users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at   timestamptz NOT NULL,
    accepted_at  timestamptz,
    accepted_by  text REFERENCES auth.users (id) ON DELETE SET NULL
);
CREATE INDEX invites_org_created ON auth.invites (org_id, created_at, id);

CREATE TABLE auth.invite_projects (
    invite_id   text NOT NULL REFERENCES auth.invites (id) ON DELETE CASCADE,
    project_id  text NOT NULL REFERENCES auth.projects (id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('owner', 'member')),
    PRIMARY KEY (invite_id, project_id)
);

-- Google sign-ins in progress: the state is single use and expires; the PKCE verifier and nonce stay here.
CREATE TABLE auth.oauth_states (
    state_hash     bytea PRIMARY KEY,
    code_verifier  text NOT NULL,
    nonce          text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);
