-- Stored responses (OpenAI's Responses API): the Response object as last written (its output items inside),
-- its input items, the create body (a background response is run from it by whichever replica takes it),
-- the events of background responses (so a stream can be followed or resumed from any replica), and the
-- queue's bookkeeping (who took it, when it last showed life, whether it was asked to stop).
-- A foreground response is one row written once, when it ends.
CREATE TABLE chat.responses (
    id                    text PRIMARY KEY,
    user_id               text NOT NULL,
    project_id            text,
    status                text NOT NULL,
    background            boolean NOT NULL DEFAULT false,
    request               jsonb NOT NULL,
    response              jsonb NOT NULL,
    input                 jsonb NOT NULL,  -- [{"id", "type", "body"}, ...] in order
    previous_response_id  text,
    conversation_id       text,
    cancel_requested      boolean NOT NULL DEFAULT false,
    worker                text,  -- the replica that took it (kept after it ends)
    heartbeat_at          timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX responses_queued ON chat.responses (created_at) WHERE status = 'queued';
CREATE INDEX responses_running ON chat.responses (heartbeat_at) WHERE status = 'in_progress';

CREATE TABLE chat.response_events (
    response_id      text NOT NULL REFERENCES chat.responses (id) ON DELETE CASCADE,
    sequence_number  integer NOT NULL,
    event            jsonb NOT NULL,
    PRIMARY KEY (response_id, sequence_number)
);
