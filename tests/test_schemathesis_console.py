"""schemathesis on the console's pages and forms (tests/schemathesis_rig.py), against the whole system.

The console is HTML over forms; it does not serve its OpenAPI document, so the document is the one of
the very app it serves (`create_app`). It runs with intake, escalation, notify and the archive on real
nats-server and PostgreSQL (tests/console_rig.py). Most requests come from a signed-in visitor (the
bureau, the police, a school's head or head teacher: their session and CSRF cookies) and most forms carry
that visitor's CSRF token; the rest are anonymous or keep what schemathesis generated (a form without a
valid token is refused with 403). The checks here are no 5xx, and every answer's status and content type
documented (303 after a form, 401 the login page, 403 a refusal, 422 a form to correct…); the console's
forms are not an API with a schema for each field, so the data checks of the other edges do not apply.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import re
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from services.console.app import console_deps, create_app
from services.console.session import CSRF_COOKIE, SESSION_COOKIE
from shared.config import Settings
from tests import schemathesis_rig
from tests.console_rig import PASSWORD, ConsoleSystem
from tests.schemathesis_rig import Steering, run_cases

ACCOUNTS = ("bureau-wang", "police-zhao", "head-li", "teacher-chen")
LEAVER = "other-head"  # signs in afresh for each logout: the others' sessions last the whole run
SHARE_SIGNED_IN = 0.85
SHARE_VALID_CSRF = 0.9
CSRF_FIELD = re.compile(r'name="csrf" value="([0-9a-f]+)"')
CHECKS = [schemathesis_rig.CHECKS[0], status_code_conformance, content_type_conformance]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Limits lifted so that fuzzing reaches the forms rather than a 429 (429 is documented all the same)."""
    lifted = {"console_login_per_minute": 1_000_000, "archive_login_max_failures": 1_000_000,
              "rate_limit_per_s": 1e6, "rate_limit_burst": 1_000_000, "access_code_rate_per_s": 1e6,
              "access_code_burst": 1_000_000, "archive_login_per_address": 1_000_000,
              "help_per_address_rate_per_s": 1e6, "help_per_address_burst": 1_000_000}
    return settings.model_copy(update={k: v for k, v in lifted.items() if k in Settings.model_fields})


@dataclass
class Visitor:
    cookies: dict[str, str]
    csrf: str


def _no_cookies() -> requests.Session:
    """A session that keeps no cookie: each case carries its visitor's own."""
    session = requests.Session()
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return session


def sign_in(base_url: str, account: str | None) -> Visitor:
    """A visitor's cookies and CSRF token, signed in as `account` (None: anonymous)."""
    with requests.Session() as s:
        page = s.get(f"{base_url}/login", timeout=10)
        csrf = CSRF_FIELD.search(page.text)
        assert page.status_code == 200 and csrf, page.text[:500]
        if account is not None:
            done = s.post(f"{base_url}/login", data={"username": account, "password": PASSWORD,
                                                     "csrf": csrf.group(1)}, allow_redirects=False, timeout=10)
            assert done.status_code == 303, done.text[:500]
            csrf = CSRF_FIELD.search(s.get(f"{base_url}/", timeout=10).text)  # renewed at login
            assert csrf
        return Visitor({k: v for k, v in s.cookies.items() if k in (SESSION_COOKIE, CSRF_COOKIE)}, csrf.group(1))


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The served app's document; describing itself needs no backend."""
    return create_app(console_deps(settings), TracerProvider(), CollectorRegistry()).openapi()


async def test_console_conforms_to_its_openapi_schema(console_system: ConsoleSystem) -> None:
    base_url = console_system.url
    visitors = [await asyncio.to_thread(sign_in, base_url, account) for account in ACCOUNTS]
    anonymous = await asyncio.to_thread(sign_in, base_url, None)

    def steer(case: schemathesis.Case, steering: Steering) -> None:
        rng = steering.rng
        if case.path == "/logout":
            visitor = sign_in(base_url, LEAVER)
        else:
            visitor = rng.choice(visitors) if rng.random() < SHARE_SIGNED_IN else anonymous
        if not steering.negated(case, ParameterLocation.COOKIE):
            case.cookies = {**(case.cookies or {}), **visitor.cookies}
        if isinstance(case.body, dict) and not steering.negated(case, ParameterLocation.BODY) \
                and rng.random() < SHARE_VALID_CSRF:
            case.body["csrf"] = visitor.csrf

    schema = schemathesis.openapi.from_dict(openapi_document(console_system.settings))
    session = _no_cookies()
    try:
        outcome = await asyncio.to_thread(run_cases, schema, base_url, steer, 20261130, session, None, CHECKS)
    finally:
        session.close()

    print("\n" + outcome.summary("console"))
    outcome.assert_clean()
    statuses = outcome.by_status()
    assert statuses[200] > 0 and statuses[303] > 0 and statuses[403] > 0, "no case reached the pages"
