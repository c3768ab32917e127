-- Completions usage, metered by the chat service from the engine's token counts and written in batches
-- (services/chat/usage.py): one row per bucket and (organization, project, user, API key, model), kept at
-- three widths so a query reads few rows at any range (30 days of 1d buckets are 30 rows per group).
-- '' stands for "none" (a session has no project or key) so the key columns can be a primary key.
CREATE TABLE chat.usage_1m (
    bucket         timestamptz NOT NULL,
    org_id         text NOT NULL,
    project_id     text NOT NULL,
    user_id        text NOT NULL,
    api_key_id     text NOT NULL,
    model          text NOT NULL,
    input_tokens   bigint NOT NULL,
    cached_tokens  bigint NOT NULL,
    output_tokens  bigint NOT NULL,
    requests       bigint NOT NULL,
    PRIMARY KEY (org_id, bucket, project_id, user_id, api_key_id, model)
);
CREATE TABLE chat.usage_1h (LIKE chat.usage_1m INCLUDING ALL);
CREATE TABLE chat.usage_1d (LIKE chat.usage_1m INCLUDING ALL);
