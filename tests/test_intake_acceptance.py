"""A report is marked accepted and its answer kept in one statement after the PubAck (issue 12): when
that statement fails the school gets a 503, never a 202 for an incident that follow-ups could not name,
and its retry with the same key gives one incident, once in JetStream."""

from __future__ import annotations

import asyncpg

from services.intake.examples import FOLLOW_UP_EXAMPLE_BODY
from shared.contracts import IncidentReported
from shared.subjects import REPORTS
from tests.conftest import Intake
from tests.helpers import report, stream_messages

# A real PostgreSQL failure on the first answer recorded: a sequence is not rolled back with the error.
FAIL_FIRST_ANSWER = """
CREATE SEQUENCE intake.answers_seen;
CREATE FUNCTION intake.fail_first_answer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('intake.answers_seen') = 1 THEN RAISE EXCEPTION 'injected: the database failed'; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER fail_first_answer BEFORE UPDATE ON intake.requests
    FOR EACH ROW EXECUTE FUNCTION intake.fail_first_answer();
"""


async def test_a_report_whose_acceptance_is_not_recorded_is_503_then_retried_once(intake: Intake) -> None:
    conn = await asyncpg.connect(intake.settings.database_url)
    try:
        await conn.execute(FAIL_FIRST_ANSWER)
        # the trigger runs as intake's role, which may use only what `antibully migrate` granted it
        role = intake.settings.service_database("intake").role
        await conn.execute(f'GRANT USAGE ON SEQUENCE intake.answers_seen TO "{role}"')
    finally:
        await conn.close()

    failed = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers("accept-once"))
    assert failed.status_code == 503, failed.text
    assert int(failed.headers["Retry-After"]) > 0
    [published] = await stream_messages(intake.settings.nats_url, REPORTS.name)  # durable already

    retried = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers("accept-once"))
    assert retried.status_code == 202, retried.text
    incident_id = retried.json()["incident_id"]
    assert str(IncidentReported.model_validate_json(published.data).incident_id) == incident_id
    assert len(await stream_messages(intake.settings.nats_url, REPORTS.name)) == 1  # deduplicated

    replayed = await intake.client.post("/v1/incidents", json=report(), headers=intake.headers("accept-once"))
    assert replayed.json() == {"incident_id": incident_id}
    assert replayed.headers.get("Idempotent-Replayed") == "true"

    follow_up = await intake.client.post(f"/v1/incidents/{incident_id}/follow-ups", json=FOLLOW_UP_EXAMPLE_BODY,
                                         headers=intake.headers("accept-once-follow-up"))
    assert follow_up.status_code == 202, follow_up.text  # the incident is accepted: follow-ups may name it
