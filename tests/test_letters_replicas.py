"""Two notify replicas and duplicated batches: every parent still gets exactly one message, and each
batch is reported once. A school's corrected number is what the next letter uses."""

from __future__ import annotations

import io
import uuid
from collections import Counter
from contextlib import AsyncExitStack

import httpx
import xlsxwriter

from antibully.cli import add_school
from antibully.fakes import running_fakes
from antibully.infra import SmtpSink, free_port
from services.intake.app import running as intake
from services.intake.letter_batches import batches_for
from services.intake.roster_xlsx import XLSX
from services.notify.app import running as notify
from shared.config import Settings
from shared.contracts.base import utcnow
from shared.contracts.escalation import RecipientRole
from shared.contracts.letters import LetterApproved, LetterAudience, LetterBatchSent, LetterRecipient
from shared.contracts.notification import (
    Address,
    ChannelKind,
    NoticeFacts,
    NotificationRequested,
    Priority,
    Recipient,
)
from shared.crypto import Sealer, new_key_b64
from shared.letter_routes import seal_routes
from shared.subjects import NOTIFY
from tests.helpers import eventually, publish, stream_messages

N = 1200  # three batches
ROUTES_KEY = new_key_b64()


def _recipient(letter: LetterApproved, i: int, address: Address) -> LetterRecipient:
    key = f"{i:032x}"
    return LetterRecipient(key=key, grade="七年级", sealed_routes=seal_routes(
        Sealer(ROUTES_KEY), letter.letter_id, key, [address]))


async def _reported(nats_url: str) -> list[LetterBatchSent] | None:
    sent = [LetterBatchSent.model_validate_json(m.data) for m in await stream_messages(nats_url, NOTIFY.name)
            if m.subject == LetterBatchSent.subject]
    return sent if len(sent) >= 3 else None


async def test_two_replicas_and_duplicated_batches_send_each_parent_once(settings: Settings,
                                                                        smtp_sink: SmtpSink) -> None:
    letter = LetterApproved(event_id=uuid.uuid4(), letter_id=uuid.uuid4(), jurisdiction="lechang", title="复本测试信",
                            body="正文", audience=LetterAudience(), created_by="a", approved_by="b")
    recipients = [_recipient(letter, i, Address(kind=ChannelKind.sms, to=f"139{i:08d}") if i % 4 else
                             Address(kind=ChannelKind.email, to=f"p{i}@example.cn")) for i in range(N)]
    batches = batches_for(letter, "demo-school", recipients)
    async with running_fakes() as fakes, AsyncExitStack() as stack:
        env = {k.lower(): v for k, v in fakes.env().items()} | {
            "wecom_webhook_base": "", "dingtalk_webhook_base": "", "sms_rate_per_s": 1000.0,
            "letter_contact_key": ROUTES_KEY}
        s = settings.model_copy(update=env)
        await stack.enter_async_context(notify(s))
        await stack.enter_async_context(notify(s.model_copy(update={"notify_port": free_port()})))
        for copy in range(3):  # every batch three times: the original and two redeliveries by hand
            for b in batches:
                await publish(s.nats_url, b, msg_id=f"{b.event_id}-{copy}")
        reported = await eventually(lambda: _reported(s.nats_url), timeout_s=60)

    assert sorted(r.batch_no for r in reported) == [1, 2, 3]
    assert sum(r.sent for r in reported) == N and sum(r.failed for r in reported) == 0
    assert sum(r.by_email for r in reported) == N // 4
    phones = Counter(a.address.removeprefix("+86") for a in fakes.accepted)
    assert len(phones) == N - N // 4 and set(phones.values()) == {1}
    mails = Counter(str(m["To"]) for m in smtp_sink.messages)
    assert len(mails) == N // 4 and set(mails.values()) == {1}


async def test_a_school_corrects_a_wrong_number(settings: Settings) -> None:
    async with intake(settings):
        key = await add_school(settings.database_url, "demo-school", "乐昌市示范中学")
        school = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.intake_port}", timeout=10) as c:
            r = await c.put("/v1/rosters", content="grade,student_ref,phone\n七年级,S-1,13800000001\n".encode(),
                            headers=school | {"Content-Type": "text/csv"})
            assert r.status_code == 200, r.text
            row_key = r.json()["rows"][0]["key"]
            r = await c.patch(f"/v1/rosters/rows/{row_key}", json={"phone": "1380000"}, headers=school)
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == "phone", r.text
            r = await c.patch(f"/v1/rosters/rows/{row_key}", json={"email": "parent@example.cn"}, headers=school)
            assert r.status_code == 200, r.text
            assert (r.json()["version"], r.json()["with_phone"], r.json()["with_email"]) == (2, 0, 1)
            r = await c.patch("/v1/rosters/rows/no-such-row", json={"phone": "13800000002"}, headers=school)
            assert r.status_code == 404
            r = await c.put("/v1/rosters", content=b"grade,phone\n,1\n", headers=school | {"Content-Type": "text/csv"})
            assert r.status_code == 422  # nothing valid: the roster stays as it was
            assert (await c.get("/v1/rosters", headers=school)).json()["rows"] == 1


