-- Every index on `messages` costs every new message a B-tree insert and, at each commit, a page
-- written to the WAL; the benchmarks found those writes to be most of a message's cost.
-- History no longer needs `(room_id, id)`: it reads the catch-up index `(room_id, seq)` for
-- messages never changed, and this small partial index for the edited ones
-- (server/src/messages/store.rs, `history`).
DROP INDEX messages_room_id;
CREATE INDEX messages_edited ON messages (room_id, created_seq) WHERE seq != created_seq AND deleted = 0;
-- The dashboard bounds "the last hour" by message id instead (server/src/admin/dashboard.rs).
DROP INDEX messages_created_at;
