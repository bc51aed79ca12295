-- Version 1 of the escalation schema: the schema as the unversioned schema.sql left it (issue 15), with the
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

-- escalation ----------------------------------------------------------------------------------------------
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

-- What a case's notices may say to an official (no child's name), kept for re-notification.
CREATE TABLE IF NOT EXISTS case_facts (
    case_id uuid PRIMARY KEY,   -- an incident or a help request
    facts   jsonb NOT NULL
);

-- Every required action is a durable obligation with a deadline. The watchdog fires when one
-- is not done in time, tells the next contact in the policy's chain and sets the next deadline.
CREATE TABLE IF NOT EXISTS obligations (
    obligation_id   uuid PRIMARY KEY,
    incident_id     uuid NOT NULL,
    school_id       text NOT NULL,
    action_id       text NOT NULL,
    kind            text NOT NULL,            -- notice | task
    role            text NOT NULL,
    student_ref     text,                     -- per-victim tasks: the victim's pseudonymous ref
    notification_id uuid UNIQUE,              -- the notice that fulfils it
    ack_required    boolean NOT NULL,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed', 'acknowledged', 'done')),
    due_at          timestamptz NOT NULL,
    period          interval NOT NULL,        -- the action's deadline, repeated after each miss
    step            int NOT NULL DEFAULT 0,   -- deadlines missed so far
    escalate_to     text[] NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS obligations_incident ON obligations (incident_id);

ALTER TABLE decisions ADD COLUMN IF NOT EXISTS flags text[] NOT NULL DEFAULT '{}';

-- Who appeared in which case, by keyed pseudonym only: repeats raise the level.
CREATE TABLE IF NOT EXISTS student_cases (
    pseudonym  bytea NOT NULL,
    case_id    uuid NOT NULL,
    case_ref   text NOT NULL,
    role       text NOT NULL,        -- perpetrator, victim, bystander; involved, at_risk for hazards
    school_id  text NOT NULL,
    at         timestamptz NOT NULL,
    PRIMARY KEY (pseudonym, case_id)
);

ALTER TABLE obligations ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX IF NOT EXISTS obligations_school_action ON obligations (school_id, action_id, created_at);

-- A school's proposed lower level or closure, applied only after enough different bureau officials approve.
CREATE TABLE IF NOT EXISTS proposals (
    follow_up_id   uuid NOT NULL,
    change         text NOT NULL CHECK (change IN ('lower', 'closure')),
    incident_id    uuid NOT NULL,
    level_in_force text NOT NULL,
    proposed_level text,
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'refused')),
    proposed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (follow_up_id, change)
);
CREATE TABLE IF NOT EXISTS approvals (
    follow_up_id uuid NOT NULL,
    change       text NOT NULL,
    approver     text NOT NULL,
    approved_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (follow_up_id, change, approver)
);
ALTER TABLE decisions ADD COLUMN IF NOT EXISTS closed_at timestamptz;

-- Issue 11: every duty is visible. Each change of an obligation bumps its version; whatever is not yet
-- published as DutyUpdated (version > published_version) is published by the transaction that changed it.
ALTER TABLE obligations ADD COLUMN IF NOT EXISTS version int NOT NULL DEFAULT 1;
ALTER TABLE obligations ADD COLUMN IF NOT EXISTS published_version int NOT NULL DEFAULT 0;
ALTER TABLE obligations ADD COLUMN IF NOT EXISTS first_due_at timestamptz;
ALTER TABLE obligations ADD COLUMN IF NOT EXISTS settled_at timestamptz;
ALTER TABLE obligations ADD COLUMN IF NOT EXISTS settled_by text;
ALTER TABLE obligations ADD COLUMN IF NOT EXISTS how text;
ALTER TABLE obligations ADD COLUMN IF NOT EXISTS note text;
ALTER TABLE obligations ADD COLUMN IF NOT EXISTS evidence_ref text;
ALTER TABLE obligations ADD COLUMN IF NOT EXISTS escalating text NOT NULL DEFAULT 'chain';
UPDATE obligations SET first_due_at = due_at - period * step WHERE first_due_at IS NULL;
ALTER TABLE obligations DROP CONSTRAINT IF EXISTS obligations_state_check;
ALTER TABLE obligations ADD CONSTRAINT obligations_state_check CHECK (state IN
    ('pending', 'delivered', 'failed', 'acknowledged', 'done', 'waived', 'not_applicable'));

