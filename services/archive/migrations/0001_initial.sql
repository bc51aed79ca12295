-- Version 1 of the archive schema: the schema as the unversioned schema.sql left it (issue 15), with the
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

-- archive ----------------------------------------------------------------------------------------------
-- The special record: one hash chain per incident. Entries are append-only: by the triggers
-- below and, more strongly, by grants (the service's role has only SELECT/INSERT on entries and
-- checkpoints and owns nothing; see repository/roles.py RESTRICTED and docs/security.md).
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

-- Each case's data key, stored only wrapped by the KEK named by kek_id (its fingerprint). The legal
-- changes are destroying it (crypto-shredding): wrapped_dek becomes NULL and shredded_at is set, once;
-- and rewrapping it under a new KEK (rotation).
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
    -- KEK rotation (`antibully rotate archive-kek`): the same data key wrapped under the new KEK.
    -- Replacing a wrap can at worst make a case unreadable, which shredding allows already.
    IF TG_OP = 'UPDATE' AND OLD.wrapped_dek IS NOT NULL AND NEW.wrapped_dek IS NOT NULL
       AND NEW.kek_id <> OLD.kek_id AND NEW.shredded_at IS NULL AND NEW.incident_id = OLD.incident_id
       AND NEW.created_at = OLD.created_at THEN
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

-- Issue 6: every kind of case (incident, hazard, help request, look-back) in one projection,
-- with what the read API filters and scopes on. `kind` and `school_id` stay NULL until the case's
-- first event (its report) arrives; until then the case is visible to nobody.
ALTER TABLE cases ADD COLUMN IF NOT EXISTS kind text DEFAULT 'incident';  -- rows from before issue 6
ALTER TABLE cases ALTER COLUMN kind DROP DEFAULT;
ALTER TABLE cases ADD COLUMN IF NOT EXISTS jurisdiction text;
ALTER TABLE cases ADD COLUMN IF NOT EXISTS case_ref text;            -- AB-…, HZ-…, a help request's code, LB-…
ALTER TABLE cases ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'open';
ALTER TABLE cases ADD COLUMN IF NOT EXISTS flags text[] NOT NULL DEFAULT '{}';
ALTER TABLE cases ADD COLUMN IF NOT EXISTS missed_deadlines int NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN IF NOT EXISTS referred_to_police boolean NOT NULL DEFAULT false;
ALTER TABLE cases ADD COLUMN IF NOT EXISTS risk_level text;           -- hazards
ALTER TABLE cases ADD COLUMN IF NOT EXISTS urgent boolean;            -- help requests
ALTER TABLE cases ADD COLUMN IF NOT EXISTS converted_incident_id uuid; -- help requests turned into incidents
ALTER TABLE cases ADD COLUMN IF NOT EXISTS first_seen_at timestamptz NOT NULL DEFAULT now();
-- Rows from before issue 6: an incident whose report has not arrived is not listed yet; others get their reference.
UPDATE cases SET kind = NULL WHERE reported_at IS NULL AND kind IS NOT NULL;
UPDATE cases SET case_ref = 'AB-' || upper(left(replace(incident_id::text, '-', ''), 8))
    WHERE case_ref IS NULL AND kind = 'incident';
CREATE INDEX IF NOT EXISTS cases_listing ON cases (reported_at DESC, incident_id DESC);

-- Issue 6 item 6, the ledger (台账): when a hazard's rectification was reported complete
-- (HazardProgressed with progress.completed) and when the school first answered a help request
-- (HelpMessageAdded by the school). Rows projected before this change are filled from the record.
ALTER TABLE cases ADD COLUMN IF NOT EXISTS rectified_at timestamptz;   -- hazards
ALTER TABLE cases ADD COLUMN IF NOT EXISTS answered_at timestamptz;    -- help requests
UPDATE cases c SET rectified_at = (SELECT min(e.recorded_at) FROM entries e WHERE e.incident_id = c.incident_id
        AND e.event_type = 'HazardProgressed' AND e.summary @> '{"completed": true}')
    WHERE c.kind = 'hazard' AND c.rectified_at IS NULL AND EXISTS (SELECT 1 FROM entries e
        WHERE e.incident_id = c.incident_id AND e.event_type = 'HazardProgressed'
        AND e.summary @> '{"completed": true}');
