-- The special record: one hash chain per incident. Entries are append-only.
CREATE TABLE IF NOT EXISTS entries (
    incident_id    uuid NOT NULL,
    seq            int NOT NULL,
    event_id       uuid NOT NULL UNIQUE,
    event_type     text NOT NULL,
    recorded_at    timestamptz NOT NULL,
    summary        jsonb NOT NULL,          -- non-personal
    payload_ct     bytea NOT NULL,          -- the whole event, AES-GCM sealed
    payload_sha256 text NOT NULL,
    prev_hash      text NOT NULL,
    hash           text NOT NULL,
    PRIMARY KEY (incident_id, seq)
);

CREATE OR REPLACE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'archive entries are append-only (% refused)', TG_OP;
END $$;
CREATE OR REPLACE TRIGGER entries_no_update_delete BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE OR REPLACE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

CREATE TABLE IF NOT EXISTS chain_heads (
    incident_id uuid PRIMARY KEY,
    seq         int NOT NULL,
    hash        text NOT NULL
);

-- Read-side projection, rebuilt from entries if ever needed.
CREATE TABLE IF NOT EXISTS cases (
    incident_id           uuid PRIMARY KEY,
    school_id             text,
    level                 text,
    public_attention_wide boolean,
    reasons               jsonb,
    policy_version        text,
    reported_at           timestamptz,
    decided_at            timestamptz
);

CREATE TABLE IF NOT EXISTS recipients (
    notification_id uuid PRIMARY KEY,
    incident_id     uuid NOT NULL,
    role            text NOT NULL,
    status          text NOT NULL,
    reason          text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS recipients_incident ON recipients (incident_id);
