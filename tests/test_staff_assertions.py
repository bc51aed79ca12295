"""School staff act in intake in their own name (real NATS and PostgreSQL): the archive signs who they are,
intake checks the signature with the archive's public key alone; its own school's help requests only."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from antibully.cli import add_access_code, add_school
from services.archive.app import running as archive
from services.intake.app import running as intake
from shared.config import Settings
from tests.helpers import official_headers

REPLY = {"text": "我是学校的心理辅导老师，明天课间来心理辅导室找我，好吗？"}


@dataclass
class Both:
    archive: httpx.AsyncClient
    intake: httpx.AsyncClient
    settings: Settings

    async def ask(self, school_id: str) -> str:
        """A new help request to a school: its case code."""
        code = await add_access_code(self.settings.database_url, school_id)
        r = await self.intake.post("/v1/help-requests", json={
            "access_code": code, "requester": {"kind": "student"}, "message": "有人在厕所堵我"})
        assert r.status_code == 202, r.text
        return str(r.json()["case_code"])

    async def assertion(self, account: str, role: str, school: str | None = None, title: str | None = None) -> str:
        headers = await official_headers(self.archive, self.settings.database_url, account, role=role,
                                         school=school, title=title)
        r = await self.archive.post("/v1/auth/assertion", headers=headers)
        assert r.status_code == 200, r.text
        return str(r.json()["assertion"])

    async def reply(self, case: str, token: str) -> httpx.Response:
        return await self.intake.post(f"/v1/help-requests/{case}/replies", json=REPLY,
                                      headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
async def both(settings: Settings) -> AsyncIterator[Both]:
    async with archive(settings), intake(settings), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.archive_port}", timeout=10) as a, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.intake_port}", timeout=10) as i:
        for school_id in ("demo-school", "second-school"):
            await add_school(settings.database_url, school_id, school_id)
        yield Both(a, i, settings)


async def test_a_counsellor_answers_its_own_schools_help_requests_only(both: Both) -> None:
    mine, theirs = await both.ask("demo-school"), await both.ask("second-school")
    token = await both.assertion("li.counsellor", role="school", school="demo-school", title="counsellor")

    answered = await both.reply(mine, token)
    assert answered.status_code == 202, answered.text
    listed = await both.intake.get("/v1/help-requests", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200 and [h["case_code"] for h in listed.json()] == [mine]

    refused = await both.reply(theirs, token)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"


async def test_a_tampered_or_foreign_assertion_is_refused(both: Both) -> None:
    case = await both.ask("demo-school")
    token = await both.assertion("li.counsellor", role="school", school="second-school", title="counsellor")
    kid, body_b64, signature = token.removeprefix("abi_").split(".")
    claims = json.loads(base64.urlsafe_b64decode(body_b64 + "=" * (-len(body_b64) % 4)))
    claims["school_id"] = "demo-school"  # the counsellor of another school tries to pass for this one's
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    refused = await both.reply(case, f"abi_{kid}.{forged}.{signature}")
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
    unknown_kid = await both.reply(case, f"abi_{'0' * len(kid)}.{body_b64}.{signature}")  # not intake's key id
    assert unknown_kid.status_code == 401
    bureau = await both.assertion("bureau", role="bureau")  # well signed, but not a school's staff
    assert (await both.reply(case, bureau)).status_code == 401
    assert (await both.reply(case, "abi_garbage")).status_code == 401


async def test_without_a_public_key_only_machine_keys_work(settings: Settings) -> None:
    keyless = settings.model_copy(update={"identity_public_key": ""})
    async with archive(keyless), intake(keyless), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.archive_port}", timeout=10) as a, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.intake_port}", timeout=10) as i:
        key = await add_school(settings.database_url, "demo-school", "demo-school")
        both = Both(a, i, keyless)
        case = await both.ask("demo-school")
        token = await both.assertion("li.counsellor", role="school", school="demo-school", title="counsellor")
        assert (await both.reply(case, token)).status_code == 401
        assert (await both.reply(case, key)).status_code == 202
