CREATE TABLE IF NOT EXISTS decisions (
    incident_id           uuid PRIMARY KEY,
    event_id              uuid NOT NULL UNIQUE,
    school_id             text NOT NULL,
    level                 text NOT NULL,
    public_attention_wide boolean NOT NULL,
    reasons               jsonb NOT NULL,
    recipients            jsonb NOT NULL,   -- notification ids and roles only, no contact data
    policy_version        text NOT NULL,
    decided_at            timestamptz NOT NULL DEFAULT now()
);
