-- Who a message mentions (members named with @username), so unread mention counts are a join,
-- not a text search.
CREATE TABLE mentions (
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (message_id, user_id)
) STRICT;

CREATE INDEX mentions_user ON mentions (user_id);
CREATE INDEX memberships_user ON memberships (user_id);
