"""schemathesis on the archive's API (tests/schemathesis_rig.py), against the real service.

The archive runs on real nats-server and PostgreSQL with a few cases projected from published events
(an incident, a hazard, a help request, …). Most requests carry a valid bearer token of one of four
officials (the bureau, a school's head, the police, the stability office: each role reaches other
answers), a stated purpose and, for path ids, a case the archive holds; the rest keep what
schemathesis generated (no token, a bad purpose, unknown ids). Every answer must be no 5xx and
conform to the archive's OpenAPI document: what the service enforces is declared there.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import requests
import schemathesis
from schemathesis.core.parameters import ParameterLocation

from services.archive.app import running
from shared.config import Settings
from tests.helpers import PASSWORD, eventually, official_headers
from tests.schemathesis_rig import Steering, run_cases, set_header
from tests.test_archive_reads import _publish_cases, directory_file

ACCOUNTS = {  # account → (role, jurisdiction, school, title)
    "st-bureau": ("bureau", "lechang", None, None),
    "st-head": ("school", "lechang", "demo-school", "head"),
    "st-police": ("police", "lechang", None, None),
    "st-stability": ("stability_office", "lechang", None, None),
}
LEAVER = "st-leaver"  # logs in afresh for each logout: the others' tokens must last the whole run
SHARE_VALID_TOKEN = 0.9
SHARE_KNOWN_ID = 0.85
PATH_IDS = ("case_id", "incident_id")
CAMPAIGN_PATH = {"campaign_id": ("2027-zhuanxiang",), "phase_id": ("p1", "p3"), "school_id": ("demo-school",)}
OTHER_LOCATIONS = (ParameterLocation.PATH, ParameterLocation.QUERY, ParameterLocation.BODY)


async def test_archive_conforms_to_its_openapi_schema(settings: Settings, tmp_path: Path) -> None:
    # login throttling must not turn the fuzzing of /v1/auth/token into 429 for the accounts used here
    settings = settings.model_copy(update={"directory_file": directory_file(tmp_path),
                                           "archive_login_max_failures": 1_000_000,
                                               "archive_login_per_address": 1_000_000})
    async with running(settings) as infra:
        cases, _ = await _publish_cases(settings)

        async def projected() -> bool:
            return bool(await infra.pool.fetchval("SELECT count(*) FROM cases WHERE kind IS NOT NULL") == 6)

        await eventually(projected)
        base_url = f"http://127.0.0.1:{settings.archive_port}"
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            await official_headers(client, settings.database_url, LEAVER)
            tokens = [(await official_headers(client, settings.database_url, account, role=role,
                                              jurisdiction=jurisdiction, school=school, title=title)
                       )["Authorization"] for account, (role, jurisdiction, school, title) in ACCOUNTS.items()]
        case_ids = [str(c) for c in cases.values()]

        def fresh_token() -> str:
            answer = requests.post(f"{base_url}/v1/auth/token", json={"username": LEAVER, "password": PASSWORD},
                                   timeout=10)
            assert answer.status_code == 200, answer.text
            return f"Bearer {answer.json()['access_token']}"

        def steer(case: schemathesis.Case, steering: Steering) -> None:
            rng = steering.rng
            headers = dict(case.headers or {})
            # An invalid token or purpose stays, unless another part is invalid too: then that part is tested
            negated_header = steering.negated(case, ParameterLocation.HEADER)
            elsewhere = any(steering.negated(case, where) for where in OTHER_LOCATIONS)
            if (not negated_header or elsewhere) and rng.random() < SHARE_VALID_TOKEN:
                set_header(headers, "Authorization", fresh_token() if case.path == "/v1/auth/logout"
                           else rng.choice(tokens))
            if not negated_header and any(p.name.lower() == "x-access-purpose" for p in case.operation.headers):
                set_header(headers, "X-Access-Purpose", "schemathesis")  # a purpose is stated, like a token
            case.headers = headers
            path = case.path_parameters
            if path and not steering.negated(case, ParameterLocation.PATH):
                for name in path:
                    if name in PATH_IDS and rng.random() < SHARE_KNOWN_ID:
                        path[name] = rng.choice(case_ids)
            if path and not steering.negated(case, ParameterLocation.PATH):
                for name, known in CAMPAIGN_PATH.items():  # the shipped campaign, its phase, a school
                    if name in path and rng.random() < SHARE_KNOWN_ID:
                        path[name] = rng.choice(known)
            steering.known_path_ids(case, SHARE_KNOWN_ID)
            query = case.query
            if query is not None and not steering.negated(case, ParameterLocation.QUERY):
                _plausible_query(case.path, query, rng)
            elif query is not None and isinstance(query.get("purpose"), list) and len(query["purpose"]) == 1:
                # a purpose made an array of one is, on the wire, one purpose (valid): send it twice, which is not
                query["purpose"] = [*query["purpose"], "another purpose"]
            if isinstance(case.body, dict) and not steering.negated(case, ParameterLocation.BODY):
                _plausible_body(case.path, case.body, rng)

        schema = await asyncio.to_thread(schemathesis.openapi.from_url, f"{base_url}/openapi.json", timeout=10)
        outcome = await asyncio.to_thread(run_cases, schema, base_url, steer, 20261130)

    print("\n" + outcome.summary("archive"))
    outcome.assert_clean()
    statuses = outcome.by_status()
    assert statuses[200] > 0 and statuses[422] > 0 and statuses[404] > 0, "no case reached the handlers"


def _plausible_query(path: str, query: dict[str, Any], rng: random.Random) -> None:
    """Rules across parameters and the reader's role, which a document cannot state, kept by valid requests."""
    if path.startswith("/v1/campaigns/") and "phase" in query:
        query["phase"] = rng.choice(CAMPAIGN_PATH["phase_id"])  # one the shipped campaign has
    if path.startswith("/v1/ledger"):
        if "from" in query or "to" in query:  # 'from' not after 'to', at most 36 months
            first = date(2025 + rng.randint(0, 1), rng.randint(1, 12), 1)
            query["from"], query["to"] = f"{first:%Y-%m}", f"{first + timedelta(days=rng.randint(0, 900)):%Y-%m}"
        if path.startswith("/v1/ledger/summary") and "school" not in query:
            query["school"] = "demo-school"  # the bureau names the school it summarises
    if path == "/v1/trainings" and "from" in query and "to" in query:  # days: 'from' not after 'to'
        first = date(2026, 1, 1) + timedelta(days=rng.randint(0, 300))
        query["from"], query["to"] = first.isoformat(), (first + timedelta(days=rng.randint(0, 400))).isoformat()


