"""schemathesis on notify's public HTTP edge (tests/schemathesis_rig.py), against the real service.

notify serves parents and officials who follow a signed link (acknowledgements, family messages,
letters) and SMS providers that push delivery reports; it does not serve its OpenAPI document (it is
public), so the document is the one of the very app it serves (`services.notify.app.http_app`).
The link token is the caller's credential: valid requests carry a token notify signed (for a notice
or a letter notify may not hold), invalid ones keep what schemathesis generated; the receipt URLs
mostly carry the configured secret. Every answer must be no 5xx and conform to the document.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import schemathesis
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry
from schemathesis.core.parameters import ParameterLocation

from services.notify.api import NotifyDeps
from services.notify.app import http_app, running
from services.notify.letters import LINK_PREFIX
from services.notify.links import LinkClaims, Links
from shared.config import Settings
from tests.schemathesis_rig import Steering, run_cases

RECEIPT_TOKEN = "schemathesis-receipts"
SHARE_VALID_SECRET = 0.9
SHARE_VALID_TOKEN_NEGATIVE = 0.8  # of negative cases whose token is not what is negated
# An expired link (410) is left to test_acknowledgement: 410 is not among the refusals schemathesis' checks expect.


def openapi_document(settings: Settings) -> dict[str, object]:
    """The served app's document; its handlers need no database to describe themselves."""
    deps = NotifyDeps(None, None, Links(settings.link_key), TracerProvider(), CollectorRegistry())  # type: ignore[arg-type]
    return http_app(deps, settings).openapi()


async def test_notify_conforms_to_its_openapi_schema(settings: Settings) -> None:
    settings = settings.model_copy(update={"receipt_token": RECEIPT_TOKEN})
    links = Links(settings.link_key)

    def token(path: str) -> str:
        expires = int(time.time()) + 3600
        ref = f"{LINK_PREFIX}demo-school:{uuid.uuid4().hex[:12]}" if path.startswith("/letter") else "AB-5C0FFEE0"
        return links.sign(LinkClaims(uuid.uuid4(), ref, expires))

    def steer(case: schemathesis.Case, steering: Steering) -> None:
        rng = steering.rng
        positive = case.meta is not None and case.meta.generation.mode.is_positive
        path = case.path_parameters
        if not path or steering.negated(case, ParameterLocation.PATH):
            return
        if "secret" in path and rng.random() < SHARE_VALID_SECRET:
            path["secret"] = RECEIPT_TOKEN
        if "token" in path and (positive or rng.random() < SHARE_VALID_TOKEN_NEGATIVE):
            path["token"] = token(case.path)

    async with running(settings):
        base_url = f"http://127.0.0.1:{settings.notify_port}"
        schema = schemathesis.openapi.from_dict(openapi_document(settings))
        outcome = await asyncio.to_thread(run_cases, schema, base_url, steer, 20261130)

    print("\n" + outcome.summary("notify"))
    outcome.assert_clean()
    statuses = outcome.by_status()
    assert statuses[200] > 0 and statuses[400] > 0 and statuses[404] > 0, "no case reached the handlers"
