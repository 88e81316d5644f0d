-- What admins did, for the admin dashboard: rooms created, changed and deleted; roles changed;
-- bans and unbans. Written in the same transaction as the change it records.
CREATE TABLE admin_actions (
    id INTEGER PRIMARY KEY,
    -- the admin who acted; NULL once that account is gone, the entry stays
    admin_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    -- snake_case verb: room_created, room_renamed, user_banned, ... (server/src/admin/mod.rs)
    action TEXT NOT NULL,
    -- the room name or username as it was when acted on: plain text, not a foreign key, so the
    -- entry still reads right after the room is deleted or renamed
    target TEXT NOT NULL,
    -- what changed, for people: "old → new", the new topic; empty when the action says it all
    detail TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

-- ON DELETE SET NULL looks entries up by admin.
CREATE INDEX admin_actions_admin ON admin_actions (admin_id);
