-- Conversations as OpenAI's Conversations API has them, plus what replaying history needs.
--   * A title (Jan extension).
--   * Items numbered per conversation (seq 1, 2, ...) from the conversation's next_seq: an append takes
--     the conversation's row lock while it numbers its items, so concurrent appends to one conversation
--     land whole and in order, never interleaved.
--   * Each item's role (messages), size in bytes and end offset (the conversation's bytes up to and
--     including it; total_size on the conversation), so the history a completion replays (the newest
--     items within a byte budget, plus every system and developer message) is one index range read,
--     whatever the conversation's length.
ALTER TABLE chat.conversations
    ADD COLUMN title text NOT NULL DEFAULT '',
    ADD COLUMN next_seq bigint NOT NULL DEFAULT 1,
    ADD COLUMN total_size bigint NOT NULL DEFAULT 0;

ALTER TABLE chat.items
    ALTER COLUMN seq DROP DEFAULT,
    ADD COLUMN role text,
    ADD COLUMN size integer NOT NULL DEFAULT 0,
    ADD COLUMN end_offset bigint NOT NULL DEFAULT 0;
DROP SEQUENCE IF EXISTS chat.items_seq_seq;

-- Renumber existing items 1..n per conversation in their old (global) order.
UPDATE chat.items i SET seq = n.rn
FROM (SELECT id, row_number() OVER (PARTITION BY conversation_id ORDER BY seq) AS rn FROM chat.items) n
WHERE i.id = n.id;
UPDATE chat.conversations c
SET next_seq = coalesce((SELECT max(seq) + 1 FROM chat.items i WHERE i.conversation_id = c.id), 1);

-- Stored bodies take OpenAI's answer shape: "text" parts of people are input_text, output_text parts carry
-- annotations and logprobs.
UPDATE chat.items SET body = jsonb_set(body, '{content}', (
    SELECT coalesce(jsonb_agg(
        CASE
            WHEN p->>'type' = 'output_text' THEN jsonb_build_object('annotations', '[]'::jsonb, 'logprobs', '[]'::jsonb) || p
            WHEN p->>'type' = 'text' THEN p || '{"type": "input_text"}'::jsonb
            ELSE p
        END ORDER BY ord), '[]'::jsonb)
    FROM jsonb_array_elements(body->'content') WITH ORDINALITY AS t(p, ord)))
WHERE type = 'message' AND jsonb_typeof(body->'content') = 'array';
UPDATE chat.items SET role = body->>'role', size = octet_length(body::text);
UPDATE chat.items i SET end_offset = o.end_offset
FROM (SELECT id, sum(size) OVER (PARTITION BY conversation_id ORDER BY seq) AS end_offset FROM chat.items) o
WHERE i.id = o.id;
UPDATE chat.conversations c
SET total_size = coalesce((SELECT max(end_offset) FROM chat.items i WHERE i.conversation_id = c.id), 0);
UPDATE chat.conversations c SET title = left(coalesce((
    SELECT string_agg(p->>'text', ' ') FROM chat.items i, jsonb_array_elements(i.body->'content') AS p
    WHERE i.conversation_id = c.id AND i.role = 'user'
      AND i.seq = (SELECT min(seq) FROM chat.items j WHERE j.conversation_id = c.id AND j.role = 'user')), ''), 80);

DROP INDEX chat.items_conversation_seq;
CREATE UNIQUE INDEX items_conversation_seq ON chat.items (conversation_id, seq);
CREATE INDEX items_instructions ON chat.items (conversation_id, seq) WHERE role IN ('system', 'developer');
CREATE INDEX items_conversation_end_offset ON chat.items (conversation_id, end_offset);
-- Conversations of a project key's caller are listed by (user, project).
CREATE INDEX conversations_user_project_created ON chat.conversations (user_id, project_id, created_at DESC, id DESC);
