"""Property-based fuzzing of intake's HTTP edge with schemathesis, against the real service.

The schema is read from the running service's `/openapi.json`, so every operation it documents
is exercised without changing this test. For each operation schemathesis generates valid
(positive) and invalid (negative) requests; each is sent over real HTTP to intake backed by a
real nats-server and PostgreSQL, and every answer must:

- never be a 5xx (`not_a_server_error`; intake's documented 503 is only for a NATS/PostgreSQL
  outage, which does not happen here);
- conform to the schema: documented status code, content type, headers and body.

Most requests carry the demo school's valid API key, a fresh Idempotency-Key, `school_id =
"demo-school"`, path ids (`incident_id`, `hazard_id`, …) that intake answered earlier and recent,
ordered `*_at` times, so they get past authentication, ownership and the time rules into
validation and publishing (2xx/422); the rest keep what schemathesis generated (401/403/404/
409/422). What schemathesis made invalid on purpose (negative mode) is never repaired.

schemathesis' `case.call()` is synchronous (requests) while intake serves from this test's event
loop, so the generation loop runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from antibully.cli import add_school
from services.intake.app import running
from shared.config import Settings
from tests.schemathesis_rig import Steering, run_cases, set_header

SCHOOL_ID = "demo-school"
# Intake runs the conformance checks only: with the rig's "valid data accepted / invalid data refused"
# checks, 11–12 operations still fail (document and rules disagree; see the closing note of issue 14).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
SHARE_VALID_KEY = 0.9  # of requests sent with the school's real API key
SHARE_FRESH_IDEMPOTENCY_KEY = 0.9  # of requests sent with a new unique Idempotency-Key
SHARE_OWN_SCHOOL = 0.85  # of valid bodies whose every `school_id` is made the key's school
SHARE_KNOWN_ID = 0.85  # of path parameters (`incident_id`, `hazard_id`, …) given an id from a 2xx answer
SHARE_PLAUSIBLE_TIMES = 0.5  # of valid bodies whose `*_at` times are made recent and ordered
CHINA = timezone(timedelta(hours=8))
# Fuzzing sends ~1,000 requests with one key in well under a minute: lift the rate limits (those
# the service's Settings have) so that the cases reach validation instead of a 429.
UNLIMITED = {
    "rate_limit_per_s": 1e6,
    "rate_limit_burst": 1_000_000,
    "access_code_rate_per_s": 1e6,
    "access_code_burst": 1_000_000,
    "help_per_address_rate_per_s": 1e6,
    "help_per_address_burst": 1_000_000,
}


def steer_with(key: str) -> Any:
    """Point most cases past authentication and the ownership checks; leave the rest as generated."""

    def steer(case: schemathesis.Case, steering: Steering) -> None:
        rng = steering.rng
        headers = dict(case.headers or {})
        if rng.random() < SHARE_VALID_KEY:
            set_header(headers, "Authorization", f"Bearer {key}")
        if not steering.negated(case, ParameterLocation.HEADER) and rng.random() < SHARE_FRESH_IDEMPOTENCY_KEY:
            set_header(headers, "Idempotency-Key", f"schemathesis-{steering.outcome.cases:06d}")
        case.headers = headers
        steering.known_path_ids(case, SHARE_KNOWN_ID)
        body = case.body
        if isinstance(body, dict | list) and not steering.negated(case, ParameterLocation.BODY):
            if rng.random() < SHARE_OWN_SCHOOL:
                _own_school(body)
            if rng.random() < SHARE_PLAUSIBLE_TIMES:
                start = datetime.now(UTC) - timedelta(days=30, minutes=rng.randint(0, 60 * 24 * 300))
                _plausible_times(body, [start], rng)

    return steer


def _own_school(value: Any) -> None:
    """Every `school_id` in the body (a report, or each row of a batch) becomes the key's school."""
    if isinstance(value, dict):
        for name, item in value.items():
            if name == "school_id":
                value[name] = SCHOOL_ID
            else:
                _own_school(item)
    elif isinstance(value, list):
        for item in value:
            _own_school(item)


def _plausible_times(value: Any, clock: list[datetime], rng: random.Random) -> None:
    """Every `*_at` string becomes a past time, later than the previous one (occurred ≤ discovered)."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for name, item in list(items):
        if isinstance(name, str) and name.endswith("_at") and isinstance(item, str):
            clock[0] += timedelta(minutes=rng.randint(0, 600))
            tz = UTC if rng.random() < 0.5 else CHINA
            value[name] = clock[0].astimezone(tz).isoformat()
        else:
            _plausible_times(item, clock, rng)


async def test_intake_conforms_to_its_openapi_schema(settings: Settings) -> None:
    settings = settings.model_copy(update={k: v for k, v in UNLIMITED.items() if k in Settings.model_fields})
    async with running(settings):
        key = await add_school(settings.database_url, SCHOOL_ID, "乐昌市示范中学")
        base_url = f"http://127.0.0.1:{settings.intake_port}"
        schema = await asyncio.to_thread(schemathesis.openapi.from_url, f"{base_url}/openapi.json", timeout=10)
        outcome = await asyncio.to_thread(run_cases, schema, base_url, steer_with(key), 20261128, checks=CHECKS)
    print("\n" + outcome.summary("intake"))
    outcome.assert_clean()
    by_status = outcome.by_status()
    assert by_status[202] > 0 and by_status[422] > 0, "no case got past authentication into validation"
