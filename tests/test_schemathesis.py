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
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.result import Err, Ok
from schemathesis.errors import FailureGroup, SchemathesisError
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from antibully.cli import add_school
from services.intake.app import running
from shared.config import Settings

SCHOOL_ID = "demo-school"
MIN_CASES = 1000
TARGET_CASES = 1200  # spread evenly over operations × generation modes: a margin above MIN_CASES
MIN_EXAMPLES_PER_RUN = 25  # per operation and mode, however many operations there will be
WALL_CLOCK_BUDGET_S = 150.0  # generation stops after this; the count assertion then fails
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
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
MAX_REPORTED_FAILURES = 10
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


@dataclass
class Outcome:
    cases: int = 0
    statuses: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)  # distinct failure → its first report
    not_generated: list[str] = field(default_factory=list)
    known_ids: dict[str, list[str]] = field(default_factory=dict)  # `*_id` values in 2xx answers

    def fail(self, signature: str, report: str) -> None:
        self.failures.setdefault(signature, report)


@dataclass
class Steering:
    key: str
    rng: random.Random
    outcome: Outcome

    def apply(self, case: schemathesis.Case) -> None:
        """Point most cases past authentication and the ownership checks; leave the rest as generated.

        A component schemathesis made invalid on purpose (negative mode) keeps its invalid values.
        """
        rng = self.rng

        def negated(location: ParameterLocation) -> bool:
            return case.meta is not None and case.meta.is_negative_at(location)

        headers = dict(case.headers or {})
        if rng.random() < SHARE_VALID_KEY:
            _set_header(headers, "Authorization", f"Bearer {self.key}")
        if not negated(ParameterLocation.HEADER) and rng.random() < SHARE_FRESH_IDEMPOTENCY_KEY:
            _set_header(headers, "Idempotency-Key", f"schemathesis-{self.outcome.cases:06d}")
        case.headers = headers
        path = case.path_parameters
        if path and not negated(ParameterLocation.PATH):
            for name in path:
                if self.outcome.known_ids.get(name) and rng.random() < SHARE_KNOWN_ID:
                    path[name] = rng.choice(self.outcome.known_ids[name])
        body = case.body
        if isinstance(body, dict | list) and not negated(ParameterLocation.BODY):
            if rng.random() < SHARE_OWN_SCHOOL:
                _own_school(body)
            if rng.random() < SHARE_PLAUSIBLE_TIMES:
                start = datetime.now(UTC) - timedelta(days=30, minutes=rng.randint(0, 60 * 24 * 300))
                _plausible_times(body, [start], rng)

    def learn(self, response: requests.Response | Any) -> None:
        """Remember the ids in 2xx answers (`incident_id`, `hazard_id`, …) for the path parameters."""
        if 200 <= response.status_code < 300:
            try:
                answer = response.json()
            except ValueError:
                return
            _collect_ids(answer, self.outcome.known_ids)


def _set_header(headers: dict[str, Any], name: str, value: str) -> None:
    for existing in [h for h in headers if h.lower() == name.lower()]:
        del headers[existing]
    headers[name] = value


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


def _collect_ids(value: Any, known: dict[str, list[str]]) -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            if name.endswith("_id") and isinstance(item, str) and item not in known.setdefault(name, []):
                known[name].append(item)
            else:
                _collect_ids(item, known)
    elif isinstance(value, list):
        for item in value:
            _collect_ids(item, known)


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


def _fuzz(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    max_examples: int,
    base_url: str,
    session: requests.Session,
    steering: Steering,
    deadline: float,
) -> None:
    """One operation in one generation mode: send each generated case and check the answer."""
    outcome = steering.outcome

    @hypothesis_settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # failures are collected below, not raised and shrunk
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: schemathesis.Case) -> None:
        if time.monotonic() > deadline:
            return
        outcome.cases += 1
        steering.apply(case)
        label = f"{operation.label} [{mode.value}]"
        try:
            response = case.call(base_url=base_url, session=session, timeout=10)
        except requests.RequestException as exc:
            outcome.fail(f"{label}: {type(exc).__name__}", f"{exc}\n{case.as_curl_command()}")
            return
        outcome.statuses[(operation.label, mode.value, response.status_code)] += 1
        steering.learn(response)
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                outcome.fail(f"{label}: {type(failure).__name__}: {failure.title}", str(group))

    fuzz()


def _run_cases(schema: Any, base_url: str, key: str) -> Outcome:
    """Generate and send every case; synchronous, for a worker thread."""
    outcome = Outcome()
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            outcome.fail(f"invalid operation in the schema: {result.err()}", repr(result.err()))
        else:
            assert isinstance(result, Ok)
            operations.append(result.ok())
    assert operations, "the OpenAPI schema documents no operation"
    per_run = max(MIN_EXAMPLES_PER_RUN, math.ceil(TARGET_CASES / (len(operations) * len(MODES))))
    deadline = time.monotonic() + WALL_CLOCK_BUDGET_S
    steering = Steering(key, random.Random(20261128), outcome)
    with requests.Session() as session:
        for operation in operations:  # in the schema's order: reports come before their follow-ups
            for mode in MODES:
                before = outcome.cases
                try:
                    _fuzz(operation, mode, per_run, base_url, session, steering, deadline)
                except (Unsatisfiable, SchemathesisError) as exc:
                    outcome.not_generated.append(f"{operation.label} [{mode.value}]: {type(exc).__name__}: {exc}")
                if outcome.cases == before:
                    outcome.not_generated.append(f"{operation.label} [{mode.value}]: no case generated")
    return outcome


async def test_intake_conforms_to_its_openapi_schema(settings: Settings) -> None:
    started = time.monotonic()
    settings = settings.model_copy(update={k: v for k, v in UNLIMITED.items() if k in Settings.model_fields})
    async with running(settings):
        key = await add_school(settings.database_url, SCHOOL_ID, "乐昌市示范中学")
        base_url = f"http://127.0.0.1:{settings.intake_port}"
        schema = await asyncio.to_thread(schemathesis.openapi.from_url, f"{base_url}/openapi.json", timeout=10)
        outcome = await asyncio.to_thread(_run_cases, schema, base_url, key)
    elapsed = time.monotonic() - started

    by_status = Counter[int]()
    for (_, _, status), n in outcome.statuses.items():
        by_status[status] += n
    print(f"\nschemathesis: {outcome.cases} cases in {elapsed:.1f}s; by status: {dict(sorted(by_status.items()))}")
    for (label, mode, status), n in sorted(outcome.statuses.items()):
        print(f"  {label} [{mode}] {status}: {n}")
    for line in outcome.not_generated:
        print(f"  not generated: {line}")

    failures = list(outcome.failures.items())
    assert not failures, f"{len(failures)} distinct failure(s):\n\n" + "\n\n".join(
        f"== {signature}\n{report}" for signature, report in failures[:MAX_REPORTED_FAILURES]
    )
    assert outcome.cases >= MIN_CASES, f"only {outcome.cases} cases ran; {outcome.not_generated}"
    assert by_status[202] > 0 and by_status[422] > 0, "no case got past authentication into validation"
