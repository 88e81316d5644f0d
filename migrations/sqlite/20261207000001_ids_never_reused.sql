-- no-transaction
-- Ids are never handed out twice. Without AUTOINCREMENT, SQLite gives a new row the largest id
-- plus one, so deleting the newest room (or session, user, message) gave its id to the next one:
-- a client that kept the old id reached another row (a revoked token its successor's session, an
-- offline client another room's log). AUTOINCREMENT needs the tables rebuilt (SQLite's
-- "making other kinds of table schema changes"): with foreign keys off, or the DROP of an old
-- table would cascade into its children; the rebuild itself is one transaction.
-- Sessions become random 128-bit ids (hex): a token names its session by an id nobody can guess
-- or be given again. Sessions of the old kind are ended: everyone signs in again once.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE users_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL COLLATE NOCASE UNIQUE,
    -- argon2id PHC string
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    banned INTEGER NOT NULL DEFAULT 0 CHECK (banned IN (0, 1)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
INSERT INTO users_new (id, username, password_hash, role, banned, created_at)
    SELECT id, username, password_hash, role, banned, created_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

CREATE TABLE rooms_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL COLLATE NOCASE UNIQUE,
    topic TEXT NOT NULL DEFAULT '',
    archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
    -- the room log's latest seq: every new, edited or deleted message takes last_seq + 1
    last_seq INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
INSERT INTO rooms_new (id, name, topic, archived, last_seq, created_at)
    SELECT id, name, topic, archived, last_seq, created_at FROM rooms;
DROP TABLE rooms;
ALTER TABLE rooms_new RENAME TO rooms;

CREATE TABLE messages_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id INTEGER NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- the seq of this message's latest change (new, edit or delete)
    seq INTEGER NOT NULL,
    text TEXT NOT NULL,
    -- the sender's idempotency key: a retry with the same one is stored once
    client_id TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    edited_at TEXT,
    deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    -- the seq the message was created at: an old message edited later is not unread again
    created_seq INTEGER,
    UNIQUE (room_id, seq),
    UNIQUE (user_id, client_id)
) STRICT;
INSERT INTO messages_new
    (id, room_id, user_id, seq, text, client_id, created_at, edited_at, deleted, created_seq)
    SELECT id, room_id, user_id, seq, text, client_id, created_at, edited_at, deleted, created_seq
    FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_edited ON messages (room_id, created_seq) WHERE seq != created_seq AND deleted = 0;

DROP TABLE sessions;
CREATE TABLE sessions (
    -- 128 random bits, hex: the token's `sid`
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);

-- Every reference still points at a row (the copies kept every id).
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