UPDATE cases c SET answered_at = (SELECT min(e.recorded_at) FROM entries e WHERE e.incident_id = c.incident_id
        AND e.event_type = 'HelpMessageAdded' AND e.summary @> '{"author": "school"}')
    WHERE c.kind = 'help' AND c.answered_at IS NULL AND EXISTS (SELECT 1 FROM entries e
        WHERE e.incident_id = c.incident_id AND e.event_type = 'HelpMessageAdded'
        AND e.summary @> '{"author": "school"}');

-- Item 7: the list and the ledger are read within a jurisdiction or a school, newest first; these
-- serve both the ordered page (and its cursor) and the ledger's period range. They replace the
-- single-column indexes, which are their prefixes. See docs/performance.md for the plans.
CREATE INDEX IF NOT EXISTS cases_jurisdiction_listing ON cases (jurisdiction, reported_at DESC, incident_id DESC);
CREATE INDEX IF NOT EXISTS cases_school_listing ON cases (school_id, reported_at DESC, incident_id DESC);
DROP INDEX IF EXISTS cases_school;
DROP INDEX IF EXISTS cases_jurisdiction;
-- The bureau's overdue list (逾期未办): a few per cent of cases, so a small partial index in list order.
CREATE INDEX IF NOT EXISTS cases_overdue ON cases (jurisdiction, reported_at DESC, incident_id DESC)
    WHERE missed_deadlines > 0;

-- Item 7: the ledger's counts per school and month (Asia/Shanghai), kept by a trigger on `cases`,
-- so that a jurisdiction's year is a few hundred rows to add up rather than every case of it
-- (docs/performance.md). A case counts in the month it was reported, with its state now; the
-- rules are the ledger's (services/archive/ledger.py, repository.ledger_counts_from_cases).
CREATE TABLE IF NOT EXISTS ledger_months (
    school_id         text NOT NULL,
    jurisdiction      text NOT NULL,           -- '' while a case's jurisdiction is unknown
    month             date NOT NULL,           -- first day of the month in Asia/Shanghai
    incidents         int NOT NULL DEFAULT 0,
    minor             int NOT NULL DEFAULT 0,
    serious           int NOT NULL DEFAULT 0,
    severe            int NOT NULL DEFAULT 0,
    criminal          int NOT NULL DEFAULT 0,
    undecided         int NOT NULL DEFAULT 0,
    hazards           int NOT NULL DEFAULT 0,
    hazards_open      int NOT NULL DEFAULT 0,
    hazards_rectified int NOT NULL DEFAULT 0,
    late_reports      int NOT NULL DEFAULT 0,
    overdue           int NOT NULL DEFAULT 0,
    help_requests     int NOT NULL DEFAULT 0,
    help_unanswered   int NOT NULL DEFAULT 0,
    repeat_cases      int NOT NULL DEFAULT 0,
    lookbacks         int NOT NULL DEFAULT 0,
    lookbacks_due     int NOT NULL DEFAULT 0,
    PRIMARY KEY (jurisdiction, month, school_id)
);
CREATE INDEX IF NOT EXISTS ledger_months_school ON ledger_months (school_id, month);
-- Issue 11 item 7: help requests (tips) not converted into an incident (resolved with a reason, or open).
ALTER TABLE ledger_months ADD COLUMN IF NOT EXISTS unconverted_tips int NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION ledger_month(at timestamptz) RETURNS date LANGUAGE sql IMMUTABLE AS $$
    SELECT date_trunc('month', at AT TIME ZONE 'Asia/Shanghai')::date
$$;

