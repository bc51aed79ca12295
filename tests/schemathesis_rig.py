"""Property-based fuzzing of an HTTP edge with schemathesis, shared by the tests of every edge.

Each test starts its service for real (nats-server, PostgreSQL), gives the rig the service's OpenAPI
document and a `steer` function, and the rig generates valid (positive) and invalid (negative) requests
for every documented operation, sends each over real HTTP and checks every answer:

- never a 5xx (`not_a_server_error`);
- conforming to the document: a documented status code, content type, headers and body.

`steer` points most cases past authentication and at objects that exist (a valid key or token, ids the
service answered earlier), so they reach validation and the handlers; the rest keep what schemathesis
generated. What schemathesis made invalid on purpose (negative mode) is never repaired: `Steering.negated`
tells a steer function which components those are.

schemathesis' `case.call()` is synchronous (requests) while the service serves from the test's event loop,
so the generation loop runs in a worker thread (`asyncio.to_thread(run_cases, ...)`).
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
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
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

MIN_CASES = 1000
TARGET_CASES = 1200  # spread evenly over operations × generation modes: a margin above MIN_CASES
MIN_EXAMPLES_PER_RUN = 25  # per operation and mode, however many operations there will be
WALL_CLOCK_BUDGET_S = 150.0  # generation stops after this; the count assertion then fails
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
# Refusals schemathesis' negative_data_rejection does not list: a body over the service's limit, an expired link.
MORE_REFUSALS = frozenset({410, 413})


@schemathesis.check
def invalid_data_refused(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
    """negative_data_rejection, with 410 and 413 counted as the refusals they are."""
    if response.status_code in MORE_REFUSALS:
        return None
    return negative_data_rejection(ctx, response, case)  # type: ignore[no-any-return]


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    positive_data_acceptance,  # valid by the document: not refused as invalid (400/422)
    invalid_data_refused,  # invalid by the document: refused (4xx), never accepted
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MAX_REPORTED_FAILURES = 10


@dataclass
class Outcome:
    cases: int = 0
    statuses: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)  # distinct failure → its first report
    not_generated: list[str] = field(default_factory=list)
    known_ids: dict[str, list[str]] = field(default_factory=dict)  # `*_id` values in 2xx answers
    elapsed_s: float = 0.0

    def fail(self, signature: str, report: str) -> None:
        self.failures.setdefault(signature, report)

    def by_status(self) -> Counter[int]:
        total = Counter[int]()
        for (_, _, status), n in self.statuses.items():
            total[status] += n
        return total

    def summary(self, edge: str) -> str:
        lines = [f"schemathesis {edge}: {self.cases} cases in {self.elapsed_s:.1f}s; "
                 f"by status: {dict(sorted(self.by_status().items()))}"]
        lines += [f"  {label} [{mode}] {status}: {n}" for (label, mode, status), n in sorted(self.statuses.items())]
        lines += [f"  not generated: {line}" for line in self.not_generated]
        return "\n".join(lines)

    def assert_clean(self) -> None:
        """No failure of any check, and at least MIN_CASES cases sent."""
        failures = list(self.failures.items())
        assert not failures, f"{len(failures)} distinct failure(s):\n" + "\n".join(s for s, _ in failures) + "\n\n" + \
            "\n\n".join(
            f"== {signature}\n{report}" for signature, report in failures[:MAX_REPORTED_FAILURES]
        )
        assert self.cases >= MIN_CASES, f"only {self.cases} cases ran; {self.not_generated}"


@dataclass
class Steering:
    """What a steer function needs: a seeded random source, the outcome so far (known ids), the case."""

    rng: random.Random
    outcome: Outcome

    @staticmethod
    def negated(case: schemathesis.Case, location: ParameterLocation) -> bool:
        return case.meta is not None and case.meta.is_negative_at(location)

    def known_path_ids(self, case: schemathesis.Case, share: float) -> None:
        """Path parameters named like an id from an earlier 2xx answer get one, `share` of the time."""
        path = case.path_parameters
        if path and not self.negated(case, ParameterLocation.PATH):
            for name in path:
                if self.outcome.known_ids.get(name) and self.rng.random() < share:
                    path[name] = self.rng.choice(self.outcome.known_ids[name])

    def learn(self, response: requests.Response) -> None:
        """Remember the ids in 2xx JSON answers (`incident_id`, `case_id`, …) for later path parameters."""
        if 200 <= response.status_code < 300 and "json" in response.headers.get("content-type", ""):
            try:
                answer = response.json()
            except ValueError:
                return
            collect_ids(answer, self.outcome.known_ids)


Steer = Callable[[schemathesis.Case, Steering], None]


def set_header(headers: dict[str, Any], name: str, value: str) -> None:
    for existing in [h for h in headers if h.lower() == name.lower()]:
        del headers[existing]
    headers[name] = value


def collect_ids(value: Any, known: dict[str, list[str]]) -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            if name.endswith("_id") and isinstance(item, str) and item not in known.setdefault(name, []):
                known[name].append(item)
            else:
                collect_ids(item, known)
    elif isinstance(value, list):
        for item in value:
            collect_ids(item, known)


def operations_of(schema: Any, outcome: Outcome) -> list[schemathesis.APIOperation]:
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            outcome.fail(f"invalid operation in the schema: {result.err()}", repr(result.err()))
        else:
            assert isinstance(result, Ok)
            operations.append(result.ok())
    assert operations, "the OpenAPI schema documents no operation"
    return operations


def _fuzz(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    max_examples: int,
    base_url: str,
    session: requests.Session,
    steering: Steering,
    steer: Steer,
    deadline: float,
    checks: list[Any],
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
        steer(case, steering)
        label = f"{operation.label} [{mode.value}]"
        try:
            response = case.call(base_url=base_url, session=session, timeout=10, allow_redirects=False)
        except requests.RequestException as exc:
            outcome.fail(f"{label}: {type(exc).__name__}", f"{exc}\n{case.as_curl_command()}")
            return
        outcome.statuses[(operation.label, mode.value, response.status_code)] += 1
        steering.learn(response)
        try:
            case.validate_response(response, checks=checks)
        except FailureGroup as group:
            for failure in group.exceptions:
                outcome.fail(f"{label}: {type(failure).__name__}: {failure.title}", str(group))

    fuzz()


def run_cases(schema: Any, base_url: str, steer: Steer, seed: int, session: requests.Session | None = None,
              order: Callable[[list[schemathesis.APIOperation]], list[schemathesis.APIOperation]] | None = None,
              checks: list[Any] | None = None) -> Outcome:
    """Generate and send every case, operation by operation, each in both modes; synchronous, for a thread.

    The operations run in the schema's order (creations before the reads of what they created) unless
    `order` says otherwise. `session` carries cookies when the edge has them (the console). `checks`: CHECKS
    unless an edge says which apply to it.
    """
    started = time.monotonic()
    outcome = Outcome()
    operations = operations_of(schema, outcome)
    if order is not None:
        operations = order(operations)
    per_run = max(MIN_EXAMPLES_PER_RUN, math.ceil(TARGET_CASES / (len(operations) * len(MODES))))
    deadline = started + WALL_CLOCK_BUDGET_S
    steering = Steering(random.Random(seed), outcome)
    own_session = session is None
    session = session or requests.Session()
    try:
        for operation in operations:
            for mode in MODES:
                before = outcome.cases
                try:
                    _fuzz(operation, mode, per_run, base_url, session, steering, steer, deadline, checks or CHECKS)
                except (Unsatisfiable, SchemathesisError) as exc:
                    outcome.not_generated.append(f"{operation.label} [{mode.value}]: {type(exc).__name__}: {exc}")
                if outcome.cases == before:
                    outcome.not_generated.append(f"{operation.label} [{mode.value}]: no case generated")
    finally:
        if own_session:
            session.close()
    outcome.elapsed_s = time.monotonic() - started
    return outcome
