-- Issue 16: the work plan as a campaign. Its duties are obligations like any other; three additions:
-- a duty's own wording, when no policy action names it (the campaign file's, with its phase) ...
ALTER TABLE obligations ADD COLUMN label_zh text;

-- ... each campaign started in a jurisdiction (the plan as validated and the schools at the start), so
-- that a record filed for one of its schools finds the duties it fulfils ...
CREATE TABLE campaign_starts (
    campaign_id  text NOT NULL,
    jurisdiction text NOT NULL,
    plan         jsonb NOT NULL,
    school_ids   text[] NOT NULL,
    started_at   timestamptz NOT NULL,
    PRIMARY KEY (campaign_id, jurisdiction)
);

-- ... and every record filed (what it is, for which school and phase, who filed it, when; its content
-- stays sealed in the archive), kept whether it arrives before or after its campaign's start.
CREATE TABLE campaign_records (
    record_id   uuid PRIMARY KEY,
    campaign_id text NOT NULL,
    school_id   text NOT NULL,
    phase_id    text NOT NULL,
    kind        text NOT NULL,
    filed_by    text NOT NULL,
    filed_at    timestamptz NOT NULL
);
CREATE INDEX campaign_records_school ON campaign_records (campaign_id, school_id, filed_at);