-- What one case adds to its month, in the column order of ledger_months.
CREATE OR REPLACE FUNCTION ledger_counts_of(c cases) RETURNS int[] LANGUAGE sql STABLE AS $$
    SELECT ARRAY[
    CASE WHEN c.kind = 'incident' THEN 1 ELSE 0 END,  -- incidents
    CASE WHEN c.kind = 'incident' AND c.level = 'minor' THEN 1 ELSE 0 END,  -- minor
    CASE WHEN c.kind = 'incident' AND c.level = 'serious' THEN 1 ELSE 0 END,  -- serious
    CASE WHEN c.kind = 'incident' AND c.level = 'severe' THEN 1 ELSE 0 END,  -- severe
    CASE WHEN c.kind = 'incident' AND c.level = 'criminal' THEN 1 ELSE 0 END,  -- criminal
    CASE WHEN c.kind = 'incident' AND c.level IS NULL THEN 1 ELSE 0 END,  -- undecided
    CASE WHEN c.kind = 'hazard' THEN 1 ELSE 0 END,  -- hazards
    CASE WHEN c.kind = 'hazard' AND c.rectified_at IS NULL THEN 1 ELSE 0 END,  -- hazards_open
    CASE WHEN c.kind = 'hazard' AND c.rectified_at IS NOT NULL THEN 1 ELSE 0 END,  -- hazards_rectified
    CASE WHEN 'late_report' = ANY(c.flags) THEN 1 ELSE 0 END,  -- late_reports
    CASE WHEN c.missed_deadlines > 0 THEN 1 ELSE 0 END,  -- overdue
    CASE WHEN c.kind = 'help' THEN 1 ELSE 0 END,  -- help_requests
    CASE WHEN c.kind = 'help' AND c.answered_at IS NULL AND c.converted_incident_id IS NULL THEN 1 ELSE 0 END,  -- help_unanswered
    CASE WHEN c.kind = 'incident' AND ('earlier_cases' = ANY(c.flags)
                  OR coalesce(c.reasons @> '[{"code": "repeated_after_education"}]', false)) THEN 1 ELSE 0 END,  -- repeat_cases
    CASE WHEN c.kind = 'lookback' THEN 1 ELSE 0 END,  -- lookbacks
    CASE WHEN c.kind = 'lookback' AND c.status = 'open' THEN 1 ELSE 0 END,  -- lookbacks_due
    CASE WHEN c.kind = 'help' AND c.converted_incident_id IS NULL THEN 1 ELSE 0 END  -- unconverted_tips
    ]
$$;

CREATE OR REPLACE FUNCTION ledger_months_add(school text, jur text, at timestamptz, v int[], sign int)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO ledger_months AS l (school_id, jurisdiction, month, incidents, minor, serious, severe, criminal, undecided, hazards, hazards_open, hazards_rectified, late_reports, overdue, help_requests, help_unanswered, repeat_cases, lookbacks, lookbacks_due, unconverted_tips)
    VALUES (school, coalesce(jur, ''), ledger_month(at), sign * v[1], sign * v[2], sign * v[3], sign * v[4], sign * v[5], sign * v[6], sign * v[7], sign * v[8], sign * v[9], sign * v[10], sign * v[11], sign * v[12], sign * v[13], sign * v[14], sign * v[15], sign * v[16], sign * v[17])
    ON CONFLICT (jurisdiction, month, school_id) DO UPDATE SET
        incidents = l.incidents + EXCLUDED.incidents,
        minor = l.minor + EXCLUDED.minor,
        serious = l.serious + EXCLUDED.serious,
        severe = l.severe + EXCLUDED.severe,
        criminal = l.criminal + EXCLUDED.criminal,
        undecided = l.undecided + EXCLUDED.undecided,
        hazards = l.hazards + EXCLUDED.hazards,
        hazards_open = l.hazards_open + EXCLUDED.hazards_open,
        hazards_rectified = l.hazards_rectified + EXCLUDED.hazards_rectified,
        late_reports = l.late_reports + EXCLUDED.late_reports,
        overdue = l.overdue + EXCLUDED.overdue,
        help_requests = l.help_requests + EXCLUDED.help_requests,
        help_unanswered = l.help_unanswered + EXCLUDED.help_unanswered,
        repeat_cases = l.repeat_cases + EXCLUDED.repeat_cases,
        lookbacks = l.lookbacks + EXCLUDED.lookbacks,
        lookbacks_due = l.lookbacks_due + EXCLUDED.lookbacks_due,
        unconverted_tips = l.unconverted_tips + EXCLUDED.unconverted_tips
