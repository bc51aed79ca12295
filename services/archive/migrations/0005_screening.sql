-- Issue 16 item 2: screening records, projected from CampaignRecordFiled (kinds student_screening and
-- school_screening). One row per campaign, phase and school: the latest record of its kind (a later one
-- supersedes the earlier in the views; both stay in the chain). Counts, flags and ids only; the record's
-- text stays sealed in the chain.
CREATE TABLE IF NOT EXISTS screening_returns (
    campaign_id       text NOT NULL,
    phase_id          text NOT NULL,
    school_id         text NOT NULL,
    record_id         uuid NOT NULL,
    supersedes        uuid,                 -- the record this one replaced (its id derives from it)
    filed_at          timestamptz NOT NULL,
    filed_by          text NOT NULL,
    students_screened int NOT NULL,
    parent_talks      int NOT NULL,
    nothing_found     boolean NOT NULL,
    hazard_ids        uuid[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (campaign_id, phase_id, school_id)
);
CREATE TABLE IF NOT EXISTS school_screenings (
    campaign_id           text NOT NULL,
    phase_id              text NOT NULL,
    school_id             text NOT NULL,
    record_id             uuid NOT NULL,
    supersedes            uuid,
    filed_at              timestamptz NOT NULL,
    filed_by              text NOT NULL,
    aspects_with_problems int NOT NULL,
    problem_aspects       text[] NOT NULL DEFAULT '{}',
    hazard_ids            uuid[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (campaign_id, phase_id, school_id)
);
