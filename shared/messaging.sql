-- Inbox and outbox, as every service schema's first migration (services/*/migrations/0001_initial.sql)
-- creates them; applied alone to a schema of a test's own (shared.db.apply_schema).
CREATE TABLE IF NOT EXISTS inbox (
    message_id   text PRIMARY KEY,
    subject      text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS outbox (
    id            bigserial PRIMARY KEY,
    event_id      uuid NOT NULL UNIQUE,
    subject       text NOT NULL,
    payload       bytea,            -- cleared once published: no personal data lingers here
    trace_headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (id) WHERE published_at IS NULL;