CREATE OR REPLACE FUNCTION obligations_versioned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.first_due_at := coalesce(NEW.first_due_at, NEW.due_at);
        IF NEW.state IN ('acknowledged', 'done', 'waived', 'not_applicable') THEN
            NEW.settled_at := coalesce(NEW.settled_at, now());
        END IF;
        RETURN NEW;
    END IF;
    IF (NEW.state, NEW.due_at, NEW.step, NEW.escalating, NEW.settled_at, NEW.settled_by, NEW.how, NEW.note,
        NEW.evidence_ref) IS DISTINCT FROM (OLD.state, OLD.due_at, OLD.step, OLD.escalating, OLD.settled_at,
        OLD.settled_by, OLD.how, OLD.note, OLD.evidence_ref) THEN
        NEW.version := OLD.version + 1;
        IF NEW.state IN ('acknowledged', 'done', 'waived', 'not_applicable') AND NEW.settled_at IS NULL THEN
            NEW.settled_at := now();
        ELSIF NEW.state NOT IN ('acknowledged', 'done', 'waived', 'not_applicable') THEN
            NEW.settled_at := NULL;  -- reopened (an SMS the carrier could not deliver): no longer settled
            NEW.settled_by := NULL;
            NEW.how := NULL;
        END IF;
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS obligations_versioned ON obligations;
CREATE TRIGGER obligations_versioned BEFORE INSERT OR UPDATE ON obligations
    FOR EACH ROW EXECUTE FUNCTION obligations_versioned();
CREATE INDEX IF NOT EXISTS obligations_unpublished ON obligations (obligation_id) WHERE version > published_version;
DROP INDEX IF EXISTS obligations_open_due;
DROP INDEX IF EXISTS obligations_open_due_v2;
-- Bounded escalation: the watchdog chases only duties not yet moved to the duty room's daily digest.
CREATE INDEX IF NOT EXISTS obligations_chased_due ON obligations (due_at)
    WHERE state NOT IN ('acknowledged', 'done', 'waived', 'not_applicable') AND escalating <> 'digest';
CREATE INDEX IF NOT EXISTS obligations_in_digest ON obligations (first_due_at)
    WHERE state NOT IN ('acknowledged', 'done', 'waived', 'not_applicable') AND escalating = 'digest';

-- The bureau duty room's daily digest of overdue duties: one row per day (Asia/Shanghai) and jurisdiction,
-- inserted by the transaction that enqueues the digest, so replicas and restarts send it once a day.
CREATE TABLE IF NOT EXISTS overdue_digests (
    day             date NOT NULL,
    jurisdiction    text NOT NULL,
    duties          int NOT NULL,    -- duties in the digest that day; 0: nothing was overdue, nothing sent
    notification_id uuid,            -- the digest notice (NULL when nothing was sent)
    decided_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (day, jurisdiction)
);

-- Issue 11: the students of each case by the school's ref (a follow-up never adds one twice), and for
-- victims and perpetrators their family — the child's name and the guardians' contacts — sealed with
-- ESCALATION_DATA_KEY (NULL without the key), to keep the family informed while the case is open.
-- Forgotten (set NULL) when the case closes.
CREATE TABLE IF NOT EXISTS case_students (
    case_id    uuid NOT NULL,
    ref        text NOT NULL,
    role       text NOT NULL,
    family_ct  bytea,            -- AES-GCM, associated data "family:<case_id>:<ref>"
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, ref)
);
