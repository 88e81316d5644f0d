-- The dashboard counts each room's messages of the last hour; this keeps that a range scan.
CREATE INDEX messages_created_at ON messages (created_at);
