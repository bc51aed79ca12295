-- The special record: one hash chain per incident. Entries are append-only: by the triggers
-- below and, more strongly, by grants (the service acts as a role with only SELECT/INSERT on
-- entries and checkpoints; see repository.grant_app_role and docs/operations.md).
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
-- When the last entry was appended (the retention clock) and how far a signed checkpoint covers.
ALTER TABLE chain_heads ADD COLUMN IF NOT EXISTS last_at timestamptz;
ALTER TABLE chain_heads ADD COLUMN IF NOT EXISTS checkpointed_seq int NOT NULL DEFAULT 0;
UPDATE chain_heads h SET last_at = (SELECT max(recorded_at) FROM entries e WHERE e.incident_id = h.incident_id)
    WHERE last_at IS NULL AND seq > 0;
CREATE INDEX IF NOT EXISTS chain_heads_moved ON chain_heads (incident_id) WHERE seq > checkpointed_seq;
CREATE INDEX IF NOT EXISTS chain_heads_last_at ON chain_heads (last_at);

-- Each case's data key, stored only wrapped by the KEK. The one legal change is destroying it
-- (crypto-shredding): wrapped_dek becomes NULL and shredded_at is set, once.
CREATE TABLE IF NOT EXISTS case_keys (
    incident_id uuid PRIMARY KEY,
    wrapped_dek bytea,
    kek_id      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    shredded_at timestamptz,
    CHECK ((wrapped_dek IS NULL) = (shredded_at IS NOT NULL))
);

CREATE OR REPLACE FUNCTION case_keys_only_shred() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.wrapped_dek IS NOT NULL AND NEW.wrapped_dek IS NULL
       AND NEW.shredded_at IS NOT NULL AND NEW.incident_id = OLD.incident_id
       AND NEW.kek_id = OLD.kek_id AND NEW.created_at = OLD.created_at THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'archive case keys can only be destroyed (% refused)', TG_OP;
END $$;
CREATE OR REPLACE TRIGGER case_keys_only_shred BEFORE UPDATE OR DELETE ON case_keys
    FOR EACH ROW EXECUTE FUNCTION case_keys_only_shred();
CREATE OR REPLACE TRIGGER case_keys_no_truncate BEFORE TRUNCATE ON case_keys
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- Signed checkpoints of the chain heads, append-only like the entries. id runs 1, 2, 3… without gaps.
CREATE TABLE IF NOT EXISTS checkpoints (
    id              bigint PRIMARY KEY,
    created_at      timestamptz NOT NULL,
    heads           jsonb NOT NULL,         -- [[incident_id, seq, hash], …] moved since the previous one
    prev_digest     text NOT NULL,
    digest          text NOT NULL,
    signature       bytea NOT NULL,         -- Ed25519 over the digest
    public_key      bytea NOT NULL,
    key_fingerprint text NOT NULL
);
CREATE OR REPLACE TRIGGER checkpoints_no_update_delete BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE OR REPLACE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

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