$$;

CREATE OR REPLACE FUNCTION ledger_months_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    o int[];
    n int[];
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.kind IS NOT NULL AND OLD.school_id IS NOT NULL AND OLD.reported_at IS NOT NULL THEN
        o := ledger_counts_of(OLD);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.kind IS NOT NULL AND NEW.school_id IS NOT NULL AND NEW.reported_at IS NOT NULL THEN
        n := ledger_counts_of(NEW);
    END IF;
    IF o IS NOT NULL AND n IS NOT NULL AND o = n AND OLD.school_id = NEW.school_id
            AND OLD.jurisdiction IS NOT DISTINCT FROM NEW.jurisdiction
            AND ledger_month(OLD.reported_at) = ledger_month(NEW.reported_at) THEN
        RETURN NULL;  -- nothing the ledger counts has changed
    END IF;
    IF o IS NOT NULL THEN
        PERFORM ledger_months_add(OLD.school_id, OLD.jurisdiction, OLD.reported_at, o, -1);
    END IF;
    IF n IS NOT NULL THEN
        PERFORM ledger_months_add(NEW.school_id, NEW.jurisdiction, NEW.reported_at, n, 1);
    END IF;
    RETURN NULL;
END $$;

-- Recount every month from `cases` (the migration's first fill; after a bulk load with the trigger off).
CREATE OR REPLACE FUNCTION ledger_months_rebuild() RETURNS void LANGUAGE sql AS $$
    DELETE FROM ledger_months;
    INSERT INTO ledger_months (school_id, jurisdiction, month, incidents, minor, serious, severe, criminal, undecided, hazards, hazards_open, hazards_rectified, late_reports, overdue, help_requests, help_unanswered, repeat_cases, lookbacks, lookbacks_due, unconverted_tips)
    SELECT school_id, coalesce(jurisdiction, ''), ledger_month(reported_at), sum(v[1]), sum(v[2]), sum(v[3]), sum(v[4]), sum(v[5]), sum(v[6]), sum(v[7]), sum(v[8]), sum(v[9]), sum(v[10]), sum(v[11]), sum(v[12]), sum(v[13]), sum(v[14]), sum(v[15]), sum(v[16]), sum(v[17])
    FROM (SELECT c.school_id, c.jurisdiction, c.reported_at, ledger_counts_of(c) AS v FROM cases c
          WHERE c.kind IS NOT NULL AND c.school_id IS NOT NULL AND c.reported_at IS NOT NULL) x
    GROUP BY 1, 2, 3;
$$;

-- Created with the table: filled once, in this (locked) migration, before the trigger counts on.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'cases_ledger_months'
                   AND tgrelid = 'cases'::regclass) THEN
        PERFORM ledger_months_rebuild();
        CREATE TRIGGER cases_ledger_months AFTER INSERT OR UPDATE OR DELETE ON cases
            FOR EACH ROW EXECUTE FUNCTION ledger_months_track();
    END IF;
END $$;
-- A column added to ledger_months later starts at zero: recount once where cases say otherwise.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM cases WHERE kind = 'help' AND converted_incident_id IS NULL
               AND school_id IS NOT NULL AND reported_at IS NOT NULL)
            AND NOT EXISTS (SELECT 1 FROM ledger_months WHERE unconverted_tips <> 0) THEN
        PERFORM ledger_months_rebuild();
    END IF;
END $$;

-- Officials' local accounts (until the bureau's SSO). Passwords are argon2id hashes.
CREATE TABLE IF NOT EXISTS officials (
    account_id    text PRIMARY KEY,
    display_name  text NOT NULL,
    role          text NOT NULL CHECK (role IN ('school', 'bureau', 'police', 'stability_office')),
    jurisdiction  text NOT NULL,
    school_id     text,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz,
    CHECK ((role = 'school') = (school_id IS NOT NULL))
);

