-- Tagarela's schema on PostgreSQL: the tables of the SQLite migrations (migrations/sqlite) as
-- they stand today, written for PostgreSQL. Times are TIMESTAMPTZ, sent as RFC 3339 UTC text with
-- milliseconds (rfc3339 below), exactly as the SQLite backend stores them.

-- The one time format of the API: 2026-12-07T18:00:00.123Z.
CREATE FUNCTION rfc3339(t TIMESTAMPTZ) RETURNS TEXT
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');

CREATE TABLE users (
    -- identities are never handed out twice, as SQLite's AUTOINCREMENT
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username TEXT NOT NULL,
    -- argon2id PHC string
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    banned BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
-- Unique ignoring case, as SQLite's COLLATE NOCASE.
CREATE UNIQUE INDEX users_username ON users (lower(username));

CREATE TABLE rooms (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL,
    topic TEXT NOT NULL DEFAULT '',
    archived BOOLEAN NOT NULL DEFAULT false,
    -- the room log's latest seq: every new, edited or deleted message takes last_seq + 1, under
    -- this row's lock, in the transaction of the change (never a SEQUENCE: its values are not
    -- rolled back, and a rolled-back change would leave a gap in the log)
    last_seq BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE UNIQUE INDEX rooms_name ON rooms (lower(name));

CREATE TABLE messages (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- the seq of this message's latest change (new, edit or delete)
    seq BIGINT NOT NULL,
    -- the seq it was created at: an old message edited later is not unread again
    created_seq BIGINT NOT NULL,
    text TEXT NOT NULL,
    -- the sender's idempotency key: a retry with the same one is stored once
    client_id TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    edited_at TIMESTAMPTZ,
    deleted BOOLEAN NOT NULL DEFAULT false,
    UNIQUE (room_id, seq),
    UNIQUE (user_id, client_id)
);
-- History pages a room by id, newest first, without tombstones.
CREATE INDEX messages_history ON messages (room_id, id) WHERE NOT deleted;

CREATE TABLE memberships (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    -- the read marker: only moves forward
    last_read_seq BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (user_id, room_id)
);
CREATE INDEX memberships_room ON memberships (room_id);

-- Sessions make tokens revocable: a JWT names its session, and a token whose session row is gone
-- is refused at once (logout, logout-all, password change, ban).
CREATE TABLE sessions (
    -- 128 random bits, hex: the token's `sid`
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Server-wide settings the server keeps for itself, such as the generated JWT secret: the
-- first instance to start writes it, every other one reads it.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

-- Who a message mentions (members named with @username).
CREATE TABLE mentions (
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (message_id, user_id)
);
CREATE INDEX mentions_user ON mentions (user_id);

-- What admins did, for the admin dashboard; written in the transaction of the change.
CREATE TABLE admin_actions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- the admin who acted; NULL once that account is gone, the entry stays
    admin_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    -- snake_case verb: room_created, room_renamed, user_banned, ... (server/src/admin/mod.rs)
    action TEXT NOT NULL,
    -- the room name or username as it was when acted on
    target TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX admin_actions_admin ON admin_actions (admin_id);
