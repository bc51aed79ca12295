-- Version 1 of the notify schema: the schema as the unversioned schema.sql left it (issue 15), with the
-- shared inbox and outbox first. Unlike later migrations it is idempotent, because it also adopts a
-- database made before versioned migrations: applied again there, it brings it to exactly this.
-- Applied once and recorded in schema_migrations with its SHA-256: never edit it, add 0002_….sql.

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

-- notify ----------------------------------------------------------------------------------------------
-- One row per notification: the guard against a second mail. No addresses are kept here.
CREATE TABLE IF NOT EXISTS deliveries (
    notification_id   uuid PRIMARY KEY,
    incident_id       uuid NOT NULL,
    role              text NOT NULL,
    channel           text NOT NULL,
    status            text NOT NULL CHECK (status IN ('sending', 'retry_wait', 'sent', 'failed')),
    attempts          int NOT NULL DEFAULT 0,
    -- a send whose outcome a crash left unknown, sent again with the same Message-ID
    ambiguous_resends int NOT NULL DEFAULT 0,
    lease_until       timestamptz,
    message_id        text,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS deliveries_incident ON deliveries (incident_id);

ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS acknowledged_at timestamptz;

-- A gap in the directory is reported to the bureau's admin once a day per distinct gap.
CREATE TABLE IF NOT EXISTS reachability_reports (
    day    date NOT NULL,
    digest text NOT NULL,
    PRIMARY KEY (day, digest)
);

-- The notice as its reader got it, sealed (NOTIFY_DATA_KEY), for the page its link opens; purged
-- when the link has expired.
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS notice_ct bytea;

-- The provider's receipt, where it sends one: delivered to the handset or not.
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS receipt_code text;
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS received_at timestamptz;
CREATE INDEX IF NOT EXISTS deliveries_message_id ON deliveries (message_id);

-- A family's messages to the school through its notice's page: ids and times only (the rate limit per
-- notice, and a form sent twice counted once). The text goes to the archive, sealed there; not kept here.
CREATE TABLE IF NOT EXISTS family_messages (
    message_id      uuid PRIMARY KEY,
    notification_id uuid NOT NULL,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS family_messages_notice ON family_messages (notification_id, at);

-- lanes (issue 12) ------------------------------------------------------------------------------
-- A provider's limit shared by every notify replica: one token bucket per key, taken in one statement.
-- Keys are HMACs of robot addresses and phone numbers (services/notify/limits.py), never the values.
CREATE TABLE IF NOT EXISTS rate_buckets (
    key     text PRIMARY KEY,
    tokens  float8 NOT NULL,
    at      timestamptz NOT NULL,
    granted boolean NOT NULL DEFAULT true
);

-- Notices waiting for a throttled robot; sent as one digest message when its next token comes. The robot
-- address and the notice's line are sealed (NOTIFY_DATA_KEY); robot_key is an HMAC of the address.
CREATE TABLE IF NOT EXISTS robot_queue (
    notification_id uuid PRIMARY KEY,
    robot_key       text NOT NULL,
    kind            text NOT NULL,
    incident_id     uuid NOT NULL,
    role            text NOT NULL,
    payload_ct      bytea NOT NULL,
    queued_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    lease_until     timestamptz,
    -- a digest holding it was handed to the robot and the outcome is not recorded yet (a crash: ambiguous)
    posting         boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS robot_queue_robot ON robot_queue (robot_key, queued_at);

-- 'queued': waiting in robot_queue (acked on the bus; the digest loop finishes it).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'deliveries_status_check'
                   AND pg_get_constraintdef(oid) LIKE '%queued%') THEN
        ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_status_check;
        ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
            CHECK (status IN ('sending', 'retry_wait', 'sent', 'failed', 'queued'));
    END IF;
END $$;

-- Issue 12 item 5: the letter to every parent. One row per (letter, parent) claimed in bulk with a lease
-- before anything goes out (exactly once across redeliveries and replicas, like deliveries), settled in
-- bulk after the batch's sends. No contacts here: the key is intake's pseudonymous roster key.
CREATE TABLE IF NOT EXISTS letter_texts (
    letter_id uuid PRIMARY KEY,
    title     text NOT NULL,
    body      text NOT NULL
);
CREATE TABLE IF NOT EXISTS letter_sends (
    letter_id     uuid NOT NULL,
    recipient_key text NOT NULL,
    school_id     text NOT NULL,
    batch_no      int NOT NULL,
    state         text NOT NULL CHECK (state IN ('sending', 'sent', 'failed', 'retry')),
    attempts      int NOT NULL DEFAULT 1,
    lease_until   timestamptz,
    channel       text,                   -- kind/provider that accepted it
    message_id    text,                   -- the provider's id, which its delivery report names
    received_at   timestamptz,            -- the delivery report, once
    receipt_ok    boolean,
    error         text,                   -- codes only
    sent_at       timestamptz,
    read_at       timestamptz,
    wrong_at      timestamptz,            -- whoever got it pressed 号码有误
    PRIMARY KEY (letter_id, recipient_key)
);
CREATE INDEX IF NOT EXISTS letter_sends_message ON letter_sends (message_id) WHERE message_id IS NOT NULL;
