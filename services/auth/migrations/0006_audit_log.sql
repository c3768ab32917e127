-- The audit log (GET /v1/organization/audit_logs): one row per recorded change, inserted in the change's own
-- transaction (a rolled-back change leaves none), and one per sign-in attempt. No foreign keys: a row
-- outlives the user, key or project it names, and keeps the project's name and the actor's email as they
-- were then. Pages are newest first, keyset on (effective_at, id); every filter has an index that leads
-- with it and ends in that order, so a filtered page reads an index range instead of the whole log.
CREATE TABLE auth.audit_logs (
    id              text PRIMARY KEY,                      -- "audit_log-..."
    org_id          text NOT NULL,
    type            text NOT NULL,                         -- OpenAI's event type, e.g. "project.created"
    effective_at    timestamptz NOT NULL DEFAULT clock_timestamp(),  -- (events of one transaction in order)
    project_id      text,
    project_name    text,
    resource_id     text,                                  -- the id in the details, if any
    actor_type      text NOT NULL CHECK (actor_type IN ('session', 'api_key')),
    actor_id        text,                                  -- the user or service account
    actor_email     text,
    actor_key_id    text,                                  -- the API key, for actor_type api_key
    actor_key_type  text CHECK (actor_key_type IN ('user', 'service_account')),
    ip_address      text,
    details         jsonb NOT NULL DEFAULT '{}'            -- OpenAI's details object for the type
);
CREATE INDEX audit_logs_by_time ON auth.audit_logs (org_id, effective_at DESC, id DESC);
CREATE INDEX audit_logs_by_type ON auth.audit_logs (org_id, type, effective_at DESC, id DESC);
CREATE INDEX audit_logs_by_project ON auth.audit_logs (org_id, project_id, effective_at DESC, id DESC)
    WHERE project_id IS NOT NULL;
CREATE INDEX audit_logs_by_resource ON auth.audit_logs (org_id, resource_id, effective_at DESC, id DESC)
    WHERE resource_id IS NOT NULL;
CREATE INDEX audit_logs_by_actor ON auth.audit_logs (org_id, actor_id, effective_at DESC, id DESC)
    WHERE actor_id IS NOT NULL;
CREATE INDEX audit_logs_by_actor_key ON auth.audit_logs (org_id, actor_key_id, effective_at DESC, id DESC)
    WHERE actor_key_id IS NOT NULL;
CREATE INDEX audit_logs_by_actor_email ON auth.audit_logs (org_id, actor_email, effective_at DESC, id DESC)
    WHERE actor_email IS NOT NULL;
