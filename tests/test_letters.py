"""The letter to every parent through the APIs: rosters at intake, writing and approving at archive,
sending at notify (SMS at the fake providers, e-mail at the SMTP sink), figures back at archive."""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import nats
import openpyxl
import pytest

from antibully.cli import add_school
from antibully.fakes import FakeProviders, running_fakes
from antibully.infra import SmtpSink
from services.archive.app import running as archive
from services.intake.app import running as intake
from services.notify.app import running as notify
from shared.config import Settings
from shared.contracts.letters import LetterBatchRequested
from shared.crypto import new_key_b64
from shared.subjects import NOTIFY
from tests.helpers import eventually, official_headers, publish, stream_messages

SHEET_A = ("grade,class,student_ref,relation,phone,email\n"
           "七年级,1班,S-001,母亲,13800000001,\n"
           "七年级,1班,S-002,父亲,,p2@example.cn\n"
           "八年级,2班,S-003,母亲,138 0000 0003,p3@example.cn\n"
           "八年级,2班,S-004,父亲,,\n"
           "七年级,1班,S-005,母亲,12345,\n"
           "九年级,,S-006,母亲,,not-an-address\n")
SHEET_B = "grade,student_ref,phone\n七年级,T-1,13900000001\n七年级,T-2,+8613900000002\n七年级,T-3,13900000001\n"
PHONES = {"13800000001", "13800000003", "13900000001", "13900000002"}


@dataclass
class City:
    settings: Settings
    fakes: FakeProviders
    sink: SmtpSink
    intake: httpx.AsyncClient
    archive: httpx.AsyncClient
    keys: dict[str, str]

    def school(self, school_id: str, csv: bool = False) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.keys[school_id]}"}
        return headers | ({"Content-Type": "text/csv; charset=utf-8"} if csv else {})

    def sms_for(self, title: str) -> list[str]:
        """Phones the fake SMS providers accepted a letter with this title for."""
        out = []
        for a in self.fakes.accepted:
            params = a.payload.get("TemplateParam") or a.payload.get("TemplateParamSet")
            if title in json.dumps(params, ensure_ascii=False):
                out.append(a.address.removeprefix("+86"))
        return out


@pytest.fixture
async def city(settings: Settings, smtp_sink: SmtpSink) -> AsyncIterator[City]:
    async with running_fakes() as fakes, AsyncExitStack() as stack:
        env = {k.lower(): v for k, v in fakes.env().items()} | {"wecom_webhook_base": "", "dingtalk_webhook_base": "",
                                                                "letter_contact_key": new_key_b64(),
                                                                "receipt_token": "receipt-secret"}
        s = settings.model_copy(update=env)
        for running in (intake, notify, archive):
            await stack.enter_async_context(running(s))
        schools = [("demo-school", "乐昌市示范中学"), ("second-school", "乐昌市第二中学"), ("third-school", "第三中学")]
        keys = {sid: await add_school(s.database_url, sid, name) for sid, name in schools}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{s.intake_port}", timeout=10) as i_client, \
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{s.archive_port}", timeout=10) as a_client:
            yield City(s, fakes, smtp_sink, i_client, a_client, keys)


async def _figures(city: City, headers: dict[str, str], letter_id: str) -> dict[str, Any] | None:
    r = await city.archive.get(f"/v1/letters/{letter_id}", headers=headers)
    assert r.status_code in (200, 404), r.text
    body = r.json() if r.status_code == 200 else None
    if body is None or not body["schools"]:
        return None
    done = all(s["batches_done"] == s["batches"] for s in body["schools"])
    return body if done else None


async def _letter(city: City, writer: dict[str, str], approver: dict[str, str], title: str,
                  audience: dict[str, list[str]]) -> str:
    r = await city.archive.post("/v1/letters", headers=writer,
                                json={"title": title, "body": f"尊敬的家长：\n{title}正文。", "audience": audience})
    assert r.status_code == 201, r.text
    letter_id = str(r.json()["letter_id"])
    r = await city.archive.post(f"/v1/letters/{letter_id}/approve", headers=approver)
    assert r.status_code == 202, r.text
    return letter_id


