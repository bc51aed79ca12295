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
CREATE INDEX IF NOT EXISTS obligations_open_due ON obligations (due_at)
    WHERE state NOT IN ('acknowledged', 'done');
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
