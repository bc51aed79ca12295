"""The help endpoint's limits (issue 14), on real intake, NATS and PostgreSQL: one sender of an access code
(a poster) gets a share of the code's rate and cannot use up the school's; help requests have a stream of
their own, so a full help stream never stops schools' reports."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from antibully.cli import add_access_code, add_school
from services.intake.app import running
from shared import bus
from shared.config import Settings
from shared.subjects import HELP, HELP_REQUESTED, REPORTS, STREAMS, stream_for
from tests.helpers import report

ASK = {"requester": {"kind": "student", "anonymous": True}, "message": "有同学在放学路上拦着我要钱。"}


async def asked(client: httpx.AsyncClient, code: str, address: str) -> httpx.Response:
    return await client.post("/v1/help-requests", json={**ASK, "access_code": code},
                             headers={"X-Forwarded-For": address})


@pytest.mark.pure
def test_help_has_a_stream_of_its_own() -> None:
    assert stream_for(HELP_REQUESTED) is HELP and not any(s.startswith("ab.help") for s in REPORTS.subjects)
    assert STREAMS.index(REPORTS) < STREAMS.index(HELP)  # an upgrade frees ab.help.> before taking it


async def test_one_sender_cannot_use_up_a_school_code(settings: Settings) -> None:
    settings = settings.model_copy(update={"access_code_rate_per_s": 0.001, "access_code_burst": 8,
                                           "help_per_address_rate_per_s": 0.001, "help_per_address_burst": 3})
    async with running(settings):
        await add_school(settings.database_url, "demo-school", "乐昌市示范中学")
        code = await add_access_code(settings.database_url, "demo-school")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.intake_port}", timeout=10) as client:
            flood = [(await asked(client, code, "198.51.100.7")).status_code for _ in range(10)]
            assert flood == [202] * 3 + [429] * 7
            others = [(await asked(client, code, f"198.51.100.{i}")).status_code
                      for i in range(20, 25)]
            assert others == [202] * 5  # the school's other students still get through
            # and the code's own limit still holds over all senders together
            assert (await asked(client, code, "198.51.100.99")).status_code == 429


async def test_a_full_help_stream_does_not_stop_reports(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    tiny = dataclasses.replace(HELP, max_bytes=4096)  # room for a couple of help requests only
    monkeypatch.setattr(bus, "STREAMS", tuple(tiny if s is HELP else s for s in STREAMS))
    await bus.setup_nats(settings)  # the setup step (the admin) shrinks the help stream
    settings = settings.model_copy(update={"access_code_burst": 100, "help_per_address_burst": 100})
    async with running(settings):
        key = await add_school(settings.database_url, "demo-school", "乐昌市示范中学")
        code = await add_access_code(settings.database_url, "demo-school")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.intake_port}", timeout=10) as client:
            codes = []
            for i in range(30):
                codes.append((await asked(client, code, f"203.0.113.{i}")).status_code)
                if codes[-1] == 503:
                    break
            assert 202 in codes and codes[-1] == 503  # the help stream is full
            posted = await client.post("/v1/incidents", json=report(),
                                       headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "after-full-1"})
            assert posted.status_code == 202, posted.text  # schools' reports go on
