-- How many items a conversation holds, kept by the statements that add and delete them, so an append can
-- refuse in the same UPDATE that numbers its items when the conversation would hold more than its limit
-- (JAN_MAX_CONVERSATION_ITEMS): concurrent appends cannot overshoot it.
ALTER TABLE chat.conversations ADD COLUMN item_count bigint NOT NULL DEFAULT 0;
UPDATE chat.conversations c SET item_count = (SELECT count(*) FROM chat.items i WHERE i.conversation_id = c.id);
