-- Version 1 of the intake schema: the schema as the unversioned schema.sql left it (issue 15), with the
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

-- intake ----------------------------------------------------------------------------------------------
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

-- Hazard findings (苗头迹象/隐患点): which school owns each, so progress is accepted only from that
-- school and only for findings JetStream has acknowledged. The fingerprint (SHA-256 of the finding)
-- lets a re-uploaded sheet row with the same client_ref through only if it is unchanged.
CREATE TABLE IF NOT EXISTS hazards (
    hazard_id   uuid PRIMARY KEY,
    school_id   text NOT NULL,
    fingerprint bytea NOT NULL,
    accepted_at timestamptz,
    progress    int NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS hazard_progress (
    progress_id uuid PRIMARY KEY,
    hazard_id   uuid NOT NULL REFERENCES hazards (hazard_id),
    seq         int NOT NULL,
    UNIQUE (hazard_id, seq)
);

-- Help requests: access codes route them to a school; messages are sealed (INTAKE_DATA_KEY).
CREATE TABLE IF NOT EXISTS access_codes (
    code       text PRIMARY KEY,
    school_id  text NOT NULL REFERENCES schools (school_id),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

CREATE TABLE IF NOT EXISTS help_requests (
    help_id            uuid PRIMARY KEY,
    case_code          text NOT NULL UNIQUE,
    school_id          text NOT NULL,
    urgent             boolean NOT NULL,
    status             text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered', 'converted')),
    messages           int NOT NULL DEFAULT 0,
    converted_incident uuid,
    created_at         timestamptz NOT NULL DEFAULT now(),
    accepted_at        timestamptz
);
CREATE INDEX IF NOT EXISTS help_requests_school ON help_requests (school_id, status);

CREATE TABLE IF NOT EXISTS help_messages (
    help_id    uuid NOT NULL REFERENCES help_requests (help_id),
    seq        int NOT NULL,
    message_id uuid NOT NULL UNIQUE,
    author     text NOT NULL,
    body_ct    bytea NOT NULL,   -- AES-GCM, associated data "<help_id>:<seq>"
    at         timestamptz NOT NULL DEFAULT now(),
    accepted   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (help_id, seq)
);

-- The student refs of each incident (the school's pseudonymous references, nothing else): a follow-up may
-- add a student only under a ref the incident does not have yet, and correct the guardians only of a
-- student it has. Incidents accepted before this table existed have no rows: escalation then decides.
CREATE TABLE IF NOT EXISTS incident_students (
    incident_id  uuid NOT NULL REFERENCES incidents (incident_id),
    ref          text NOT NULL,
    follow_up_id uuid,           -- the follow-up that added the student; NULL: named in the report
    PRIMARY KEY (incident_id, ref)
);
-- Issue 11: the duties a school owes or that concern it (its families' notices), projected from
-- escalation's DutyUpdated so that the school's system can plan them and mark a family told in person.
-- Only what the school needs: no note, no evidence, no one else's duties. A higher version wins.
CREATE TABLE IF NOT EXISTS duties (
    obligation_id   uuid PRIMARY KEY,
    case_id         uuid NOT NULL,
    school_id       text NOT NULL,
    action_id       text NOT NULL,
    label_zh        text NOT NULL,
    kind            text NOT NULL,             -- notice | task
    role            text NOT NULL,
    student_ref     text,
    notification_id uuid,
    state           text NOT NULL,
    due_at          timestamptz NOT NULL,
    first_due_at    timestamptz NOT NULL,
    version         int NOT NULL
);
CREATE INDEX IF NOT EXISTS duties_school ON duties (school_id, due_at, obligation_id);
-- Issue 11: a school closes a help request without converting it only by a resolution with a reason
-- (HelpResolved); the bureau may contest it, which opens the request again. `resolutions` numbers them.
ALTER TABLE help_requests ADD COLUMN IF NOT EXISTS resolutions int NOT NULL DEFAULT 0;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'help_requests'::regclass
                   AND conname = 'help_requests_status_check' AND pg_get_constraintdef(oid) LIKE '%resolved%') THEN
        ALTER TABLE help_requests DROP CONSTRAINT IF EXISTS help_requests_status_check;
        ALTER TABLE help_requests ADD CONSTRAINT help_requests_status_check
            CHECK (status IN ('open', 'answered', 'converted', 'resolved'));
    END IF;
END $$;
-- Issue 12 item 5: guardian rosters for the letter to every parent. One roster per school, replaced whole
-- by a re-upload (version + 1); a row is corrected by PATCH. Contacts sealed (INTAKE_DATA_KEY, bound to
-- the school and the row's key); grade and the has_* flags in clear for the summary and the audience.
CREATE TABLE IF NOT EXISTS rosters (
    school_id   text PRIMARY KEY,
    version     int NOT NULL,
    uploaded_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS roster_rows (
    school_id  text NOT NULL,
    row_key    text NOT NULL,               -- HMAC of the school and the student ref + relation (or contact)
    grade      text NOT NULL,
    class_name text,
    has_phone  boolean NOT NULL,
    has_email  boolean NOT NULL,
    contact    bytea NOT NULL,              -- sealed {"phone", "email", "ref", "relation"}
    wrong_at   timestamptz,                 -- someone who got a letter for this row pressed 号码有误
    PRIMARY KEY (school_id, row_key)
);
CREATE INDEX IF NOT EXISTS roster_rows_grade ON roster_rows (school_id, grade);