-- Issue 13: a school account is one of its staff, by title; every school account before it was the head.
ALTER TABLE officials ADD COLUMN IF NOT EXISTS title text;
UPDATE officials SET title = 'head' WHERE role = 'school' AND title IS NULL;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'officials_title_check'
                   AND conrelid = 'officials'::regclass) THEN
        ALTER TABLE officials ADD CONSTRAINT officials_title_check CHECK (
            (role = 'school') = (title IS NOT NULL) AND (title IS NULL OR title IN ('head', 'head_teacher', 'counsellor')));
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS officials_school ON officials (school_id) WHERE school_id IS NOT NULL;

-- Bearer tokens, stored only as their SHA-256.
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 text PRIMARY KEY,
    account_id   text NOT NULL REFERENCES officials (account_id),
    issued_at    timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);
CREATE INDEX IF NOT EXISTS sessions_account ON sessions (account_id);  -- a disabled account's sessions end

-- Failed logins per login name, keyed by the name's SHA-256 (also for names that do not exist).
CREATE TABLE IF NOT EXISTS login_failures (
    name_sha256  text PRIMARY KEY,
    failures     int NOT NULL,
    last_at      timestamptz NOT NULL,
    locked_until timestamptz
);

-- Login attempts per client address in a fixed window, keyed by the address's SHA-256 (issue 14): one
-- sender guessing many names is slowed down as well as each name being locked.
CREATE TABLE IF NOT EXISTS login_addresses (
    address_sha256 text PRIMARY KEY,
    window_start   timestamptz NOT NULL,
    attempts       int NOT NULL
);

-- Who read what, when and why: one append-only hash chain for the whole log.
CREATE TABLE IF NOT EXISTS access_log (
    seq          bigint PRIMARY KEY,
    at           timestamptz NOT NULL,
    account_id   text NOT NULL,
    role         text NOT NULL,
    jurisdiction text NOT NULL,
    action       text NOT NULL,          -- list | detail | access_log | ledger | export
    case_id      uuid,
    filter       jsonb NOT NULL,
    outcome      text NOT NULL,          -- ok | not_found
    purpose      text NOT NULL,
    prev_hash    text NOT NULL,
    hash         text NOT NULL
);
CREATE INDEX IF NOT EXISTS access_log_case ON access_log (case_id, seq);
CREATE INDEX IF NOT EXISTS access_log_account ON access_log (account_id, seq);
CREATE OR REPLACE TRIGGER access_log_no_update_delete BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE OR REPLACE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

CREATE TABLE IF NOT EXISTS access_log_head (
    id   int PRIMARY KEY CHECK (id = 1),
    seq  bigint NOT NULL,
    hash text NOT NULL
);
INSERT INTO access_log_head (id, seq, hash) VALUES (1, 0, repeat('0', 64)) ON CONFLICT DO NOTHING;

