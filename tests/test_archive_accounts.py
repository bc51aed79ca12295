"""Officials' sessions and school staff accounts in the archive (real NATS and PostgreSQL): a session ends
when left idle and on logout; the bureau and a school's head manage staff accounts within their authority."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.archive.app import running
from shared.config import Settings
from tests.helpers import PASSWORD, directory_with_more_schools, official_headers
from tests.helpers import MovedClock as Clock

STAFF_PASSWORD = "a staff password long enough"


@dataclass
class Archive:
    client: httpx.AsyncClient
    clock: Clock
    settings: Settings

    async def login(self, account: str, password: str = STAFF_PASSWORD) -> dict[str, str]:
        r = await self.client.post("/v1/auth/token", json={"username": account, "password": password})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    async def create(self, headers: dict[str, str], account: str, title: str, **extra: Any) -> httpx.Response:
        return await self.client.post("/v1/accounts", headers=headers, json={
            "account_id": account, "display_name": account, "title": title, "password": STAFF_PASSWORD, **extra})

    async def alive(self, headers: dict[str, str]) -> bool:
        r = await self.client.get("/v1/cases", headers={**headers, "X-Access-Purpose": "test reading"})
        assert r.status_code in (200, 401), r.text
        return r.status_code == 200


def directory_file(tmp_path: Path) -> Path:
    """The shipped directory, another school of the same jurisdiction and one of another."""
    return directory_with_more_schools(tmp_path)


@pytest.fixture
async def archive(settings: Settings, tmp_path: Path) -> AsyncIterator[Archive]:
    settings = settings.model_copy(update={"directory_file": directory_file(tmp_path), "archive_token_ttl_s": 60})
    clock = Clock()
    async with running(settings, clock=clock), httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.archive_port}", timeout=10) as client:
        yield Archive(client, clock, settings)


async def test_a_session_ends_when_idle_not_while_in_use(archive: Archive) -> None:
    headers = await official_headers(archive.client, archive.settings.database_url, "bureau")
    for _ in range(5):  # five minutes of use, a request every 50 s: longer than the 60 s ttl
        archive.clock.now += timedelta(seconds=50)
        assert await archive.alive(headers)
    archive.clock.now += timedelta(seconds=61)  # idle past the ttl
    assert not await archive.alive(headers)


async def test_logout_ends_the_token(archive: Archive) -> None:
    headers = await official_headers(archive.client, archive.settings.database_url, "bureau")
    other = await archive.login("bureau", PASSWORD)  # another session of the same official
    assert (await archive.client.post("/v1/auth/logout", headers=headers)).status_code == 204
    assert not await archive.alive(headers)
    again = await archive.client.post("/v1/auth/logout", headers=headers)
    assert again.status_code == 401 and again.json()["error"] == "unauthorized"
    assert await archive.alive(other)


async def test_the_bureau_and_a_head_manage_their_school_staff(archive: Archive) -> None:
    c, url = archive.client, archive.settings.database_url
    bureau = await official_headers(c, url, "bureau")
    far_bureau = await official_headers(c, url, "far-bureau", jurisdiction="renhua")

    # the bureau creates the demo school's head; not for a school of another jurisdiction, nor an unknown one
    r = await archive.create(bureau, "wang.head", "head", school_id="demo-school")
    assert r.status_code == 201, r.text
    assert r.json() == {"account_id": "wang.head", "display_name": "wang.head", "role": "school", "title": "head",
                        "school_id": "demo-school", "disabled": False}
    assert (await archive.create(far_bureau, "x.head", "head", school_id="demo-school")).status_code == 403
    unknown = await archive.create(bureau, "x.head", "head", school_id="no-such-school")
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "school_id"
    assert unknown.json()["errors"][0]["reason_zh"]
    missing = await archive.create(bureau, "x.head", "head")
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "school_id"
    taken = await archive.create(bureau, "wang.head", "counsellor", school_id="demo-school")
    assert taken.status_code == 409 and taken.json()["error"] == "account_exists"
    short = await c.post("/v1/accounts", headers=bureau, json={
        "account_id": "y", "display_name": "y", "title": "head", "school_id": "demo-school", "password": "short"})
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "password"
    assert "short" not in short.text.replace('"password"', "")

    # the head creates a counsellor and a head teacher for its own school, nothing else
    head = await archive.login("wang.head")
    assert (await archive.create(head, "li.counsellor", "counsellor")).status_code == 201
    assert (await archive.create(head, "zhao.teacher", "head_teacher", school_id="demo-school")).status_code == 201
    assert (await archive.create(head, "x.teacher", "head_teacher", school_id="second-school")).status_code == 403
    assert (await archive.create(head, "x.head2", "head")).status_code == 403

    # a head teacher and a counsellor manage nobody
    teacher = await archive.login("zhao.teacher")
    refused = await archive.create(teacher, "x.counsellor", "counsellor")
    assert refused.status_code == 403 and refused.json()["message_zh"]
    assert (await c.get("/v1/accounts", headers=teacher)).status_code == 403
    assert (await c.post("/v1/accounts/li.counsellor/disable", headers=teacher)).status_code == 403

    # what each lists: the head its school's staff, the bureau its jurisdiction
    listed = (await c.get("/v1/accounts", headers=head)).json()
    assert [a["account_id"] for a in listed] == ["li.counsellor", "wang.head", "zhao.teacher"]
    assert {a["title"] for a in listed} == {"head", "head_teacher", "counsellor"}
    assert {a["account_id"] for a in (await c.get("/v1/accounts", headers=bureau)).json()} == {
        "bureau", "li.counsellor", "wang.head", "zhao.teacher"}
    assert [a["account_id"] for a in (await c.get("/v1/accounts", headers=far_bureau)).json()] == ["far-bureau"]

    # disabling: the teacher's sessions end at once; a head cannot disable itself; nobody sees beyond its authority
    counsellor = await archive.login("li.counsellor")
    assert (await c.post("/v1/accounts/zhao.teacher/disable", headers=head)).status_code == 204
    assert not await archive.alive(teacher)
    assert (await c.post("/v1/auth/token", json={"username": "zhao.teacher", "password": STAFF_PASSWORD})
            ).status_code == 401
    assert await archive.alive(counsellor)
    assert (await c.post("/v1/accounts/wang.head/disable", headers=head)).status_code == 403
    assert (await c.post("/v1/accounts/bureau/disable", headers=head)).status_code == 404
    assert (await c.post("/v1/accounts/wang.head/disable", headers=far_bureau)).status_code == 404
    assert (await c.post("/v1/accounts/wang.head/disable", headers=bureau)).status_code == 204
    assert not await archive.alive(head)
    listed = (await c.get("/v1/accounts", headers=bureau)).json()
    assert [a["disabled"] for a in listed if a["account_id"] in ("zhao.teacher", "wang.head")] == [True, True]


async def test_an_assertion_needs_a_session_and_a_key(archive: Archive) -> None:
    c = archive.client
    assert (await c.post("/v1/auth/assertion")).status_code == 401
    headers = await official_headers(c, archive.settings.database_url, "bureau")
    r = await c.post("/v1/auth/assertion", headers=headers)
    assert r.status_code == 200 and r.json()["assertion"].startswith("abi_")
    assert datetime.fromisoformat(r.json()["expires_at"]) == archive.clock.now + timedelta(seconds=120)


async def test_no_signing_key_no_assertions(settings: Settings) -> None:
    unsigned = settings.model_copy(update={"identity_signing_key": ""})
    async with running(unsigned), httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.archive_port}", timeout=10) as client:
        headers = await official_headers(client, settings.database_url, "bureau")
        r = await client.post("/v1/auth/assertion", headers=headers)
        assert r.status_code == 503 and r.json()["error"] == "not_configured"