async def _consumer_idle(nats_url: str, durable: str) -> bool:
    """The consumer has been handed everything in the stream and acknowledged it."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        last = (await js.stream_info(NOTIFY.name)).state.last_seq
        info = await js.consumer_info(NOTIFY.name, durable)
        return bool(info.delivered.stream_seq >= last and info.num_ack_pending == 0 and info.num_pending == 0)
    finally:
        await nc.close()


async def test_a_letter_reaches_every_parent_once_with_figures_per_school(city: City) -> None:
    # rosters: one with bad rows, answered per row; the contacts never come back
    r = await city.intake.put("/v1/rosters", content=SHEET_A.encode(), headers=city.school("demo-school", True))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["accepted"], answer["rejected"], answer["without_contact"]) == (4, 2, 1)
    assert [(x["row"], [e["field"] for e in x["errors"]]) for x in answer["rows"] if x["status"] == "rejected"] \
        == [(5, ["phone"]), (6, ["email"])]
    r = await city.intake.put("/v1/rosters", content=SHEET_B.encode(), headers=city.school("second-school", True))
    assert r.status_code == 200 and r.json()["accepted"] == 3, r.text  # T-3 is T-1's sibling: one parent
    summary = (await city.intake.get("/v1/rosters", headers=city.school("demo-school"))).json()
    assert (summary["rows"], summary["with_phone"], summary["with_email"], summary["without_contact"]) == (4, 2, 2, 1)
    assert "1380000" not in r.text + json.dumps(summary) and "example.cn" not in json.dumps(summary)

    # the bureau writes, the author cannot approve, a second official does
    writer = await official_headers(city.archive, city.settings.database_url, "writer.bureau")
    approver = await official_headers(city.archive, city.settings.database_url, "duty.bureau")
    r = await city.archive.post("/v1/letters", headers=writer, json={"title": "防欺凌家长信", "body": "尊敬的家长：……"})
    assert r.status_code == 201, r.text
    letter_id = r.json()["letter_id"]
    r = await city.archive.post(f"/v1/letters/{letter_id}/approve", headers=writer)
    assert r.status_code == 409 and r.json()["error"] == "four_eyes", r.text
    r = await city.archive.post(f"/v1/letters/{letter_id}/approve", headers=approver)
    assert r.status_code == 202, r.text

    figures = await eventually(lambda: _figures(city, approver, letter_id), timeout_s=30)
    by_school = {s["school_id"]: s for s in figures["schools"]}
    assert {k: (v["has_roster"], v["recipients"], v["sent"], v["failed"], v["no_contact"], v["by_sms"],
                v["by_email"]) for k, v in by_school.items()} == {
        "demo-school": (True, 3, 3, 0, 1, 2, 1), "second-school": (True, 2, 2, 0, 0, 2, 0),
        "third-school": (False, 0, 0, 0, 0, 0, 0)}
    assert figures["schools_without_roster"] == ["third-school"]
    assert by_school["second-school"]["merged"] == 1  # the parent of two pupils gets one letter
    assert figures["totals"]["sent"] == 5

    # every parent with a contact: exactly one message (SMS first, e-mail where there is no phone)
    assert Counter(city.sms_for("防欺凌家长信")) == Counter(PHONES)
    mails = [m for m in city.sink.messages if "防欺凌家长信" in str(m["Subject"])]
    assert [m["To"] for m in mails] == ["p2@example.cn"]

    # the SMS provider's delivery report (回执): counted per school, once per parent however often it comes
    [sms] = [a for a in city.fakes.accepted if a.address.endswith("13800000001")]
    report = [{"phone_number": "13800000001", "success": True, "biz_id": sms.provider_id, "err_code": "DELIVERED",
               "out_id": sms.idempotency_key, "report_time": "2026-11-30 10:00:00"}]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{city.settings.notify_port}", timeout=10) as n:
        for _ in range(2):
            r = await n.post("/receipts/aliyun/receipt-secret", json=report)
            assert r.status_code == 200, r.text

    async def delivered() -> dict[str, Any] | None:
        f = await _figures(city, approver, letter_id)
        return f if f and f["totals"]["delivered"] == 1 else None

    assert {s["school_id"]: s["delivered"] for s in (await eventually(delivered))["schools"]}["demo-school"] == 1

    # a redelivered batch sends nothing twice
    batches = [m for m in await stream_messages(city.settings.nats_url, NOTIFY.name)
               if m.subject == LetterBatchRequested.subject]
    again = LetterBatchRequested.model_validate_json(batches[0].data)
    await publish(city.settings.nats_url, again, msg_id="redelivered-by-hand")
    await eventually(lambda: _consumer_idle(city.settings.nats_url, "notify-LetterBatchRequested"))
    assert Counter(city.sms_for("防欺凌家长信")) == Counter(PHONES)
    assert len([m for m in city.sink.messages if "防欺凌家长信" in str(m["Subject"])]) == 1

    # a parent opens the link and reads: counted once, however often they press
    link = re.search(r"http://\S+/letter/\S+", mails[0].get_content())
    assert link is not None
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(link.group(0))
        assert page.status_code == 200 and "防欺凌家长信" in page.text and "已阅</button>" in page.text
        for _ in range(2):
            assert (await browser.post(link.group(0))).status_code == 200
        assert "您已阅读" in (await browser.get(link.group(0))).text

    async def read_once() -> dict[str, Any] | None:
        f = await _figures(city, school_reader, letter_id)
        return f if f and f["totals"]["read"] == 1 else None

    school_reader = await official_headers(city.archive, city.settings.database_url, "principal.demo",
                                           role="school", school="demo-school")
    mine = await eventually(read_once)

    # a letter that reached the wrong person: 号码有误 flags the row for the school, which corrects it
    [sms] = [a for a in city.fakes.accepted if a.address.endswith("13800000001")]
    sms_link = json.loads(sms.payload["TemplateParam"])["link"]
    async with httpx.AsyncClient(timeout=10) as stranger:
        assert (await stranger.post(f"{sms_link}/wrong")).status_code == 200
        assert (await stranger.post(f"{sms_link}/wrong")).status_code == 200
        assert "已收到您的反馈" in (await stranger.get(sms_link)).text

    async def flagged() -> list[dict[str, Any]] | None:
        got = (await city.intake.get("/v1/rosters", headers=city.school("demo-school"))).json()["reported_wrong"]
        return got or None

    [row] = await eventually(flagged)
    assert (row["student_ref"], row["relation"], row["grade"]) == ("S-001", "母亲", "七年级")
    assert "13800000001" not in json.dumps(row)
    r = await city.intake.patch(f"/v1/rosters/rows/{row['key']}", json={"phone": "13800000009"},
                                headers=city.school("demo-school"))
    assert r.status_code == 200 and r.json()["reported_wrong"] == [], r.text

    async def counted_wrong() -> dict[str, Any] | None:
        f = await _figures(city, school_reader, letter_id)
        return f if f and f["totals"]["wrong_number"] == 1 else None

    await eventually(counted_wrong)
    assert [s["school_id"] for s in mine["schools"]] == ["demo-school"]  # a school sees its own share only
    listed = (await city.archive.get("/v1/letters", headers=approver)).json()
    assert [(x["title"], x["sent"], x["delivered"], x["read"], x["no_contact"], x["wrong_number"])
            for x in listed] == [("防欺凌家长信", 5, 1, 1, 1, 1)]

    # and in the ledger export: a sheet of the letters' figures per school
    r = await city.archive.get("/v1/ledger.xlsx", headers=approver)
    assert r.status_code == 200, r.text
    sheet = openpyxl.load_workbook(io.BytesIO(r.content))["致家长的信"]
    rows = [list(row) for row in sheet.iter_rows(min_row=2, max_row=4, values_only=True)]
    assert [(x[2], x[3], x[4], x[5], x[7], x[10], x[11], x[12]) for x in rows] == [
        ("demo-school", "是", 3, 3, 1, 1, 1, 1), ("second-school", "是", 2, 2, 0, 0, 0, 0),
        ("third-school", "否", 0, 0, 0, 0, 0, 0)]


async def test_a_grade_audience_reaches_only_that_grade(city: City) -> None:
    r = await city.intake.put("/v1/rosters", content=SHEET_A.encode(), headers=city.school("demo-school", True))
    assert r.status_code == 200, r.text
    r = await city.intake.put("/v1/rosters", content=SHEET_B.encode(), headers=city.school("second-school", True))
    assert r.status_code == 200, r.text
    writer = await official_headers(city.archive, city.settings.database_url, "writer.bureau")
    approver = await official_headers(city.archive, city.settings.database_url, "duty.bureau")
    letter_id = await _letter(city, writer, approver, "八年级家长信", {"grades": ["八年级"]})
    figures = await eventually(lambda: _figures(city, approver, letter_id), timeout_s=30)
    by_school = {s["school_id"]: (s["recipients"], s["sent"], s["no_contact"]) for s in figures["schools"]}
    assert by_school["demo-school"] == (1, 1, 1)  # S-003 by SMS; S-004 has no contact
    assert by_school["second-school"] == (0, 0, 0)  # no 八年级 in its roster
    assert city.sms_for("八年级家长信") == ["13800000003"]
    assert not [m for m in city.sink.messages if "八年级家长信" in str(m["Subject"])]
