CREATE TABLE IF NOT EXISTS schools (
    school_id  text PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- API keys are stored as SHA-256 of a 256-bit random secret: enough for a machine key,
-- and the key id stays visible so a school can tell its keys apart.
CREATE TABLE IF NOT EXISTS api_keys (
    key_id        text PRIMARY KEY,
    school_id     text NOT NULL REFERENCES schools (school_id),
    secret_sha256 bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
CREATE INDEX IF NOT EXISTS api_keys_school ON api_keys (school_id);

-- Idempotency: one row per (school, Idempotency-Key), shared by every intake process.
-- The same key with the same body replays the stored answer; with another body it is a 409.
CREATE TABLE IF NOT EXISTS requests (
    school_id    text NOT NULL,
    idem_key     text NOT NULL,
    endpoint     text NOT NULL,
    fingerprint  bytea NOT NULL,     -- SHA-256 of the endpoint and the parsed body
    status_code  int,                -- NULL until the request was made durable
    response     jsonb,              -- ids only, never personal data
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (school_id, idem_key)
);

-- Which school owns which incident, so follow-ups are accepted only from that school,
-- and only for incidents JetStream has acknowledged.
CREATE TABLE IF NOT EXISTS incidents (
    incident_id uuid PRIMARY KEY,
    school_id   text NOT NULL,
    accepted_at timestamptz,
    follow_ups  int NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS follow_ups (
    follow_up_id uuid PRIMARY KEY,
    incident_id  uuid NOT NULL REFERENCES incidents (incident_id),
    seq          int NOT NULL,
    UNIQUE (incident_id, seq)
);
