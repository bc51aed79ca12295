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
