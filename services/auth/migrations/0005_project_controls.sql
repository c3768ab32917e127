-- What a project's API keys may use (ProjectControlsService): rate limits per model, model permissions and
-- hosted tool permissions. Every change takes the next version from project_controls_version in its own
-- transaction: that single row serializes the changes, so a reader that asks for "changed after version N"
-- (the chat service, every second) never misses one that commits later with a smaller version.
CREATE TABLE auth.project_controls_version (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version    bigint NOT NULL
);
INSERT INTO auth.project_controls_version (version) VALUES (0);

CREATE TABLE auth.project_controls (
    project_id          text PRIMARY KEY REFERENCES auth.projects (id),
    model_mode          text CHECK (model_mode IN ('allow_list', 'deny_list')),  -- NULL: every model
    model_ids           text[] NOT NULL DEFAULT '{}',
    web_search_enabled  boolean NOT NULL DEFAULT true,
    version             bigint NOT NULL
);
CREATE INDEX project_controls_by_version ON auth.project_controls (version);

CREATE TABLE auth.project_rate_limits (
    project_id                 text NOT NULL REFERENCES auth.projects (id),
    model                      text NOT NULL,
    max_requests_per_1_minute  integer NOT NULL DEFAULT 0 CHECK (max_requests_per_1_minute >= 0),
    max_tokens_per_1_minute    integer NOT NULL DEFAULT 0 CHECK (max_tokens_per_1_minute >= 0),
    max_requests_per_1_day     integer NOT NULL DEFAULT 0 CHECK (max_requests_per_1_day >= 0),
    PRIMARY KEY (project_id, model)
);
