"""A family writes back to the school through its notice's page (real SMTP, JetStream and PostgreSQL;
escalation, notify and archive running): the message is published once, sealed in the archive, shown
to the school and the bureau and not to the police; limits on length and frequency; only families."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from antibully.infra import SmtpSink
from services.archive.app import running as archive
from services.archive.bus_sections import BusSections
from services.escalation.app import running as escalation
from services.intake.reports import reported_event
from services.notify.app import running as notify
from services.notify.family_page import MAX_CHARS, PER_DAY
from shared.config import Settings
from shared.contracts import IncidentReport
from shared.contracts.notification import FamilyMessageAdded
from shared.subjects import FAMILY_MESSAGE_ADDED, NOTIFY
from tests.helpers import eventually, official_headers, publish, report, stream_messages

MESSAGE = "老师您好，孩子这两天晚上睡不好，希望学校能多关注。"


async def _link(sink: SmtpSink, to: str) -> str | None:
    for mail in sink.messages:
        if mail["To"] == to and (found := re.search(r"http://\S+/ack/\S+", mail.get_content())):
            return found.group(0)
    return None


async def _messages(settings: Settings) -> list[FamilyMessageAdded]:
    return [FamilyMessageAdded.model_validate_json(m.data)
            for m in await stream_messages(settings.nats_url, NOTIFY.name) if m.subject == FAMILY_MESSAGE_ADDED]


async def _record(client: httpx.AsyncClient, headers: dict[str, str], case_id: uuid.UUID) -> dict[str, Any] | None:
    """The record once every message taken (PER_DAY) is in it."""
    r = await client.get(f"/v1/cases/{case_id}", headers=headers)
    if r.status_code != 200 or [e["event_type"] for e in r.json()["timeline"]].count("FamilyMessageAdded") < PER_DAY:
        return None
    return dict(r.json())


async def test_a_familys_message_reaches_the_schools_view_of_the_record_and_not_the_polices(
    settings: Settings, smtp_sink: SmtpSink,
) -> None:
    s = settings.model_copy(update={"watchdog_interval_s": 3600.0})
    event = reported_event(IncidentReport.model_validate(report()), "family-message")  # severe: police referred
    async with escalation(s), notify(s), archive(s), httpx.AsyncClient(timeout=10) as web, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{s.archive_port}", timeout=10) as api:
        db = s.database_url  # accounts first: creating one migrates the archive's schema
        school = await official_headers(api, db, "school-head", role="school", school="demo-school")
        bureau = await official_headers(api, db, "bureau-wang")
        police_account = await official_headers(api, db, "police-li", role="police")
        await publish(s.nats_url, event)
        family = await eventually(lambda: _link(smtp_sink, "li.parent@example.cn"))
        police = await eventually(lambda: _link(smtp_sink, "police-liaison@police.example.cn"))

        page = await web.get(family)
        assert page.status_code == 200 and "给学校留言" in page.text and "确认收到</button>" not in page.text
        assert "仅学校和教育主管部门可以查阅" in page.text and "110" in page.text  # what happens with it, in Chinese
        assert "李小明" in page.text and "王强" not in page.text  # the notice itself: their own child only
        nonce = re.search(r'name="nonce" value="([0-9a-f-]+)"', page.text).group(1)  # type: ignore[union-attr]
        assert re.search(r'action="[^"]+/message"', page.text) and "<script" not in page.text

        form = {"nonce": nonce, "text": MESSAGE}
        sent = await web.post(f"{family}/message", data=form)
        assert sent.status_code == 200 and "留言已发送" in sent.text
        assert (await web.post(f"{family}/message", data=form)).status_code == 200  # the same form again: once
        [message] = await eventually(lambda: _messages(s))
        assert message.text is None and MESSAGE not in message.model_dump_json()  # sealed on the bus
        message = BusSections(s.archive_bus_private_key).for_record(message)  # as the archive records it
        assert (message.text, message.role.value, message.incident_id) == (MESSAGE, "victim_guardian",
                                                                            event.incident_id)

        too_long = await web.post(f"{family}/message",
                                  data={"nonce": str(uuid.uuid4()), "text": "字" * (MAX_CHARS + 1)})
        assert too_long.status_code == 422 and "不能超过" in too_long.text and 'action="message"' in too_long.text
        assert (await web.post(f"{family}/message", data={"text": "   "})).status_code == 422
        answers = [(await web.post(f"{family}/message", data={"nonce": str(uuid.uuid4()), "text": f"第{i}条"}))
                   .status_code for i in range(PER_DAY)]
        assert answers == [200] * (PER_DAY - 1) + [429]  # a limit per notice and day
        refused = await web.post(f"{police}/message", data={"nonce": str(uuid.uuid4()), "text": "测试"})
        assert refused.status_code == 404 and "不支持留言" in refused.text  # only notices to a family
        forged = await web.post(f"{family[:-3]}xyz/message", data=form)
        assert forged.status_code == 400

        record = await eventually(lambda: _record(api, school, event.incident_id))
        shown = record["personal"]["family_messages"]
        assert (shown[0]["text"], shown[0]["role"]) == (MESSAGE, "victim_guardian")
        assert len(shown) == PER_DAY  # the first, and PER_DAY - 1 more before the limit
        bureau_view = await eventually(lambda: _record(api, bureau, event.incident_id))
        assert MESSAGE in str(bureau_view["personal"])
        police_view = await eventually(lambda: _record(api, police_account, event.incident_id))
        assert police_view["personal"]["family_messages"] == [] and MESSAGE not in str(police_view)
        assert police_view["personal"]["students"]  # the police do see the students involved
