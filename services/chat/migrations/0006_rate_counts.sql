-- Projects' rate limit counts, shared by every chat replica (services/chat/rate_limits.py): each adds what
-- it admitted every sync (a fraction of a second) and reads back the totals. Windows are a minute or a
-- day (width, seconds); rows of windows that ended more than a day ago are deleted.
CREATE TABLE chat.rate_counts (
    project_id    text NOT NULL,
    model         text NOT NULL,
    width         integer NOT NULL,
    window_start  timestamptz NOT NULL,
    requests      bigint NOT NULL,
    tokens        bigint NOT NULL,
    PRIMARY KEY (project_id, model, width, window_start)
);