def _plausible_body(path: str, body: dict[str, Any], rng: random.Random) -> None:
    """A school the directory has for a new account, deadlines in the future, trainings held in the past."""
    if path == "/v1/accounts":
        body["school_id"] = "demo-school"
    if path.endswith("/trainings") and isinstance(body.get("held_on"), str):
        body["held_on"] = (date(2026, 1, 1) + timedelta(days=rng.randint(0, 300))).isoformat()
    if isinstance(body.get("due_at"), str):
        body["due_at"] = (datetime.now(UTC) + timedelta(days=rng.randint(1, 60))).isoformat()
    if path.endswith("/student-screening"):  # either findings (the school's own hazards) or nothing found
        body["nothing_found"], body["hazard_ids"] = True, []
    if path.endswith("/screening") and isinstance(body.get("aspects"), list) and len(body["aspects"]) == 7:
        for aspect, item in zip(("mechanism", "rules", "staffing", "responsibility", "publicity", "discipline",
                                 "facilities"), body["aspects"], strict=True):
            if not isinstance(item, dict):
                continue
            item["aspect"] = aspect  # each of the seven once; a problem with a rectification due ahead
            fix = item.get("rectification")
            if isinstance(fix, dict):
                item["problem"] = item.get("problem") or "问题"
                fix["due_date"] = (date.today() + timedelta(days=rng.randint(1, 60))).isoformat()
            else:
                item.pop("problem", None)
