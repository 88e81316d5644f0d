-- A cluster's events too large for a notification (8,000 bytes): the notification names the
-- row, every instance reads it, and rows older than a minute are deleted by the next one.
CREATE TABLE bus_payloads (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX bus_payloads_created_at ON bus_payloads (created_at);
