-- History pages a room by message id (newest first); catch-up uses (room_id, seq).
CREATE INDEX messages_room_id ON messages (room_id, id);

-- The seq a message was created at: edits and deletions move `seq`, but an old message edited
-- later must not count as unread again.
ALTER TABLE messages ADD COLUMN created_seq INTEGER;
UPDATE messages SET created_seq = seq WHERE created_seq IS NULL;