-- Issue 11: every duty a case owes (an obligation in escalation), projected from DutyUpdated. Versions
-- arrive in any order: a row changes only for a higher version. `note` is free text a school or an
-- official wrote and may name a child: it is not kept here in the clear — `note_event_id` names the
-- sealed DutyUpdated entry that holds it, opened only for roles that see personal data.
CREATE TABLE IF NOT EXISTS duties (
    obligation_id   uuid PRIMARY KEY,
    case_id         uuid NOT NULL,
    school_id       text NOT NULL,
    jurisdiction    text NOT NULL,
    action_id       text NOT NULL,
    label_zh        text NOT NULL,
    kind            text NOT NULL,             -- notice | task
    role            text NOT NULL,             -- who owes it (for a notice: its reader's role)
    student_ref     text,                      -- per-student duties: the school's pseudonymous ref
    notification_id uuid,
    ack_required    boolean NOT NULL,
    state           text NOT NULL,             -- shared.contracts.duties.DutyState
    settled         boolean GENERATED ALWAYS AS
                    (state IN ('done', 'acknowledged', 'waived', 'not_applicable')) STORED,
    due_at          timestamptz NOT NULL,      -- the current deadline (moves on after each miss)
    first_due_at    timestamptz NOT NULL,      -- the original deadline: overdue and ever late count from it
    missed          int NOT NULL,
    escalating      text NOT NULL,
    settled_at      timestamptz,
    settled_by      text,
    how             text,
    note_event_id   uuid,                      -- the sealed entry whose duty.note is this version's note
    evidence_ref    text,
    version         int NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS duties_case ON duties (case_id, due_at);
-- GET /v1/duties: open duties within a jurisdiction or a school, by current deadline (and its cursor);
-- "overdue now" (the list's filter and the ledger's column): open duties by their original deadline.
CREATE INDEX IF NOT EXISTS duties_open_jurisdiction ON duties (jurisdiction, due_at, obligation_id) WHERE NOT settled;
CREATE INDEX IF NOT EXISTS duties_open_school ON duties (school_id, due_at, obligation_id) WHERE NOT settled;
CREATE INDEX IF NOT EXISTS duties_overdue ON duties (jurisdiction, first_due_at) WHERE NOT settled;
CREATE INDEX IF NOT EXISTS duties_all_jurisdiction ON duties (jurisdiction, due_at, obligation_id);
-- Issue 11 item 8: look-backs (回头看) the bureau requested by hand or imported from a list, written in the
-- transaction that enqueues LookBackRequested: an import reports a school already scheduled in the window
-- (by hand, by an import, or after a first incident: cases of kind lookback) before escalation has answered.
CREATE TABLE IF NOT EXISTS lookback_requests (
    lookback_id  uuid PRIMARY KEY,
    school_id    text NOT NULL,
    jurisdiction text NOT NULL,
    requested_by text NOT NULL,            -- the official's account id
    source       text NOT NULL CHECK (source IN ('api', 'import')),
    due_at       timestamptz,
    requested_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS lookback_requests_school ON lookback_requests (school_id, requested_at);
CREATE INDEX IF NOT EXISTS cases_school_lookbacks ON cases (school_id, reported_at) WHERE kind = 'lookback';
-- Issue 12 item 5: the letter to every parent. A bureau official writes it, a second one approves it
-- (approved_by <> created_by); the approval enqueues LetterApproved in the same transaction.
CREATE TABLE IF NOT EXISTS letters (
    letter_id    uuid PRIMARY KEY,
    jurisdiction text NOT NULL,
    title        text NOT NULL,
    body         text NOT NULL,
    audience     jsonb NOT NULL,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL,
    approved_by  text,
    approved_at  timestamptz,
    CHECK (approved_by IS NULL OR approved_by <> created_by)
);
CREATE INDEX IF NOT EXISTS letters_jurisdiction ON letters (jurisdiction, created_at DESC);
-- Per-school figures, projected from LetterFannedOut, LetterBatchSent and LetterRead (each event counted
-- once: the archive's inbox). Counts only; contacts never reach the archive's clear columns.
CREATE TABLE IF NOT EXISTS letter_schools (
    letter_id    uuid NOT NULL,
    school_id    text NOT NULL,
    jurisdiction text NOT NULL,
    has_roster   boolean NOT NULL DEFAULT true,
    recipients   int NOT NULL DEFAULT 0,
    no_contact   int NOT NULL DEFAULT 0,
    merged       int NOT NULL DEFAULT 0,       -- a parent already reached through another row (siblings)
    batches      int NOT NULL DEFAULT 0,
    batches_done int NOT NULL DEFAULT 0,
    sent         int NOT NULL DEFAULT 0,
    failed       int NOT NULL DEFAULT 0,
    by_sms       int NOT NULL DEFAULT 0,
    by_email     int NOT NULL DEFAULT 0,
    delivered    int NOT NULL DEFAULT 0,       -- SMS delivery reports: the handset got it
    undelivered  int NOT NULL DEFAULT 0,       -- SMS delivery reports: the carrier gave up
    read         int NOT NULL DEFAULT 0,
    wrong_number int NOT NULL DEFAULT 0,       -- reached someone who pressed 号码有误
    PRIMARY KEY (letter_id, school_id)
);
CREATE INDEX IF NOT EXISTS letter_schools_school ON letter_schools (school_id, letter_id);
