-- Issue 16: schools' phase summaries of a campaign (成效, 问题, 原因, 下一步), projected from
-- CampaignRecordFiled of kind `summary`. The text is free text that may name a child: it is not kept here
-- in the clear — `event_id` names the sealed entry of the school's campaign case (`case_id`) that holds it
-- and the figures attached at submission, opened for the school and the bureau only. Every submission is a
-- row; the newest per campaign, phase and school is the one the views show (the others stay in the chain).
CREATE TABLE IF NOT EXISTS campaign_summaries (
    record_id    uuid PRIMARY KEY,
    event_id     uuid NOT NULL,
    case_id      uuid NOT NULL,
    campaign_id  text NOT NULL,
    phase_id     text NOT NULL,
    school_id    text NOT NULL,
    filed_by     text NOT NULL,            -- the school staff's account
    filed_at     timestamptz NOT NULL,
    n            bigserial NOT NULL         -- the order projected: breaks a tie of filed_at (chain order)
);
CREATE INDEX IF NOT EXISTS campaign_summaries_phase ON campaign_summaries (campaign_id, phase_id, school_id, filed_at DESC);
