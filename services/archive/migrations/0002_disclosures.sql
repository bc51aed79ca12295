-- Issue 16 item 4: public disclosure of how a closed severe or criminal incident was handled. The bureau
-- drafts a notice from the record, edits it (each edit a new version: approvals start again), two different
-- bureau officials approve the exact version (the second publishes it), a withdrawal takes it off the public
-- page. Every step is also a DisclosureChanged in the incident's chain. The working text is sealed under the
-- case's key (`text_ct`: a destroyed key takes drafts with it); only a published text is kept in the clear.
CREATE TABLE IF NOT EXISTS disclosures (
    disclosure_id uuid PRIMARY KEY,
    case_id       uuid NOT NULL,
    jurisdiction  text NOT NULL,
    school_id     text NOT NULL,
    level         text NOT NULL CHECK (level IN ('severe', 'criminal')),
    month         text NOT NULL,                 -- YYYY-MM: the finest date a notice gives
    title         text NOT NULL,
    version       int NOT NULL DEFAULT 1,
    text_ct       bytea NOT NULL,                -- the current version's text, sealed under the case's key
    text_sha256   text NOT NULL,
    state         text NOT NULL CHECK (state IN ('drafted', 'approved', 'published', 'withdrawn')),
    approvals     text[] NOT NULL DEFAULT '{}',  -- distinct officials who approved the current version
    drafted_by    text NOT NULL,
    drafted_at    timestamptz NOT NULL,
    edited_by     text NOT NULL,
    edited_at     timestamptz NOT NULL,
    public_text   text,                          -- set when published, never before
    published_at  timestamptz,
    withdrawn_by  text,
    withdrawn_at  timestamptz,
    CHECK ((state = 'published') = (public_text IS NOT NULL AND withdrawn_at IS NULL)
           OR state = 'withdrawn'),
    CHECK (cardinality(approvals) <= 2)
);
-- one live notice per case: another only after a withdrawal
CREATE UNIQUE INDEX IF NOT EXISTS disclosures_live_case ON disclosures (case_id) WHERE state <> 'withdrawn';
CREATE INDEX IF NOT EXISTS disclosures_jurisdiction ON disclosures (jurisdiction, drafted_at DESC);
CREATE INDEX IF NOT EXISTS disclosures_public ON disclosures (published_at DESC) WHERE state = 'published';
