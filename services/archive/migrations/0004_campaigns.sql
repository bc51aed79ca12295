-- Issue 16: campaigns (专项整治) started by the bureau in its jurisdiction. One row per campaign and
-- jurisdiction: the plan as started (the campaign file as validated) and the schools at the start.
-- Written when the bureau starts it (with the outbox row) and by the projection of CampaignStarted.
-- Each school's part is a case of kind `campaign` (as is the campaign itself in the jurisdiction):
-- scoped like any case, but never counted in the ledger (台账 counts incidents, hazards, help, look-backs).
CREATE TABLE IF NOT EXISTS campaigns (
    campaign_id  text NOT NULL,
    jurisdiction text NOT NULL,
    version      text NOT NULL,
    plan         jsonb NOT NULL,
    school_ids   text[] NOT NULL,
    started_at   timestamptz NOT NULL,
    started_by   text NOT NULL,
    event_id     uuid NOT NULL,
    PRIMARY KEY (campaign_id, jurisdiction)
);
CREATE INDEX IF NOT EXISTS cases_campaign ON cases (jurisdiction, school_id) WHERE kind = 'campaign';

-- The ledger's rollup leaves campaign cases out (a missed campaign deadline is not an overdue case).
CREATE OR REPLACE FUNCTION ledger_months_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    o int[];
    n int[];
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.kind IS NOT NULL AND OLD.kind <> 'campaign' AND OLD.school_id IS NOT NULL
            AND OLD.reported_at IS NOT NULL THEN
        o := ledger_counts_of(OLD);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.kind IS NOT NULL AND NEW.kind <> 'campaign' AND NEW.school_id IS NOT NULL
            AND NEW.reported_at IS NOT NULL THEN
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
