-- Issue 16: anti-bullying training sessions held for a school's staff (records of kind `training`), counted
-- in the ledger per school and month of `held_on` (Asia/Shanghai dates). Counts and roles only: the topic and
-- the trainer's organisation are free text, not kept here in the clear — the record's sealed chain entry (its
-- campaign case's) holds them. A record is projected once (record_id); it is never changed afterwards.
CREATE TABLE IF NOT EXISTS trainings (
    record_id     uuid PRIMARY KEY,
    campaign_id   text NOT NULL,
    phase_id      text NOT NULL,
    school_id     text NOT NULL,
    jurisdiction  text NOT NULL,
    held_on       date NOT NULL,
    audience      text[] NOT NULL,           -- staff roles (校长, 班主任, 教师, 法治副校长, 安全员…), never names
    participants  int NOT NULL CHECK (participants > 0),
    hours         numeric(6, 1) NOT NULL CHECK (hours > 0),
    filed_by      text NOT NULL,
    filed_at      timestamptz NOT NULL
);
-- GET /v1/trainings and the ledger's training columns: a school's or a jurisdiction's sessions by date
CREATE INDEX IF NOT EXISTS trainings_school ON trainings (school_id, held_on);
CREATE INDEX IF NOT EXISTS trainings_jurisdiction ON trainings (jurisdiction, held_on);
