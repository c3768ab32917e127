-- Conversations and their items, owned by a user (and the project the request was made in).
CREATE TABLE chat.conversations (
    id          text PRIMARY KEY,
    user_id     text NOT NULL,
    project_id  text,
    metadata    jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_user_created ON chat.conversations (user_id, created_at DESC, id DESC);

CREATE TABLE chat.items (
    id               text PRIMARY KEY,
    conversation_id  text NOT NULL REFERENCES chat.conversations (id) ON DELETE CASCADE,
    seq              bigserial,
    type             text NOT NULL,
    body             jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX items_conversation_seq ON chat.items (conversation_id, seq);
