-- Databases migrated by escalation's schema.sql between issue 4's obligations (1e82504) and help requests
-- (c628702) kept a `decisions.facts` column from then: the facts moved to case_facts, nothing has read or
-- written the column since, and a database made later never had it. Dropped, so that every database of
-- this version has the same shape (tests/test_migrations.py adopts one made by that early schema.sql).
ALTER TABLE decisions DROP COLUMN IF EXISTS facts;