async def test_a_roster_uploaded_as_xlsx(settings: Settings) -> None:
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    sheet = book.add_worksheet("花名册")
    for i, row in enumerate([["grade", "class", "phone", "email"], ["七年级", "1班", 13800000001, None],
                             ["七年级", "2班", None, "p@example.cn"], ["八年级", None, 12345, None]]):
        sheet.write_row(i, 0, row)
    book.close()
    async with intake(settings):
        key = await add_school(settings.database_url, "demo-school", "乐昌市示范中学")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.intake_port}", timeout=10) as c:
            r = await c.put("/v1/rosters", content=buf.getvalue(), headers={
                "Authorization": f"Bearer {key}", "Content-Type": XLSX})
            assert r.status_code == 200, r.text
            assert (r.json()["accepted"], r.json()["rejected"]) == (2, 1)
            assert [e["field"] for x in r.json()["rows"] for e in x.get("errors") or []] == ["phone"]
            r = await c.put("/v1/rosters", content=b"PK not a workbook", headers={
                "Authorization": f"Bearer {key}", "Content-Type": XLSX})
            assert r.status_code == 422 and r.json()["error"] == "invalid_csv", r.text


async def test_a_police_sms_is_not_queued_behind_a_letter(settings: Settings) -> None:
    """The SMS bucket is shared (2 calls/s here): 1,200 letters in batch calls would hold it for a while, yet the police
    SMS goes out among the first few after it is requested, not after the letters (no clock involved:
    the order in which the provider accepted them)."""
    letter = LetterApproved(event_id=uuid.uuid4(), letter_id=uuid.uuid4(), jurisdiction="lechang", title="排队测试信",
                            body="正文", audience=LetterAudience(), created_by="a", approved_by="b")
    recipients = [_recipient(letter, i, Address(kind=ChannelKind.sms, to=f"139{i:08d}")) for i in range(N)]
    incident_id = uuid.uuid4()
    police = NotificationRequested(
        event_id=incident_id, incident_id=incident_id, notification_id=incident_id, priority=Priority.urgent,
        recipient=Recipient(role=RecipientRole.police, display_name="公安",
                            addresses=[Address(kind=ChannelKind.sms, to="13700000110")]),
        facts=NoticeFacts(case_ref="AB-POLICE1", school_id="demo-school", school_name="乐昌市示范中学",
                          reasons_zh=["测试"], occurred_at=utcnow()))
    async with running_fakes() as fakes, AsyncExitStack() as stack:
        env = {k.lower(): v for k, v in fakes.env().items()} | {
            "wecom_webhook_base": "", "dingtalk_webhook_base": "", "sms_rate_per_s": 2.0,
            "letter_contact_key": ROUTES_KEY}
        s = settings.model_copy(update=env)
        await stack.enter_async_context(notify(s))
        for b in batches_for(letter, "demo-school", recipients):
            await publish(s.nats_url, b)

        async def letters_going() -> int | None:
            return len(fakes.accepted) if len(fakes.accepted) >= 20 else None

        before = await eventually(letters_going)
        await publish(s.nats_url, police)

        async def police_sent() -> int | None:
            return next((i for i, a in enumerate(fakes.accepted) if a.address.endswith("13700000110")), None)

        at = await eventually(police_sent)
    # Letters go in batch calls (one BizId each): count the provider calls accepted ahead of the police SMS:
    # what was in the bucket when it was asked (≤ LETTER_SENDS_IN_FLIGHT calls) and a margin for the calls
    # accepted while the request travelled through NATS to notify
    calls_ahead = len({a.provider_id for a in fakes.accepted[before:at]})
    assert calls_ahead <= 8 + 4, (before, at, calls_ahead)
    assert len(fakes.accepted) < N


async def test_a_big_school_roster_fits_its_own_body_limit(settings: Settings) -> None:
    sheet = ("grade,class,student_ref,relation,phone,email\n" + "".join(
        f"七年级,{i % 20}班,S-{i:05d},母亲,139{i:08d},parent{i}@example.cn\n" for i in range(8000))).encode()
    assert len(sheet) > settings.max_body_bytes  # more than any other request may carry
    async with intake(settings):
        key = await add_school(settings.database_url, "demo-school", "乐昌市示范中学")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.intake_port}", timeout=30) as c:
            r = await c.put("/v1/rosters", content=sheet, headers={"Authorization": f"Bearer {key}",
                                                                  "Content-Type": "text/csv"})
            assert r.status_code == 200 and r.json()["accepted"] == 8000, r.text[:300]
            r = await c.post("/v1/hazards/batch.csv", content=sheet, headers={"Authorization": f"Bearer {key}",
                                                                             "Content-Type": "text/csv"})
            assert r.status_code == 413  # the larger limit is the roster's alone
